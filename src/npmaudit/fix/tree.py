"""A mutable install tree for planning a fix: nodes by location, resolved the way node resolves.

Built from the package model (:class:`~npmaudit.project.model.Project`), it keeps what a fix
needs to change: a node's version, its declared dependencies, and which nodes exist where. Edges
are not stored resolved: a dependency ``x`` of the node at ``L`` is whatever ``L/node_modules/x``,
then ``<parent of L>/node_modules/x``, ... up to the root's ``node_modules/x`` holds *now*, so
placing, replacing or removing a node changes what every dependent sees, as it would on disk.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from npmaudit import semver
from npmaudit.project.depflags import compute_dep_flags
from npmaudit.project.model import DepType, Edge, Node, Project, SourceKind
from npmaudit.project.readers.npm.spec import SpecType, alias_target, spec_type
from npmaudit.records import field, record_class, replace


@record_class(frozen=True, slots=True)
class Dep:
    """A dependency as declared: the name required (an alias's own name), spec and kind."""

    name: str
    spec: str
    type: DepType


@record_class(frozen=True, slots=True)
class TreeNode:
    location: str
    name: str  # the real package name
    version: str
    source: SourceKind
    deps: tuple[Dep, ...] = ()
    in_bundle: bool = False
    link_target: str | None = None
    dev: bool = False
    optional: bool = False
    dev_optional: bool = False
    peer: bool = False
    manifest: Mapping[str, Any] | None = field(default=None, compare=False)
    """The registry manifest a changed or added node is written from; None for untouched nodes."""

    @property
    def install_name(self) -> str:
        return install_name(self.location)

    @property
    def is_registry(self) -> bool:
        return self.source is SourceKind.REGISTRY and self.link_target is None

    def dep(self, name: str) -> Dep | None:
        for dep in self.deps:
            if dep.name == name:
                return dep
        return None


def install_name(location: str) -> str:
    parts = location.split("/")
    if len(parts) >= 2 and parts[-2].startswith("@"):
        return f"{parts[-2]}/{parts[-1]}"
    return parts[-1]


def child_location(parent: str, name: str) -> str:
    return f"{parent}/node_modules/{name}" if parent else f"node_modules/{name}"


def under_node_modules(location: str) -> bool:
    return location.startswith("node_modules/") or "/node_modules/" in location


def registry_spec(spec: str) -> tuple[str | None, str] | None:
    """(aliased real name or None, range) for a spec the registry serves; None for git, files, URLs."""
    kind = spec_type(spec)
    if kind is SpecType.ALIAS:
        real, sub = alias_target(spec)
        return real, sub or "*"
    if kind in (SpecType.VERSION, SpecType.RANGE):
        return None, spec.strip() or "*"
    if kind is SpecType.TAG:
        return None, spec.strip()
    return None


def spec_allows(spec: str, name: str, version: str) -> bool:
    """arborist's dep-valid for a registry package ``name@version`` against a registry spec."""
    parsed = registry_spec(spec)
    if parsed is None:
        return False
    real, wanted = parsed
    if real is not None and real != name:
        return False
    if spec_type(wanted) is SpecType.TAG:
        return True  # npm accepts any registry resolution for a tag
    if wanted == "*":
        return True
    return semver.satisfies(version, wanted, loose=True)


class Tree:
    def __init__(self, nodes: Mapping[str, TreeNode]) -> None:
        self.nodes: dict[str, TreeNode] = dict(nodes)
        self._by_dep: dict[str, set[str]] | None = None

    @classmethod
    def from_project(cls, project: Project) -> Tree:
        nodes = {}
        for node in project.nodes.values():
            deps = tuple(Dep(edge.name, edge.spec, edge.type) for edge in node.edges)
            nodes[node.location] = TreeNode(
                location=node.location,
                name=node.name,
                version=node.version,
                source=node.source,
                deps=deps,
                in_bundle=node.in_bundle,
                link_target=node.link_target,
                dev=node.dev,
                optional=node.optional,
                dev_optional=node.dev_optional,
                peer=node.peer,
            )
        return cls(nodes)

    # -- changes -----------------------------------------------------------------------------

    def copy(self) -> Tree:
        return Tree(self.nodes)

    def restore(self, saved: Tree) -> None:
        self.nodes = dict(saved.nodes)
        self._by_dep = None

    def put(self, node: TreeNode) -> None:
        self.nodes[node.location] = node
        self._by_dep = None

    def remove(self, location: str) -> None:
        del self.nodes[location]
        self._by_dep = None

    # -- resolution --------------------------------------------------------------------------

    def parent(self, location: str) -> str | None:
        """The node a location resolves through next: its parent package, else the root."""
        if location == "":
            return None
        parts = location.split("/")
        for end in range(len(parts) - 1, 0, -1):
            prefix = "/".join(parts[:end])
            node = self.nodes.get(prefix)
            if node is not None and node.link_target is None:
                return prefix
        if location.startswith("../") or location.startswith("/"):
            return None
        return ""

    def chain(self, location: str) -> Iterator[str]:
        """``location`` and every node it resolves through, up to the root."""
        current: str | None = location
        while current is not None:
            yield current
            current = self.parent(current)

    def resolve(self, location: str, name: str) -> str | None:
        for level in self.chain(location):
            candidate = child_location(level, name)
            if candidate in self.nodes:
                return candidate
        return None

    def target(self, location: str) -> TreeNode:
        """A link's target node, or the node itself."""
        node = self.nodes[location]
        if node.link_target is not None and node.link_target in self.nodes:
            return self.nodes[node.link_target]
        return node

    def dependents_named(self, name: str) -> set[str]:
        """Locations of the nodes declaring a dependency called ``name``."""
        if self._by_dep is None:
            index: dict[str, set[str]] = {}
            for node in self.nodes.values():
                for dep in node.deps:
                    index.setdefault(dep.name, set()).add(node.location)
            self._by_dep = index
        return self._by_dep.get(name, set())

    def incoming(self, location: str) -> list[tuple[str, Dep]]:
        """Every (dependent location, dependency) that resolves to ``location``, in location order."""
        name = install_name(location)
        found = []
        for source in sorted(self.dependents_named(name)):
            if self.resolve(source, name) == location:
                dep = self.nodes[source].dep(name)
                if dep is not None:
                    found.append((source, dep))
        return found

    def is_top(self, location: str) -> bool:
        """The root and the project's own folders (workspaces): never placed, never removed."""
        node = self.nodes.get(location)
        return node is not None and node.link_target is None and not under_node_modules(location)

    # -- reachability and flags ---------------------------------------------------------------

    def reachable(self) -> set[str]:
        """Locations reachable from the root and the project's folders through resolved edges."""
        seen: set[str] = set()
        stack = [location for location in self.nodes if self.is_top(location)]
        while stack:
            location = stack.pop()
            if location in seen:
                continue
            seen.add(location)
            node = self.nodes[location]
            if node.link_target is not None:
                if node.link_target in self.nodes:
                    stack.append(node.link_target)
                continue
            for dep in node.deps:
                to = self.resolve(location, dep.name)
                if to is not None and to not in seen:
                    stack.append(to)
        return seen

    def to_nodes(self) -> dict[str, Node]:
        """The package model's nodes (edges resolved now), e.g. for computing flags."""
        nodes = {}
        for location, node in self.nodes.items():
            edges = tuple(Edge(d.name, d.spec, d.type, self.resolve(location, d.name)) for d in node.deps)
            nodes[location] = Node(
                location=location,
                name=node.name,
                version=node.version,
                source=node.source,
                install_name=install_name(location) if location else node.name,
                dev=node.dev,
                optional=node.optional,
                dev_optional=node.dev_optional,
                peer=node.peer,
                in_bundle=node.in_bundle,
                edges=edges if node.link_target is None else (),
                link_target=node.link_target,
            )
        return nodes

    def computed_flags(self) -> dict[str, tuple[bool, bool, bool, bool]]:
        """(dev, optional, devOptional, peer) of every node, from the edges as npm computes them."""
        flagged = compute_dep_flags(self.to_nodes())
        return {loc: (n.dev, n.optional, n.dev_optional, n.peer) for loc, n in flagged.items()}

    def with_flags(self, location: str, flags: tuple[bool, bool, bool, bool]) -> None:
        dev, optional, dev_optional, peer = flags
        self.put(replace(self.nodes[location], dev=dev, optional=optional, dev_optional=dev_optional, peer=peer))
