"""Reader for pnpm-lock.yaml, lockfile versions 5.x, 6.x and 9.0 (pnpm 5 to 11).

What each format stores:

* ``importers`` — one per workspace member (``.`` is the root), each with ``dependencies``,
  ``devDependencies`` and ``optionalDependencies``. 5.x keeps the ranges apart in ``specifiers`` and
  maps names to references; 6.x and 9.0 map names to ``{specifier, version}``. A single-project
  5.x/6.x lockfile has no ``importers``: the root's maps sit at the top level.
* ``packages`` — in 5.x/6.x one entry per package *and peer context*, holding its metadata and its
  own ``dependencies``/``optionalDependencies``. In 9.0 ``packages`` holds the metadata per package
  version (``name@version``) and ``snapshots`` the graph per peer context (``name@version(peers)``).
  References are resolved to keys with pnpm's own rules (:mod:`.pnpm_deppath`).

The model built from it:

* every importer is a node at its folder path (the root at ``""``, a member at ``packages/foo``)
  with source ROOT or WORKSPACE; a manifest ``<folder>/package.json`` beside the lockfile, when
  present, gives its name and version (else the folder's name and no version);
* every ``packages`` entry (5.x/6.x) or snapshot (9.0) is a node: the same (name, version) in two
  peer contexts is two nodes with the same name and version (pnpm installs it twice);
* ``link:`` references become edges to the importer at that path, or to a LINK node at the path when
  no importer is there; a ``link:`` inside a package entry is relative to the lockfile's folder, as
  pnpm writes it. Workspace and link nodes are never registry nodes;
* edges carry the importer's specifier (a ``catalog:`` specifier replaced by the catalog's range).
  A package's own dependencies carry the peer range for a peer dependency (pnpm lists resolved
  peers among ``dependencies``; ``peerDependencies`` says which they are), otherwise the resolved
  version (``npm:real@1.0.0`` for an alias), since pnpm does not store the range it resolved;
* the root gets a production edge to every workspace member, as npm gives it one per workspace:
  pnpm installs every importer's dependencies, so a member's production dependencies are
  production dependencies of the project (the oracle, pnpm's own lockfile filter with every
  importer selected, agrees);
* groups (dev / optional / devOptional / peer) are computed from the edges by npm's rule
  (:func:`group_flags`) for every version, also 5.x/6.x which store ``dev``/``optional``: one
  rule for all, and the one pnpm installs by. The oracle is pnpm's own install filter (what
  ``--prod`` and ``--no-optional`` keep); the flags old pnpm versions wrote can lag behind it
  (vite's 5.3 file marks packages reached only through optional peers as dev-only);
* locations are synthesised npm-style (:mod:`.pnpm_layout`).

Name and version: a ``name``/``version`` field in the entry wins over the key (git, tarball and
directory entries carry them); otherwise they come from the key (a registry entry keeps even a
version that is not semver, which the audit then reports as not checked). A directory entry
without a version field gets version "" and is never matched against advisories anyway.

Source kinds, from the resolution: ``type: directory`` is DIRECTORY, ``file:`` tarballs LOCAL_TARBALL,
``type: git`` and tarballs marked ``gitHosted`` or from a git host's archive endpoint
(codeload.github.com, gitlab.com, bitbucket.org: pnpm's own list) are GIT, other tarballs are
TARBALL unless the key has the registry shape (name and semver version: a registry that names its
tarball URL), and an integrity alone is REGISTRY. Registry entries keep no URL (``resolved`` None).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.errors import InputError
from npmaudit.project.depflags import group_flags
from npmaudit.project.manifest import read_manifest, unlocked_root_edges
from npmaudit.project.model import DepType, Edge, Node, Project, SourceKind
from npmaudit.project.readers.pnpm.deppath import parse_key, ref_to_key, remove_suffix
from npmaudit.project.readers.pnpm.layout import synthesise_locations
from npmaudit.project.readers.pnpm.yaml_load import line_of, load_lockfile_document, read_text
from npmaudit.records import field, record_class

if TYPE_CHECKING:
    from typing import Any

SUPPORTED_MAJORS = (5, 6, 9)
_VERSION = re.compile(r"(\d+)(?:\.\d+)?(?:-[A-Za-z]+)?")
_IMPORTER_GROUPS = (
    ("dependencies", DepType.PROD),
    ("devDependencies", DepType.DEV),
    ("optionalDependencies", DepType.OPTIONAL),
)
_GIT_ARCHIVE_HOSTS = ("https://codeload.github.com/", "https://gitlab.com/", "https://bitbucket.org/")

KeyPath = tuple[str, ...]
_NONE: dict[str, Any] = {}  # an absent field's mapping; only read, never changed


class _Malformed(Exception):
    """A structural problem found while interpreting the document, located by its key path."""

    def __init__(self, key_path: KeyPath, problem: str) -> None:
        super().__init__(problem)
        self.key_path = key_path
        self.problem = f"{_where(key_path)}: {problem}" if key_path else problem


@record_class(slots=True)
class _Dep:
    name: str
    reference: str
    type: DepType
    spec: str | None  # the importer's specifier or the peer range; None: derive from the target
    block: KeyPath  # the mapping that lists it; its own key path is (*block, name), made for errors only
    # What the reference resolves to, set once every entry is read: "entry" and the entry's key,
    # or "location" and the folder a link: points at.
    kind: str = ""
    target: str = ""


@record_class(slots=True)
class _Entry:
    key: str
    name: str
    version: str
    source: SourceKind
    resolved: str | None
    integrity: str | None
    deps: list[_Dep] = field(default_factory=list)


@record_class(slots=True)
class _Importer:
    location: str
    deps: list[_Dep]


def read(path: Path) -> Project:
    """Read a pnpm-lock.yaml (any supported lockfileVersion) into the package model."""
    path = Path(path)
    text = read_text(path)
    document, index = load_lockfile_document(path, text)
    try:
        return _build(path, document)
    except _Malformed as error:
        line = line_of(text, index, error.key_path) if error.key_path else None
        raise InputError(path, error.problem, line) from None


def _lockfile_major(document: dict[str, Any]) -> int:
    """The major lockfileVersion (5, 6 or 9), or _Malformed."""
    if "lockfileVersion" not in document:
        raise _Malformed((), "no lockfileVersion: not a pnpm lockfile")
    raw = document["lockfileVersion"]
    if not isinstance(raw, str):
        raise _Malformed(("lockfileVersion",), "lockfileVersion is not a version number")
    match = _VERSION.fullmatch(raw.strip())
    major = int(match.group(1)) if match else None
    if major not in SUPPORTED_MAJORS:
        raise _Malformed(("lockfileVersion",), f"unsupported lockfileVersion {raw!r} (supported: 5.x, 6.x, 9.0)")
    return major


def _build(path: Path, document: dict[str, Any]) -> Project:
    major = _lockfile_major(document)
    importers = _read_importers(document, _read_catalogs(document))
    entries = _read_entries(document, major)
    directory = path.parent

    importer_locations = {importer.location for importer in importers}
    links: dict[str, str] = {}  # location of a link target that is no importer -> the name used for it

    def resolve(dep: _Dep, base: str) -> None:
        if dep.reference.startswith("link:"):
            location = _join(base, dep.reference[len("link:") :])
            if location not in importer_locations:
                links.setdefault(location, dep.name)
            dep.kind, dep.target = "location", location
            return
        key = ref_to_key(dep.reference, dep.name, major)
        if key is None or key not in entries:
            table = "snapshots" if major >= 9 else "packages"
            raise _Malformed((*dep.block, dep.name), f"{dep.name} resolves to {key!r}, which has no entry in {table}")
        dep.kind, dep.target = "entry", key

    def requirements(deps: list[_Dep]) -> list[tuple[str, str]]:
        return [(dep.name, dep.target) for dep in deps if dep.kind == "entry"]

    for importer in importers:
        for dep in importer.deps:
            resolve(dep, importer.location)
    # Each entry's dependencies resolved, and its requirements for the layout collected in the same
    # pass. A reference is resolved once per dependency name: most packages are required by several.
    keys_of: dict[tuple[str, str], str | None] = {}
    entry_requirements: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for entry_key, entry in entries.items():
        required = []
        for dep in entry.deps:
            # resolve(dep, "") with its usual case inline: a reference to another entry.
            name, reference = dep.name, dep.reference
            said = (name, reference)
            key = keys_of.get(said, "")
            if key == "":
                key = keys_of[said] = None if reference.startswith("link:") else ref_to_key(reference, name, major)
            if key is not None and key in entries:
                dep.kind, dep.target = "entry", key
                required.append((name, key))
            else:
                resolve(dep, "")  # a link, or a reference to no entry (an error)
        entry_requirements[entry_key] = (entry.name, required)

    layout = synthesise_locations(
        [(importer.location, requirements(importer.deps)) for importer in importers],
        entry_requirements,
        taken=importer_locations | set(links),
    )

    # An entry's dependency on another entry is one Edge whoever depends: the same name, reference,
    # range and type lead to the same place. Edges are frozen, so one object serves every dependent.
    made: dict[tuple[str, str, str | None, DepType, str], Edge] = {}

    def edges(deps: list[_Dep]) -> tuple[Edge, ...]:
        found = []
        for dep in deps:
            target = dep.target
            if dep.kind == "location":
                found.append(Edge(dep.name, dep.spec or dep.reference, dep.type, target))
                continue
            said = (dep.name, dep.reference, dep.spec, dep.type, target)
            edge = made.get(said)
            if edge is None:
                spec = dep.spec or _spec_for(dep, entries[target])
                edge = made[said] = Edge(dep.name, spec, dep.type, layout[target])
            found.append(edge)
        return tuple(found)

    # Each node's fields, then each Node made once with its groups (group_flags reads the edges).
    fields: dict[str, tuple[str, str, SourceKind, str, str | None, str | None, tuple[Edge, ...]]] = {}
    manifests = {importer.location: _manifest(directory, importer.location) for importer in importers}
    members = [importer for importer in importers if importer.location != ""]
    for importer in importers:
        name, version = manifests[importer.location]
        own = list(edges(importer.deps))
        if importer.location == "":
            own += [
                Edge(manifests[member.location][0], f"file:{member.location}", DepType.PROD, member.location)
                for member in members
            ]
            if not importer.deps:  # the lock records nothing for the root: what package.json declares
                own = list(unlocked_root_edges(directory, tuple(own)))
        source = SourceKind.ROOT if importer.location == "" else SourceKind.WORKSPACE
        fields[importer.location] = (name, version, source, name, None, None, tuple(own))
    if "" not in fields:
        name, version = _manifest(directory, "")
        root_edges = tuple(
            Edge(manifests[member.location][0], f"file:{member.location}", DepType.PROD, member.location)
            for member in members
        )
        root_edges = unlocked_root_edges(directory, root_edges)  # no importer for the root: package.json's
        fields[""] = (name, version, SourceKind.ROOT, "", None, None, root_edges)
    for location, name in links.items():
        fields.setdefault(location, (name, "", SourceKind.LINK, name, None, None, ()))
    for key, entry in entries.items():
        location = layout[key]
        fields[location] = (
            entry.name,
            entry.version,
            entry.source,
            location.rsplit("node_modules/", 1)[-1],
            entry.resolved,
            entry.integrity,
            edges(entry.deps),
        )
    flags = group_flags({location: held[6] for location, held in fields.items()}, {})
    nodes = {}
    for location, (name, version, source, install_name, resolved, integrity, own_edges) in fields.items():
        dev, optional, dev_optional, peer = flags[location]
        nodes[location] = Node(
            location,
            name,
            version,
            source,
            install_name,
            resolved,
            integrity,
            dev,
            optional,
            dev_optional,
            peer,
            False,
            own_edges,
        )
    return Project(directory=directory, lockfile=path, lockfile_format=f"pnpm-v{major}", nodes=nodes)


def _read_catalogs(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Catalog name -> dependency name -> the range a ``catalog:`` specifier stands for (9.0)."""
    catalogs = {}
    for catalog, body in _mapping(document.get("catalogs"), ("catalogs",)).items():
        ranges = {}
        for name, item in _mapping(body, ("catalogs", catalog)).items():
            item = _mapping(item, ("catalogs", catalog, name))
            ranges[name] = _string(item.get("specifier"), ("catalogs", catalog, name, "specifier"), "specifier")
        catalogs[catalog] = ranges
    return catalogs


