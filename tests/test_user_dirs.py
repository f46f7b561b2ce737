"""npmaudit's user directories on Linux are platformdirs' answers, without importing platformdirs.

Each case runs platformdirs in a fresh interpreter with exactly the environment given to
``user_dir``, so the two read the same variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from npmaudit.cli.settings import cache_dir
from npmaudit.cli.user_dirs import user_dir

ASK_PLATFORMDIRS = """
import json, platformdirs
print(json.dumps([platformdirs.user_cache_dir("npmaudit", appauthor=False),
                  platformdirs.user_data_dir("npmaudit", appauthor=False)]))
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG rules are Linux's")


def platformdirs_answer(env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", ASK_PLATFORMDIRS], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    answer: list[str] = json.loads(done.stdout)
    return answer


@pytest.mark.parametrize(
    "xdg",
    [
        {},
        {"XDG_CACHE_HOME": "", "XDG_DATA_HOME": ""},
        {"XDG_CACHE_HOME": "   ", "XDG_DATA_HOME": "\t"},
        {"XDG_CACHE_HOME": "{tmp}/c", "XDG_DATA_HOME": "{tmp}/d"},
        {"XDG_CACHE_HOME": "relative/cache", "XDG_DATA_HOME": "~/data"},
        {"XDG_DATA_HOME": "{tmp}/only-data"},
    ],
)
def test_the_user_directories_are_platformdirs_answers(xdg: dict[str, str], tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("XDG_", "ANDROID_"))}
    env["HOME"] = str(tmp_path / "home")
    env.update({name: value.format(tmp=tmp_path) for name, value in xdg.items()})
    expected = platformdirs_answer(env)
    old_home = os.environ["HOME"]
    os.environ["HOME"] = env["HOME"]  # expanduser reads the process's HOME, as platformdirs does
    try:
        ours = [str(user_dir("cache", env)), str(user_dir("data", env))]
    finally:
        os.environ["HOME"] = old_home
    assert ours == expected


def test_npmaudit_cache_dir_overrides_the_platform(tmp_path: Path) -> None:
    mine = str(tmp_path / "mine")
    assert cache_dir({"NPMAUDIT_CACHE_DIR": mine, "XDG_CACHE_HOME": "/elsewhere"}) == tmp_path / "mine"
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path / "xdg")}) == tmp_path / "xdg" / "npmaudit"
