"""Bringing records into the store: local files and archives (`db import`) and an OSV mirror
(`db update`).

An OSV mirror is a directory of one ecosystem as OSV publishes it: ``all.zip`` (every record),
``modified_id.csv`` (``<modified>,<id>`` per line, newest first) and ``<id>.json`` per record. The
first update of a store from a mirror downloads ``all.zip``; later ones fetch only the records the
CSV lists as newer than the store's copy. Everything fetched is merged in one transaction: a
failed or interrupted update changes nothing (and creates no store). A mirror that lists or
serves no record has failed: an empty answer is never a successful synchronisation, whose time
is the store's age (see auditing/freshness.py).
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import os
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import orjson

from npmaudit import TYPE_CHECKING
from npmaudit.advisories.mirror_fetch import MirrorTimeouts, MirrorTransport
from npmaudit.advisories.records import GZIP_MAGIC, iter_records, records_from_text
from npmaudit.advisories.store import AdvisoryStore, ImportResult, ImportSource, RawRecord
from npmaudit.atomicfile import scratch_file
from npmaudit.decompress import BoundedReader, read_bounded
from npmaudit.errors import InputError, SourceError
from npmaudit.npmrc import redact_url
from npmaudit.progress import Progress, no_progress
from npmaudit.records import record_class
from npmaudit.runtime_typing import cast
from npmaudit.settings import DEFAULT_MAX_DECOMPRESSED
from npmaudit.textfile import refuse_special

if TYPE_CHECKING:
    from typing import IO, Any

ZIP_MAGIC = b"PK\x03\x04"
# Past this many changed records one all.zip download is cheaper than fetching them one by one.
DELTA_LIMIT = 5000
FETCH_WORKERS = 8
FETCH_PROGRESS_EVERY = 100
READ_CHUNK = 1 << 20
# Fewer brackets than this in a line: nested less deeply than the standard library's parser can follow.
ORJSON_DEPTH = 800


# -- local sources ----------------------------------------------------------------------------


def import_source(path: Path, max_bytes: int = DEFAULT_MAX_DECOMPRESSED) -> ImportSource:
    """A file, gzip, zip archive, directory or another store, ready for :meth:`AdvisoryStore.merge`.

    The records are read lazily, while the store's transaction runs, so a 300 MB JSON Lines file
    never sits in memory whole.
    """
    if not path.exists():
        raise InputError(path, "no such file or directory")
    refuse_special(path)  # a FIFO would block the first read for ever, /dev/zero never end
    if path.is_dir():
        return ImportSource(str(path), "directory", _numbered(iter_records(path, max_bytes)))
    from npmaudit.advisories.local import SQLITE_MAGIC

    if _starts_with(path, SQLITE_MAGIC):
        return ImportSource(str(path.resolve()), "store", _iter_store_records(path))
    kind = "zip" if _starts_with(path, ZIP_MAGIC) else "file"
    return ImportSource(str(path.resolve()), kind, iter_file_records(path, max_bytes))


def _iter_store_records(path: Path) -> Iterator[RawRecord]:
    """Another store's records (merging a CI job's cache into a shared one)."""
    with AdvisoryStore.open(path) as other:
        for record in other.iter_records():
            yield record, None, str(record.get("id"))


def iter_file_records(path: Path, max_bytes: int = DEFAULT_MAX_DECOMPRESSED) -> Iterator[RawRecord]:
    if _starts_with(path, ZIP_MAGIC):
        yield from iter_zip_records(path, str(path), max_bytes)
        return
    yield from _iter_json_file(path, max_bytes)


def _numbered(records: Iterator[dict[str, Any]]) -> Iterator[RawRecord]:
    for index, record in enumerate(records):
        yield record, None, f"record #{index + 1}"


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(len(magic)) == magic
    except OSError as error:
        raise InputError(path, f"cannot read: {error.strerror or error}") from None


def _iter_json_file(path: Path, max_bytes: int) -> Iterator[RawRecord]:
    """JSON Lines are streamed line by line (gzipped or not); any other shape goes through
    :func:`records.records_from_text`, which needs the whole text."""
    gzipped = _starts_with(path, GZIP_MAGIC)
    try:
        with _open_binary(path, gzipped, max_bytes) as stream:
            first, number = b"", 0
            for line in stream:
                number += 1
                if line.strip():
                    first = line
                    break
            head = _single_object(first.removeprefix(b"\xef\xbb\xbf"))
            if head is not None:
                following = _next_nonblank(stream)
                if following is None:
                    yield head, first.strip().removeprefix(b"\xef\xbb\xbf"), number
                    return
                yield head, first.strip().removeprefix(b"\xef\xbb\xbf"), number
                yield from _json_lines(path, stream, following, number)
                return
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(path, f"damaged gzip data: {error}" if gzipped else f"cannot read: {error}") from None
    from npmaudit.advisories.records import read_text

    for index, record in enumerate(records_from_text(path, read_text(path, max_bytes))):
        yield record, None, f"record #{index + 1}"


def _open_binary(path: Path, gzipped: bool, max_bytes: int) -> IO[bytes]:
    if gzipped:
        return cast("IO[bytes]", BoundedReader(cast("IO[bytes]", gzip.open(path, "rb")), path, max_bytes))
    return path.open("rb")


def _single_object(line: bytes) -> dict[str, Any] | None:
    stripped = line.strip()
    if not stripped.startswith(b"{"):
        return None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):
        return None  # a pretty-printed (or pathological) document: read whole, where its errors are named
    return value if isinstance(value, dict) and ("id" in value or "modified" in value) else None


def _next_nonblank(stream: IO[bytes]) -> tuple[int, bytes] | None:
    for skipped, line in enumerate(stream, start=1):
        if line.strip():
            return skipped, line
    return None


def _json_lines(path: Path, stream: IO[bytes], following: tuple[int, bytes], number: int) -> Iterator[RawRecord]:
    skipped, first = following
    for at, line in enumerate(itertools.chain((first,), _lines(stream)), start=number + skipped):
        text = line.strip()
        if not text:
            continue
        try:
            record = _parse_line(text)
        except ValueError as error:
            message = getattr(error, "msg", None) or str(error)
            raise InputError(path, f"invalid JSON line: {message}", at) from None
        except RecursionError:  # json decodes nested arrays and objects recursively
            raise InputError(path, "invalid JSON line: nested too deeply", at) from None
        if not isinstance(record, dict):
            raise InputError(path, "each JSON line must be one advisory object", at)
        yield record, text, at


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The stream's lines (what ``readline`` gives, without the newline), read a megabyte at a time:
    one ``readline`` per record through the gzip and bounding layers cost more than splitting."""
    pending: list[bytes] = []  # the start of a line longer than what has been read of it
    while chunk := stream.read(READ_CHUNK):
        lines = chunk.split(b"\n")
        if len(lines) == 1:
            pending.append(chunk)
            continue
        if pending:
            lines[0] = b"".join([*pending, lines[0]])
        pending = [lines.pop()]
        yield from lines
    tail = b"".join(pending)
    if tail:
        yield tail