def _read_importers(document: dict[str, Any], catalogs: dict[str, dict[str, str]]) -> list[_Importer]:
    if "importers" in document:
        raw = _mapping(document["importers"], ("importers",))
        items: list[tuple[str, tuple[str, ...], Any]] = [
            (importer_id, ("importers", importer_id), value) for importer_id, value in raw.items()
        ]
    else:  # a single-project 5.x/6.x lockfile: the root's dependencies sit at the top level
        items = [(".", (), document)]
    importers = []
    for importer_id, where, value in items:
        body = _mapping(value, where)
        location = _importer_location(importer_id)
        specifiers = _string_map(body.get("specifiers"), (*where, "specifiers"))
        deps = []
        for group, dep_type in _IMPORTER_GROUPS:
            block_where = (*where, group)
            for name, item in _mapping(body.get(group), block_where).items():
                item_where = (*block_where, name)
                if isinstance(item, dict):  # 6.x / 9.0 (and 5.4-inlineSpecifiers): {specifier, version}
                    reference = _string(item.get("version"), (*item_where, "version"), "version")
                    spec = item.get("specifier")
                    if spec is not None and not isinstance(spec, str):
                        raise _Malformed((*item_where, "specifier"), "specifier is not a string")
                    if spec is not None and spec.startswith("catalog:"):  # the range the catalog holds
                        spec = catalogs.get(spec[len("catalog:") :] or "default", {}).get(name, spec)
                else:
                    reference = _string(item, item_where, "version")
                    spec = specifiers.get(name)
                deps.append(_Dep(name, reference, dep_type, spec, block_where))
        importers.append(_Importer(location, deps))
    importers.sort(key=lambda importer: importer.location != "")  # the root first, then the lockfile's order
    return importers


