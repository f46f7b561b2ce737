"""Writers racing on PostgreSQL, made to meet with a real second connection holding a transaction
open. Interning (name, version) pairs: one statement inserts the missing pairs and reads every id,
and a pair another writer commits while that statement waits for it is still answered (read again
once the statement has returned), with the other writer's id. Adding a project that was not
recorded when the add looked, but that another writer records before the add's insert: the add
waits for it and replaces that writer's set with its own. A changed add compares with the package
rows read after it holds the project's lock (what another writer committed meanwhile)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psycopg

from npmaudit.advisories.local import open_local_database
from npmaudit.errors import InputError
from npmaudit.inventory.ingest import read_entry
from npmaudit.inventory.packages import PackageSet
from npmaudit.inventory.reevaluate import AuditRun, reevaluate
from npmaudit.inventory.spec import parse_package_spec
from npmaudit.inventory.store import AddResult, Inventory
from npmaudit.records import replace
from servers.postgres import TemporaryPostgres, postgres_server, postgres_url  # noqa: F401  (fixtures)
from test_inventory_storage import SHOP, everything


def test_new_and_known_pairs_get_their_ids_in_one_call(postgres_url: str) -> None:  # noqa: F811
    with Inventory.open(postgres_url, create=True) as inventory:
        first = inventory.backend.intern([("a", "1.0.0"), ("b", "2.0.0")])
        second = inventory.backend.intern([("b", "2.0.0"), ("c", "3.0.0"), ("a", "1.0.0")])
        stored = {
            (name, version): id_
            for id_, name, version in inventory.backend.execute("SELECT id, name, version FROM package_versions")
        }
    assert set(first) == {("a", "1.0.0"), ("b", "2.0.0")}
    assert second == {pair: stored[pair] for pair in second} and len(stored) == 3
    assert {pair: second[pair] for pair in first} == first  # a known pair keeps its id


def wait_for_lock(url: str, query_start: str, worker: threading.Thread) -> None:
    """Until a statement starting so waits on a lock (watched from a connection of its own: a
    transaction's view of pg_stat_activity is frozen)."""
    deadline = time.monotonic() + 30
    with psycopg.connect(url, autocommit=True) as watcher:
        while not watcher.execute(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s", (query_start + "%",)
        ).fetchall():
            assert time.monotonic() < deadline and worker.is_alive()
            time.sleep(0.02)


def test_a_project_recorded_by_another_writer_meanwhile_is_replaced(postgres_url: str) -> None:  # noqa: F811
    entry = read_entry(SHOP, location="shop")
    with Inventory.open(postgres_url, create=True) as inventory:
        inventory.backend.intern([("other", "0.0.1")])
        results: list[AddResult] = []
        with psycopg.connect(postgres_url, autocommit=True) as other:
            other.execute("BEGIN")
            other.execute(
                "INSERT INTO projects (location, lockfile, lockfile_format, lockfile_sha256, fingerprint, labels, "
                "packages, added, updated) VALUES ('shop', 'x', 'npm-v3', NULL, 'theirs', '{}', 0, 'then', 'then')"
            )
            worker = threading.Thread(target=lambda: results.append(inventory.add(entry, now="now")))
            worker.start()
            wait_for_lock(postgres_url, "INSERT INTO projects", worker)
            other.execute("COMMIT")
            worker.join(30)
        assert [(result.location, result.status) for result in results] == [("shop", "replaced")]
        assert inventory.backend.execute("SELECT fingerprint, added, updated FROM projects") == [
            (entry.packages.fingerprint, "then", "now")
        ]
        hits = inventory.query([parse_package_spec("debug@2.6.9")])
        assert inventory.add(entry).status == "unchanged"
    assert [project.location for project in hits.projects] == ["shop"]


def test_a_pair_committed_by_another_writer_meanwhile_is_answered_with_its_id(postgres_url: str) -> None:  # noqa: F811
    with Inventory.open(postgres_url, create=True) as inventory:
        inventory.backend.intern([("other", "0.0.1")])
        with psycopg.connect(postgres_url, autocommit=True) as other:
            other.execute("BEGIN")
            (theirs,) = other.execute(
                "INSERT INTO package_versions (name, version) VALUES ('raced', '1.0.0') RETURNING id"
            ).fetchone()  # type: ignore[misc]
            answer: dict[tuple[str, str], int] = {}
            worker = threading.Thread(
                target=lambda: answer.update(inventory.backend.intern([("raced", "1.0.0"), ("fresh", "2.0.0")]))
            )
            worker.start()
            wait_for_lock(postgres_url, "WITH wanted", worker)
            other.execute("COMMIT")
            worker.join(30)
    assert answer[("raced", "1.0.0")] == theirs
    assert set(answer) == {("raced", "1.0.0"), ("fresh", "2.0.0")}


def test_a_changed_add_compares_with_the_rows_committed_before_it_got_the_lock(
    postgres_server: TemporaryPostgres,  # noqa: F811
    postgres_url: str,  # noqa: F811
) -> None:
    """Another writer holds the project and commits a set that lacks a row the new set keeps as
    it was: the add, waiting for that writer, must compare with the committed rows (and write the
    missing one back), not with the rows it would have read before the lock."""
    before = read_entry(SHOP, location="shop")
    rows = tuple(replace(row, version="10.2.1") if row.name == "mocha" else row for row in before.packages.rows)
    after = replace(before, packages=PackageSet(before.packages.lockfile_format, rows))
    moved = {row.node for row in rows if row.name == "mocha"}
    for row in rows:  # the descendants of mocha: their chains change
        if row.parent in moved:
            moved.add(row.node)
    kept = next(row for row in rows[1:] if row.node not in moved)
    results: list[AddResult] = []
    with Inventory.open(postgres_url, create=True) as inventory:
        assert inventory.add(before).status == "added"
        with psycopg.connect(postgres_url, autocommit=True) as other:
            other.execute("BEGIN")
            other.execute("UPDATE projects SET fingerprint = 'theirs' WHERE location = 'shop'")
            other.execute("DELETE FROM packages WHERE node = %s", (kept.node,))
            worker = threading.Thread(target=lambda: results.append(inventory.add(after)))
            worker.start()
            wait_for_lock(postgres_url, "UPDATE projects", worker)
            other.execute("COMMIT")
            worker.join(30)
        assert [result.status for result in results] == ["replaced"]
        answer = everything(inventory, SHOP)
    with Inventory.open(postgres_server.create_database(), create=True) as fresh:
        fresh.add(after)
        expected = everything(fresh, SHOP)
    assert any(hit.name == kept.name for project in expected.projects for hit in project.hits)
    assert answer.projects == expected.projects


def test_a_remove_waits_for_an_add_of_the_same_project_and_leaves_none_of_its_rows(
    postgres_url: str,  # noqa: F811
) -> None:
    """Another writer is adding the project (its row locked, a package row written, not committed)
    when it is removed: the remove waits for that writer, then deletes what it committed too. A
    remove that deleted the package rows before taking the project's lock left that row behind,
    under a project id nothing records any more."""
    entry = read_entry(SHOP, location="shop")
    removed: list[list[str]] = []
    with Inventory.open(postgres_url, create=True) as inventory:
        assert inventory.add(entry).status == "added"
        with psycopg.connect(postgres_url, autocommit=True) as other:
            other.execute("BEGIN")
            (project_id,) = other.execute(
                "UPDATE projects SET fingerprint = 'theirs' WHERE location = 'shop' RETURNING id"
            ).fetchone()
            other.execute(
                "INSERT INTO packages (project_id, node, package_id, location, source, flags, chain) "
                "SELECT project_id, node + 100000, package_id, location, source, flags, chain FROM packages "
                "WHERE project_id = %s LIMIT 1",
                (project_id,),
            )
            worker = threading.Thread(target=lambda: removed.append(inventory.remove(["shop"])))
            worker.start()
            wait_for_lock(postgres_url, "", worker)  # the remove waits for the project's row
            other.execute("COMMIT")
            worker.join(30)
        assert removed == [["shop"]]
        left = inventory.backend.execute("SELECT COUNT(*) FROM packages WHERE project_id = ?", (project_id,))
        assert left == [(0,)]
        assert inventory.projects() == []


def _mocha_database(tmp_path: Path) -> Path:
    """A local database whose one record is on mocha, which the shop fixture installs."""
    database = tmp_path / "advisories.jsonl"
    record = {
        "id": "MAL-2099-0002",
        "modified": "2025-01-01T00:00:00Z",
        "summary": "Malicious code in mocha (npm)",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "mocha"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
            }
        ],
    }
    database.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return database


