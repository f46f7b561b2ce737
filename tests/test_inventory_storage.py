"""How the inventory stores a project (schema 5), on both backends: a changed project rewrites only
its changed rows and then answers exactly as a fresh inventory does; a batch keeps each project's
status in order; package ids past 2**32 and projects past 65,536 nodes answer alike; an inventory
of an older schema, or a damaged chain, is one clear error line, never a traceback or a wrong answer."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import FIXTURES
from npmaudit.cli import main
from npmaudit.inventory.ingest import read_entry
from npmaudit.inventory.packages import PackageRow, PackageSet
from npmaudit.inventory.results import QueryResult
from npmaudit.inventory.schema import BUCKET_BITS
from npmaudit.inventory.spec import parse_package_spec
from npmaudit.inventory.store import Inventory, ProjectEntry
from npmaudit.records import replace
from servers.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

NPM = FIXTURES / "lockfiles" / "npm"
OLD_CLI, NEW_CLI = NPM / "netlify__cli@d0dee3d", NPM / "netlify__cli"  # two commits of one real project
SHOP = FIXTURES / "inventory" / "shop"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("NPMAUDIT_DB", "NPMAUDIT_INVENTORY", "NODE_ENV", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return request.param


def new_inventory(backend: str, tmp_path: Path, name: str, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return str(tmp_path / f"{name}.sqlite")
    server = request.getfixturevalue("postgres_server")
    return str(server.create_database())


def everything(inventory: Inventory, *projects: Path) -> QueryResult:
    """Every install of every name either project has: the whole stored answer, chains included."""
    names = sorted({row.name for project in projects for row in read_entry(project).packages.rows[1:]})
    return inventory.query([parse_package_spec(name) for name in names])


@contextmanager
def replaced_and_fresh(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, before: ProjectEntry, after: ProjectEntry
) -> Iterator[tuple[Inventory, Inventory]]:
    """Two inventories: one that recorded ``before`` and then replaced it by ``after``, and one that
    only ever saw ``after`` (what the first must answer as)."""
    replaced_at = new_inventory(backend, tmp_path, "replaced", request)
    fresh_at = new_inventory(backend, tmp_path, "fresh", request)
    with Inventory.open(replaced_at, create=True) as replaced, Inventory.open(fresh_at, create=True) as fresh:
        assert replaced.add(before).status == "added"
        assert replaced.add(after).status == "replaced"
        assert fresh.add(after).status == "added"
        yield replaced, fresh


@pytest.mark.parametrize("order", [(OLD_CLI, NEW_CLI), (NEW_CLI, OLD_CLI)], ids=["upgrade", "downgrade"])
def test_a_changed_project_answers_as_if_it_had_been_added_fresh(
    backend: str, order: tuple[Path, Path], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Between two commits packages move, appear and disappear (and the project grows or shrinks):
    only the changed rows are rewritten, and every install path, chain, group and source then reads
    as in an inventory that only ever saw the second commit."""
    before, after = (read_entry(project, location="org/cli") for project in order)
    before_rows = {row.location: row for row in before.packages.rows}
    after_rows = {row.location: row for row in after.packages.rows}
    assert before_rows.keys() - after_rows.keys() and after_rows.keys() - before_rows.keys()
    assert any(after_rows[k].version != before_rows[k].version for k in after_rows.keys() & before_rows.keys())
    with replaced_and_fresh(backend, tmp_path, request, before, after) as (replaced, fresh):
        stored = replaced.backend.execute("SELECT COUNT(*) FROM packages")[0][0]
        answer, expected = everything(replaced, *order), everything(fresh, *order)
    assert stored == len(after.packages.rows)  # no row of the first commit left behind
    assert expected.hits > 1000 and any(len(hit.chain) > 4 for p in expected.projects for hit in p.hits)
    assert answer.projects == expected.projects


def stored_rows(inventory: Inventory) -> dict[int, tuple[object, ...]]:
    return {
        row[0]: tuple(map(bytes_of, row))
        for row in inventory.backend.execute("SELECT node, package_id, location, source, flags, chain FROM packages")
    }


