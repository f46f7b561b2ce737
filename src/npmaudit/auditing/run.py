"""One audit run, start to end, as a value: what the CLI (or any caller) then prints and exits with.

Everything comes in as values: the project's path and a :class:`~npmaudit.settings.Settings`.
Sources are opened once per run and prepared for each project, so ``-r`` asks each source exactly
what a single audit of that project would ask.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from npmaudit import TYPE_CHECKING, clock
from npmaudit.advisories.source import AdvisorySource, close_sources
from npmaudit.auditing.engine import AuditResult, audit
from npmaudit.auditing.ignores import NO_IGNORES, IgnoreReport, RuleState, apply_ignores, merge_states
from npmaudit.auditing.ignores import state_messages as ignore_state_messages
from npmaudit.auditing.policy import Verdict, judge
from npmaudit.errors import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, EXIT_SOURCE, InputError, NpmauditError, SourceError
from npmaudit.progress import Progress, no_progress
from npmaudit.project.loader import load_project, load_project_noting
from npmaudit.project.model import Project
from npmaudit.records import field, record_class, replace
from npmaudit.settings import Settings

if TYPE_CHECKING:
    from typing import NoReturn

    from npmaudit.npm_report import NpmReport
    from npmaudit.project.entry_lines import EntryPlace


@record_class(frozen=True)
class AuditOutcome:
    result: AuditResult
    verdict: Verdict
    settings: Settings
    messages: list[str] = field(default_factory=list)  # for stderr, in order
    npm_report: NpmReport | None = None  # npm's own report, when the settings ask for it
    ignores: IgnoreReport = NO_IGNORES  # which findings the ignores hide, and what became of each ignore
    places: Mapping[str, EntryPlace] | None = None  # lockfile entry of each finding's nodes, when asked


@record_class(frozen=True)
class ProjectFailure:
    directory: Path
    error: NpmauditError


@record_class(frozen=True)
class ProjectDigest:
    """What the scan's exit code and messages need of one audited project: kept for every project,
    also when its outcome went to a report written project by project and was not kept."""

    exit_code: int
    messages: list[str]
    ignores: IgnoreReport  # the rules' states only (which findings they hid is the report's business)

    @classmethod
    def of(cls, outcome: AuditOutcome) -> ProjectDigest:
        return cls(outcome.verdict.exit_code, outcome.messages, IgnoreReport(states=outcome.ignores.states))


class HandedOver(list[AuditOutcome]):
    """The outcomes of a scan whose projects were each handed to a report as they were audited
    (``run_recursive(on_audited=...)``) and not kept: reading them is a bug, never an empty scan."""

    def _refuse(self, *args: object) -> NoReturn:
        raise RuntimeError("the projects' outcomes were handed to a report as they were audited, not kept")

    __iter__ = __len__ = __getitem__ = __bool__ = __contains__ = __reversed__ = _refuse


@record_class(frozen=True)
class RecursiveOutcome:
    root: Path
    outcomes: list[AuditOutcome]
    failures: list[ProjectFailure]
    settings: Settings
    source_messages: list[str] = field(default_factory=list)  # about the sources all projects share
    # One per audited project, in order; None: made from ``outcomes`` (they were all kept).
    digests: list[ProjectDigest] | None = None

    def project_digests(self) -> list[ProjectDigest]:
        if self.digests is not None:
            return self.digests
        return [ProjectDigest.of(outcome) for outcome in self.outcomes]

    @property
    def exit_code(self) -> int:
        """One code for the whole scan: a failure to check outranks findings, findings outrank a pass."""
        codes = {failure.error.exit_code for failure in self.failures}
        codes |= {digest.exit_code for digest in self.project_digests()}
        if self.fails_on_stale_ignores:
            codes.add(EXIT_FINDINGS)
        for code in (EXIT_SOURCE, EXIT_INPUT, EXIT_FINDINGS):
            if code in codes:
                return code
        return EXIT_OK

    @property
    def messages(self) -> list[str]:
        ignores = ignore_state_messages(self.ignore_states, strict=self.settings.strict_ignores)
        return [*self.source_messages, *(m for digest in self.project_digests() for m in digest.messages), *ignores]

    @property
    def ignore_states(self) -> tuple[RuleState, ...]:
        """Each ignore over the whole scan: stale only when no project used it."""
        return merge_states([digest.ignores for digest in self.project_digests()])

    @property
    def fails_on_stale_ignores(self) -> bool:
        stale = any(state.state == "stale" for state in self.ignore_states)
        return stale and self.settings.strict_ignores and self.settings.policy == "error"


def open_sources(settings: Settings) -> list[AdvisorySource]:
    """The run's advisory sources (see :mod:`npmaudit.advisories.selection`), with ``--max-db-age`` checked."""
    from npmaudit.advisories.selection import select_sources

    sources = select_sources(settings)
    source_messages(sources, settings)
    return sources


