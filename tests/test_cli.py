"""The command line end to end, on the bundled example project (a real package-lock v1 tree) and its
real advisory database: exit codes, streams, formats, precedence, write-back, recursive scans."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLE
from npmaudit.cli import main

EXAMPLE_DB = EXAMPLE / "advisories.json"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("NPMAUDIT_POLICY", "NPMAUDIT_AUDIT_LEVEL", "NPMAUDIT_DB", "NODE_ENV", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:
    code = main(["audit", *args, "--format", "json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_example_findings_and_json_shape(example_project: Path, capsys):
    code, report, err = run_json(capsys, str(example_project), "--compromised", "--db", str(EXAMPLE_DB))
    assert code == 1
    assert report["schemaVersion"] == 1
    assert report["project"]["lockfileFormat"] == "package-lock-v1"
    found = {(f["name"], f["version"], f["id"]) for f in report["findings"]}
    # Hand-checked against the records: lodash is absent; ms 0.7.1 is outside NSWG-ECO-46 (<=0.7.0) but inside
    # GHSA-w9mr-4mfr-499f (<2.0.0); minimist 0.0.10 is inside GHSA-xvch-5gv4-984h (introduced 0, fixed 0.2.4).
    assert ("minimist", "0.0.10", "GHSA-xvch-5gv4-984h") in found
    assert ("ms", "0.7.1", "GHSA-w9mr-4mfr-499f") in found
    assert not any(
        name == "ms" and advisory == "NSWG-ECO-46" and version == "0.7.1" for name, version, advisory in found
    )
    # debug@4.4.2 (the 2025 account-takeover malware) is in the database, and this tree is not hit.
    assert not any(f["id"] == "GHSA-4x49-vf9v-38px" for f in report["findings"])
    for finding in report["findings"]:
        assert set(finding) >= {
            "name",
            "version",
            "paths",
            "id",
            "aliases",
            "severity",
            "malicious",
            "summary",
            "fixedIn",
        }
        assert finding["paths"] and all(p.startswith("node_modules/") for p in finding["paths"])
        assert finding["chains"][0][0] == "eio-latency"
    assert report["summary"]["findings"] == len(report["findings"])
    assert sum(report["summary"]["bySeverity"].values()) == len(report["findings"])
    assert report["sources"][0]["records"] == 46
    assert report["sources"][0]["kind"] == "json-db"
    # stderr holds only the database's age warning (its newest record is from 2025).
    assert [line for line in err.splitlines() if "the advisory database is" not in line] == []


@pytest.mark.parametrize(
    ("policy", "level", "expected"),
    [
        ("error", "low", 1),
        ("error", "critical", 1),  # minimist GHSA-xvch-5gv4-984h is critical
        ("error", "none", 0),
        ("warn", "low", 0),
        ("warn", "critical", 0),
    ],
)
def test_policy_and_level_exit_codes(example_project: Path, capsys, policy: str, level: str, expected: int):
    code, report, _ = run_json(
        capsys,
        str(example_project),
        "--compromised",
        "--db",
        str(EXAMPLE_DB),
        "--policy",
        policy,
        "--audit-level",
        level,
    )
    assert code == expected
    assert report["findings"], "the level never hides findings"
    assert report["policy"]["exitCode"] == expected


def test_policy_off_skips_and_says_so(example_project: Path, capsys):
    code = main(["audit", str(example_project), "--db", str(example_project / "missing.json"), "--policy", "off"])
    captured = capsys.readouterr()
    assert code == 0
    assert "skipped" in captured.err


def test_no_findings_pass(example_project: Path, tmp_path: Path, capsys):
    unrelated = tmp_path / "unrelated.json"
    unrelated.write_text(
        json.dumps(
            [
                {
                    "id": "GHSA-test-unrelated",
                    "modified": "2026-01-01T00:00:00Z",
                    "affected": [
                        {"package": {"ecosystem": "npm", "name": "not-in-this-project"}, "versions": ["1.0.0"]}
                    ],
                }
            ]
        )
    )
    code, report, _ = run_json(capsys, str(example_project), "--db", str(unrelated), "--compromised")
    assert code == 0
    assert report["findings"] == []
    # A database with no record at all is no database: nothing was looked at.
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert main(["audit", str(example_project), "--db", str(empty), "--compromised"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "empty.json: holds no advisory records" in captured.err


def test_environment_and_config_precedence(example_project: Path, capsys, monkeypatch):
    (example_project / ".npmaudit.toml").write_text('policy = "warn"\ndb = "../db.json"\n')
    shutil.copy(EXAMPLE_DB, example_project.parent / "db.json")
    code, report, _ = run_json(capsys, str(example_project), "--compromised")
    assert code == 0 and report["policy"]["policy"] == "warn"
    assert report["sources"][0]["location"] == str(example_project / "../db.json")
    monkeypatch.setenv("NPMAUDIT_POLICY", "error")
    code, _, _ = run_json(capsys, str(example_project), "--compromised")
    assert code == 1
    code, _, _ = run_json(capsys, str(example_project), "--compromised", "--policy", "warn")
    assert code == 0
    monkeypatch.setenv("NPMAUDIT_POLICY", "loud")
    assert main(["audit", str(example_project), "--compromised"]) == 2
    assert "NPMAUDIT_POLICY: invalid value 'loud'" in capsys.readouterr().err


def test_omit_and_node_env(example_project: Path, capsys, monkeypatch):
    _, full, _ = run_json(capsys, str(example_project), "--db", str(EXAMPLE_DB), "--compromised", "--policy", "warn")
    _, no_dev, _ = run_json(capsys, str(example_project), "--db", str(EXAMPLE_DB), "--compromised", "--omit", "dev")
    dev_only = [f for f in full["findings"] if f["dev"]]
    assert len(no_dev["findings"]) == len(full["findings"]) - len(dev_only)
    monkeypatch.setenv("NODE_ENV", "production")
    _, production, _ = run_json(capsys, str(example_project), "--db", str(EXAMPLE_DB), "--compromised")
    assert production["policy"]["omit"] == ["dev"]
    assert len(production["findings"]) == len(no_dev["findings"])


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "empty"),
        ('{"lockfileVersion": 2, "packages": {', "JSON"),
        ("this is not json", "JSON"),
        ("[]", ""),
    ],
)
def test_bad_lockfiles_exit_2_with_one_line(example_project: Path, capsys, content: str, problem: str):
    (example_project / "package-lock.json").write_text(content)
    code = main(["audit", str(example_project), "--db", str(EXAMPLE_DB), "--compromised"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("npmaudit: error: ")
    assert "package-lock.json" in err and problem in err


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "empty file"),
        ("[{", "invalid JSON"),
        ("<html>", "invalid JSON"),
        ('{"id": "A"}\n{oops}\n', "invalid JSON line"),
    ],
)
def test_bad_databases_exit_2_with_one_line(example_project: Path, tmp_path: Path, capsys, content: str, problem: str):
    database = tmp_path / "db.json"
    database.write_text(content)
    code = main(["audit", str(example_project), "--db", str(database), "--compromised"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and str(database) in err and problem in err


def test_a_missing_database_is_an_error(example_project: Path, tmp_path: Path, capsys):
    assert main(["audit", str(example_project), "--db", str(tmp_path / "nope.json"), "--compromised"]) == 2
    assert "not found" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert_exit = pytest.raises(SystemExit)
    with assert_exit as caught:
        main(["audit", "--format", "yaml"])
    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_write_merges_matched_advisories(example_project: Path, capsys):
    local = example_project / "security" / "advisories.json"
    code = main(
        [
            "audit",
            str(example_project),
            "--db",
            str(EXAMPLE_DB),
            "--compromised",
            "--write",
            str(local),
            "--policy",
            "warn",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    written = json.loads(local.read_text())
    ids = [record["id"] for record in written]
    assert ids == sorted(ids) and "GHSA-xvch-5gv4-984h" in ids
    assert "GHSA-4x49-vf9v-38px" not in ids  # only what matched
    assert "merged" in captured.err and str(local) in captured.err
    # The written database is itself a valid database giving the same findings.
    code, again, _ = run_json(capsys, str(example_project), "--db", str(local), "--compromised", "--policy", "warn")
    assert code == 0 and again["findings"]


def test_text_report_marks_and_paths(example_project: Path, capsys):
    code = main(["audit", str(example_project), "--db", str(EXAMPLE_DB), "--compromised"])
    out = capsys.readouterr().out
    assert code == 1
    assert "minimist@0.0.10" in out
    assert "installed at: node_modules/" in out
    assert "why: eio-latency > " in out
    assert "\x1b[" not in out  # not a TTY: no colour
    assert "FAILED" in out


def test_malicious_findings_are_unmissable_and_text_is_neutralised(example_project: Path, tmp_path: Path, capsys):
    database = tmp_path / "mal.json"
    database.write_text(
        json.dumps(
            [
                {
                    "id": "MAL-2099-1",
                    "modified": "2026-01-01T00:00:00Z",
                    "summary": "Malicious code in ms\x1b[2J\r\u202eevil",
                    "affected": [{"package": {"ecosystem": "npm", "name": "ms"}, "versions": ["2.0.0"]}],
                }
            ]
        )
    )
    code = main(["audit", str(example_project), "--db", str(database), "--compromised"])
    out = capsys.readouterr().out
    assert code == 1
    assert "MALICIOUS ms@2.0.0" in out
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
    assert "\\x1b[2J\\x0d\\u202eevil" in out


def test_recursive_scan_combines_projects(example_project: Path, tmp_path: Path, capsys):
    monorepo = tmp_path / "repo"
    shutil.copytree(example_project, monorepo / "services" / "a")
    shutil.copytree(example_project, monorepo / "services" / "b")
    (monorepo / "services" / "b" / "node_modules" / "x").mkdir(parents=True)
    (monorepo / "services" / "b" / "node_modules" / "x" / "package-lock.json").write_text("{}")  # never read
    (monorepo / "broken").mkdir()
    (monorepo / "broken" / "package-lock.json").write_text("{")
    code = main(["audit", "-r", str(monorepo), "--db", str(EXAMPLE_DB), "--compromised", "--format", "json"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 2  # an unreadable project outranks findings
    assert [Path(p["project"]["directory"]).name for p in report["projects"]] == ["a", "b"]
    assert [Path(e["directory"]).name for e in report["errors"]] == ["broken"]
    assert "broken/package-lock.json" in captured.err


def test_the_console_script_runs_as_a_process(example_project: Path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "npmaudit",
            "audit",
            str(example_project),
            "--db",
            str(EXAMPLE_DB),
            "--compromised",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert json.loads(completed.stdout)["findings"]
    assert [line for line in completed.stderr.splitlines() if "the advisory database is" not in line] == []


def test_a_named_database_that_is_missing_is_an_error_even_without_a_source_flag(
    example_project: Path, tmp_path, capsys
):
    # Without --compromised the default is "local store if present, plus OSV online"; a --db that was
    # given must not be silently skipped (the audit would then run online only, or not at all offline).
    assert main(["audit", str(example_project), "--db", str(tmp_path / "typo.json")]) == 2
    assert "typo.json" in capsys.readouterr().err


def test_package_names_are_neutralised_even_in_colour(monkeypatch):
    from npmaudit.advisories.model import Advisory
    from npmaudit.auditing.engine import Finding
    from npmaudit.project.model import Node, PackageRef, SourceKind
    from npmaudit.report.text import _package_block, _Painter

    node = Node("node_modules/x", "x\x1b[2J", "1.0.0", SourceKind.REGISTRY)
    advisory = Advisory.from_osv({"id": "MAL-1", "summary": "evil"})
    finding = Finding(PackageRef(node.name, node.version), advisory, (advisory,), (node,), ())

    from npmaudit.auditing.ignores import NO_IGNORES

    class Outcome:
        ignores = NO_IGNORES

        class result:
            project = None

    monkeypatch.setattr("npmaudit.report.text.chain_labels", lambda result, n: [n.name])
    lines = _package_block(Outcome(), [finding], _Painter(True))
    assert "\x1b[2J" not in "\n".join(lines)
    assert "x\\x1b[2J@1.0.0" in lines[0]
    assert "\x1b[1;97;41m" in lines[0]  # the colour itself stays


@pytest.mark.parametrize(
    "arguments",
    [
        ["audit", "--compromised", "--format", "json"],  # findings: exit 1 if the report were read
        ["query", "debug"],  # installs of debug: exit 1 if the answer were read
    ],
)
def test_a_reader_that_closes_the_pipe_early_never_makes_the_run_pass(example_project: Path, arguments: list[str]):
    # `npmaudit audit | head -1` under `set -o pipefail`: the verdict was never delivered, so the run
    # must not exit 0 ("no findings"); it exits as a tool stopped by SIGPIPE does, and says nothing more.
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "npmaudit", *arguments, str(example_project), "--db", str(EXAMPLE_DB)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert completed.returncode == 128 + signal.SIGPIPE
    assert "Traceback" not in completed.stderr and "Exception ignored" not in completed.stderr
