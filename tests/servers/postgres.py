"""A real PostgreSQL server for the inventory's tests and benchmark: Debian's ``postgresql`` package
(``initdb``/``pg_ctl`` from ``/usr/lib/postgresql/*/bin`` or PATH), started in a temporary data
directory, listening only on a Unix socket in that directory (no TCP port, nothing to collide with).

PostgreSQL refuses to run as root; as root (CI), the server runs as the ``postgres`` user the
package creates. ``.ci/run`` installs the package when it is missing. Under ``CI=true`` a server
that cannot be started fails the tests that need it: a skipped gate would be a silent pass.

Import as ``from servers.postgres import ...`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

USER = "npmaudit"


class PostgresUnavailable(RuntimeError):
    pass


def binaries() -> Path:
    """The directory holding initdb and pg_ctl."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    raise PostgresUnavailable("PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)")


class TemporaryPostgres:
    """``with TemporaryPostgres() as server: server.url("dbname")``; stopped and deleted on exit."""

    def __init__(self, *, durable: bool = False) -> None:
        """``durable``: fsync as a production server does (benchmarks); tests run without it."""
        self.durable = durable
        self.bin = binaries()
        self.root = Path(tempfile.mkdtemp(prefix="npmaudit-pg-"))
        self.data = self.root / "data"
        self.as_postgres = os.geteuid() == 0
        self.started = False

    def _run(self, *command: str) -> None:
        argv = list(command)
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.root / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(f"{' '.join(command)} failed: {done.stderr.strip()} {tail}".strip())

    def __enter__(self) -> TemporaryPostgres:
        try:
            if self.as_postgres:
                shutil.chown(self.root, "postgres")
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"
            )
            options = f"-k {self.root} -c listen_addresses='' -c max_connections=60"
            if not self.durable:
                options += " -c fsync=off -c full_page_writes=off"
            log = str(self.root / "log")
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
            self.started = True
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started:
            with contextlib.suppress(PostgresUnavailable):
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@/{database}?host={self.root}"

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def unavailable(reason: str) -> None:
    """Skip a PostgreSQL test, except under CI where a missing server is a failure."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL is required under CI=true and is unavailable: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TemporaryPostgres]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (pip install -e '.[test]')")
    try:
        server = TemporaryPostgres()
        server.__enter__()
    except (PostgresUnavailable, OSError, subprocess.SubprocessError) as error:
        unavailable(str(error))
    try:
        yield server
    finally:
        server.__exit__()


@pytest.fixture
def postgres_url(postgres_server: TemporaryPostgres) -> str:
    """A fresh database on the session's server."""
    return postgres_server.create_database()
