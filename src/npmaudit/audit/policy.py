"""From findings to an exit code: the policy (error, warn, off) and the failure level.

``--audit-level`` only moves the failure threshold; it never hides a finding from the report, as in
npm. Under ``warn`` findings are reported and the run passes; ``off`` skips the check entirely.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from npmaudit.advisories.model import Severity
from npmaudit.audit.engine import Finding
from npmaudit.errors import EXIT_FINDINGS, EXIT_OK

LEVEL_RANK = {"info": 0, "low": 1, "moderate": 2, "high": 3, "critical": 4, "none": 5}


@dataclass(frozen=True)
class Verdict:
    exit_code: int
    failing: tuple[Finding, ...]  # the findings at or above the level
    policy: str
    level: str

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_OK


def at_or_above(severity: Severity, level: str) -> bool:
    return severity.rank >= LEVEL_RANK[level]


def judge(findings: Iterable[Finding], policy: str, level: str) -> Verdict:
    failing = tuple(f for f in findings if at_or_above(f.severity, level))
    code = EXIT_FINDINGS if policy == "error" and failing else EXIT_OK
    return Verdict(code, failing, policy, level)
