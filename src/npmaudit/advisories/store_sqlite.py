"""Opening the store's SQLite file safely: read-only where it cannot be written (a store shared with CI
runners), never through a symbolic link or over a file that is not a regular one, with its schema,
identity and metadata checked, and every SQLite failure turned into a one-line error naming the file.

Split from :mod:`npmaudit.advisories.store`, which holds the records and their merging.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.advisories.local import SQLITE_SUFFIXES
from npmaudit.errors import InputError
from npmaudit.sqlite_wal import enter_wal

if TYPE_CHECKING:
    from typing import Any

SCHEMA_VERSION = 1
# PRAGMA application_id: tells our stores from any other SQLite file (b"npma").
APPLICATION_ID = 0x6E706D61
BUSY_TIMEOUT_MS = 600_000  # a full import takes well under a minute; waiting writers must outlast it
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

# The deflate preset dictionary written into every new store (and read back from the store, so a
# future version may change this constant without breaking existing stores). Most frequent
# fragments last: deflate reaches them with the shortest distances.
_ZDICT = (
    b'"credits":[{"name":"","type":"FINDER","contact":["https://"]}],"type":"REPORTER"'
    b'"database_specific":{"cwe_ids":["CWE-"],"github_reviewed":true,"github_reviewed_at":"'
    b'","nvd_published_at":"","severity":"MODERATE"},"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/'
    b'PR:N/UI:N/S:U/C:H/I:H/A:H"}]}HIGHCRITICALLOW"type":"WEB","url":"https://github.com/'
    b'"type":"PACKAGE","url":"https://nvd.nist.gov/vuln/detail/CVE-20'
    b'"database_specific":{"source":"https://github.com/github/advisory-database/blob/main/advisories/'
    b'github-reviewed/20"purl":"pkg:npm/"},{"fixed":"'
    b'"versions":["1.0.0"],"last_affected":"'
    b'{"source":"ossf-package-analysis","sha256":"","import_time":"","modified_time":"",'
    b'"versions":[]},{"source":"reversing-labs","sha256":"","import_time":"","id":"RLMA-20",'
    b'"modified_time":"","versions":["'
    b'"withdrawn":"'
    b'"references":[{"type":"ADVISORY","url":"https://security.snyk.io/vuln/SNYK-JS-'
    b'"},{"type":"PACKAGE","url":"https://npmjs.com/package/'
    b'{"modified":"20","published":"20","schema_version":"1.5.0","id":"MAL-20","aliases":["GHSA-'
    b'"],"summary":"Malicious code in  (npm)","details":"\\n---\\n_-= Per source details. Do not edit below '
    b"this line.=-_\\n\\n## Source: ghsa-malware ()\\nAny computer that has this package installed or running "
    b"should be considered fully compromised. All secrets and keys stored on that computer should be rotated "
    b"immediately from a different computer. The package should be removed, but as full control of the "
    b"computer may have been given to an outside entity, there is no guarantee that removing the package "
    b'will remove all malicious software resulting from installing it.\\n","affected":[{"package":'
    b'{"ecosystem":"npm","name":""},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}],'
    b'"database_specific":{"cwes":[{"cweId":"CWE-506","description":"The product contains code that appears '
    b'to be malicious in nature.","name":"Embedded Malicious Code"}]}}],"references":[{"type":"ADVISORY",'
    b'"url":"https://github.com/advisories/GHSA-"}],"database_specific":{"malicious-packages-origins":'
    b'[{"id":"GHSA-","import_time":"20T","modified_time":"20T","ranges":[{"events":[{"introduced":"0"}],'
    b'"type":"SEMVER"}],"sha256":"","source":"ghsa-malware"}]}}'
)

_MIGRATIONS: dict[int, str] = {
    # version -> the script that brings a store from version-1 to version
    1: """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
        CREATE TABLE advisories (
            key TEXT NOT NULL UNIQUE,       -- jsondb.record_key: the id
            modified TEXT NOT NULL,         -- normalised ('+00:00' -> 'Z'), '' when absent
            withdrawn TEXT,
            malicious INTEGER NOT NULL,
            names TEXT NOT NULL,            -- the npm names it affects, one per line (to re-index on update)
            record BLOB NOT NULL            -- compact JSON, deflated with meta 'zdict'
        );
        CREATE TABLE affected (
            name TEXT NOT NULL,
            key TEXT NOT NULL,
            PRIMARY KEY (name, key)
        ) WITHOUT ROWID;
        CREATE TABLE sources (
            location TEXT PRIMARY KEY,      -- a path or mirror URL (never with credentials)
            kind TEXT NOT NULL,
            updated TEXT NOT NULL,
            records INTEGER NOT NULL,       -- records the source held at its last import
            added INTEGER NOT NULL,
            changed INTEGER NOT NULL,
            state TEXT                      -- source-specific JSON (a mirror's position)
        );
    """,
}


def _connect(path: Path, *, create: bool, name: Path) -> sqlite3.Connection:
    """A connection that has read the schema, so a file it cannot use fails here.

    Without ``create`` a store the user may read but not write opens read-only (a shared cache).
    A WAL store on a read-only file system, or in a directory this user cannot write and that no
    writer is using (no ``-wal`` or ``-shm`` file beside it), opens as *immutable*: SQLite cannot
    create the shared-memory file a WAL reader otherwise needs, and there is nobody whose writes
    it would have to see. A store that can be neither opened nor read is an :class:`InputError`.
    """
    base = path.resolve().as_uri()
    if create:
        try:
            return _opened(base + "?mode=rwc")
        except sqlite3.OperationalError as error:
            reason = _reason(error)
            if _read_only_place(path.resolve()):
                reason += (
                    " (the store is on a read-only file system or in a directory this user cannot write: it can be "
                    "read, not written)"
                )
            if _is_cannot_open(error):
                raise InputError(name, f"cannot open or create the advisory store: {reason}") from None
            raise InputError(name, f"advisory store: {reason}") from None
        except sqlite3.DatabaseError as error:
            raise InputError(name, f"not an advisory store: {_reason(error)}") from None
    failure: sqlite3.Error | None = None
    for query in ("?mode=rw", "?mode=ro", "?mode=ro&immutable=1"):
        if query.endswith("immutable=1") and not _nobody_writes(path.resolve()):
            break
        try:
            return _opened(base + query)
        except sqlite3.OperationalError as error:
            if not _is_cannot_open(error):
                raise InputError(name, f"advisory store: {_reason(error)}") from None
            failure = error
        except sqlite3.DatabaseError as error:
            raise InputError(name, f"not an advisory store: {_reason(error)}") from None
    reason = _reason(failure) if failure is not None else "unknown error"
    if not os.access(path.resolve().parent, os.W_OK) and _has_side_files(path.resolve()):
        reason += (
            " (the store sits in a directory this user cannot write, with the write-ahead log of an unfinished "
            "writer beside it: let its writer finish, or copy the store)"
        )
    raise InputError(name, f"cannot open the advisory store: {reason}") from None


def _opened(uri: str) -> sqlite3.Connection:
    connection = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # opens the file (and the WAL)
    except UnicodeDecodeError:  # SQLite's message quotes a damaged schema's text
        connection.close()
        raise sqlite3.DatabaseError("damaged schema (its text is not UTF-8)") from None
    except BaseException:
        connection.close()
        raise
    return connection


def _is_cannot_open(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY)
    return "unable to open" in str(error) or "readonly" in str(error)


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _nobody_writes(path: Path) -> bool:
    """Can the store change while it is read? Not on a read-only file system; nor in a directory
    this user cannot write when no writer's ``-wal`` / ``-shm`` file is there. (A user who owns the
    directory could still make it writable and write meanwhile: an immutable reader would not see
    that; a store shared read-only is expected on a read-only mount.)"""
    if _read_only_file_system(path.parent):
        return True
    return not os.access(path.parent, os.W_OK) and not _has_side_files(path)


def _read_only_place(path: Path) -> bool:
    if _read_only_file_system(path.parent):
        return True
    return not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK))


def _read_only_file_system(directory: Path) -> bool:
    statvfs = getattr(os, "statvfs", None)  # POSIX only
    try:
        return statvfs is not None and bool(statvfs(directory).f_flag & getattr(os, "ST_RDONLY", 1))
    except OSError:
        return False


def _has_side_files(path: Path) -> bool:
    return any(os.path.lexists(f"{path}{suffix}") for suffix in ("-wal", "-shm"))


def check_store_target(path: Path, name: Path | None = None) -> None:
    """An :class:`InputError` unless ``path`` may become or be written as a store: it must not be
    a symbolic link (a write never follows one: a dangling link would create a store where it
    points), and an existing empty file must be named like a store (``.sqlite``, ``.sqlite3``,
    ``.db``: what an interrupted creation by an older npmaudit left). Any other empty file is
    somebody's file, which SQLite would silently take over as an empty database."""
    shown = name or path
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as error:
        raise InputError(shown, f"cannot open the advisory store: {error.strerror or error}") from None
    if stat.S_ISLNK(info.st_mode):
        raise InputError(
            shown,
            "is a symbolic link: npmaudit writes a store only at its own path, never through a link (name its target)",
        )
    if stat.S_ISREG(info.st_mode) and info.st_size == 0 and path.suffix.lower() not in SQLITE_SUFFIXES:
        raise InputError(
            shown,
            "an empty file, not an advisory store: npmaudit does not turn another file into a store (remove it, "
            "or name another --db)",
        )


