"""Commands that answer over the advisory database must not answer "nothing found" over a database
that cannot be one: `inventory audit` against a missing, never filled or empty database is an input
error (exit 2) naming it, before any project is re-evaluated (the same rule for `audit`, `query` and
`serve` is in tests/test_sources.py, tests/test_query.py and tests/test_serve.py); and a fix whose
re-audit cannot query its source is no fix."""

from __future__ import annotations

import dataclasses
import gzip
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from conftest import EXAMPLE, FIXTURES, isolate_environment
from npmaudit.advisories.mirror import import_source
from npmaudit.advisories.store import AdvisoryStore
from npmaudit.cli import main
from servers import OsvServer, RegistryServer
from servers.base import Answer, RecordedRequest, json_answer

PROJECT = FIXTURES / "npm_refused_packument" / "project"
FIX = FIXTURES / "fix"


@pytest.fixture
def inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    isolate_environment(monkeypatch, tmp_path, no_npm=True)
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)
    path = tmp_path / "inventory.sqlite"
    assert main(["inventory", "add", str(project), "--inventory", str(path)]) == 0
    capsys.readouterr()
    return path


def _database(kind: str, folder: Path) -> Path:
    if kind == "missing":
        return folder / "missing.sqlite"
    if kind == "never-filled":
        path = folder / "store.sqlite"
        AdvisoryStore.open(path, create=True).close()  # what `audit --write-cache` starts from
        return path
    path = folder / "empty.json"
    path.write_text("[]")
    return path


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("missing", "advisory database not found"),
        ("never-filled", "empty advisory store"),
        ("empty-json", "holds no advisory records"),
    ],
)
def test_inventory_audit_over_no_database_is_an_input_error(
    inventory: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, problem: str
) -> None:
    path = _database(kind, tmp_path)
    code = main(["inventory", "audit", "--inventory", str(inventory), "--db", str(path), "--format", "json"])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, ""), captured.err
    assert captured.err.startswith(f"npmaudit: error: {path}: {problem}") and captured.err.count("\n") == 1


class _OsvFailingFrom(OsvServer):
    """The OSV API answering its first ``fail_from - 1`` batch queries, and 503 from then on."""

    def __init__(self, records: list[dict[str, Any]], fail_from: int) -> None:
        super().__init__(records)
        self.fail_from = fail_from
        self.batches = 0
        self._counter = threading.Lock()

    def handle(self, request: RecordedRequest) -> Answer:
        if request.path == "/v1/querybatch":
            with self._counter:
                self.batches += 1
                failing = self.batches >= self.fail_from
            if failing:
                return json_answer(503, {"error": "unavailable"})
        return super().handle(request)


