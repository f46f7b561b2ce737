"""Turn a yarn lockfile's flat entries into npm-shaped nodes with locations, edges and groups.

yarn.lock (classic or berry) is a flat list of resolved packages; it has no install paths and no
dependency groups. Both formats are first read into a :class:`LockGraph` (importers = the root and
workspace members, packages = lock entries, each with its dependencies already resolved to the entry
they lead to), and this module gives every package an npm-shaped location:

* the root is ``""``; a workspace member sits at its folder (``packages/foo``) and, as npm installs
  it, a link to it at ``node_modules/<its name>``;
* one lock entry reached under one install name is one node (an entry reached under an alias and
  under its real name, ``string-width-cjs`` and ``string-width``, is two nodes, as in npm);
* the root depends on every workspace member (npm's workspace edges) and on what its package.json
  names; when that is a registry package of a member's name (babel's root wants the published
  ``@babel/cli``), both edges are kept, and the registry copy, which cannot have the member's
  ``node_modules/<name>``, is placed at ``node_modules/<name>@<version>``;
* for each install name one node is hoisted to ``node_modules/<name>``: a workspace of that name,
  else the entry the root depends on, else the one the first workspace depends on, else the one
  the most entries depend on (then the first in the lockfile). Every other entry of that name is
  nested under the first dependent that reaches it in a breadth-first walk from the root and the
  workspaces: ``<dependent's location>/node_modules/<name>``;
* an entry nothing reaches is either stale (yarn keeps some unused entries; it will not install
  them) or needed by a workspace whose package.json is not here. When the reader had every manifest
  (``LockGraph.complete``) it is stale: it is kept as an extraneous node (npm's reading of an
  extraneous package: in every group, so ``--omit dev`` drops it). When manifests are missing it is
  made a production dependency of the root, so it is audited rather than hidden.

Peer dependencies are resolved as yarn provides them: by the dependency of that name of the package
the dependent was placed under (its first dependent), else, like dependencies no lock key matches,
the way node does, by walking up from the dependent's location (a peer from the dependent's parent). Groups
then come from :func:`~npmaudit.project.depflags.group_flags`, npm's own rule.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Container
from pathlib import Path

from npmaudit.project.depflags import group_flags
from npmaudit.project.model import DepType, Edge, Node, Project, SourceKind
from npmaudit.records import field, record_class

# A node's fields before it is made: name, version, source, install name, resolved, integrity, link target.
_Fields = tuple[str, str, SourceKind, str, str | None, str | None, str | None]

PEER_TYPES = frozenset((DepType.PEER, DepType.PEER_OPTIONAL))


@record_class(slots=True)
class Dep:
    """A dependency as the dependent declares it; ``target`` is the id of what it resolves to."""

    name: str
    spec: str
    type: DepType
    target: str | None = None


@record_class(slots=True)
class LockPackage:
    """One resolved lock entry (a berry patch and the entry it patches are one package)."""

    id: str
    name: str
    version: str
    source: SourceKind
    resolved: str | None = None
    integrity: str | None = None
    deps: list[Dep] = field(default_factory=list)
    install_name: str = ""  # the name its first lock key uses (the alias, for an alias entry)


@record_class(slots=True)
class Importer:
    """The root (path ``""``) or a workspace member: the projects whose manifests name dependencies."""

    id: str
    path: str
    name: str
    version: str
    deps: list[Dep] = field(default_factory=list)


@record_class(slots=True)
class LockGraph:
    importers: list[Importer]  # the root first
    packages: dict[str, LockPackage]  # in lockfile order
    complete: bool = True  # every manifest that names dependencies was read


def build_project(directory: Path, lockfile: Path, lockfile_format: str, graph: LockGraph) -> Project:
    """Place every package, wire the edges, and compute npm's dependency groups."""
    return _Builder(graph).project(directory, lockfile, lockfile_format)


