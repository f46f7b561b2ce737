"""Read bun's text lockfile (``bun.lock``, lockfileVersion 0, 1 and 2) into the package model.

The file is JSONC: JSON with trailing commas (always, as bun writes it) and possibly comments.
It is made plain JSON by a small tokenizer that leaves string contents alone and blanks what it
removes with spaces (newlines kept), so a JSON error still points at the right line.

Shape, as bun's own reader (``src/install/lockfile/bun.lock.zig``) takes it:

* ``workspaces`` maps a folder to a manifest summary: ``""`` is the root (``name`` optional), every
  other key a member with ``name`` (required), ``version`` (optional) and the groups
  ``dependencies`` / ``devDependencies`` / ``optionalDependencies`` / ``peerDependencies`` plus
  ``optionalPeers`` (names whose peer dependency is optional).
* ``packages`` maps a *tree path* to a tuple whose first element is ``"<name>@<resolution>"``.
  The path is the chain of folder names from the top: ``"debug/ms"`` is ``ms`` installed inside
  ``debug``; scoped names take two segments (``"@babel/core/semver"``). A path whose first segment is
  a workspace member's name is installed inside that member (``"ws-a/yallist"``). The last segment
  is the install name, so an alias ``"my-ms": ["ms@2.0.0", ...]`` has install name ``my-ms`` and real
  name ``ms``. The tuple shape depends on the resolution:

  ==================  ==========================================================  ===============
  resolution          tuple                                                       source kind
  ==================  ==========================================================  ===============
  ``1.2.3`` (semver)  ``[id, registry-or-"", info, integrity]``                   registry
  ``workspace:path``  ``[id]`` (lockfile v0: ``[id, info]``)                      workspace
  ``link:path``       ``[id, info]``                                              link
  ``file:path``       ``[id, info]``                                              directory
  ``./x.tgz`` etc.    ``[id, info, integrity?]`` (a local tarball)                local tarball
  ``https://...``     ``[id, info, integrity?]`` (a remote tarball)               tarball
  ``git+...``         ``[id, info, bun-tag, integrity?]``                         git
  ``github:o/r#c``    ``[id, info, bun-tag, integrity?]``                         git
  ``root:``           ``[id, {bin}]`` (the project itself, depended upon)         link to root
  ==================  ==========================================================  ===============

  ``info`` holds the package's own dependency groups, ``optionalPeers``, ``os``/``cpu``, ``bin`` and
  ``bundled: true`` for a bundled dependency.

Locations follow the tree paths, so they are bun's real hoisted install paths in npm's spelling:
``"debug/ms"`` becomes ``node_modules/debug/node_modules/ms``, ``"ws-a/yallist"`` becomes
``packages/a/node_modules/yallist``. The root is ``""``, each member sits at its folder and the
``packages`` entry of a member is a link node ``node_modules/<name>`` pointing at it (with no
version of its own), as npm records workspaces. Registry packages keep their resolution as version
(semver or not: the audit names an unreadable one as not checked); tarballs get the version their
file name implies, when it implies one; everything else keeps an empty version (bun does not store
one) except workspace members, which keep the version bun saved.

Edges are resolved the way bun resolves them: a dependency of the tree path ``a/b`` is looked up
at ``a/b/<dep>``, then ``a/<dep>``, then ``<dep>``; the root looks only at the top; a member looks
inside itself, then at the top. Every listed dependency is an edge, even a name listed in two
groups: that is bun's rule (a dev dependency that is also a peer stays installed under
``--production``), where npm keeps only the last group read (dev). devDependencies count only for
the root and members. The root gets a prod edge to every member, as npm's workspace
edges. A dependency nothing satisfies (an uninstalled optional or peer) gets an edge to None.
Groups (dev, optional, devOptional, peer) then come from npmaudit.project.depflags, npm's rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from npmaudit import TYPE_CHECKING, textfile
from npmaudit.errors import InputError
from npmaudit.project.depflags import compute_dep_flags
from npmaudit.project.manifest import unlocked_root_edges
from npmaudit.project.model import DepType, Edge, Node, Project, SourceKind, local_source
from npmaudit.project.readers.bun.jsonc import strip_jsonc
from npmaudit.project.readers.npm.spec import version_from_tarball
from npmaudit.records import replace

if TYPE_CHECKING:
    from typing import Any

SUPPORTED_VERSIONS = (0, 1, 2)

_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_DEP_GROUPS = (
    ("dependencies", DepType.PROD),
    ("optionalDependencies", DepType.OPTIONAL),
    ("devDependencies", DepType.DEV),
    ("peerDependencies", DepType.PEER),
)


def read(path: Path) -> Project:
    """Parse ``bun.lock`` at ``path``; raise InputError naming the file (and line) if it is damaged."""
    text = _read_text(path)
    data = _parse_jsonc(path, text)
    return _Reader(path, text, data).project()


def _groups(nodes: Mapping[str, Node]) -> dict[str, Node]:
    """npm's group rule over the edges that make bun install something.

    An optional peer never makes bun install a package: it is used when something else brought
    the package in. So ``bun install --omit=dev`` leaves out a root devDependency that some
    package also names as an optional peer, where npm's rule (every edge counts) would keep it.
    The flags are computed without optional-peer edges and put back on the nodes, which keep all
    their edges for "why is it here" chains.
    """
    installing = {
        location: replace(node, edges=tuple(e for e in node.edges if e.type is not DepType.PEER_OPTIONAL))
        if any(e.type is DepType.PEER_OPTIONAL for e in node.edges)
        else node
        for location, node in nodes.items()
    }
    flagged = compute_dep_flags(installing)
    for location, node in installing.items():
        if node is not nodes[location]:  # give back the optional-peer edges
            flagged[location] = replace(flagged[location], edges=nodes[location].edges)
    return flagged


def _read_text(path: Path) -> str:
    text = textfile.read_text(path, "lockfile")
    if not text.strip():
        raise InputError(path, "empty lockfile")
    return text


def _parse_jsonc(path: Path, text: str) -> dict[str, Any]:
    duplicated: list[tuple[int, str]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    duplicated.append((id(result), key))
                seen.add(key)
        return result

    try:
        data = json.loads(strip_jsonc(text), object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as error:
        raise InputError(path, f"not valid JSON: {error.msg}", line=error.lineno) from None
    except RecursionError:
        raise InputError(path, "not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InputError(path, "not a bun lockfile: the top level is not an object", line=1)
    packages = data.get("packages")
    for owner, key in duplicated:
        if owner == id(packages):
            raise InputError(path, f"duplicate package path {key!r}", line=_line_of_last(text, key))
    return data


def _line_of_last(text: str, key: str) -> int | None:
    """The line of the last ``"key":`` in the text (for a duplicated key, the second one)."""
    needle = re.compile(re.escape(json.dumps(key)) + r"\s*:")
    matches = list(needle.finditer(text))
    found = matches[-1] if matches else None
    return text.count("\n", 0, found.start()) + 1 if found else None


def split_tree_path(key: str) -> list[str] | None:
    """``"@a/b/c/@d/e"`` -> ``["@a/b", "c", "@d/e"]``; None when a segment is empty or a scope dangles."""
    parts = key.split("/")
    segments: list[str] = []
    index = 0
    while index < len(parts):
        part = parts[index]
        if not part:
            return None
        if part.startswith("@"):
            if index + 1 >= len(parts) or not parts[index + 1] or len(part) == 1:
                return None
            segments.append(f"{part}/{parts[index + 1]}")
            index += 2
        else:
            segments.append(part)
            index += 1
    return segments


def split_ident(ident: str) -> tuple[str, str] | None:
    """``"@s/n@1.0.0"`` -> ``("@s/n", "1.0.0")``; the name may be empty only for ``@root:``."""
    if ident.startswith("@root:"):
        return "", ident[1:]
    at = ident.find("@", 1)
    if at <= 0:
        return None
    return ident[:at], ident[at + 1 :]


def classify(resolution: str) -> SourceKind | None:
    """The source kind of a resolution string as bun infers it; None for ``root:``."""
    if resolution.startswith("root:"):
        return None
    for prefix, kind in (("link:", SourceKind.LINK), ("workspace:", SourceKind.WORKSPACE)):
        if resolution.startswith(prefix):
            return kind
    if resolution.startswith("file:"):
        return local_source(resolution)
    lowered = resolution.lower()
    if lowered.startswith(("git+", "git://", "git@", "ssh://", "github:", "gitlab:", "bitbucket:")):
        return SourceKind.GIT
    if lowered.startswith(("http://", "https://")):
        path = lowered.split("#", 1)[0]
        if path.endswith(".git") or (path.startswith("https://github.com/") and not path.endswith((".tgz", ".tar.gz"))):
            return SourceKind.GIT
        return SourceKind.TARBALL
    if lowered.endswith((".tgz", ".tar.gz", ".tar")) or resolution.startswith((".", "/", "~")):
        return local_source(resolution)
    if _SEMVER.match(resolution):
        return SourceKind.REGISTRY
    return SourceKind.GIT if re.match(r"^[\w.-]+/[\w.-]+(#.*)?$", resolution) else SourceKind.REGISTRY


class _Reader:
    """One pass over a parsed lockfile; every check reports the file and the line of the entry."""

    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        self.path = path
        self.text = text
        self.data = data
        self.nodes: dict[str, Node] = {}
        self.key_location: dict[str, str] = {}
        self.member_paths: dict[str, str] = {}  # member name -> folder

    # -- errors -------------------------------------------------------------------------------

    def fail(self, problem: str, key: str | None = None, section: str | None = "packages") -> InputError:
        """An InputError at the line of ``"key":`` (searched from the start of ``section``)."""
        return InputError(self.path, problem, line=self.line_of(key, section) if key is not None else None)

    def line_of(self, key: str, section: str | None) -> int | None:
        start = 0
        if section is not None:
            opening = re.search(re.escape(json.dumps(section)) + r"\s*:", self.text)
            start = opening.end() if opening else 0
        needle = re.compile(re.escape(json.dumps(key)) + r"\s*:")
        found = needle.search(self.text, start) or needle.search(self.text)
        return self.text.count("\n", 0, found.start()) + 1 if found else None

    # -- top level ----------------------------------------------------------------------------

    def project(self) -> Project:
        version = self.data.get("lockfileVersion")
        if "lockfileVersion" not in self.data:
            raise self.fail("not a bun lockfile: no lockfileVersion")
        if isinstance(version, bool) or not isinstance(version, int):
            raise self.fail(f"lockfileVersion must be a number, not {version!r}", "lockfileVersion", None)
        if version not in SUPPORTED_VERSIONS:
            known = ", ".join(map(str, SUPPORTED_VERSIONS))
            raise self.fail(f"unsupported lockfileVersion {version} (npmaudit reads {known})", "lockfileVersion", None)
        workspaces = self.data.get("workspaces")
        if not isinstance(workspaces, dict):
            raise self.fail("no workspaces object", "workspaces" if "workspaces" in self.data else None, None)
        if "" not in workspaces:
            raise self.fail('the workspaces object has no root entry ""', "workspaces", None)
        packages = self.data.get("packages", {})
        if not isinstance(packages, dict):
            raise self.fail("packages must be an object", "packages", None)

        manifests = self.read_workspaces(workspaces)
        entries = self.read_packages(packages, manifests)
        self.build_edges(manifests, entries)
        return Project(
            directory=self.path.parent,
            lockfile=self.path,
            lockfile_format=f"bun-v{version}",
            nodes=_groups(self.nodes),
        )

    def read_workspaces(self, workspaces: dict[str, Any]) -> dict[str, dict[str, Any]]:
        manifests: dict[str, dict[str, Any]] = {}
        for folder, manifest in workspaces.items():
            if not isinstance(manifest, dict):
                raise self.fail(f"workspace {folder!r} must be an object", folder, "workspaces")
            name = manifest.get("name")
            if folder == "":
                if name is not None and not isinstance(name, str):
                    raise self.fail("the root workspace name must be a string", folder, "workspaces")
                self.nodes[""] = Node(
                    location="", name=name or "", version="", source=SourceKind.ROOT, install_name=name or ""
                )
            else:
                if not isinstance(name, str) or not name:
                    raise self.fail(f"workspace {folder!r} has no name", folder, "workspaces")
                if name in self.member_paths:
                    raise self.fail(f"duplicate workspace name {name!r}", folder, "workspaces")
                version = manifest.get("version", "")
                if not isinstance(version, str):
                    raise self.fail(f"workspace {folder!r} has a version that is not a string", folder, "workspaces")
                location = folder.strip("/")
                self.member_paths[name] = location
                self.nodes[location] = Node(
                    location=location, name=name, version=version, source=SourceKind.WORKSPACE, install_name=name
                )
            self.check_groups(manifest, folder, "workspaces")
            manifests[folder.strip("/")] = manifest
        return manifests

    def check_groups(self, info: dict[str, Any], key: str, section: str = "packages") -> None:
        for group, _ in _DEP_GROUPS:
            deps = info.get(group)
            if deps is None:
                continue
            if not isinstance(deps, dict) or not all(isinstance(spec, str) for spec in deps.values()):
                raise self.fail(f"{group} of {key!r} must map names to version strings", key, section)
        peers = info.get("optionalPeers")
        if peers is not None and (not isinstance(peers, list) or not all(isinstance(p, str) for p in peers)):
            raise self.fail(f"optionalPeers of {key!r} must be a list of names", key, section)

    # -- packages -----------------------------------------------------------------------------

    def read_packages(
        self, packages: dict[str, Any], manifests: Mapping[str, dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """Create a node per entry; return each entry's dependency info by tree path."""
        infos: dict[str, dict[str, Any]] = {}
        for key, entry in packages.items():
            segments = split_tree_path(key)
            if segments is None:
                raise self.fail(f"invalid package path {key!r}", key)
            if not isinstance(entry, list) or not entry:
                raise self.fail(f"package {key!r} must be a non-empty array", key)
            ident = entry[0]
            if not isinstance(ident, str):
                raise self.fail(f'package {key!r}: the first element must be a "name@resolution" string', key)
            split = split_ident(ident)
            if split is None:
                raise self.fail(f"package {key!r}: invalid package resolution {ident!r}", key)
            name, resolution = split
            kind = classify(resolution)
            location = self.location_of(segments)
            self.key_location[key] = location
            install_name = segments[-1]
            node, info = self.entry_node(
                key, entry, name or install_name, resolution, kind, location, install_name, manifests
            )
            if location in self.nodes:
                raise self.fail(f"package {key!r} collides with another entry at {location!r}", key)
            self.nodes[location] = node
            if info is not None:
                self.check_groups(info, key)
                infos[key] = info
        return infos

    def location_of(self, segments: list[str]) -> str:
        if len(segments) > 1 and segments[0] in self.member_paths:
            base, rest = self.member_paths[segments[0]] + "/", segments[1:]
        else:
            base, rest = "", segments
        return base + "node_modules/" + "/node_modules/".join(rest)

    def entry_node(
        self,
        key: str,
        entry: list[Any],
        name: str,
        resolution: str,
        kind: SourceKind | None,
        location: str,
        install_name: str,
        manifests: Mapping[str, dict[str, Any]],
    ) -> tuple[Node, dict[str, Any] | None]:
        base: dict[str, Any] = {"location": location, "name": name, "install_name": install_name}
        if kind is None:  # "name@root:": the project itself, required by one of its dependencies
            self.info_at(key, entry, 1)
            root = self.nodes[""]
            node = Node(
                **base | {"name": root.name or install_name},
                version="",
                source=SourceKind.LINK,
                resolved="root:",
                link_target="",
            )
            return node, None
        if kind is SourceKind.WORKSPACE:
            folder = resolution.removeprefix("workspace:").strip("/")
            if folder not in manifests or folder == "":
                raise self.fail(f"package {key!r}: unknown workspace {folder!r}", key)
            # A link carries no version of its own: the member it points at is the package.
            node = Node(**base, version="", source=SourceKind.WORKSPACE, resolved=resolution, link_target=folder)
            return node, None
        if kind is SourceKind.REGISTRY:
            # A version that is not semver ("latest", "1.0") is kept as written: the audit reports
            # the package as not checked, naming it, rather than this reader refusing the file.
            if len(entry) < 2 or not isinstance(entry[1], str):
                raise self.fail(f"package {key!r}: the registry (2nd element) must be a string", key)
            info = self.info_at(key, entry, 2)
            checksum = self.string_at(key, entry, 3, "integrity", required=True)
            node = Node(
                **base,
                version=resolution,
                source=kind,
                resolved=entry[1] or None,
                integrity=checksum or None,
                in_bundle=info.get("bundled") is True,
            )
            return node, info
        info = self.info_at(key, entry, 1)
        integrity: str | None = None
        version = ""
        if kind in (SourceKind.TARBALL, SourceKind.LOCAL_TARBALL, SourceKind.DIRECTORY) and not resolution.startswith(
            "file:"
        ):
            integrity = self.string_at(key, entry, 2, "integrity", required=False)
        elif kind is SourceKind.GIT:
            self.string_at(key, entry, 2, "git tag", required=True)
            integrity = self.string_at(key, entry, 3, "integrity", required=False)
        if kind in (SourceKind.TARBALL, SourceKind.LOCAL_TARBALL):
            # bun records no version for a tarball: its file name gives one when it has npm's
            # ``<name>-<version>.tgz`` shape (arborist's own guess); else it stays "" (not checked).
            guess = version_from_tarball(name, resolution.removeprefix("file:"))
            version = guess[1] if guess is not None and guess[0] == name else ""
        node = Node(
            **base,
            version=version,
            source=kind,
            resolved=resolution,
            integrity=integrity or None,
            in_bundle=info.get("bundled") is True,
        )
        return node, info

    def info_at(self, key: str, entry: list[Any], index: int) -> dict[str, Any]:
        if len(entry) <= index:
            raise self.fail(f"package {key!r}: missing dependencies object (element {index + 1})", key)
        info = entry[index]
        if not isinstance(info, dict):
            raise self.fail(f"package {key!r}: element {index + 1} must be an object", key)
        return info

    def string_at(self, key: str, entry: list[Any], index: int, what: str, *, required: bool) -> str | None:
        if len(entry) <= index:
            if required:
                raise self.fail(f"package {key!r}: missing {what} (element {index + 1})", key)
            return None
        value = entry[index]
        if not isinstance(value, str):
            raise self.fail(f"package {key!r}: {what} (element {index + 1}) must be a string", key)
        return value

    # -- edges --------------------------------------------------------------------------------

    def build_edges(self, manifests: Mapping[str, dict[str, Any]], infos: Mapping[str, dict[str, Any]]) -> None:
        root_manifest = manifests[""]
        root_edges = self.edges_of(root_manifest, top=True, lookup=lambda dep: self.key_location.get(dep))
        named = {edge.name for edge in root_edges}
        for member, folder in self.member_paths.items():
            if member not in named:  # npm's workspace edge: members are production parts of the project
                target = self.key_location.get(member, folder)
                root_edges.append(Edge(name=member, spec=f"workspace:{folder}", type=DepType.PROD, to=target))
        if not any(root_manifest.get(group) for group, _ in _DEP_GROUPS):  # the root lists nothing:
            root_edges = list(unlocked_root_edges(self.path.parent, tuple(root_edges)))  # package.json's
        self.set_edges("", root_edges)
        for member, folder in self.member_paths.items():

            def member_lookup(dep: str, member: str = member) -> str | None:
                return self.key_location.get(f"{member}/{dep}") or self.key_location.get(dep)

            self.set_edges(folder, self.edges_of(manifests[folder], top=True, lookup=member_lookup))
        for key, info in infos.items():
            segments = split_tree_path(key) or []

            def package_lookup(dep: str, segments: list[str] = segments) -> str | None:
                for depth in range(len(segments), -1, -1):
                    found = self.key_location.get("/".join([*segments[:depth], dep]))
                    if found is not None:
                        return found
                return None

            self.set_edges(self.key_location[key], self.edges_of(info, top=False, lookup=package_lookup))

    def edges_of(self, info: Mapping[str, Any], *, top: bool, lookup: Callable[[str], str | None]) -> list[Edge]:
        """One edge per listed dependency, group by group: bun keeps a name listed in two groups as
        two dependencies (``bun install --production`` still installs a dev dependency that is also
        a peer), where npm would keep only the dev one."""
        optional_peers = set(info.get("optionalPeers") or ())
        edges = []
        for group, dep_type in _DEP_GROUPS:
            if dep_type is DepType.DEV and not top:
                continue
            for dep, spec in (info.get(group) or {}).items():
                kind = DepType.PEER_OPTIONAL if dep_type is DepType.PEER and dep in optional_peers else dep_type
                edges.append(Edge(name=dep, spec=spec, type=kind, to=lookup(dep)))
        return edges

    def set_edges(self, location: str, edges: list[Edge]) -> None:
        if edges:
            self.nodes[location] = replace(self.nodes[location], edges=tuple(edges))
