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

import sys
from array import array
from collections.abc import Sequence
from operator import attrgetter

from npmaudit.inventory.packages import PackageRow

FROM_ROOT = 0x80
ROOT = 0
_WIDTHS = (2, 4)
_ID_FORMATS = {4: "I", 8: "Q"}
_NARROW_SLOTS = 1 << 16
_NARROW_IDS = 1 << 32
_NODE, _PARENT = attrgetter("node"), attrgetter("parent")
_ROOT_ONLY = (ROOT,)
_SWAP = sys.byteorder != "little"


class DamagedChain(ValueError):
    """A stored chain that no npmaudit wrote (its length does not fit its header)."""


def decode(blob: bytes) -> tuple[tuple[int, ...], bool]:
    """The slots of a stored chain, from the root's (slot 0) when it starts there; and whether it does."""
    if not blob:
        return (), False
    header = blob[0]
    width = header & ~FROM_ROOT
    count, rest = divmod(len(blob) - 1, width) if width in _WIDTHS else (0, 1)
    from_root = bool(header & FROM_ROOT)
    if rest or not (count or from_root):
        raise DamagedChain(f"a stored chain of {len(blob)} bytes with header {header:#x}")
    slots = tuple(int.from_bytes(blob[at : at + width], "little") for at in range(1, len(blob), width))
    return (_ROOT_ONLY + slots if from_root else slots), from_root


def decode_parents(blob: bytes) -> array[int]:
    """The package ids at a project's slots, as its root's row stores them."""
    if not blob:
        return array("I")
    width = blob[0]
    if width not in _ID_FORMATS or (len(blob) - 1) % width:
        raise DamagedChain(f"a stored list of parents of {len(blob)} bytes with header {width:#x}")
    ids = array(_ID_FORMATS[width])
    ids.frombytes(memoryview(blob)[1:])
    if _SWAP:
        ids.byteswap()
    return ids


def chains_of(rows: Sequence[PackageRow], package_ids: Sequence[int]) -> dict[int, bytes]:
    """Every node's stored chain, from the rows' parent pointers; the root's row (whose own chain
    is empty) stores the project's parents instead: the package id of each node that has children,
    in node order, each node's slot being its place in that list.

    Parents form a tree from the root (see :func:`npmaudit.inventory.packages.chain_parents`); it
    is walked depth-first from each node without a parent (the root, extraneous entries), so a
    node's chain is its parent's plus its parent's slot. A node whose parent pointers never reach
    such a node (only a hand-made, cyclic package set) gets no chain rather than an endless one.
    """
    nodes = list(map(_NODE, rows))
    parents = dict(zip(nodes, map(_PARENT, rows), strict=True))
    children: dict[int, list[int]] = {}
    tops = []
    for node, parent in parents.items():
        if parent is None or parent not in parents:
            tops.append(node)
        else:
            children.setdefault(parent, []).append(node)
    chains = dict.fromkeys(nodes, b"")
    internal = sorted(children)
    slots = {node: slot for slot, node in enumerate(internal)}
    width = 2 if len(internal) < _NARROW_SLOTS else 4
    # A child's chain is its parent's bytes plus the parent's slot, appended rather than packed
    # again from a tuple (a project has hundreds of parents). Only parents are walked: a leaf
    # (most nodes) takes its chain from its parent's visit. The root is slot 0, implied by FROM_ROOT.
    pending = [
        (top, bytes((width | FROM_ROOT,)) if top == ROOT else bytes((width,)) + slots[top].to_bytes(width, "little"))
        for top in tops
        if top in children
    ]
    while pending:
        node, below = pending.pop()
        for child in children[node]:
            chains[child] = below
            if child in children:
                pending.append((child, below + slots[child].to_bytes(width, "little")))
    if internal and ROOT in chains:
        ids = dict(zip(nodes, package_ids, strict=True))
        stored = [ids[node] for node in internal]
        id_width = 4 if max(stored) < _NARROW_IDS else 8
        packed = array(_ID_FORMATS[id_width], stored)
        if _SWAP:
            packed.byteswap()
        chains[ROOT] = bytes((id_width,)) + packed.tobytes()
    return chains
