"""The public Python API: audit a project in one call, or use the pieces under it.

Everything here takes values and returns values: nothing prints, nothing exits, nothing reads the
environment. Errors are :class:`~npmaudit.errors.NpmauditError` subclasses whose ``exit_code`` is the
command line's (2 input, 3 source) and whose message is one line naming the file or source.

One call for the common case::

    report = audit_project("path/to/project", db="advisories.json", sources=("local",))
    for finding in report.findings:
        print(finding.name, finding.version, finding.id, finding.severity, finding.paths)
    report.verdict(policy="error", level="high").exit_code
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path

from npmaudit.advisories.source import AdvisorySource, SourceInfo
from npmaudit.auditing.engine import AuditResult, Finding
from npmaudit.auditing.policy import Verdict
from npmaudit.auditing.run import AuditOutcome, run_audit
from npmaudit.errors import UsageError
from npmaudit.project.model import Node, Project
from npmaudit.settings import OMIT_GROUPS, Settings

SOURCE_NAMES = ("local", "osv", "registry-advisories")
"""The advisory sources :func:`audit_project` can use: the local database, the OSV API, the npm
registry's bulk advisory endpoint (as ``npm audit``)."""


@dataclass(frozen=True)
class AuditReport:
    """The result of :func:`audit_project`: findings, the sources asked, and what could not be checked."""

    outcome: AuditOutcome

    @property
    def project(self) -> Project:
        return self.outcome.result.project

    @property
    def findings(self) -> tuple[Finding, ...]:
        """One advisory affecting one installed version, with every path it is installed at."""
        return self.outcome.result.findings

    @property
    def sources(self) -> tuple[SourceInfo, ...]:
        """Each source used, with its record count and age."""
        return self.outcome.result.sources

    @property
    def not_checked(self) -> tuple[Node, ...]:
        """Packages no registry advisory applies to (workspaces, links, folders, git)."""
        return self.outcome.result.not_checked

    @property
    def messages(self) -> tuple[str, ...]:
        """What the command line would print on stderr (other lockfiles present, cache misses)."""
        return tuple(self.outcome.messages)

    def verdict(self, policy: str = "error", level: str = "low") -> Verdict:
        """Judge the findings: ``exit_code`` 1 when any is at or above ``level`` under policy ``error``."""
        settings = replace(self.outcome.settings, policy=policy, audit_level=level)
        return _judge_outcome(self.outcome.result, settings, self.outcome)


def audit_project(
    path: str | PathLike[str],
    *,
    db: str | PathLike[str] | None = None,
    sources: Collection[str] | None = None,
    offline: bool = False,
    omit: Iterable[str] = (),
    lockfile: str | PathLike[str] | None = None,
    allow_unchecked: bool = False,
    settings: Settings | None = None,
) -> AuditReport:
    """Audit the project at ``path`` (a directory, whose lockfile is detected, or a lockfile).

    ``db``: a local advisory database (a SQLite store, OSV JSON / JSON Lines, gzipped, or a directory
    of records); without one, the shared store in the user cache directory. ``sources``: any of
    :data:`SOURCE_NAMES`; None means the command line's default (the local database when it exists,
    plus OSV online unless ``offline``). ``omit``: dependency groups to leave out (dev, optional, peer).
    ``allow_unchecked``: list packages whose version cannot be read as not checked instead of failing.
    ``settings``: full control (HTTP timeouts, registry, ...); the keyword arguments override it.
    """
    chosen = set(sources or ())
    unknown = chosen - set(SOURCE_NAMES)
    if unknown:
        raise UsageError(f"unknown source {sorted(unknown)[0]!r} (choose from {', '.join(SOURCE_NAMES)})")
    groups = frozenset(omit)
    if not groups <= set(OMIT_GROUPS):
        raise UsageError(
            f"unknown group {sorted(groups - set(OMIT_GROUPS))[0]!r} (choose from {', '.join(OMIT_GROUPS)})"
        )
    base = settings if settings is not None else Settings.for_library()
    project_path = Path(path)
    values = replace(
        base,
        local="local" in chosen or base.local,
        osv="osv" in chosen or base.osv,
        registry_advisories="registry-advisories" in chosen or base.registry_advisories,
        offline=offline or base.offline,
        db=Path(db) if db is not None else base.db,
        omit=groups or base.omit,
        allow_unchecked=allow_unchecked or base.allow_unchecked,
        project_dir=(project_path if project_path.is_dir() else project_path.parent).resolve(),
    )
    outcome = run_audit(project_path, values, lockfile=Path(lockfile) if lockfile is not None else None)
    return AuditReport(outcome)


def load_project(path: str | PathLike[str], lockfile: str | PathLike[str] | None = None) -> Project:
    """Read a project (a directory or a lockfile of any supported format) into the package model."""
    from npmaudit.project.loader import load_project as _load

    return _load(Path(path), Path(lockfile) if lockfile is not None else None)


def open_database(path: str | PathLike[str]) -> AdvisorySource:
    """A local advisory database as a source (a SQLite store or OSV records in any supported shape)."""
    from npmaudit.advisories.local import open_local_database

    return open_local_database(Path(path))


def audit(
    project: Project, sources: Sequence[AdvisorySource], omit: Iterable[str] = (), *, allow_unchecked: bool = False
) -> AuditResult:
    """Match a project against advisory sources: the findings, the sources' descriptions, what was not checked.

    A published package whose version cannot be read is an error naming it, unless ``allow_unchecked``
    (then it is listed in ``not_checked``): it would otherwise pass without having been checked.
    """
    from npmaudit.auditing.engine import audit as _audit

    groups = frozenset(omit)
    prepared = [source.prepare(project, groups) for source in sources]
    return _audit(project, prepared, groups, allow_unchecked=allow_unchecked)


def judge(findings: Iterable[Finding], policy: str = "error", level: str = "low") -> Verdict:
    """The verdict on findings: exit code 1 under ``error`` when any is at or above ``level``."""
    from npmaudit.auditing.policy import judge as _judge

    return _judge(findings, policy, level)


def render(report: AuditReport | AuditOutcome, format: str = "text", *, color: bool = False) -> str:
    """A report in one of the output formats (``text``, ``json``, ...: ``npmaudit.report.FORMAT_NAMES``).

    The npm formats need npm's own report: audit with ``settings=Settings(..., npm_report=True)``.
    """
    from npmaudit.report import render as _render

    outcome = report.outcome if isinstance(report, AuditReport) else report
    return _render(format, outcome, color=color)


def _judge_outcome(result: AuditResult, settings: Settings, outcome: AuditOutcome) -> Verdict:
    from npmaudit.auditing.npm_counts import npm_counts_without_ignored
    from npmaudit.auditing.policy import judge as _judge

    npm_counts = None
    if outcome.npm_report is not None:
        npm_counts = npm_counts_without_ignored(outcome.npm_report.document, result.findings, outcome.ignores)
    return _judge(
        result.findings,
        settings.policy,
        settings.audit_level,
        npm_counts=npm_counts,
        ignores=outcome.ignores,  # settings.ignores were applied by the run (Settings.ignores)
        strict_ignores=settings.strict_ignores,
    )