def source_messages(sources: Sequence[AdvisorySource], settings: Settings) -> list[str]:
    """``--max-db-age`` (a stale local database raises :class:`SourceError`), and what to say on
    stderr about the sources: a database older than a week, records they refused."""
    from npmaudit.auditing.freshness import check_freshness

    return check_freshness([source.info() for source in sources], settings.max_db_age)


def run_audit(
    path: Path,
    settings: Settings,
    *,
    lockfile: Path | None = None,
    sources: Sequence[AdvisorySource] | None = None,
    progress: Progress = no_progress,
    part_of_scan: bool = False,
) -> AuditOutcome:
    """Read the project, query the sources, match, apply the ignores, write back what was asked, judge.

    ``part_of_scan``: one project of ``-r``, whose ignores are judged stale or expired over the whole
    scan (:class:`RecursiveOutcome`), not project by project.
    """
    project, messages = load_project_noting(path, lockfile)
    if sources is not None:
        return _audited(project, settings, sources, messages, progress, part_of_scan)
    opened = open_sources(settings)
    try:
        messages.extend(source_messages(opened, settings))
        return _audited(project, settings, opened, messages, progress, part_of_scan)
    finally:
        close_sources(opened)  # what this run opened, it closes (the CLI then skips the exit collection)


def _audited(
    project: Project,
    settings: Settings,
    sources: Sequence[AdvisorySource],
    messages: list[str],
    progress: Progress,
    part_of_scan: bool,
) -> AuditOutcome:
    """:func:`run_audit` once the project is read and the sources are open."""
    prepared = [source.prepare(project, settings.omit) for source in sources]
    try:
        result = audit(project, prepared, settings.omit, allow_unchecked=settings.allow_unchecked)
    except SourceError as error:
        raise _with_offline_hint(error, settings, sources) from None
    messages.extend(result.warnings)
    # What a source found out while answering (the registry's quick-audit fallback, an empty reply).
    messages.extend(w for info in result.sources if info.kind == "npm-registry" for w in info.warnings)
    if settings.write is not None or settings.write_cache:  # --write, --write-cache
        from npmaudit.auditing.writeback import apply_writes

        messages.extend(apply_writes(settings, result))
    moment = clock.moment(settings.now)
    if settings.now is None:
        # One clock for the whole run: the ignores' expiries now, and later every report's age of
        # the data, whichever format renders the outcome and however often.
        settings = replace(settings, now=moment)
    ignores = apply_ignores(result.findings, settings.ignores, project, moment)
    messages.extend(ignores.warnings)
    if not part_of_scan:
        messages.extend(ignore_state_messages(ignores.states, strict=settings.strict_ignores))
    npm_report = None
    npm_counts = None
    if settings.npm_report:
        from npmaudit.auditing.npm_compat import compute_npm_report

        npm_report = compute_npm_report(result, settings, progress)
        unavailable = npm_report.unavailable_message(offline=settings.offline)
        if unavailable:
            messages.append(unavailable)
        refused = npm_report.refused_message()
        if refused:
            outcome = "accepted with --allow-refused-packuments" if settings.allow_refused_packuments else REFUSED_HINT
            messages.append(f"{refused} ({outcome})")
        from npmaudit.auditing.npm_counts import npm_counts_without_ignored

        npm_counts = npm_counts_without_ignored(npm_report.document, result.findings, ignores)
    verdict = judge(
        result.findings,
        settings.policy,
        settings.audit_level,
        npm_counts=npm_counts,
        ignores=ignores,
        strict_ignores=settings.strict_ignores and not part_of_scan,
    )
    if npm_report is not None and npm_report.refused and not settings.allow_refused_packuments:
        verdict = replace(verdict, exit_code=EXIT_SOURCE)  # we could not look: never a pass, nor plain findings
    places = None
    if settings.lockfile_lines:
        from npmaudit.project.entry_lines import entry_places

        places = entry_places(project, (node.location for finding in result.findings for node in finding.nodes))
    return AuditOutcome(result, verdict, settings, messages, npm_report, ignores, places)


