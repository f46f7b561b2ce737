"""The inventory: many projects' package sets in one database, and the queries it answers.

Adding a project whose package set is unchanged (same fingerprint) writes nothing but its labels;
a changed one has the rows that changed rewritten in one transaction, so a reader sees either the
old set or the new one, never half of each. Many projects may be committed at once
(:meth:`Inventory.add_many`). A query pre-filters by name in SQL, tests its range on the distinct
versions of those names only (never loading whole projects into Python), then reads the installs
of the matching versions, each with its chain stored beside it (npmaudit/inventory/chains.py),
and the rows of their projects, each with the list of parents its chains' slots stand for.
"""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Literal, cast

from npmaudit.advisories.store_sqlite import sql_text
from npmaudit.errors import InputError
from npmaudit.inventory.backends import Backend, Row, buckets, chunks, marks, open_backend
from npmaudit.inventory.chains import ROOT as ROOT_NODE
from npmaudit.inventory.chains import DamagedChain, chains_of, decode, decode_parents
from npmaudit.inventory.packages import PUBLISHED_SOURCES, PackageRow, PackageSet
from npmaudit.inventory.results import Hit, ProjectHits, QueryResult, match_specs, spec_notes
from npmaudit.inventory.spec import Spec
from npmaudit.records import record_class, replace

PACKAGE_COLUMNS = ("project_id", "node", "package_id", "location", "source", "flags", "chain")
_PUBLISHED = tuple(sorted(PUBLISHED_SOURCES))
_HOISTED = "node_modules/"
_JSON = json.JSONDecoder()
_NODE, _NAME, _VERSION = attrgetter("node"), attrgetter("name"), attrgetter("version")
_LOCATION = attrgetter("location")
_SOURCE, _FLAGS = attrgetter("source"), attrgetter("flags")

Install = tuple[int, int, int, str, str, int, bytes]
"""project id, node, package id, install path (as stored), source, flags, chain (as stored)"""

NodeRow = tuple[int, int, str, str, int, bytes]
Rows = list[NodeRow]
"""A project's package rows as stored, after the project id: node, package id, install path,
source, flags, chain."""

ProjectRow = tuple[str, str, Mapping[str, str], "array[int]"]
"""A project as a query reports it: location, lockfile name, labels; and its parents (the package
ids its chains' slots stand for: npmaudit/inventory/chains.py)."""

Unresolved = tuple[list[tuple[str, str]], list[int | None]]
"""A project's (name, version) pairs and the ids known for them before the write lock (None: a
pair nobody had interned): its rows are made inside the transaction, once it has interned them."""

AddStatus = Literal["added", "replaced", "unchanged"]
EMPTY = "no project in this inventory yet: add projects with `npmaudit inventory add`"


_SELECT_PROJECT = (
    "SELECT id, lockfile, lockfile_format, lockfile_sha256, fingerprint, labels FROM projects WHERE location = ?"
)


_UPDATE_PROJECT = (
    "UPDATE projects SET lockfile = ?, lockfile_format = ?, lockfile_sha256 = ?, fingerprint = ?, "
    "labels = ?, packages = ?, updated = ?"
)
_LOCK_AND_UPDATE_PROJECT = (
    _UPDATE_PROJECT + " FROM (SELECT id, fingerprint FROM projects WHERE location = ? FOR UPDATE) AS recorded "
    "WHERE projects.id = recorded.id RETURNING projects.id, recorded.fingerprint"
)
"""PostgreSQL: lock the project's row (a writer holding it is waited for, and the fingerprint it
committed is read), record its new details, and return its id and the fingerprint it had."""

_SELECT_ROWS = f"SELECT {', '.join(PACKAGE_COLUMNS[1:])} FROM packages WHERE project_id = ?"
_UPDATE_ROW = "UPDATE packages SET {} WHERE project_id = ? AND node = ?"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@record_class(frozen=True)
class ProjectEntry:
    """One project to add: where it is, what it installs, and how the caller labels it."""

    location: str
    lockfile: str
    lockfile_sha256: str | None
    packages: PackageSet
    labels: Mapping[str, str]


@record_class(frozen=True)
class AddResult:
    location: str
    status: AddStatus
    packages: int


