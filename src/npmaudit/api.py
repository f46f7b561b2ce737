"""The public Python API: audit a project in one call, or use the pieces under it.

Everything here takes values and returns values: nothing prints, nothing exits, nothing reads the
environment. Errors are :class:`~npmaudit.errors.NpmauditError` subclasses whose ``exit_code`` is the
command line's (2 input, 3 source) and whose message is one line naming the file or source.

One call for the common case::

    report = audit_project("path/to/project", db="advisories.json", sources=("local",))
    for finding in report.findings:
        print(finding.name, finding.version, finding.id, finding.severity, finding.paths)
    report.verdict(policy="error", level="high").exit_code

Beyond one audit: :func:`query` ("which projects install this package?" over lockfiles on disk),
:func:`open_inventory` (many projects recorded in SQLite or PostgreSQL: add, remove, list, query,
re-evaluate), and :func:`fix_project` (plan, prove by a re-audit, write). Each returns the value the
command line renders, and :func:`render` renders it the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from os import PathLike, fspath
from pathlib import Path
from typing import TYPE_CHECKING

from npmaudit.advisories.source import AdvisorySource, SourceInfo
from npmaudit.auditing.engine import AuditResult, Finding
from npmaudit.auditing.policy import Verdict
from npmaudit.auditing.run import AuditOutcome, run_audit
from npmaudit.errors import UsageError
from npmaudit.progress import Progress, no_progress
from npmaudit.project.model import Node, Project
from npmaudit.records import record_class, replace
from npmaudit.settings import AUDIT_LEVELS, OMIT_GROUPS, POLICIES, Settings

if TYPE_CHECKING:
    from npmaudit.fix.model import FixResult
    from npmaudit.inventory.ingest import AddReport
    from npmaudit.inventory.reevaluate import AuditRun
    from npmaudit.inventory.results import QueryResult
    from npmaudit.inventory.spec import Spec
    from npmaudit.inventory.store import Inventory as _Store
    from npmaudit.inventory.store import ProjectRecord

PathArg = str | PathLike[str]

SOURCE_NAMES = ("local", "osv", "registry-advisories")
"""The advisory sources :func:`audit_project` can use: the local database, the OSV API, the npm
registry's bulk advisory endpoint (as ``npm audit``)."""


@record_class(frozen=True)
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
    project_path = Path(path)
    values = _run_settings(
        project_path,
        settings,
        db=db,
        sources=sources,
        offline=offline,
        omit=omit,
        allow_unchecked=allow_unchecked,
    )
    outcome = run_audit(project_path, values, lockfile=Path(lockfile) if lockfile is not None else None)
    return AuditReport(outcome)


