"""Read npm_ex's ``npm.lock`` (the Elixir npm client's own lockfile) into the package model.

Format (npm_ex ``lib/npm/lockfile.ex``; docs/npm_ex.md): a JSON object
with ``lockfileVersion`` (always 1), ``policy`` (ignored here) and ``packages``, a *flat* map from
a bare package name to ``{version, integrity, tarball, dependencies, optional_dependencies,
has_install_script}``. One version per name: copies npm_ex installed nested because of a version
conflict are not recorded, so no reader of this file can see them.

What this reader makes of it:

* Every entry is a node at ``node_modules/<key>`` (the key is the install name). The real name is
  read from the tarball URL when it has the registry layout ``.../<name>/-/<file>-<version>.tgz``,
  so an aliased entry is matched under the package it really is; otherwise it is the key.
* Source kind from the tarball: a registry-layout URL (or none: npm_ex resolves from a registry)
  is a registry package; ``git+``/``git:``/``github:``/``ssh:`` is git; another http(s) URL a
  remote tarball; ``file:`` or a path a local tarball (by its file name) or directory. Registry
  entries and tarballs are matched against advisories by name and version.
* Edges: each entry's ``dependencies`` (prod) and ``optional_dependencies`` (optional; a name in
  both is optional, npm's rule) point at the recorded entry of that name when its version
  satisfies the range. A range the recorded version does not satisfy was installed nested and not
  recorded, so that edge leads nowhere (None): it must not make the recorded copy production.
* Groups: npm.lock stores none. When a ``package.json`` sits beside the lockfile, the root's edges
  come from it (dependencies, devDependencies, optionalDependencies, peerDependencies with
  peerDependenciesMeta; one edge per name, npm's order so dev wins) and the groups are npm's rule
  (npmaudit.project.depflags). An entry no recorded edge reaches is production: it is needed
  through a nested copy npm_ex did not record, in a group nobody can tell. **Without a
  package.json** (npm_ex's projects are Elixir ones whose JavaScript dependencies may be declared
  in mix config), the root has no edges and every entry is production, reachable or not: nothing
  may be left out of an audit on a guess.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from npmaudit import TYPE_CHECKING, textfile
from npmaudit.errors import InputError
from npmaudit.project.depflags import compute_dep_flags
from npmaudit.project.manifest import read_manifest
from npmaudit.project.model import DepType, Edge, Node, Project, SourceKind, local_source
from npmaudit.records import replace
from npmaudit.semver import satisfies, valid_range

if TYPE_CHECKING:
    from typing import Any

_MANIFEST_GROUPS = (  # npm's loading order: a later group replaces an earlier edge of the same name
    ("peerDependencies", DepType.PEER),
    ("dependencies", DepType.PROD),
    ("optionalDependencies", DepType.OPTIONAL),
    ("devDependencies", DepType.DEV),
)
_REGISTRY_TARBALL = re.compile(r"(?:^|/)(@[^/]+/[^/]+|[^/@][^/]*)/-/[^/]+\.tgz$")


def read(path: Path) -> Project:
    """Parse ``npm.lock`` at ``path`` (and the package.json beside it, when there is one)."""
    data = _load_json(path, "lockfile")
    if not isinstance(data, dict):
        raise InputError(path, "not an npm_ex lockfile: the top level is not an object", line=1)
    version = data.get("lockfileVersion", 1)
    if version != 1 or isinstance(version, bool):
        raise InputError(
            path, f"unsupported lockfileVersion {version!r} (npm_ex writes 1)", line=_line_of(path, "lockfileVersion")
        )
    packages = data.get("packages", {})
    if not isinstance(packages, dict):
        raise InputError(path, "packages must be an object", line=_line_of(path, "packages"))

    nodes: dict[str, Node] = {}
    for key, entry in packages.items():
        nodes[f"node_modules/{key}"] = _entry_node(path, key, entry)
    for location, node in list(nodes.items()):
        nodes[location] = _with_edges(node, packages[node.install_name], nodes)

    manifest_path = path.parent / "package.json"
    manifest = _load_manifest(manifest_path) if manifest_path.is_file() else None
    name, version = (manifest.get("name"), manifest.get("version")) if manifest else (None, None)
    root_name = name if isinstance(name, str) else ""
    root_version = version if isinstance(version, str) else ""
    root_edges = _manifest_edges(manifest, nodes) if manifest is not None else ()
    nodes[""] = Node(
        location="",
        name=root_name,
        version=root_version,
        source=SourceKind.ROOT,
        install_name=root_name,
        edges=root_edges,
    )
    return Project(
        directory=path.parent,
        lockfile=path,
        lockfile_format="npm-ex",
        nodes=_groups(nodes) if manifest is not None else nodes,
    )


def _groups(nodes: dict[str, Node]) -> dict[str, Node]:
    """npm's group rule, except for entries no recorded path reaches: npm_ex leaves out nested
    copies, so such an entry is most likely needed through one of them, and which group that
    path belongs to is unknown. It is kept in production rather than guessed out of an audit."""
    flagged = compute_dep_flags(nodes)
    reached = {""}
    queue = [""]
    while queue:
        for edge in flagged[queue.pop()].edges:
            if edge.to is not None and edge.to not in reached:
                reached.add(edge.to)
                queue.append(edge.to)
    for location, node in flagged.items():
        if location not in reached:
            flagged[location] = replace(node, dev=False, optional=False, dev_optional=False, peer=False)
    return flagged


def _load_json(path: Path, what: str) -> Any:
    text = textfile.read_text(path, what)
    if not text.strip():
        raise InputError(path, f"empty {what}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(path, f"not valid JSON: {error.msg}", line=error.lineno) from None
    except RecursionError:
        raise InputError(path, "not valid JSON: nested too deeply") from None


def _line_of(path: Path, key: str) -> int | None:
    """The line of the first ``"key":`` in the file, to point an error at the entry."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    found = re.search(re.escape(json.dumps(key)) + r"\s*:", text)
    return text.count("\n", 0, found.start()) + 1 if found else None


