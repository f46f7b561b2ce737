"""Dependency groups (dev, optional, devOptional, peer) computed from the graph, as npm does.

Formats that do not store groups (yarn, pnpm 9, bun, node_modules) and old package-lock files get
them here. The rule is npm arborist's: every non-root node starts in every group, and a group is
removed from a node as soon as some edge reaches it from a node outside that group through an edge
that is not of that kind. What remains is exact: a node still flagged ``optional`` is reachable only
through optional edges, and so on. ``devOptional`` marks the overlap: needed by dev and by optional
parts but by no production path; it is cleared where dev or optional alone already says it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from npmaudit.project.model import DepType, Edge, Node

# A node's groups as bits of one int: the walk below clears bits by masking, without an object per node.
_DEV, _OPTIONAL, _DEV_OPTIONAL, _PEER = 1, 2, 4, 8
_EVERY_GROUP = _DEV | _OPTIONAL | _DEV_OPTIONAL | _PEER

# The groups an edge of each kind keeps in its target whatever its dependent is in: a dev edge keeps
# dev, an optional one optional; either keeps devOptional; a peer edge keeps peer.
_EDGE_KEEPS = {
    kind: (
        (_DEV | _DEV_OPTIONAL if kind is DepType.DEV else 0)
        | (_OPTIONAL | _DEV_OPTIONAL if kind in (DepType.OPTIONAL, DepType.PEER_OPTIONAL) else 0)
        | (_PEER if kind in (DepType.PEER, DepType.PEER_OPTIONAL) else 0)
    )
    for kind in DepType
}


# (dev, optional, dev_optional, peer) of each set of bits, as a node stores them.
_AS_FIELDS = [
    (bool(bits & _DEV), bool(bits & _OPTIONAL), bool(bits & _DEV_OPTIONAL), bool(bits & _PEER))
    for bits in range(_EVERY_GROUP + 1)
]


Flags = tuple[bool, bool, bool, bool]  # (dev, optional, dev_optional, peer), as a node stores them


def compute_dep_flags(nodes: Mapping[str, Node]) -> dict[str, Node]:
    """Return the nodes with their group flags recomputed from the edges, root at ``""``."""
    flags = group_flags(
        {location: node.edges for location, node in nodes.items()},
        {location: node.link_target for location, node in nodes.items() if node.link_target is not None},
    )
    result = {}
    for location, node in nodes.items():
        fields = flags[location]
        if (node.dev, node.optional, node.dev_optional, node.peer) == fields:
            result[location] = node  # frozen: the same node serves; most nodes of a tree keep their flags
            continue
        dev, optional, dev_optional, peer = fields
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
            dev,
            optional,
            dev_optional,
            peer,
            node.in_bundle,
            node.edges,
            node.link_target,
        )
    return result


def group_flags(edges: Mapping[str, Sequence[Edge]], link_targets: Mapping[str, str]) -> dict[str, Flags]:
    """The flags of every location of ``edges`` (each node's edges, the root at ``""``), a link at a
    location of ``link_targets`` passing its groups on to its target.

    For a reader that builds its nodes after their edges: each node is made once, with its flags,
    instead of once without them and again by :func:`compute_dep_flags` (most nodes of a project
    with dev dependencies change)."""
    flags = dict.fromkeys(edges, _EVERY_GROUP)
    flags[""] = 0
    seen: set[str] = set()
    queue = [""]
    edge_keeps = _EDGE_KEEPS
    while queue:
        location = queue.pop()
        seen.add(location)
        mine = flags[location]
        link_target = link_targets.get(location) if link_targets else None
        if link_target is not None:
            # A link passes its groups on to its target as they are.
            held = flags.get(link_target)
            if held is None:
                continue
            narrowed = held & mine
            if narrowed != held:
                flags[link_target] = narrowed
                queue.append(link_target)
            elif link_target not in seen:
                queue.append(link_target)
            continue
        # The groups a dependent keeps in its targets through any edge: its own, and devOptional
        # when it is dev or optional (needed by a dev or an optional part).
        passed = mine | _DEV_OPTIONAL if mine & (_DEV | _OPTIONAL) else mine
        for edge in edges[location]:
            to = edge.to
            if to is None:
                continue
            held = flags.get(to)
            if not held:
                continue  # not a node, or nothing left to clear: most edges of a tree lead to production nodes
            narrowed = held & (passed | edge_keeps[edge.type])
            if narrowed != held:
                flags[to] = narrowed
                queue.append(to)
    as_fields = _AS_FIELDS
    result = {}
    for location, bits in flags.items():
        if bits & (_DEV | _OPTIONAL) and location in seen and location != "":
            bits &= ~_DEV_OPTIONAL  # devOptional only where neither dev nor optional alone says it
        result[location] = as_fields[bits]
    return result