def _parse_line(text: bytes) -> Any:
    """One JSON line: by orjson (compiled, several times faster on 215k records) when it reads it, else by
    the standard library, whose value or error stands. orjson refuses what the standard library also
    refuses, and NaN, infinities and lone surrogates, which it reads; the one value orjson reads
    differently, an integer beyond 64 bits (read as a float), changes none of the fields the store checks or
    indexes, and a record the store refuses or cannot key by its id is read again from this text by the
    standard library (AdvisoryStore.merge), so its message is the one it always was. orjson reads nesting
    the standard library's recursion refuses (up to 1,024 levels): a line that may nest that deep is left
    to the standard library."""
    if len(text) >= 2 * ORJSON_DEPTH and text.count(b"[") + text.count(b"{") >= ORJSON_DEPTH:
        return json.loads(text)  # perhaps too deep for the standard library, which decides as it always did
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _is_record_member(member: zipfile.ZipInfo) -> bool:
    return not member.is_dir() and member.filename.lower().endswith(".json")


def count_zip_records(archive: Path, label: str) -> int:
    try:
        with zipfile.ZipFile(archive) as bundle:
            return sum(1 for member in bundle.infolist() if _is_record_member(member))
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(label, f"damaged zip archive: {error}") from None


def iter_zip_records(archive: Path, label: str, max_bytes: int = DEFAULT_MAX_DECOMPRESSED) -> Iterator[RawRecord]:
    """Every record of a zip archive such as OSV's ``all.zip``: each ``.json`` member holds one
    record (or any shape records.py reads). The members together may expand to ``max_bytes``."""
    left = max_bytes
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                if not _is_record_member(member):
                    continue
                where = f"{label}:{member.filename}"
                with bundle.open(member) as stream:
                    raw = read_bounded(stream, label, left, max_bytes)  # declared sizes are not trusted
                left -= len(raw)
                try:
                    text = raw.decode("utf-8-sig")
                except UnicodeDecodeError as error:
                    raise InputError(where, f"not UTF-8 text (byte {error.start})") from None
                for record in records_from_text(Path(where), text):
                    yield record, None, member.filename
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise InputError(label, f"damaged zip archive: {error}") from None


