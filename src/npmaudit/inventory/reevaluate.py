"""``inventory audit``: match every inventoried project against the advisory database, record the
result, and say what changed since the last run.

The matching is the audit's own (:func:`npmaudit.auditing.engine.audit`), run once over the
fleet's distinct published (name, version) pairs rather than once per project: a package version
installed by 3,000 projects is tested once. Each project's findings are then its installs of the
affected versions. The previous run's findings are kept in the inventory; a project whose set of
(advisory, package, version) changed is reported as newly affected (something new matches),
newly clean (nothing matches any more) or less affected (some findings went, others remain).
Recording a run is one transaction, and one run records at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from npmaudit.advisories.source import AdvisorySource
from npmaudit.auditing.engine import audit
from npmaudit.errors import EXIT_FINDINGS, EXIT_OK, InputError
from npmaudit.inventory.backends import AUDIT_LOCK, buckets, chunks, marks
from npmaudit.inventory.packages import PUBLISHED_SOURCES
from npmaudit.inventory.render import neutralise_lines, projects_count
from npmaudit.inventory.store import EMPTY, Inventory, parse_labels, utc_now
from npmaudit.project.model import Node, Project, SourceKind
from npmaudit.records import record_class

_PUBLISHED = tuple(sorted(PUBLISHED_SOURCES))
ChangeStatus = Literal["newly-affected", "newly-clean", "less-affected"]


@record_class(frozen=True, order=True)
class InventoryFinding:
    advisory: str  # the primary id of the advisory (its group's, as the audit reports it)
    name: str
    version: str
    malicious: bool
    severity: str
    summary: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.advisory, self.name, self.version)

    def to_json(self) -> dict[str, Any]:
        return {
            "advisory": self.advisory,
            "name": self.name,
            "version": self.version,
            "malicious": self.malicious,
            "severity": self.severity,
            "summary": self.summary,
        }


@record_class(frozen=True)
class AffectedProject:
    location: str
    labels: Mapping[str, str]
    findings: tuple[InventoryFinding, ...]


@record_class(frozen=True)
class ProjectChange:
    location: str
    labels: Mapping[str, str]
    status: ChangeStatus
    added: tuple[InventoryFinding, ...]
    removed: tuple[InventoryFinding, ...]


@record_class(frozen=True)
class AuditRun:
    inventory: str
    database: str
    records: int | None
    finished: str
    previous: str | None  # when the run compared with finished; None for the first run
    projects: int
    affected: tuple[AffectedProject, ...]
    changes: tuple[ProjectChange, ...]
    unchecked: tuple[str, ...] = ()  # name@version installed somewhere and not checked (allowed by the caller)
    messages: tuple[str, ...] = ()  # about the advisory database: older than a week, records it refused

    def exit_code(self, *, changed_only: bool) -> int:
        if changed_only:
            return EXIT_FINDINGS if any(change.added for change in self.changes) else EXIT_OK
        return EXIT_FINDINGS if self.affected else EXIT_OK


def reevaluate(
    inventory: Inventory, source: AdvisorySource, *, allow_unchecked: bool = False, now: str | None = None
) -> AuditRun:
    """Match, record, compare. A published version that cannot be read fails the run (exit 2), as in
    ``audit``, unless ``allow_unchecked``: then it is named in :attr:`AuditRun.unchecked`."""
    db = inventory.backend
    with db.transaction(write=False):
        if not db.execute("SELECT 1 FROM projects LIMIT 1"):
            raise InputError(inventory.location, EMPTY)  # an audit of nothing must not pass
        in_buckets, bucket_values = buckets(db, "p.")
        versions = db.execute(
            "SELECT v.id, v.name, v.version FROM package_versions v WHERE EXISTS (SELECT 1 FROM packages p "
            f"WHERE {in_buckets} AND p.package_id = v.id AND p.source IN ({marks(len(_PUBLISHED))}))",
            (*bucket_values, *_PUBLISHED),
        )
        found, unchecked = _match(versions, source, inventory.location, allow_unchecked)
        installs: dict[int, set[InventoryFinding]] = {}
        for chunk in chunks(sorted(found)):
            for project_id, package_id in db.execute(
                f"SELECT p.project_id, p.package_id FROM packages p WHERE {in_buckets} "
                f"AND p.package_id IN ({marks(len(chunk))}) AND p.source IN ({marks(len(_PUBLISHED))})",
                (*bucket_values, *chunk, *_PUBLISHED),
            ):
                installs.setdefault(project_id, set()).update(found[package_id])
    info = source.info()
    now = now or utc_now()
    with db.transaction(write=True):
        if db.dialect == "postgresql":
            db.execute("SELECT pg_advisory_xact_lock(?)", (AUDIT_LOCK,))
        # Every project locked (in the order of their locations, as a remove locks its own): a project
        # removed meanwhile is gone from this set, not recorded with findings under an id nobody has.
        projects = {
            row[0]: (row[1], parse_labels(row[2]))
            for row in db.execute("SELECT id, location, labels FROM projects ORDER BY location" + db.lock_rows)
        }
        if not projects:  # every project was removed while the packages were matched: still an audit of nothing
            raise InputError(inventory.location, EMPTY)
        previous: dict[int, set[InventoryFinding]] = {}
        for project_id, *values in db.execute(
            "SELECT project_id, advisory, name, version, malicious, severity, summary FROM findings"
        ):
            previous.setdefault(project_id, set()).add(_finding(values))
        last = db.execute("SELECT finished FROM audits ORDER BY id DESC LIMIT 1")
        current = {project_id: findings for project_id, findings in installs.items() if project_id in projects}
        db.execute("DELETE FROM findings")
        db.insert_rows(
            "findings",
            ("project_id", "advisory", "name", "version", "malicious", "severity", "summary"),
            (
                (project_id, f.advisory, f.name, f.version, int(f.malicious), f.severity, f.summary)
                for project_id, findings in current.items()
                for f in sorted(findings)
            ),
        )
        db.insert_rows(
            "audits",
            ("finished", "database", "projects", "affected"),
            [(now, info.location, len(projects), len(current))],
        )
    affected = tuple(
        sorted(
            (AffectedProject(*projects[pid], tuple(sorted(findings))) for pid, findings in current.items()),
            key=lambda project: project.location,
        )
    )
    return AuditRun(
        inventory=inventory.location,
        database=info.location,
        records=info.records,
        finished=now,
        previous=last[0][0] if last else None,
        projects=len(projects),
        affected=affected,
        changes=_changes(projects, previous, current),
        unchecked=unchecked,
    )


def reevaluate_against(
    inventory: Inventory,
    database: Path,
    *,
    is_default: bool = False,
    allow_unchecked: bool = False,
    max_db_age: float | None = None,
    now: str | None = None,
) -> AuditRun:
    """:func:`reevaluate` against the local advisory database at ``database`` (opened and closed
    here). ``is_default``: it is the shared store nobody named, so a missing one says how to make it.
    The database's age is checked as ``audit`` checks it, before anything is recorded: older than
    ``max_db_age`` days is a :class:`~npmaudit.errors.SourceError` (a re-evaluation against stale data
    would report "no change" without having seen the new advisories); older than a week is a message."""
    from npmaudit.advisories.local import open_local_database
    from npmaudit.auditing.freshness import check_freshness
    from npmaudit.records import replace

    source = open_local_database(database, is_default=is_default)
    try:
        messages = check_freshness([source.info()], max_db_age)
        run = reevaluate(inventory, source, allow_unchecked=allow_unchecked, now=now)
        return replace(run, messages=tuple(messages))
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


def _match(
    versions: list[tuple[Any, ...]], source: AdvisorySource, location: str, allow_unchecked: bool
) -> tuple[dict[int, set[InventoryFinding]], tuple[str, ...]]:
    """The audit's findings for every distinct version, by package_versions id; and the versions
    that could not be checked."""
    ids = {(name, version): package_id for package_id, name, version in versions}
    nodes = {"": Node("", "(inventory)", "", SourceKind.ROOT)}
    for name, version in ids:
        location_key = f"{name}@{version}"
        nodes[location_key] = Node(location_key, name, version, SourceKind.REGISTRY)
    fleet = Project(Path("."), Path(location), "inventory", nodes)
    result = audit(fleet, [source.prepare(fleet, frozenset())], allow_unchecked=allow_unchecked)
    found: dict[int, set[InventoryFinding]] = {}
    for finding in result.findings:
        package_id = ids[(finding.name, finding.version)]
        found.setdefault(package_id, set()).add(
            InventoryFinding(
                finding.id, finding.name, finding.version, finding.malicious, finding.severity.value, finding.summary
            )
        )
    return found, tuple(node.location for node in result.not_checked)


def _changes(
    projects: Mapping[int, tuple[str, Mapping[str, str]]],
    previous: Mapping[int, set[InventoryFinding]],
    current: Mapping[int, set[InventoryFinding]],
) -> tuple[ProjectChange, ...]:
    changes = []
    for project_id, (location, labels) in projects.items():
        before = {f.key: f for f in previous.get(project_id, set())}
        after = {f.key: f for f in current.get(project_id, set())}
        added = tuple(sorted(after[key] for key in after.keys() - before.keys()))
        removed = tuple(sorted(before[key] for key in before.keys() - after.keys()))
        if not added and not removed:
            continue
        status: ChangeStatus = "newly-affected" if added else ("newly-clean" if not after else "less-affected")
        changes.append(ProjectChange(location, labels, status, added, removed))
    return tuple(sorted(changes, key=lambda change: change.location))


def _finding(values: list[Any]) -> InventoryFinding:
    advisory, name, version, malicious, severity, summary = values
    return InventoryFinding(advisory, name, version, bool(malicious), severity, summary)


# -- reports -----------------------------------------------------------------------------------


def _finding_line(finding: InventoryFinding, mark: str) -> str:
    malicious = " MALICIOUS" if finding.malicious else ""
    package = f"{finding.name}@{finding.version}"
    return f"  {mark}{finding.advisory}  {package}  {finding.severity}{malicious}  {finding.summary}"


def _labels_text(labels: Mapping[str, str]) -> str:
    text = " ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return f"  [{text}]" if text else ""


def render_run_text(run: AuditRun) -> str:
    malicious = [p for p in run.affected if any(f.malicious for f in p.findings)]
    lines = [
        f"{projects_count(run.projects)} audited against {run.database}"
        + (f" ({run.records} records)" if run.records is not None else "")
        + f": {len(run.affected)} affected, {len(malicious)} with malicious packages"
    ]
    if malicious:
        lines.append("Malicious packages, by project:")
        for project in malicious:
            packages = dict.fromkeys(f"{f.name}@{f.version}" for f in project.findings if f.malicious)
            lines.append(f"  {project.location}: {', '.join(packages)}")
    for project in run.affected:
        lines.append("")
        lines.append(project.location + _labels_text(project.labels))
        lines.extend(_finding_line(finding, "") for finding in project.findings)
    return neutralise_lines(lines)


def render_changes_text(run: AuditRun) -> str:
    since = f"since the last inventory audit ({run.previous})" if run.previous else "(first inventory audit)"
    if not run.changes:
        return neutralise_lines([f"No change {since}: {len(run.affected)} of {projects_count(run.projects)} affected."])
    counts: dict[str, int] = {}
    for change in run.changes:
        counts[change.status] = counts.get(change.status, 0) + 1
    summary = ", ".join(f"{count} {status.replace('-', ' ')}" for status, count in sorted(counts.items()))
    lines = [f"{projects_count(len(run.changes))} changed {since}: {summary}"]
    for change in run.changes:
        lines.append("")
        lines.append(f"{change.status.replace('-', ' ')}: {change.location}" + _labels_text(change.labels))
        lines.extend(_finding_line(finding, "+ ") for finding in change.added)
        lines.extend(_finding_line(finding, "- ") for finding in change.removed)
    return neutralise_lines(lines)


def run_document(run: AuditRun, *, changed_only: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "inventory": run.inventory,
        "database": {"location": run.database, "records": run.records},
        "finished": run.finished,
        "previousRun": run.previous,
        "projectsAudited": run.projects,
        "projectsAffected": len(run.affected),
        "notChecked": list(run.unchecked),
        "changes": [
            {
                "location": change.location,
                "labels": dict(change.labels),
                "status": change.status,
                "added": [finding.to_json() for finding in change.added],
                "removed": [finding.to_json() for finding in change.removed],
            }
            for change in run.changes
        ],
    }
    if not changed_only:
        document["projects"] = [
            {
                "location": project.location,
                "labels": dict(project.labels),
                "findings": [finding.to_json() for finding in project.findings],
            }
            for project in run.affected
        ]
    return document
