"""Which lockfile folder entries are workspace members, as npm's map-workspaces decides it.

npm matches the root's ``workspaces`` globs against the ``packages`` keys of the lockfile
(``mapWorkspaces.virtual``) with minimatch; negated patterns (``!packages/old``) remove matches and
anything under a ``node_modules`` folder never counts. :mod:`npmaudit.project.globs` matches them as
minimatch does, in time linear in the pattern and the folder name (they come from the lockfile).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from npmaudit import TYPE_CHECKING

if TYPE_CHECKING:
    from npmaudit.project.globs import Glob

# Pattern matches (brace expansions that need more than a look-up, times folders) per project: far
# above real monorepos (tens of patterns, hundreds of folders), below what takes a second or two.
# A lockfile past it is refused before any matching.
MAX_GLOB_MATCHES = 250_000

# npm never counts a folder under node_modules as a workspace, whatever the patterns say.
IN_NODE_MODULES = "**/node_modules/**"


class TooManyWorkspaceGlobs(ValueError):
    """The ``workspaces`` patterns times the folders are more matches than npmaudit makes, or one
    pattern's braces expand past the budget of :mod:`npmaudit.project.globs`."""


def _compile(pattern: str) -> Glob:
    # Imported here: only a project that declares workspaces matches globs (most declare none).
    from npmaudit.project.globs import GlobTooComplex, compile_glob

    try:
        return compile_glob(pattern)
    except GlobTooComplex as error:
        raise TooManyWorkspaceGlobs(f'"workspaces": {error}') from None


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
            negated = [n for n in negated if not _compile(n).match(pattern)]
            patterns.append(pattern)
    for pattern in list(negated):
        negation = _compile(pattern)
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
    exclusions = [_compile(n) for n in negated]
    inclusions = [_compile(p) for p in patterns]
    work = len(folders) * (sum(glob.cost for glob in exclusions) + _compile(IN_NODE_MODULES).cost)
    _check_work(work, len(negated), "negated patterns")
    # "node_modules/..." without a hidden name is in node_modules (in_node_modules's rule, read off
    # the text): most of a lockfile's folders are decided without a call.
    candidates = [
        f
        for f in folders
        if not (f.startswith("node_modules/") and "/." not in f)
        and not in_node_modules(f)
        and not any(glob.match(f) for glob in exclusions)
    ]
    _check_work(len(candidates) * sum(glob.cost for glob in inclusions), len(patterns), "patterns")
    found: dict[str, str] = {}  # folder -> name, in pattern order
    for glob in inclusions:
        for folder in candidates:
            if glob.match(folder):
                found[folder] = name_of(folder)
    return {name: folder for folder, name in found.items()}


def in_node_modules(folder: str) -> bool:
    """``IN_NODE_MODULES`` matched against ``folder`` as :mod:`npmaudit.project.globs` matches it,
    without the general matcher: every folder of a lockfile is tested, most of them under
    ``node_modules``. Its first ``**`` and its last (which swallows one name at least) cross no
    name starting with a dot, so it is "a ``node_modules`` before the last name, and no hidden name"
    (``tests/test_globs.py`` holds the two to the same verdicts)."""
    names = folder.split("/") if "//" not in folder else re.split(r"/+", folder)
    return "node_modules" in names[:-1] and not any(name.startswith(".") for name in names)


def _check_work(matches: int, count: int, what: str) -> None:
    if matches > MAX_GLOB_MATCHES:
        raise TooManyWorkspaceGlobs(
            f'"workspaces": {count:,} {what} against these folders would take more than {MAX_GLOB_MATCHES:,} '
            "glob matches"
        )