# -- the OSV mirror ---------------------------------------------------------------------------


@record_class(frozen=True)
class MirrorUpdate:
    url: str
    mode: str  # "full" (all.zip) or "delta" (records listed newer in modified_id.csv)
    listed: int  # records listed in modified_id.csv
    fetched: int  # records downloaded (the whole archive for a full update)
    result: ImportResult


def update_from_mirror(
    store: AdvisoryStore,
    url: str,
    *,
    full: bool = False,
    progress: Progress = no_progress,
    download_dir: Path | None = None,
    now: str | None = None,
    timeouts: MirrorTimeouts | None = None,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
) -> MirrorUpdate:
    """Bring the store up to date with the mirror at ``url``, in one transaction. ``now`` (RFC 3339)
    is the time recorded as the last successful synchronisation (default: the current time);
    ``timeouts`` are the total deadlines of one file and of all.zip (mirror_fetch.py).

    Credentials in ``url`` (``user:password@``, a ``?token=`` query) are used for every file of the
    mirror but never shown, stored or looked up as a host name: messages, the store's sources and
    the result name the mirror by its redacted URL."""
    with MirrorTransport(timeouts) as transport:
        return _update(transport, store, MirrorLocation.parse(url), full, progress, download_dir, now, max_decompressed)


@record_class(frozen=True)
class MirrorLocation:
    """A mirror's URL split into what is requested and what is shown."""

    base: str  # scheme://[user:password@]host/path, without a trailing slash or a query
    query: str  # sent with every file (a token or a signed URL's parameters), never shown
    shown: str  # the base without credentials: for messages and the store's sources

    @classmethod
    def parse(cls, url: str) -> MirrorLocation:
        parts = urlsplit(url.strip())
        base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        return cls(base, parts.query, redact_url(base).rstrip("/"))

    def file(self, name: str) -> str:
        return f"{self.base}/{name}" + (f"?{self.query}" if self.query else "")

    def label(self, name: str) -> str:
        return f"{self.shown}/{name}"


def _update(
    transport: MirrorTransport,
    store: AdvisoryStore,
    mirror: MirrorLocation,
    full: bool,
    progress: Progress,
    download_dir: Path | None,
    now: str | None,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
) -> MirrorUpdate:
    url = mirror.shown
    listing = parse_modified_csv(url, transport.fetch(mirror.file("modified_id.csv")))
    if not listing:
        raise SourceError(mirror.label("modified_id.csv"), "lists no records: the mirror is empty or broken")
    newest_listed = listing[0][0]
    known = {source.location: source for source in store.stats().sources}
    if full or url not in known:
        return _full_update(transport, store, mirror, listing, progress, download_dir, now, max_decompressed)
    have = store.modified_by_key()
    changed = [advisory_id for modified, advisory_id in listing if _is_newer(modified, have.get(advisory_id))]
    if len(changed) > DELTA_LIMIT:
        return _full_update(transport, store, mirror, listing, progress, download_dir, now, max_decompressed)
    records = _fetch_records(transport, mirror, changed, progress)
    state = {"mode": "delta", "newestListed": newest_listed}
    source = ImportSource(url, "mirror", records, state, allow_empty=True, expected=len(records))
    with _malformed_is_remote(url):
        result = store.merge([source], progress=progress, now=now)
    return MirrorUpdate(url, "delta", len(listing), len(changed), result)


def _full_update(
    transport: MirrorTransport,
    store: AdvisoryStore,
    mirror: MirrorLocation,
    listing: list[tuple[str, str]],
    progress: Progress,
    download_dir: Path | None,
    now: str | None,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
) -> MirrorUpdate:
    url = mirror.shown
    directory = download_dir or store.path.parent
    # A locked scratch file: an update killed while downloading leaves its all.zip behind, which
    # the next one removes (atomicfile.scratch_file).
    with scratch_file(directory, "all.zip") as (handle, temporary):
        with os.fdopen(os.dup(handle), "w+b") as sink:
            transport.download(mirror.file("all.zip"), _DiskSink(sink, directory), progress)
        state = {"mode": "full", "newestListed": listing[0][0] if listing else None}
        label = mirror.label("all.zip")
        records = _remote_errors(url, iter_zip_records(temporary, label, max_decompressed))
        source = ImportSource(url, "mirror", records, state, expected=_remote_count(url, temporary, label))
        with _malformed_is_remote(url):
            result = store.merge([source], progress=progress, now=now)
    return MirrorUpdate(url, "full", len(listing), result.sources[0].records, result)


