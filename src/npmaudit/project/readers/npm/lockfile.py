"""npm's lockfiles -> the package model.

Reads ``package-lock.json`` and ``npm-shrinkwrap.json`` (lockfile v1, v2, v3) and the hidden
lockfile ``node_modules/.package-lock.json`` the way npm's arborist reads them (``loadVirtual``),
because npm's own reading is what ``npm audit`` and ``npm ls`` report and what users compare us to:

- v2/v3 ``packages`` entries are the tree; v1's nested ``dependencies`` are first migrated to
  that shape exactly as npm migrates them (npm_v1.py).
- The root's dependencies come from the package.json beside the lockfile when there is one (npm
  reads it, not the lockfile's root entry), else from the lockfile's root entry. Link targets
  outside node_modules (workspace members, ``file:`` folders) likewise use their own package.json
  when it exists on disk. Workspace members are found by matching the root's ``workspaces`` globs
  against the lockfile's folder entries (npm's ``mapWorkspaces.virtual``), so a lockfile read
  without its checkout still knows its workspaces.
- Dependency groups are the flags stored in the lockfile, unless npm would distrust them: when the
  root's declared dependencies differ from what the lockfile recorded (always for a v1 lockfile
  whose package.json has devDependencies, since v1 does not record them), npm recomputes every
  flag from the edges, and so do we (depflags.py). A hidden lockfile is always recomputed.
- Every node records its source kind, so that only registry packages are matched against
  registry advisories (workspace, link, git, tarball and folder packages never are).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Mapping
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.errors import InputError
from npmaudit.project.model import DepType, Edge, Node, Project, SourceKind
from npmaudit.project.npm_tree import UNDER_NODE_MODULES, is_top
from npmaudit.project.readers.npm.locktext import (
    DEP_FIELDS,
    LockText,
    json_type,
    load_json,
    load_manifest,
    object_field,
    spec_map,
    string_field,
)
from npmaudit.project.readers.npm.spec import SpecType, is_registry_tarball, is_semver, spec_type
from npmaudit.project.readers.npm.workspaces import TooManyWorkspaceGlobs, map_workspaces
from npmaudit.textfile import refuse_special

if TYPE_CHECKING:
    from typing import Any

SUPPORTED_VERSIONS = (1, 2, 3)
HIDDEN_LOCKFILE = ".package-lock.json"
_WORKSPACE = "workspace"  # arborist's edge type from the root to a workspace member; prod for us
_EDGE_TYPES = {_WORKSPACE: DepType.PROD, **{kind.value: kind for kind in DepType}}


def read(path: Path) -> Project:
    """Read an npm lockfile (any of the three names, lockfile v1-v3) into a Project."""
    source, data = load_json(path)
    if not isinstance(data, dict):
        raise InputError(path, f"the top level must be a JSON object, not {json_type(data)}", 1)
    version = _lockfile_version(source, data)
    hidden = path.name == HIDDEN_LOCKFILE
    directory = path.parent.parent if hidden and path.parent.name == "node_modules" else path.parent
    manifest = _read_manifest(directory / "package.json")
    if data.get("packages") is not None:
        packages = _checked_packages(source, data)
    else:
        dependencies = data.get("dependencies")
        if dependencies is not None and not isinstance(dependencies, dict):
            raise source.error(f'"dependencies" must be an object, not {json_type(dependencies)}', "dependencies")
        if version >= 2 and not dependencies:
            # npm writes every v2/v3 lockfile with "packages" (at least the root entry) and reads one
            # without it through its v1 "dependencies": with neither, it would read an empty tree.
            raise source.error(
                f'lockfileVersion {version} but no "packages" (npm writes it, with at least the root entry, in '
                'every v2/v3 lockfile) and no v1 "dependencies": not a lockfile npm wrote',
                "lockfileVersion",
            )
        from npmaudit.project.readers.npm.v1 import migrate  # lockfile v1 only: most runs never need it

        packages = migrate(source, data, manifest, directory)
    # npm keeps the stored flags of an "ancient" lockfile (v1 written without requires: true).
    ancient = version < 2 and not data.get("requires")
    builder = _Builder(source, directory, packages, manifest)
    # npm always recomputes the flags of a tree read from node_modules (and needs the root's
    # package.json to do it); a lockfile's are recomputed only when they look stale.
    recompute = manifest is not None if hidden else not ancient and builder.root_edges_differ()
    nodes = builder.build(recompute)
    return Project(directory=directory, lockfile=path, lockfile_format=_format_name(path, version, hidden), nodes=nodes)


def _format_name(path: Path, version: int, hidden: bool) -> str:
    if hidden:
        return "hidden-lockfile"
    stem = "npm-shrinkwrap" if path.name == "npm-shrinkwrap.json" else "package-lock"
    return f"{stem}-v{version}"


def _lockfile_version(source: LockText, data: Mapping[str, Any]) -> int:
    if "lockfileVersion" not in data:
        raise source.error("missing lockfileVersion: not an npm lockfile, or one too old to read")
    version = data["lockfileVersion"]
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise source.error(
            f"unsupported lockfileVersion {json.dumps(version)} (npmaudit reads 1, 2 and 3)", "lockfileVersion"
        )
    return int(version)


_STRING_FIELDS = ("name", "version", "resolved", "integrity")


def _checked_packages(source: LockText, data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    packages = object_field(source, data, "packages")
    # Each check runs inline and calls the checker only to raise its error: a few calls less per
    # entry, in the same order, over thousands of entries.
    for key, entry in packages.items():
        if not isinstance(entry, dict):
            raise source.error(f'package entry "{key}" must be an object, not {json_type(entry)}', key)
        for field in _STRING_FIELDS:
            value = entry.get(field)
            if value is not None and not isinstance(value, str):
                string_field(source, entry, field, key)
        for field in DEP_FIELDS:
            specs = entry.get(field)
            if specs is not None and not (isinstance(specs, dict) and _all_strings(specs)):
                spec_map(source, entry, field, key)
        meta = entry.get("peerDependenciesMeta")
        if meta is not None and not isinstance(meta, dict):
            object_field(source, entry, "peerDependenciesMeta", key)
        if entry.get("link") and not isinstance(entry.get("resolved"), str):
            raise source.error(f'link entry "{key}" has no "resolved" target', key)
    return packages


def _all_strings(specs: dict[str, Any]) -> bool:
    """Whether every value is a string: one join in C instead of a test per value (json.loads makes
    no subclass of str, so a TypeError is exactly "some value is not a str")."""
    try:
        "".join(specs.values())
    except TypeError:
        return False
    return True


def _read_manifest(path: Path) -> dict[str, Any] | None:
    """A package.json's content, None when there is none; malformed ones are InputErrors, and so
    is a FIFO or a device under its name (never read: it would hang or never end)."""
    if path.is_file():
        return load_manifest(path)[1]
    refuse_special(path)
    return None


def name_from_folder(location: str) -> str:
    """The package name a folder implies (``node_modules/@s/x`` -> ``@s/x``), as npm derives it."""
    head, _, last = location.rstrip("/").rpartition("/")  # called twice per node: no list built
    scope = head.rpartition("/")[2]
    if scope.startswith("@"):
        return f"{scope}/{last}"
    return last


class _Builder:
    """Builds the nodes of one lockfile: names, edges, resolution, flags, source kinds."""

    def __init__(
        self, source: LockText, directory: Path, packages: dict[str, dict[str, Any]], manifest: dict[str, Any] | None
    ) -> None:
        self.source = source
        self.directory = directory
        self.entries = packages
        self.lock_root = packages.get("", {})
        root_package = manifest if manifest is not None else self.lock_root
        self.links: dict[str, str] = {}  # link location -> target location
        self.package_of: dict[str, Mapping[str, Any]] = {"": root_package}
        for location, entry in packages.items():
            if not location:
                continue
            if entry.get("link"):
                self.links[location] = _normal(entry["resolved"])
            else:
                self.package_of[location] = entry
        for location, target in self.links.items():
            if target not in self.package_of:
                raise source.error(
                    f'link "{location}" points to "{target}", which the lockfile does not contain', location
                )
            if target and is_top(target):
                on_disk = _read_manifest(directory / target / "package.json")
                if on_disk is not None:
                    self.package_of[target] = on_disk
        self.known = self.package_of.keys() | self.links.keys()  # every location a dependency can resolve to
        self.nesting = _nesting_folders(self.known)
        self.declared_workspaces = root_package.get("workspaces")
        self.workspaces = self._workspaces(self.declared_workspaces)
        self.workspace_folders = set(self.workspaces.values())
        self._parents: dict[str, str | None] = {}
        self._search_paths: dict[str, tuple[str, ...]] = {}

    def _name(self, location: str, package: Mapping[str, Any]) -> str:
        name = package.get("name")
        if isinstance(name, str) and name:
            return name
        if location == "":
            return name_from_folder(self.directory.resolve().as_posix())
        return name_from_folder(location)

    def _workspaces(self, declared: object) -> dict[str, str]:
        def name_of(folder: str) -> str:
            package = self.package_of.get(folder)
            return (self._name(folder, package) if package is not None else "") or name_from_folder(folder)

        try:
            return map_workspaces(declared, [key for key in self.entries if key], name_of)
        except TooManyWorkspaceGlobs as error:
            if declared is self.lock_root.get("workspaces"):
                raise self.source.error(str(error), "workspaces") from None
            raise InputError(self.directory / "package.json", str(error)) from None

    # -- edges ---------------------------------------------------------------------------------

    def declared_edges(self, location: str) -> dict[str, tuple[str, str]]:
        """name -> (type, spec) for a non-link node, with arborist's precedence between lists."""
        package = self.package_of[location]
        edges: dict[str, tuple[str, str]] = {}
        if location == "":
            for name, folder in self.workspaces.items():
                edges[name] = (_WORKSPACE, f"file:{folder}")
        groups: list[tuple[str, Mapping[str, str]]] = []  # the non-empty lists, in precedence order
        peers = package.get("peerDependencies")
        if peers:
            meta = package.get("peerDependenciesMeta") or {}
            groups.append(("peer", {n: s for n, s in peers.items() if not _optional_peer(meta, n)}))
            groups.append(("peerOptional", {n: s for n, s in peers.items() if _optional_peer(meta, n)}))
        for kind, field in (("prod", "dependencies"), ("optional", "optionalDependencies")):
            specs = package.get(field)
            if specs:
                groups.append((kind, specs))
        if is_top(location):
            groups.append(("dev", package.get("devDependencies") or {}))
        for kind, specs in groups:
            for name, spec in specs.items():
                current = edges.get(name)
                if current is None or current[0] != _WORKSPACE:
                    edges[name] = (kind, spec)
        return edges

    def root_edges_differ(self) -> bool:
        """npm's #checkRootEdges: does the root declare other dependencies than the lockfile says?"""
        lock = self.lock_root
        prod = dict(lock.get("dependencies") or {})
        optional = lock.get("optionalDependencies") or {}
        peer = dict(lock.get("peerDependencies") or {})
        peer_optional = {}
        for name, meta in (lock.get("peerDependenciesMeta") or {}).items():
            if isinstance(meta, Mapping) and meta.get("optional") and name in peer:
                peer_optional[name] = peer.pop(name)
        for name in optional:
            prod.pop(name, None)
        declared_workspaces = lock.get("workspaces")
        # Usually the lockfile's root records the package.json's patterns: those are mapped already.
        same = declared_workspaces == self.declared_workspaces
        workspaces = self.workspaces if same else self._workspaces(declared_workspaces)
        lock_workspaces = {name: f"file:{folder}" for name, folder in workspaces.items()}
        expected = {
            "dev": lock.get("devDependencies") or {},
            "optional": optional,
            "peer": peer,
            "peerOptional": peer_optional,
            "prod": prod,
            _WORKSPACE: lock_workspaces,
        }
        declared = self.declared_edges("")
        unaccounted = set(declared)
        for kind, specs in expected.items():
            for name, spec in specs.items():
                if declared.get(name) != (kind, spec):
                    return True
                unaccounted.discard(name)
        return bool(unaccounted)

    def resolve(self, location: str, name: str) -> str | None:
        """Node's module resolution: the nearest ``node_modules/<name>`` walking up from ``location``."""
        known = self.known
        for prefix in self.search_path(location):
            if prefix + name in known:
                return prefix + name
        return None

    def search_path(self, location: str) -> tuple[str, ...]:
        """The ``<folder>/node_modules/`` prefixes :meth:`resolve` tries for ``location``'s
        dependencies, nearest first: its own, then each :meth:`parent`'s up to the root's, leaving
        out the folders with nothing installed in their node_modules (no name can resolve there).

        Kept per location, built from the parent's (siblings share it): resolving is one string
        join and one set lookup per step. A location's path holds its ancestors' names, so these
        tuples never hold more entries than the lockfile has characters.
        """
        found = self._search_paths.get(location)
        if found is not None:
            return found
        pending: list[str] = []  # locations without a path yet, nearest first
        current: str | None = location
        tail: tuple[str, ...] = ()
        while current is not None:
            known = self._search_paths.get(current)
            if known is not None:
                tail = known
                break
            pending.append(current)
            current = self.parent(current)
        for folder in reversed(pending):
            if folder in self.nesting:
                tail = (f"{folder}/node_modules/" if folder else "node_modules/", *tail)
            self._search_paths[folder] = tail
        return tail

    def parent(self, location: str) -> str | None:
        """The node a location resolves through next: its parent package, else its enclosing folder."""
        if location == "":
            return None
        if location in self._parents:
            return self._parents[location]
        found: str | None = None
        # Every prefix that ends before a "/", longest first.
        end = location.rfind("/")
        while end >= 0:
            if location[:end] in self.package_of:
                found = location[:end]
                break
            end = location.rfind("/", 0, end)
        else:
            outside = location.startswith("../") or location.startswith("/")
            found = None if outside else ""
        self._parents[location] = found
        return found

    # -- nodes ---------------------------------------------------------------------------------

    def build(self, recompute: bool) -> dict[str, Node]:
        nodes: dict[str, Node] = {}
        installed = self._installed_node
        under_node_modules = UNDER_NODE_MODULES.search  # is_top's test, without a call per node
        for location, package in self.package_of.items():
            # Tops (the root, workspaces, folders) may have a package.json of their own, dev
            # dependencies and workspace edges: the general path. Everything under node_modules
            # is its lockfile entry.
            if location and under_node_modules(location):
                nodes[location] = installed(location, package)
            else:
                nodes[location] = self._node(location)
        for location, target in self.links.items():
            nodes[location] = self._link(location, target, nodes[target])
        if recompute:
            from npmaudit.project.depflags import compute_dep_flags  # only for flags npm would distrust

            return compute_dep_flags(nodes)
        return nodes

    def _node(self, location: str) -> Node:
        package = self.package_of[location]
        edges = tuple(
            Edge(name, spec, _EDGE_TYPES[kind], self.resolve(location, name))
            for name, (kind, spec) in self.declared_edges(location).items()
        )
        name = self._name(location, package)
        version = package.get("version")
        version = version if isinstance(version, str) else ""
        if location == "":
            return Node("", name, version, SourceKind.ROOT, install_name=name, edges=edges)
        entry = self.entries[location]
        dev = bool(entry.get("dev"))
        optional = bool(entry.get("optional"))
        return Node(
            location=location,
            name=name,
            version=version,
            source=self._source(location, entry),
            install_name=name_from_folder(location),
            resolved=entry.get("resolved"),
            integrity=entry.get("integrity"),
            dev=dev,
            optional=optional,
            dev_optional=bool(entry.get("devOptional")) and not dev and not optional,
            peer=bool(entry.get("peer")),
            in_bundle=bool(entry.get("inBundle")),
            edges=edges,
        )

    def _installed_node(self, location: str, entry: Mapping[str, Any]) -> Node:
        """:meth:`_node` for a package under node_modules, whose package is its lockfile entry: its
        edges are its dependencies, unless it has peer or optional ones (precedence to apply)."""
        edges: tuple[Edge, ...] = ()
        if entry.get("peerDependencies") or entry.get("optionalDependencies"):
            declared = [(name, spec, _EDGE_TYPES[kind]) for name, (kind, spec) in self.declared_edges(location).items()]
            edges = self._resolved_edges(location, declared)
        else:
            dependencies = entry.get("dependencies")
            if dependencies:  # a package without any needs no search path (most leaves)
                prod = DepType.PROD
                edges = self._resolved_edges(location, [(name, spec, prod) for name, spec in dependencies.items()])
        # name_from_folder, inline (a location under node_modules never ends in "/", which it strips).
        head, _, install_name = location.rpartition("/")
        scope = head.rpartition("/")[2]
        if scope.startswith("@"):
            install_name = f"{scope}/{install_name}"
        package_name = entry.get("name")
        if not (isinstance(package_name, str) and package_name):
            package_name = install_name
        version = entry.get("version")
        dev = bool(entry.get("dev"))
        optional = bool(entry.get("optional"))
        # Positional, in Node's field order (location ... edges): a keyword call costs a third more.
        return Node(
            location,
            package_name,
            version if isinstance(version, str) else "",
            _installed_source(entry),
            install_name,
            entry.get("resolved"),
            entry.get("integrity"),
            dev,
            optional,
            bool(entry.get("devOptional")) and not dev and not optional,
            bool(entry.get("peer")),
            bool(entry.get("inBundle")),
            edges,
        )

    def _resolved_edges(self, location: str, declared: list[tuple[str, str, DepType]]) -> tuple[Edge, ...]:
        """Each declared dependency of ``location`` as an edge to where Node's resolution finds it."""
        search_path = self._search_paths.get(location)
        if search_path is None:
            search_path = self.search_path(location)
        known = self.known
        edges: list[Edge] = []
        for name, spec, kind in declared:
            to = None
            for prefix in search_path:
                candidate = prefix + name
                if candidate in known:
                    to = candidate
                    break
            edges.append(Edge(name, spec, kind, to))
        return tuple(edges)

    def _link(self, location: str, target: str, target_node: Node) -> Node:
        """A link carries no version of its own: only its target is a package."""
        kind = SourceKind.WORKSPACE if target in self.workspace_folders else SourceKind.LINK
        return Node(
            location=location,
            name=target_node.name,
            version="",
            source=kind,
            install_name=name_from_folder(location),
            resolved=self.entries[location].get("resolved"),
            dev=target_node.dev,
            optional=target_node.optional,
            dev_optional=target_node.dev_optional,
            peer=target_node.peer,
            in_bundle=self._link_in_bundle(location),
            link_target=target,
        )

    def _link_in_bundle(self, location: str) -> bool:
        """Links carry no inBundle in the lockfile; npm derives it from the parent's bundle list."""
        if self.entries[location].get("inBundle"):
            return True
        parent = self.parent(location)
        if parent is None:
            return False
        package = self.package_of[parent]
        bundled = package.get("bundleDependencies", package.get("bundledDependencies"))
        if bundled is True:  # package.json shorthand for "all my dependencies"
            bundled = list(package.get("dependencies") or {})
        if isinstance(bundled, list) and name_from_folder(location) in bundled:
            return True
        return parent != "" and bool(self.entries[parent].get("inBundle"))

    def _source(self, location: str, entry: Mapping[str, Any]) -> SourceKind:
        if is_top(location):
            return SourceKind.WORKSPACE if location in self.workspace_folders else SourceKind.DIRECTORY
        return _installed_source(entry)


