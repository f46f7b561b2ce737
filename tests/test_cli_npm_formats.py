"""`--format npm-json` / `npm-text` through the real command line: packuments come from a registry on
127.0.0.1 (serving the packuments npm itself used, recorded in tests/fixtures/npm_oracle), and the
output must equal what npm 11 printed for the same lockfile and advisories."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES
from npmaudit.cli import main
from npmaudit.npm_report.bulk import npm_advisory_id
from servers.registry_server import RegistryServer

ORACLE = FIXTURES / "npm_oracle"
STEM = "socketio__socket.io__packages__engine.io__examples__latency"
PROJECT = FIXTURES / "lockfiles" / "npm" / STEM


@pytest.fixture(scope="module")
def registry():
    with gzip.open(ORACLE / "packuments.json.gz", "rt", encoding="utf-8") as stream:
        packuments = {name: doc for name, doc in json.load(stream).items() if doc is not None}
    with RegistryServer(packuments=packuments) as server:
        yield server


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("NPMAUDIT_POLICY", "NPMAUDIT_AUDIT_LEVEL", "NPMAUDIT_DB", "NODE_ENV", "NPMAUDIT_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)
    database = tmp_path / "advisories.jsonl"
    database.write_text(
        "".join((ORACLE / "advisories" / name).read_text() for name in ("real.jsonl", "synthetic.jsonl"))
    )
    return project, database


def test_npm_json_equals_npms_own_output(setup, registry, capsys):
    project, database = setup
    args = ["audit", str(project), "--compromised", "--db", str(database), "--registry", registry.url]
    code = main([*args, "--format", "npm-json"])
    captured = capsys.readouterr()
    expected_text = (ORACLE / "expected" / f"{STEM}.json").read_text()
    expected = json.loads(expected_text)
    assert captured.out == expected_text  # byte for byte what npm printed
    assert code == json.loads((ORACLE / "runs.json").read_text())[STEM]["json"]["exit"] == 1
    assert registry.requests_to("/"), "packuments were fetched from the configured registry"

    # The packuments are cached: --offline gives the same document without the registry.
    before = len(registry.requests_to("/"))
    code = main([*args, "--format", "npm-json", "--offline"])
    assert json.loads(capsys.readouterr().out) == expected
    assert len(registry.requests_to("/")) == before

    # Under policy warn the report is the same and the run passes.
    assert main([*args, "--format", "npm-json", "--policy", "warn"]) == 0
    capsys.readouterr()


def test_npm_text_equals_npms_own_output(setup, registry, capsys):
    project, database = setup
    code = main(
        [
            "audit",
            str(project),
            "--compromised",
            "--db",
            str(database),
            "--registry",
            registry.url,
            "--format",
            "npm-text",
        ]
    )
    assert capsys.readouterr().out == (ORACLE / "expected" / f"{STEM}.txt").read_text()
    assert code == 1


def test_offline_with_a_cold_cache_says_what_could_not_be_evaluated(setup, capsys):
    project, database = setup
    main(["audit", str(project), "--compromised", "--db", str(database), "--format", "npm-json", "--offline"])
    captured = capsys.readouterr()
    assert json.loads(captured.out)["auditReportVersion"] == 2
    assert "could not be evaluated" in captured.err


def test_npm_formats_refuse_recursive_scans(setup, capsys):
    project, database = setup
    assert main(["audit", "-r", str(project.parent), "--db", str(database), "--format", "npm-json"]) == 2
    assert "--recursive" in capsys.readouterr().err


MULTI_ENTRY = FIXTURES / "npm_findings" / "multi_entry"


@pytest.fixture
def multi_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """debug@2.6.8 and y18n@4.0.0 with the two real records that list each package in several
    `affected` entries (y18n: <3.2.2, 4.0.0 and 5.0.0-5.0.4; debug: 3.0.x and <2.6.9), and a
    registry serving the packuments npm used when it audited this project."""
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("NPMAUDIT_POLICY", "NPMAUDIT_AUDIT_LEVEL", "NPMAUDIT_DB", "NODE_ENV", "NPMAUDIT_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    project = tmp_path / "project"
    project.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(MULTI_ENTRY / name, project / name)
    with gzip.open(MULTI_ENTRY / "packuments.json.gz", "rt", encoding="utf-8") as stream:
        packuments = json.load(stream)
    with RegistryServer(packuments=packuments) as server:
        yield project, MULTI_ENTRY / "advisories.jsonl", server


@pytest.mark.parametrize(("fmt", "recording"), [("npm-json", "npm-audit.json"), ("npm-text", "npm-audit.txt")])
def test_every_affected_entry_of_a_record_is_tested(multi_entry, capsys, fmt: str, recording: str):
    """Only the first entry's range used to be tested (npm memoises advisories by id), so both
    packages were missing and the run passed; now the report is npm's own, and the run fails."""
    project, database, registry = multi_entry
    args = ["audit", str(project), "--compromised", "--db", str(database), "--registry", registry.url]
    code = main([*args, "--format", fmt])
    out = capsys.readouterr().out
    assert out == (MULTI_ENTRY / recording).read_text()
    npm_exit = json.loads((MULTI_ENTRY / "runs.json").read_text())["json" if fmt == "npm-json" else "text"]
    assert code == npm_exit == 1
    if fmt == "npm-json":
        vulnerabilities = json.loads(out)["vulnerabilities"]
        assert vulnerabilities["y18n"]["via"][0]["range"] == "<3.2.2 || >=4.0.0 <4.0.1 || 4.0.0 || >=5.0.0 <5.0.5"
        assert vulnerabilities["debug"]["via"][0]["range"] == ">=3.0.0 <3.1.0 || <2.6.9"
    else:
        assert "2 high severity vulnerabilities" in out


def test_registry_bulk_answers_give_the_same_report(multi_entry, capsys):
    """The same two advisories from a registry's bulk endpoint (npm-oracle's answers for these
    records, one per package) give npm's document too, byte for byte."""
    project, _database, registry = multi_entry
    with gzip.open(FIXTURES / "npm_findings" / "bulk_answers.json.gz", "rt", encoding="utf-8") as stream:
        answers = json.load(stream)
    wanted = {npm_advisory_id("GHSA-c4w7-xm78-47vh"), npm_advisory_id("GHSA-9vvw-cc9w-f27h")}
    registry.advisories = {name: [a for a in answers[name] if a["id"] in wanted] for name in ("debug", "y18n")}
    args = ["audit", str(project), "--registry-advisories", "--registry", registry.url, "--format", "npm-json"]
    code = main(args)
    assert capsys.readouterr().out == (MULTI_ENTRY / "npm-audit.json").read_text()
    assert code == 1
