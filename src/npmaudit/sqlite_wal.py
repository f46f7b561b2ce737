"""Switching a SQLite database to WAL mode when other processes may be doing the same.

The switch takes a shared lock and then an exclusive one. Two connections doing it at once would
deadlock, so SQLite fails one of them at once with "database is locked" instead of calling its
busy handler, whatever the busy timeout. Waiting for the other to finish and trying again is all
it takes; on a database already in WAL mode the statement takes no lock and never fails this way.
"""

from __future__ import annotations

import sqlite3
import time


def enter_wal(db: sqlite3.Connection, timeout_s: float) -> None:
    """WAL journal with NORMAL sync (crash-safe in WAL: a killed process never half-applies a
    transaction). Retries a busy switch until ``timeout_s`` has passed, then lets the error out."""
    deadline = time.monotonic() + timeout_s
    pause = 0.001
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            break
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
    db.execute("PRAGMA synchronous = NORMAL")
