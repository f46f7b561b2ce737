"""Find every project under a directory, for recursive audits (monorepos, many services in one repo)."""

from __future__ import annotations

import os
from pathlib import Path

from npmaudit.project.loader import LOCKFILE_KINDS

# Never descended into: installed trees (their lockfiles describe packages, not projects) and VCS data.
SKIPPED_DIRECTORIES = frozenset({"node_modules", ".git", ".hg", ".svn", ".yarn", ".pnpm-store"})

_TOP_LEVEL_LOCKFILES = frozenset(kind.filename for kind in LOCKFILE_KINDS if "/" not in kind.filename) - {
    "node_modules"
}


def find_projects(root: Path) -> list[Path]:
    """Directories under ``root`` (itself included) that hold a lockfile, sorted by path."""
    found = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_DIRECTORIES)
        if _TOP_LEVEL_LOCKFILES.intersection(files):
            found.append(Path(directory))
    return sorted(found)
