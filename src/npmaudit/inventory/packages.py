"""A project's package set as rows: what a query reports and what the inventory stores.

Each node of the :class:`~npmaudit.project.model.Project` becomes one :class:`PackageRow`: its real
name and version, install path, source kind, dependency groups, and ``parent``, the node before
it on a shortest chain from the root. The chain is the "why is this here" a responder needs; one
breadth-first walk from the root gives every node's parent at once, and a stored parent pointer
is enough to rebuild the chain of a match without loading the whole project again.

Only published packages (registry packages and tarballs: the audit's rule,
:data:`npmaudit.project.model.MATCHED_SOURCES`) are matched by a query. A workspace or a local
folder that happens to share a name with a malicious registry package is not that package.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import deque
from collections.abc import Iterable, Mapping
from functools import cached_property
from operator import attrgetter
from pathlib import Path

from npmaudit.project.model import MATCHED_SOURCES, Node, Project
from npmaudit.records import record_class

PUBLISHED_SOURCES = frozenset(kind.value for kind in MATCHED_SOURCES)
"""Source kinds matched by name and version (registry packages and tarballs): the audit's rule."""

DEV, OPTIONAL, DEV_OPTIONAL, PEER = 1, 2, 4, 8
_GROUP_BITS = ((DEV, "dev"), (OPTIONAL, "optional"), (DEV_OPTIONAL, "devOptional"), (PEER, "peer"))
_NODE, _NAME, _VERSION = attrgetter("node"), attrgetter("name"), attrgetter("version")
_LOCATION = attrgetter("location")
_SOURCE, _FLAGS, _PARENT = attrgetter("source"), attrgetter("flags"), attrgetter("parent")


def is_published(node: Node) -> bool:
    """Whether queries and audits match this node by name and version."""
    return node.is_matched_by_version


def flags_of(node: Node) -> int:
    return (
        (DEV if node.dev else 0)
        | (OPTIONAL if node.optional else 0)
        | (DEV_OPTIONAL if node.dev_optional else 0)
        | (PEER if node.peer else 0)
    )


def groups_of(flags: int) -> tuple[str, ...]:
    """npm's group names for a node's flags; ``("prod",)`` when it is needed in production."""
    return tuple(name for bit, name in _GROUP_BITS if flags & bit) or ("prod",)


@record_class(frozen=True, slots=True)
class PackageRow:
    node: int  # 0 is the root; the others in install-path order
    name: str
    version: str
    location: str
    source: str  # npmaudit.project.model.SourceKind's value
    flags: int  # DEV | OPTIONAL | DEV_OPTIONAL | PEER
    parent: int | None  # the node before this one on a shortest chain from the root

    @property
    def label(self) -> str:
        if self.node == 0:
            return self.name or "(root)"
        return f"{self.name}@{self.version}" if self.version else self.name


@record_class(frozen=True)
class PackageSet:
    """Every node of one project as rows, and a fingerprint of them all."""

    lockfile_format: str
    rows: tuple[PackageRow, ...]

    @property
    def fingerprint(self) -> str:
        """SHA-256 of everything the inventory records for the project: equal means nothing to change.

        Taken over the rows rather than the lockfile's bytes, so a change that only the manifest
        makes (a dependency moved from dev to prod for yarn or pnpm) is a change too.
        """
        return self._digest[0]

    @property
    def is_utf8(self) -> bool:
        """Whether every text of the rows encodes as UTF-8 (no lone surrogate): what a database stores."""
        return self._digest[1]

    @cached_property
    def _digest(self) -> tuple[str, bool]:
        """The fingerprint and UTF-8 check in one pass: each column joined and hashed whole (a row
        at a time was a tenth of an add), every text's length hashed too, so no text's content can
        pass for a boundary between two."""
        rows = self.rows
        texts = (
            self.lockfile_format,
            *map(_NAME, rows),
            *map(_VERSION, rows),
            *map(_LOCATION, rows),
            *map(_SOURCE, rows),
        )
        numbers = array("q", map(_NODE, rows))
        numbers.extend(map(_FLAGS, rows))
        numbers.extend(-1 if parent is None else parent for parent in map(_PARENT, rows))
        joined = "".join(texts)
        try:
            encoded, utf8 = joined.encode("utf-8"), True
        except UnicodeEncodeError:
            encoded, utf8 = joined.encode("utf-8", "surrogatepass"), False
        digest = hashlib.sha256(array("q", map(len, texts)).tobytes())
        digest.update(numbers.tobytes())
        digest.update(encoded)
        return digest.hexdigest(), utf8


def package_set(project: Project) -> PackageSet:
    order = ["", *sorted(location for location in project.nodes if location != "")]
    number = {location: index for index, location in enumerate(order)}
    parents = chain_parents(project)
    rows = []
    for location in order:
        node = project.nodes[location]
        parent = parents.get(location)
        rows.append(
            PackageRow(
                node=number[location],
                name=node.name,
                version=node.version,
                location=location,
                source=node.source.value,
                flags=flags_of(node),
                parent=number[parent] if parent is not None else None,
            )
        )
    return PackageSet(project.lockfile_format, tuple(rows))


def chain_parents(project: Project) -> dict[str, str | None]:
    """For every node reachable from the root, the node before it on a shortest chain (root: None).

    Dependents are followed through resolved edges and workspace links, as
    :meth:`~npmaudit.project.model.Project.chain` follows them; ties go to the first location in
    sorted order so the answer does not depend on the lockfile's key order.
    """
    parents: dict[str, str | None] = {"": None}
    queue = deque([""])
    while queue:
        current = queue.popleft()
        node = project.nodes[current]
        targets = {edge.to for edge in node.edges if edge.to is not None}
        if node.link_target is not None:
            targets.add(node.link_target)
        for target in sorted(targets):
            if target not in parents and target in project.nodes:
                parents[target] = current
                queue.append(target)
    return parents


def chain_labels(rows: Mapping[int, PackageRow], node: int) -> tuple[str, ...]:
    """``("app", "express@4.18.2", "debug@2.6.9")``: from the root to ``node``; just the node when
    nothing leads to it (an extraneous entry)."""
    chain = []
    current: int | None = node
    seen: set[int] = set()
    while current is not None and current not in seen:
        seen.add(current)
        row = rows[current]
        chain.append(row.label)
        current = row.parent
    return tuple(reversed(chain))


def rows_by_node(rows: Iterable[PackageRow]) -> dict[int, PackageRow]:
    return {row.node: row for row in rows}


def file_sha256(path: Path) -> str | None:
    """The lockfile's SHA-256 (None for an installed node_modules tree, which is not one file)."""
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