def _entry_node(path: Path, key: str, entry: Any) -> Node:
    def bad(problem: str) -> InputError:
        return InputError(path, f"package {key!r}: {problem}", line=_line_of(path, key))

    if not key or key.startswith(("/", ".")) or ".." in key.split("/"):
        raise bad("not a package name")
    if not isinstance(entry, dict):
        raise bad("must be an object")
    version = entry.get("version")
    if not isinstance(version, str) or not version:
        raise bad("no version")
    for field in ("integrity", "tarball"):
        if not isinstance(entry.get(field, ""), str):
            raise bad(f"{field} must be a string")
    for field in ("dependencies", "optional_dependencies"):
        deps = entry.get(field, {})
        if not isinstance(deps, dict) or not all(isinstance(spec, str) for spec in deps.values()):
            raise bad(f"{field} must map names to version ranges")
    if not isinstance(entry.get("has_install_script", False), bool):
        raise bad("has_install_script must be true or false")
    tarball = entry.get("tarball", "")
    source, real_name = classify_tarball(tarball)
    return Node(
        location=f"node_modules/{key}",
        name=real_name or key,
        version=version,
        source=source,
        install_name=key,
        resolved=tarball or None,
        integrity=entry.get("integrity") or None,
    )


def classify_tarball(tarball: str) -> tuple[SourceKind, str | None]:
    """The source kind of an entry from its tarball URL, and the real package name the URL names
    when it has the registry layout (``https://host/@scope/name/-/name-1.0.0.tgz``)."""
    if not tarball:
        return SourceKind.REGISTRY, None
    lowered = tarball.lower()
    if lowered.startswith(("git+", "git:", "github:", "gitlab:", "bitbucket:", "ssh:")):
        return SourceKind.GIT, None
    if lowered.startswith(("http://", "https://")):
        match = _REGISTRY_TARBALL.search(unquote(urlsplit(tarball).path))
        if match:
            return SourceKind.REGISTRY, match.group(1)
        return SourceKind.TARBALL, None
    return local_source(tarball), None


def _target(nodes: dict[str, Node], name: str, spec: str) -> str | None:
    """The recorded entry a dependency resolves to, or None when the entry cannot be it."""
    node = nodes.get(f"node_modules/{name}")
    if node is None:
        return None
    wanted_name, wanted_range = name, spec
    if spec.startswith("npm:"):
        alias = spec[4:]
        at = alias.rfind("@")
        wanted_name, wanted_range = (alias[:at], alias[at + 1 :]) if at > 0 else (alias, "*")
        if wanted_name != node.name:
            return None
    if node.source is SourceKind.REGISTRY and valid_range(wanted_range) is not None:
        return node.location if satisfies(node.version, wanted_range) else None
    return node.location


def _with_edges(node: Node, entry: dict[str, Any], nodes: dict[str, Node]) -> Node:
    chosen: dict[str, tuple[str, DepType]] = {}
    for name, spec in entry.get("dependencies", {}).items():
        chosen[name] = (spec, DepType.PROD)
    for name, spec in entry.get("optional_dependencies", {}).items():
        chosen[name] = (spec, DepType.OPTIONAL)
    edges = tuple(
        Edge(name=name, spec=spec, type=kind, to=_target(nodes, name, spec)) for name, (spec, kind) in chosen.items()
    )
    return replace(node, edges=edges)


def _load_manifest(path: Path) -> dict[str, Any] | None:
    manifest = read_manifest(path)
    if manifest is None:
        return None
    for group, _ in _MANIFEST_GROUPS:
        deps = manifest.get(group, {})
        if not isinstance(deps, dict) or not all(isinstance(spec, str) for spec in deps.values()):
            raise InputError(path, f"{group} must map names to version ranges", line=_line_of(path, group))
    meta = manifest.get("peerDependenciesMeta", {})
    if not isinstance(meta, dict):
        raise InputError(path, "peerDependenciesMeta must be an object", line=_line_of(path, "peerDependenciesMeta"))
    return manifest


def _manifest_edges(manifest: dict[str, Any], nodes: dict[str, Node]) -> tuple[Edge, ...]:
    meta = manifest.get("peerDependenciesMeta", {})
    chosen: dict[str, tuple[str, DepType]] = {}
    for group, dep_type in _MANIFEST_GROUPS:
        for name, spec in manifest.get(group, {}).items():
            kind = dep_type
            if dep_type is DepType.PEER and isinstance(meta.get(name), dict) and meta[name].get("optional") is True:
                kind = DepType.PEER_OPTIONAL
            chosen[name] = (spec, kind)
    return tuple(
        Edge(name=name, spec=spec, type=kind, to=_target(nodes, name, spec)) for name, (spec, kind) in chosen.items()
    )