REFUSED_HINT = (
    "exit 3; check the registry's credentials in .npmrc, or pass --allow-refused-packuments to accept the report"
)


def _with_offline_hint(error: SourceError, settings: Settings, sources: Sequence[AdvisorySource]) -> SourceError:
    """A default run (no source flag) with a local database whose online source failed: say how to go offline."""
    chose_none = not (settings.local or settings.osv or settings.registry_advisories)
    has_local = any(source.info().kind in ("sqlite", "json-db") for source in sources)
    if chose_none and has_local:
        return SourceError(
            error.source, f"{error.reason} (to audit against the local database only, pass --offline or --compromised)"
        )
    return error


def run_recursive(
    root: Path,
    settings: Settings,
    *,
    progress: Progress = no_progress,
    keep_graphs: bool = False,
    on_audited: Callable[[AuditOutcome], None] | None = None,
) -> RecursiveOutcome:
    """Audit every project under ``root`` against the same sources, opened once.

    A project that cannot be read is recorded and the scan goes on, so one broken lockfile does
    not hide the findings of the others; the combined exit code still reports it. Each project's
    graph is released after its audit (what a report of its findings reads is kept) unless
    ``keep_graphs`` (a report that reads every installed package). With ``on_audited`` (a report
    written project by project) each outcome goes to it and only its :class:`ProjectDigest` is kept.
    """
    from npmaudit.project.discover import find_projects

    if not root.is_dir():
        raise InputError(root, "--recursive needs a directory")
    directories = find_projects(root)
    if not directories:
        raise InputError(root, "no project with a lockfile found under this directory")
    sources = open_sources(settings)
    try:
        shared_messages = source_messages(sources, settings)
        outcomes: list[AuditOutcome] = [] if on_audited is None else HandedOver()
        digests, failures = [], []
        for directory in directories:
            try:
                outcome = run_audit(directory, settings, sources=sources, progress=progress, part_of_scan=True)
            except NpmauditError as error:
                if error.exit_code == EXIT_SOURCE:
                    raise  # a source that fails for one project fails for all: stop, closed
                failures.append(ProjectFailure(directory, error))
                continue
            kept = outcome if keep_graphs else _without_graph(outcome)
            digests.append(ProjectDigest.of(kept))
            if on_audited is None:
                outcomes.append(kept)
            else:
                on_audited(kept)
    finally:
        close_sources(sources)  # the outcomes hold what the sources said (SourceInfo), never the sources
    return RecursiveOutcome(root, outcomes, failures, settings, shared_messages, digests)


def _without_graph(outcome: AuditOutcome) -> AuditOutcome:
    """The outcome with its project released (:meth:`Project.released`): a scan of many projects
    holds each one's findings and their chains, not every project's whole graph at once."""
    result = outcome.result
    directory, lockfile = result.project.directory, result.project.lockfile  # not the project itself

    def reload() -> Project:
        return load_project(directory, lockfile)

    keep = {node.location for finding in result.findings for node in finding.nodes}
    view = result.project.released(keep, reload)
    return replace(outcome, result=replace(result, project=view))
