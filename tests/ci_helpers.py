"""Shared setup of the ignore and CI-format tests: the handmade project, its advisory database, a clean
environment, and the command line run as a user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, ONLINE, load_jsonl
from npmaudit.cli import main

HANDMADE = ONLINE / "projects" / "handmade"
# Every environment variable that would change a run (a test may itself run inside GitHub Actions).
SETTING_VARIABLES = (
    "NPMAUDIT_POLICY",
    "NPMAUDIT_AUDIT_LEVEL",
    "NPMAUDIT_DB",
    "NPMAUDIT_OFFLINE",
    "NPMAUDIT_STRICT_IGNORES",
    "NODE_ENV",
    "GITHUB_STEP_SUMMARY",
)


def clean_environment(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(cache))
    for name in SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def write_database(path: Path, *sources: Path) -> Path:
    """A JSON Lines advisory database made of real records (gzipped JSON Lines fixtures)."""
    records = [record for source in sources for record in load_jsonl(source)]
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def handmade_database(path: Path) -> Path:
    """The GitHub advisories and the malicious-package sample the handmade project is audited with."""
    return write_database(path, ONLINE / "npm-ghsa.jsonl.gz", ONLINE / "npm-malicious-sample.jsonl.gz")


def copy_handmade(tmp_path: Path) -> Path:
    target = tmp_path / "handmade"
    shutil.copytree(HANDMADE, target)
    return target


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def json_findings(out: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The findings of a `--format json` document by (package name, advisory id)."""
    return {(f["name"], f["id"]): f for f in json.loads(out)["findings"]}


SCHEMAS = FIXTURES / "schemas"
