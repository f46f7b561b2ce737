"""Each install's dependency chain, stored beside it: the package ids from the root down to its parent.

Written once at ingest, so a query reads a match's chain with the match in the same row, instead of
walking parent pointers up to the root with one indexed lookup per step (that walk, at about five
steps per install, was most of a broad query's time on a fleet of 10,000 projects).

The value is a BLOB: an empty one when nothing leads to the node (the root itself, an extraneous
entry); otherwise one header byte, the width of each id (4 bytes, or 8 once ids pass 2**32) plus
:data:`FROM_ROOT` when the first id is the root's (labelled by its name alone, as the chain of a
project read from its files is), then the ids, little-endian. About 18 bytes for a typical chain.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter

from npmaudit.inventory.packages import PackageRow

FROM_ROOT = 0x80
_FORMATS = {4: "I", 8: "Q"}
_NARROW = 1 << 32
_HEADER = bytes((4,))
_ROOT_HEADER = bytes((4 | FROM_ROOT,))
_NODE, _PARENT = attrgetter("node"), attrgetter("parent")


class DamagedChain(ValueError):
    """A stored chain that no npmaudit wrote (its length does not fit its header)."""


def encode(ids: Iterable[int], *, from_root: bool) -> bytes:
    values = tuple(ids)
    if not values:
        return b""
    width = 4 if max(values) < _NARROW else 8
    header = width | (FROM_ROOT if from_root else 0)
    return bytes((header,)) + struct.pack(f"<{len(values)}{_FORMATS[width]}", *values)


def decode(blob: bytes) -> tuple[tuple[int, ...], bool]:
    """The ids of a stored chain, and whether the first is the root's."""
    if not blob:
        return (), False
    width = blob[0] & ~FROM_ROOT
    count, rest = divmod(len(blob) - 1, width) if width in _FORMATS else (0, 1)
    if rest or not count:
        raise DamagedChain(f"a stored chain of {len(blob)} bytes with header {blob[0]:#x}")
    return struct.unpack_from(f"<{count}{_FORMATS[width]}", blob, 1), bool(blob[0] & FROM_ROOT)


def chains_of(rows: Sequence[PackageRow], ids: Mapping[int, int]) -> dict[int, bytes]:
    """Every node's stored chain, from the rows' parent pointers and each node's package id.

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
    if ids and max(ids.values()) >= _NARROW:  # ids past 2**32: each chain picks its own width
        return _wide_chains(chains, children, tops, ids)
    # Every id fits 4 bytes: a child's chain is its parent's bytes plus the parent's id, appended
    # rather than packed again from a tuple (a project has hundreds of parents).
    # Only parents are walked: a leaf (most nodes) takes its chain from its parent's visit.
    pending = [(top, _ROOT_HEADER if top == 0 else _HEADER) for top in tops if top in children]
    while pending:
        node, prefix = pending.pop()
        stored = prefix + ids[node].to_bytes(4, "little")
        for child in children[node]:
            chains[child] = stored
            if child in children:
                pending.append((child, stored))
    return chains


def _wide_chains(
    chains: dict[int, bytes], children: Mapping[int, list[int]], tops: list[int], ids: Mapping[int, int]
) -> dict[int, bytes]:
    pending: list[tuple[int, tuple[int, ...], bool]] = [(top, (), top == 0) for top in tops]
    while pending:
        node, ancestors, from_root = pending.pop()
        below = children.get(node)
        if below:  # encoded once for all the children: most nodes have none, some have dozens
            chain = (*ancestors, ids[node])
            stored = encode(chain, from_root=from_root)
            for child in below:
                chains[child] = stored
                pending.append((child, chain, from_root))
    return chains