@record_class(frozen=True)
class ProjectRecord:
    id: int
    location: str
    lockfile: str
    lockfile_format: str
    lockfile_sha256: str | None
    labels: Mapping[str, str]
    packages: int
    added: str
    updated: str
    findings: int  # at the last inventory audit
    malicious: int


class Inventory:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._ids: dict[tuple[str, str], int] = {}  # package_versions ids: never reused, safe to keep

    @classmethod
    def open(cls, location: str, *, create: bool = False) -> Inventory:
        return cls(open_backend(location, create=create))

    @property
    def location(self) -> str:
        return self.backend.location

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Inventory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------

    def add(self, entry: ProjectEntry, *, now: str | None = None) -> AddResult:
        """Record the project; a no-op (but for its labels) when its package set is unchanged."""
        return self.add_many([entry], now=now)[0]

    def add_many(self, entries: Sequence[ProjectEntry], *, now: str | None = None) -> list[AddResult]:
        """Record these projects in one write transaction (``inventory add -r`` sends a batch).

        Committing many projects at once is what makes a bulk add fast: the index on package ids
        has one page per range of ids, and projects share most of their packages, so a batch
        writes each page once instead of once per project. Readers see all of the batch or none
        of it, and each project whole. Projects are written in the order of their locations, so
        two PostgreSQL writers locking overlapping batches never wait on each other in a cycle.
        """
        now = now or utc_now()
        db = self.backend
        results: dict[int, AddResult] = {}
        pending: list[tuple[int, ProjectEntry, tuple[Any, ...]]] = []
        stored_entries = [storable(original) for original in entries]
        recorded = self._recorded({entry.location for entry in stored_entries})
        absent: set[str] = set()
        for index, entry in enumerate(stored_entries):
            details = _details(entry)
            current = recorded.get(entry.location)
            if current == details:
                results[index] = AddResult(entry.location, "unchanged", _count(entry))  # nothing to write
            else:
                pending.append((index, entry, details))
                if current is None:
                    absent.add(entry.location)
        if pending:
            # Each project's rows, chains and ids prepared before the write lock is taken, so
            # concurrent writers hold it only for their writes (a project with a pair nobody has
            # interned yet is prepared inside the transaction instead). The ids cached by earlier
            # adds are looked up once per row; the database only for the pairs they miss.
            known = self._ids.get
            pairs = {index: list(pairs_of(entry.packages.rows)) for index, entry, _ in pending}
            found = {index: list(map(known, pairs[index])) for index in pairs}
            unknown = sorted(
                {
                    pair
                    for index in pairs
                    if None in found[index]
                    for pair, package_id in zip(pairs[index], found[index], strict=True)
                    if package_id is None
                }
            )
            if unknown:
                learn = self._look_up_first if db.interns_in_transaction else self._intern_first
                learned_first = learn(unknown)
                # Only the rows that missed are looked up again, in the few ids just learned: a
                # second pass over the whole cache cost a changed add as much as the first.
                now_known = learned_first.get
                for index, missed in found.items():
                    if None in missed:
                        found[index] = [
                            now_known(pair) if package_id is None else package_id
                            for pair, package_id in zip(pairs[index], missed, strict=True)
                        ]
            prepared: dict[int, Rows | Unresolved] = {
                index: (pairs[index], found[index])
                if None in found[index]
                else self._rows(entry.packages, cast(list[int], found[index]))
                for index, entry, _ in pending
            }
            ids: dict[tuple[str, str], int] = {}
            learned: dict[tuple[str, str], int] = {}
            with db.transaction(write=True):
                for index, entry, details in sorted(pending, key=lambda item: item[1].location):
                    seen_absent = entry.location in absent
                    results[index] = self._write(entry, details, now, prepared[index], ids, learned, seen_absent)
            self._ids.update(learned)  # only once committed: a rolled-back id must not be reused
        return [results[index] for index in range(len(entries))]

    def _write(
        self,
        entry: ProjectEntry,
        details: tuple[Any, ...],
        now: str,
        prepared: Rows | Unresolved,
        ids: dict[tuple[str, str], int],
        learned: dict[tuple[str, str], int],
        seen_absent: bool,
    ) -> AddResult:
        """Inside a write transaction: insert or update the project's row, and replace what changed
        of its package rows (a changed lockfile usually moves a few packages, and rewriting only
        those rows keeps the index on package ids from being rewritten for all the others).

        A project that was not recorded when the batch was read (``seen_absent``) is inserted
        whole, its row first: no lookup of it under the lock and no update after its rows (each
        a round trip to a PostgreSQL server). When another writer recorded it meanwhile, the
        insert does nothing and its set is replaced as any recorded project's is."""
        db = self.backend
        count = _count(entry)
        current = [] if seen_absent else self._lock_project(entry.location, details, count, now)
        if not current:
            inserted = db.execute(
                "INSERT INTO projects (location, lockfile, lockfile_format, lockfile_sha256, fingerprint, labels, "
                "packages, added, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (location) DO NOTHING RETURNING id",
                (entry.location, *details, count, now, now),
            )
            if inserted:
                self._replace_rows(inserted[0][0], self._wanted(entry, prepared, ids, learned), fresh=True)
                return AddResult(entry.location, "added", count)
            # another writer added it first: wait for its row, then replace its set
            current = self._lock_project(entry.location, details, count, now)
            if not current:  # ...and removed it again before this transaction could read it
                raise InputError(self.location, f"project {entry.location!r} was added and removed meanwhile")
        status: AddStatus = "replaced"
        project_id, stored = current[0]
        if stored == details[3]:
            status = "unchanged"
        else:
            self._replace_rows(project_id, self._wanted(entry, prepared, ids, learned), fresh=False)
        if not db.round_trips:
            db.execute(_UPDATE_PROJECT + " WHERE id = ?", (*details, count, now, project_id))
        return AddResult(entry.location, status, count)

    def _lock_project(self, location: str, details: tuple[Any, ...], count: int, now: str) -> list[Row]:
        """Inside a write transaction: lock the recorded project at ``location``; its id and the
        fingerprint it had, or [] when it is not recorded. On PostgreSQL the same statement records
        the project's new details (one round trip instead of a SELECT here and an UPDATE after its
        rows: the transaction writes both or neither). SQLite's UPDATE cannot return a joined
        table's value: it reads the row, and :meth:`_write` updates it after the rows."""
        db = self.backend
        if db.round_trips:
            return db.execute(_LOCK_AND_UPDATE_PROJECT, (*details, count, now, location))
        return [(row[0], row[4]) for row in db.execute(_SELECT_PROJECT + db.lock_rows, (location,))]

    def _wanted(
        self,
        entry: ProjectEntry,
        prepared: Rows | Unresolved,
        ids: dict[tuple[str, str], int],
        learned: dict[tuple[str, str], int],
    ) -> Rows:
        """The rows prepared before the lock, or (a pair nobody had interned before it) made now."""
        if isinstance(prepared, list):
            return prepared
        return self._rows(entry.packages, self._package_ids(*prepared, ids, learned))

    def _recorded(self, locations: Iterable[str]) -> dict[str, tuple[Any, ...]]:
        """What the projects table records of these locations (those recorded), as :func:`_details`
        gives it: one lookup for a whole batch."""
        db = self.backend
        found: dict[str, tuple[Any, ...]] = {}
        for chunk in chunks(sorted(locations)):
            condition, values = db.among("location", chunk, "text")
            for location, *details in db.execute(
                "SELECT location, lockfile, lockfile_format, lockfile_sha256, fingerprint, labels FROM projects "
                f"WHERE {condition}",
                values,
            ):
                found[location] = tuple(details)
        return found

    @staticmethod
    def _rows(packages: PackageSet, package_ids: Sequence[int]) -> Rows:
        """Each node's stored columns: node, package id, install path, source, flags and chain
        (columns read with C-level getters: a project has hundreds of rows)."""
        rows = packages.rows
        nodes = list(map(_NODE, rows))
        chains = chains_of(rows, package_ids)
        locations = [
            "" if node != ROOT_NODE and location == _HOISTED + name else location  # stored_location
            for node, name, location in zip(nodes, map(_NAME, rows), map(_LOCATION, rows), strict=True)
        ]
        return list(
            zip(
                nodes,
                package_ids,
                locations,
                map(_SOURCE, rows),
                map(_FLAGS, rows),
                map(chains.__getitem__, nodes),
                strict=True,
            )
        )

    def _replace_rows(self, project_id: int, wanted: Rows, *, fresh: bool) -> None:
        """Write the project's rows: all of them when it is new; otherwise only those that differ
        from the stored ones (whole rows compared as tuples, in C), and delete the nodes it lost.

        On SQLite a changed row is updated in place, and a row whose package id did not change
        (its chain did: a lockfile gave it another parent) is updated without its package id, so
        its entry in the index on package ids is not rewritten. PostgreSQL deletes the changed rows
        and copies them in again. Chains name slots, not versions (npmaudit/inventory/chains.py):
        a moved version changes its own row and the root's, not its descendants'. Measured instead,
        with bench/inventory.py: one UPDATE per kind of change, joined to arrays of the rows'
        nodes and new values, was slower in every shape of changed add (2,000 projects, back to
        back: one writer 100 -> 80/s, batched 135 -> 97/s, 4 writers 145 -> 120/s), also with a
        fillfactor of 80 or 90 leaving room for heap-only updates of the chains; and pipelining
        the transaction's statements (5 round trips instead of 8 or 9) gained nothing reliable at
        10,000 projects and cost 4 writers 156-176 -> 141-155/s (four pairs of runs)."""
        db = self.backend
        if fresh:
            db.insert_rows("packages", PACKAGE_COLUMNS, [(project_id, *row) for row in wanted])
            return
        if not db.updates_in_place:
            self._delete_and_copy(project_id, wanted)
            return
        stored = {row[0]: row for row in db.execute(_SELECT_ROWS, (project_id,))}
        same = set(stored.values())
        changed = sorted(row for row in wanted if row not in same)
        kept = {row[0] for row in wanted}
        gone = [node for node in stored if node not in kept]
        for chunk in chunks(sorted(gone)):
            condition, nodes = db.among("node", chunk, "bigint")
            db.execute(f"DELETE FROM packages WHERE project_id = ? AND {condition}", (project_id, *nodes))
        # Most changed rows differ only in their package id (their own version moved), some in
        # their chain (a new parent): each kind has a statement that binds and writes only those
        # columns; anything else has every column rewritten.
        rechained, moved, other, added = [], [], [], []
        for row in changed:
            old = stored.get(row[0])
            if old is None:
                added.append(row)
            elif old[2:5] != row[2:5]:
                other.append((*row[1:], project_id, row[0]))
            elif old[1] == row[1]:
                rechained.append((row[5], project_id, row[0]))
            else:
                moved.append((row[1], row[5], project_id, row[0]))
        for columns, values in (
            (("chain",), rechained),
            (("package_id", "chain"), moved),
            (PACKAGE_COLUMNS[2:], other),
        ):
            if values:
                db.executemany(_UPDATE_ROW.format(", ".join(f"{column} = ?" for column in columns)), values)
        db.insert_rows("packages", PACKAGE_COLUMNS, [(project_id, *row) for row in added])

    def _delete_and_copy(self, project_id: int, wanted: Rows) -> None:
        """PostgreSQL's changed add: the stored rows read in binary (their chains arrive as bytes),
        compared with the wanted ones as whole tuples in C (set operations, no per-row Python), the
        nodes whose rows changed or went deleted by one statement, and the changed rows copied."""
        db = self.backend
        stored = db.execute(_SELECT_ROWS, (project_id,), binary=True)
        rows = set(wanted)
        kept = rows.intersection(stored)
        gone = {row[0] for row in stored}.difference([row[0] for row in kept])
        if gone:
            condition, nodes = db.among("node", sorted(gone), "bigint")
            db.execute(f"DELETE FROM packages WHERE project_id = ? AND {condition}", (project_id, *nodes))
        db.insert_rows("packages", PACKAGE_COLUMNS, [(project_id, *row) for row in sorted(rows.difference(kept))])

    def _package_ids(
        self,
        pairs: Sequence[tuple[str, str]],
        found: Sequence[int | None],
        ids: dict[tuple[str, str], int],
        learned: dict[tuple[str, str], int],
    ) -> list[int]:
        """Each row's package id: ``found`` (the committed ids known before the lock) where it has
        one, else the ids this transaction interned, interning the pairs nobody has an id for yet
        (inside the caller's write transaction)."""
        interned_here = ids.get
        fresh = {
            pair
            for pair, package_id in zip(pairs, found, strict=True)
            if package_id is None and interned_here(pair) is None
        }
        if fresh:
            interned = self.backend.intern(sorted(fresh), in_transaction=True)
            learned.update(interned)
            ids.update(interned)
        return [ids[pair] if package_id is None else package_id for pair, package_id in zip(pairs, found, strict=True)]

    def _look_up_first(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Learn (and return) the ids of these pairs that are already interned, in a read
        transaction that waits for no writer: committed ids are never reused, so they hold inside
        the write transaction that follows."""
        with self.backend.transaction(write=False):
            found = self.backend.look_up(pairs)
        self._ids.update(found)
        return found

    def _intern_first(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Learn (and return) the ids of these pairs, interning new ones in a transaction of their
        own, before the write transaction (see npmaudit/inventory/backends.py)."""
        found = self.backend.intern(pairs)
        self._ids.update(found)
        return found

    def remove(self, locations: Sequence[str]) -> list[str]:
        """Forget these projects (all of them or, when one is unknown, none)."""
        db = self.backend
        with db.transaction(write=True):
            # Locked before anything is deleted: an add of the same project writing its rows now
            # commits first, and its rows go with the project (read unlocked, they were not yet
            # seen, and stayed behind the deleted project). Locked in the order of their locations,
            # as `inventory audit` locks every project: two such writers wait in turn, never for each other.
            found: dict[str, int] = {}
            for location in sorted(set(locations)):
                rows = db.execute("SELECT id FROM projects WHERE location = ?" + db.lock_rows, (location,))
                if rows:
                    found[location] = rows[0][0]
            for location in locations:
                if location not in found:
                    raise InputError(self.location, f"no project {location!r} in this inventory")
            ids = [found[location] for location in dict.fromkeys(locations)]
            for project_id in ids:
                for table in ("packages", "findings"):
                    db.execute(f"DELETE FROM {table} WHERE project_id = ?", (project_id,))
                db.execute("DELETE FROM projects WHERE id = ?", (project_id,))
        return list(locations)

    # -- reading -------------------------------------------------------------------------------

    def projects(self) -> list[ProjectRecord]:
        db = self.backend
        with db.transaction(write=False):
            counts = {
                project_id: (findings, malicious)
                for project_id, findings, malicious in db.execute(
                    "SELECT project_id, COUNT(*), SUM(malicious) FROM findings GROUP BY project_id"
                )
            }
            rows = db.execute(
                "SELECT id, location, lockfile, lockfile_format, lockfile_sha256, labels, packages, added, updated "
                "FROM projects ORDER BY location"
            )
        return [
            ProjectRecord(
                id=row[0],
                location=row[1],
                lockfile=row[2],
                lockfile_format=row[3],
                lockfile_sha256=row[4],
                labels=parse_labels(row[5]),
                packages=row[6],
                added=row[7],
                updated=row[8],
                findings=int(counts.get(row[0], (0, 0))[0]),
                malicious=int(counts.get(row[0], (0, 0))[1] or 0),
            )
            for row in rows
        ]

    def query(self, specs: Sequence[Spec]) -> QueryResult:
        """Every install the specs match, in every project: the same answer as ``query -r`` over the files."""
        db = self.backend
        texts = tuple(spec.text for spec in specs)
        asked = {sql_text(name): name for spec in specs for name in spec.names}
        names = sorted(asked)
        with db.transaction(write=False):
            (scanned,) = db.execute("SELECT COUNT(*) FROM projects")[0]
            if not scanned:
                raise InputError(self.location, EMPTY)  # "nobody has it" would be a guess
            matched: dict[int, tuple[tuple[str, ...], tuple[str, ...], bool]] = {}
            for chunk in chunks(names):
                condition, values = db.among("name", chunk, "text")
                for package_id, name, version in db.execute(
                    f"SELECT id, name, version FROM package_versions WHERE {condition}", values
                ):
                    match = match_specs(specs, asked.get(name) or name, version)
                    if match is not None:
                        matched[package_id] = match
            installs = self._installs(sorted(matched))
            chains = self._decode({install[6] for install in installs})
            # Each project's parents come with its row, read in this same snapshot: a chain's slots
            # are resolved to package ids without a lookup per step.
            projects = self._project_rows(sorted({install[0] for install in installs}))
            resolved = self._resolve({(install[0], install[6]) for install in installs}, chains, projects)
            versions = self._versions(
                sorted({package_id for ids in resolved.values() for package_id in ids} | matched.keys())
            )
        labels = {package_id: _package_label(name, version) for package_id, (name, version) in versions.items()}
        # Installs of one version under the same chain of versions share their labels: a fleet's
        # projects repeat each other, so most installs of a broad answer reuse a tuple built for another.
        shared: dict[tuple[tuple[int, ...], int, bool], tuple[str, ...]] = {}
        by_project: dict[int, list[Hit]] = {}
        for project_id, node, package_id, location, source, flags, chain in installs:
            name, version = versions[package_id]
            ids = resolved[project_id, chain]
            key = (ids, package_id, node == ROOT_NODE)
            chain_labels = shared.get(key)
            if chain_labels is None:
                found = [labels[step] for step in ids]
                if chains[chain][1]:
                    found[0] = _label(ROOT_NODE, *versions[ids[0]])
                found.append(_label(node, name, version))
                chain_labels = shared[key] = tuple(found)
            spec_texts, advisories, malicious = matched[package_id]
            by_project.setdefault(project_id, []).append(
                Hit(
                    name,
                    version,
                    install_location(node, name, location),
                    source,
                    flags,
                    chain_labels,
                    spec_texts,
                    advisories,
                    malicious,
                )
            )
        hits = []
        for project_id, project_hits in by_project.items():
            location, lockfile, project_labels, _ = projects[project_id]
            project_hits.sort(key=lambda h: h.location)
            hits.append(ProjectHits(location, lockfile, tuple(project_hits), project_labels))
        hits.sort(key=lambda project: project.location)
        return QueryResult(texts, scanned, tuple(hits), messages=spec_notes(specs), recursive=True)

    def _installs(self, package_ids: Sequence[int]) -> list[Install]:
        """Every published install of these versions: project, node, package id, install path,
        source, flags and stored chain, read in one indexed pass: no per-install lookups."""
        found: list[Install] = []
        published = marks(len(_PUBLISHED))
        in_buckets, bucket_values = buckets(self.backend)
        for chunk in chunks(package_ids):
            wanted, values = self.backend.among("package_id", chunk, "bigint")
            for project_id, node, package_id, location, source, flags, chain in self.backend.execute(
                "SELECT project_id, node, package_id, location, source, flags, chain FROM packages"
                f" WHERE {in_buckets} AND {wanted} AND source IN ({published})",
                (*bucket_values, *values, *_PUBLISHED),
            ):
                # the root's row holds the project's parents, never a chain of its own
                found.append((project_id, node, package_id, location, source, flags, bytes(chain) if node else b""))
        return found

    def _decode(self, chains: Iterable[bytes]) -> dict[bytes, tuple[tuple[int, ...], bool]]:
        """Each distinct stored chain's slots, from the root's when it starts there; and whether it does."""
        try:
            return {chain: decode(chain) for chain in chains}
        except DamagedChain as error:
            raise InputError(self.location, f"damaged inventory: {error}") from None

    def _resolve(
        self,
        chained: Iterable[tuple[int, bytes]],
        chains: Mapping[bytes, tuple[tuple[int, ...], bool]],
        projects: Mapping[int, ProjectRow],
    ) -> dict[tuple[int, bytes], tuple[int, ...]]:
        """The package ids along each (project, chain): its slots looked up in the project's
        parents. A slot the project's parents lack is a damaged inventory, not a shorter chain."""
        resolved: dict[tuple[int, bytes], tuple[int, ...]] = {}
        try:
            for project_id, chain in chained:
                parents = projects[project_id][3]
                resolved[project_id, chain] = tuple(map(parents.__getitem__, chains[chain][0]))
        except IndexError:
            raise InputError(
                self.location, f"damaged inventory: project {project_id}'s chains name a parent it does not list"
            ) from None
        return resolved

    def _versions(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        found: dict[int, tuple[str, str]] = {}
        for chunk in chunks(ids):
            condition, values = self.backend.among("id", chunk, "bigint")
            for package_id, name, version in self.backend.execute(
                f"SELECT id, name, version FROM package_versions WHERE {condition}", values
            ):
                found[package_id] = (name, version)
        return found

    def _project_rows(self, ids: Sequence[int]) -> dict[int, ProjectRow]:
        """Each project's location, lockfile name, labels and parents (its root row's, read in binary:
        a PostgreSQL bytea arrives as bytes, not hex text), in one statement per chunk of ids."""
        found: dict[int, ProjectRow] = {}
        try:
            for chunk in chunks(ids):
                condition, values = self.backend.among("pr.id", chunk, "bigint")
                for project_id, location, lockfile, labels, parents in self.backend.execute(
                    "SELECT pr.id, pr.location, pr.lockfile, pr.labels, r.chain FROM projects pr "
                    f"LEFT JOIN packages r ON r.project_id = pr.id AND r.node = {ROOT_NODE} WHERE {condition}",
                    values,
                    binary=True,
                ):
                    found[project_id] = (
                        location,
                        os.path.basename(lockfile),
                        parse_labels(labels),
                        decode_parents(parents or b""),
                    )
        except DamagedChain as error:
            raise InputError(self.location, f"damaged inventory: {error}") from None
        return found


def pairs_of(rows: Sequence[PackageRow]) -> Iterator[tuple[str, str]]:
    """Each row's (name, version), in order."""
    return zip(map(_NAME, rows), map(_VERSION, rows), strict=True)


def stored_location(node: int, name: str, location: str) -> str:
    """A hoisted install's path (``node_modules/`` + its name: three rows in four) is stored as
    "": the column held a third of the inventory's bytes. Only the root's path is really ""."""
    return "" if node != ROOT_NODE and location == _HOISTED + name else location


def install_location(node: int, name: str, stored: str) -> str:
    return _HOISTED + name if node != ROOT_NODE and not stored else stored


def _details(entry: ProjectEntry) -> tuple[Any, ...]:
    """What the projects table records of an entry, as its SELECT returns it (after the id)."""
    labels = json.dumps(dict(entry.labels), sort_keys=True)
    return (entry.lockfile, entry.packages.lockfile_format, entry.lockfile_sha256, entry.packages.fingerprint, labels)


def _count(entry: ProjectEntry) -> int:
    return len(entry.packages.rows) - 1  # the root is not a package


def storable(entry: ProjectEntry) -> ProjectEntry:
    """The entry as the databases can hold it (UTF-8): a lone surrogate, from a lockfile's
    ``"\\ud800"`` escape, is kept as that escape's text, as the advisory store keeps it."""
    rows = entry.packages.rows
    texts = (entry.location, entry.lockfile, *entry.labels.keys(), *entry.labels.values())
    if entry.packages.is_utf8 and _encodable("".join(texts)):
        return entry  # the common case: the rows checked in the pass that takes their fingerprint
    rows = tuple(
        replace(row, name=sql_text(row.name), version=sql_text(row.version), location=sql_text(row.location))
        if not _encodable(row.name + row.version + row.location)
        else row
        for row in rows
    )
    return replace(
        entry,
        location=sql_text(entry.location),
        lockfile=sql_text(entry.lockfile),
        packages=PackageSet(entry.packages.lockfile_format, rows),
        labels={sql_text(key): sql_text(value) for key, value in entry.labels.items()},
    )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _label(node: int, name: str, version: str) -> str:
    return (name or "(root)") if node == ROOT_NODE else _package_label(name, version)


def _package_label(name: str, version: str) -> str:
    return f"{name}@{version}" if version else name


def parse_labels(text: str) -> dict[str, str]:
    """The labels as stored (JSON, written by :func:`_details`); {} for anything else.
    ``raw_decode`` skips ``json.loads``'s whitespace scans: a broad answer parses 10,000 of these."""
    try:
        value, end = _JSON.raw_decode(text)
    except ValueError:
        return {}
    if end != len(text) or not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}
