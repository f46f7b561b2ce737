"""Malicious packages come first (issue 9, item 5): a banner under the report's first line names each
one with its version and install path, their blocks precede all others, the summary line names them,
and a recursive scan begins with (and its JSON carries) a summary of which projects hold them.

The project is react-boilerplate's real lockfile, which installs fsevents 1.2.7; the records are the
real ones in tests/fixtures/osv/core, among them OpenSSF's MAL-2023-462 (fsevents >=1.0.0 <1.2.11).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import EXAMPLE, FIXTURES, isolate_environment
from npmaudit.cli import main

BOILERPLATE = FIXTURES / "lockfiles" / "npm" / "react-boilerplate__react-boilerplate"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path)


def _copy(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(source / name, target / name)
    return target


def test_the_text_report_names_the_malicious_package_in_its_first_lines(tmp_path: Path, core_database: Path, capsys):
    project = _copy(BOILERPLATE, tmp_path / "boilerplate")
    code = main(["audit", str(project), "--compromised", "--db", str(core_database)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    # Line 1 names the lockfile; the banner follows at once, with name, version, path and record id.
    assert lines[1].startswith("MALICIOUS PACKAGES INSTALLED (1)")
    assert lines[2] == "  fsevents@1.2.7 at node_modules/fsevents (MAL-2023-462, GHSA-xv2f-5jw4-v95m)"
    # The first package block is the malicious one, although 31 other vulnerable packages sort before
    # or after it by name; the others keep the engine's alphabetical order.
    severities = ("critical", "high", "moderate", "low", "info", "unknown")
    headers = [line for line in lines if not line.startswith(" ") and line.rsplit("  ", 1)[-1] in severities]
    assert headers[0] == "MALICIOUS fsevents@1.2.7  critical"
    others = [header.split("  ")[0].rsplit("@", 1)[0] for header in headers[1:]]
    assert len(headers) == 32 and "fsevents" not in others and others == sorted(others)
    # The summary line names it too, not just a count.
    summary = next(line for line in lines if "vulnerable packages" in line)
    assert summary.startswith("32 vulnerable packages (1 malicious: fsevents@1.2.7), 34 findings")


def test_no_banner_without_a_malicious_finding(tmp_path: Path, core_database: Path, capsys):
    project = _copy(EXAMPLE, tmp_path / "example")
    assert main(["audit", str(project), "--compromised", "--db", str(core_database)]) == 1
    out = capsys.readouterr().out
    assert "MALICIOUS" not in out and "malicious:" not in out
    assert out.splitlines()[1] == ""  # straight from the first line to the findings


def test_json_summary_names_the_malicious_packages(tmp_path: Path, core_database: Path, capsys):
    project = _copy(BOILERPLATE, tmp_path / "boilerplate")
    main(["audit", str(project), "--compromised", "--db", str(core_database), "--format", "json"])
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["maliciousPackages"] == 1
    assert summary["malicious"] == [
        {
            "name": "fsevents",
            "version": "1.2.7",
            "paths": ["node_modules/fsevents"],
            "ids": ["MAL-2023-462", "GHSA-xv2f-5jw4-v95m"],
        }
    ]


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    """Three projects: one installs malicious fsevents, one only vulnerable packages, one is unreadable."""
    root = tmp_path / "repo"
    _copy(BOILERPLATE, root / "apps" / "site")
    _copy(EXAMPLE, root / "services" / "latency")
    (root / "broken").mkdir(parents=True)
    (root / "broken" / "package-lock.json").write_text("{")
    return root


def test_recursive_json_has_a_combined_summary(monorepo: Path, core_database: Path, capsys):
    code = main(["audit", "-r", str(monorepo), "--compromised", "--db", str(core_database), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 2  # the unreadable project still outranks the findings
    # Existing keys are kept, the schema version too.
    assert report["schemaVersion"] == 1
    assert {"root", "exitCode", "projects", "errors"} <= set(report)
    summary = report["summary"]
    site, latency, broken = (str(monorepo / p) for p in ("apps/site", "services/latency", "broken"))
    assert summary["projectsScanned"] == 3
    assert summary["projectsAudited"] == 2 and summary["projectsNotAudited"] == 1
    assert summary["notAudited"] == [broken]
    assert summary["projectsFailingPolicy"] == 2 and summary["failingPolicy"] == [site, latency]
    assert summary["projectsWithMalicious"] == 1
    assert summary["malicious"] == [
        {
            "directory": site,
            "packages": [
                {
                    "name": "fsevents",
                    "version": "1.2.7",
                    "paths": ["node_modules/fsevents"],
                    "ids": ["MAL-2023-462", "GHSA-xv2f-5jw4-v95m"],
                }
            ],
        }
    ]
    assert summary["findings"] == sum(len(project["findings"]) for project in report["projects"])


def test_recursive_text_begins_with_the_summary(monorepo: Path, core_database: Path, capsys):
    main(["audit", "-r", str(monorepo), "--compromised", "--db", str(core_database)])
    lines = capsys.readouterr().out.splitlines()
    total = "3 projects: 2 audited, 2 failed the policy, 1 could not be read, 1 with malicious packages"
    assert lines[0] == f"{monorepo}: {total}"
    assert lines[1] == "MALICIOUS in apps/site: fsevents@1.2.7 (node_modules/fsevents)"
    assert lines[2] == "failed the policy: apps/site, services/latency"
    assert lines[3] == "could not be read: broken"
    assert lines[-1] == total  # and again at the end, after the long sections
