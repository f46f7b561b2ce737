"""`npmaudit fix --strategy override` for npm, yarn classic, yarn berry and pnpm projects.

Each project (tests/fixtures/fix/projects/override-<manager>, locked by that package manager)
depends on mkdirp 0.5.1, which pins minimist 0.0.8 (GHSA-vh95-rmgr-6w4m, GHSA-xvch-5gv4-984h);
no mkdirp 0.5.1 accepts a safe minimist, so the fix is an override scoped to mkdirp. When the
expectations were recorded (tests/oracle/record_fix.py) each package manager relocked the project
with exactly these bytes of package.json (sha256) and npmaudit audited what it locked: that is the
proof that the manager accepts the override and that it fixes the finding.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES
from fix_helpers import isolate_fix_environment, recorded_registry
from npmaudit.cli import main

FIX = FIXTURES / "fix"
ADVISORIES = FIX / "advisories.jsonl"

CASES = {
    "npm": ("overrides", {"mkdirp@0.5.1": {"minimist": "0.2.4"}}, "npm install --package-lock-only"),
    "yarn-classic": ("resolutions", {"mkdirp/minimist": "0.2.4"}, "yarn install"),
    "yarn-berry": ("resolutions", {"mkdirp/minimist": "0.2.4"}, "yarn install --mode=update-lockfile"),
    "pnpm": ("pnpm", {"overrides": {"mkdirp@0.5.1>minimist": "0.2.4"}}, "pnpm install --lockfile-only"),
}


@pytest.fixture(scope="module")
def registry():
    with recorded_registry() as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_fix_environment(tmp_path, monkeypatch)


def recorded(manager: str) -> dict[str, Any]:
    return json.loads((FIX / "expected" / f"override-{manager}.json").read_text())


@pytest.mark.parametrize("manager", sorted(CASES))
def test_the_override_is_accepted_by_the_package_manager_and_fixes_the_finding(manager, env, registry, capsys):
    folder = env / manager
    shutil.copytree(FIX / "projects" / f"override-{manager}", folder)
    locks = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "package.json"}
    args = [
        "fix",
        str(folder),
        "--compromised",
        "--db",
        str(ADVISORIES),
        "--registry",
        registry.url,
        "--format",
        "json",
    ]
    if manager == "npm":
        args += ["--strategy", "override"]  # npm lockfiles are fixed in place by default
    code = main(args)
    result = json.loads(capsys.readouterr().out)
    field, value, command = CASES[manager]

    manifest = json.loads((folder / "package.json").read_text())
    assert manifest[field] == value
    assert manifest["dependencies"] == {"mkdirp": "0.5.1"}
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "package.json"} == locks
    assert result["strategy"] == "override" and result["next"] == command
    assert result["written"] == [str(folder / "package.json")]
    assert result["reaudit"]["vulnerableBefore"] == 1 and result["reaudit"]["vulnerableAfter"] == 0
    assert code == 0

    expected = recorded(manager)
    digest = hashlib.sha256((folder / "package.json").read_bytes()).hexdigest()
    assert expected["npmaudit"]["files"] == {"package.json": digest}, "re-run tests/oracle/record_fix.py"
    assert expected["relock"]["exit"] == 0, expected["relock"]["errors"]
    assert expected["relock"]["vulnerableAfter"] == 0, expected["relock"]["remaining"]


def test_a_dry_run_override_writes_nothing(env, registry, capsys):
    folder = env / "pnpm"
    shutil.copytree(FIX / "projects" / "override-pnpm", folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    code = main(["fix", str(folder), "--compromised", "--db", str(ADVISORIES), "--registry", registry.url, "--dry-run"])
    out = capsys.readouterr().out
    assert code == 1
    assert "package.json: pnpm.overrides.mkdirp@0.5.1>minimist (none) => 0.2.4" in out
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_in_place_is_refused_for_a_yarn_lockfile(env, registry, capsys):
    folder = env / "yarn"
    shutil.copytree(FIX / "projects" / "override-yarn-classic", folder)
    code = main(
        [
            "fix",
            str(folder),
            "--compromised",
            "--db",
            str(ADVISORIES),
            "--registry",
            registry.url,
            "--strategy",
            "in-place",
        ]
    )
    assert code == 2
    assert "in-place strategy rewrites npm lockfiles only" in capsys.readouterr().err
