"""`npmaudit inventory` on both backends (a SQLite file, a real PostgreSQL server): adding is a no-op
for an unchanged package set and a replacement for a changed one, labels and locations, removal
(all or none), listing, errors that name the inventory, and `inventory audit --changed` after an
advisory update that adds a malicious record hitting 3 projects and withdraws one hitting 2 others."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, load_jsonl
from npmaudit.cli import main
from npmaudit.inventory.ingest import read_entry
from npmaudit.inventory.store import Inventory
from servers.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

SHOP = FIXTURES / "inventory" / "shop"
NPM_PROJECTS = FIXTURES / "lockfiles" / "npm"
STORE_FIXTURES = [
    *sorted((FIXTURES / "osv" / "store").glob("*.jsonl.gz")),
    *sorted((FIXTURES / "osv" / "core").glob("*.jsonl")),
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("NPMAUDIT_DB", "NPMAUDIT_INVENTORY", "NODE_ENV", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture(params=["sqlite", "postgresql"])
def inventory(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "inventory.sqlite")
    return str(request.getfixturevalue("postgres_url"))


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code, out, err = cli(capsys, *args, "--format", "json")
    assert err == "" or code == 1, err
    return code, json.loads(out)


def copy_shop(tmp_path: Path, name: str = "shop") -> Path:
    target = tmp_path / name
    shutil.copytree(SHOP, target)
    return target


def set_version(project: Path, location: str, version: str) -> None:
    lockfile = project / "package-lock.json"
    data = json.loads(lockfile.read_text())
    data["packages"][location]["version"] = version
    lockfile.write_text(json.dumps(data, indent=2))


def listed(capsys: pytest.CaptureFixture[str], inventory: str) -> dict[str, Any]:
    code, document = cli_json(capsys, "inventory", "list", "--inventory", inventory)
    assert code == 0
    return {project["location"]: project for project in document["projects"]}


# -- adding ----------------------------------------------------------------------------------------


def test_re_adding_an_unchanged_project_writes_nothing(inventory: str, tmp_path: Path) -> None:
    shop = copy_shop(tmp_path)
    entry = read_entry(shop, labels={"commit": "abc"})
    with Inventory.open(inventory, create=True) as opened:
        first = opened.add(entry, now="2025-01-01T00:00:00Z")
        again = opened.add(read_entry(shop, labels={"commit": "abc"}), now="2025-02-01T00:00:00Z")
        (record,) = opened.projects()
    assert (first.status, first.packages) == ("added", 10)
    assert again.status == "unchanged"
    assert (record.added, record.updated, record.packages) == ("2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", 10)


def test_a_new_label_on_an_unchanged_project_updates_only_the_labels(inventory: str, tmp_path: Path) -> None:
    shop = copy_shop(tmp_path)
    with Inventory.open(inventory, create=True) as opened:
        opened.add(read_entry(shop, labels={"commit": "abc"}), now="2025-01-01T00:00:00Z")
        result = opened.add(read_entry(shop, labels={"commit": "def"}), now="2025-02-01T00:00:00Z")
        (record,) = opened.projects()
    assert result.status == "unchanged"
    assert (dict(record.labels), record.updated) == ({"commit": "def"}, "2025-02-01T00:00:00Z")


def test_a_changed_lockfile_replaces_the_projects_rows(
    capsys: pytest.CaptureFixture[str], inventory: str, tmp_path: Path
) -> None:
    shop, other = copy_shop(tmp_path), copy_shop(tmp_path, "other")
    code, out, _ = cli(capsys, "inventory", "add", str(shop), str(other), "--inventory", inventory)
    assert code == 0 and out.count("added: ") == 2
    set_version(shop, "node_modules/ms", "2.1.3")
    code, out, _ = cli(capsys, "inventory", "add", str(shop), str(other), "--inventory", inventory)
    assert out.splitlines() == [f"replaced: {shop} (10 packages)", f"unchanged: {other} (10 packages)"]
    _, old = cli_json(capsys, "inventory", "query", "ms@2.0.0", "--inventory", inventory)
    _, new = cli_json(capsys, "inventory", "query", "ms@2.1.3", "--inventory", inventory)
    assert [p["location"] for p in old["projects"]] == [str(other)]
    assert [(p["location"], [m["chain"] for m in p["matches"]]) for p in new["projects"]] == [
        (str(shop), [["shop", "express@4.18.2", "debug@2.6.9", "ms@2.1.3"]])
    ]
    _, everything = cli_json(capsys, "inventory", "query", "ms", "express", "mocha", "--inventory", inventory)
    assert everything["summary"]["installs"] == 8  # 2 ms + express + mocha in each: no row lost or doubled


def test_a_project_is_known_by_its_location_and_labels(
    capsys: pytest.CaptureFixture[str], inventory: str, tmp_path: Path
) -> None:
    shop = copy_shop(tmp_path / "checkout-1")
    common = ("--inventory", inventory, "--location", "org/shop", "--label", "repo=org/shop")
    assert cli(capsys, "inventory", "add", str(shop), *common, "--label", "commit=abc")[0] == 0
    moved = copy_shop(tmp_path / "checkout-2")  # the next CI run checks out somewhere else
    code, out, _ = cli(capsys, "inventory", "add", str(moved), *common, "--label", "commit=def")
    assert out == "unchanged: org/shop (10 packages)\n"
    code, report = cli_json(capsys, "inventory", "query", "debug@2.6.9", "--inventory", inventory)
    assert code == 1
    (project,) = report["projects"]
    assert (project["location"], project["labels"]) == ("org/shop", {"commit": "def", "repo": "org/shop"})
    code, out, _ = cli(capsys, "inventory", "query", "debug@2.6.9", "--inventory", inventory)
    assert "org/shop (package-lock.json)  [commit=def repo=org/shop]\n" in out


def test_a_recursive_add_names_each_project_under_the_location(
    capsys: pytest.CaptureFixture[str], inventory: str, tmp_path: Path
) -> None:
    copy_shop(tmp_path / "fleet")
    copy_shop(tmp_path / "fleet" / "services", "api")
    code, _, _ = cli(
        capsys, "inventory", "add", "-r", str(tmp_path / "fleet"), "--location", "org", "--inventory", inventory
    )
    assert code == 0
    assert sorted(listed(capsys, inventory)) == ["org/services/api", "org/shop"]


def test_a_project_that_cannot_be_read_is_reported_and_the_others_are_added(
    capsys: pytest.CaptureFixture[str], inventory: str, tmp_path: Path
) -> None:
    copy_shop(tmp_path / "fleet")
    broken = tmp_path / "fleet" / "broken"
    broken.mkdir()
    (broken / "yarn.lock").write_text('"a@^1":\n  version "1.0.0"\n  resolved\n')
    code, out, err = cli(capsys, "inventory", "add", "-r", str(tmp_path / "fleet"), "--inventory", inventory)
    assert code == 2
    assert out == f"added: {(tmp_path / 'fleet' / 'shop').resolve()} (10 packages)\n"
    assert str(broken / "yarn.lock") in err
    assert list(listed(capsys, inventory)) == [str((tmp_path / "fleet" / "shop").resolve())]


# -- removing and listing --------------------------------------------------------------------------


def test_remove_forgets_projects_all_or_none(
    capsys: pytest.CaptureFixture[str], inventory: str, tmp_path: Path
) -> None:
    shop, other = copy_shop(tmp_path), copy_shop(tmp_path, "other")
    cli(capsys, "inventory", "add", str(shop), str(other), "--inventory", inventory)
    code, _, err = cli(capsys, "inventory", "remove", str(shop.resolve()), "org/nothing", "--inventory", inventory)
    assert code == 2 and "no project 'org/nothing' in this inventory" in err
    assert len(listed(capsys, inventory)) == 2
    code, out, _ = cli(capsys, "inventory", "remove", str(shop), "--inventory", inventory)  # a path works too
    assert (code, out) == (0, f"removed: {shop.resolve()}\n")
    assert list(listed(capsys, inventory)) == [str(other.resolve())]
    code, report = cli_json(capsys, "inventory", "query", "debug", "--inventory", inventory)
    assert [p["location"] for p in report["projects"]] == [str(other.resolve())]


def test_list_describes_each_project(capsys: pytest.CaptureFixture[str], inventory: str, tmp_path: Path) -> None:
    shop = copy_shop(tmp_path)
    cli(capsys, "inventory", "add", str(shop), "--label", "team=web", "--inventory", inventory)
    project = listed(capsys, inventory)[str(shop.resolve())]
    assert project["lockfile"] == str(shop.resolve() / "package-lock.json")
    assert (project["lockfileFormat"], project["packages"], project["labels"]) == (
        "package-lock-v3",
        10,
        {"team": "web"},
    )
    assert len(project["lockfileSha256"]) == 64
    _, out, _ = cli(capsys, "inventory", "list", "--inventory", inventory)
    assert out.startswith("1 project in ") and f"{shop.resolve()}  package-lock-v3, 10 packages" in out


# -- where the inventory is, and when it cannot be used ---------------------------------------------


def test_the_inventory_comes_from_the_environment_or_the_user_data_directory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shop = copy_shop(tmp_path)
    assert cli(capsys, "inventory", "add", str(shop))[0] == 0
    assert (tmp_path / "data" / "npmaudit" / "inventory.sqlite").is_file()
    monkeypatch.setenv("NPMAUDIT_INVENTORY", str(tmp_path / "env.sqlite"))
    assert cli(capsys, "inventory", "add", str(shop))[1].startswith("added: ")
    assert (tmp_path / "env.sqlite").is_file()
    _, out, _ = cli(
        capsys, "inventory", "list", "--inventory", str(tmp_path / "data" / "npmaudit" / "inventory.sqlite")
    )
    assert out.startswith("1 project in ")


def test_a_missing_inventory_is_an_error_not_an_empty_answer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "none.sqlite"
    code, out, err = cli(capsys, "inventory", "query", "debug", "--inventory", str(missing))
    assert (code, out) == (2, "")
    hint = "add projects with `npmaudit inventory add`, or pass --inventory"
    assert err == f"npmaudit: error: {missing}: no inventory here yet: {hint}\n"
    assert not missing.exists()


def test_an_empty_inventory_answers_no_query(
    capsys: pytest.CaptureFixture[str], inventory: str, tmp_path: Path
) -> None:
    shop = copy_shop(tmp_path)
    cli(capsys, "inventory", "add", str(shop), "--inventory", inventory)
    cli(capsys, "inventory", "remove", str(shop), "--inventory", inventory)
    for command in (["query", "debug"], ["audit", "--db", str(FIXTURES / "osv" / "core" / "malicious.jsonl")]):
        code, out, err = cli(capsys, "inventory", *command, "--inventory", inventory)
        assert (code, out) == (2, "")
        assert "no project in this inventory yet" in err
    assert cli(capsys, "inventory", "list", "--inventory", inventory)[1].startswith("0 projects in ")


def test_another_sqlite_database_is_not_an_inventory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE projects (x)")
    code, _, err = cli(capsys, "inventory", "add", str(copy_shop(tmp_path)), "--inventory", str(other))
    assert code == 2 and "not an npmaudit inventory (a different SQLite database)" in err


def test_an_unreachable_postgresql_server_is_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://ci:s3cret@/inventory?host={tmp_path}&connect_timeout=2"
    code, out, err = cli(capsys, "inventory", "list", "--inventory", url)
    assert (code, out) == (2, "")
    assert err.startswith("npmaudit: error: postgresql://") and "/inventory" in err and "cannot connect" in err
    assert "s3cret" not in err and err.count("\n") == 1


def test_a_postgresql_database_without_an_inventory_is_not_created_by_a_query(
    capsys: pytest.CaptureFixture[str],
    postgres_url: str,  # noqa: F811
) -> None:
    code, _, err = cli(capsys, "inventory", "query", "debug", "--inventory", postgres_url)
    assert code == 2 and "no inventory here yet" in err
    import psycopg

    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT to_regclass('projects')").fetchone() == (None,)


# -- inventory audit -------------------------------------------------------------------------------


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The npm projects of the corpus and an advisory store of the real fixture records."""
    root = tmp_path / "fleet"
    for project in sorted(p for p in NPM_PROJECTS.iterdir() if (p / "package.json").exists()):
        shutil.copytree(project, root / project.name)
    store = tmp_path / "advisories.sqlite"
    assert main(["db", "import", "--db", str(store), *map(str, STORE_FIXTURES)]) == 0
    yield {"root": root, "store": store}


