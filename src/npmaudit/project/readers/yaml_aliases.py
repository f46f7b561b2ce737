"""Refusing YAML anchors and aliases in lockfiles.

pnpm and yarn berry never write anchors (``&a``) or aliases (``*a``) into their lockfiles. A
stranger's lockfile can: an alias makes one mapping appear in many places, and aliases of aliases
make a 427 KB file describe billions of entries (PyYAML loads them as shared objects in no time;
the reader walking them took 98 s and 2.4 GB). So a lockfile whose loaded data reaches one
mapping or list twice is refused with the line of its first alias.

The check after loading costs one pass over the containers, and none at all for the common file
without a ``&`` (no anchor, so no alias). Aliases of plain strings multiply nothing and pass.
"""

from __future__ import annotations

from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.errors import InputError

if TYPE_CHECKING:
    from typing import Any

PROBLEM = "YAML anchors and aliases are not allowed in a lockfile (package managers never write them)"


def refuse_aliases(path: Path, text: str, data: object, loader: Any) -> None:
    """Raise an InputError at the first alias when ``data`` (loaded from ``text``) shares a container."""
    if "&" not in text or not _shares_a_container(data):
        return
    raise InputError(path, PROBLEM, _first_alias_line(text, loader))


def _shares_a_container(data: object) -> bool:
    seen: set[int] = set()
    pending = [data]
    while pending:
        item = pending.pop()
        if not isinstance(item, dict | list):
            continue  # keys are never containers: PyYAML refuses unhashable keys
        if id(item) in seen:
            return True
        seen.add(id(item))
        pending.extend(item.values() if isinstance(item, dict) else item)
    return False


def _first_alias_line(text: str, loader: Any) -> int | None:
    """The 1-based line of the first alias event (the slow path, taken only to name the line)."""
    import yaml  # PyYAML's data came with PyYAML imported: no cost here

    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) and event.start_mark is not None:
                return int(event.start_mark.line) + 1
    except yaml.YAMLError:
        return None
    return None