def test_a_fix_whose_re_audit_cannot_run_fails_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The re-audit is the proof: when its advisory query fails (the last one the fix makes; counted
    on a clean dry run first), the fix ends with exit 3 and no file changes, never a fix unproven."""
    isolate_environment(monkeypatch, tmp_path, no_npm=True)
    records = [json.loads(line) for line in (FIX / "advisories.jsonl").read_text().splitlines() if line.strip()]
    with gzip.open(FIX / "packuments.json.gz", "rt", encoding="utf-8") as stream:
        packuments = {name: doc for name, doc in json.load(stream).items() if doc is not None}
    folder = tmp_path / "older-safe"
    shutil.copytree(FIX / "projects" / "older-safe", folder)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    with RegistryServer(packuments=packuments) as registry:
        args = ["fix", str(folder), "--osv", "--registry", registry.url]
        with _OsvFailingFrom(records, fail_from=10**9) as counting:
            assert main([*args, "--osv-url", counting.url, "--dry-run"]) == 1
        capsys.readouterr()
        assert counting.batches >= 2  # the audit, then the planning's and the re-audit's queries
        with _OsvFailingFrom(records, fail_from=counting.batches) as osv:
            code = main([*args, "--osv-url", osv.url])
        captured = capsys.readouterr()
    assert code == 3 and "HTTP 503" in captured.err and captured.err.count("\n") == 1, captured.err
    assert osv.batches == counting.batches  # it failed on the re-audit's query, the last one
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before


def _other_ecosystems_only(folder: Path) -> Path:
    """Real advisories with their npm entries taken out: what a database of another ecosystem holds
    (another ecosystem's all.zip imported by mistake). Not one of them can match an npm package."""
    kept = []
    for line in (FIXTURES / "npm_oracle" / "advisories" / "real.jsonl").read_text().splitlines():
        record = json.loads(line)
        others = [entry for entry in record["affected"] if entry["package"]["ecosystem"] != "npm"]
        if others:
            kept.append(json.dumps({**record, "affected": others}))
    assert kept  # the fixture holds records that also name RubyGems packages
    path = folder / "rubygems.jsonl"
    path.write_text("\n".join(kept) + "\n")
    return path


def test_a_database_of_other_ecosystems_only_is_an_input_error_for_audit_and_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its records are real and many, but an audit against them could match nothing: "no findings"
    # would be a pass that never looked. The JSON file, a store filled from it and the server all refuse.
    isolate_environment(monkeypatch, tmp_path, no_npm=True)
    project = EXAMPLE
    database = _other_ecosystems_only(tmp_path)
    store = tmp_path / "store.sqlite"
    assert main(["db", "import", str(database), "--db", str(store)]) == 2  # refused where the mistake is made
    err = capsys.readouterr().err
    assert f"{database}: none of its " in err and "affects an npm package" in err and err.count("\n") == 1, err
    assert not store.exists()
    # A store an older npmaudit filled from such a file is refused when used.
    with AdvisoryStore.open(store, create=True) as filled:
        filled.merge([dataclasses.replace(import_source(database), allow_empty=True)])
    for db in (database, store):
        assert main(["audit", str(project), "--compromised", "--db", str(db)]) == 2
        err = capsys.readouterr().err
        assert f"{db}: no advisory record here affects an npm package" in err
        assert len(err.strip().splitlines()) == 1
    assert main(["query", "GHSA-34r7-q49f-h37c", str(project), "--db", str(store)]) == 2
    assert "affects an npm package" in capsys.readouterr().err
    assert main(["serve", "--db", str(store), "--port", "0"]) == 2
    assert "affects an npm package" in capsys.readouterr().err


# Lockfiles that lock nothing, one per reader, as each tool writes (or a bad merge leaves) them.
# None: an empty node_modules folder, the install of nothing. pnpm 9 and bun record the root's
# dependencies in an importer; without one (or with an empty one) the root's come from package.json.
LOCKS_NOTHING = [
    ("package-lock.json", '{"name": "eio-latency", "lockfileVersion": 3, "requires": true, "packages": {"": {}}}'),
    ("yarn.lock", "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\n"),
    ("yarn.lock", "__metadata:\n  version: 8\n  cacheKey: 10c0\n"),
    ("pnpm-lock.yaml", "lockfileVersion: '9.0'\n"),
    ("pnpm-lock.yaml", "lockfileVersion: '6.0'\n"),
    ("pnpm-lock.yaml", "lockfileVersion: 5.4\n"),
    ("bun.lock", '{"lockfileVersion": 1, "workspaces": {"": {"name": "eio-latency"}}, "packages": {}}'),
    ("node_modules", None),
]
LOCKS_NOTHING_IDS = ["npm", "yarn-v1", "yarn-berry", "pnpm-v9", "pnpm-v6", "pnpm-v5", "bun", "node_modules"]


def _locking_nothing(folder: Path, manifest: Path | str, lockfile: str, text: str | None) -> Path:
    """A project of ``manifest`` (a package.json to copy, or its text) whose lockfile locks nothing."""
    folder.mkdir(parents=True)
    if isinstance(manifest, Path):
        shutil.copy(manifest, folder / "package.json")
    else:
        (folder / "package.json").write_text(manifest)
    if text is None:
        (folder / lockfile).mkdir()
    else:
        (folder / lockfile).write_text(text)
    return folder


@pytest.mark.parametrize(("lockfile", "text"), LOCKS_NOTHING, ids=LOCKS_NOTHING_IDS)
def test_a_lockfile_that_locks_nothing_for_declared_dependencies_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lockfile: str, text: str | None
) -> None:
    # The example's real package.json with a lockfile committed before any install: "0 installed
    # packages, no findings" would be a pass that never looked at express, engine.io or debug.
    isolate_environment(monkeypatch, tmp_path, no_npm=True)
    project = _locking_nothing(tmp_path / "project", EXAMPLE / "package.json", lockfile, text)
    database = str(EXAMPLE / "advisories.json")
    assert main(["audit", str(project), "--compromised", "--db", database]) == 2
    err = capsys.readouterr().err
    assert f"{project / lockfile}: locks no package, but package.json declares " in err
    assert "express@" in err and "out of sync" in err and err.count("\n") == 1
    if text is not None:  # a scan finds projects by their lockfile, not by a node_modules folder
        assert main(["audit", "-r", str(tmp_path), "--compromised", "--db", database]) == 2  # unreadable in a scan
        assert "locks no package" in capsys.readouterr().err
    # verify reads it (its LV003 is the list of what the lockfile lacks) and fails on it.
    assert main(["verify", str(project), "--allowed-host", "registry.npmjs.test"]) == 1
    out = capsys.readouterr().out
    assert "LV003 express@^4.19.2" in out and "express@^4.19.2 is missing from the lockfile" in out
    (project / "package.json").write_text('{"name": "eio-latency", "version": "1.0.0"}')  # declares nothing
    assert main(["audit", str(project), "--compromised", "--db", database]) == 0
    assert main(["verify", str(project), "--allowed-host", "registry.npmjs.test"]) == 0


