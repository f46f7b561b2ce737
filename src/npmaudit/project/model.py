"""One package model for every lockfile format.

A project is a tree of *nodes* keyed by their install location, as npm's arborist sees it:
``""`` is the root, ``node_modules/a/node_modules/b`` a nested install, ``packages/w`` a workspace
folder. Formats without install paths (pnpm, yarn berry, bun) synthesise locations with the same
shape so reports read alike whatever the lockfile.

Every node records where it came from (:class:`SourceKind`): only registry packages are matched
against registry advisories, because a workspace or a local folder that happens to share a name
with a removed malicious registry package is not that package (osv-scanner#2881).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class SourceKind(StrEnum):
    ROOT = "root"
    REGISTRY = "registry"
    GIT = "git"
    TARBALL = "tarball"  # a remote tarball URL that is not the registry's
    DIRECTORY = "directory"  # file: folders and local tarballs
    LINK = "link"  # a symlink to a folder outside the tree (npm link, yarn portal:/link:, pnpm link:)
    WORKSPACE = "workspace"  # a workspace member of this project, or a link to one


class DepType(StrEnum):
    """The kind of a dependency edge, named as npm names them."""

    PROD = "prod"
    DEV = "dev"
    OPTIONAL = "optional"
    PEER = "peer"
    PEER_OPTIONAL = "peerOptional"


@dataclass(frozen=True, slots=True)
class Edge:
    """A dependency as its dependent declares it.

    ``name`` is the name the dependent requires (for an alias ``"x": "npm:real@^1"`` it is ``x``);
    ``to`` is the location of the node it resolves to, or None when nothing in the tree satisfies it
    (an optional or peer dependency that was not installed).
    """

    name: str
    spec: str
    type: DepType
    to: str | None


@dataclass(frozen=True, slots=True)
class Node:
    """One installed package at one location.

    ``name`` is the real package name (aliases resolved); ``install_name`` the folder name it is
    installed under, which differs only for aliases. ``version`` is "" when the lockfile gives none;
    such a node is never matched against advisories (a missing version is not "affected").
    The group flags follow npm's arborist: a node is ``dev`` when only dev edges lead to it,
    ``optional`` when only optional ones do, ``dev_optional`` when it is needed by both kinds but by
    no production edge, ``peer`` when it is only reachable through peer edges.
    """

    location: str
    name: str
    version: str
    source: SourceKind
    install_name: str = ""
    resolved: str | None = None
    integrity: str | None = None
    dev: bool = False
    optional: bool = False
    dev_optional: bool = False
    peer: bool = False
    in_bundle: bool = False
    edges: tuple[Edge, ...] = ()
    link_target: str | None = None

    @property
    def is_root(self) -> bool:
        return self.source is SourceKind.ROOT

    @property
    def is_registry(self) -> bool:
        return self.source is SourceKind.REGISTRY

    @property
    def groups(self) -> frozenset[str]:
        """The dependency groups this node belongs to; empty means production."""
        found = set()
        if self.dev:
            found.add("dev")
        if self.optional:
            found.add("optional")
        if self.dev_optional:
            found.add("devOptional")
        if self.peer:
            found.add("peer")
        return frozenset(found)

    def omitted_by(self, omit: frozenset[str]) -> bool:
        """Whether ``--omit`` leaves this node out, with npm's rules (shouldOmit)."""
        return (
            (self.dev and "dev" in omit)
            or (self.optional and "optional" in omit)
            or (self.dev_optional and "dev" in omit and "optional" in omit)
            or (self.peer and "peer" in omit)
        )


@dataclass(frozen=True, slots=True, order=True)
class PackageRef:
    """A package identity across install locations."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class Project:
    """What a lockfile (or an installed node_modules) says is installed.

    ``nodes`` maps location to node and always holds the root at ``""``. ``lockfile_format`` names
    the reader that produced it (``package-lock-v3``, ``yarn-v1``, ``pnpm-v9``, ...).
    """

    directory: Path
    lockfile: Path
    lockfile_format: str
    nodes: Mapping[str, Node]
    _dependents: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _chains: dict[str, tuple[Node, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def root(self) -> Node:
        return self.nodes[""]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def packages(self) -> Iterator[Node]:
        """Every node but the root."""
        return (node for node in self.nodes.values() if not node.is_root)

    def auditable(self, omit: frozenset[str] = frozenset()) -> Iterator[Node]:
        """Nodes that registry advisories apply to: registry-sourced, versioned, not omitted."""
        for node in self.nodes.values():
            if node.is_registry and node.version and not node.omitted_by(omit):
                yield node

    def is_top(self, location: str) -> bool:
        """True for the root and for workspace members (npm's 'top' nodes)."""
        node = self.nodes.get(location)
        return node is not None and node.source in (SourceKind.ROOT, SourceKind.WORKSPACE) and not (node.link_target)

    def dependents(self, location: str) -> list[str]:
        """Locations of the nodes with an edge resolving to ``location``."""
        if not self._dependents:
            index: dict[str, list[str]] = {}
            for node in self.nodes.values():
                for edge in node.edges:
                    if edge.to is not None:
                        index.setdefault(edge.to, []).append(node.location)
                if node.link_target is not None:
                    index.setdefault(node.link_target, []).append(node.location)
            self._dependents.update(index)
        return self._dependents.get(location, [])

    def chain(self, location: str) -> tuple[Node, ...]:
        """A shortest chain of dependents from the root to ``location`` ("why is it here").

        The chain starts at the root and ends at the node itself. A node nothing leads to (an
        extraneous entry) gets a chain of just itself.
        """
        if location not in self.nodes:
            raise KeyError(location)
        # Every finding on a package asks again for the same nodes: the search runs once per location.
        cached = self._chains.get(location)
        if cached is None:
            cached = self._chains[location] = self._shortest_chain(location)
        return cached

    def _shortest_chain(self, location: str) -> tuple[Node, ...]:
        previous: dict[str, str | None] = {location: None}
        queue = deque([location])
        while queue:
            current = queue.popleft()
            if current == "":
                break
            for parent in sorted(self.dependents(current)):
                if parent not in previous:
                    previous[parent] = current
                    queue.append(parent)
        if "" not in previous:
            return (self.nodes[location],)
        chain = []
        step: str | None = ""
        while step is not None:
            chain.append(self.nodes[step])
            step = previous[step]
        return tuple(chain)
