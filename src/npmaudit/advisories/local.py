"""Open the local advisory database named by ``--db`` / ``NPMAUDIT_DB`` / config / default.

A path may name a SQLite store (recognised by its content, whatever its name), a JSON database in
any shape :mod:`npmaudit.advisories.records` reads, or a directory of records. A missing database
is an error (exit 2), never an empty result; when the missing one is the default store in the user
cache directory, the message says how to create it.
"""

from __future__ import annotations

from pathlib import Path

from npmaudit.advisories.source import AdvisorySource
from npmaudit.errors import InputError

SQLITE_MAGIC = b"SQLite format 3\x00"
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")

MISSING_DEFAULT_HINT = (
    "no advisory database yet: create the shared store with `npmaudit db update` (downloads OSV's npm "
    "data) or `npmaudit db import FILE`, or pass --db PATH"
)
MISSING_HINT = "advisory database not found (import one with `npmaudit db import`, or pass --db)"


def is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def open_local_database(path: Path, *, is_default: bool = False) -> AdvisorySource:
    """The advisory source for a local database path; a missing path is an error, never empty.

    ``is_default``: the path is the shared store nobody named, so the error says how to create it.
    """
    if not path.exists():
        raise InputError(path, MISSING_DEFAULT_HINT if is_default else MISSING_HINT)
    if path.is_file() and (is_sqlite_file(path) or _empty_store_file(path)):
        from npmaudit.advisories.store import AdvisoryStore

        return AdvisoryStore.open(path)
    from npmaudit.advisories.jsondb import JsonDatabase

    return JsonDatabase(path)


def _empty_store_file(path: Path) -> bool:
    # SQLite may leave a zero-byte file behind (a store whose creation was killed): call it a
    # store, so the error says "not an advisory store (empty database)" rather than "empty JSON".
    return path.suffix.lower() in SQLITE_SUFFIXES and path.stat().st_size == 0