@pytest.mark.parametrize(("lockfile", "text"), LOCKS_NOTHING, ids=LOCKS_NOTHING_IDS)
def test_query_and_inventory_add_refuse_a_lockfile_that_locks_nothing_the_project_declares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lockfile: str, text: str | None
) -> None:
    # "No install matches debug." and "(0 packages)" would say the project has no debug, having read
    # nothing: they read the project through the same rule as audit.
    isolate_environment(monkeypatch, tmp_path, no_npm=True)
    declares_debug = '{"name": "p", "version": "1.0.0", "dependencies": {"debug": "^4.3.4"}}'
    project = _locking_nothing(tmp_path / "scan" / "project", declares_debug, lockfile, text)
    inventory = str(tmp_path / "inventory.sqlite")
    refusal = f"npmaudit: error: {project / lockfile}: locks no package, but package.json declares debug@^4.3.4: "
    for command in (["query", "debug", str(project)], ["inventory", "add", str(project), "--inventory", inventory]):
        assert main(command) == 2, command
        captured = capsys.readouterr()
        assert captured.err.startswith(refusal) and captured.err.count("\n") == 1, captured.err
        assert "No install matches" not in captured.out and "0 packages" not in captured.out
    if text is not None:
        assert main(["query", "-r", "debug", str(tmp_path / "scan")]) == 2
        captured = capsys.readouterr()
        assert "1 project could not be read" in captured.out and refusal in captured.err
    (project / "package.json").write_text('{"name": "p", "version": "1.0.0"}')  # legitimately empty
    assert main(["query", "debug", str(project)]) == 0
    assert "No install matches debug" in capsys.readouterr().out
    assert main(["inventory", "add", str(project), "--inventory", inventory]) == 0


@pytest.mark.parametrize(
    "text",
    ['{"lockfileVersion": 3}', '{"name": "p", "lockfileVersion": 2, "requires": true, "dependencies": {}}'],
    ids=["v3-bare", "v2-no-packages"],
)
def test_a_v2_or_v3_npm_lockfile_without_packages_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    # npm writes "packages" (with at least the root entry) in every v2/v3 lockfile; read without it,
    # such a file is an empty tree, "0 installed packages, no findings" even for a project that
    # declares nothing. Each command names the file.
    isolate_environment(monkeypatch, tmp_path, no_npm=True)
    project = _locking_nothing(tmp_path / "project", '{"name": "p", "version": "1.0.0"}', "package-lock.json", text)
    lock = project / "package-lock.json"
    database = str(EXAMPLE / "advisories.json")
    commands = [
        ["audit", str(project), "--compromised", "--db", database],
        ["verify", str(project), "--allowed-host", "registry.npmjs.test"],
        ["query", "debug", str(project)],
        ["inventory", "add", str(project), "--inventory", str(tmp_path / "inventory.sqlite")],
    ]
    for command in commands:
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert err.startswith(f"npmaudit: error: {lock}:1: lockfileVersion ") and err.count("\n") == 1, err
        assert 'but no "packages"' in err