def test_inventory_audit_changed_reports_exactly_the_projects_an_update_changed(
    capsys: pytest.CaptureFixture[str], inventory: str, fleet: dict[str, Any], tmp_path: Path
) -> None:
    store = str(fleet["store"])
    assert cli(capsys, "inventory", "add", "-r", str(fleet["root"]), "--inventory", inventory)[0] == 0
    code, baseline = cli_json(capsys, "inventory", "audit", "--db", store, "--inventory", inventory)
    assert code == 1 and baseline["previousRun"] is None
    findings = {p["location"]: p["findings"] for p in baseline["projects"]}

    # A record hitting exactly 2 projects (and sharing no id with another record), to withdraw...
    records = {r["id"]: r for path in STORE_FIXTURES for r in load_jsonl(path)}
    shared = {i for r in records.values() for i in r.get("aliases", [])}
    hits: dict[str, set[str]] = {}
    for location, found in findings.items():
        for finding in found:
            hits.setdefault(finding["advisory"], set()).add(location)
    withdrawn_id = min(i for i, where in hits.items() if len(where) == 2 and i in records and i not in shared)
    cleared = hits[withdrawn_id]
    # ...and a package installed by exactly 3 other projects, to report as malicious.
    by_name = _installed_by(fleet["root"])
    target = min(name for name, where in by_name.items() if len(where) == 3 and not where & cleared)
    affected = by_name[target]

    update = tmp_path / "update.json"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # the store refuses times from the future
    withdrawn = {**records[withdrawn_id], "modified": now, "withdrawn": now}
    malicious = {
        "id": "MAL-2099-0001",
        "modified": now,
        "summary": f"Malicious code in {target} (npm)",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": target},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
            }
        ],
        "database_specific": {"malicious-packages-origins": [{"source": "test"}]},
    }
    update.write_text(json.dumps([withdrawn, malicious]))
    assert main(["db", "import", "--db", store, str(update)]) == 0
    capsys.readouterr()

    code, report = cli_json(capsys, "inventory", "audit", "--changed", "--db", store, "--inventory", inventory)
    assert code == 1
    assert report["previousRun"] == baseline["finished"] and "projects" not in report
    changes = {change["location"]: change for change in report["changes"]}
    assert set(changes) == affected | cleared and len(changes) == 5
    for location in affected:
        assert changes[location]["status"] == "newly-affected" and changes[location]["removed"] == []
        assert {(f["advisory"], f["name"], f["malicious"], f["severity"]) for f in changes[location]["added"]} == {
            ("MAL-2099-0001", target, True, "critical")
        }
    for location in cleared:
        gone = [f for f in findings[location] if f["advisory"] == withdrawn_id]
        assert changes[location]["added"] == [] and changes[location]["removed"] == gone
        rest = len(findings[location]) > len(gone)
        assert changes[location]["status"] == ("less-affected" if rest else "newly-clean")

    code, out, _ = cli(capsys, "inventory", "audit", "--changed", "--db", store, "--inventory", inventory)
    assert code == 0 and out.startswith("No change since the last inventory audit (")


