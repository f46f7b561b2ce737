"""`npmaudit fix` on every npm lockfile of the corpus (lockfile v1, v2, v3, npm-shrinkwrap.json), with
the real advisories of tests/fixtures/npm_oracle/advisories/real.jsonl and a registry on 127.0.0.1
serving the packuments recorded for these plans (tests/fixtures/fix/packuments.json.gz).

The expectations (tests/fixtures/fix/expected/<stem>.json, tests/oracle/record_fix.py) hold npm's
own verdict on the very lockfile npmaudit writes (sha256): `npm ls --all --package-lock-only` and
`npm ci --dry-run`, and what `npm audit fix --package-lock-only` left on the same project and
advisories. npmaudit must leave no more vulnerable packages than npm (counted per name, as npm's
report counts them), fix every package npm fixed, and break no dependency edge.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES
from fix_helpers import recorded_registry
from npmaudit.fix.run import run_fix
from npmaudit.settings import Settings

FIX = FIXTURES / "fix"
CORPUS = FIXTURES / "lockfiles" / "npm"
REAL = FIXTURES / "npm_oracle" / "advisories" / "real.jsonl"
STEMS = sorted(
    path.stem for path in (FIX / "expected").glob("*.json") if (CORPUS / path.stem / "package.json").is_file()
)


@pytest.fixture(scope="module")
def registry():
    with recorded_registry() as server:
        yield server


def lockfile(folder: Path) -> Path:
    shrinkwrap = folder / "npm-shrinkwrap.json"
    return shrinkwrap if shrinkwrap.is_file() else folder / "package-lock.json"


def npm_accepted(verdict: dict[str, Any], original: dict[str, Any]) -> bool:
    """npm found no problem, or exactly the problems it found in the original lockfile."""
    ls_ok = verdict["lsExit"] == 0 or verdict["lsProblems"] == original["lsProblems"]
    ci_ok = verdict["ciDryRunExit"] == 0 or verdict["ciDryRunExit"] == original["ciDryRunExit"]
    return ls_ok and ci_ok


def test_every_npm_lockfile_of_the_corpus_is_recorded():
    assert len(STEMS) == 14


@pytest.mark.parametrize("stem", STEMS)
def test_fix_is_accepted_by_npm_and_at_least_as_good_as_npm_audit_fix(stem, registry, tmp_path):
    recorded = json.loads((FIX / "expected" / f"{stem}.json").read_text())
    folder = tmp_path / stem
    shutil.copytree(CORPUS / stem, folder, ignore=shutil.ignore_patterns("expected"))
    original = lockfile(folder).read_bytes()
    settings = Settings(
        cache_dir=tmp_path / "cache", local=True, db=REAL, registry=registry.url, project_dir=folder.resolve()
    )
    result = run_fix(folder, settings)

    written = lockfile(folder).read_bytes()
    assert hashlib.sha256(written).hexdigest() == recorded["npmaudit"]["lockfileSha256"], (
        "the fixed lockfile is not the one npm judged: re-run tests/oracle/record_fix.py"
    )
    assert npm_accepted(recorded["npmVerdict"], recorded["npmVerdictOriginal"])
    assert (written != original) == bool(result.changes)

    npm = recorded["npmAuditFix"]
    remaining = {item.name for item in result.remaining}
    assert result.vulnerable_before == recorded["npmaudit"]["vulnerableBefore"]
    assert result.vulnerable_after == len(remaining) <= npm["vulnerableAfter"]
    assert not set(npm["fixed"]) & remaining, "every package npm fixed is fixed"
    assert result.introduced == [] and result.dropped == []
    assert result.tree_problems_after <= result.tree_problems_before
    for item in result.remaining:
        assert item.reason is not None, f"{item.name}@{item.version} left without a reason"
