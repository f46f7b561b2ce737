"""The public API's :func:`npmaudit.fix_project` gives what ``npmaudit fix`` prints and writes.

Real projects locked by npm, yarn and pnpm (tests/fixtures/fix/projects), the real advisories of
tests/fixtures/fix/advisories.jsonl, and a registry on 127.0.0.1 serving the recorded packuments.
The lockfile npmaudit writes in place is the one npm judged sound when the fixtures were recorded
(its sha256 is in tests/fixtures/fix/expected/).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import npmaudit
from conftest import FIXTURES
from fix_helpers import isolate_fix_environment, recorded_registry
from npmaudit.cli import main
from servers.registry_server import RegistryServer

FIX = FIXTURES / "fix"
ADVISORIES = FIX / "advisories.jsonl"


@pytest.fixture(scope="module")
def registry() -> Iterator[RegistryServer]:
    with recorded_registry() as server:
        yield server


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_fix_environment(tmp_path, monkeypatch)


def project(tmp_path: Path, name: str, copy: str) -> Path:
    target = tmp_path / copy / name
    shutil.copytree(FIX / "projects" / name, target)
    return target


def cli_fix(folder: Path, registry: RegistryServer, *extra: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["fix", str(folder), "--compromised", "--db", str(ADVISORIES), "--registry", registry.url, *extra])
    return code, out.getvalue()


def api_fix(folder: Path, registry: RegistryServer, **options: Any) -> npmaudit.FixResult:
    return npmaudit.fix_project(folder, db=ADVISORIES, sources=("local",), registry=registry.url, **options)


def files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def test_a_dry_run_plans_and_proves_without_writing(tmp_path: Path, registry: RegistryServer) -> None:
    folder = project(tmp_path, "older-safe", "a")
    before = files(folder)
    result = api_fix(folder, registry, dry_run=True)
    assert files(folder) == before and result.written == []
    code, out = cli_fix(folder, registry, "--dry-run", "--format", "json")
    assert npmaudit.render(result, "json") == out and result.exit_code == code
    _, text = cli_fix(folder, registry, "--dry-run")
    assert npmaudit.render(result) == text
    # What it would change, and the two verdicts: as the project stands (the command's exit code,
    # as npm's dry run) and after the planned change (the re-audit's).
    assert [(c.action.value, c.name, c.old, c.new) for c in result.changes] == [
        ("change", "boom", "5.3.3", "3.2.2"),
        ("change", "cryptiles", "3.2.1", "3.0.2"),
    ]
    assert (result.exit_code, result.reaudit_exit_code, result.vulnerable_after) == (1, 0, 0)


def test_a_fix_writes_what_the_cli_writes(tmp_path: Path, registry: RegistryServer) -> None:
    by_api, by_cli = project(tmp_path, "older-safe", "api"), project(tmp_path, "older-safe", "cli")
    result = api_fix(by_api, registry)
    code, out = cli_fix(by_cli, registry, "--format", "json")
    assert files(by_api) == files(by_cli) != files(FIX / "projects" / "older-safe")
    assert npmaudit.render(result, "json") == out.replace(str(by_cli), str(by_api))
    assert result.written == [str(by_api / "package-lock.json")]
    assert (result.exit_code, result.reaudit_exit_code) == (code, 0) == (0, 0)
    recorded = json.loads((FIX / "expected" / "older-safe.json").read_text())
    lockfile = (by_api / "package-lock.json").read_bytes()
    assert hashlib.sha256(lockfile).hexdigest() == recorded["npmaudit"]["lockfileSha256"]  # npm's accepted bytes


def test_an_override_fix_for_yarn(tmp_path: Path, registry: RegistryServer) -> None:
    by_api, by_cli = (
        project(tmp_path, "override-yarn-classic", "api"),
        project(tmp_path, "override-yarn-classic", "cli"),
    )
    result = api_fix(by_api, registry, level="high")
    code, out = cli_fix(by_cli, registry, "--audit-level", "high", "--format", "json")
    assert files(by_api) == files(by_cli)
    assert npmaudit.render(result, "json") == out.replace(str(by_cli), str(by_api))
    assert result.strategy == "override" and result.next_command == "yarn install"
    assert [(c.field, c.key, c.new) for c in result.manifest_changes] == [("resolutions", "mkdirp/minimist", "0.2.4")]
    assert json.loads((by_api / "package.json").read_text())["resolutions"] == {"mkdirp/minimist": "0.2.4"}
    assert result.exit_code == code


def test_fix_errors_are_raised(tmp_path: Path, registry: RegistryServer) -> None:
    folder = project(tmp_path, "older-safe", "a")
    with pytest.raises(npmaudit.UsageError, match="policy off"):
        api_fix(folder, registry, policy="off")
    with pytest.raises(npmaudit.UsageError, match="unknown level 'severe'"):
        api_fix(folder, registry, level="severe")
    with pytest.raises(npmaudit.UsageError, match="in-place strategy rewrites npm lockfiles only"):
        api_fix(project(tmp_path, "override-pnpm", "b"), registry, strategy="in-place")
    with pytest.raises(npmaudit.UsageError, match="registry must be an http"):
        npmaudit.fix_project(folder, db=ADVISORIES, sources=("local",), registry="ftp://example.test/")
    (folder / "package-lock.json").write_text("{")
    with pytest.raises(npmaudit.InputError) as caught:
        api_fix(folder, registry)
    assert caught.value.exit_code == 2 and "package-lock.json" in str(caught.value)
