"""Open the local advisory database named by ``--db`` / ``NPMAUDIT_DB`` / config / default.

A path may name a JSON database in any shape :mod:`npmaudit.advisories.records` reads, or a
directory of records. (The SQLite store plugs in here too, chosen by the file's content.)
"""

from __future__ import annotations

from pathlib import Path

from npmaudit.advisories.jsondb import JsonDatabase
from npmaudit.advisories.source import AdvisorySource
from npmaudit.errors import InputError

SQLITE_MAGIC = b"SQLite format 3\x00"


def is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def open_local_database(path: Path) -> AdvisorySource:
    """The advisory source for a local database path; a missing path is an error, never empty."""
    if not path.exists():
        raise InputError(path, "advisory database not found (import one with `npmaudit db import`, or pass --db)")
    if path.is_file() and is_sqlite_file(path):
        raise InputError(path, "SQLite advisory stores are not supported by this build")
    return JsonDatabase(path)