def _read_entries(document: dict[str, Any], major: int) -> dict[str, _Entry]:
    packages = _mapping(document.get("packages"), ("packages",))
    if major < 9:
        return {
            key: _entry(
                key,
                remove_suffix(key),
                _mapping(body, ("packages", key)),
                ("packages", key),
                None,
                ("packages", key),
                major,
            )
            for key, body in packages.items()
        }
    snapshots = _mapping(document.get("snapshots"), ("snapshots",))
    entries = {}
    for key, snapshot in snapshots.items():
        package_key = remove_suffix(key)
        if package_key not in packages:
            raise _Malformed(("snapshots", key), f"no entry {package_key!r} in packages")
        metadata = packages[package_key]
        if metadata.__class__ is not dict:
            metadata = _mapping(metadata, ("packages", package_key))
        entries[key] = _entry(
            key, package_key, metadata, ("packages", package_key), snapshot, ("snapshots", key), major
        )
    return entries


def _entry(
    key: str,
    package_key: str,
    metadata: dict[str, Any],
    meta_where: KeyPath,
    graph: Any,
    where: KeyPath,
    major: int,
) -> _Entry:
    """One node's data: ``metadata`` holds name/version/resolution/peers, ``graph`` (a 9.0 snapshot;
    None for 5.x/6.x, where one entry holds both) the dependencies; ``package_key`` is ``key``
    without its peer context and patch hash.

    Fields a package does not have (most have no peers, many no dependencies) are skipped before
    any check: the checks cost more than the rest of the entry."""
    if graph is None:
        graph = metadata
    elif graph.__class__ is not dict:
        graph = _mapping(graph, where)
    parts = parse_key(package_key, major)
    name = metadata.get("name")
    name = (None if name is None else _optional_string(name, meta_where, "name")) or parts.name
    if not name:
        raise _Malformed(where, f"cannot tell the package name of {key!r} (no name field)")
    version = metadata.get("version")
    version = (None if version is None else _optional_string(version, meta_where, "version")) or parts.version or ""
    resolution = metadata.get("resolution")
    if resolution.__class__ is not dict:
        resolution = _mapping(resolution, meta_where, "resolution")
    integrity = resolution.get("integrity") if len(resolution) == 1 else None
    if integrity.__class__ is str:  # nearly every entry: a registry package, {integrity: ...} alone
        source, resolved = SourceKind.REGISTRY, None
    else:
        source, resolved, integrity = _source(resolution, parts.version is not None, meta_where)
    if not version and source is SourceKind.REGISTRY:
        # A registry entry keyed by a version that is not semver ("bad@latest"): keep what the key
        # says, so the audit names it as not checked instead of passing over a versionless package.
        version = parts.spelled

    # Key paths are made only for an error message: building them per field was a tenth of the read.
    peers = metadata.get("peerDependencies")
    peers = _NONE if peers is None else _string_map(peers, meta_where, "peerDependencies")
    peers_meta = metadata.get("peerDependenciesMeta")
    peers_meta = _NONE if peers_meta is None else _mapping(peers_meta, meta_where, "peerDependenciesMeta")
    deps: list[_Dep] = []
    dependencies = graph.get("dependencies")
    if dependencies is not None:
        dependencies = _string_map(dependencies, where, "dependencies")
        block = (*where, "dependencies")
        for dep_name, reference in dependencies.items():
            dep_type, spec = DepType.PROD, None
            if dep_name in peers:
                optional = _mapping(peers_meta.get(dep_name), meta_where, "peerDependenciesMeta", dep_name)
                dep_type = DepType.PEER_OPTIONAL if optional.get("optional") == "true" else DepType.PEER
                spec = peers[dep_name]
            deps.append(_Dep(dep_name, reference, dep_type, spec, block))
    optional_dependencies = graph.get("optionalDependencies")
    if optional_dependencies is not None:
        optional_dependencies = _string_map(optional_dependencies, where, "optionalDependencies")
        block = (*where, "optionalDependencies")
        for dep_name, reference in optional_dependencies.items():
            deps.append(_Dep(dep_name, reference, DepType.OPTIONAL, None, block))
    return _Entry(key, name, version, source, resolved, integrity, deps)


