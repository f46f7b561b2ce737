"""The inventory: many projects' package sets in one database, and the queries it answers.

Adding a project whose package set is unchanged (same fingerprint) writes nothing but its labels;
a changed one has its rows replaced in one transaction, so a reader sees either the old set or the
new one, never half of each. A query pre-filters by name in SQL, tests its range on the distinct
versions of those names only (never loading whole projects into Python), then reads the installs
of the matching versions and rebuilds their chains with one recursive query.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Literal

from npmaudit.advisories.store_sqlite import sql_text
from npmaudit.errors import InputError
from npmaudit.inventory.backends import Backend, chunks, marks, open_backend
from npmaudit.inventory.packages import PUBLISHED_SOURCES, PackageSet
from npmaudit.inventory.results import Hit, ProjectHits, QueryResult, match_specs, spec_notes
from npmaudit.inventory.spec import Spec

PACKAGE_COLUMNS = ("project_id", "node", "package_id", "location", "source", "flags", "parent")
_PUBLISHED = tuple(sorted(PUBLISHED_SOURCES))
MAX_CHAIN_DEPTH = 1000  # parents form a tree; the bound only guards a damaged database

AddStatus = Literal["added", "replaced", "unchanged"]
EMPTY = "no project in this inventory yet: add projects with `npmaudit inventory add`"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ProjectEntry:
    """One project to add: where it is, what it installs, and how the caller labels it."""

    location: str
    lockfile: str
    lockfile_sha256: str | None
    packages: PackageSet
    labels: Mapping[str, str]


@dataclass(frozen=True)
class AddResult:
    location: str
    status: AddStatus
    packages: int


@dataclass(frozen=True)
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
        entry = storable(entry)
        now = now or utc_now()
        db = self.backend
        labels = json.dumps(dict(entry.labels), sort_keys=True)
        fingerprint = entry.packages.fingerprint
        count = len(entry.packages.rows) - 1  # the root is not a package
        details = (entry.lockfile, entry.packages.lockfile_format, entry.lockfile_sha256, fingerprint, labels)
        select = (
            "SELECT id, lockfile, lockfile_format, lockfile_sha256, fingerprint, labels FROM projects "
            "WHERE location = ?"
        )
        current = db.execute(select, (entry.location,))
        if current and tuple(current[0][1:]) == details:
            return AddResult(entry.location, "unchanged", count)  # nothing to write, no lock taken
        changed = not current or current[0][4] != fingerprint
        ids = self._package_ids(entry.packages) if changed and not db.interns_in_transaction else {}
        learned: dict[tuple[str, str], int] = {}
        with db.transaction(write=True):
            current = db.execute(select + db.lock_rows, (entry.location,))
            if not current:
                current = db.execute(
                    "INSERT INTO projects (location, lockfile, lockfile_format, lockfile_sha256, fingerprint, labels, "
                    "packages, added, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (location) DO NOTHING RETURNING id, lockfile, lockfile_format, lockfile_sha256, "
                    "fingerprint, labels",
                    (entry.location, *details[:3], "", labels, count, now, now),
                )
                status: AddStatus = "added"
                if not current:  # another writer added it first; wait for its row, then replace its set
                    current = db.execute(select + db.lock_rows, (entry.location,))
                    status = "replaced"
            else:
                status = "replaced"
            project_id, stored = current[0][0], current[0][4]
            if stored == fingerprint:
                status = "unchanged"
            else:
                if not ids:
                    ids, learned = self._package_ids_locked(entry.packages)
                db.execute("DELETE FROM packages WHERE project_id = ?", (project_id,))
                db.insert_rows(
                    "packages",
                    PACKAGE_COLUMNS,
                    (
                        (
                            project_id,
                            row.node,
                            ids[(row.name, row.version)],
                            row.location,
                            row.source,
                            row.flags,
                            row.parent,
                        )
                        for row in entry.packages.rows
                    ),
                )
            db.execute(
                "UPDATE projects SET lockfile = ?, lockfile_format = ?, lockfile_sha256 = ?, fingerprint = ?, "
                "labels = ?, packages = ?, updated = ? WHERE id = ?",
                (*details, count, now, project_id),
            )
        self._ids.update(learned)  # only once committed: a rolled-back id must not be reused
        return AddResult(entry.location, status, count)

    def _package_ids(self, packages: PackageSet) -> dict[tuple[str, str], int]:
        """Ids of the set's (name, version) pairs, new ones interned and committed on their own."""
        pairs = {(row.name, row.version) for row in packages.rows}
        missing = [pair for pair in pairs if pair not in self._ids]
        if missing:
            self._ids.update(self.backend.intern(missing))
        return {pair: self._ids[pair] for pair in pairs}

    def _package_ids_locked(
        self, packages: PackageSet
    ) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
        """Inside the caller's write transaction: the ids, and those learned (to cache after the commit)."""
        pairs = {(row.name, row.version) for row in packages.rows}
        missing = [pair for pair in pairs if pair not in self._ids]
        learned = self.backend.intern(missing, in_transaction=True) if missing else {}
        return {pair: self._ids.get(pair) or learned[pair] for pair in pairs}, learned

    def remove(self, locations: Sequence[str]) -> list[str]:
        """Forget these projects (all of them or, when one is unknown, none)."""
        db = self.backend
        with db.transaction(write=True):
            ids = []
            for location in locations:
                found = db.execute("SELECT id FROM projects WHERE location = ?", (location,))
                if not found:
                    raise InputError(self.location, f"no project {location!r} in this inventory")
                ids.append(found[0][0])
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
                for package_id, name, version in db.execute(
                    f"SELECT id, name, version FROM package_versions WHERE name IN ({marks(len(chunk))})", chunk
                ):
                    match = match_specs(specs, asked.get(name) or name, version)
                    if match is not None:
                        matched[package_id] = match
            installs, chains = self._chains(sorted(matched))
            versions = self._versions(sorted({package_id for chain in chains.values() for _, package_id in chain}))
            projects = self._project_rows(sorted({project_id for project_id, _ in installs}))
        by_project: dict[int, list[Hit]] = {}
        for key, (package_id, location, source, flags) in installs.items():
            name, version = versions[package_id]
            steps = [_label(node, *versions[step_id]) for node, step_id in reversed(chains[key])]
            spec_texts, advisories, malicious = matched[package_id]
            by_project.setdefault(key[0], []).append(
                Hit(name, version, location, source, flags, tuple(steps), spec_texts, advisories, malicious)
            )
        hits = []
        for project_id, project_hits in by_project.items():
            location, lockfile, labels = projects[project_id]
            hits.append(ProjectHits(location, lockfile, tuple(sorted(project_hits, key=lambda h: h.location)), labels))
        hits.sort(key=lambda project: project.location)
        return QueryResult(texts, scanned, tuple(hits), messages=spec_notes(specs), recursive=True)

    def _chains(
        self, package_ids: Sequence[int]
    ) -> tuple[dict[tuple[int, int], tuple[int, str, str, int]], dict[tuple[int, int], list[tuple[int, int]]]]:
        """Every published install of these versions, by (project, node): (package id, install path,
        source, flags); and its chain as (node, package id) from the install up to the root.

        The recursion carries what it needs, so no step joins the whole packages table (PostgreSQL
        would plan a full scan for that join, its estimate of the chain's size being far too high).
        """
        installs: dict[tuple[int, int], tuple[int, str, str, int]] = {}
        steps: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
        published = marks(len(_PUBLISHED))
        for chunk in chunks(package_ids):
            rows = self.backend.execute(
                "WITH RECURSIVE chain (project_id, start, depth, node, parent, package_id) AS ("
                " SELECT project_id, node, 0, node, parent, package_id FROM packages"
                f" WHERE package_id IN ({marks(len(chunk))}) AND source IN ({published})"
                " UNION ALL"
                " SELECT c.project_id, c.start, c.depth + 1, p.node, p.parent, p.package_id FROM chain c"
                " JOIN packages p ON p.project_id = c.project_id AND p.node = c.parent"
                f" WHERE c.depth < {MAX_CHAIN_DEPTH})"
                " SELECT project_id, start, depth, node, package_id FROM chain",
                (*chunk, *_PUBLISHED),
            )
            for project_id, start, depth, node, package_id in rows:
                steps.setdefault((project_id, start), []).append((depth, node, package_id))
            for project_id, node, package_id, location, source, flags in self.backend.execute(
                "SELECT project_id, node, package_id, location, source, flags FROM packages"
                f" WHERE package_id IN ({marks(len(chunk))}) AND source IN ({published})",
                (*chunk, *_PUBLISHED),
            ):
                installs[(project_id, node)] = (package_id, location, source, flags)
        chains = {key: [(node, package_id) for _, node, package_id in sorted(chain)] for key, chain in steps.items()}
        return installs, chains

    def _versions(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        found: dict[int, tuple[str, str]] = {}
        for chunk in chunks(ids):
            for package_id, name, version in self.backend.execute(
                f"SELECT id, name, version FROM package_versions WHERE id IN ({marks(len(chunk))})", chunk
            ):
                found[package_id] = (name, version)
        return found

    def _project_rows(self, ids: Sequence[int]) -> dict[int, tuple[str, str, Mapping[str, str]]]:
        found: dict[int, tuple[str, str, Mapping[str, str]]] = {}
        for chunk in chunks(ids):
            for project_id, location, lockfile, labels in self.backend.execute(
                f"SELECT id, location, lockfile, labels FROM projects WHERE id IN ({marks(len(chunk))})", chunk
            ):
                found[project_id] = (location, PurePath(lockfile).name, parse_labels(labels))
        return found


def storable(entry: ProjectEntry) -> ProjectEntry:
    """The entry as the databases can hold it (UTF-8): a lone surrogate, from a lockfile's
    ``"\\ud800"`` escape, is kept as that escape's text, as the advisory store keeps it."""
    rows = tuple(
        replace(row, name=sql_text(row.name), version=sql_text(row.version), location=sql_text(row.location))
        if not _encodable(row.name + row.version + row.location)
        else row
        for row in entry.packages.rows
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
    if node == 0:
        return name or "(root)"
    return f"{name}@{version}" if version else name


def parse_labels(text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