def _installed_by(root: Path) -> dict[str, set[str]]:
    """Registry package name -> the projects under ``root`` installing it (by resolved directory)."""
    from npmaudit.project.discover import find_projects
    from npmaudit.project.loader import load_project

    found: dict[str, set[str]] = {}
    for directory in find_projects(root):
        for node in load_project(directory).packages():
            if node.is_registry:
                found.setdefault(node.name, set()).add(str(directory.resolve()))
    return found


def test_inventory_audit_text_names_malicious_packages_first(
    capsys: pytest.CaptureFixture[str], inventory: str, fleet: dict[str, Any]
) -> None:
    assert cli(capsys, "inventory", "add", "-r", str(fleet["root"]), "--inventory", inventory)[0] == 0
    code, out, err = cli(capsys, "inventory", "audit", "--db", str(fleet["store"]), "--inventory", inventory)
    assert code == 1 and err.count("\n") == 1 and "days old" in err  # the fixture records are from 2025
    lines = out.splitlines()
    assert lines[0].startswith("14 projects audited against ") and "with malicious packages" in lines[0]
    assert lines[1] == "Malicious packages, by project:"
    code, out, _ = cli(capsys, "inventory", "audit", "--changed", "--db", str(fleet["store"]), "--inventory", inventory)
    assert code == 0 and out.startswith("No change since the last inventory audit")


