"""What the CI formats (SARIF, workflow annotations, Markdown, CycloneDX, JUnit) say the same way.

Their order (malicious first, then by severity), a finding's place in its lockfile, the score GitHub
ranks by, how an ignore is described, and the sources with their database age. Each format module
renders these facts in its own syntax and decides nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from npmaudit import TYPE_CHECKING, clock
from npmaudit.advisories.model import Severity
from npmaudit.auditing.freshness import DataAge, data_age
from npmaudit.auditing.ignores import IgnoreRule, finding_key
from npmaudit.records import record_class
from npmaudit.report.safe_text import neutralise

if TYPE_CHECKING:
    from typing import Any

    from npmaudit.auditing.engine import AuditResult, Finding
    from npmaudit.auditing.run import AuditOutcome
    from npmaudit.project.model import Node

# A representative score per level for advisories without a CVSS vector, inside GitHub's bands
# (critical > 9.0, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9). Unscored counts as high, as in the verdict.
FALLBACK_SCORES = {
    Severity.CRITICAL: 9.5,
    Severity.HIGH: 8.0,
    Severity.UNKNOWN: 8.0,
    Severity.MODERATE: 5.5,
    Severity.LOW: 2.0,
    Severity.INFO: 0.0,
}
MALICIOUS_SCORE = 10.0
MALICIOUS_ACTION = "remove it and treat every machine that installed it as compromised (rotate the secrets it held)"


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Malicious packages first, then by severity (worst first), then by name, version and id."""
    return sorted(findings, key=lambda f: (not f.malicious, -f.severity.rank, f.name, f.version, f.id))


def cvss_score(finding: Finding) -> float | None:
    """The highest CVSS base score among the finding's records; None when none has a readable vector."""
    scores = [score for score in (_base_score(r.cvss_vector) for r in finding.records if r.cvss_vector) if score]
    return max(scores) if scores else None


def _base_score(vector: str | None) -> float | None:
    if not vector:
        return None
    import cvss  # only the formats that rank by score need it

    try:
        if vector.startswith("CVSS:4"):
            return float(cvss.CVSS4(vector).base_score)
        if vector.startswith("CVSS:3"):
            return float(cvss.CVSS3(vector).base_score)
        return float(cvss.CVSS2(vector).base_score)
    except Exception:  # the library raises several unrelated types for malformed vectors
        return None


def score(finding: Finding) -> float:
    """The 0-10 score GitHub ranks a finding by: 10 for malware, the CVSS base score, else the level's."""
    if finding.malicious:
        return MALICIOUS_SCORE
    measured = cvss_score(finding)
    return measured if measured is not None else FALLBACK_SCORES[finding.severity]


def display_path(path: Path) -> str:
    """A path as CI systems want it: relative to the working directory (the checkout) when inside it."""
    if path.is_absolute():
        try:
            return Path(os.path.relpath(path, Path.cwd())).as_posix() if path.is_relative_to(Path.cwd()) else str(path)
        except ValueError:
            return str(path)
    return path.as_posix()


@record_class(frozen=True)
class Place:
    file: str  # as display_path gives it
    line: int | None


def place_of(outcome: AuditOutcome, node: Node) -> Place:
    """Where ``node``'s entry is: its lockfile line when the run located it, else the lockfile alone."""
    places = outcome.places or {}
    found = places.get(node.location)
    if found is not None:
        return Place(display_path(found.file), found.line)
    return Place(display_path(outcome.result.project.lockfile), None)


def first_place(outcome: AuditOutcome, finding: Finding) -> Place:
    return place_of(outcome, finding.nodes[0])


def ignore_rule(outcome: AuditOutcome, finding: Finding) -> IgnoreRule | None:
    return outcome.ignores.rule_for(finding)


def ignore_note(rule: IgnoreRule) -> str:
    """``ignored: <reason> (until 2026-03-31; .npmaudit.toml:12)``."""
    details = [f"until {rule.expires_text}"] if rule.expires is not None else []
    details.append(rule.where)
    return f"ignored: {rule.reason} ({'; '.join(details)})"


def ignore_json(rule: IgnoreRule) -> dict[str, Any]:
    """The ``ignored`` object of a finding, as every JSON format writes it."""
    return {
        "reason": rule.reason,
        "expires": rule.expires_text,
        "origin": rule.origin,
        "line": rule.line,
        "rule": rule.label,
    }


def is_failing(outcome: AuditOutcome, finding: Finding) -> bool:
    """At or above the audit level and not ignored (the findings the verdict counts)."""
    key = finding_key(finding)
    return any(finding_key(f) == key for f in outcome.verdict.failing)


def failing_keys(outcome: AuditOutcome) -> set[tuple[Any, str]]:
    return {finding_key(f) for f in outcome.verdict.failing}


@record_class(frozen=True)
class SourceFacts:
    kind: str
    location: str
    records: int | None
    newest_modified: str | None
    age: DataAge | None  # a local database's data age (freshness.py); None for live online sources

    @property
    def age_days(self) -> float | None:
        return self.age.days if self.age is not None else None

    @property
    def text(self) -> str:
        """``sqlite /path/advisories.sqlite (215000 records; last synced 2026-01-09T00:00:00Z, 1.0 days old)``."""
        details = []
        if self.records is not None:
            details.append(f"{self.records} records")
        if self.age is not None:
            details.append(self.age.describe())
        elif self.newest_modified:
            details.append(f"newest record modified {self.newest_modified}")
        return f"{self.kind} {self.location}" + (f" ({'; '.join(details)})" if details else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "location": self.location,
            "records": self.records,
            "newestModified": self.newest_modified,
            "dataAge": None if self.age is None else self.age.to_json(),
            "databaseAgeDays": None if self.age is None else round(self.age.days, 2),
        }


def source_facts(result: AuditResult, now: datetime | None = None) -> list[SourceFacts]:
    """Each source used, with the age of its database's data (None for live online sources)."""
    moment = clock.moment(now)
    return [
        SourceFacts(info.kind, info.location, info.records, info.newest_modified, data_age(info, moment))
        for info in result.sources
    ]


def all_source_facts(outcomes: Sequence[AuditOutcome]) -> list[SourceFacts]:
    """The sources of several projects (``-r``), each once: they are opened once per run."""
    seen: dict[tuple[str, str], SourceFacts] = {}
    for outcome in outcomes:
        for facts in source_facts(outcome.result, outcome.settings.now):
            seen.setdefault((facts.kind, facts.location), facts)
    return list(seen.values())


def run_time(outcome_now: datetime | None) -> datetime:
    return clock.moment(outcome_now)


def advisory_lines(finding: Finding, *, say_no_fix: bool = True) -> list[str]:
    """What an annotation or a test failure says of a finding: summary, other ids, link, and the action
    or fix (neutralised: advisory text comes from strangers)."""
    lines = [neutralise(finding.advisory.summary or "(no summary)")]
    if finding.aliases:
        lines.append(f"also known as {', '.join(finding.aliases)}")
    if finding.advisory.url:
        lines.append(finding.advisory.url)
    if finding.malicious:
        lines.append(f"action: {MALICIOUS_ACTION}")
    elif finding.fixed_in:
        lines.append(f"fix: upgrade to {' or '.join(finding.fixed_in)}")
    elif say_no_fix:
        lines.append("fix: no fixed version named by the advisory")
    return lines


def package_label(finding: Finding) -> str:
    return f"{finding.name}@{finding.version}"


def level_word(severity: Severity) -> str:
    """GitHub's and CycloneDX's name for npm's ``moderate``."""
    return "medium" if severity is Severity.MODERATE else severity.value
