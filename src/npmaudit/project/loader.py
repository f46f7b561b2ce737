"""Find a project's lockfile and read it with the right reader.

Each format's reader lives in its own module and exposes ``read(path: Path) -> Project``. The
table below is the only place that knows them all; readers are imported lazily so that a run pays
only for the format it reads (PyYAML, for instance, is not imported for package-lock files).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from npmaudit.errors import InputError
from npmaudit.project.empty_lock import refuse_an_empty_lock
from npmaudit.project.manifest import read_manifest
from npmaudit.project.model import Project
from npmaudit.runtime_typing import NamedTuple


class LockfileKind(NamedTuple):  # named tuples: cheaper to create at import than dataclasses
    filename: str  # the name the package manager writes, relative to the project directory
    module: str  # npmaudit.project.readers.<module> with a read(path) -> Project


# In detection order: the first file present in the project directory is the one read.
# npm-shrinkwrap.json wins over package-lock.json as npm itself decides; the hidden lockfile
# in node_modules is the fallback npm uses when neither exists.
LOCKFILE_KINDS: tuple[LockfileKind, ...] = (
    LockfileKind("npm-shrinkwrap.json", "npm.lockfile"),
    LockfileKind("package-lock.json", "npm.lockfile"),
    LockfileKind("pnpm-lock.yaml", "pnpm.lockfile"),
    LockfileKind("yarn.lock", "yarn.lockfile"),
    LockfileKind("bun.lock", "bun.lockfile"),
    LockfileKind("npm.lock", "npmex.lockfile"),
    LockfileKind("node_modules/.package-lock.json", "npm.lockfile"),
    LockfileKind("node_modules", "node_modules.tree"),
)


def reader_for(lockfile: Path) -> Callable[[Path], Project]:
    """The reader for a lockfile, chosen by its file name."""
    name = lockfile.name
    for kind in LOCKFILE_KINDS:
        if Path(kind.filename).name == name:
            module = importlib.import_module(f"npmaudit.project.readers.{kind.module}")
            reader: Callable[[Path], Project] = module.read
            return reader
    known = ", ".join(sorted({Path(kind.filename).name for kind in LOCKFILE_KINDS}))
    raise InputError(lockfile, f"not a lockfile npmaudit can read (known names: {known})")


# The lockfiles each package manager writes, for projects that name theirs in package.json's
# "packageManager" field (corepack's convention): that manager's file wins over any other present.
PACKAGE_MANAGER_FILES = {
    "npm": ("npm-shrinkwrap.json", "package-lock.json", "node_modules/.package-lock.json"),
    "pnpm": ("pnpm-lock.yaml",),
    "yarn": ("yarn.lock",),
    "bun": ("bun.lock",),
}


class Detection(NamedTuple):
    lockfile: Path
    reason: str  # why this file, for the report
    others: tuple[Path, ...]  # other lockfiles present and not read


def _present(directory: Path) -> list[Path]:
    found = []
    for kind in LOCKFILE_KINDS:
        candidate = directory / kind.filename
        if candidate.is_file() or (kind.module == "node_modules.tree" and candidate.is_dir()):
            found.append(candidate)
    return found


def declared_package_manager(directory: Path) -> str | None:
    """The manager named by package.json's "packageManager" ("pnpm@9.1.0" -> "pnpm"), if any."""
    try:
        data = read_manifest(directory / "package.json")
    except InputError:
        return None  # a broken manifest is the lockfile reader's to report, not detection's
    value = data.get("packageManager") if data is not None else None
    if not isinstance(value, str):
        return None
    name = value.split("@", 1)[0].strip()
    return name if name in PACKAGE_MANAGER_FILES else None


def detect_lockfile(directory: Path) -> Detection:
    """The lockfile the project's package manager would use.

    The manager named in package.json's "packageManager" decides when its lockfile is present;
    otherwise the first present in LOCKFILE_KINDS order (npm's files first, an installed
    node_modules last). Other lockfiles present are reported, never silently ignored.
    """
    present = _present(directory)
    if not present:
        names = ", ".join(kind.filename for kind in LOCKFILE_KINDS)
        raise InputError(directory, f"no lockfile found (looked for {names})")
    manager = declared_package_manager(directory)
    if manager is not None:
        for filename in PACKAGE_MANAGER_FILES[manager]:
            candidate = directory / filename
            if candidate in present:
                others = tuple(p for p in present if p != candidate and not _is_install_of(p))
                return Detection(candidate, f'package.json names "{manager}" as its package manager', others)
    chosen = present[0]
    others = tuple(p for p in present[1:] if not _is_install_of(p))
    reason = "the only lockfile present" if not others else "first in npmaudit's detection order"
    return Detection(chosen, reason, others)


def _is_install_of(path: Path) -> bool:
    """node_modules and its hidden lockfile come with any install: not a competing lockfile."""
    return path.name == "node_modules" or path.parent.name == "node_modules"


def find_lockfile(directory: Path) -> Path:
    return detect_lockfile(directory).lockfile


def load_project(path: Path, lockfile: Path | None = None, *, allow_empty: bool = False) -> Project:
    """Read the project at ``path``: a project directory or a lockfile itself.

    Every command that answers from the project (audit, query, inventory add, fix, signatures)
    reads it here, so a lockfile that locks nothing for a project that declares dependencies is
    refused here once (:func:`npmaudit.project.empty_lock.refuse_an_empty_lock`). ``allow_empty``
    is for `verify`, whose own check (LV003) lists what such a lockfile lacks.
    """
    if lockfile is None:
        if path.is_dir():
            lockfile = find_lockfile(path)
        elif path.exists():
            lockfile = path
        else:
            raise InputError(path, "no such file or directory")
    elif not lockfile.exists():
        raise InputError(lockfile, "no such lockfile")
    if not (lockfile.is_file() or lockfile.is_dir()):
        # A device or a pipe under a lockfile's name (a link to /dev/zero, a FIFO) would be read
        # forever: no reader ever gets it.
        raise InputError(lockfile, "not a regular file")
    project = reader_for(lockfile)(lockfile)
    if not allow_empty:
        refuse_an_empty_lock(project)
    return project


def load_project_noting(path: Path, lockfile: Path | None = None) -> tuple[Project, list[str]]:
    """:func:`load_project`, and when the lockfile was detected in a directory that holds others,
    a note naming the one read, why, and the others (never silently ignored)."""
    notes: list[str] = []
    if lockfile is None and path.is_dir():
        detection = detect_lockfile(path)
        lockfile = detection.lockfile
        if detection.others:
            others = ", ".join(str(p) for p in detection.others)
            notes.append(f"read {lockfile} ({detection.reason}); also present, not read: {others}")
    return load_project(path, lockfile), notes
