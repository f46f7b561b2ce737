"""One package model for every lockfile format.

A project is a tree of *nodes* keyed by their install location, as npm's arborist sees it:
``""`` is the root, ``node_modules/a/node_modules/b`` a nested install, ``packages/w`` a workspace
folder. Formats without install paths (pnpm, yarn berry, bun) synthesise locations with the same
shape so reports read alike whatever the lockfile.

Every node records where it came from (:class:`SourceKind`). Published packages are matched
against advisories by name and version: registry packages, and tarballs (a vendored
``file:vendor/x-1.2.3.tgz`` is almost always a copy of a registry release; npm audits it too).
The project's own code (workspaces, folders, links) and git checkouts are not: a workspace or a
local folder that happens to share a name with a removed malicious registry package is not that
package (osv-scanner#2881). A published package whose version is missing or not semver cannot be
matched either, and says so (:func:`version_problem`): the audit must not count it as checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from enum import StrEnum
from pathlib import Path

from npmaudit import semver
from npmaudit.lazy_pattern import LazyPattern
from npmaudit.records import field, record_class
from npmaudit.runtime_typing import NamedTuple


class SourceKind(StrEnum):
    ROOT = "root"
    REGISTRY = "registry"
    GIT = "git"
    TARBALL = "tarball"  # a remote tarball URL that is not the registry's
    LOCAL_TARBALL = "local-tarball"  # a file: tarball (``file:vendor/x-1.2.3.tgz``)
    DIRECTORY = "directory"  # a file: folder
    LINK = "link"  # a symlink to a folder outside the tree (npm link, yarn portal:/link:, pnpm link:)
    WORKSPACE = "workspace"  # a workspace member of this project, or a link to one


# Sources whose packages are matched against advisories by name and version.
MATCHED_SOURCES = frozenset({SourceKind.REGISTRY, SourceKind.TARBALL, SourceKind.LOCAL_TARBALL})

# What a report says of a matched package that did not come from the registry: its name and
# version are only what the tarball claims.
PROVENANCE = {
    SourceKind.TARBALL: "remote tarball: provenance unknown",
    SourceKind.LOCAL_TARBALL: "local tarball: provenance unknown",
}

# Why a package of each other source is never matched (listed as "not checked").
_UNMATCHED_REASONS = {
    SourceKind.WORKSPACE: "a workspace of this project (the project's own code)",
    SourceKind.DIRECTORY: "a local folder (the project's own code)",
    SourceKind.LINK: "a link to a folder (the project's own code)",
    SourceKind.GIT: "installed from git (advisories name published versions)",
}


_TARBALL_SUFFIX = LazyPattern(r"\.(?:tgz|tar\.gz|tar)$", re.IGNORECASE)


def local_source(path: str) -> SourceKind:
    """A ``file:`` dependency's kind: a tarball by its name (npm-package-arg's rule), else a folder."""
    return SourceKind.LOCAL_TARBALL if _TARBALL_SUFFIX.search(path.split("#", 1)[0]) else SourceKind.DIRECTORY


class DepType(StrEnum):
    """The kind of a dependency edge, named as npm names them."""

    PROD = "prod"
    DEV = "dev"
    OPTIONAL = "optional"
    PEER = "peer"
    PEER_OPTIONAL = "peerOptional"


@record_class(frozen=True, slots=True)
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


@record_class(frozen=True, slots=True)
class Node:
    """One installed package at one location.

    ``name`` is the real package name (aliases resolved); ``install_name`` the folder name it is
    installed under, which differs only for aliases. ``version`` is "" when the lockfile gives none;
    such a node is never matched against advisories (a missing version is not "affected"), and a
    published one is reported as not checked (:func:`version_problem`).
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
    def is_matched_by_version(self) -> bool:
        """A published package (registry or tarball): advisories about its name and version apply."""
        return self.source in MATCHED_SOURCES

    @property
    def provenance(self) -> str | None:
        """For a matched package that did not come from the registry, what a report must say of it."""
        return PROVENANCE.get(self.source)

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


