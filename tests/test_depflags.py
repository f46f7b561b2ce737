"""Dependency groups from the graph (project/depflags.py): the walk on bits gives every node of every
project of the corpus the very flags the former walk on one flags object per node gave, whatever flags
the nodes came with (kept nodes and rebuilt ones alike)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from lockfile_corpus import corpus, corpus_id, load_fixture
from npmaudit.project.depflags import compute_dep_flags
from npmaudit.project.model import DepType, Node

# (dev edge, optional edge, peer edge) for each kind of edge.
_REF_EDGE_KINDS = {
    kind: (
        kind is DepType.DEV,
        kind in (DepType.OPTIONAL, DepType.PEER_OPTIONAL),
        kind in (DepType.PEER, DepType.PEER_OPTIONAL),
    )
    for kind in DepType
}


@dataclass(slots=True)
class _RefFlags:
    dev: bool = True
    optional: bool = True
    dev_optional: bool = True
    peer: bool = True


def _reference_dep_flags(nodes: Mapping[str, Node]) -> dict[str, Node]:
    """The groups as compute_dep_flags computed them before its flags became bits (one object per node)."""
    flags = {location: _RefFlags() for location in nodes}
    flags[""] = _RefFlags(False, False, False, False)
    seen: set[str] = set()
    queue = [""]
    while queue:
        location = queue.pop()
        seen.add(location)
        node = nodes[location]
        mine = flags[location]
        if node.link_target is not None:
            target = flags.get(node.link_target)
            if target is None:
                continue
            changed = _ref_narrow(target, mine.dev, mine.optional, mine.dev_optional, mine.peer)
            if changed or node.link_target not in seen:
                queue.append(node.link_target)
            continue
        for edge in node.edges:
            to = edge.to
            if to is None:
                continue
            target = flags.get(to)
            if target is None:
                continue
            if not (target.dev or target.optional or target.dev_optional or target.peer):
                continue  # nothing left to clear: most edges of a tree lead to production nodes
            dev_edge, optional_edge, peer_edge = _REF_EDGE_KINDS[edge.type]
            keep_dev = mine.dev or dev_edge
            keep_optional = mine.optional or optional_edge
            keep_dev_optional = mine.dev_optional or mine.dev or mine.optional or dev_edge or optional_edge
            keep_peer = mine.peer or peer_edge
            if _ref_narrow(target, keep_dev, keep_optional, keep_dev_optional, keep_peer):
                queue.append(to)
    result = {}
    for location, node in nodes.items():
        state = flags[location]
        dev_optional = state.dev_optional
        if location in seen and location != "" and (state.dev or state.optional):
            dev_optional = False
        if (node.dev, node.optional, node.dev_optional, node.peer) == (
            state.dev,
            state.optional,
            dev_optional,
            state.peer,
        ):
            result[location] = node  # frozen: the same node serves; most nodes of a tree keep their flags
            continue
        # The constructor with every field by position: dataclasses.replace costs twice as much, and
        # this runs once per node of every lockfile without stored groups.
        result[location] = Node(
            node.location,
            node.name,
            node.version,
            node.source,
            node.install_name,
            node.resolved,
            node.integrity,
            state.dev,
            state.optional,
            dev_optional,
            state.peer,
            node.in_bundle,
            node.edges,
            node.link_target,
        )
    return result


def _ref_narrow(target: _RefFlags, dev: bool, optional: bool, dev_optional: bool, peer: bool) -> bool:
    """Clear the target's flags that the incoming path does not keep; say whether any changed."""
    changed = False
    if target.dev and not dev:
        target.dev = False
        changed = True
    if target.optional and not optional:
        target.optional = False
        changed = True
    if target.dev_optional and not dev_optional:
        target.dev_optional = False
        changed = True
    if target.peer and not peer:
        target.peer = False
        changed = True
    return changed


@pytest.mark.parametrize("path", corpus(), ids=corpus_id)
def test_bits_give_the_flags_the_flag_objects_gave_on_the_whole_corpus(path: Path, tmp_path: Path) -> None:
    nodes = load_fixture(path, tmp_path).nodes
    assert compute_dep_flags(nodes) == _reference_dep_flags(nodes)
    # Every flag flipped: the nodes whose flags the walk keeps are now rebuilt, and the other way round.
    flipped = {
        location: replace(
            node, dev=not node.dev, optional=not node.optional, dev_optional=not node.dev_optional, peer=not node.peer
        )
        for location, node in nodes.items()
    }
    assert compute_dep_flags(flipped) == _reference_dep_flags(flipped)


# The readers that make each node once with its groups (group_flags), never through compute_dep_flags.
_ONE_PASS_READERS = [path for path in corpus() if "pnpm-lock.yaml" in path.name or path.name.startswith("yarn.lock")]


@pytest.mark.parametrize("path", _ONE_PASS_READERS, ids=corpus_id)
def test_the_pnpm_and_yarn_readers_make_their_nodes_with_the_reference_flags(path: Path, tmp_path: Path) -> None:
    """pnpm's and yarn's nodes are made after their edges, with group_flags' answer: each node already
    carries the flags the reference walk gives it (a reader that skipped a node or gave one its
    flags from another location fails here)."""
    nodes = load_fixture(path, tmp_path).nodes
    assert dict(nodes) == _reference_dep_flags(nodes)


def test_the_corpus_holds_every_group(tmp_path: Path) -> None:
    """The comparison above covers each flag: the corpus has dev, optional, devOptional and peer nodes."""
    groups: set[str] = set()
    for index, path in enumerate(corpus()):
        nodes = load_fixture(path, tmp_path / str(index)).nodes
        groups.update(*(node.groups for node in compute_dep_flags(nodes).values()))
    assert groups == {"dev", "optional", "devOptional", "peer"}