class _Builder:
    def __init__(self, graph: LockGraph) -> None:
        self.graph = graph
        self.importers = {importer.id: importer for importer in graph.importers}
        self.root = graph.importers[0]
        self.placed: dict[tuple[str, str], str] = {}  # (package id, install name) -> location
        # (package, install name, location) of every placement, in the order they were made: the nodes are
        # built from this list, without looking each package up again by its id.
        self.placements: list[tuple[LockPackage, str, str]] = []
        self.placed_ids: set[str] = set()
        self.placed_by: dict[str, str] = {}  # location -> location of the dependent it was placed from
        self.taken: set[str] = set()
        self.workspace_at: dict[str, str] = {}  # importer id -> the location edges to it lead to
        self.hoisted: dict[str, tuple[str, str]] = {}  # install name -> the node that owns node_modules/<name>
        self.edges_made: dict[tuple[str, str, DepType, str | None], Edge] = {}

    def project(self, directory: Path, lockfile: Path, lockfile_format: str) -> Project:
        self._place_workspaces()
        if not self.graph.complete:
            self._attach_orphans(self._untargeted())
        self._choose_hoisted()
        queue: deque[tuple[Importer | LockPackage, str]] = deque()  # nodes whose dependencies are to place
        for importer in self.graph.importers:
            queue.append((importer, importer.path))
        self._walk(queue)
        # What is left is reached by nothing placed (stale entries, or cycles of them): place each from the
        # top, as extraneous, or as a root dependency when manifests were missing.
        for package in self.graph.packages.values():
            if package.id not in self.placed_ids:
                dep = Dep(package.install_name or package.name, package.version, DepType.PROD, package.id)
                if not self.graph.complete:
                    self.root.deps.append(dep)
                queue.append((self.root, ""))
                self._walk(queue, only=dep)
        return Project(directory, lockfile, lockfile_format, self._nodes())

    def _place_workspaces(self) -> None:
        names: dict[str, int] = {}
        for importer in self.graph.importers[1:]:
            names[importer.name] = names.get(importer.name, 0) + 1
        for importer in self.graph.importers:
            self.taken.add(importer.path)
            self.workspace_at[importer.id] = importer.path
        for importer in self.graph.importers[1:]:
            link = f"node_modules/{importer.name}"
            if importer.name and names[importer.name] == 1 and link not in self.taken:
                self.taken.add(link)
                self.workspace_at[importer.id] = link

    def _untargeted(self) -> list[LockPackage]:
        targeted = set()
        holders: list[Importer | LockPackage] = [*self.graph.importers, *self.graph.packages.values()]
        for holder in holders:
            for dep in holder.deps:
                if dep.target is not None and dep.target != holder.id:
                    targeted.add(dep.target)
        return [package for package in self.graph.packages.values() if package.id not in targeted]

    def _attach_orphans(self, orphans: list[LockPackage]) -> None:
        for package in orphans:
            name = package.install_name or package.name
            self.root.deps.append(Dep(name, package.version, DepType.PROD, package.id))

    def _choose_hoisted(self) -> None:
        """Pick, for each install name, the node that gets ``node_modules/<name>``."""
        packages, hoisted = self.graph.packages, self.hoisted
        for importer in self.graph.importers:
            for dep in importer.deps:
                if dep.target in packages and dep.name not in hoisted:
                    hoisted[dep.name] = (dep.target, dep.name)
        # Counted in C, targets that are no package (a workspace, nothing) included: each distinct pair
        # is then looked up once, not each dependency (a large tree's tables do not fit the CPU's caches).
        counts = Counter([(dep.target, dep.name) for package in packages.values() for dep in package.deps])
        order = {pid: index for index, pid in enumerate(packages)}
        best: dict[str, tuple[int, int, tuple[str, str]]] = {}
        for (target, name), count in counts.items():
            index = order.get(target) if target is not None else None
            if target is None or index is None:
                continue
            rank = (-count, index, (target, name))
            if name not in best or rank < best[name]:
                best[name] = rank
        for name, (_, _, key) in best.items():
            self.hoisted.setdefault(name, key)
        for name in list(self.hoisted):
            if f"node_modules/{name}" in self.taken:  # a workspace owns the slot
                del self.hoisted[name]

    def _walk(self, queue: deque[tuple[Importer | LockPackage, str]], only: Dep | None = None) -> None:
        first = True
        packages, placed, placements = self.graph.packages, self.placed, self.placements  # looked up once per walk
        placed_by, placed_ids, taken, slot = self.placed_by, self.placed_ids, self.taken, self._slot
        while queue:
            holder, location = queue.popleft()
            deps = [only] if first and only is not None else holder.deps
            first = False
            for dep in deps:
                target = dep.target
                if target is None:
                    continue
                key = (target, dep.name)
                if key in placed:
                    continue
                package = packages.get(target)
                if package is None:
                    continue
                where = slot(key, location)
                placed[key] = where
                placements.append((package, key[1], where))
                placed_by[where] = location
                placed_ids.add(target)
                taken.add(where)
                queue.append((package, where))

    def _slot(self, key: tuple[str, str], parent: str) -> str:
        name = key[1]
        top = f"node_modules/{name}"
        if self.hoisted.get(name) == key and top not in self.taken:
            return top
        where = f"{parent}/node_modules/{name}" if parent else top
        if where in self.taken and not parent:
            # The root's own slot is held (by a workspace of the same name, or another entry): npm could not
            # install both, yarn can. Name the folder by version so the location stays unique and readable.
            version = self.graph.packages[key[0]].version
            where = f"node_modules/{name}@{version}"
        base = where
        suffix = 1
        while where in self.taken:  # an alias and its real name in one folder; keep locations unique
            suffix += 1
            where = f"{base}~{suffix}"
        return where

    def _nodes(self) -> dict[str, Node]:
        # Every node's fields first, then its edges, then each Node made once with its edges and groups:
        # edges walk up the whole tree (which needs every location), groups follow the edges, and
        # rebuilding frozen nodes cost a tenth of the read. The rows are sorted by location once, and
        # every later table is written and read in that order: a 100k-package tree's tables are far
        # larger than the CPU's caches, where each lookup in another order than the table was written
        # in is a miss.
        rows: list[tuple[str, _Fields, list[Dep] | None]] = []  # (location, fields, deps or None)
        holder_at: dict[str, Importer | LockPackage] = {}
        self.holder_at = holder_at
        for importer in self.graph.importers:
            source = SourceKind.ROOT if importer.path == "" else SourceKind.WORKSPACE
            own: _Fields = (importer.name, importer.version, source, importer.name, None, None, None)
            rows.append((importer.path, own, importer.deps))
            holder_at[importer.path] = importer
            link = self.workspace_at[importer.id]
            if link != importer.path:
                link_fields: _Fields = (
                    importer.name,
                    importer.version,
                    SourceKind.WORKSPACE,
                    importer.name,
                    f"file:{importer.path}",
                    None,
                    importer.path,
                )
                rows.append((link, link_fields, None))
        for package, install_name, location in self.placements:
            fields: _Fields = (
                package.name,
                package.version,
                package.source,
                install_name,
                package.resolved,
                package.integrity,
                None,
            )
            rows.append((location, fields, package.deps))
            holder_at[location] = package
        rows.sort(key=_row_location)  # locations are unique: the other items are never compared
        known = {row[0] for row in rows}
        edges = self._edges
        edges_at = {location: edges(deps, location, known) if deps is not None else () for location, _, deps in rows}
        links = {location: fields[6] for location, fields, _ in rows if fields[6] is not None}
        flags = group_flags(edges_at, links)
        nodes: dict[str, Node] = {}
        for location, fields, _ in rows:
            name, version, source, install_name, resolved, integrity, link_target = fields
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
                edges_at[location],
                link_target,
            )
        return nodes

    def _provided(self, parent: str, name: str) -> str | None:
        """Where the package at ``parent`` gets its own dependency ``name`` (yarn's peer provision)."""
        holder = self.holder_at.get(parent)
        dep = _declared(holder, name) if holder is not None else None
        if dep is None or dep.target is None:
            return None
        return self.placed.get((dep.target, dep.name)) or self.workspace_at.get(dep.target)

    def _edges(self, deps: list[Dep], location: str, nodes: Container[str]) -> tuple[Edge, ...]:
        edges = []
        placed, made, workspace_at = self.placed, self.edges_made, self.workspace_at
        for dep in deps:
            to: str | None = None
            target = dep.target
            if target is not None:
                to = placed.get((target, dep.name)) or workspace_at.get(target)
            if to is None:  # nothing placed for it: a peer is provided by its dependent, or found upwards
                peer = dep.type in PEER_TYPES
                if peer and location in self.placed_by:
                    to = self._provided(self.placed_by[location], dep.name)
                if to is None:
                    to = _walk_up(nodes, _parent(location) if peer else location, dep.name)
            # Edges are frozen: the dependents of one hoisted package under one range share one Edge.
            said = (dep.name, dep.spec, dep.type, to)
            edge = made.get(said)
            if edge is None:
                edge = made[said] = Edge(dep.name, dep.spec, dep.type, to)
            edges.append(edge)
        return tuple(edges)


def _row_location(row: tuple[str, _Fields, list[Dep] | None]) -> str:
    return row[0]


def _declared(holder: Importer | LockPackage, name: str) -> Dep | None:
    for dep in holder.deps:
        if dep.name == name and dep.type not in PEER_TYPES:
            return dep
    return None


def _parent(location: str) -> str | None:
    """The location node resolution continues from after ``location``; None above the root."""
    if location == "":
        return None
    cut = location.rfind("/node_modules/")
    if cut >= 0:
        return location[:cut]
    return ""


def _walk_up(nodes: Container[str], start: str | None, name: str) -> str | None:
    current = start
    while current is not None:
        candidate = f"{current}/node_modules/{name}" if current else f"node_modules/{name}"
        if candidate in nodes:
            return candidate
        current = _parent(current)
    return None
