"""From findings to an exit code: the policy (error, warn, off) and the failure level.

``--audit-level`` only moves the failure threshold; it never hides a finding from the report, as in
npm. Under ``warn`` findings are reported and the run passes; ``off`` skips the check entirely.
Ignored findings are reported but never counted; with ``strict_ignores`` an ignore that matched
nothing fails the run like a finding (``npmaudit.auditing.ignores``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from npmaudit.advisories.model import Severity
from npmaudit.auditing.engine import Finding
from npmaudit.auditing.ignores import NO_IGNORES, IgnoreReport
from npmaudit.errors import EXIT_FINDINGS, EXIT_OK
from npmaudit.records import record_class

LEVEL_RANK = {"info": 0, "low": 1, "moderate": 2, "high": 3, "critical": 4, "none": 5}


@record_class(frozen=True)
class Verdict:
    exit_code: int
    failing: tuple[Finding, ...]  # the findings at or above the level (ignored ones excepted)
    policy: str
    level: str
    ignored: tuple[Finding, ...] = ()  # findings an ignore hides: reported, not counted
    stale_ignores: int = 0  # ignores that matched nothing, when --strict-ignores makes them fail

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_OK


def at_or_above(severity: Severity, level: str) -> bool:
    return severity.rank >= LEVEL_RANK[level]


def judge(
    findings: Iterable[Finding],
    policy: str,
    level: str,
    *,
    npm_counts: Mapping[str, int] | None = None,
    ignores: IgnoreReport = NO_IGNORES,
    strict_ignores: bool = False,
) -> Verdict:
    """The verdict on what was analysed.

    ``npm_counts`` (vulnerable packages by severity, meta-vulnerabilities included) is given when
    npm's own report was computed: then npm's rule decides, as ``npm audit`` would exit, because a
    dependent that can only install a vulnerable version is a problem too (the caller leaves the
    ignored findings out of those counts: ``npmaudit.auditing.npm_counts``). ``ignores`` says which
    findings are hidden; ``strict_ignores`` makes its stale ignores fail the run.
    """
    findings = tuple(findings)
    ignored = tuple(f for f in findings if ignores.is_ignored(f))
    failing = tuple(f for f in findings if at_or_above(f.severity, level) and not ignores.is_ignored(f))
    if npm_counts is not None:
        fails = any(count > 0 and _npm_at_or_above(severity, level) for severity, count in npm_counts.items())
    else:
        fails = bool(failing)
    stale = len(ignores.stale()) if strict_ignores else 0
    code = EXIT_FINDINGS if policy == "error" and (fails or stale) else EXIT_OK
    return Verdict(code, failing, policy, level, ignored, stale)


def _npm_at_or_above(severity: str, level: str) -> bool:
    # npm counts "info" below "low" and has no "none" level (nothing fails at "none").
    return severity in LEVEL_RANK and severity != "none" and LEVEL_RANK[severity] >= LEVEL_RANK[level]