def test_inventory_audit_checks_the_databases_age_before_recording_anything(
    capsys: pytest.CaptureFixture[str], inventory: str, fleet: dict[str, Any]
) -> None:
    # Re-evaluating against stale data would report "no change" without having seen the new
    # advisories: as `audit`, older than a week is said, and older than --max-db-age fails the run.
    store = str(fleet["store"])
    assert cli(capsys, "inventory", "add", "-r", str(fleet["root"]), "--inventory", inventory)[0] == 0
    code, out, err = cli(capsys, "inventory", "audit", "--db", store, "--inventory", inventory, "--max-db-age", "30")
    assert code == 3 and out == "", out
    assert err.startswith(f"npmaudit: error: {store}: ") and "older than --max-db-age 30" in err, err
    assert err.count("\n") == 1, err
    code, document = cli_json(capsys, "inventory", "audit", "--db", store, "--inventory", inventory)
    assert code == 1 and document["previousRun"] is None  # the refused run recorded nothing
    code, out, err = cli(capsys, "inventory", "audit", "--db", store, "--inventory", inventory, "--max-db-age", "9999")
    assert code == 1 and err == ""  # within the limit the user set: no warning either


def test_hostile_names_are_stored_and_shown_inert(
    capsys: pytest.CaptureFixture[str], inventory: str, tmp_path: Path
) -> None:
    """A lockfile's "\\ud800" escape (a lone surrogate) and terminal escapes in a name: no crash, no raw byte out."""
    shop = copy_shop(tmp_path)
    lockfile = shop / "package-lock.json"
    data = json.loads(lockfile.read_text())
    data["packages"]["node_modules/evil\ud800\x1b[2J"] = {
        "version": "1.0.0",
        "resolved": "https://registry.npmjs.test/evil/-/evil-1.0.0.tgz",
    }
    lockfile.write_text(json.dumps(data))  # ensure_ascii: the surrogate travels as the escape "\ud800"
    code, out, err = cli(capsys, "inventory", "add", str(shop), "--inventory", inventory)
    assert (code, err) == (0, "") and out.startswith("added: ")
    code, out, err = cli(capsys, "inventory", "query", "evil\ud800\x1b[2J", "--inventory", inventory)
    assert code == 1 and "\x1b" not in out and "\ud800" not in out
    code, out, err = cli(capsys, "query", "evil\ud800\x1b[2J", str(shop), "--format", "json")
    assert code == 1 and "\x1b" not in out and "\ud800" not in out
    assert json.loads(out)["projects"][0]["matches"][0]["name"] == "evil\ud800\x1b[2J"
