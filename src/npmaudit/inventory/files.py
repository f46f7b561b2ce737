"""``npmaudit query``: answer a query from lockfiles on disk, no inventory needed.

One project (a directory or a lockfile) or, recursively, every project under a directory, found
as ``audit -r`` finds them (:func:`npmaudit.project.discover.find_projects`). A project that cannot
be read is recorded as a failure and the scan goes on, so one broken lockfile does not hide the
others; the result's exit code still says the answer is incomplete.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from npmaudit.errors import InputError, NpmauditError
from npmaudit.inventory.packages import chain_labels as row_chain
from npmaudit.inventory.packages import is_published, package_set, rows_by_node
from npmaudit.inventory.results import Failure, Hit, ProjectHits, QueryResult, match_specs, spec_notes
from npmaudit.inventory.spec import Spec
from npmaudit.progress import Progress, no_progress
from npmaudit.project.loader import load_project, load_project_noting
from npmaudit.project.model import Project


def query_path(
    path: Path,
    specs: Sequence[Spec],
    *,
    recursive: bool = False,
    lockfile: Path | None = None,
    progress: Progress = no_progress,
) -> QueryResult:
    """Every install of a package the specs match, in the project at ``path`` or every project under it."""
    texts = tuple(spec.text for spec in specs)
    notes = list(spec_notes(specs))
    if not recursive:
        project, read_notes = load_project_noting(path, lockfile)
        notes.extend(read_notes)
        hit = project_hits(project, specs)
        return QueryResult(texts, 1, (hit,) if hit else (), messages=tuple(notes))
    from npmaudit.project.discover import find_projects

    if not path.is_dir():
        raise InputError(path, "--recursive needs a directory")
    directories = find_projects(path)
    if not directories:
        raise InputError(path, "no project with a lockfile found under this directory")
    projects: list[ProjectHits] = []
    failures: list[Failure] = []
    for done, directory in enumerate(directories):
        progress("query", done, len(directories))
        try:
            hit = project_hits(load_project(directory), specs)
        except NpmauditError as error:
            failures.append(Failure(str(directory), str(error)))
            continue
        if hit is not None:
            projects.append(hit)
    progress("query", len(directories), len(directories))
    return QueryResult(texts, len(directories), tuple(projects), tuple(failures), tuple(notes), recursive=True)


def project_hits(project: Project, specs: Sequence[Spec]) -> ProjectHits | None:
    """The project's installs that the specs match, with their chains; None when nothing matches."""
    names = set().union(*(spec.names for spec in specs))
    candidates = [node for node in project.packages() if node.name in names and is_published(node)]
    matched = [(node, match) for node in candidates if (match := match_specs(specs, node.name, node.version))]
    if not matched:
        return None
    rows = package_set(project).rows
    by_location = {row.location: row for row in rows}
    by_node = rows_by_node(rows)
    hits = []
    for node, (texts, advisories, malicious) in sorted(matched, key=lambda item: item[0].location):
        row = by_location[node.location]
        hits.append(
            Hit(
                name=node.name,
                version=node.version,
                location=node.location,
                source=row.source,
                flags=row.flags,
                chain=row_chain(by_node, row.node),
                specs=texts,
                advisories=advisories,
                malicious=malicious,
            )
        )
    return ProjectHits(str(project.directory), project.lockfile.name, tuple(hits))
