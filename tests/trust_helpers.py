"""Shared by the verify and signatures tests: real corpus lockfiles copied into a project folder."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from npmaudit.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "lockfiles"
TRUST = FIXTURES / "trust"
REGISTRY = "https://registry.npmjs.test/"
LOCKFILE_NAMES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock", "npm.lock")


def corpus_cases() -> list[tuple[Path, Path | None]]:
    """(lockfile, package.json or None) for every real lockfile of the corpus."""
    cases = []
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or {"expected", "edge-cases", "edge", "hand", "v0"} & set(path.parts):
            continue
        name = path.name.removesuffix(".gz").split("__")[-1]
        if name not in LOCKFILE_NAMES:
            continue
        if "__" in path.name:
            manifest = path.parent / (path.name.rsplit("__", 1)[0] + "__package.json")
        else:
            manifest = path.parent / "package.json"
        cases.append((path, manifest if manifest.is_file() else None))
    return cases


def copy_project(
    directory: Path, lockfile: Path, manifest: Path | None = None, registry: str = REGISTRY, name: str | None = None
) -> Path:
    """A project folder holding ``lockfile`` under its real name (gunzipped; or ``name``), its package.json
    and an .npmrc naming the test registry; returns the lockfile's new path."""
    directory.mkdir(parents=True, exist_ok=True)
    name = name or lockfile.name.removesuffix(".gz").split("__")[-1]
    target = directory / name
    if lockfile.suffix == ".gz":
        target.write_bytes(gzip.decompress(lockfile.read_bytes()))
    else:
        shutil.copyfile(lockfile, target)
    if manifest is not None:
        shutil.copyfile(manifest, directory / "package.json")
    (directory / ".npmrc").write_text(f"registry={registry}\n")
    return target


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No npm configuration from the machine running the tests."""
    import os

    for name in list(os.environ):
        if name.lower().startswith(("npm_config_", "npmaudit_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}
