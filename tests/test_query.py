"""`npmaudit query`: specs read as npm reads them, every install listed with its path, group and
chain (checked by hand on tests/fixtures/inventory/shop), a summary first for -r, exit codes that
gate, and errors instead of empty answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, ONLINE, load_jsonl
from npmaudit.cli import main
from npmaudit.errors import UsageError
from npmaudit.inventory.spec import PackageSpec, is_advisory_id, parse_package_spec

SHOP = FIXTURES / "inventory" / "shop"
HANDMADE = ONLINE / "projects" / "handmade"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("NPMAUDIT_DB", "NPMAUDIT_INVENTORY", "NODE_ENV", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))


def query(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["query", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def query_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:
    code, out, err = query(capsys, *args, "--format", "json")
    return code, json.loads(out), err


@pytest.fixture
def online_db(tmp_path: Path) -> Path:
    """The real GHSA records and malicious-package sample, as one JSON database."""
    path = tmp_path / "online.json"
    records = load_jsonl(ONLINE / "npm-ghsa.jsonl.gz") + load_jsonl(ONLINE / "npm-malicious-sample.jsonl.gz")
    path.write_text(json.dumps(records))
    return path


# -- specs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "wanted"),
    [
        ("debug", "debug", None),
        ("@babel/core", "@babel/core", None),
        ("debug@4.4.2", "debug", "4.4.2"),
        ("@babel/core@^7.0.0 || >=8.0.0-rc.1", "@babel/core", "^7.0.0 || >=8.0.0-rc.1"),
        ("ms@ 2.x ", "ms", "2.x"),
    ],
)
def test_package_specs(text: str, name: str, wanted: str | None) -> None:
    assert parse_package_spec(text) == PackageSpec(text, name, wanted)


@pytest.mark.parametrize("text", ["debug@latest", "debug@", "@babel", "de bug@1", "debug@1.2.3.4", "debug@>=a"])
def test_specs_that_ask_nothing_definite_are_refused(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_package_spec(text)
    assert text in str(caught.value)


def test_ranges_include_prereleases_as_npm_audit_reads_advisory_ranges() -> None:
    below = parse_package_spec("semver@<7.6.0")
    assert below.matches("semver", "7.6.0-beta.1")
    assert not parse_package_spec("semver@>=7.6.0").matches("semver", "7.6.0-beta.1")
    assert parse_package_spec("semver@7.x").matches("semver", "7.6.0-beta.1")
    assert not parse_package_spec("semver@^7.6.0").matches("semver", "7.6.0-beta.1")
    assert parse_package_spec("semver@7.6.0-beta.1").matches("semver", "7.6.0-beta.1")
    assert not parse_package_spec("semver@7.6.0").matches("semver", "7.6.0-beta.1")
    assert not below.matches("semver", "")  # a package without a version is in no range
    assert parse_package_spec("semver").matches("semver", "")  # but it is that package


def test_advisory_ids_are_told_from_package_names_by_their_shape() -> None:
    assert all(map(is_advisory_id, ["GHSA-67hx-6x53-jw92", "MAL-2025-46966", "CVE-2021-23337", "PYSEC-2021-1"]))
    assert not any(map(is_advisory_id, ["debug", "@scope/x", "jsonstream", "debug@1.0.0", "GHSA"]))


# -- one project -----------------------------------------------------------------------------------


def test_every_install_with_its_path_group_and_chain(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, err = query_json(capsys, "debug", str(SHOP))
    assert code == 1 and err == ""
    assert report["summary"]["projectsScanned"] == 1
    (project,) = report["projects"]
    assert project["lockfile"] == "package-lock.json"
    matches = {m["path"]: (m["version"], m["groups"], m["chain"]) for m in project["matches"]}
    assert matches == {
        "node_modules/express/node_modules/debug": ("2.6.9", ["prod"], ["shop", "express@4.18.2", "debug@2.6.9"]),
        "node_modules/debug": ("4.3.4", ["dev"], ["shop", "mocha@10.2.0", "debug@4.3.4"]),
    }


def test_text_report_names_path_group_and_chain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = query(capsys, "ms@2.0.0", "fsevents", str(SHOP))
    assert code == 1
    assert "  ms@2.0.0  prod  node_modules/ms  (matches ms@2.0.0)\n" in out
    assert "    shop > express@4.18.2 > debug@2.6.9 > ms@2.0.0\n" in out
    assert "  fsevents@2.3.3  optional  node_modules/fsevents  (matches fsevents)\n" in out
    assert "ms@2.1.2" not in out


def test_a_workspace_sharing_a_name_is_not_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = query(capsys, "left-pad", str(SHOP))
    assert (code, out) == (0, "No install matches left-pad.\n")


def test_a_prerelease_inside_the_range_is_found(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _ = query_json(capsys, "semver@<7.6.0", "ms@>=2.1.0", str(SHOP))
    assert code == 1
    found = {(m["name"], m["version"], tuple(m["specs"])) for p in report["projects"] for m in p["matches"]}
    assert found == {("semver", "7.6.0-beta.1", ("semver@<7.6.0",)), ("ms", "2.1.2", ("ms@>=2.1.0",))}
    code, _, _ = query(capsys, "semver@>=7.6.0", str(SHOP))
    assert code == 0


def test_a_lockfile_can_be_named_and_options_may_come_anywhere(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, report, _ = query_json(capsys, "--format", "json", "mocha", str(SHOP / "package-lock.json"))
    assert code == 1 and report["projects"][0]["matches"][0]["path"] == "node_modules/mocha"
    shutil.copytree(SHOP, tmp_path / "tree" / "shop")
    code, out, _ = query(capsys, "mocha", "-r", str(tmp_path / "tree"))
    assert code == 1 and out.startswith("1 project scanned, 1 hit, 1 install matching mocha\n")


def test_the_last_argument_is_a_path_only_when_it_looks_like_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shutil.copytree(SHOP, tmp_path / "mocha")
    monkeypatch.chdir(tmp_path / "mocha")
    code, out, err = query(capsys, "debug", "mocha")  # two package names, in the project here
    assert code == 1 and "mocha@10.2.0  dev  node_modules/mocha" in out
    monkeypatch.chdir(tmp_path)
    code, out, err = query(capsys, "debug", "mocha")  # no lockfile here: "mocha" is still a package
    assert code == 2 and "no lockfile found" in err
    assert "'mocha' is read as a package name; write ./mocha to query that folder" in err
    code, out, err = query(capsys, "debug", "./mocha")
    assert code == 1 and "debug@2.6.9" in out
    code, out, err = query(capsys, "./mocha", "debug")
    assert code == 2 and "looks like a path" in err


@pytest.mark.parametrize("spec", ["debug@latest", "debug@"])
def test_a_bad_spec_is_a_usage_error(capsys: pytest.CaptureFixture[str], spec: str) -> None:
    code, out, err = query(capsys, spec, str(SHOP))
    assert (code, out) == (2, "")
    assert err.startswith("npmaudit: error: ") and spec in err and err.count("\n") == 1


def test_an_unreadable_project_is_an_error_naming_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": ')
    code, out, err = query(capsys, "debug", str(tmp_path) + "/")
    assert (code, out) == (2, "")
    assert str(tmp_path / "package-lock.json") in err and err.count("\n") == 1


# -- advisory ids ----------------------------------------------------------------------------------


def test_an_advisory_id_matches_as_the_audit_does(capsys: pytest.CaptureFixture[str], online_db: Path) -> None:
    code, report, _ = query_json(capsys, "MAL-2023-1269", "GHSA-35jh-r3h4-6jhm", str(HANDMADE), "--db", str(online_db))
    assert code == 1
    matches = {
        (m["name"], m["version"], tuple(m["advisories"]), m["malicious"]) for m in report["projects"][0]["matches"]
    }
    # conftest.HANDMADE_PROD: policycms 1.0.1 is listed in MAL-2023-1269; lodash 4.17.15 is below GHSA-35jh's 4.17.21
    assert matches == {
        ("policycms", "1.0.1", ("MAL-2023-1269",), True),
        ("lodash", "4.17.15", ("GHSA-35jh-r3h4-6jhm",), False),
    }
    code, report, _ = query_json(capsys, "GHSA-35jh-r3h4-6jhm", str(SHOP), "--db", str(online_db))
    assert code == 0 and report["projects"] == []


def test_an_unknown_advisory_id_is_an_error_naming_the_database(
    capsys: pytest.CaptureFixture[str], online_db: Path
) -> None:
    code, out, err = query(capsys, "GHSA-0000-0000-0000", str(SHOP), "--db", str(online_db))
    assert (code, out) == (2, "")
    assert f"{online_db}: advisory GHSA-0000-0000-0000 is not in this advisory database" in err


def test_an_advisory_id_without_a_database_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = query(capsys, "MAL-2023-1269", str(SHOP))
    assert code == 2 and "no advisory database yet" in err


def test_a_withdrawn_advisory_matches_nothing_and_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, online_db: Path
) -> None:
    records = json.loads(online_db.read_text())
    record = next(r for r in records if r["id"] == "MAL-2023-1269")
    withdrawn = tmp_path / "withdrawn.json"
    withdrawn.write_text(json.dumps([{**record, "withdrawn": "2024-01-01T00:00:00Z"}]))
    code, out, err = query(capsys, "MAL-2023-1269", str(HANDMADE), "--db", str(withdrawn))
    assert code == 0 and out == "No install matches MAL-2023-1269.\n"
    assert "MAL-2023-1269 is withdrawn: it affects no package version" in err


# -- recursive -------------------------------------------------------------------------------------


def test_a_recursive_query_starts_with_the_summary(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, online_db: Path
) -> None:
    tree = tmp_path / "fleet"
    shutil.copytree(SHOP, tree / "shop")
    shutil.copytree(HANDMADE, tree / "services" / "handmade")
    (tree / "services" / "empty").mkdir()
    code, out, err = query(capsys, "MAL-2023-1269", "debug@2", "minimist", str(tree), "-r", "--db", str(online_db))
    assert code == 1 and err.count("\n") == 1 and "days old" in err  # the fixture's records are from 2025
    head = out.split("\n\n")[0].splitlines()
    assert head == [
        "2 projects scanned, 2 hit, 3 installs matching MAL-2023-1269, debug@2, minimist",
        "Malicious packages found, by project:",
        f"  {tree / 'services' / 'handmade'}: policycms@1.0.1",
        "Packages found, by project:",
        f"  {tree / 'services' / 'handmade'}: minimist@1.2.0, policycms@1.0.1",
        f"  {tree / 'shop'}: debug@2.6.9",
    ]
    assert "policycms@1.0.1  prod  node_modules/policycms  MAL-2023-1269 MALICIOUS" in out


def test_a_recursive_query_reads_every_other_project_when_one_is_broken(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copytree(SHOP, tmp_path / "shop")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "package-lock.json").write_text("{")
    code, report, err = query_json(capsys, "express", str(tmp_path), "-r")
    assert code == 2  # the answer is incomplete: never a pass, even though something matched
    assert report["summary"]["projectsScanned"] == 2 and report["summary"]["projectsNotRead"] == 1
    assert [p["location"] for p in report["projects"]] == [str(tmp_path / "shop")]
    assert str(broken / "package-lock.json") in err


def test_a_recursive_query_of_a_folder_without_projects_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = query(capsys, "debug", str(tmp_path), "-r")
    assert code == 2 and "no project with a lockfile found" in err


def test_an_advisory_id_is_looked_up_in_a_database_whose_age_is_checked(
    capsys: pytest.CaptureFixture[str], online_db: Path
) -> None:
    # An old copy of an advisory may lack the versions added to it since: as `audit` does, the age
    # is said, and --max-db-age makes it an error before any project is read.
    code, out, err = query(capsys, "MAL-2023-1269", str(SHOP), "--db", str(online_db), "--max-db-age", "30")
    assert code == 3 and out == "" and "older than --max-db-age 30" in err and err.count("\n") == 1, err
    code, out, err = query(capsys, "MAL-2023-1269", str(SHOP), "--db", str(online_db), "--max-db-age", "9999")
    assert code == 0 and err == "" and "No install matches MAL-2023-1269" in out
    code, out, err = query(capsys, "MAL-2023-1269", str(SHOP), "--db", str(online_db))
    assert code == 0 and f"{online_db}: the advisory database is " in err and "days old" in err
    code, _, err = query(capsys, "debug", str(SHOP), "--db", str(online_db), "--max-db-age", "30")
    assert code == 1 and err == ""  # no advisory id asked: the database is not read, its age does not matter


def test_an_advisory_id_is_answered_from_the_records_an_audit_would_use(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A JSON database's record dated far in the future is refused by every audit (it would
    # outrank genuine copies); the advisory-id lookup must not answer from it either.
    records = load_jsonl(ONLINE / "npm-malicious-sample.jsonl.gz")
    poisoned = {**records[0], "id": "MAL-2099-0001", "aliases": [], "modified": "2099-01-01T00:00:00Z"}
    database = tmp_path / "poisoned.json"
    database.write_text(json.dumps([*records, poisoned]))
    name = poisoned["affected"][0]["package"]["name"]
    code, out, err = query(capsys, "MAL-2099-0001", str(SHOP), "--db", str(database))
    assert code == 2 and out == "", out
    assert f"{database}: advisory MAL-2099-0001 is in this advisory database but was refused" in err
    assert "'modified' 2099-01-01T00:00:00Z is more than a day in the future" in err
    code, _, err = query(capsys, "MAL-2099-0002", str(SHOP), "--db", str(database))
    assert code == 2 and f"{database}: advisory MAL-2099-0002 is not in this advisory database" in err
    code, _, err = query(capsys, records[0]["id"], str(SHOP), "--db", str(database))
    assert code == 0 and name and "not in this advisory database" not in err  # the genuine record is found
