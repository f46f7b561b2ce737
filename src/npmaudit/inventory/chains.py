"""Each install's dependency chain, stored beside it: its ancestors' slots in the project's list of parents.

Written once at ingest, so a query reads a match's chain with the match in the same row, instead of
walking parent pointers up to the root with one indexed lookup per step (that walk, at about five
steps per install, was most of a broad query's time on a fleet of 10,000 projects).

A chain names no version. The project's parents (its nodes that have children, in node order)
are numbered by slot, and the root's row, whose own chain is always empty, stores their package
ids instead (about 290 parents, 1.2 KB, for a corpus project). A query reads that list with each
project's row and resolves a chain's slots in it, in the snapshot it read the chains in
(npmaudit/inventory/store.py). A new version of an ancestor so rewrites its own row and the root's,
not every descendant's: schema 4 stored the ancestors' package ids in each chain, and a changed add
of bench/inventory.py's fleet rewrote 576 of its 843 rows (68%), against 272 (32%: the rows whose
own version moved, and the root's) now. Resolving each chain's nodes instead by one batched lookup
of (project, node) in the packages table was measured too: about 3 lookups per install, which
made a broad query 1.5 to 2.1 times slower than schema 4 (see the README's inventory figures).

A chain is a BLOB: an empty one when nothing leads to the node (an extraneous entry; the root's
row holds the list of parents instead); otherwise one header byte, the width of each slot (2
bytes, or 4 in a project of more than 65,536 parents) plus :data:`FROM_ROOT` when the chain starts
at the root (slot 0, implied: not stored), then the other slots, little-endian: 6 bytes on
average. The list of parents is one header byte, the width of each package id (4 bytes, or 8 once
ids pass 2**32), then the ids.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence
from operator import attrgetter

from npmaudit.inventory.packages import PackageRow

FROM_ROOT = 0x80
ROOT = 0
_WIDTHS = (2, 4)  # of a chain's slots
_ID_WIDTHS = (4, 8)  # of the package ids in a list of parents
_FORMATS = {2: "H", 4: "I", 8: "Q"}  # array's code for an unsigned integer of each width
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
    slots = tuple(_unpacked(blob, width))
    return (_ROOT_ONLY + slots if from_root else slots), from_root


def decode_parents(blob: bytes) -> array[int]:
    """The package ids at a project's slots, as its root's row stores them."""
    if not blob:
        return array("I")
    width = blob[0]
    if width not in _ID_WIDTHS or (len(blob) - 1) % width:
        raise DamagedChain(f"a stored list of parents of {len(blob)} bytes with header {width:#x}")
    return _unpacked(blob, width)


def _unpacked(blob: bytes, width: int) -> array[int]:
    """The little-endian unsigned integers of ``width`` bytes after a stored value's header byte."""
    values = array(_FORMATS[width])
    values.frombytes(memoryview(blob)[1:])
    if _SWAP:
        values.byteswap()
    return values


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
        packed = array(_FORMATS[id_width], stored)
        if _SWAP:
            packed.byteswap()
        chains[ROOT] = bytes((id_width,)) + packed.tobytes()
    return chains
