"""Each install's dependency chain, stored beside it: the project's node numbers from the root down to its parent.

Written once at ingest, so a query reads a match's chain with the match in the same row, instead of
walking parent pointers up to the root with one indexed lookup per step (that walk, at about five
steps per install, was most of a broad query's time on a fleet of 10,000 projects). A query then
resolves the nodes of all its matches' chains to their package ids in one batched lookup, in the
snapshot it read the chains in (npmaudit/inventory/store.py).

A chain names nodes, not versions: nodes are numbered by install path
(npmaudit/inventory/packages.py), so a new version of an ancestor leaves its descendants' chains
as they were, and a changed add rewrites only the rows whose own version, path, source or groups
changed. Schema 4 stored the ancestors' package ids: a moved version rewrote every descendant's
row too.

The value is a BLOB: an empty one when nothing leads to the node (the root itself, an extraneous
entry); otherwise one header byte, the width of each node number (2 bytes, or 4 in a project of
more than 65,536 nodes) plus :data:`FROM_ROOT` when the chain starts at the root (node 0, implied:
not stored), then the other nodes, little-endian. About 6 bytes for a typical chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

from npmaudit.inventory.packages import PackageRow

FROM_ROOT = 0x80
ROOT = 0
_WIDTHS = (2, 4)
_NARROW = 1 << 16
_NODE, _PARENT = attrgetter("node"), attrgetter("parent")
_ROOT_ONLY = (ROOT,)


class DamagedChain(ValueError):
    """A stored chain that no npmaudit wrote (its length does not fit its header)."""


def decode(blob: bytes) -> tuple[int, ...]:
    """The nodes of a stored chain, from the root (node 0) when it starts there."""
    if not blob:
        return ()
    header = blob[0]
    width = header & ~FROM_ROOT
    count, rest = divmod(len(blob) - 1, width) if width in _WIDTHS else (0, 1)
    from_root = bool(header & FROM_ROOT)
    if rest or not (count or from_root):
        raise DamagedChain(f"a stored chain of {len(blob)} bytes with header {header:#x}")
    nodes = tuple(int.from_bytes(blob[at : at + width], "little") for at in range(1, len(blob), width))
    return _ROOT_ONLY + nodes if from_root else nodes


def chains_of(rows: Sequence[PackageRow]) -> dict[int, bytes]:
    """Every node's stored chain, from the rows' parent pointers.

    Parents form a tree from the root (see :func:`npmaudit.inventory.packages.chain_parents`); it
    is walked depth-first from each node without a parent (the root, extraneous entries), so a
    node's chain is its parent's plus its parent. A node whose parent pointers never reach such a
    node (only a hand-made, cyclic package set) gets no chain rather than an endless one.
    """
    parents = dict(zip(map(_NODE, rows), map(_PARENT, rows), strict=True))
    children: dict[int, list[int]] = {}
    tops = []
    for node, parent in parents.items():
        if parent is None or parent not in parents:
            tops.append(node)
        else:
            children.setdefault(parent, []).append(node)
    chains = dict.fromkeys(parents, b"")
    width = 2 if max(parents, default=0) < _NARROW else 4
    # A child's chain is its parent's bytes plus the parent's node, appended rather than packed
    # again from a tuple (a project has hundreds of parents). Only parents are walked: a leaf
    # (most nodes) takes its chain from its parent's visit.
    pending = [
        (top, bytes((width | FROM_ROOT,)) if top == ROOT else bytes((width,)) + top.to_bytes(width, "little"))
        for top in tops
        if top in children
    ]
    while pending:
        node, below = pending.pop()
        for child in children[node]:
            chains[child] = below
            if child in children:
                pending.append((child, below + child.to_bytes(width, "little")))
    return chains
