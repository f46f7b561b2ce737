"""The seed's local advisory database: OSV records in a JSON file (or any shape records.py reads).

Reading builds a name index in memory; writing merges by id, keeping the record with the newest
``modified`` (npm_ex keeps the oldest, so fixed and withdrawn advisories never reach its users),
and replaces the file atomically under an exclusive lock so concurrent writers lose nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from npmaudit.advisories.model import Advisory, AdvisoryFormatError
from npmaudit.advisories.records import iter_records
from npmaudit.advisories.source import SourceInfo
from npmaudit.atomicfile import atomic_replace
from npmaudit.errors import InputError
from npmaudit.project.model import PackageRef, Project


def parse_records(path: Path, records: Iterable[dict[str, Any]]) -> list[Advisory]:
    """Parse raw records, naming the file and the record when one is malformed."""
    advisories = []
    for index, record in enumerate(records):
        try:
            advisories.append(Advisory.from_osv(record))
        except AdvisoryFormatError as error:
            raise InputError(path, f"advisory #{index + 1}: {error}") from None
    return advisories


class AdvisoryIndex:
    """Advisories indexed by npm package name (an advisory naming several packages is listed under each)."""

    def __init__(self, advisories: Iterable[Advisory]) -> None:
        self._by_name: dict[str, list[Advisory]] = {}
        self.count = 0
        self.newest_modified: str | None = None
        for advisory in advisories:
            self.count += 1
            if advisory.modified and (self.newest_modified is None or advisory.modified > self.newest_modified):
                self.newest_modified = advisory.modified
            for name in advisory.package_names:
                self._by_name.setdefault(name, []).append(advisory)

    def lookup(self, names: Iterable[str]) -> dict[str, list[Advisory]]:
        return {name: self._by_name[name] for name in set(names) if name in self._by_name}


class JsonDatabase:
    """An :class:`AdvisorySource` over a JSON database file or directory, read once."""

    kind = "json-db"

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            raise InputError(path, "advisory database not found")
        self._index = AdvisoryIndex(parse_records(path, iter_records(path)))

    def prepare(self, project: Project, omit: frozenset[str]) -> JsonDatabase:
        """The same answers for every project: nothing to bind."""
        return self

    def info(self) -> SourceInfo:
        return SourceInfo(self.kind, str(self.path), self._index.count, self._index.newest_modified)

    def advisories_for(self, packages: Collection[PackageRef]) -> Mapping[str, Sequence[Advisory]]:
        return self._index.lookup(ref.name for ref in packages)


def record_key(record: Mapping[str, Any]) -> str:
    """Merge key: the id, or a content hash for a record without one."""
    advisory_id = record.get("id")
    if isinstance(advisory_id, str) and advisory_id:
        return advisory_id
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def newer(candidate: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """True when ``candidate`` should replace ``current``: strictly newer ``modified``.

    RFC 3339 times in UTC compare correctly as strings once normalised; a record without a
    ``modified`` is older than any record with one.
    """
    return _modified(candidate) > _modified(current)


def _modified(record: Mapping[str, Any]) -> str:
    value = record.get("modified")
    if not isinstance(value, str):
        return ""
    return value.replace("+00:00", "Z")


@dataclass(frozen=True)
class MergeResult:
    path: Path
    added: int
    updated: int
    total: int


def merge_records(
    existing: Iterable[dict[str, Any]], incoming: Iterable[dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], int, int]:
    """Merge by key, newest ``modified`` wins. Returns (merged by key, added, updated)."""
    merged: dict[str, dict[str, Any]] = {}
    for record in existing:
        key = record_key(record)
        if key not in merged or newer(record, merged[key]):
            merged[key] = record
    added = updated = 0
    for record in incoming:
        key = record_key(record)
        if key not in merged:
            merged[key] = record
            added += 1
        elif newer(record, merged[key]):
            merged[key] = record
            updated += 1
    return merged, added, updated


def merge_into_json_database(path: Path, incoming: Iterable[dict[str, Any]]) -> MergeResult:
    """Merge records into the JSON database at ``path`` (created when missing), atomically.

    An exclusive lock on a side file serialises concurrent writers, so each one reads the result
    of the previous and no record is lost; the database itself is only ever replaced whole.
    """
    incoming = list(incoming)
    if path.is_dir():
        # A directory of records is a database we read, never one we rewrite as a single file.
        raise InputError(path, "is a directory, not a JSON database file to merge into")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path):
            existing = list(iter_records(path)) if path.exists() else []
            merged, added, updated = merge_records(existing, incoming)
            if added or updated or not path.exists():
                write_json_database(path, merged.values())
    except OSError as error:  # a parent that is a file, no permission, a full disk: nothing was replaced
        raise InputError(path, f"cannot write: {error.strerror or error}") from None
    return MergeResult(path, added, updated, len(merged))


def write_json_database(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Write records as the seed's format: a JSON array sorted by id, keys sorted, 2-space indent."""
    ordered = sorted(records, key=record_key)
    text = json.dumps(ordered, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write_text(path, text)


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path`` and rename it over: readers never see half a file."""
    with atomic_replace(path) as stream:
        stream.write(text)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
