"""`npmaudit fix` on small real projects (tests/fixtures/fix/projects, lockfiles written by npm),
real advisories (tests/fixtures/fix/advisories.jsonl) and a registry on 127.0.0.1 serving the
packuments recorded for them (tests/fixtures/fix/packuments.json.gz).

Each fixed lockfile is compared by sha256 with the one npm itself judged when the expectations were
recorded (tests/oracle/record_fix.py): `npm ls --all --package-lock-only` found no problem and
`npm ci --dry-run` succeeded on exactly these bytes; what `npm audit fix --package-lock-only` left
is in the same file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES
from fix_helpers import isolate_fix_environment, recorded_documents, recorded_packuments
from npmaudit.advisories.local import open_local_database
from npmaudit.cli import main
from npmaudit.fix.inplace import InPlacePlanner
from npmaudit.fix.model import Reason
from npmaudit.fix.safety import Safety
from npmaudit.fix.tree import Tree
from npmaudit.project.loader import load_project
from npmaudit.registry.packuments import MappingPackuments
from servers.base import Fault
from servers.registry_server import RegistryServer

FIX = FIXTURES / "fix"
ADVISORIES = FIX / "advisories.jsonl"


def expected(name: str) -> dict[str, Any]:
    return json.loads((FIX / "expected" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def packuments() -> dict[str, Any]:
    return recorded_packuments()


@pytest.fixture
def registry(packuments):
    with RegistryServer(packuments=packuments) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_fix_environment(tmp_path, monkeypatch)


def project(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(FIX / "projects" / name, target)
    return target


def fix(path: Path, registry: RegistryServer, capsys, *extra: str) -> tuple[int, dict[str, Any]]:
    args = ["fix", str(path), "--compromised", "--db", str(ADVISORIES), "--registry", registry.url, "--format", "json"]
    code = main([*args, *extra])
    return code, json.loads(capsys.readouterr().out)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def lock_versions(folder: Path) -> dict[str, str]:
    data = json.loads((folder / "package-lock.json").read_text())
    return {key: entry.get("version") for key, entry in data["packages"].items() if key}


def assert_npm_accepts(path: Path, name: str) -> None:
    """These bytes are the ones npm judged at recording time, and npm found nothing wrong."""
    recorded = expected(name)
    assert sha256(path) == recorded["npmaudit"]["lockfileSha256"], "output changed: re-run tests/oracle/record_fix.py"
    assert recorded["npmVerdict"]["lsExit"] == 0 and recorded["npmVerdict"]["lsProblems"] == []
    assert recorded["npmVerdict"]["ciDryRunExit"] == 0


def assert_at_least_as_good_as_npm(result: dict[str, Any], name: str) -> None:
    """As npm counts (one vulnerable package per name): no more left than npm leaves, and every
    package npm fixed is fixed."""
    npm = expected(name)["npmAuditFix"]
    remaining = {r["name"] for r in result["reaudit"]["remaining"]}
    assert result["reaudit"]["vulnerableAfter"] == len(remaining) <= npm["vulnerableAfter"]
    assert not set(npm["fixed"]) & remaining, "every package npm fixed is fixed"


def test_an_older_safe_version_in_range_is_picked(env, registry, capsys):
    # cryptiles ^3.0.0 is locked at 3.2.1, inside NSWG-ECO-476 (>=3.1.0 <4.1.2); the newest 3.x is
    # affected, 3.0.2 is not: npm <= 11.1x never moves to an older version (npm/cli #3472).
    folder = project(env, "older-safe")
    code, result = fix(folder, registry, capsys)
    assert code == 0
    # 3.0.2 requires boom 3.x.x: the boom 5.3.3 only cryptiles needed is replaced (hoek 4.3.1 still fits).
    assert lock_versions(folder) == {
        "node_modules/boom": "3.2.2",
        "node_modules/cryptiles": "3.0.2",
        "node_modules/hoek": "4.3.1",
    }
    assert [(c["action"], c["name"], c["from"], c["to"]) for c in result["changes"]] == [
        ("change", "boom", "5.3.3", "3.2.2"),
        ("change", "cryptiles", "3.2.1", "3.0.2"),
    ]
    assert result["reaudit"] == {
        "vulnerableBefore": 1,
        "vulnerableAfter": 0,
        "remaining": [],
        "introduced": [],
        "dropped": [],
        "treeProblemsBefore": 0,
        "treeProblemsAfter": 0,
    }
    assert result["written"] == [str(folder / "package-lock.json")]
    assert_npm_accepts(folder / "package-lock.json", "older-safe")
    assert_at_least_as_good_as_npm(result, "older-safe")
    # The packuments came from the configured registry.
    assert registry.requests_to("/cryptiles")


def test_a_pinned_dependency_is_fixed_by_updating_its_parent(env, registry, capsys):
    # mkdirp 0.5.1 pins minimist 0.0.8 (GHSA-vh95: < 0.2.1); mkdirp ^0.5.1 allows 0.5.6, whose
    # minimist ^1.2.6 is safe: the parent moves within the project's range.
    folder = project(env, "parent-update")
    code, result = fix(folder, registry, capsys)
    assert code == 0
    versions = lock_versions(folder)
    assert versions["node_modules/mkdirp"] == "0.5.6"
    assert versions["node_modules/minimist"] == "1.2.8"
    changes = {(c["action"], c["name"], c.get("from"), c.get("to")) for c in result["changes"]}
    assert changes == {("change", "mkdirp", "0.5.1", "0.5.6"), ("change", "minimist", "0.0.8", "1.2.8")}
    assert [(o["name"], o["fixed"]) for o in result["outcomes"]] == [("minimist", True)]
    assert result["manifestChanges"] == []  # within the project's own range: package.json untouched
    assert_npm_accepts(folder / "package-lock.json", "parent-update")
    assert_at_least_as_good_as_npm(result, "parent-update")


def test_a_semver_major_fix_needs_force_and_is_listed_as_breaking(env, registry, capsys):
    # minimist ~0.0.8: every 0.0.x is affected; the fix is 1.2.8, outside the range.
    folder = project(env, "force-major")
    before = snapshot(folder)
    code, result = fix(folder, registry, capsys)
    assert code == 1
    [remaining] = result["reaudit"]["remaining"]
    assert (remaining["name"], remaining["reason"]) == ("minimist", "needs-force")
    assert "minimist to 1.2.8" in remaining["detail"] and "SemVer major" in remaining["detail"]
    assert result["changes"] == [] and result["written"] == []
    assert snapshot(folder) == before

    code, result = fix(folder, registry, capsys, "--force")
    assert code == 0
    assert result["breaking"] == [
        {
            "file": str(folder / "package.json"),
            "field": "dependencies",
            "key": "minimist",
            "from": "~0.0.8",
            "to": "^1.2.8",
            "breaking": True,
        }
    ]
    assert json.loads((folder / "package.json").read_text())["dependencies"] == {"minimist": "^1.2.8"}
    lock = json.loads((folder / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == {"minimist": "^1.2.8"}
    assert lock["packages"]["node_modules/minimist"]["version"] == "1.2.8"
    assert set(result["written"]) == {str(folder / "package-lock.json"), str(folder / "package.json")}
    assert_npm_accepts(folder / "package-lock.json", "force-major.force")
    assert_at_least_as_good_as_npm(result, "force-major.force")


def test_no_safe_version_is_reported_and_nothing_is_written(env, registry, capsys):
    # GHSA-67hx-6x53-jw92 affects every version of babel-traverse.
    folder = project(env, "no-fix")
    before = snapshot(folder)
    code, result = fix(folder, registry, capsys)
    assert code == 1
    [remaining] = result["reaudit"]["remaining"]
    assert (remaining["name"], remaining["reason"]) == ("babel-traverse", "no-safe-version")
    assert remaining["advisories"] == ["GHSA-67hx-6x53-jw92"]
    assert result["changes"] == [] and result["written"] == []
    assert snapshot(folder) == before
    assert_at_least_as_good_as_npm(result, "no-fix")


def test_a_registry_failure_mid_plan_writes_nothing(env, registry, capsys):
    # minimist's packument is served; mkdirp's (needed for the parent update) fails.
    folder = project(env, "parent-update")
    before = snapshot(folder)
    registry.add_fault(Fault("/mkdirp", "status", status=503, times=0))
    code = main(["fix", str(folder), "--compromised", "--db", str(ADVISORIES), "--registry", registry.url])
    captured = capsys.readouterr()
    assert code == 3
    assert "503" in captured.err and captured.err.count("\n") == 1
    assert registry.requests_to("/minimist") and registry.requests_to("/mkdirp")
    assert snapshot(folder) == before


def test_an_unauthorised_registry_is_a_failure_not_a_missing_package(env, packuments, capsys):
    folder = project(env, "older-safe")
    before = snapshot(folder)
    with RegistryServer(packuments=packuments, token="secret") as server:
        code = main(["fix", str(folder), "--compromised", "--db", str(ADVISORIES), "--registry", server.url])
    assert code == 3
    assert "401" in capsys.readouterr().err
    assert snapshot(folder) == before


def test_dry_run_prints_the_plan_and_writes_nothing(env, registry, capsys):
    folder = project(env, "older-safe")
    before = snapshot(folder)
    code = main(["fix", str(folder), "--compromised", "--db", str(ADVISORIES), "--registry", registry.url, "--dry-run"])
    out = capsys.readouterr().out
    assert code == 1  # nothing was fixed: the project as it stands still has the finding
    assert "change cryptiles 3.2.1 => 3.0.2  node_modules/cryptiles" in out
    assert "re-audit (packages by name, as npm counts them): 1 vulnerable before, 0 after, 0 introduced" in out
    assert "dry run: nothing written" in out
    assert snapshot(folder) == before
    assert not list(folder.parent.glob(".*tmp"))


def test_a_lockfile_that_does_not_match_package_json_is_an_input_error(env, registry, capsys):
    folder = project(env, "older-safe")
    manifest = json.loads((folder / "package.json").read_text())
    manifest["dependencies"]["cryptiles"] = "^4.0.0"
    (folder / "package.json").write_text(json.dumps(manifest))
    before = snapshot(folder)
    code = main(["fix", str(folder), "--compromised", "--db", str(ADVISORIES), "--registry", registry.url])
    err = capsys.readouterr().err
    assert code == 2
    assert "does not match package.json" in err and "cryptiles@3.2.1 does not satisfy cryptiles@^4.0.0" in err
    assert snapshot(folder) == before


def test_an_unparseable_lockfile_is_an_input_error(env, registry, capsys):
    folder = project(env, "older-safe")
    (folder / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": {')
    code = main(["fix", str(folder), "--compromised", "--db", str(ADVISORIES), "--registry", registry.url])
    assert code == 2
    assert "package-lock.json" in capsys.readouterr().err


def test_bundled_dependencies_are_reported_as_unfixable():
    # react-boilerplate's fsevents 1.2.7 bundles minimist 0.0.8 (inside its tarball): no lockfile
    # change can replace it. Nothing is fetched to say so.
    folder = FIXTURES / "lockfiles" / "npm" / "react-boilerplate__react-boilerplate"
    tree = Tree.from_project(load_project(folder))
    location = "node_modules/fsevents/node_modules/minimist"
    asked: list[str] = []

    def packuments(name: str) -> dict[str, Any] | None:
        asked.append(name)
        return None

    planner = InPlacePlanner(tree, packuments, Safety([open_local_database(ADVISORIES)]))
    [outcome] = planner.run([location])
    assert (outcome.name, outcome.version, outcome.fixed) == ("minimist", "0.0.8", False)
    assert outcome.reason is Reason.BUNDLED
    assert outcome.detail == "bundled by fsevents@1.2.7"
    assert asked == []


def test_text_output_names_each_change_and_the_next_command(env, registry, capsys):
    folder = project(env, "parent-update")
    code = main(["fix", str(folder), "--compromised", "--db", str(ADVISORIES), "--registry", registry.url])
    out = capsys.readouterr().out
    assert code == 0
    assert "change minimist 0.0.8 => 1.2.8  node_modules/minimist" in out
    assert "change mkdirp 0.5.1 => 0.5.6  node_modules/mkdirp" in out
    assert "wrote package-lock.json; next: npm ci" in out


def test_the_api_plan_needs_no_registry_when_packuments_are_given(env):
    from npmaudit.fix.run import FixOptions, run_fix
    from npmaudit.settings import Settings

    documents = recorded_documents()
    folder = project(env, "older-safe")
    settings = Settings(cache_dir=env / "cache", local=True, db=ADVISORIES, project_dir=folder)
    result = run_fix(folder, settings, FixOptions(dry_run=True, packuments=MappingPackuments(documents)))
    assert [(c.name, c.old, c.new) for c in result.changes] == [
        ("boom", "5.3.3", "3.2.2"),
        ("cryptiles", "3.2.1", "3.0.2"),
    ]
    assert result.vulnerable_after == 0 and result.written == []
