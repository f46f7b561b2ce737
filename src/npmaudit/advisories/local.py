"""Open the local advisory database named by ``--db`` / ``NPMAUDIT_DB`` / config / default.

A path may name a SQLite store (recognised by its content, whatever its name), a JSON database in
any shape :mod:`npmaudit.advisories.records` reads, or a directory of records. A missing database
is an error (exit 2), never an empty result; when the missing one is the default store in the user
cache directory, the message says how to create it. So is a database that holds no record, and a
store that no ``db import`` or ``db update`` ever filled (one that only ``audit --write-cache``
wrote holds the few records earlier audits matched, not a database of advisories).
"""

from __future__ import annotations

from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.advisories.source import AdvisorySource
from npmaudit.errors import InputError
from npmaudit.settings import DEFAULT_MAX_DECOMPRESSED
from npmaudit.textfile import open_binary, refuse_special

if TYPE_CHECKING:  # the store module is imported when a store is opened
    from npmaudit.advisories.store import AdvisoryStore

SQLITE_MAGIC = b"SQLite format 3\x00"
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")

MISSING_DEFAULT_HINT = (
    "no advisory database yet: create the shared store with `npmaudit db update` (downloads OSV's npm "
    "data) or `npmaudit db import FILE`, or pass --db PATH"
)
MISSING_HINT = "advisory database not found (import one with `npmaudit db import`, or pass --db)"
NO_NPM_RECORD = "no advisory record here affects an npm package: an audit against it would check nothing"
FILL_HINT = "fill it with `npmaudit db update` (downloads OSV's npm data) or `npmaudit db import FILE`"


def is_sqlite_file(path: Path) -> bool:
    try:
        with open_binary(path) as stream:  # a FIFO or a device is not a store (and is never opened blocking)
            return stream.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except (OSError, InputError):
        return False


def open_local_database(
    path: Path, *, is_default: bool = False, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED
) -> AdvisorySource:
    """The advisory source for a local database path; a missing path is an error, never empty.

    ``is_default``: the path is the shared store nobody named, so the error says how to create it.
    """
    if not path.exists():
        raise InputError(path, MISSING_DEFAULT_HINT if is_default else MISSING_HINT)
    refuse_special(path)
    if path.is_file() and (is_sqlite_file(path) or _empty_store_file(path)):
        from npmaudit.advisories.store import AdvisoryStore

        return filled_or_closed(AdvisoryStore.open(path))
    from npmaudit.advisories.jsondb import JsonDatabase

    return JsonDatabase(path, max_bytes=max_decompressed)


def filled_or_closed(store: AdvisoryStore) -> AdvisoryStore:
    """The open store, once :func:`check_filled` passes; closed before its error propagates."""
    try:
        check_filled(store)
    except BaseException:
        store.close()
        raise
    return store


def check_filled(store: AdvisorySource) -> None:
    """An :class:`InputError` unless the store was filled by an import or update and holds records."""
    info = store.info()
    records = info.records or 0
    if not info.details.get("updated"):
        if records:
            raise InputError(
                info.location,
                f"this advisory store was never filled: it holds only {records} records cached by "
                f"`audit --write-cache`; {FILL_HINT}",
            )
        raise InputError(info.location, f"empty advisory store (no import or update ever completed): {FILL_HINT}")
    if not records:
        raise InputError(info.location, f"empty advisory store (0 records): {FILL_HINT}")
    from npmaudit.advisories.store import AdvisoryStore

    if isinstance(store, AdvisoryStore) and not store.names_any_package():
        raise InputError(info.location, f"{NO_NPM_RECORD} ({records} records of other ecosystems): {FILL_HINT}")


def _empty_store_file(path: Path) -> bool:
    # SQLite may leave a zero-byte file behind (a store whose creation was killed): call it a
    # store, so the error says "not an advisory store (empty database)" rather than "empty JSON".
    return path.suffix.lower() in SQLITE_SUFFIXES and path.stat().st_size == 0
