"""Which lockfile folder entries are workspace members, as npm's map-workspaces decides it.

npm matches the root's ``workspaces`` globs against the ``packages`` keys of the lockfile
(``mapWorkspaces.virtual``) with minimatch; negated patterns (``!packages/old``) remove matches and
anything under a ``node_modules`` folder never counts. :mod:`npmaudit.project.globs` matches them as
minimatch does, in time linear in the pattern and the folder name (they come from the lockfile).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from npmaudit.project.globs import compile_glob

# Matches that need more than a look-up, per project: far above real monorepos (tens of patterns,
# hundreds of folders), far below what would take a second. A lockfile past it is refused at once.
MAX_GLOB_MATCHES = 250_000


class TooManyWorkspaceGlobs(ValueError):
    """The ``workspaces`` patterns times the folders are more matches than npmaudit makes."""


def workspace_patterns(declared: object) -> tuple[list[str], list[str]]:
    """(patterns, negated patterns) from a ``workspaces`` field (a list or ``{"packages": [...]}``)."""
    if isinstance(declared, Mapping):
        declared = declared.get("packages", [])
    if not isinstance(declared, list):
        return [], []
    raw_patterns = [raw for raw in declared if isinstance(raw, str)]
    negations = sum((len(raw) - len(raw.lstrip("!"))) % 2 for raw in raw_patterns)
    _check_work(2 * negations * (len(raw_patterns) - negations), len(raw_patterns), "patterns")
    patterns: list[str] = []
    negated: list[str] = []
    for raw in raw_patterns:
        bangs = len(raw) - len(raw.lstrip("!"))
        pattern = re.sub(r"^\.?/+", "", raw[bangs:])
        if bangs % 2 == 1:
            negated.append(pattern)
        else:
            # A later positive pattern revives what an earlier negation removed.
            negated = [n for n in negated if not compile_glob(n).match(pattern)]
            patterns.append(pattern)
    for pattern in list(negated):
        negation = compile_glob(pattern)
        patterns = [p for p in patterns if not negation.match(p)]
    return patterns, negated


def map_workspaces(declared: object, folders: Iterable[str], name_of: Callable[[str], str]) -> dict[str, str]:
    """Workspace name -> folder location, for the folder entries matching ``declared``.

    ``folders`` are the lockfile's package keys; ``name_of(folder)`` gives a folder's package name. When
    two folders claim one name the later one wins, as the Map npm builds does. Raises
    :class:`TooManyWorkspaceGlobs` before matching when the work would pass ``MAX_GLOB_MATCHES``.
    """
    patterns, negated = workspace_patterns(declared)
    if not patterns:
        return {}
    folders = list(folders)
    exclusions = [compile_glob(n) for n in [*negated, "**/node_modules/**"]]
    inclusions = [compile_glob(p) for p in patterns]
    _check_work(len(folders) * sum(glob.magic for glob in exclusions), len(negated), "negated patterns")
    candidates = [f for f in folders if not any(glob.match(f) for glob in exclusions)]
    _check_work(len(candidates) * sum(glob.magic for glob in inclusions), len(patterns), "patterns")
    found: dict[str, str] = {}  # folder -> name, in pattern order
    for glob in inclusions:
        for folder in candidates:
            if glob.match(folder):
                found[folder] = name_of(folder)
    return {name: folder for folder, name in found.items()}


def _check_work(matches: int, count: int, what: str) -> None:
    if matches > MAX_GLOB_MATCHES:
        raise TooManyWorkspaceGlobs(
            f'"workspaces": {count:,} {what} against these folders would take more than {MAX_GLOB_MATCHES:,} '
            "glob matches"
        )
