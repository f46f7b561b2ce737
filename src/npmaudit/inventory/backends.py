"""The inventory's two databases behind one small interface: SQLite (a file) and PostgreSQL (a URL).

SQL is written once, with ``?`` placeholders; the PostgreSQL backend passes it to psycopg with
``%s``. What differs lives here: how a write transaction takes its lock (SQLite's ``BEGIN
IMMEDIATE``; a PostgreSQL transaction whose row locks and advisory locks order the writers), bulk
inserts (``executemany``; ``COPY``), and interning (name, version) pairs.

Many CI runners may add projects at once while others query: SQLite runs in WAL mode (readers
never wait for the writer) with a long busy timeout; PostgreSQL serialises writers on the rows they
touch. Interning new (name, version) pairs commits on its own, in sorted order, before a project's
rows are written, so two writers never wait on each other's half of the same set of pairs.
Every database error becomes one :class:`~npmaudit.errors.InputError` line naming the inventory
(a URL is shown without its password).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from npmaudit.errors import InputError, UsageError
from npmaudit.inventory.schema import APPLICATION_ID, BINARY_COPY, BUCKET_BITS, SCHEMA_VERSION, statements
from npmaudit.sqlite_wal import enter_wal

BUSY_TIMEOUT_S = 600.0  # writers queue behind each other; a fleet's CI runners must outwait a long add
CACHE_KIB = 65536  # SQLite's page cache: a fleet's index on package ids outgrows the 2 MB default
WAL_PAGES = 32768  # checkpoint (and fsync) every 128 MB of log, not 4 MB: one add writes ~2 MB, and a
# checkpoint writes each page once however often the adds since the last one rewrote it
LOOKUP_CHUNK = 500  # bound parameters per IN (...) list
PAIR_CHUNK = 400  # (name, version) pairs per VALUES list: 800 parameters, under SQLite's oldest limit (999)
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
MISSING = "no inventory here yet: add projects with `npmaudit inventory add`, or pass --inventory"


def schema_problem(version: int) -> str | None:
    """Why an inventory of this schema version cannot be used, or None when it can."""
    if version > SCHEMA_VERSION:
        return f"inventory schema {version} is newer than this npmaudit reads"
    if version < SCHEMA_VERSION:
        return (
            f"inventory schema {version} was written by an older npmaudit and is stored differently now: "
            "add the projects again into a new inventory (`npmaudit inventory add -r PATH --inventory NEW`)"
        )
    return None


Row = tuple[Any, ...]


class Backend(Protocol):
    dialect: str
    location: str  # for messages: a path, or a URL without its password
    lock_rows: str  # appended to a SELECT inside a write transaction to lock the rows it reads

    def execute(self, sql: str, params: Sequence[Any] = (), *, binary: bool = False) -> list[Row]:
        """The statement's rows ([] for a statement that returns none). ``binary``: PostgreSQL sends
        them in its binary format (a bytea arrives as bytes, with no hex text to decode; SQLite's
        are values already)."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def among(self, column: str, values: Sequence[Any], kind: str) -> tuple[str, tuple[Any, ...]]:
        """``column`` is one of ``values`` (of SQL type ``kind``: bigint or text): the condition and its
        parameters. PostgreSQL takes one array, so a lookup of 500 ids is not a new, 500-placeholder
        statement for psycopg to parse each time."""
        ...

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None: ...

    round_trips: bool
    """Whether every statement is a round trip to a server (PostgreSQL), so a writer merges what
    it can into one statement, or runs in process (SQLite), where a statement costs little."""

    updates_in_place: bool
    """Whether a changed package row is updated by a statement of its own (SQLite, in process: an
    index entry whose package id did not change stays untouched), or deleted with the others and
    copied in again (PostgreSQL: a statement per row is a round trip per row, and an update writes
    a new row version anyway)."""

    interns_in_transaction: bool
    """Whether new (name, version) pairs are interned inside the project's write transaction (one
    commit per add), or committed on their own first (so concurrent writers never wait on each
    other's half of a set of pairs)."""

    def intern(self, pairs: Sequence[tuple[str, str]], *, in_transaction: bool = False) -> dict[tuple[str, str], int]:
        """Ids of these (name, version) pairs, creating the missing ones: committed on return, or
        part of the caller's write transaction."""
        ...

    def look_up(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Ids of those of these (name, version) pairs that are interned (in the caller's transaction)."""
        ...

    def transaction(self, *, write: bool) -> Any: ...

    def close(self) -> None: ...


def is_postgres(location: str) -> bool:
    return location.startswith(POSTGRES_SCHEMES)


def open_backend(location: str, *, create: bool) -> Backend:
    """The inventory at ``location`` (a file path or a postgresql:// URL); ``create`` makes it."""
    if is_postgres(location):
        return PostgresBackend(location, create=create)
    return SqliteBackend(Path(location).expanduser(), create=create)


def redact(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def chunks(items: Sequence[Any], size: int = LOOKUP_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(count: int) -> str:
    return ",".join("?" * count)


def int_array(values: Iterable[int]) -> str:
    """PostgreSQL's text of an array of integers: ``{1,2,3}``."""
    return "{" + ",".join(map(str, map(int, values))) + "}"


def buckets(backend: Backend, alias: str = "") -> tuple[str, tuple[Any, ...]]:
    """The condition on every project bucket (see npmaudit/inventory/schema.py), and its parameters:
    what lets a lookup by package id use the bucketed index. Read inside the caller's transaction."""
    (highest,) = backend.execute("SELECT COALESCE(MAX(id), 0) FROM projects")[0]
    bits = BUCKET_BITS[backend.dialect]
    values = range((int(highest) >> bits) + 1)
    return backend.among(f"({alias}project_id >> {bits})", values, "bigint")


# -- SQLite ------------------------------------------------------------------------------------


class SqliteBackend:
    dialect = "sqlite"
    lock_rows = ""  # BEGIN IMMEDIATE already holds the database's one write lock
    interns_in_transaction = True  # one writer at a time: nobody to wait for
    updates_in_place = True
    round_trips = False

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path = path
        self.location = str(path)
        if path.exists() and not path.is_file():
            raise InputError(path, "not an inventory: it is a directory")
        if not path.exists():
            if not create:
                raise InputError(path, MISSING)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise InputError(path, f"cannot create the inventory: {error.strerror or error}") from None
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as error:
            raise InputError(path, f"cannot open the inventory: {error}") from None
        try:
            with self._errors():
                self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
                self._db.execute(f"PRAGMA wal_autocheckpoint = {WAL_PAGES}")
                self._prepare(create)
        except BaseException:
            self._db.close()
            raise

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as error:
            raise InputError(self.path, f"inventory: {error}") from None

    def _identity(self) -> tuple[int, int, int]:
        """Read in one snapshot: a creator committing between the reads must not look like a stranger."""
        outside = not self._db.in_transaction
        if outside:
            self._db.execute("BEGIN")
        try:
            (application_id,) = self._db.execute("PRAGMA application_id").fetchone()
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            (tables,) = self._db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            if outside:
                self._db.execute("COMMIT")
        return application_id, version, tables

    def _check(self, application_id: int, version: int, tables: int) -> None:
        if application_id not in (0, APPLICATION_ID) or (application_id == 0 and tables):
            raise InputError(self.path, "not an npmaudit inventory (a different SQLite database)")
        problem = schema_problem(version) if version else None  # 0: a file not created yet
        if problem:
            raise InputError(self.path, problem)

    def _prepare(self, create: bool) -> None:
        try:
            identity = self._identity()
        except sqlite3.DatabaseError as error:
            raise InputError(self.path, f"not an npmaudit inventory: {error}") from None
        self._check(*identity)
        if identity[1] == SCHEMA_VERSION:
            self._enter_wal()
            return
        if not create:
            raise InputError(self.path, MISSING)  # an empty file: nothing was ever added (or not yet)
        self._enter_wal()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            identity = self._identity()  # another process may have created it meanwhile
            self._check(*identity)
            if identity[1] == 0:
                for statement in statements(self.dialect):
                    self._db.execute(statement)
                self._db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _enter_wal(self) -> None:
        enter_wal(self._db, BUSY_TIMEOUT_S)  # several CI runners may create the same new file at once

    def execute(self, sql: str, params: Sequence[Any] = (), *, binary: bool = False) -> list[Row]:
        with self._errors():
            return self._db.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._errors():
            self._db.executemany(sql, rows)

    def among(self, column: str, values: Sequence[Any], kind: str) -> tuple[str, tuple[Any, ...]]:
        return f"{column} IN ({marks(len(values))})", tuple(values)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(len(columns))})", rows)

    def intern(self, pairs: Sequence[tuple[str, str]], *, in_transaction: bool = False) -> dict[tuple[str, str], int]:
        wanted = sorted(set(pairs))
        with nullcontext() if in_transaction else self.transaction(write=True):
            self.executemany("INSERT OR IGNORE INTO package_versions (name, version) VALUES (?, ?)", wanted)
            return self.look_up(wanted)

    def look_up(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The pairs joined to the unique index on (name, version), a few hundred per statement.
        Reading every version of their names instead returned ten times the rows at 2,000 projects
        (6.9 against 1.0 ms for a project's 780 pairs, what a CI runner's new process looks up)."""
        ids: dict[tuple[str, str], int] = {}
        for chunk in chunks(pairs, PAIR_CHUNK):
            for identifier, name, version in self.execute(
                f"SELECT v.id, v.name, v.version FROM (VALUES {','.join(['(?, ?)'] * len(chunk))}) AS w "
                "JOIN package_versions v ON v.name = w.column1 AND v.version = w.column2",
                [text for pair in chunk for text in pair],
            ):
                ids[(name, version)] = identifier
        return ids

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[None]:
        """A write transaction holds SQLite's write lock from its start; a read one sees one snapshot."""
        with self._errors():
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        with self._errors():
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


# -- PostgreSQL --------------------------------------------------------------------------------

SCHEMA_LOCK = APPLICATION_ID  # pg_advisory_xact_lock key: one process creates the schema
AUDIT_LOCK = APPLICATION_ID + 1  # one inventory audit records its result at a time


class PostgresBackend:
    dialect = "postgresql"
    lock_rows = " FOR UPDATE"
    interns_in_transaction = False
    updates_in_place = False
    round_trips = True

    def __init__(self, url: str, *, create: bool) -> None:
        self.url = url
        self.location = redact(url)
        try:
            import psycopg
        except ImportError:
            raise UsageError(
                f"{self.location}: PostgreSQL inventories need psycopg: pip install 'npmaudit[postgres]'"
            ) from None
        self._psycopg = psycopg
        try:
            self._db = psycopg.connect(url, autocommit=True, application_name="npmaudit")
        except psycopg.Error as error:
            raise InputError(self.location, f"cannot connect: {_first_line(error)}") from None
        except ValueError as error:  # a malformed URL
            raise InputError(self.location, f"not a PostgreSQL URL: {error}") from None
        try:
            self._prepare(create)
        except BaseException:
            self._db.close()
            raise

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except self._psycopg.Error as error:
            raise InputError(self.location, f"inventory: {_first_line(error)}") from None

    def _prepare(self, create: bool) -> None:
        if not self._has_schema():
            if not create:
                raise InputError(self.location, MISSING)
            with self.transaction(write=True):
                self.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))  # one creator at a time
                if not self._has_schema():
                    for statement in statements(self.dialect):
                        self.execute(statement)
                    # The re-check may read a catalog cached before the other creator committed:
                    # every statement here is idempotent.
                    self.execute(
                        "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO NOTHING",
                        (str(SCHEMA_VERSION),),
                    )
        found = self.execute("SELECT value FROM meta WHERE key = 'schema_version'")
        if not found or not str(found[0][0]).isdigit():
            raise InputError(self.location, "not an npmaudit inventory (a 'meta' table without a schema version)")
        problem = schema_problem(int(found[0][0]))
        if problem:
            raise InputError(self.location, problem)

    def _has_schema(self) -> bool:
        return bool(self.execute("SELECT to_regclass('meta') IS NOT NULL")[0][0])

    def execute(self, sql: str, params: Sequence[Any] = (), *, binary: bool = False) -> list[Row]:
        with self._errors():
            cursor = self._db.execute(sql.replace("?", "%s"), params, binary=binary)
            return cursor.fetchall() if cursor.description is not None else []

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._errors(), self._db.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)

    def among(self, column: str, values: Sequence[Any], kind: str) -> tuple[str, tuple[Any, ...]]:
        if kind == "bigint":  # the array's text, which the server parses: psycopg dumps a list in Python
            return f"{column} = ANY(?::bigint[])", (int_array(values),)
        return f"{column} = ANY(?::{kind}[])", (list(values),)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        types = BINARY_COPY.get(table)
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN" + (" (FORMAT BINARY)" if types else "")
        with self._errors(), self._db.cursor() as cursor, cursor.copy(statement) as copy:
            if types:
                copy.set_types([types[column] for column in columns])
            for row in rows:
                copy.write_row(row)

    def intern(self, pairs: Sequence[tuple[str, str]], *, in_transaction: bool = False) -> dict[tuple[str, str], int]:
        """Outside a transaction, the one statement is a transaction of its own (one round trip,
        not a BEGIN and a COMMIT around it), which turns off its commit's flush of the log for
        itself: the project's commit that follows flushes it too (the log is written in order),
        and a project whose commit is lost leaves only unused pairs, which its next add interns
        again. Inside the caller's transaction, that transaction's commit stays durable."""
        ordered = sorted(pairs)
        names = [name for name, _ in ordered]
        versions = [version for _, version in ordered]
        return self._interned(names, versions, flush=in_transaction)

    def _interned(self, names: list[str], versions: list[str], *, flush: bool) -> dict[tuple[str, str], int]:
        """One statement inserts the missing pairs and reads every pair's id: the rows the insert
        returns, and those its snapshot sees. A pair another writer committed while the statement
        ran (its insert waited for that writer, its snapshot is older) is read again after it.
        Without ``flush``, the pairs are read through a condition that sets synchronous_commit off
        for the statement's own transaction (evaluated once: an uncorrelated subquery)."""
        unflushed = "" if flush else " WHERE (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL"
        rows = self.execute(
            f"WITH wanted (name, version) AS (SELECT * FROM unnest(?::text[], ?::text[]){unflushed}), "
            "added AS (INSERT INTO package_versions (name, version) SELECT name, version FROM wanted "
            "ON CONFLICT (name, version) DO NOTHING RETURNING id, name, version) "
            "SELECT id, name, version FROM added UNION ALL "
            "SELECT v.id, v.name, v.version FROM package_versions v JOIN wanted w USING (name, version)",
            (names, versions),
        )
        ids = {(name, version): identifier for identifier, name, version in rows}
        if len(ids) < len(set(zip(names, versions, strict=True))):
            ids = self.look_up(list(zip(names, versions, strict=True)))
        return ids

    def look_up(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        rows = self.execute(
            "SELECT v.id, v.name, v.version FROM package_versions v "
            "JOIN unnest(?::text[], ?::text[]) AS w (name, version) ON v.name = w.name AND v.version = w.version",
            ([name for name, _ in pairs], [version for _, version in pairs]),
        )
        return {(name, version): identifier for identifier, name, version in rows}

    @contextmanager
    def transaction(self, *, write: bool, settings: str = "") -> Iterator[None]:
        """Read transactions see one snapshot (REPEATABLE READ); writers order themselves by row locks.

        Readers are kept to index joins: on a large inventory the planner, expecting far more rows
        than a lookup by ids returns, hash-joined the whole packages table (measured once: 41 s
        instead of a second, for the recursive chain query of schema 1). The transaction starts
        with its settings (``settings``: more ``SET LOCAL`` statements) in one round trip to the
        server (a query without parameters may hold several statements).
        """
        start = ["BEGIN" if write else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"]
        if not write:
            start += ["SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off"]
        if settings:
            start.append(settings)
        with self._errors():
            self._db.execute("; ".join(start))
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        with self._errors():
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
