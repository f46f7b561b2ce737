"""Which lockfile folder entries are workspace members, as npm's map-workspaces decides it.

npm matches the root's ``workspaces`` globs against the ``packages`` keys of the lockfile
(``mapWorkspaces.virtual``) with minimatch; negated patterns (``!packages/old``) remove matches and
anything under a ``node_modules`` folder never counts. The globs here are the subset workspaces use
in practice: ``*``, ``**``, ``?``, ``[...]`` and ``{a,b}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache


def workspace_patterns(declared: object) -> tuple[list[str], list[str]]:
    """(patterns, negated patterns) from a ``workspaces`` field (a list or ``{"packages": [...]}``)."""
    if isinstance(declared, Mapping):
        declared = declared.get("packages", [])
    if not isinstance(declared, list):
        return [], []
    patterns: list[str] = []
    negated: list[str] = []
    for raw in declared:
        if not isinstance(raw, str):
            continue
        bangs = len(raw) - len(raw.lstrip("!"))
        pattern = re.sub(r"^\.?/+", "", raw[bangs:])
        if bangs % 2 == 1:
            negated.append(pattern)
        else:
            # A later positive pattern revives what an earlier negation removed.
            negated = [n for n in negated if not glob_match(pattern, n)]
            patterns.append(pattern)
    for pattern in list(negated):
        patterns = [p for p in patterns if not glob_match(p, pattern)]
    return patterns, negated


def map_workspaces(declared: object, folders: Iterable[str], name_of: Callable[[str], str]) -> dict[str, str]:
    """Workspace name -> folder location, for the folder entries matching ``declared``.

    ``folders`` are the lockfile's package keys; ``name_of(folder)`` gives a folder's package name. When
    two folders claim one name the later one wins, as the Map npm builds does.
    """
    patterns, negated = workspace_patterns(declared)
    if not patterns:
        return {}
    negated = [*negated, "**/node_modules/**"]
    candidates = [f for f in folders if not any(glob_match(f, n) for n in negated)]
    found: dict[str, str] = {}  # folder -> name, in pattern order
    for pattern in patterns:
        for folder in candidates:
            if glob_match(folder, pattern):
                found[folder] = name_of(folder)
    return {name: folder for folder, name in found.items()}


def glob_match(path: str, pattern: str) -> bool:
    return _compile(pattern).fullmatch(path) is not None


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    parts = []
    segments = pattern.strip("/").split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            # zero or more whole folders; dot folders are not matched, as minimatch's default
            parts.append("(?:(?!\\.)[^/]*(?:/|$))*" if last else "(?:(?!\\.)[^/]*/)*")
            continue
        parts.append(_segment(segment) + ("" if last else "/"))
    return re.compile("".join(parts))


def _segment(segment: str) -> str:
    out = "" if segment.startswith(".") else "(?!\\.)"
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = segment.find("]", i + 1)
            if end == -1:
                out += "\\["
            else:
                body = segment[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out += f"[{body}]"
                i = end
        elif char == "{":
            end = segment.find("}", i + 1)
            if end == -1:
                out += "\\{"
            else:
                options = segment[i + 1 : end].split(",")
                out += "(?:" + "|".join(_segment(o).removeprefix("(?!\\.)") for o in options) + ")"
                i = end
        else:
            out += re.escape(char)
        i += 1
    return out
