"""Read a ``yarn.lock``: yarn classic (v1) or yarn berry (v2 and later), told apart by content.

Berry lockfiles are YAML with a ``__metadata`` entry; classic ones are yarn's own line format. Both
are read into one intermediate graph (yarn_tree.LockGraph) and turned into npm-shaped nodes there,
so the two formats share locations, edges and dependency groups.
"""

from __future__ import annotations

import re
from pathlib import Path

from npmaudit import textfile
from npmaudit.errors import InputError
from npmaudit.project.model import Project
from npmaudit.project.readers.yarn.tree import build_project

# Berry writes ``__metadata:`` as the first key; a classic file never has a top-level key of that name.
_BERRY = re.compile(r'^"?__metadata"?:', re.MULTILINE)


def read(path: Path) -> Project:
    """Parse the yarn.lock at ``path`` (with the package.json files beside it) into a Project."""
    text = _read_text(path)
    if not text or text.isspace():  # not text.strip(): no copy of the whole text
        raise InputError(path, "empty lockfile")
    # Each format's reader is imported when a lockfile needs it: a run pays for one of them.
    if _BERRY.search(text):
        from npmaudit.project.readers.yarn import berry

        lockfile_format, graph = berry.read_graph(text, path)
    else:
        from npmaudit.project.readers.yarn import classic

        lockfile_format, graph = classic.FORMAT, classic.read_graph(text, path)
    return build_project(path.parent, path, lockfile_format, graph)


def _read_text(path: Path) -> str:
    data = textfile.read_bytes(path, "lockfile")
    if b"\x00" in data:
        raise InputError(path, "binary data, not a yarn.lock")
    return textfile.decode(path, data)
