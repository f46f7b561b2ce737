"""Dependency groups (dev, optional, devOptional, peer) computed from the graph, as npm does.

Formats that do not store groups (yarn, pnpm 9, bun, node_modules) and old package-lock files get
them here. The rule is npm arborist's: every non-root node starts in every group, and a group is
removed from a node as soon as some edge reaches it from a node outside that group through an edge
that is not of that kind. What remains is exact: a node still flagged ``optional`` is reachable only
through optional edges, and so on. ``devOptional`` marks the overlap: needed by dev and by optional
parts but by no production path; it is cleared where dev or optional alone already says it.
"""

from __future__ import annotations

from collections.abc import Mapping

from npmaudit.project.model import DepType, Node
from npmaudit.records import record_class

# (dev edge, optional edge, peer edge) for each kind of edge.
_EDGE_KINDS = {
    kind: (
        kind is DepType.DEV,
        kind in (DepType.OPTIONAL, DepType.PEER_OPTIONAL),
        kind in (DepType.PEER, DepType.PEER_OPTIONAL),
    )
    for kind in DepType
}


@record_class(slots=True)
class _Flags:
    dev: bool = True
    optional: bool = True
    dev_optional: bool = True
    peer: bool = True


def compute_dep_flags(nodes: Mapping[str, Node]) -> dict[str, Node]:
    """Return the nodes with their group flags recomputed from the edges, root at ``""``."""
    flags = {location: _Flags() for location in nodes}
    flags[""] = _Flags(False, False, False, False)
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
            changed = _narrow(target, mine.dev, mine.optional, mine.dev_optional, mine.peer)
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
            dev_edge, optional_edge, peer_edge = _EDGE_KINDS[edge.type]
            keep_dev = mine.dev or dev_edge
            keep_optional = mine.optional or optional_edge
            keep_dev_optional = mine.dev_optional or mine.dev or mine.optional or dev_edge or optional_edge
            keep_peer = mine.peer or peer_edge
            if _narrow(target, keep_dev, keep_optional, keep_dev_optional, keep_peer):
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


def _narrow(target: _Flags, dev: bool, optional: bool, dev_optional: bool, peer: bool) -> bool:
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