def bytes_of(value: object) -> object:
    return bytes(value) if isinstance(value, memoryview) else value


def test_a_moved_ancestor_leaves_its_descendants_rows_as_they_were(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A new version of a package that others hang below (the shop's mocha) changes its own row's
    package id, and the root's row, which lists the package ids of the project's parents: the
    descendants' chains name mocha's slot in that list, not its version, so their rows are stored
    exactly as before, and each still reads its chain through the new version, as in an inventory
    that only saw the new set; the old version matches nothing."""
    before = read_entry(SHOP, location="shop")
    rows = tuple(replace(row, version="10.2.1") if row.name == "mocha" else row for row in before.packages.rows)
    after = replace(before, packages=PackageSet(before.packages.lockfile_format, rows))
    mocha = next(row.node for row in rows if row.name == "mocha")
    below = {row.name + "@" + row.version for row in rows if row.parent == mocha}
    assert below == {"debug@4.3.4", "semver@7.6.0-beta.1"}  # and ms@2.1.2 below debug
    replaced_at = new_inventory(backend, tmp_path, "replaced", request)
    with (
        Inventory.open(replaced_at, create=True) as replaced,
        Inventory.open(new_inventory(backend, tmp_path, "fresh", request), create=True) as fresh,
    ):
        assert replaced.add(before).status == "added"
        first = stored_rows(replaced)
        assert replaced.add(after).status == "replaced"
        second = stored_rows(replaced)
        assert fresh.add(after).status == "added"
        answer, expected = everything(replaced, SHOP), everything(fresh, SHOP)
        assert not replaced.query([parse_package_spec("mocha@10.2.0")]).projects
    assert {node for node in first if first[node] != second[node]} == {0, mocha}
    assert first[mocha][5] == second[mocha][5] and first[mocha][1] != second[mocha][1]
    assert first[0][:5] == second[0][:5]  # the root's own package is the same: only its list of parents moved
    assert answer.projects == expected.projects
    chains = {f"{hit.name}@{hit.version}": hit.chain for project in answer.projects for hit in project.hits}
    assert chains["ms@2.1.2"] == ("shop", "mocha@10.2.1", "debug@4.3.4", "ms@2.1.2")
    assert chains["semver@7.6.0-beta.1"] == ("shop", "mocha@10.2.1", "semver@7.6.0-beta.1")


def test_a_project_is_stored_alike_whether_its_ids_were_known_before_the_write_or_not(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A writer learns the ids that other writers interned, and prepares a project's rows and
    chains from them, before it takes the write lock; a project with a pair nobody has interned
    yet is prepared inside the lock instead. Both answer as an inventory where one writer interned
    every pair itself."""
    shared_at = new_inventory(backend, tmp_path, "shared", request)
    fresh_at = new_inventory(backend, tmp_path, "fresh", request)
    with Inventory.open(shared_at, create=True) as first:
        assert first.add(read_entry(OLD_CLI, location="org/first")).status == "added"
    with Inventory.open(shared_at) as second:  # a new process: it knows no id yet
        assert second.add(read_entry(OLD_CLI, location="org/copy")).status == "added"  # every pair known
        assert second.add(read_entry(NEW_CLI, location="org/next")).status == "added"  # some pairs new
        answer = everything(second, OLD_CLI, NEW_CLI)
    with Inventory.open(fresh_at, create=True) as fresh:
        assert [
            fresh.add(read_entry(project, location=name)).status
            for project, name in ((NEW_CLI, "org/next"), (OLD_CLI, "org/copy"))
        ] == ["added", "added"]
        expected = everything(fresh, OLD_CLI, NEW_CLI)
    stored = {project.location: project for project in answer.projects}
    assert stored.keys() == {"org/first", "org/copy", "org/next"}
    assert stored["org/first"].hits == stored["org/copy"].hits
    assert expected.hits > 2000 and any(len(hit.chain) > 4 for p in expected.projects for hit in p.hits)
    assert [stored[project.location] for project in expected.projects] == list(expected.projects)


def test_a_batch_reports_each_project_in_the_order_given(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    shop, cli = read_entry(SHOP, location="z/shop"), read_entry(NEW_CLI, location="a/cli")
    with Inventory.open(new_inventory(backend, tmp_path, "batch", request), create=True) as inventory:
        first = inventory.add_many([shop, cli, shop])
        second = inventory.add_many([read_entry(OLD_CLI, location="a/cli"), shop])
        assert [project.location for project in inventory.projects()] == ["a/cli", "z/shop"]
    assert [(result.location, result.status) for result in first] == [
        ("z/shop", "added"),
        ("a/cli", "added"),
        ("z/shop", "unchanged"),
    ]
    assert [result.status for result in second] == ["replaced", "unchanged"]


def test_chains_hold_package_ids_past_2_to_the_32(tmp_path: Path) -> None:
    """Ids are stored 8 bytes wide once they pass 2**32: the answer is the same as with small ids."""
    small, large = tmp_path / "small.sqlite", tmp_path / "large.sqlite"
    with Inventory.open(str(large), create=True):
        pass
    with sqlite3.connect(large) as connection:  # SQLite numbers new rows after the largest id
        connection.execute("INSERT INTO package_versions (id, name, version) VALUES (?, 'x', '0')", (2**32 + 7,))
    with Inventory.open(str(small), create=True) as inventory:
        inventory.add(read_entry(SHOP, location="shop"))
        expected = everything(inventory, SHOP)
    with Inventory.open(str(large)) as inventory:
        inventory.add(read_entry(SHOP, location="shop"))
        assert min(row[0] for row in inventory.backend.execute("SELECT package_id FROM packages")) > 2**32
        assert everything(inventory, SHOP).projects == expected.projects
    assert any(len(hit.chain) == 4 for project in expected.projects for hit in project.hits)


def test_a_project_past_65536_parents_answers_with_wide_chains(tmp_path: Path) -> None:
    """A chain's slots (places in the project's list of parents) are stored 4 bytes wide in a project
    of more than 65,536 nodes that have children: a chain through a slot past 2**16 reads back whole."""
    root = read_entry(SHOP, location="huge").packages.rows[0]
    hubs = 66_000
    rows = [root]
    for index in range(hubs):
        hub, below = 1 + 2 * index, 2 + 2 * index
        rows.append(PackageRow(hub, "hub", f"1.0.{index}", f"node_modules/hub{index}", "registry", 0, 0))
        name = "leaf" if index == hubs - 1 else "spoke"
        rows.append(PackageRow(below, name, "2.0.0", f"node_modules/hub{index}/node_modules/x", "registry", 0, hub))
    entry = ProjectEntry("huge", "huge/package-lock.json", None, PackageSet("npm-v3", tuple(rows)), {})
    with Inventory.open(str(tmp_path / "huge.sqlite"), create=True) as inventory:
        assert inventory.add(entry).status == "added"
        chain = inventory.backend.execute("SELECT chain FROM packages WHERE node = ?", (2 * hubs,))[0][0]
        (project,) = inventory.query([parse_package_spec("leaf")]).projects
    assert chain[0] & 0x7F == 4 and int.from_bytes(chain[1:], "little") == hubs  # the root's slot is 0
    assert [hit.chain for hit in project.hits] == [("shop", f"hub@1.0.{hubs - 1}", "leaf@2.0.0")]


@pytest.mark.parametrize("old", [1, 3, 4], ids=["parent-pointers", "buckets-of-128", "chains-of-package-ids"])
def test_an_inventory_of_an_older_schema_is_one_clear_error(
    backend: str, old: int, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    """Schema 1 stored parent pointers; schema 3 bucketed the index by 128 projects, which today's
    queries (asking buckets of 32) would not use; schema 4's chains held package ids, which today's
    queries would read as node numbers (and which cannot be turned into them: a project may install
    one version at several nodes). Each is refused with one line naming the inventory and the
    command that rebuilds it."""
    location = new_inventory(backend, tmp_path, "old", request)
    shop = tmp_path / "shop"
    shutil.copytree(SHOP, shop)
    assert main(["inventory", "add", str(shop), "--inventory", location]) == 0
    if backend == "sqlite":
        with sqlite3.connect(location) as connection:
            connection.execute(f"PRAGMA user_version = {old}")  # as schemas 1 to 3 recorded themselves
    else:
        import psycopg

        with psycopg.connect(location, autocommit=True) as connection:
            connection.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(old),))
    capsys.readouterr()
    named = location if backend == "sqlite" else location.rsplit("/", 1)[1].split("?")[0]  # the database
    for command in (["query", "debug"], ["add", str(shop)], ["list"]):
        assert main(["inventory", *command, "--inventory", location]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1
        assert f"inventory schema {old} was written by an older npmaudit" in err and "Traceback" not in err
        assert "`npmaudit inventory add -r PATH --inventory NEW`" in err and named in err


@pytest.mark.parametrize(
    "chain",
    ["820102", "02", "82ffff"],
    ids=["length-not-a-multiple-of-its-width", "no-node-and-not-from-the-root", "a-node-the-project-lacks"],
)
def test_a_damaged_chain_is_an_error_not_a_wrong_chain(
    chain: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    location = tmp_path / "inventory.sqlite"
    with Inventory.open(str(location), create=True) as inventory:
        inventory.add(read_entry(SHOP, location="shop"))
    with sqlite3.connect(location) as connection:
        connection.execute(
            f"UPDATE packages SET chain = x'{chain}' WHERE package_id IN "
            "(SELECT id FROM package_versions WHERE name = 'ms')"
        )
    assert main(["inventory", "query", "ms", "--inventory", str(location)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "damaged inventory" in err and str(location) in err


def test_a_damaged_list_of_parents_is_an_error_not_a_wrong_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The root's row holds the package ids a project's chains stand for: one of a length its header
    does not fit is refused, as a damaged chain is."""
    location = tmp_path / "inventory.sqlite"
    with Inventory.open(str(location), create=True) as inventory:
        inventory.add(read_entry(SHOP, location="shop"))
    with sqlite3.connect(location) as connection:
        connection.execute("UPDATE packages SET chain = x'040102' WHERE node = 0")
    assert main(["inventory", "query", "ms", "--inventory", str(location)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "damaged inventory" in err and str(location) in err


def test_projects_in_different_buckets_of_the_index_are_all_found(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    """The index on package ids is split by project id (schema.BUCKET_BITS, per dialect): a query and an audit
    ask every bucket, the last one included."""
    location = new_inventory(backend, tmp_path, "buckets", request)
    with Inventory.open(location, create=True) as inventory:
        inventory.add(read_entry(SHOP, location="first"))
        db = inventory.backend
        if backend == "sqlite":  # the next project is numbered after the largest id
            db.execute("INSERT INTO projects VALUES (5000, 'gap', '', '', NULL, '', '{}', 0, '', '')")
            inventory.add(read_entry(SHOP, location="second"))
            db.execute("DELETE FROM projects WHERE id = 5000")
        else:
            db.execute("SELECT setval(pg_get_serial_sequence('projects', 'id'), 5000)")
            inventory.add(read_entry(SHOP, location="second"))
        ids = sorted(row[0] for row in db.execute("SELECT id FROM projects"))
        bits = BUCKET_BITS[backend]
        assert ids[0] >> bits == 0 and ids[1] >> bits == 5001 >> bits > 1
        result = inventory.query([parse_package_spec("debug@2.6.9")])
    assert [project.location for project in result.projects] == ["first", "second"]
    record = {
        "id": "MAL-2025-0001",
        "modified": "2025-01-01T00:00:00Z",
        "summary": "Malicious code in debug (test record)",
        "affected": [{"package": {"ecosystem": "npm", "name": "debug"}, "versions": ["2.6.9"]}],
    }
    (tmp_path / "record.jsonl").write_text(json.dumps(record) + "\n")
    store = tmp_path / "advisories.sqlite"
    assert main(["db", "import", "--db", str(store), str(tmp_path / "record.jsonl")]) == 0
    capsys.readouterr()
    main(["inventory", "audit", "--db", str(store), "--inventory", location, "--format", "json"])
    audited = json.loads(capsys.readouterr().out)
    assert [project["location"] for project in audited["projects"]] == ["first", "second"]
