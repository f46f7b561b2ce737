"""The user's cache and data directories for npmaudit.

On Linux these are the XDG base directories, read here from the settings resolver's environment:
``$XDG_CACHE_HOME`` when it is an absolute path (the XDG rule: a relative one is ignored), else
``~/.cache``; ``$XDG_DATA_HOME`` likewise, else ``~/.local/share``; each with ``npmaudit`` appended,
which is what platformdirs answers there. Importing platformdirs costs a run about 5 ms (it loads
tempfile, shutil and urllib with it), more than the audit of a small project, so it is left to the
platforms and cases whose rules are not this simple (macOS, Windows, Android, a home directory that
is not an absolute path). ``tests/test_user_dirs.py`` holds the two to the same answers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

APP_NAME = "npmaudit"

_XDG = {"cache": ("XDG_CACHE_HOME", "~/.cache"), "data": ("XDG_DATA_HOME", "~/.local/share")}


def user_dir(kind: str, env: Mapping[str, str]) -> Path:
    """npmaudit's user ``kind`` directory: ``"cache"`` or ``"data"``."""
    if _plain_xdg(env):
        variable, fallback = _XDG[kind]
        base = env.get(variable, "")
        if not os.path.isabs(base):
            base = os.path.expanduser(fallback)
        if os.path.isabs(base):
            return Path(base) / APP_NAME
    import platformdirs

    found = platformdirs.user_cache_dir if kind == "cache" else platformdirs.user_data_dir
    return Path(found(APP_NAME, appauthor=False))


def _plain_xdg(env: Mapping[str, str]) -> bool:
    # platformdirs follows XDG on every platform but macOS and Windows, except Android (recognised by
    # these variables), whose app folders need its own lookup.
    return sys.platform not in ("darwin", "win32") and "ANDROID_DATA" not in env and "ANDROID_ROOT" not in env