def _source(
    resolution: dict[str, Any], registry_key: bool, meta_where: KeyPath
) -> tuple[SourceKind, str | None, str | None]:
    """Source kind, resolved location and integrity from the ``resolution`` mapping of the entry at
    ``meta_where``. (Nearly every entry's, ``{integrity: ...}`` alone, is read by :func:`_entry` inline.)"""
    where = (*meta_where, "resolution")
    integrity = _optional_string(resolution.get("integrity"), where, "integrity")
    kind = _optional_string(resolution.get("type"), where, "type")
    tarball = _optional_string(resolution.get("tarball"), where, "tarball")
    if kind == "directory":
        directory = _optional_string(resolution.get("directory"), (*where, "directory")) or ""
        return SourceKind.DIRECTORY, f"file:{directory}", integrity
    if kind == "git":
        repo = _string(resolution.get("repo"), (*where, "repo"), "repo")
        commit = _string(resolution.get("commit"), (*where, "commit"), "commit")
        return SourceKind.GIT, f"git+{repo}#{commit}", integrity
    if kind is not None:
        raise _Malformed((*where, "type"), f"unknown resolution type {kind!r}")
    if tarball is not None:
        if tarball.startswith("file:"):
            return SourceKind.LOCAL_TARBALL, tarball, integrity
        if resolution.get("gitHosted") == "true" or tarball.startswith(_GIT_ARCHIVE_HOSTS):
            return SourceKind.GIT, tarball, integrity
        return (SourceKind.REGISTRY if registry_key else SourceKind.TARBALL), tarball, integrity
    if integrity is None:
        raise _Malformed(where, "resolution has neither integrity, tarball nor type")
    return SourceKind.REGISTRY, None, integrity


