"""Concurrent read-only access to the advisory store for the server.

Each reader thread holds its own SQLite connection, opened read-only (``mode=ro``, ``query_only``):
a connection must not be shared between threads, and the server never writes. The store is in WAL
mode, so readers never block a ``db update`` running beside the server and the update never blocks
them. Every request reads inside one read transaction (:meth:`StoreReaders.read`), so it sees one
committed snapshot of the store from its first query to its last: an update that commits halfway
through a request cannot give it half the old and half the new data.

The store is checked once when the pool opens (that it exists, is ours at a schema this version
reads, and was filled by a ``db import`` or ``db update``): serving an empty or never-filled store
would answer "no advisories" to every client, a silent pass.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from npmaudit.advisories.local import FILL_HINT, NO_NPM_RECORD, is_sqlite_file
from npmaudit.advisories.source import SourceInfo
from npmaudit.advisories.store import AdvisoryStore
from npmaudit.advisories.store_sqlite import BUSY_TIMEOUT_MS
from npmaudit.errors import InputError

T = TypeVar("T")


def check_store(path: Path) -> SourceInfo:
    """Open the store once (schema, identity) and refuse one that holds nothing to serve."""
    if not path.is_file():
        raise InputError(path, "advisory store not found (create it with `npmaudit db update` or `db import`)")
    if path.stat().st_size and not is_sqlite_file(path):  # a JSON database, which `audit --db` reads
        raise InputError(
            path,
            "not an advisory store: serve reads a SQLite store; make one with `npmaudit db import FILE --db STORE`",
        )
    with AdvisoryStore.open(path) as store:
        info = store.info()
        names_any_package = store.names_any_package()
    if not info.details.get("updated"):
        raise InputError(path, f"this store was never filled by `db import` or `db update`: {FILL_HINT}")
    if not info.records:
        raise InputError(path, f"the advisory store holds no record: {FILL_HINT}")
    if not names_any_package:
        raise InputError(path, f"{NO_NPM_RECORD} ({info.records} records of other ecosystems): {FILL_HINT}")
    return info


class StoreReaders:
    """A pool of reader threads, each with its own read-only connection to the store at ``path``."""

    def __init__(self, path: Path, threads: int) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="store-reader")

    async def read(self, work: Callable[[AdvisoryStore], T], *, fresh: bool = False) -> T:
        """Run ``work(store)`` on a reader thread, inside one read transaction (one snapshot).

        ``fresh``: a store object that has cached nothing (its ``info()`` is read anew: the health
        endpoint must see the record count and times an update just committed)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._in_snapshot, work, fresh)

    def _in_snapshot(self, work: Callable[[AdvisoryStore], T], fresh: bool) -> T:
        store = self._store()
        connection: sqlite3.Connection = self._local.connection
        connection.execute("BEGIN")
        try:
            return work(AdvisoryStore(self.path, connection) if fresh else store)
        finally:
            connection.execute("COMMIT")  # a read transaction: ends the snapshot, writes nothing

    def _store(self) -> AdvisoryStore:
        store: AdvisoryStore | None = getattr(self._local, "store", None)
        if store is None:
            connection = _read_only_connection(self.path)
            with self._lock:
                self._connections.append(connection)
            self._local.connection = connection
            store = self._local.store = AdvisoryStore(self.path, connection)
        return store

    def close(self) -> None:
        """Wait for running reads, then close every connection."""
        self._pool.shutdown(wait=True)
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()


def _read_only_connection(path: Path) -> sqlite3.Connection:
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        # check_same_thread=False: each connection is used only by its own reader thread, but
        # close() runs on the thread that stops the server, after the pool has finished every read.
        connection = sqlite3.connect(
            uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )
    except sqlite3.Error as error:
        raise InputError(path, f"cannot open the advisory store read-only: {error}") from None
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA query_only = 1")
    return connection
