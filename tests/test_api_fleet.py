"""The public API for "who has X?": :func:`npmaudit.query` over lockfiles and the inventory handle
of :func:`npmaudit.open_inventory` give the answers the command line prints, on the same inputs.

The inputs are real: every lockfile of the corpus in every format (tests/inventory_corpus.py), the
real advisory fixtures imported into a SQLite store (tests/fixtures/osv), a real SQLite inventory
file and, for one round trip, a real PostgreSQL server (tests/servers/postgres.py). Each answer is
compared with the CLI's JSON (and text) byte for byte, and checked on its own terms as well.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import npmaudit
from conftest import FIXTURES
from inventory_corpus import build_corpus, cli, corpus_environment
from servers.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

SHOP = FIXTURES / "inventory" / "shop"
NPM_PROJECTS = FIXTURES / "lockfiles" / "npm"
ADVISORY_FIXTURES = [
    *sorted((FIXTURES / "osv" / "store").glob("*.jsonl.gz")),
    *sorted((FIXTURES / "osv" / "core").glob("*.jsonl")),
]
PACKAGE_SPECS = ["debug", "ms@2.0.0", "semver@>=5.0.0 <7.0.0"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("api-fleet")
    with corpus_environment(tmp):
        directories = build_corpus(tmp / "corpus")
        store = tmp / "advisories.sqlite"
        code, _, err = cli("db", "import", "--db", str(store), *map(str, ADVISORY_FIXTURES))
        assert code == 0, err
        yield {"tmp": tmp, "root": tmp / "corpus", "directories": directories, "store": store}


@pytest.fixture(autouse=True)
def cleancorpus_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("NPMAUDIT_DB", "NPMAUDIT_INVENTORY", "NODE_ENV", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))


def _most_common_advisory(store: Path, root: Path, tmp: Path) -> tuple[str, set[str]]:
    """The advisory an inventory audit finds in the most projects, and those projects."""
    with npmaudit.open_inventory(tmp / "probe.sqlite", create=True) as inventory:
        assert inventory.add(root, recursive=True).exit_code == 0
        run = inventory.audit(db=store)
    projects: dict[str, set[str]] = {}
    for project in run.affected:
        for finding in project.findings:
            projects.setdefault(finding.advisory, set()).add(project.location)
    advisory = max(sorted(projects), key=lambda advisory_id: len(projects[advisory_id]))
    return advisory, projects[advisory]


# -- query over lockfiles --------------------------------------------------------------------------


def test_query_over_the_corpus_is_the_clis_answer(corpus: dict[str, Any], tmp_path: Path) -> None:
    store, root = corpus["store"], corpus["root"]
    advisory, audited = _most_common_advisory(store, root, tmp_path)
    specs = [*PACKAGE_SPECS, advisory]
    result = npmaudit.query(specs, root, recursive=True, db=store)

    code, out, err = cli("query", *specs, str(root), "-r", "--db", str(store), "--format", "json")
    assert code == 1 and err == "".join(f"npmaudit: {message}\n" for message in result.messages)
    assert len(result.messages) == 1 and "days old" in result.messages[0]  # the fixture records are from 2025
    assert npmaudit.render(result, "json") == out
    _, text, _ = cli("query", *specs, str(root), "-r", "--db", str(store))
    assert npmaudit.render(result) == text

    # And on its own terms: every project read, each spec hit, the advisory where the audit found it.
    assert (result.exit_code, result.scanned, result.failures) == (1, len(corpus["directories"]), ())
    assert all(any(spec in hit.specs for p in result.projects for hit in p.hits) for spec in specs)
    by_advisory = {p.location for p in result.projects for hit in p.hits if advisory in hit.advisories}
    assert by_advisory == audited and len(audited) > 1


def test_query_of_one_project_and_of_several_paths(tmp_path: Path) -> None:
    shop, other = tmp_path / "a" / "shop", tmp_path / "b" / "other"
    shutil.copytree(SHOP, shop)
    shutil.copytree(SHOP, other)
    one = npmaudit.query("ms", shop)
    code, out, _ = cli("query", "ms", str(shop), "--format", "json")
    assert npmaudit.render(one, "json") == out and code == one.exit_code == 1
    assert [(hit.location, hit.version, hit.groups, hit.chain) for hit in one.projects[0].hits] == [
        ("node_modules/debug/node_modules/ms", "2.1.2", ("dev",), ("shop", "mocha@10.2.0", "debug@4.3.4", "ms@2.1.2")),
        ("node_modules/ms", "2.0.0", ("prod",), ("shop", "express@4.18.2", "debug@2.6.9", "ms@2.0.0")),
    ]
    both = npmaudit.query(["ms@2.0.0"], [shop, other])
    assert (both.scanned, [p.location for p in both.projects]) == (2, [str(shop), str(other)])
    assert npmaudit.query("ms@9", shop).exit_code == 0  # nothing matches: not an error, not a hit


def test_query_errors_are_raised_not_empty_answers(tmp_path: Path) -> None:
    with pytest.raises(npmaudit.UsageError, match="dist-tags"):
        npmaudit.query("debug@latest", SHOP)
    with pytest.raises(npmaudit.InputError) as caught:
        npmaudit.query("GHSA-xxxx-xxxx-xxxx", SHOP, db=tmp_path / "missing.sqlite")
    assert "missing.sqlite" in str(caught.value) and caught.value.exit_code == 2
    broken = tmp_path / "fleet" / "broken"
    shutil.copytree(SHOP, tmp_path / "fleet" / "shop")
    broken.mkdir(parents=True)
    (broken / "package-lock.json").write_text("{not json")
    result = npmaudit.query("ms", tmp_path / "fleet", recursive=True)
    assert result.exit_code == 2 and [f.location for f in result.failures] == [str(broken)]
    assert [p.location for p in result.projects] == [str(tmp_path / "fleet" / "shop")]


# -- the inventory ---------------------------------------------------------------------------------


def _fleet(tmp_path: Path) -> Path:
    root = tmp_path / "fleet"
    for project in sorted(p for p in NPM_PROJECTS.iterdir() if (p / "package.json").exists()):
        shutil.copytree(project, root / project.name)
    return root


def snapshot(database: Path, copy: Path) -> None:
    """A consistent copy of a SQLite inventory in use (its write-ahead log included), for the CLI."""
    copy.unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(database)) as source, contextlib.closing(sqlite3.connect(copy)) as target:
        source.backup(target)


def _without_times(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key not in ("finished", "inventory")}


def test_sqlite_inventory_round_trip_agrees_with_the_cli(corpus: dict[str, Any], tmp_path: Path) -> None:
    store = tmp_path / "advisories.sqlite"
    shutil.copyfile(corpus["store"], store)
    root, location = _fleet(tmp_path), tmp_path / "inventory.sqlite"
    with pytest.raises(npmaudit.InputError):
        npmaudit.open_inventory(location)  # no inventory yet: an error, and none is created
    assert not location.exists()

    with npmaudit.open_inventory(location, create=True) as inventory:
        report = inventory.add(root, recursive=True, location="org", labels={"commit": "abc"})
        assert report.exit_code == 0 and {r.status for r in report.added} == {"added"}
        again = inventory.add(root / "mochajs__mocha", location="org/mochajs__mocha", labels={"commit": "abc"})
        assert [(r.status, r.location) for r in again.added] == [("unchanged", "org/mochajs__mocha")]
        records = inventory.projects()
        listed = json.loads(cli("inventory", "list", "--inventory", str(location), "--format", "json")[1])
        assert [
            {"location": r.location, "packages": r.packages, "labels": dict(r.labels), "sha": r.lockfile_sha256}
            for r in records
        ] == [
            {"location": p["location"], "packages": p["packages"], "labels": p["labels"], "sha": p["lockfileSha256"]}
            for p in listed["projects"]
        ]
        assert len(records) == len(report.added) > 3

        answer = inventory.query(PACKAGE_SPECS)
        code, out, _ = cli("inventory", "query", *PACKAGE_SPECS, "--inventory", str(location), "--format", "json")
        assert npmaudit.render(answer, "json") == out and code == answer.exit_code == 1

        # The first re-evaluation, by the API here and by the CLI on a copy of the same file.
        snapshot(location, tmp_path / "copy.sqlite")
        first = inventory.audit(db=store)
        code, out, err = cli("inventory", "audit", "--db", str(store), "--inventory", str(tmp_path / "copy.sqlite"))
        assert err == "".join(
            f"npmaudit: {message}\n" for message in first.messages
        )  # the store's age, as audit says it
        assert len(first.messages) == 1 and "days old" in first.messages[0]
        assert npmaudit.render(first) == out
        assert first.affected and first.exit_code(changed_only=False) == code == 1

        # An advisory update makes one package malicious: `changes` holds only what it changed.
        target = _one_installed_name(inventory, len(records))
        _import_malicious(store, target)
        snapshot(location, tmp_path / "copy.sqlite")
        second = inventory.audit(db=store)
        code, out, _ = cli(
            "inventory",
            "audit",
            "--changed",
            "--db",
            str(store),
            "--inventory",
            str(tmp_path / "copy.sqlite"),
            "--format",
            "json",
        )
        assert _without_times(json.loads(npmaudit.render(second, "json", changed_only=True))) == _without_times(
            json.loads(out)
        )
        assert second.previous == first.finished and second.exit_code(changed_only=True) == code == 1
        hit = {p.location for p in inventory.query(target).projects}
        assert {c.location for c in second.changes} == hit and hit
        for change in second.changes:  # one finding per installed version of the package
            assert change.status == "newly-affected" and not change.removed
            assert {(f.advisory, f.name, f.malicious) for f in change.added} == {("MAL-2099-0002", target, True)}

        assert inventory.remove("org/mochajs__mocha") == ["org/mochajs__mocha"]
        with pytest.raises(npmaudit.InputError, match="no project 'org/nothing'"):
            inventory.remove(["org/nothing", records[0].location])  # all or none
        assert [r.location for r in inventory.projects()] == [
            r.location for r in records if r.location != "org/mochajs__mocha"
        ]


def _one_installed_name(inventory: npmaudit.Inventory, projects: int) -> str:
    """A registry package name installed in some projects but not all (so the change is a subset)."""
    for name in ("mkdirp", "minimist", "debug", "ms", "semver"):
        hit = {p.location for p in inventory.query(name).projects}
        if 0 < len(hit) < projects:
            return name
    raise AssertionError("no package installed by only some of the fleet")


def _import_malicious(store: Path, name: str) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # the store refuses times from the future
    record = {
        "id": "MAL-2099-0002",
        "modified": now,
        "summary": f"Malicious code in {name} (npm)",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": name},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
            }
        ],
        "database_specific": {"malicious-packages-origins": [{"source": "test"}]},
    }
    update = store.with_name("update.json")
    update.write_text(json.dumps([record]))
    assert cli("db", "import", "--db", str(store), str(update))[0] == 0


def test_postgresql_inventory_round_trip_agrees_with_the_cli(
    corpus: dict[str, Any],
    postgres_url: str,  # noqa: F811  (the fixture)
    tmp_path: Path,
) -> None:
    store = corpus["store"]
    shop, other = tmp_path / "shop", tmp_path / "other"
    shutil.copytree(SHOP, shop)
    shutil.copytree(SHOP, other)
    with npmaudit.open_inventory(postgres_url, create=True) as inventory:
        assert inventory.add([shop, other], labels={"repo": "org/shop"}).exit_code == 0
        listed = json.loads(cli("inventory", "list", "--inventory", postgres_url, "--format", "json")[1])
        assert [(r.location, r.packages, dict(r.labels)) for r in inventory.projects()] == [
            (p["location"], p["packages"], p["labels"]) for p in listed["projects"]
        ]
        assert len(listed["projects"]) == 2
        answer = inventory.query(["debug@2.6.9", "semver@>=7.6.0-0"])
        code, out, _ = cli(
            "inventory", "query", "debug@2.6.9", "semver@>=7.6.0-0", "--inventory", postgres_url, "--format", "json"
        )
        assert npmaudit.render(answer, "json") == out and code == 1
        assert {hit.label for p in answer.projects for hit in p.hits} == {"debug@2.6.9", "semver@7.6.0-beta.1"}
        run = inventory.audit(db=store)
        code, out, _ = cli("inventory", "audit", "--changed", "--db", str(store), "--inventory", postgres_url)
        assert out.startswith(f"No change since the last inventory audit ({run.finished})")
        assert inventory.remove(str(other)) == [str(other)]  # by its directory
        assert [r.location for r in inventory.projects()] == [str(shop)]


# -- laziness --------------------------------------------------------------------------------------


def test_importing_npmaudit_or_asking_for_help_loads_none_of_it() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, contextlib, io\n"
        "import npmaudit\n"
        "assert not [m for m in sys.modules if m.startswith('npmaudit.')], sorted(sys.modules)\n"
        "from npmaudit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "heavy = ('npmaudit.api', 'npmaudit.inventory', 'npmaudit.fix', 'npmaudit.auditing')\n"
        "loaded = [m for m in sys.modules if m.startswith(heavy)]\n"
        "assert not loaded, loaded\n"
        "assert callable(npmaudit.open_inventory) and 'npmaudit.api' in sys.modules\n"
        "assert npmaudit.FixResult.__module__ == 'npmaudit.fix.model'\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