def _spec_for(dep: _Dep, entry: _Entry) -> str:
    """An npm-style spec for a package's dependency on ``entry``, when pnpm kept no range."""
    if entry.source is SourceKind.REGISTRY and entry.version:
        return entry.version if entry.name == dep.name else f"npm:{entry.name}@{entry.version}"
    return dep.reference


def _manifest(directory: Path, location: str) -> tuple[str, str]:
    """Name and version of an importer from its package.json, else its folder's name and ""."""
    folder = directory / location if location else directory
    fallback = (folder.resolve().name if location == "" else posixpath.basename(location)), ""
    data = read_manifest(folder / "package.json")
    if data is None:
        return fallback
    name = data.get("name")
    version = data.get("version")
    return (
        name if isinstance(name, str) and name else fallback[0],
        version if isinstance(version, str) else "",
    )


def _importer_location(importer_id: str) -> str:
    location = posixpath.normpath(importer_id.replace("\\", "/"))
    return "" if location == "." else location


def _join(base: str, relative: str) -> str:
    location = posixpath.normpath(posixpath.join(base, relative.replace("\\", "/")) if base else relative)
    return "" if location == "." else location


# The checks below name the value's key path as ``where`` followed by ``tail``: the path is joined
# only when the check fails.


def _mapping(value: Any, where: KeyPath, *tail: str) -> dict[str, Any]:
    if value.__class__ is dict:
        return value
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise _Malformed((*where, *tail), f"expected a mapping, found {_describe(value)}")
    return value


def _string_map(value: Any, where: KeyPath, *tail: str) -> dict[str, str]:
    mapping = value if value.__class__ is dict else _mapping(value, where, *tail)
    for key, item in mapping.items():
        if not isinstance(item, str) or not item:
            raise _Malformed((*where, *tail, key), f"expected a version string, found {_describe(item)}")
    return mapping


def _string(value: Any, where: KeyPath, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Malformed(where, f"expected a {what} string, found {_describe(value)}")
    return value


def _optional_string(value: Any, where: KeyPath, *tail: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Malformed((*where, *tail), f"expected a string, found {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    if value is None or value == "":
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value) if len(repr(value)) <= 40 else "a long string"


_FIELDS = frozenset(
    {
        "lockfileVersion", "importers", "packages", "snapshots", "catalogs", "specifiers", "dependencies",
        "devDependencies", "optionalDependencies", "peerDependencies", "peerDependenciesMeta", "specifier",
        "version", "name", "resolution", "integrity", "tarball", "type", "repo", "commit", "directory",
    }
)  # fmt: skip


def _where(key_path: KeyPath) -> str:
    """``packages['/a/1.0.0'].dependencies['b']``: fields as attributes, names and keys quoted."""
    head, *rest = key_path
    return head + "".join(f".{part}" if part in _FIELDS else f"[{part!r}]" for part in rest)
