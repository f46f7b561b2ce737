"""The SQLite advisory store: the default local database, shared by every project of a user.

Each full OSV record is stored once (compact JSON, deflated with a preset dictionary: OSV records
repeat the same keys and boilerplate, so a per-record dictionary cuts the store about sixfold while
each record stays readable on its own), with its ``modified`` time, and indexed by every npm
package name it affects. An audit reads only the rows of the names its project installs.

Writers take SQLite's write lock up front (``BEGIN IMMEDIATE``) and wait for each other
(``busy_timeout``); one import is one transaction, so a killed import leaves the store exactly as
it was, and concurrent writers each merge into the other's result (newest ``modified`` wins).
WAL mode lets audits read while an import writes.

A store that does not exist yet is built under a temporary name beside it and renamed into place
only once it holds records (:func:`filling_store`): a failed or killed first import or update
leaves no store behind, rather than an empty one that an audit would pass against. A store is
*filled* once a ``db import`` or ``db update`` has succeeded (meta ``updated``); one that only
``audit --write-cache`` wrote is a cache, not a database. A record whose times are impossible is
refused (:mod:`npmaudit.advisories.record_times`).
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.advisories.model import Advisory, AdvisoryFormatError, MalformedRecordError, index_fields
from npmaudit.advisories.record_times import (
    RefusedRecord,
    is_credible_time,
    latest_credible,
    parse_time,
    refusal_message,
    time_problem,
)
from npmaudit.advisories.source import SourceInfo
from npmaudit.advisories.store_sqlite import (
    _ZDICT,
    SQLITE_SIDE_FILES,
    _check_side_files,
    _connect,
    _locked_errors,
    _meta,
    _prepare,
    _reading,
    _rollback,
    _set_meta,
    _sqlite_errors,
    _text,
    check_store_target,
    sql_text,
)
from npmaudit.errors import InputError
from npmaudit.progress import Progress, no_progress
from npmaudit.project.model import PackageRef, Project
from npmaudit.records import record_class

if TYPE_CHECKING:
    from typing import Any

LOOKUP_CHUNK = 500  # bound parameters per IN (...) query, far below SQLite's limits
WRITE_BATCH = 2000
# Deflate settings for new records (any zlib stream reads back the same way, whatever its settings).
# Level 1 with a small window and hash: the per-record state is copied for each of 215k records,
# and a copy of the default one (over 256 KB) costs more than deflating the record (measured: level 6
# with the default window 3.3 s, at times 10 s and more; level 1, 4 KB window 2.6 s, blobs 7% larger).
COMPRESSION_LEVEL = 1
COMPRESSION_MEMORY = 6  # zlib's memLevel: a 16 KB hash table (the default 8: 64 KB)
PROGRESS_EVERY = 5000  # records between two progress reports
DECODED_LIMIT = 50_000  # decoded records kept per store object (see AdvisoryStore.lookup)
FILLING_MARK = ".filling-"  # a store being built: ".<name>.filling-<random>", renamed to <name> when filled

# Store-freshness sources: a write-cache merge adds a few matched records, it does not make the
# rest of the store any newer, so it never moves the "updated" time that --max-db-age checks.
WRITE_CACHE_KIND = "write-cache"
MIRROR_KIND = "mirror"


# One raw record as a reader yields it: the parsed object, its JSON text when the reader already has
# a compact one (JSON Lines), and where it came from for error messages (a line number or a name).
RawRecord = tuple[dict[str, object], str | bytes | None, int | str]


@record_class(frozen=True)
class ImportSource:
    location: str
    kind: str  # "file", "zip", "directory", "store", "mirror", "write-cache"
    records: Iterable[RawRecord]
    state: Mapping[str, Any] | None = None  # kept with the source (the mirror keeps its position)
    # A source that yields no record fails the import (an empty file is no database), except where
    # nothing is a valid answer: a mirror's delta with no change, a write-back with no match.
    allow_empty: bool = False
    expected: int | None = None  # how many records it will yield, when known (for progress)


@record_class(frozen=True)
class SourceCounts:
    location: str
    kind: str
    records: int
    added: int
    changed: int
    refused: tuple[RefusedRecord, ...] = ()
    newest_modified: str = ""  # the newest credible 'modified' the source held


@record_class(frozen=True)
class ImportResult:
    path: Path
    sources: tuple[SourceCounts, ...]
    total: int  # records in the store afterwards

    @property
    def added(self) -> int:
        return sum(s.added for s in self.sources)

    @property
    def changed(self) -> int:
        return sum(s.changed for s in self.sources)

    def messages(self) -> list[str]:
        """What the caller should say on stderr: the records each source had refused."""
        return [refusal_message(s.location, s.refused) for s in self.sources if s.refused]


@record_class(frozen=True)
class SourceRecord:
    location: str
    kind: str
    updated: str
    records: int
    added: int
    changed: int
    state: Mapping[str, Any]


@record_class(frozen=True)
class StoreStats:
    path: Path
    schema_version: int
    records: int
    vulnerabilities: int  # active, not malicious
    malicious: int  # active
    withdrawn: int
    packages: int  # distinct npm names of active records
    newest_modified: str | None  # of every record, write-cache ones too
    updated: str | None  # last successful import / update (not write-cache): None = never filled
    synced: str | None  # last successful update from a mirror
    data_modified: str | None  # the newest 'modified' of the records imports and updates brought
    sources: tuple[SourceRecord, ...]


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def modified_key(record: Mapping[str, Any]) -> str:
    """The comparable ``modified`` of a record: the same rule as :func:`jsondb.newer`."""
    value = record.get("modified")
    if not isinstance(value, str):
        return ""
    return value.replace("+00:00", "Z")


class AdvisoryStore:
    """An :class:`AdvisorySource` over a SQLite store; also the store's writer."""

    kind = "sqlite"

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path  # the store's name (a store being filled is written under another one)
        self._db = connection
        with _locked_errors(path):
            zdict = _meta(connection, "zdict")
        if zdict is not None and not isinstance(zdict, bytes):
            raise InputError(path, "damaged advisory store: bad compression dictionary")
        self._zdict = zdict or _ZDICT
        # Setting a preset dictionary up costs more than deflating a small record: it is done once
        # here, and every record is (de)compressed by a copy (the bytes are the same).
        self._deflater = zlib.compressobj(
            COMPRESSION_LEVEL,
            zlib.DEFLATED,
            _window_bits(self._zdict),
            COMPRESSION_MEMORY,
            zlib.Z_DEFAULT_STRATEGY,
            self._zdict,
        )
        self._inflater = zlib.decompressobj(zdict=self._zdict)
        self._info: SourceInfo | None = None
        self._decoded: dict[str, tuple[str, Advisory]] = {}  # key -> (modified, the record as decoded)

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, create: bool = False, shown_as: Path | None = None) -> AdvisoryStore:
        """Open a store; with ``create``, make it (and migrate an older one). A missing store
        without ``create`` is an :class:`InputError`: an audit never runs against nothing.
        ``shown_as`` names the store in messages when ``path`` is a temporary file."""
        name = shown_as or path
        if not create and not path.exists():
            raise InputError(name, "advisory store not found")
        if path.exists() and not path.is_file():
            kind = "a directory" if path.is_dir() else "not a regular file (a device, FIFO or socket)"
            raise InputError(name, f"not an advisory store: it is {kind}")
        if create:
            check_store_target(path, name)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise InputError(name, f"cannot create the advisory store: {error.strerror or error}") from None
        _check_side_files(path, name)
        connection = _connect(path, create=create, name=name)
        try:
            _prepare(name, connection, writable=create)
            return cls(name, connection)
        except BaseException:
            connection.close()
            raise

    def close(self) -> None:
        self._db.close()

    def fold_wal(self) -> None:
        """Copy every committed page from the write-ahead log into the database file."""
        with _locked_errors(self.path):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _journal_mode(self, mode: str) -> None:
        with _locked_errors(self.path):
            (now,) = self._db.execute(f"PRAGMA journal_mode = {mode}").fetchone()
        if str(now).upper() != mode:
            raise InputError(self.path, f"advisory store: cannot set the journal mode to {mode} (it is {now})")

    def __enter__(self) -> AdvisoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- AdvisorySource ------------------------------------------------------------------------

    def prepare(self, project: Project, omit: frozenset[str]) -> AdvisoryStore:
        """The same answers for every project: nothing to bind."""
        return self

    def info(self) -> SourceInfo:
        """``newest_modified`` is that of the data imports and updates brought (a write-cache
        merge adds a few fresh records; it does not make the rest any newer); ``details`` has
        ``updated`` (the last successful import or update: absent when the store was never
        filled) and ``synced`` (the last successful update from a mirror, when there was one)."""
        if self._info is None:
            with _reading(self.path):
                records = _meta(self._db, "records")
                details = {"updated": _text(_meta(self._db, "updated")), "synced": self._synced()}
                newest = self._data_modified()
            if not isinstance(records, int | None):
                raise InputError(self.path, "damaged advisory store: bad record count")
            self._info = SourceInfo(
                self.kind,
                str(self.path),
                records or 0,
                newest,
                {k: v for k, v in details.items() if v is not None},
            )
        return self._info

    def _synced(self) -> str | None:
        row = self._db.execute("SELECT MAX(updated) FROM sources WHERE kind = ?", (MIRROR_KIND,)).fetchone()
        return _text(row[0]) if row else None

    def _data_modified(self) -> str | None:
        # Stores written before 'data_modified' was kept: the newest record of any kind stands in.
        return _text(_meta(self._db, "data_modified")) or _text(_meta(self._db, "newest_modified"))

    def advisories_for(self, packages: Collection[PackageRef]) -> Mapping[str, Sequence[Advisory]]:
        names = sorted({ref.name for ref in packages})
        return self.lookup(names)

    def lookup(self, names: Sequence[str]) -> dict[str, list[Advisory]]:
        """Every record (withdrawn ones too) indexed under each of ``names``.

        A record is decoded (inflated, parsed, modelled) once per store object and ``modified``:
        the projects of a ``-r`` run share the sources, and so the advisories they have in common.
        """
        decoded = self._decoded
        found: dict[str, list[Advisory]] = {}
        # As indexed -> as asked (sql_text keeps an ASCII name as it is: nearly every name, tested inline).
        asked = {name if name.isascii() else sql_text(name): name for name in names}
        stored = list(asked)
        with _reading(self.path):
            for start in range(0, len(stored), LOOKUP_CHUNK):
                chunk = stored[start : start + LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT a.name, v.key, v.modified, v.record FROM affected a JOIN advisories v ON v.key = a.key "
                    f"WHERE a.name IN ({marks})",
                    chunk,
                )
                for name, key, modified, blob in rows:
                    known = decoded.get(key)
                    if known is not None and known[0] == modified:
                        advisory = known[1]
                    else:
                        if len(decoded) >= DECODED_LIMIT:
                            decoded.clear()  # a long-lived reader (a server) stays bounded
                        advisory = self._advisory(key, blob)
                        decoded[key] = (modified, advisory)
                    found.setdefault(asked.get(name, name), []).append(advisory)
        return found

    def record(self, key: str) -> dict[str, Any] | None:
        """The stored record whose id is ``key`` (as written), or None."""
        with _reading(self.path):
            row = self._db.execute("SELECT record FROM advisories WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            try:
                record = json.loads(self._decode(row[0]))
            except (ValueError, TypeError, zlib.error) as error:
                raise InputError(self.path, f"damaged record {key}: {error}") from None
        if not isinstance(record, dict):
            raise InputError(self.path, f"damaged record {key}: not a JSON object")
        return record

    def _advisory(self, key: str, blob: bytes) -> Advisory:
        try:
            return Advisory.from_osv(json.loads(self._decode(blob)))
        except (ValueError, TypeError, zlib.error) as error:  # TypeError: a damaged page changed a type
            raise InputError(self.path, f"damaged record {key}: {error}") from None

    def _decode(self, blob: bytes) -> bytes:
        inflater = self._inflater.copy()  # a copy of one prepared with the dictionary: no set-up per record
        return inflater.decompress(blob) + inflater.flush()

    def _encode(self, text: bytes) -> bytes:
        deflater = self._deflater.copy()
        return deflater.compress(text) + deflater.flush()

    # -- reading everything --------------------------------------------------------------------

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Every record, sorted by key (the seed's export order), streamed."""
        for record, _ in self._iter_parsed(lambda text: (json.loads(text), False)):
            yield record

    def _iter_parsed(self, parse: Callable[[bytes], tuple[Any, bool]]) -> Iterator[tuple[Any, bool]]:
        with _reading(self.path):
            for key, blob in self._db.execute("SELECT key, record FROM advisories ORDER BY key"):
                try:
                    yield parse(self._decode(blob))
                except (ValueError, TypeError, zlib.error) as error:
                    raise InputError(self.path, f"damaged record {key}: {error}") from None

    def names_any_package(self) -> bool:
        """True when some record affects an npm package: records of other ecosystems only (a PyPI
        ``all.zip`` imported by mistake) could match nothing, so an audit against them looks at nothing."""
        with _reading(self.path):
            return self._db.execute("SELECT 1 FROM affected LIMIT 1").fetchone() is not None

    def modified_by_key(self) -> dict[str, str]:
        with _reading(self.path):
            return dict(self._db.execute("SELECT key, modified FROM advisories"))

    def stats(self) -> StoreStats:
        with _reading(self.path):
            db = self._db
            counts = db.execute(
                "SELECT COUNT(*), "
                "COALESCE(SUM(withdrawn IS NULL AND malicious = 0), 0), "
                "COALESCE(SUM(withdrawn IS NULL AND malicious = 1), 0), "
                "COALESCE(SUM(withdrawn IS NOT NULL), 0), MAX(modified) FROM advisories"
            ).fetchone()
            (packages,) = db.execute(
                "SELECT COUNT(DISTINCT a.name) FROM affected a JOIN advisories v ON v.key = a.key "
                "WHERE v.withdrawn IS NULL"
            ).fetchone()
            sources = tuple(
                SourceRecord(location, kind, updated, records, added, changed, self._state(state))
                for location, kind, updated, records, added, changed, state in db.execute(
                    "SELECT location, kind, updated, records, added, changed, state FROM sources "
                    "ORDER BY updated DESC, location"
                )
            )
            (version,) = db.execute("PRAGMA user_version").fetchone()
            updated = _text(_meta(db, "updated"))
            synced = self._synced()
            data_modified = self._data_modified()
        return StoreStats(
            path=self.path,
            schema_version=version,
            records=counts[0],
            vulnerabilities=counts[1],
            malicious=counts[2],
            withdrawn=counts[3],
            packages=packages,
            newest_modified=counts[4] or None,
            updated=updated,
            synced=synced,
            data_modified=data_modified,
            sources=sources,
        )

    def _state(self, text: str | None) -> Mapping[str, Any]:
        try:
            state = json.loads(text or "{}")
        except ValueError:
            raise InputError(self.path, "damaged advisory store: a source's state is not JSON") from None
        return state if isinstance(state, dict) else {}

    # -- writing -------------------------------------------------------------------------------

    def merge(
        self, sources: Sequence[ImportSource], *, now: str | None = None, progress: Progress = no_progress
    ) -> ImportResult:
        """Merge every source in ONE transaction: all of them or (on error or kill) none.

        By key, the record with the strictly newest ``modified`` wins; a withdrawn record replaces
        the active one it withdraws. Records that are not newer are skipped before being parsed,
        which keeps a re-import of unchanged data cheap. A record dated more than a day after
        ``now`` is refused (ImportResult.messages names it); a stored copy with such a date, from a
        store written before that rule, is replaced by any credible copy.

        A source that yields no record (unless it allows that) and an import or update that
        would leave the store with no record are errors: the store stays as it was.
        """
        now = now or utc_now()
        latest = latest_credible(parse_time(now) or datetime.now(UTC))
        fills = [source for source in sources if source.kind != WRITE_CACHE_KIND]
        counts: list[SourceCounts] = []
        with _gc_paused(), self._write_transaction():
            existing = dict(self._db.execute("SELECT key, modified FROM advisories"))
            _forget_impossible_times(existing, latest)
            for source in sources:
                counts.append(self._merge_source(source, existing, latest, progress))
                if not source.allow_empty and counts[-1].records == 0:
                    raise InputError(source.location, "no advisory records: nothing to import")
                if source.kind == WRITE_CACHE_KIND and not (counts[-1].added or counts[-1].changed):
                    continue  # nothing learned: leave the sources table alone
                self._db.execute(
                    "INSERT INTO sources (location, kind, updated, records, added, changed, state) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (location) DO UPDATE SET kind = excluded.kind, "
                    "updated = excluded.updated, records = excluded.records, added = excluded.added, "
                    "changed = excluded.changed, state = excluded.state",
                    (
                        sql_text(source.location),
                        source.kind,
                        now,
                        counts[-1].records,
                        counts[-1].added,
                        counts[-1].changed,
                        json.dumps(dict(source.state or {}), sort_keys=True),
                    ),
                )
            total, newest = self._db.execute("SELECT COUNT(*), MAX(modified) FROM advisories").fetchone()
            if fills and total == 0:
                raise InputError(self.path, "no record could be imported: the store was left as it was")
            _set_meta(self._db, "records", total)
            _set_meta(self._db, "newest_modified", newest or None)
            if fills:
                brought = max((c.newest_modified for c in counts if c.kind != WRITE_CACHE_KIND), default="")
                _set_meta(self._db, "data_modified", max(brought, self._previous_data_modified(latest)) or None)
                _set_meta(self._db, "updated", now)
        self._info = None
        return ImportResult(self.path, tuple(counts), total)

    def _previous_data_modified(self, latest: datetime) -> str:
        previous = _text(_meta(self._db, "data_modified")) or ""
        if not previous or is_credible_time(previous, latest):
            return previous
        # Recorded before impossible times were refused: the newest credible record stands in.
        cutoff = latest.strftime("%Y-%m-%dT%H:%M:%SZ")
        (newest,) = self._db.execute("SELECT MAX(modified) FROM advisories WHERE modified <= ?", (cutoff,)).fetchone()
        return _text(newest) or ""

    def _merge_source(
        self, source: ImportSource, existing: dict[str, str], latest: datetime, progress: Progress
    ) -> SourceCounts:
        db = self._db
        seen = added = changed = npm_named = known = 0
        newest = ""
        refused: list[RefusedRecord] = []
        rows: list[tuple[str, str, str | None, int, str, bytes]] = []
        index_rows: list[tuple[str, str]] = []
        task = f"importing {source.location}"

        def flush() -> None:
            db.executemany(
                "INSERT INTO advisories (key, modified, withdrawn, malicious, names, record) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET modified = excluded.modified, withdrawn = excluded.withdrawn, "
                "malicious = excluded.malicious, names = excluded.names, record = excluded.record",
                rows,
            )
            db.executemany("INSERT OR IGNORE INTO affected (name, key) VALUES (?, ?)", index_rows)
            rows.clear()
            index_rows.clear()

        from npmaudit.advisories.jsondb import encodable_json, record_key  # the import's only: not for an audit

        copy_deflater = self._deflater.copy
        for record, text, where in source.records:
            seen += 1
            if seen % PROGRESS_EVERY == 0:
                progress(task, seen, source.expected)
            if text is not None and not _has_id(record):
                record = _standard_parse(record, text)  # keyed by a hash of its values: the standard library's
            key = sql_text(record_key(record))
            modified = sql_text(modified_key(record))
            current = existing.get(key)
            if current is not None and modified <= current:
                known += 1
                if modified > newest:
                    newest = modified  # not newer than a stored, credible copy: credible too
                continue
            problem = time_problem(record, latest)
            if problem is not None:
                refused.append(RefusedRecord(key, problem))
                continue
            if modified > newest:
                newest = modified
            try:
                # Checked as Advisory.from_osv checks a record, without building the model: the
                # store keeps the record's text and indexes these three fields.
                fields = index_fields(record)
            except AdvisoryFormatError as error:
                if text is not None:
                    error = _refusal(_standard_parse(record, text), error)
                line = where if isinstance(where, int) else None
                label = "" if line is not None else f"{where}: "
                raise MalformedRecordError(source.location, f"{label}{error}", line) from None
            names = sorted([sql_text(name) for name in fields.package_names])
            npm_named += bool(names)
            if current is None:
                added += 1
            else:
                changed += 1
                flush()  # the old index rows must go before this record's new ones are written
                self._unindex(key)
            if text is None:
                text = encodable_json(record, separators=(",", ":"))
            if isinstance(text, str):
                text = text.encode()
            deflater = copy_deflater()  # prepared with the dictionary once (see __init__)
            withdrawn = fields.withdrawn
            rows.append(
                (
                    key,
                    modified,
                    sql_text(withdrawn) if withdrawn is not None else None,
                    int(fields.malicious),
                    "\n".join(names),
                    deflater.compress(text) + deflater.flush(),
                )
            )
            for name in names:
                index_rows.append((name, key))
            existing[key] = modified
            if len(rows) >= WRITE_BATCH:
                flush()
        flush()
        if seen and not (npm_named or known or refused or source.allow_empty):
            # A PyPI or Go file given by mistake: stored, it would later be refused as a database
            # holding no npm record; refused now, the mistake is named where it was made.
            raise InputError(
                source.location,
                f"none of its {seen} records affects an npm package (other ecosystems only): nothing to import",
            )
        progress(task, seen, seen)
        return SourceCounts(source.location, source.kind, seen, added, changed, tuple(refused), newest)

    def _unindex(self, key: str) -> None:
        row = self._db.execute("SELECT names FROM advisories WHERE key = ?", (key,)).fetchone()
        if row and row[0]:
            stale = [(name, key) for name in row[0].split("\n")]
            self._db.executemany("DELETE FROM affected WHERE name = ? AND key = ?", stale)

    @contextmanager
    def _write_transaction(self) -> Iterator[None]:
        """One transaction; any SQLite failure inside it (a full disk, an I/O error) is an
        :class:`InputError` naming the store, which is left as it was."""
        with _locked_errors(self.path):
            self._db.execute("BEGIN IMMEDIATE")
        try:
            with _sqlite_errors(self.path):
                yield
        except BaseException:
            _rollback(self._db)
            raise
        try:
            with _locked_errors(self.path):
                self._db.execute("COMMIT")
        except BaseException:
            _rollback(self._db)
            raise


def _window_bits(zdict: bytes) -> int:
    """The deflate window for records: the preset dictionary and about 1 KB of record beside it (a
    record's boilerplate is found in the dictionary, not in itself); 4 KB for the built-in one."""
    return min(15, max(12, (len(zdict) + 1024).bit_length()))


def _has_id(record: Mapping[str, Any]) -> bool:
    advisory_id = record.get("id")
    return isinstance(advisory_id, str) and bool(advisory_id)


def _standard_parse(record: dict[str, Any], text: str | bytes) -> dict[str, Any]:
    """The record as the standard library reads its text: a reader may have used orjson, which reads an
    integer beyond 64 bits as a float (mirror._parse_line); where a value could show (a refusal's message,
    the hash that keys a record without an id) the standard library's value is the one used."""
    value = json.loads(text)
    return value if isinstance(value, dict) else record


def _refusal(record: dict[str, Any], error: AdvisoryFormatError) -> AdvisoryFormatError:
    """The error :func:`index_fields` raises for the record as the standard library reads it."""
    try:
        index_fields(record)
    except AdvisoryFormatError as standard:
        return standard
    return error


def _forget_impossible_times(existing: dict[str, str], latest: datetime) -> None:
    """Stored copies dated after ``latest`` (written before such records were refused) rank as
    undated, so any credible copy replaces them. Only the few that compare later as text are parsed."""
    cutoff = latest.strftime("%Y-%m-%dT%H:%M:%SZ")
    for key, modified in existing.items():
        if modified > cutoff and not is_credible_time(modified, latest):
            existing[key] = ""


# -- connection helpers ------------------------------------------------------------------------


@contextmanager
def _gc_paused() -> Iterator[None]:
    """An import allocates millions of short-lived objects: the cyclic collector's passes over them
    cost more than the import itself (measured: 12.7 s vs 2.2 s for 215k json.loads)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def filling_store(path: Path) -> Iterator[AdvisoryStore]:
    """The store at ``path``, to merge into. One that does not exist yet is built under a
    temporary name beside it and renamed to ``path`` only when the block ends without an error
    and the store holds records: a failed, interrupted or empty first fill leaves nothing.

    Creation happens under a lock on the directory, so a second writer that finds no store waits
    and then merges into the first one's result instead of replacing it; a temporary store left by
    a killed process is removed by the next creator (none can be in use while the lock is held).
    """
    check_store_target(path)
    if path.exists():
        with AdvisoryStore.open(path, create=True) as store:
            yield store
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(path, f"cannot create the advisory store: {error.strerror or error}") from None
    from npmaudit.advisories.dirlock import directory_lock

    with directory_lock(path.parent):
        if path.exists():  # another process created it while this one waited
            with AdvisoryStore.open(path, create=True) as store:
                yield store
            return
        prefix = f".{path.name}{FILLING_MARK}"
        for abandoned in path.parent.iterdir():
            if abandoned.name.startswith(prefix):
                _remove_file(abandoned)
        import secrets  # here: it loads OpenSSL's hashes, which an audit does not need

        temporary = path.with_name(f".{path.name}{FILLING_MARK}{secrets.token_hex(6)}")
        try:
            store = AdvisoryStore.open(temporary, create=True, shown_as=path)
            try:
                # Nobody else opens this file, and it is removed unless filled: no journal to write every
                # page into first (a full import's 100 MB written twice); a store in use keeps its WAL.
                store._journal_mode("OFF")
                yield store
                filled = bool(store.info().records)
                store._journal_mode("WAL")
                store.fold_wal()  # the renamed file must hold everything
            finally:
                store.close()
            if filled:
                check_store_target(path)  # nothing planted there meanwhile is replaced or followed
                try:
                    os.replace(temporary, path)
                except OSError as error:
                    raise InputError(path, f"cannot create the advisory store: {error.strerror or error}") from None
        finally:
            for leftover in (temporary, *(Path(f"{temporary}{suffix}") for suffix in SQLITE_SIDE_FILES)):
                _remove_file(leftover)


def _remove_file(path: Path) -> None:
    with suppress(FileNotFoundError):
        path.unlink()


def write_records(
    path: Path,
    records: Iterable[dict[str, Any]],
    *,
    location: str = "audit --write-cache",
    kind: str = WRITE_CACHE_KIND,
) -> ImportResult:
    """Merge raw records into the store at ``path`` (created when there is something to keep):
    --write-cache's writer."""
    items: list[RawRecord] = [(record, None, f"#{index + 1}") for index, record in enumerate(records)]
    with filling_store(path) as store:
        return store.merge([ImportSource(location, kind, items, allow_empty=kind == WRITE_CACHE_KIND)])


EXPORT_FORMATS = ("json", "jsonl")


def export_store(store: AdvisoryStore, path: Path, fmt: str = "json") -> int:
    """Write every record to ``path``: ``json`` is the seed's format, byte for byte what
    :func:`jsondb.write_json_database` writes (an array sorted by id, keys sorted, 2-space
    indent), but streamed so a 215k-record store never sits in memory; ``jsonl`` is one compact
    record per line, in the same order. Written beside ``path`` and renamed over it."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return _export(store, path, fmt)
    except OSError as error:  # a full disk, no permission: the temporary file is gone, the target unchanged
        raise InputError(path, f"cannot write: {error.strerror or error}") from None


def _export(store: AdvisoryStore, path: Path, fmt: str) -> int:
    from npmaudit.advisories import export_json
    from npmaudit.atomicfile import atomic_replace

    count = 0
    with atomic_replace(path) as stream:
        for record, fast in store._iter_parsed(export_json.parse):
            if fmt == "jsonl":
                stream.write(export_json.compact(record, fast))
                stream.write("\n")
            else:
                # json.dumps(list, indent=2) writes each element indented one level: the same
                # text as the element dumped alone with every line prefixed by two spaces
                # (JSON strings never hold a raw newline).
                text = export_json.indented(record, fast)
                stream.write(("[\n" if count == 0 else ",\n") + "  " + text.replace("\n", "\n  "))
            count += 1
        if fmt == "json":
            stream.write("\n]\n" if count else "[]\n")
    return count