def _audit_while_another_removes(url: str, database: Path, removed: str) -> list[AuditRun | InputError]:
    """Audit the inventory while another connection holds ``removed``'s row, then removes the
    project and commits: what the audit gave (its run, or the error it raised)."""
    outcome: list[AuditRun | InputError] = []

    def audit() -> None:
        try:
            outcome.append(reevaluate(inventory, open_local_database(database)))
        except InputError as error:
            outcome.append(error)

    with Inventory.open(url) as inventory, psycopg.connect(url, autocommit=True) as other:
        other.execute("BEGIN")
        (project_id,) = other.execute(
            "UPDATE projects SET fingerprint = 'theirs' WHERE location = %s RETURNING id", (removed,)
        ).fetchone()
        worker = threading.Thread(target=audit)
        worker.start()
        wait_for_lock(url, "", worker)  # the audit waits for the project's row
        for table in ("packages", "findings"):
            other.execute(f"DELETE FROM {table} WHERE project_id = %s", (project_id,))
        other.execute("DELETE FROM projects WHERE id = %s", (project_id,))
        other.execute("COMMIT")
        worker.join(30)
    return outcome


def test_an_inventory_audit_records_no_findings_for_a_project_removed_meanwhile(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Another writer is removing a project (its row locked) while the inventory is audited: the
    audit waits for the project's row, and records nothing for it once it is gone. Read unlocked,
    the project was still there, and its findings were recorded under an id nobody has."""
    database = _mocha_database(tmp_path)
    with Inventory.open(postgres_url, create=True) as inventory:
        for location in ("kept", "shop"):
            assert inventory.add(read_entry(SHOP, location=location)).status == "added"
        (kept_id,) = inventory.backend.execute("SELECT id FROM projects WHERE location = 'kept'")[0]
    (run,) = _audit_while_another_removes(postgres_url, database, "shop")
    assert isinstance(run, AuditRun)
    assert [project.location for project in run.affected] == ["kept"]  # the record does hit the shop's packages
    with Inventory.open(postgres_url) as inventory:
        assert inventory.backend.execute("SELECT DISTINCT project_id FROM findings") == [(kept_id,)]


def test_an_inventory_emptied_while_it_is_audited_is_an_error_not_a_pass(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The only project removed while the packages were matched: the audit looked at nothing that
    is still recorded, and says so (the error of an empty inventory), instead of passing."""
    database = _mocha_database(tmp_path)
    with Inventory.open(postgres_url, create=True) as inventory:
        assert inventory.add(read_entry(SHOP, location="shop")).status == "added"
    (error,) = _audit_while_another_removes(postgres_url, database, "shop")
    assert isinstance(error, InputError) and "no project in this inventory" in str(error)
    with Inventory.open(postgres_url) as inventory:
        assert inventory.backend.execute("SELECT COUNT(*) FROM findings") == [(0,)]
