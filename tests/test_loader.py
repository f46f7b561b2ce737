"""Which lockfile a project directory is read from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npmaudit.errors import InputError
from npmaudit.project.loader import detect_lockfile, reader_for


def _touch(directory: Path, *names: str) -> None:
    for name in names:
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")


def test_shrinkwrap_wins_over_package_lock(tmp_path: Path):
    _touch(tmp_path, "package-lock.json", "npm-shrinkwrap.json")
    detection = detect_lockfile(tmp_path)
    assert detection.lockfile == tmp_path / "npm-shrinkwrap.json"
    assert detection.others == (tmp_path / "package-lock.json",)


def test_hidden_lockfile_when_no_other_exists(tmp_path: Path):
    _touch(tmp_path, "node_modules/.package-lock.json")
    assert detect_lockfile(tmp_path).lockfile == tmp_path / "node_modules" / ".package-lock.json"


def test_package_manager_field_decides_between_lockfiles(tmp_path: Path):
    _touch(tmp_path, "package-lock.json", "pnpm-lock.yaml", "yarn.lock")
    (tmp_path / "package.json").write_text(json.dumps({"packageManager": "yarn@4.1.0"}))
    detection = detect_lockfile(tmp_path)
    assert detection.lockfile == tmp_path / "yarn.lock"
    assert "yarn" in detection.reason
    assert set(detection.others) == {tmp_path / "package-lock.json", tmp_path / "pnpm-lock.yaml"}


def test_package_manager_without_its_lockfile_falls_back_to_the_order(tmp_path: Path):
    _touch(tmp_path, "pnpm-lock.yaml")
    (tmp_path / "package.json").write_text(json.dumps({"packageManager": "yarn@1.22.0"}))
    assert detect_lockfile(tmp_path).lockfile == tmp_path / "pnpm-lock.yaml"


def test_an_installed_tree_is_not_a_competing_lockfile(tmp_path: Path):
    _touch(tmp_path, "package-lock.json", "node_modules/.package-lock.json")
    detection = detect_lockfile(tmp_path)
    assert detection.lockfile == tmp_path / "package-lock.json"
    assert detection.others == ()


def test_no_lockfile_is_a_clear_error(tmp_path: Path):
    with pytest.raises(InputError, match="no lockfile found"):
        detect_lockfile(tmp_path)


def test_an_unknown_file_name_is_refused(tmp_path: Path):
    with pytest.raises(InputError, match="not a lockfile npmaudit can read"):
        reader_for(tmp_path / "Gemfile.lock")
