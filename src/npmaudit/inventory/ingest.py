"""``inventory add``: read projects from disk and record them, a batch of projects per transaction.

A project is known by its location: its resolved directory, or what the caller names it (a CI
runner checks a repository out under a different path every time, so it passes the repository's
name). With ``-r`` every project under a directory is added, each under the location given plus
its relative path. A project that cannot be read is reported and the others are still added.
Projects are committed in batches (:meth:`~npmaudit.inventory.store.Inventory.add_many`): each is
recorded whole or not at all, and a failure of the inventory itself stops the command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from npmaudit.errors import EXIT_INPUT, EXIT_OK, InputError, NpmauditError, UsageError
from npmaudit.inventory.packages import file_sha256, package_set
from npmaudit.inventory.results import Failure
from npmaudit.inventory.store import AddResult, Inventory, ProjectEntry
from npmaudit.progress import Progress, no_progress
from npmaudit.project.loader import load_project
from npmaudit.records import record_class

BATCH_PROJECTS = 64  # projects committed together: each write of an index page serves many of them
BATCH_ROWS = 200_000  # ...but a batch of huge monorepos holds the write lock for a bounded time


@record_class(frozen=True)
class AddReport:
    added: tuple[AddResult, ...]
    failures: tuple[Failure, ...]

    @property
    def exit_code(self) -> int:
        """2 when a project could not be read (it is missing from the inventory), else 0."""
        return EXIT_INPUT if self.failures else EXIT_OK


def read_entry(path: Path, *, location: str | None = None, labels: Mapping[str, str] | None = None) -> ProjectEntry:
    """The project at ``path`` (a directory or a lockfile) as an inventory entry."""
    project = load_project(path)
    return ProjectEntry(
        location=location if location is not None else str(project.directory.resolve()),
        lockfile=str(project.lockfile.resolve()),
        lockfile_sha256=file_sha256(project.lockfile),
        packages=package_set(project),
        labels=dict(labels or {}),
    )


def add_paths(
    inventory: Inventory,
    paths: Sequence[Path],
    *,
    recursive: bool = False,
    location: str | None = None,
    labels: Mapping[str, str] | None = None,
    progress: Progress = no_progress,
) -> AddReport:
    """Add every project named (or, recursively, found under each path)."""
    targets = _targets(paths, recursive, location)
    added: list[AddResult] = []
    failures: list[Failure] = []
    batch: list[ProjectEntry] = []
    rows = 0
    for done, (path, name) in enumerate(targets):
        progress("inventory add", done, len(targets))
        try:
            entry = read_entry(path, location=name, labels=labels)
        except NpmauditError as error:
            failures.append(Failure(str(path), str(error)))
            continue
        batch.append(entry)
        rows += len(entry.packages.rows)
        if len(batch) >= BATCH_PROJECTS or rows >= BATCH_ROWS:
            added.extend(inventory.add_many(batch))
            batch, rows = [], 0
    if batch:
        added.extend(inventory.add_many(batch))
    progress("inventory add", len(targets), len(targets))
    return AddReport(tuple(added), tuple(failures))


def _targets(paths: Sequence[Path], recursive: bool, location: str | None) -> list[tuple[Path, str | None]]:
    if not paths:
        raise UsageError("give at least one PATH to add")
    if not recursive:
        if location is not None and len(paths) > 1:
            raise UsageError("--location names one project: give one PATH, or use -r")
        return [(path, location) for path in paths]
    from npmaudit.project.discover import find_projects

    if location is not None and len(paths) > 1:
        raise UsageError("--location names one tree: give one PATH with -r")
    targets: list[tuple[Path, str | None]] = []
    for root in paths:
        if not root.is_dir():
            raise InputError(root, "--recursive needs a directory")
        found = find_projects(root)
        if not found:
            raise InputError(root, "no project with a lockfile found under this directory")
        for directory in found:
            name = None
            if location is not None:
                relative = directory.relative_to(root).as_posix()
                name = location if relative == "." else f"{location.rstrip('/')}/{relative}"
            targets.append((directory, name))
    return targets


def known_locations(inventory: Inventory, texts: Sequence[str]) -> list[str]:
    """Each text as a recorded location: itself when recorded, else the directory (or a lockfile's
    directory) it names when that resolved path is recorded. An unknown text is kept as given, so
    :meth:`Inventory.remove` refuses it by name."""
    known = {record.location for record in inventory.projects()}
    return [_known_location(text, known) for text in texts]


def _known_location(text: str, known: set[str]) -> str:
    if text in known:
        return text
    path = Path(text).expanduser()
    if path.exists():
        resolved = str((path if path.is_dir() else path.parent).resolve())
        if resolved in known:
            return resolved
    return text