def _run_settings(
    project_path: Path,
    settings: Settings | None,
    *,
    db: PathArg | None,
    sources: Collection[str] | None,
    offline: bool,
    omit: Iterable[str],
    allow_unchecked: bool,
) -> Settings:
    """The settings of a run on one project: ``settings`` (else the library's defaults) with the
    keyword arguments of :func:`audit_project` or :func:`fix_project` laid over them."""
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
    return replace(
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


def render(
    report: AuditReport | AuditOutcome | QueryResult | AuditRun | FixResult,
    format: str = "text",
    *,
    color: bool = False,
    changed_only: bool = False,
) -> str:
    """A result as the command line prints it on stdout.

    An audit in any of its output formats (``text``, ``json``, ...: ``npmaudit.report.FORMAT_NAMES``;
    the npm formats need npm's own report: audit with ``settings=Settings(..., npm_report=True)``).
    A :func:`query` or :meth:`Inventory.query` answer, an :meth:`Inventory.audit` run (``changed_only``:
    as ``inventory audit --changed``) and a :func:`fix_project` result in ``text`` or ``json``.
    """
    from npmaudit.fix.model import FixResult
    from npmaudit.inventory.reevaluate import AuditRun
    from npmaudit.inventory.results import QueryResult
    from npmaudit.report import render as _render

    if isinstance(report, QueryResult | AuditRun | FixResult):
        return _render_fleet(report, _text_or_json(format), changed_only=changed_only)
    outcome = report.outcome if isinstance(report, AuditReport) else report
    return _render(format, outcome, color=color)


def _text_or_json(format: str) -> str:
    if format not in ("text", "json"):
        raise UsageError(f"unknown format {format!r} for this result (choose from text, json)")
    return format


def _render_fleet(result: QueryResult | AuditRun | FixResult, format: str, *, changed_only: bool) -> str:
    from npmaudit.fix import render as fix_render
    from npmaudit.inventory import reevaluate
    from npmaudit.inventory import render as query_render
    from npmaudit.inventory.results import QueryResult
    from npmaudit.report.safe_text import safe_json_dumps

    if isinstance(result, QueryResult):
        if format == "json":
            return query_render.render_json(result)
        return query_render.render_text(result, summary=result.recursive)
    if isinstance(result, reevaluate.AuditRun):
        if format == "json":
            return safe_json_dumps(reevaluate.run_document(result, changed_only=changed_only)) + "\n"
        if changed_only:
            return reevaluate.render_changes_text(result)
        return reevaluate.render_run_text(result)
    return fix_render.render_json(result) if format == "json" else fix_render.render_text(result)


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


# -- "who has X?": queries over lockfiles and inventories -------------------------------------------


def query(
    specs: str | Iterable[str],
    paths: PathArg | Iterable[PathArg] = ".",
    *,
    recursive: bool = False,
    db: PathArg | None = None,
    settings: Settings | None = None,
    progress: Progress = no_progress,
) -> QueryResult:
    """Every install of the packages asked for, in the project at each path (or, ``recursive``, in
    every project under it): ``npmaudit query``, no inventory needed.

    A spec is ``name``, ``name@version``, ``name@range`` (node-semver, prereleases inside the range
    included) or an advisory id, looked up by id or alias in the local database ``db`` (else the
    shared store). The result's ``projects`` hold each hit with its install path, groups and chain;
    ``failures`` the projects that could not be read (then ``exit_code`` is 2: the answer is
    incomplete), else ``exit_code`` is 1 when anything matched.
    """
    from npmaudit.inventory.files import query_path

    resolved, notes = _specs(specs, db, settings)
    roots = [Path(paths)] if isinstance(paths, str | PathLike) else [Path(path) for path in paths]
    if not roots:
        raise UsageError("give at least one project path to query")
    results = [query_path(root, resolved, recursive=recursive, progress=progress) for root in roots]
    return _noted(results[0] if len(results) == 1 else _merged(results), notes)


def _noted(result: QueryResult, notes: Sequence[str]) -> QueryResult:
    """The result with what the advisory lookup said about its database (its age) first."""
    return replace(result, messages=(*notes, *result.messages)) if notes else result


def _merged(results: Sequence[QueryResult]) -> QueryResult:
    """Answers for several paths as one, in the order the paths were given."""
    from npmaudit.inventory.results import QueryResult

    return QueryResult(
        specs=results[0].specs,
        scanned=sum(result.scanned for result in results),
        projects=tuple(project for result in results for project in result.projects),
        failures=tuple(failure for result in results for failure in result.failures),
        messages=tuple(dict.fromkeys(message for result in results for message in result.messages)),
        recursive=True,
    )


def _specs(
    specs: str | Iterable[str], db: PathArg | None, settings: Settings | None
) -> tuple[tuple[Spec, ...], list[str]]:
    """The specs read, advisory ids looked up in ``db`` (else the settings' database, else the shared
    store); and what the lookup said about that database (its age)."""
    from npmaudit.inventory.advisory_lookup import finder
    from npmaudit.inventory.spec import resolve_specs

    texts = [specs] if isinstance(specs, str) else list(specs)
    values = settings if settings is not None else Settings.for_library()
    if db is not None:
        values = replace(values, db=Path(db))
    find = finder(values.database, is_default=not values.database_named, max_db_age=values.max_db_age)
    return resolve_specs(texts, find), find.messages


def open_inventory(location: PathArg, *, create: bool = False, settings: Settings | None = None) -> Inventory:
    """The inventory at ``location``: a SQLite file, or a PostgreSQL database as ``postgresql://...``
    (``pip install 'npmaudit[postgres]'``). ``create``: make it when it does not exist (else a
    missing inventory is an error). ``settings``: where advisory ids and :meth:`Inventory.audit`
    find the advisory database when no ``db`` is given (default: the shared store)."""
    from npmaudit.inventory.store import Inventory as Store

    return Inventory(Store.open(fspath(location), create=create), settings)


class Inventory:
    """Many projects' package sets in one database: the handle :func:`open_inventory` returns.

    Use it as a context manager (or call :meth:`close`). Every method returns the value the matching
    ``npmaudit inventory`` command renders.
    """

    def __init__(self, store: _Store, settings: Settings | None = None) -> None:
        self._store = store
        self._settings = settings

    @property
    def location(self) -> str:
        """The file path, or the URL without its password."""
        return self._store.location

    def add(
        self,
        paths: PathArg | Iterable[PathArg],
        *,
        recursive: bool = False,
        location: str | None = None,
        labels: Mapping[str, str] | None = None,
        progress: Progress = no_progress,
    ) -> AddReport:
        """Record each project (a directory or a lockfile; ``recursive``: every project under each
        directory). A project is known by its resolved directory, or by ``location`` (a CI runner
        names the repository it checked out). Re-adding an unchanged package set writes nothing but
        new ``labels``; a changed one replaces the project's rows in one transaction. A project that
        could not be read is in ``failures`` (``exit_code`` 2) and the others are still added."""
        from npmaudit.inventory.ingest import add_paths

        targets = [Path(paths)] if isinstance(paths, str | PathLike) else [Path(path) for path in paths]
        return add_paths(self._store, targets, recursive=recursive, location=location, labels=labels, progress=progress)

    def remove(self, locations: str | Iterable[str]) -> list[str]:
        """Forget these projects (a recorded location, or the project's directory): all, or none
        when one is unknown (an :class:`~npmaudit.errors.InputError` naming it)."""
        from npmaudit.inventory.ingest import known_locations

        texts = [locations] if isinstance(locations, str) else list(locations)
        return self._store.remove(known_locations(self._store, texts))

    def projects(self) -> list[ProjectRecord]:
        """Every recorded project: location, lockfile, labels, package count, and the last audit's counts."""
        return self._store.projects()

    def query(self, specs: str | Iterable[str], *, db: PathArg | None = None) -> QueryResult:
        """Every install the specs match in every recorded project (specs as for :func:`query`)."""
        resolved, notes = _specs(specs, db, self._settings)
        return _noted(self._store.query(resolved), notes)

    def audit(self, *, db: PathArg | None = None, allow_unchecked: bool = False) -> AuditRun:
        """Match every project against the local advisory database ``db`` (else the shared store) and
        record the result. The run's ``affected`` projects and their findings, and its ``changes``
        since the previous run (newly affected, newly clean, less affected): what
        ``inventory audit --changed`` reports. ``exit_code(changed_only=...)`` is the command's."""
        from npmaudit.inventory.reevaluate import reevaluate_against

        values = self._settings if self._settings is not None else Settings.for_library()
        if db is not None:
            values = replace(values, db=Path(db))
        return reevaluate_against(
            self._store,
            values.database,
            is_default=not values.database_named,
            allow_unchecked=allow_unchecked or values.allow_unchecked,
            max_db_age=values.max_db_age,
        )

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Inventory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- fix ---------------------------------------------------------------------------------------------


def fix_project(
    path: PathArg,
    *,
    db: PathArg | None = None,
    sources: Collection[str] | None = None,
    offline: bool = False,
    registry: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    strategy: str | None = None,
    lockfile: PathArg | None = None,
    policy: str | None = None,
    level: str | None = None,
    omit: Iterable[str] = (),
    allow_unchecked: bool = False,
    settings: Settings | None = None,
    progress: Progress = no_progress,
) -> FixResult:
    """Fix the project at ``path`` and prove it: ``npmaudit fix``.

    Every change is re-audited against the same sources before anything is written. ``strategy``:
    ``in-place`` (npm lockfiles; the default for them) or ``override`` (the package manager's own
    override field; the default for yarn, pnpm and bun). ``dry_run`` writes nothing. ``force``
    allows SemVer-major updates of direct dependencies. ``registry``: where packuments are fetched
    (else the project's ``.npmrc``; the user's ``.npmrc`` and ``npm_config_*`` are read only from
    ``settings.npm_environ``, which the library leaves empty). ``db``, ``sources``, ``offline``,
    ``omit``, ``allow_unchecked`` as for :func:`audit_project`; ``policy`` and ``level`` judge the re-audit.

    The result lists the ``changes`` (lockfile entries), ``manifest_changes``, each target's
    ``outcomes``, what ``remaining`` stays vulnerable and why, the files ``written``, and
    ``reaudit_exit_code``: the re-audit's verdict on the planned files (written or, with ``dry_run``,
    not). ``exit_code`` is the command's (with ``dry_run``, the verdict on the project as it stands).
    """
    from npmaudit.fix.run import FixOptions, run_fix
    from npmaudit.npmrc import normalize_registry

    project_path = Path(path)
    values = _run_settings(
        project_path,
        settings,
        db=db,
        sources=sources,
        offline=offline,
        omit=omit,
        allow_unchecked=allow_unchecked,
    )
    values = replace(
        values,
        policy=_one_of("policy", policy, POLICIES) or values.policy,
        audit_level=_one_of("level", level, AUDIT_LEVELS) or values.audit_level,
        registry=normalize_registry(registry, "registry") if registry is not None else values.registry,
    )
    if values.policy == "off":
        raise UsageError("policy off skips the advisory check: there would be nothing to fix")
    options = FixOptions(dry_run=dry_run, force=force, strategy=strategy)
    return run_fix(
        project_path, values, options, lockfile=Path(lockfile) if lockfile is not None else None, progress=progress
    )


def _one_of(name: str, value: str | None, choices: Sequence[str]) -> str | None:
    if value is not None and value not in choices:
        raise UsageError(f"unknown {name} {value!r} (choose from {', '.join(choices)})")
    return value
