"""One audit run, start to end, as a value: what the CLI (or any caller) then prints and exits with."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from npmaudit.advisories.source import AdvisorySource
from npmaudit.audit.engine import AuditResult, audit
from npmaudit.audit.policy import Verdict, judge
from npmaudit.config import ProjectConfig
from npmaudit.errors import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, EXIT_SOURCE, NpmauditError
from npmaudit.project.loader import detect_lockfile, load_project


@dataclass(frozen=True)
class AuditOptions:
    path: Path
    lockfile: Path | None
    omit: frozenset[str]
    policy: str
    level: str
    npm_report: bool = False  # compute npm's own report (--format npm-json / npm-text)


@dataclass(frozen=True)
class AuditOutcome:
    result: AuditResult
    verdict: Verdict
    options: AuditOptions
    messages: list[str] = field(default_factory=list)  # for stderr, in order
    npm_report: Any = None  # npmaudit.npm_report.NpmReport, when asked for


@dataclass(frozen=True)
class ProjectFailure:
    directory: Path
    error: NpmauditError


@dataclass(frozen=True)
class RecursiveOutcome:
    root: Path
    outcomes: list[AuditOutcome]
    failures: list[ProjectFailure]
    options: AuditOptions

    @property
    def exit_code(self) -> int:
        """One code for the whole scan: a failure to check outranks findings, findings outrank a pass."""
        codes = {failure.error.exit_code for failure in self.failures}
        codes |= {outcome.verdict.exit_code for outcome in self.outcomes}
        for code in (EXIT_SOURCE, EXIT_INPUT, EXIT_FINDINGS):
            if code in codes:
                return code
        return EXIT_OK

    @property
    def messages(self) -> list[str]:
        return [m for outcome in self.outcomes for m in outcome.messages]


def run_audit(
    options: AuditOptions,
    args: argparse.Namespace,
    config: ProjectConfig,
    sources: list[AdvisorySource] | None = None,
) -> AuditOutcome:
    """Read the project, query the selected sources, match, write back what was asked, judge."""
    from npmaudit.audit.writeback import apply_writes
    from npmaudit.sources import select_sources

    messages = []
    lockfile = options.lockfile
    if lockfile is None and options.path.is_dir():
        detection = detect_lockfile(options.path)
        lockfile = detection.lockfile
        if detection.others:
            others = ", ".join(str(p) for p in detection.others)
            messages.append(f"read {lockfile} ({detection.reason}); also present, not read: {others}")
    project = load_project(options.path, lockfile)
    if sources is None:
        # With the project known, the registry source can send npm's exact bulk payload.
        sources = select_sources(args, config, project=project, omit=options.omit)
        check_freshness(args, config, sources)
    result = audit(project, sources, options.omit)
    messages.extend(apply_writes(args, config, result))
    verdict = judge(result.findings, options.policy, options.level)
    npm_report = None
    if options.npm_report:
        from dataclasses import replace

        from npmaudit.audit.npm_compat import compute_npm_report
        from npmaudit.npm_report import npm_exit_code

        npm_report = compute_npm_report(result, args, config, options.omit)
        unavailable = npm_report.unavailable_message()
        if unavailable:
            messages.append(unavailable)
        if options.policy == "error":
            # npm's rule: meta-vulnerabilities count too, by their own severity.
            verdict = replace(verdict, exit_code=npm_exit_code(npm_report.document, options.level))
    return AuditOutcome(result, verdict, options, messages, npm_report)


def run_recursive(options: AuditOptions, args: argparse.Namespace, config: ProjectConfig) -> RecursiveOutcome:
    """Audit every project under ``options.path`` against the same sources, opened once.

    A project that cannot be read is recorded and the scan goes on, so one broken lockfile does
    not hide the findings of the others; the combined exit code still reports it.
    """
    from dataclasses import replace

    from npmaudit.errors import InputError
    from npmaudit.project.discover import find_projects
    from npmaudit.sources import select_sources

    if not options.path.is_dir():
        raise InputError(options.path, "--recursive needs a directory")
    directories = find_projects(options.path)
    if not directories:
        raise InputError(options.path, "no project with a lockfile found under this directory")
    sources = select_sources(args, config)
    check_freshness(args, config, sources)
    outcomes, failures = [], []
    for directory in directories:
        try:
            outcomes.append(run_audit(replace(options, path=directory, lockfile=None), args, config, sources))
        except NpmauditError as error:
            if error.exit_code == EXIT_SOURCE:
                raise  # a source that fails for one project fails for all: stop, closed
            failures.append(ProjectFailure(directory, error))
    return RecursiveOutcome(options.path, outcomes, failures, options)


def check_freshness(args: argparse.Namespace, config: ProjectConfig, sources: list[AdvisorySource]) -> None:
    """``--max-db-age``: a stale local database fails the run (exit 3) before anything is matched."""
    from npmaudit.audit import freshness

    max_age = freshness.resolve_max_age(getattr(args, "max_db_age", None), config)
    freshness.check_freshness([source.info() for source in sources], max_age)
