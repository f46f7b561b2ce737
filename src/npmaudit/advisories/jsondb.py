"""The seed's local advisory database: OSV records in a JSON file (or any shape records.py reads).

Reading builds a name index in memory; writing merges by id, keeping the record with the newest
``modified`` (npm_ex keeps the oldest, so fixed and withdrawn advisories never reach its users),
and replaces the file atomically under an exclusive lock on its directory (no lock file is left
beside it) so concurrent writers lose nothing. A record dated more than a day ahead is refused
(:mod:`npmaudit.advisories.record_times`), and a database with no usable record is an error: an
audit against it would look at nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.advisories.dirlock import directory_lock
from npmaudit.advisories.model import Advisory, AdvisoryFormatError
from npmaudit.advisories.record_times import RefusedRecord, latest_credible, refusal_message, time_problem
from npmaudit.advisories.records import iter_records
from npmaudit.advisories.source import SourceInfo
from npmaudit.atomicfile import atomic_replace, check_writable_target
from npmaudit.errors import InputError
from npmaudit.project.model import PackageRef, Project
from npmaudit.records import record_class
from npmaudit.settings import DEFAULT_MAX_DECOMPRESSED

if TYPE_CHECKING:
    from typing import Any


def parse_records(
    path: Path,
    records: Iterable[dict[str, Any]],
    *,
    latest: datetime | None = None,
    refused: list[RefusedRecord] | None = None,
) -> list[Advisory]:
    """Parse raw records, naming the file and the record when one is malformed. With ``latest``,
    a record dated after it is left out and added to ``refused`` (see record_times)."""
    advisories = []
    for index, record in enumerate(records):
        if latest is not None:
            problem = time_problem(record, latest)
            if problem is not None:
                if refused is not None:
                    refused.append(RefusedRecord(record_key(record), problem))
                continue
        try:
            advisories.append(Advisory.from_osv(record))
        except AdvisoryFormatError as error:
            raise InputError(path, f"advisory #{index + 1}: {error}") from None
    return advisories


class AdvisoryIndex:
    """Advisories indexed by npm package name (an advisory naming several packages is listed under each)."""

    def __init__(self, advisories: Iterable[Advisory]) -> None:
        self._by_name: dict[str, list[Advisory]] = {}
        self.all: list[Advisory] = []  # every advisory read, those naming no npm package included
        self.newest_modified: str | None = None
        for advisory in advisories:
            self.all.append(advisory)
            if advisory.modified and (self.newest_modified is None or advisory.modified > self.newest_modified):
                self.newest_modified = advisory.modified
            for name in advisory.package_names:
                self._by_name.setdefault(name, []).append(advisory)

    @property
    def count(self) -> int:
        return len(self.all)

    @property
    def names_any_package(self) -> bool:
        return bool(self._by_name)

    def lookup(self, names: Iterable[str]) -> dict[str, list[Advisory]]:
        return {name: self._by_name[name] for name in set(names) if name in self._by_name}


EMPTY_DATABASE_HINT = (
    "holds no advisory records: an audit against it would check nothing (fill a store with `npmaudit db update` "
    "or `npmaudit db import FILE`, or pass another --db)"
)


class JsonDatabase:
    """An :class:`AdvisorySource` over a JSON database file or directory, read once."""

    kind = "json-db"

    def __init__(self, path: Path, now: datetime | None = None, max_bytes: int = DEFAULT_MAX_DECOMPRESSED) -> None:
        self.path = path
        if not path.exists():
            raise InputError(path, "advisory database not found")
        self.refused: list[RefusedRecord] = []
        latest = latest_credible(now or datetime.now(UTC))
        self._index = AdvisoryIndex(
            parse_records(path, iter_records(path, max_bytes), latest=latest, refused=self.refused)
        )
        if self._index.count == 0:
            refused = f" ({len(self.refused)} refused for an impossible time)" if self.refused else ""
            raise InputError(path, EMPTY_DATABASE_HINT + refused)
        if not self._index.names_any_package:
            from npmaudit.advisories.local import FILL_HINT, NO_NPM_RECORD

            count = self._index.count
            raise InputError(path, f"{NO_NPM_RECORD} ({count} records of other ecosystems): {FILL_HINT}")

    def advisories(self) -> Sequence[Advisory]:
        """Every advisory the database holds, as read (records refused for an impossible time left out)."""
        return self._index.all

    def prepare(self, project: Project, omit: frozenset[str]) -> JsonDatabase:
        """The same answers for every project: nothing to bind."""
        return self

    def info(self) -> SourceInfo:
        warnings = (refusal_message(str(self.path), self.refused),) if self.refused else ()
        return SourceInfo(self.kind, str(self.path), self._index.count, self._index.newest_modified, warnings=warnings)

    def advisories_for(self, packages: Collection[PackageRef]) -> Mapping[str, Sequence[Advisory]]:
        return self._index.lookup(ref.name for ref in packages)


def record_key(record: Mapping[str, Any]) -> str:
    """Merge key: the id, or a content hash for a record without one."""
    advisory_id = record.get("id")
    if isinstance(advisory_id, str) and advisory_id:
        return advisory_id
    import hashlib  # here: loading OpenSSL's hashes costs every audit a few ms for this rare case

    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def newer(candidate: Mapping[str, Any], current: Mapping[str, Any], latest: datetime | None = None) -> bool:
    """True when ``candidate`` should replace ``current``: strictly newer ``modified``.

    RFC 3339 times in UTC compare correctly as strings once normalised; a record without a
    ``modified`` is older than any record with one. With ``latest``, a record whose times are
    impossible (see record_times) ranks as having none, so a credible copy replaces it.
    """
    return _rank(candidate, latest) > _rank(current, latest)


def _rank(record: Mapping[str, Any], latest: datetime | None) -> str:
    if latest is not None and time_problem(record, latest) is not None:
        return ""
    return _modified(record)


def _modified(record: Mapping[str, Any]) -> str:
    value = record.get("modified")
    if not isinstance(value, str):
        return ""
    return value.replace("+00:00", "Z")


@record_class(frozen=True)
class MergeResult:
    path: Path
    added: int
    updated: int
    total: int
    refused: tuple[RefusedRecord, ...] = ()

    def messages(self) -> list[str]:
        return [refusal_message(str(self.path), self.refused)] if self.refused else []


def merge_records(
    existing: Iterable[dict[str, Any]], incoming: Iterable[dict[str, Any]], latest: datetime | None = None
) -> tuple[dict[str, dict[str, Any]], int, int]:
    """Merge by key, newest ``modified`` wins. Returns (merged by key, added, updated)."""
    merged: dict[str, dict[str, Any]] = {}
    for record in existing:
        key = record_key(record)
        if key not in merged or newer(record, merged[key], latest):
            merged[key] = record
    added = updated = 0
    for record in incoming:
        key = record_key(record)
        if key not in merged:
            merged[key] = record
            added += 1
        elif newer(record, merged[key], latest):
            merged[key] = record
            updated += 1
    return merged, added, updated


def merge_into_json_database(
    path: Path, incoming: Iterable[dict[str, Any]], now: datetime | None = None
) -> MergeResult:
    """Merge records into the JSON database at ``path`` (created when missing), atomically.

    An exclusive lock on the directory serialises concurrent writers, so each one reads the result
    of the previous and no record is lost; the database itself is only ever replaced whole. An
    incoming record with an impossible time is refused; a stored one is replaced by any credible
    copy (see record_times).
    """
    latest = latest_credible(now or datetime.now(UTC))
    credible: list[dict[str, Any]] = []
    refused: list[RefusedRecord] = []
    for record in incoming:
        problem = time_problem(record, latest)
        if problem is None:
            credible.append(record)
        else:
            refused.append(RefusedRecord(record_key(record), problem))
    if path.is_dir() and not path.is_symlink():
        # A directory of records is a database we read, never one we rewrite as a single file.
        raise InputError(path, "is a directory, not a JSON database file to merge into")
    # A link (a project's file pointing elsewhere) is neither followed nor replaced: its target's
    # records would be copied into the project. Nor is a device or FIFO read or replaced.
    check_writable_target(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with directory_lock(path.parent):
            existing = list(iter_records(path)) if path.exists() else []
            merged, added, updated = merge_records(existing, credible, latest)
            if added or updated or not path.exists():
                write_json_database(path, merged.values())
    except OSError as error:  # a parent that is a file, no permission, a full disk: nothing was replaced
        raise InputError(path, f"cannot write: {error.strerror or error}") from None
    return MergeResult(path, added, updated, len(merged), tuple(refused))


def write_json_database(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Write records as the seed's format: a JSON array sorted by id, keys sorted, 2-space indent."""
    ordered = sorted(records, key=record_key)
    text = encodable_json(ordered, indent=2, sort_keys=True) + "\n"
    atomic_write_text(path, text)


def encodable_json(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)``, unless a string holds a lone surrogate
    (a record's ``"\\ud800"`` escape), which UTF-8 cannot encode: then every non-ASCII character is
    escaped, as ``ensure_ascii`` does. The same values either way."""
    text = json.dumps(value, ensure_ascii=False, **options)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, **options)
    return text


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path`` and rename it over: readers never see half a file."""
    with atomic_replace(path) as stream:
        stream.write(text)