@record_class(frozen=True, slots=True, order=True)
class PackageRef:
    """A package identity across install locations."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


class ChainStep(NamedTuple):
    """One step of a "why" chain: a package and the name its dependent requires it by.

    ``installed_as`` is the folder name under ``node_modules`` when it differs from the package's
    real name (an ``npm:`` alias such as ``old-lodash`` for lodash), else "". (A named tuple: reports
    build one per step of every chain they print.)
    """

    node: Node
    installed_as: str = ""


@record_class(frozen=True)
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
    _why: dict[str, tuple[ChainStep, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _steps: dict[str, ChainStep] = field(default_factory=dict, init=False, repr=False, compare=False)
    _parents: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def root(self) -> Node:
        return self.nodes[""]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def packages(self) -> Iterator[Node]:
        """Every node but the root."""
        return (node for node in self.nodes.values() if not node.is_root)

    def auditable(self, omit: frozenset[str] = frozenset()) -> Iterator[Node]:
        """Nodes that advisories are matched against: published (registry or tarball), with a
        valid version, not omitted."""
        for node in self.nodes.values():
            if node.is_matched_by_version and not node.omitted_by(omit) and version_problem(node) is None:
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

    def why(self, location: str) -> tuple[ChainStep, ...]:
        """:meth:`chain` as a reader should see it: packages, not the links that install them.

        A link followed by its own target (``node_modules/@acme/web`` -> ``packages/web``, a
        workspace or ``file:`` folder) is one package: it shows once, as the target, so a chain
        never names the same package twice in a row. Each step keeps the name its dependent
        requires it by when that is an alias (from the link, for a linked folder).
        """
        cached = self._why.get(location)
        if cached is None:
            cached = self._why[location] = _fold_links(self.chain(location), self._steps)
        return cached

    def released(self, keep: Iterable[str], reload: Callable[[], Project]) -> Project:
        """This project as a report of its audit reads it, without the rest of its graph.

        The nodes at ``keep`` (a finding's install locations), their "why" chains and the root are
        kept, with the number of nodes; anything else (another node, iterating every node) reads
        the lockfile again through ``reload``. A ``-r`` scan keeps this instead of each project's
        whole graph until its report is rendered.
        """
        whys = {location: self.why(location) for location in keep}
        kept = {"": self.root}
        for location, steps in whys.items():
            for step in steps:
                kept.setdefault(step.node.location, step.node)
            kept[location] = self.nodes[location]
        view = Project(self.directory, self.lockfile, self.lockfile_format, _KeptNodes(kept, len(self.nodes), reload))
        view._why.update(whys)
        view._chains.update({location: self.chain(location) for location in whys})
        return view

    def _shortest_chain(self, location: str) -> tuple[Node, ...]:
        parent = self._chain_parents()
        if location != "" and location not in parent:
            return (self.nodes[location],)
        chain = [self.nodes[location]]
        step = location
        while step != "":
            step = parent[step]
            chain.append(self.nodes[step])
        chain.reverse()
        return tuple(chain)

    def _chain_parents(self) -> dict[str, str]:
        """For every node the root leads to, the dependent that comes before it on its chain.

        One breadth-first pass from the root: a node's chain parent is, of its dependents one step
        closer to the root, the one with the smallest location. Following those parents from a node
        to the root gives, of all its shortest chains, the one whose locations read from the node
        back to the root are the smallest in order: exactly the chain a breadth-first search from
        the node through its sorted dependents finds, but for every node at once (linear in the
        graph instead of one whole-graph search per node). Every dependent one step closer is a
        node of the level the search is expanding when it meets the edge, so the smallest is kept
        as the level is walked: no second pass over the graph.
        """
        if self._parents or "" not in self.nodes:
            return self._parents
        nodes = self.nodes
        depth: dict[str, int] = {"": 0}
        parents: dict[str, str] = {}
        frontier = [""]
        level = 0
        while frontier:
            level += 1
            following: list[str] = []
            for location in frontier:
                node = nodes.get(location)
                if node is None:
                    continue
                targets = [edge.to for edge in node.edges]
                if node.link_target is not None:
                    targets.append(node.link_target)
                for target in targets:
                    if target is None:
                        continue
                    known = depth.get(target)
                    if known is None:
                        depth[target] = level
                        parents[target] = location
                        following.append(target)
                    elif known == level and location < parents[target]:
                        parents[target] = location
            frontier = following
        self._parents.update(parents)
        return self._parents


class _KeptNodes(Mapping[str, Node]):
    """The nodes of a released project (:meth:`Project.released`): a few kept, the rest read again
    from the lockfile on first need. Reading again must give the same project: a lockfile changed
    since its audit is an error, never a report mixing two versions of it."""

    def __init__(self, kept: dict[str, Node], count: int, reload: Callable[[], Project]) -> None:
        self._kept = kept
        self._count = count
        self._reload = reload
        self._all: Mapping[str, Node] | None = None

    def _every(self) -> Mapping[str, Node]:
        if self._all is None:
            project = self._reload()
            nodes = project.nodes
            if len(nodes) != self._count or any(nodes.get(loc) != node for loc, node in self._kept.items()):
                from npmaudit.errors import InputError

                raise InputError(project.lockfile, "the lockfile changed while the scan was running: audit it again")
            self._all = nodes
        return self._all

    def __getitem__(self, location: str) -> Node:
        node = self._kept.get(location)
        return node if node is not None else self._every()[location]

    def __contains__(self, location: object) -> bool:
        return location in self._kept or location in self._every()

    def __iter__(self) -> Iterator[str]:
        return iter(self._every())

    def __len__(self) -> int:
        return self._count


def version_problem(node: Node) -> str | None:
    """Why a published package cannot be matched by its version, or None when it can.

    A version the matcher cannot read ("latest", "1.0", "1.0.0.0") would match no advisory at all:
    the package must be reported as not checked, never counted as audited.
    """
    if not node.is_matched_by_version:
        return None
    if not node.version:
        return "the lockfile records no version"
    if semver.parse_version(node.version, loose=True) is None:
        return f"version {node.version!r} is not a valid semver version"
    return None


def unchecked_reason(node: Node) -> str:
    """Why ``node`` is not matched against advisories (for a node the audit lists as not checked)."""
    problem = version_problem(node)
    if problem is not None:
        return problem
    return _UNMATCHED_REASONS.get(node.source, "not a published package")


def _fold_links(chain: tuple[Node, ...], known: dict[str, ChainStep]) -> tuple[ChainStep, ...]:
    """``known`` holds the step already built for a location that is not a link (chains share most
    of their nodes); a link's step depends on what follows it, so it is built each time."""
    steps: list[ChainStep] = []
    last = len(chain) - 1
    index = 0
    while index <= last:
        node = chain[index]
        if node.link_target is None:
            step = known.get(node.location)
            if step is None:
                step = known[node.location] = ChainStep(node, _alias(node, node.name))
            steps.append(step)
            index += 1
        elif index < last and chain[index + 1].location == node.link_target:
            following = chain[index + 1]
            steps.append(ChainStep(following, _alias(node, following.name)))
            index += 2
        else:
            steps.append(ChainStep(node, _alias(node, node.name)))
            index += 1
    return tuple(steps)


def _alias(installed: Node, real_name: str) -> str:
    """The folder name ``installed`` sits under in a node_modules folder, when it is not ``real_name``.

    The name is read from the location, as "installed at" shows it, whatever the reader stored in
    ``install_name``. Only node_modules locations count: a workspace folder (``packages/web``) is
    named by its manifest, not by its folder.
    """
    location = installed.location
    if location.endswith("node_modules/" + real_name):
        return ""  # the common case first: installed under its own name
    if not (location.startswith("node_modules/") or "/node_modules/" in location):
        return ""
    return location.rsplit("node_modules/", 1)[-1]
