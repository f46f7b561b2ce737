"""Find a project's lockfile and read it with the right reader.

Each format's reader lives in its own module and exposes ``read(path: Path) -> Project``. The
table below is the only place that knows them all; readers are imported lazily so that a run pays
only for the format it reads (PyYAML, for instance, is not imported for package-lock files).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from npmaudit.errors import InputError
from npmaudit.project.model import Project


@dataclass(frozen=True)
class LockfileKind:
    filename: str  # the name the package manager writes, relative to the project directory
    module: str  # npmaudit.project.<module> with a read(path) -> Project


# In detection order: the first file present in the project directory is the one read.
# npm-shrinkwrap.json wins over package-lock.json as npm itself decides; the hidden lockfile
# in node_modules is the fallback npm uses when neither exists.
LOCKFILE_KINDS: tuple[LockfileKind, ...] = (
    LockfileKind("npm-shrinkwrap.json", "npm_lock"),
    LockfileKind("package-lock.json", "npm_lock"),
    LockfileKind("pnpm-lock.yaml", "pnpm_lock"),
    LockfileKind("yarn.lock", "yarn_lock"),
    LockfileKind("bun.lock", "bun_lock"),
    LockfileKind("npm.lock", "npmex_lock"),
    LockfileKind("node_modules/.package-lock.json", "npm_lock"),
    LockfileKind("node_modules", "node_modules"),
)


def reader_for(lockfile: Path) -> Callable[[Path], Project]:
    """The reader for a lockfile, chosen by its file name."""
    name = lockfile.name
    for kind in LOCKFILE_KINDS:
        if Path(kind.filename).name == name:
            module = importlib.import_module(f"npmaudit.project.{kind.module}")
            return module.read
    known = ", ".join(sorted({Path(kind.filename).name for kind in LOCKFILE_KINDS}))
    raise InputError(lockfile, f"not a lockfile npmaudit can read (known names: {known})")


def find_lockfile(directory: Path) -> Path:
    """The lockfile the project's package manager would use."""
    for kind in LOCKFILE_KINDS:
        candidate = directory / kind.filename
        if candidate.is_file() or (kind.module == "node_modules" and candidate.is_dir()):
            return candidate
    names = ", ".join(kind.filename for kind in LOCKFILE_KINDS)
    raise InputError(directory, f"no lockfile found (looked for {names})")


def load_project(path: Path, lockfile: Path | None = None) -> Project:
    """Read the project at ``path``: a project directory or a lockfile itself."""
    if lockfile is None:
        if path.is_dir():
            lockfile = find_lockfile(path)
        elif path.exists():
            lockfile = path
        else:
            raise InputError(path, "no such file or directory")
    elif not lockfile.exists():
        raise InputError(lockfile, "no such lockfile")
    return reader_for(lockfile)(lockfile)
