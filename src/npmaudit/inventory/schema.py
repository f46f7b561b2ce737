"""The inventory's schema: one set of tables for SQLite and PostgreSQL.

``package_versions`` holds each distinct (name, version) once, under a unique index on
(name, version): a query pre-filters by name there, tests its range on the distinct versions only,
and then reads the installs of the versions that matched through ``packages_by_package``. It only
grows (an id is never reused), so a process may cache ids across transactions; a version that no
project installs any more simply matches nothing.

``packages`` holds one row per installed node, keyed by (project, node): the install path ("" for
the common ``node_modules/NAME``: see stored_location in npmaudit/inventory/store.py), source kind,
group bits and ``chain``, the slots of the nodes on a shortest chain from the root down to the
node's parent in the project's list of parents, whose package ids the root's row stores in its
``chain`` (npmaudit/inventory/chains.py): a query reads a match and its chain in one row, and each
project's list with the project. A chain names no version, so a changed add rewrites only the rows
whose own version (or path, source, groups) moved, and the root's.
Its index ``packages_by_package`` is on (project bucket, package id): see :data:`SQLITE_BUCKET_BITS`.
``findings`` is the last ``inventory audit``'s result, which the next run compares with;
``audits`` records when each run happened.

No foreign keys: a project's rows are replaced by explicit statements inside one transaction, and
per-row trigger checks would slow the bulk inserts of a fleet down for nothing.
"""

from __future__ import annotations

# 2: packages.chain (the ids from the root) replaced packages.parent; 3: buckets of 128; 4: of 32 (SQLite);
# 5: chains of slots in the project's list of parents (the root row's chain) instead of package ids
SCHEMA_VERSION = 5
SQLITE_BUCKET_BITS = 5
"""The index on package ids is split by project id into buckets of 32 projects: adding or
changing a project writes index pages of its own bucket only. One index over the whole fleet had
every add touch a different page per package; buckets of 1,024 projects still had an add of 850
packages dirty about as many pages, and the commit that wrote them out was a third of the add.
Buckets of 128 projects took a first add from 6.1 to 4.3 ms of CPU at 10,000 projects, but a
changed add, whose moved versions delete and insert entries all over its bucket's ~360 pages,
still wrote about 110 pages to the log: its commit took 1.6 ms against 0.5 ms for a first add (whose
bucket is the newest, still filling). Buckets of 32 projects (~90 pages) took that commit to 0.45
ms and a changed add from 6.4-6.8 to 4.9-5.2 ms (10,000 projects, one writer, both bucket sizes
in one session; 64 projects: 6.1-6.3 ms). A query asks each bucket (313 at 10,000 projects):
broad and commonest-version queries measured alike (their time is in the installs they read), a
rare version's went from 0.3 to 0.7 ms, and ``inventory audit``'s scan of the stored versions
from 0.6 to 1.4 s."""
POSTGRES_BUCKET_BITS = 7
"""PostgreSQL keeps buckets of 128 projects. Its changed add deletes the changed rows and copies
them in again, and spends its time in round trips and the commit's flush: buckets of 32 measured
no faster there (changed single writer 89 -> 83/s at 10,000 projects), while its queries, which
probe every bucket for every matching version through one array, got slower (broad p50 146 -> 179
ms, rare versions 1.7 -> 3.2 ms, in the same run)."""
BUCKET_BITS = {"sqlite": SQLITE_BUCKET_BITS, "postgresql": POSTGRES_BUCKET_BITS}
"""Each dialect's bucket size, as a shift of the project id."""
APPLICATION_ID = 0x6E706D69  # b"npmi": tells an inventory from any other SQLite file

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
    id {identity},
    location TEXT NOT NULL UNIQUE,
    lockfile TEXT NOT NULL,
    lockfile_format TEXT NOT NULL,
    lockfile_sha256 TEXT,
    fingerprint TEXT NOT NULL,
    labels TEXT NOT NULL,
    packages INTEGER NOT NULL,
    added TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS package_versions (
    id {identity},
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    UNIQUE (name, version)
);
CREATE TABLE IF NOT EXISTS packages (
    project_id {bigint} NOT NULL,
    node INTEGER NOT NULL,
    package_id {bigint} NOT NULL,
    location TEXT NOT NULL,
    source TEXT NOT NULL,
    flags SMALLINT NOT NULL,
    chain {blob} NOT NULL,
    PRIMARY KEY (project_id, node)
){without_rowid};
CREATE INDEX IF NOT EXISTS packages_by_package ON packages ((project_id >> {bucket_bits}), package_id);
CREATE TABLE IF NOT EXISTS findings (
    project_id {bigint} NOT NULL,
    advisory TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    malicious SMALLINT NOT NULL,
    severity TEXT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (project_id, advisory, name, version)
){without_rowid};
CREATE TABLE IF NOT EXISTS audits (
    id {identity},
    finished TEXT NOT NULL,
    database TEXT NOT NULL,
    projects INTEGER NOT NULL,
    affected INTEGER NOT NULL
)
"""

BINARY_COPY = {
    "packages": {
        "project_id": "int8",
        "node": "int4",
        "package_id": "int8",
        "location": "text",
        "source": "text",
        "flags": "int2",
        "chain": "bytea",
    }
}
"""PostgreSQL's types of the columns of the tables copied in binary (the bulk of every add): the
server then parses no text and the client hex-encodes no chain."""

DIALECTS = {
    "sqlite": {
        "identity": "INTEGER PRIMARY KEY",
        "bigint": "INTEGER",
        "blob": "BLOB",
        "without_rowid": " WITHOUT ROWID",
    },
    "postgresql": {
        "identity": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "bigint": "BIGINT",
        "blob": "BYTEA",
        "without_rowid": "",
    },
}


def statements(dialect: str) -> list[str]:
    """The schema's statements for one dialect, in order."""
    text = _TABLES.format(**DIALECTS[dialect], bucket_bits=BUCKET_BITS[dialect])
    return [statement.strip() for statement in text.split(";") if statement.strip()]
