"""Ignores: findings a team has accepted, each with a reason, an optional expiry and an optional scope.

An ignore names an advisory by any id of its group (a GHSA ignore covers its CVE and the OSV records
that alias it) and may narrow itself to a package, a version range and dependency paths. The rules,
as ``docs/ci.md`` states them for users:

- an expired ignore no longer applies, and the run says so with the entry's file and line;
- an ignore that hides nothing is *stale* (a warning; ``--strict-ignores`` fails the run);
- a malicious-package finding is hidden only by an ignore naming its exact package and version;
- an ignored finding is still reported everywhere, marked with its reason; it does not count for the
  exit code.

This module takes values (the findings, the rules, the clock) and returns values; reading the rules
from files is :mod:`npmaudit.auditing.ignore_files`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cached_property

from npmaudit import TYPE_CHECKING, semver
from npmaudit.project.model import PackageRef, Project
from npmaudit.records import field, record_class

if TYPE_CHECKING:
    from npmaudit.auditing.engine import Finding

ACTIVE = "active"
EXPIRED = "expired"
STALE = "stale"

# CycloneDX's VEX justifications (an ignored finding is "not_affected" for one of these reasons).
JUSTIFICATIONS = (
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
)
# A risk accepted after review, when the entry does not say why the code is not affected.
DEFAULT_JUSTIFICATION = "protected_by_mitigating_control"

PATH_STYLE_NPMAUDIT = "npmaudit"  # `a>*>c`: `*` is one name (a glob inside it), `**` any number of names
PATH_STYLE_AUDIT_CI = "audit-ci"  # audit-ci's: `*` is any text, `>` included


@record_class(frozen=True)
class IgnoreRule:
    """One ignore entry as declared. ``id`` None: every advisory of ``package`` (audit-ci's module records)."""

    id: str | None
    reason: str
    origin: str
    """Where it was declared: a file path, or the flag that gave it."""
    line: int | None = None
    expires: date | datetime | None = None
    """A date: the ignore stops applying on that day (00:00 UTC); a datetime: at that moment."""
    package: str | None = None
    version: str | None = None
    """A node-semver range; an exact version is a range too."""
    paths: tuple[str, ...] = ()
    path_style: str = PATH_STYLE_NPMAUDIT
    justification: str | None = None

    @property
    def where(self) -> str:
        return f"{self.origin}:{self.line}" if self.line is not None else self.origin

    @property
    def label(self) -> str:
        scope = [f"package {self.package}"] if self.package else []
        if self.version:
            scope.append(f"version {self.version}")
        if self.paths:
            scope.append(f"paths {', '.join(self.paths)}")
        name = self.id or "every advisory"
        return f"{name} ({'; '.join(scope)})" if scope else name

    @property
    def expires_text(self) -> str | None:
        if self.expires is None:
            return None
        return self.expires.isoformat()

    def expired(self, now: datetime) -> bool:
        if self.expires is None:
            return False
        if isinstance(self.expires, datetime):
            moment = self.expires if self.expires.tzinfo else self.expires.replace(tzinfo=UTC)
            return now >= moment
        return now.astimezone(UTC).date() >= self.expires

    @property
    def names_exact_version(self) -> bool:
        """Whether it names one package version exactly: the only kind of ignore that may hide malware."""
        return bool(self.package and self.version and semver.valid(self.version, loose=True))

    @cached_property
    def _path_patterns(self) -> tuple[_PathPattern, ...]:
        return tuple(_PathPattern(text, self.path_style) for text in self.paths)

    def matches_path(self, names: Sequence[str]) -> bool:
        return any(pattern.matches(names) for pattern in self._path_patterns)

    def matches_advisory(self, finding: Finding) -> bool:
        if self.id is not None and self.id.upper() not in finding_ids(finding):
            return False
        if self.package is not None and self.package != finding.name:
            return False
        return self.version is None or semver.satisfies(finding.version, self.version, **semver.ADVISORY_OPTIONS)


class _PathPattern:
    def __init__(self, text: str, style: str) -> None:
        self.text = text
        self.style = style
        if style == PATH_STYLE_AUDIT_CI:
            self.regex: re.Pattern[str] | None = re.compile(
                "^" + ".*".join(re.escape(part) for part in text.split("*")) + "$"
            )
            self.segments: tuple[str, ...] = ()
        else:
            self.regex = None
            self.segments = tuple(segment.strip() for segment in text.split(">"))

    def matches(self, names: Sequence[str]) -> bool:
        if self.regex is not None:
            return self.regex.match(">".join(names)) is not None
        return _match_segments(self.segments, tuple(names))


def _match_segments(patterns: tuple[str, ...], names: tuple[str, ...]) -> bool:
    if not patterns:
        return not names
    head, rest = patterns[0], patterns[1:]
    if head == "**":
        return any(_match_segments(rest, names[skip:]) for skip in range(len(names) + 1))
    return bool(names) and fnmatch.fnmatchcase(names[0], head) and _match_segments(rest, names[1:])


def finding_ids(finding: Finding) -> frozenset[str]:
    """Every id of the finding's advisory group, upper-cased (ids are compared without case)."""
    return frozenset(identifier.upper() for identifier in (finding.id, *finding.aliases))


def finding_key(finding: Finding) -> tuple[PackageRef, str]:
    return (finding.package, finding.id)


def dependency_path(project: Project, location: str) -> tuple[str, ...]:
    """The package names from the root's dependency down to the node (``a>b>c``), the root left out."""
    return tuple(node.name for node in project.chain(location)[1:])


@record_class(frozen=True)
class RuleState:
    """What became of one rule in a run: ``active`` (it hid something), ``expired``, or ``stale``."""

    rule: IgnoreRule
    state: str
    hidden: tuple[str, ...] = ()
    """The findings it hid, as ``name@version id``."""
    would_hide: tuple[str, ...] = ()
    """For an expired rule: the findings it would still hide."""


@record_class(frozen=True)
class IgnoreReport:
    """The ignores applied to one project's findings."""

    hidden: Mapping[tuple[PackageRef, str], IgnoreRule] = field(default_factory=dict)
    states: tuple[RuleState, ...] = ()
    warnings: tuple[str, ...] = ()
    """Ignores that matched part of a finding, or a malicious one they may not hide."""

    def rule_for(self, finding: Finding) -> IgnoreRule | None:
        """The rule hiding ``finding``; None when it counts."""
        return self.hidden.get(finding_key(finding))

    def is_ignored(self, finding: Finding) -> bool:
        return finding_key(finding) in self.hidden

    def stale(self) -> tuple[RuleState, ...]:
        return tuple(state for state in self.states if state.state == STALE)


NO_IGNORES = IgnoreReport()


def apply_ignores(
    findings: Iterable[Finding], rules: Sequence[IgnoreRule], project: Project, now: datetime
) -> IgnoreReport:
    """Decide which findings the rules hide, and what became of each rule.

    The first unexpired rule (in declaration order) that covers a finding hides it. A rule with paths
    covers a finding only when every install path of it matches (audit-ci's rule): a package reached
    through one accepted path and one unreviewed path still counts.
    """
    if not rules:
        return NO_IGNORES
    live = {index for index, rule in enumerate(rules) if not rule.expired(now)}
    hidden: dict[tuple[PackageRef, str], IgnoreRule] = {}
    hid: dict[int, list[str]] = {}
    would: dict[int, list[str]] = {}
    warnings: list[str] = []
    for finding in findings:
        label = f"{finding.name}@{finding.version} {finding.id}"
        for index, rule in enumerate(rules):
            if not rule.matches_advisory(finding):
                continue
            if index not in live:
                would.setdefault(index, []).append(label)
                continue
            if rule.paths:
                paths = [dependency_path(project, node.location) for node in finding.nodes]
                uncovered = [path for path in paths if not rule.matches_path(path)]
                if len(uncovered) == len(paths):
                    continue
                if uncovered:
                    shown = ", ".join(">".join(path) for path in uncovered[:3])
                    more = f" and {len(uncovered) - 3} more" if len(uncovered) > 3 else ""
                    warnings.append(
                        f"{rule.where}: ignore {rule.label} covers {len(paths) - len(uncovered)} of {len(paths)} "
                        f"paths of {label}; it still counts (not covered: {shown}{more})"
                    )
                    continue
            if finding.malicious and not rule.names_exact_version:
                warnings.append(
                    f"{rule.where}: ignore {rule.label} cannot hide the malicious package {label}: only an ignore "
                    "naming its exact package and version can"
                )
                continue
            hidden[finding_key(finding)] = rule
            hid.setdefault(index, []).append(label)
            break
    states = []
    for index, rule in enumerate(rules):
        if index not in live:
            states.append(RuleState(rule, EXPIRED, would_hide=tuple(would.get(index, ()))))
        elif index in hid:
            states.append(RuleState(rule, ACTIVE, hidden=tuple(hid[index])))
        else:
            states.append(RuleState(rule, STALE))
    return IgnoreReport(hidden, tuple(states), tuple(dict.fromkeys(warnings)))


def merge_states(reports: Sequence[IgnoreReport]) -> tuple[RuleState, ...]:
    """The rules' states over several projects (``-r``): active if any project used it, stale if none did."""
    if not reports:
        return ()
    merged = []
    for per_project in zip(*(report.states for report in reports if report.states), strict=True):
        first = per_project[0]
        hidden = tuple(label for state in per_project for label in state.hidden)
        would = tuple(label for state in per_project for label in state.would_hide)
        if first.state == EXPIRED:
            merged.append(RuleState(first.rule, EXPIRED, would_hide=would))
        else:
            merged.append(RuleState(first.rule, ACTIVE if hidden else STALE, hidden=hidden))
    return tuple(merged)


def state_messages(states: Iterable[RuleState], *, strict: bool) -> list[str]:
    """One line for each expired or stale rule, naming the entry's file and line."""
    messages = []
    for state in states:
        rule = state.rule
        if state.state == EXPIRED:
            still = f"; its findings count again: {', '.join(state.would_hide)}" if state.would_hide else ""
            messages.append(
                f"{rule.where}: ignore {rule.label} expired on {rule.expires_text}: it no longer applies{still}"
            )
        elif state.state == STALE:
            consequence = "--strict-ignores fails the run" if strict else "remove it, or check its id and scope"
            messages.append(f"{rule.where}: ignore {rule.label} hides no finding (stale): {consequence}")
    return messages
