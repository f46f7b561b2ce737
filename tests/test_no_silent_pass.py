"""Commands that answer over the advisory database must not answer "nothing found" over a database
that cannot be one: `inventory audit` against a missing, never filled or empty database is an input
error (exit 2) naming it, before any project is re-evaluated. (The same rule for `audit`, `query` and
`serve` is in tests/test_sources.py, tests/test_query.py and tests/test_serve.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, isolate_environment
from npmaudit.advisories.store import AdvisoryStore
from npmaudit.cli import main

PROJECT = FIXTURES / "npm_refused_packument" / "project"


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
