"""``npmrc.which`` finds node and npm exactly where ``shutil.which`` does (it exists so an audit need
not import shutil): the same answer for every PATH shape, on real files with real modes."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from npmaudit.npmrc import which

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Windows keeps shutil's lookup")


def layout(root: Path) -> dict[str, Path]:
    """Folders holding: an executable npm, a non-executable npm, a directory named npm, a link to npm."""
    folders = {name: root / name for name in ("exe", "plain", "dir", "link", "empty")}
    for folder in folders.values():
        folder.mkdir()
    (folders["exe"] / "npm").write_text("#!/bin/sh\n")
    (folders["exe"] / "npm").chmod(0o755)
    (folders["plain"] / "npm").write_text("not executable\n")
    (folders["plain"] / "npm").chmod(0o644)
    (folders["dir"] / "npm").mkdir()
    (folders["link"] / "npm").symlink_to(folders["exe"] / "npm")
    (folders["link"] / "node").symlink_to(root / "nowhere")  # a dangling link is not found
    return folders


def test_which_answers_as_shutil_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = layout(tmp_path)
    monkeypatch.chdir(folders["exe"])  # for PATH entries that mean the working directory
    d = {name: str(folder) for name, folder in folders.items()}
    paths = [
        "",
        os.pathsep,
        d["exe"],
        os.pathsep.join([d["dir"], d["plain"], d["exe"]]),
        os.pathsep.join([d["empty"], d["link"], d["exe"]]),
        os.pathsep.join([d["plain"], d["plain"], d["dir"]]),
        os.pathsep.join(["", d["empty"]]),
        os.pathsep.join([d["empty"], "relative-nowhere", "."]),
    ]
    programs = ["npm", "node", "missing", str(folders["exe"] / "npm"), str(folders["plain"] / "npm"), "./npm"]
    compared = 0
    for search in paths:
        for program in programs:
            assert which(program, {"PATH": search}) == shutil.which(program, path=search), (program, search)
            compared += 1
    assert compared == len(paths) * len(programs)
    assert which("npm", {"PATH": d["exe"]}) == str(folders["exe"] / "npm")  # the comparison found something


def test_without_path_in_the_environment_the_system_default_is_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ``env`` is the whole environment the settings resolver read: no PATH there means none at all,
    # and shutil then searches the system's default; the process's own PATH is not consulted.
    folders = layout(tmp_path)
    monkeypatch.setenv("PATH", str(folders["exe"]))
    assert which("npm", {"PATH": str(folders["exe"])}) == str(folders["exe"] / "npm")
    monkeypatch.delenv("PATH")
    found = shutil.which("sh")  # in the system's default PATH of every POSIX system
    assert found is not None and which("sh", {}) == found
    assert which("npm", {}) == shutil.which("npm")