def _installed_source(entry: Mapping[str, Any]) -> SourceKind:
    """Where an installed package's entry says it came from: its resolved URL, else its version."""
    resolved = entry.get("resolved")
    if resolved:
        return SourceKind.REGISTRY if is_registry_tarball(resolved) else _kind_of(resolved)
    version = entry.get("version")
    if not version or is_semver(version):
        # No resolved: a bundled dependency, or a lockfile saved without resolved URLs; npm
        # fetches such a version from the registry.
        return SourceKind.REGISTRY
    return _kind_of(version)


def _nesting_folders(locations: Iterable[str]) -> set[str]:
    """The folders some location is installed under: ``x`` for ``x/node_modules/<anything>``, and
    the root for ``node_modules/<anything>`` (every occurrence, so a name holding "/node_modules/"
    still counts)."""
    folders = set()
    for location in locations:
        if location.startswith("node_modules/"):
            folders.add("")
        at = location.find("/node_modules/")
        while at >= 0:
            folders.add(location[:at])
            at = location.find("/node_modules/", at + 1)
    return folders


def _kind_of(spec: str) -> SourceKind:
    """The source of a package npm fetched from ``spec`` (a registry-shaped URL is handled before)."""
    kind = spec_type(spec)
    if kind is SpecType.GIT:
        return SourceKind.GIT
    if kind is SpecType.FILE:
        return SourceKind.LOCAL_TARBALL
    if kind is SpecType.DIRECTORY:
        return SourceKind.DIRECTORY
    if kind is SpecType.REMOTE:
        return SourceKind.TARBALL
    return SourceKind.REGISTRY


def _optional_peer(meta: Mapping[str, Any], name: str) -> bool:
    entry = meta.get(name)
    return isinstance(entry, Mapping) and bool(entry.get("optional"))


def _normal(resolved: str) -> str:
    """A link's ``resolved`` as a location: relative to the project, ``/``-separated, normalised."""
    path = resolved[len("file:") :] if resolved.startswith("file:") else resolved
    normal = posixpath.normpath(path.replace("\\", "/"))
    return "" if normal == "." else normal
