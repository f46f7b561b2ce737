"""Query results as text or JSON (strings: the command line prints them).

A recursive scan, or an inventory, starts with the summary a responder reads first: how many
projects were looked into, how many are hit, and which packages were found in each (malicious
ones marked). Package names come from lockfiles, advisory text from third parties: both are
neutralised before they reach a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from npmaudit.inventory.results import ProjectHits, QueryResult
from npmaudit.report.safe_text import neutralise, safe_json_dumps

if TYPE_CHECKING:
    from npmaudit.inventory.ingest import AddReport
    from npmaudit.inventory.store import ProjectRecord

MAX_CHAIN_STEPS = 12


def render_text(result: QueryResult, *, summary: bool) -> str:
    lines: list[str] = []
    asked = ", ".join(result.specs)
    if summary:
        lines.extend(_summary(result))
        if result.projects:
            lines.append("")
    elif not result.projects:
        lines.append(f"No install matches {asked}.")
    several = len(result.specs) > 1
    for index, project in enumerate(result.projects):
        if index:
            lines.append("")
        lines.extend(_project_block(project, several))
    return neutralise_lines(lines)


def neutralise_lines(lines: list[str]) -> str:
    return "".join(neutralise(line) + "\n" for line in lines)


def _summary(result: QueryResult) -> list[str]:
    hit = len(result.projects)
    lines = [
        f"{_count(result.scanned, 'project')} scanned, {hit} hit, {_count(result.hits, 'install')} "
        f"matching {', '.join(result.specs)}"
        + (f"; {_count(len(result.failures), 'project')} could not be read" if result.failures else "")
    ]
    malicious = [project for project in result.projects if project.malicious_packages]
    if malicious:
        lines.append("Malicious packages found, by project:")
        lines.extend(f"  {project.location}: {', '.join(project.malicious_packages)}" for project in malicious)
    if result.projects:
        lines.append("Packages found, by project:")
        lines.extend(f"  {project.location}: {', '.join(project.packages)}" for project in result.projects)
    return lines


def _project_block(project: ProjectHits, several: bool) -> list[str]:
    labels = " ".join(f"{key}={value}" for key, value in sorted(project.labels.items()))
    lines = [f"{project.location} ({project.lockfile})" + (f"  [{labels}]" if labels else "")]
    for hit in project.hits:
        details = [hit.label, "/".join(hit.groups), hit.location]
        if hit.source != "registry":
            details.append(hit.source)
        head = "  " + "  ".join(details)
        if hit.advisories:
            head += f"  {', '.join(hit.advisories)}" + (" MALICIOUS" if hit.malicious else "")
        if several:
            head += f"  (matches {', '.join(hit.specs)})"
        lines.append(head)
        lines.append("    " + " > ".join(_cut(hit.chain)))
    return lines


def _cut(chain: tuple[str, ...]) -> tuple[str, ...]:
    if len(chain) <= MAX_CHAIN_STEPS:
        return chain
    keep = MAX_CHAIN_STEPS // 2
    return (*chain[:keep], f"... {len(chain) - 2 * keep} more ...", *chain[-keep:])


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def document(result: QueryResult) -> dict[str, Any]:
    return {
        "specs": list(result.specs),
        "summary": {
            "projectsScanned": result.scanned,
            "projectsHit": len(result.projects),
            "installs": result.hits,
            "projectsNotRead": len(result.failures),
            "packagesByProject": {project.location: list(project.packages) for project in result.projects},
            "maliciousByProject": {
                project.location: list(project.malicious_packages)
                for project in result.projects
                if project.malicious_packages
            },
        },
        "projects": [_project_json(project) for project in result.projects],
        "failures": [{"location": failure.location, "error": failure.message} for failure in result.failures],
    }


def _project_json(project: ProjectHits) -> dict[str, Any]:
    return {
        "location": project.location,
        "lockfile": project.lockfile,
        "labels": dict(project.labels),
        "matches": [
            {
                "name": hit.name,
                "version": hit.version,
                "path": hit.location,
                "groups": list(hit.groups),
                "source": hit.source,
                "chain": list(hit.chain),
                "specs": list(hit.specs),
                "advisories": list(hit.advisories),
                "malicious": hit.malicious,
            }
            for hit in project.hits
        ],
    }


def render_json(result: QueryResult) -> str:
    return safe_json_dumps(document(result)) + "\n"


# -- inventory add and list ----------------------------------------------------------------------


def add_document(inventory: str, report: AddReport) -> dict[str, Any]:
    """``inventory add --format json``: each project's status and package count, and the failures."""
    return {
        "inventory": inventory,
        "projects": [
            {"location": result.location, "status": result.status, "packages": result.packages}
            for result in report.added
        ],
        "failures": [{"location": failure.location, "error": failure.message} for failure in report.failures],
    }


def projects_document(inventory: str, records: Sequence[ProjectRecord]) -> dict[str, Any]:
    """``inventory list --format json``: every project with its lockfile, labels and last audit's counts."""
    return {
        "inventory": inventory,
        "projects": [
            {
                "location": r.location,
                "lockfile": r.lockfile,
                "lockfileFormat": r.lockfile_format,
                "lockfileSha256": r.lockfile_sha256,
                "labels": dict(r.labels),
                "packages": r.packages,
                "added": r.added,
                "updated": r.updated,
                "findings": r.findings,
                "malicious": r.malicious,
            }
            for r in records
        ],
    }


def projects_text(inventory: str, records: Sequence[ProjectRecord]) -> str:
    lines = [f"{projects_count(len(records))} in {inventory}"]
    for r in records:
        labels = " ".join(f"{k}={v}" for k, v in sorted(r.labels.items()))
        state = f", {r.findings} findings at the last audit" + (f" ({r.malicious} malicious)" if r.malicious else "")
        lines.append(
            f"{r.location}  {r.lockfile_format}, {r.packages} packages, updated {r.updated}"
            + (state if r.findings else "")
            + (f"  [{labels}]" if labels else "")
        )
    return neutralise_lines(lines)


def projects_count(count: int) -> str:
    """``1 project``, ``2 projects``."""
    return f"{count} project" if count == 1 else f"{count} projects"