def _check_side_files(path: Path, name: Path) -> None:
    """SQLite opens (and truncates) a store's ``-wal``, ``-shm`` and ``-journal`` files, readers too,
    following links: one planted beside a store would be overwritten where it points."""
    real = path.resolve()
    for suffix in SQLITE_SIDE_FILES:
        side = Path(f"{real}{suffix}")
        try:
            mode = os.lstat(side).st_mode
        except FileNotFoundError:
            continue
        except OSError as error:
            raise InputError(name, f"cannot open the advisory store: {side.name}: {error.strerror or error}") from None
        if not stat.S_ISREG(mode):
            what = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
            raise InputError(name, f"{side.name} beside the store is {what}: refusing to open the store through it")


def _prepare(path: Path, db: sqlite3.Connection, *, writable: bool) -> None:
    """Check that this is our store at a version we understand; create or migrate when writing."""
    with _locked_errors(path):
        try:
            application_id, version = _identity(db)
        except sqlite3.DatabaseError as error:
            raise InputError(path, f"not an advisory store: {error}") from None
    if application_id not in (0, APPLICATION_ID) or (application_id == 0 and version != 0):
        raise InputError(path, "not an npmaudit advisory store (a different SQLite database)")
    if version > SCHEMA_VERSION:
        raise InputError(path, f"advisory store schema {version} is newer than this npmaudit reads ({SCHEMA_VERSION})")
    if version == SCHEMA_VERSION:
        if writable:
            _enable_wal(path, db)
        return
    if not writable:
        if version == 0:
            with _locked_errors(path):
                tables = db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise InputError(path, "not an npmaudit advisory store (a different SQLite database)")
            raise InputError(path, "not an advisory store (empty database)")
        raise InputError(path, f"advisory store schema {version} is older: run `npmaudit db update` or `db import`")
    _enable_wal(path, db)
    with _locked_errors(path):
        db.execute("BEGIN IMMEDIATE")
        try:
            application_id, version = _identity(db)  # another process may have migrated meanwhile
            if application_id not in (0, APPLICATION_ID) or (application_id == 0 and version != 0):
                raise InputError(path, "not an npmaudit advisory store (a different SQLite database)")
            if version == 0 and db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
                raise InputError(path, "not an npmaudit advisory store (a different SQLite database)")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        db.execute(statement)
            if version == 0:
                _set_meta(db, "zdict", _ZDICT)
                _set_meta(db, "records", 0)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            _rollback(db)
            raise
        db.execute("COMMIT")