class _DiskSink:
    """The download's file: a failed write (a full disk) is ours, an input error naming the
    directory, not the mirror's failure (nor a lost connection to retry)."""

    def __init__(self, stream: IO[bytes], directory: Path) -> None:
        self._stream = stream
        self._directory = directory

    def _disk(self, error: OSError) -> InputError:
        return InputError(self._directory, f"cannot write the download: {error.strerror or error}")

    def write(self, data: bytes, /) -> int:
        try:
            return self._stream.write(data)
        except OSError as error:
            raise self._disk(error) from None

    def seek(self, offset: int, /) -> int:
        return self._stream.seek(offset)

    def truncate(self) -> int:
        try:
            return self._stream.truncate()
        except OSError as error:
            raise self._disk(error) from None

    def tell(self) -> int:
        return self._stream.tell()


@contextlib.contextmanager
def _malformed_is_remote(url: str) -> Iterator[None]:
    """A record the mirror serves that cannot be read, or an archive with no record, is the mirror's
    failure (exit 3), like a damaged archive; the merge is one transaction, so nothing of it was kept.
    The store's own failures (locked, damaged) stay input errors."""
    try:
        yield
    except InputError as error:
        if error.path != url:
            raise
        raise SourceError(url, error.problem) from None


def _remote_count(url: str, archive: Path, label: str) -> int:
    """How many record files the archive holds (read from its directory, for progress)."""
    try:
        return count_zip_records(archive, label)
    except InputError as error:
        raise SourceError(url, str(error)) from None


def _remote_errors(url: str, records: Iterator[RawRecord]) -> Iterator[RawRecord]:
    """A damaged archive from a mirror is the mirror's failure (exit 3), not a bad local input."""
    try:
        yield from records
    except InputError as error:
        raise SourceError(url, str(error)) from None


def parse_modified_csv(url: str, data: bytes) -> list[tuple[str, str]]:
    """``(modified, id)`` pairs, in the file's order (newest first)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError(url, "modified_id.csv is not UTF-8 text") from None
    listing = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        modified, comma, advisory_id = line.strip().partition(",")
        if number == 1 and _instant(modified) is None and modified.strip().lower() == "modified":
            continue  # a header line, as some re-publishers of the file add
        if not comma or not advisory_id or _instant(modified) is None:
            raise SourceError(url, f"modified_id.csv line {number}: expected '<modified>,<id>'")
        listing.append((modified, advisory_id.strip()))
    return listing


def _instant(text: str) -> tuple[datetime, bool] | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")), "." in text
    except ValueError:
        return None


def _is_newer(listed: str, stored: str | None) -> bool:
    """Is the listed time later than the stored record's? At whole seconds when one side has no
    fraction, so a listing rounded to the second never looks newer than the record it lists."""
    if not stored:
        return True
    a, b = _instant(listed), _instant(stored)
    if a is None or b is None:
        return listed > stored
    if a[1] and b[1]:
        return a[0] > b[0]
    return a[0].replace(microsecond=0) > b[0].replace(microsecond=0)


def _fetch_records(
    transport: MirrorTransport, mirror: MirrorLocation, ids: list[str], progress: Progress
) -> list[RawRecord]:
    url = mirror.shown

    def fetch(advisory_id: str) -> RawRecord:
        name = f"{quote(advisory_id, errors='surrogatepass')}.json"
        data = transport.fetch(mirror.file(name))
        try:
            record = json.loads(data)
        except ValueError as error:
            raise SourceError(mirror.label(name), f"invalid JSON: {error}") from None
        except RecursionError:  # json decodes nested arrays and objects recursively
            raise SourceError(mirror.label(name), "invalid JSON: nested too deeply") from None
        if not isinstance(record, dict):
            raise SourceError(mirror.label(name), "not an OSV record")
        return record, None, f"{advisory_id}.json"

    records: list[RawRecord] = []
    if not ids:
        return records
    task = f"fetching changed records from {url}"
    with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
        for record in pool.map(fetch, ids):
            records.append(record)
            if len(records) % FETCH_PROGRESS_EVERY == 0:
                progress(task, len(records), len(ids))
    if len(records) % FETCH_PROGRESS_EVERY:
        progress(task, len(records), len(ids))
    return records
