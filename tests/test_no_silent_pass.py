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


@pytest.mark.parametrize(
    ("lockfile", "text"),
    [
        ("package-lock.json", '{"name": "eio-latency", "lockfileVersion": 3, "requires": true, "packages": {"": {}}}'),
        ("yarn.lock", "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\n"),
    ],
)
def test_a_lockfile_that_locks_nothing_for_declared_dependencies_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lockfile: str, text: str
) -> None:
    # The example's real package.json with a lockfile committed before any install: "0 installed
    # packages, no findings" would be a pass that never looked at express, engine.io or debug.
    isolate_environment(monkeypatch, tmp_path, no_npm=True)
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(EXAMPLE / "package.json", project / "package.json")
    (project / lockfile).write_text(text)
    database = str(EXAMPLE / "advisories.json")
    assert main(["audit", str(project), "--compromised", "--db", database]) == 2
    err = capsys.readouterr().err
    assert f"{project / lockfile}: locks no package, but package.json declares " in err
    assert "express@" in err and "out of sync" in err
    assert main(["audit", "-r", str(tmp_path), "--compromised", "--db", database]) == 2  # unreadable in a scan too
    assert "locks no package" in capsys.readouterr().err
    (project / "package.json").write_text('{"name": "eio-latency", "version": "1.0.0"}')  # declares nothing
    assert main(["audit", str(project), "--compromised", "--db", database]) == 0