def sql_text(value: str) -> str:
    """``value`` as SQLite can hold it (UTF-8): a lone surrogate, from a record's ``"\\ud800"``
    escape or an undecodable byte in a file name, is kept as that escape's text. Names are indexed
    and looked up through this same function, so they still find each other."""
    if value.isascii():  # a flag of the string: no encoding for nearly every name, id and time
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(f"\\u{ord(char):04x}" if 0xD800 <= ord(char) <= 0xDFFF else char for char in value)
    return value


def _identity(db: sqlite3.Connection) -> tuple[int, int]:
    (application_id,) = db.execute("PRAGMA application_id").fetchone()
    (version,) = db.execute("PRAGMA user_version").fetchone()
    return application_id, version


def _enable_wal(path: Path, db: sqlite3.Connection) -> None:
    # WAL: readers never block on a writer (only a power cut may lose the last commits).
    with _locked_errors(path):
        enter_wal(db, BUSY_TIMEOUT_MS / 1000)


def _meta(db: sqlite3.Connection, key: str) -> Any:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return None  # not created yet (a store being created by this very call)
        raise
    return row[0] if row else None


def _set_meta(db: sqlite3.Connection, key: str, value: Any) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


@contextmanager
def _locked_errors(path: Path) -> Iterator[None]:
    """SQLite failures (locked past the timeout, disk full, a damaged file) as one-line input errors."""
    try:
        yield
    except sqlite3.OperationalError as error:
        raise InputError(path, f"advisory store: {error}") from None
    except sqlite3.DatabaseError as error:
        raise InputError(path, f"damaged advisory store: {error}") from None
    except UnicodeDecodeError:  # a damaged page can turn a TEXT value into bytes that are not UTF-8
        raise InputError(path, "damaged advisory store: a text value is not UTF-8") from None


_reading = _locked_errors


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    """Only SQLite's own failures as input errors (the sources read inside a transaction raise
    their own errors, which must keep naming their file)."""
    try:
        yield
    except sqlite3.OperationalError as error:
        raise InputError(path, f"advisory store: {error}: the store was left as it was") from None
    except sqlite3.DatabaseError as error:
        raise InputError(path, f"damaged advisory store: {error}") from None


def _rollback(db: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already: after a full disk or an I/O error it
    rolls back by itself, and a second ROLLBACK would fail ("no transaction is active") and hide
    the first error."""
    if db.in_transaction:
        with suppress(sqlite3.Error):
            db.execute("ROLLBACK")
