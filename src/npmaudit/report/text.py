"""``--format text``: the human report. Malicious packages are impossible to miss; every line of
advisory text is neutralised; colour only when asked (a TTY without NO_COLOR)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from npmaudit.advisories.model import Severity
from npmaudit.auditing.engine import describe_unchecked
from npmaudit.auditing.freshness import data_age
from npmaudit.report.common import by_package, chain_labels, not_checked_by_reason, summarize, worst
from npmaudit.report.safe_text import neutralise

if TYPE_CHECKING:
    from npmaudit.auditing.engine import Finding
    from npmaudit.auditing.run import AuditOutcome, RecursiveOutcome

MAX_LOCATIONS = 5

_COLORS = {
    Severity.CRITICAL: "\x1b[1;35m",
    Severity.HIGH: "\x1b[1;31m",
    Severity.UNKNOWN: "\x1b[1;31m",
    Severity.MODERATE: "\x1b[1;33m",
    Severity.LOW: "\x1b[1m",
    Severity.INFO: "\x1b[1m",
}
_MALICIOUS_COLOR = "\x1b[1;97;41m"
_RESET = "\x1b[0m"


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text


def render(outcome: AuditOutcome, *, color: bool = False) -> str:
    paint = _Painter(color)
    result = outcome.result
    lines: list[str] = []
    project = result.project
    lines.append(f"{project.lockfile} ({project.lockfile_format}): {result.audited} packages audited")
    lines.append("")
    for findings in by_package(result.findings).values():
        lines.extend(_package_block(outcome, findings, paint))
        lines.append("")
    lines.extend(_footer(outcome, paint))
    return "\n".join(lines) + "\n"


def _package_block(outcome: AuditOutcome, findings: list[Finding], paint: _Painter) -> list[str]:
    first = findings[0]
    severity = worst(findings)
    malicious = any(f.malicious for f in findings)
    head = neutralise(f"{first.name}@{first.version}")  # names come from the lockfile: untrusted text
    if malicious:
        header = f"{paint('MALICIOUS', _MALICIOUS_COLOR)} {head}  {paint(severity.value, _COLORS[severity])}"
    else:
        header = f"{head}  {paint(severity.value, _COLORS[severity])}"
    lines = [header]
    for finding in findings:
        aliases = f" ({', '.join(finding.aliases)})" if finding.aliases else ""
        summary = finding.advisory.summary or "(no summary)"
        marker = "MALICIOUS " if finding.malicious else ""
        lines.append(f"  {marker}{neutralise(finding.id + aliases)}: {neutralise(summary)}  [{finding.severity.value}]")
        if finding.advisory.url:
            lines.append(f"    {neutralise(finding.advisory.url)}")
        if finding.malicious:
            lines.append(
                "    action: remove it; treat the machines that installed it as compromised "
                "(rotate the secrets they held)"
            )
        elif finding.fixed_in:
            lines.append(f"    fix: upgrade to {' or '.join(neutralise(v) for v in finding.fixed_in)}")
        else:
            lines.append("    fix: no fixed version named by the advisory")
    nodes = first.nodes
    shown = nodes[:MAX_LOCATIONS]
    more = f" (+{len(nodes) - len(shown)} more)" if len(nodes) > len(shown) else ""
    lines.append(f"  installed at: {', '.join(neutralise(n.location) for n in shown)}{more}")
    for node in nodes:
        if node.provenance:  # a tarball: its name and version are only what the file claims
            origin = f" ({neutralise(node.resolved)})" if node.resolved else ""
            lines.append(f"  source of {neutralise(node.location)}: {node.provenance}{origin}")
    for node in shown:
        lines.append(f"  why: {' > '.join(neutralise(label) for label in chain_labels(outcome.result, node))}")
    return lines


def _footer(outcome: AuditOutcome, paint: _Painter) -> list[str]:
    result = outcome.result
    summary = summarize(result)
    lines = []
    if summary.findings:
        counts = ", ".join(f"{n} {level}" for level, n in summary.by_severity.items() if n)
        malicious = f" ({summary.malicious_packages} malicious)" if summary.malicious_packages else ""
        packages = _count(summary.packages, "vulnerable package")
        lines.append(f"{packages}{malicious}, {_count(summary.findings, 'finding')}: {counts}")
    else:
        lines.append("no known vulnerable or malicious packages found")
    if summary.not_checked:
        reasons = not_checked_by_reason(result)
        counts = "; ".join(f"{len(nodes)} {reason}" for reason, nodes in reasons.items())
        lines.append(f"not checked: {_count(summary.not_checked, 'package')}: {counts}")
        for node in result.unreadable_versions:
            lines.append(f"  not checked: {neutralise(describe_unchecked(node))}")
    if summary.omitted:
        lines.append(
            f"omitted: {_count(summary.omitted, 'package')} (--omit {','.join(sorted(outcome.settings.omit))})"
        )
    for source in result.sources:
        details = []
        if source.records is not None:
            details.append(f"{source.records} records")
        age = data_age(source)
        if age is not None:
            details.append(age.describe())
        if source.newest_modified and (age is None or age.since != source.newest_modified):
            details.append(f"newest record modified {source.newest_modified}")
        suffix = f" ({'; '.join(details)})" if details else ""
        lines.append(f"source: {source.kind} {neutralise(source.location)}{suffix}")
    verdict = outcome.verdict
    if verdict.policy == "error":
        state = "FAILED" if not verdict.passed else "passed"
        lines.append(
            f"policy error, audit level {verdict.level}: {state} "
            f"({len(verdict.failing)} findings at or above {verdict.level})"
        )
    else:
        lines.append(f"policy {verdict.policy}: findings are reported, the run passes")
    return lines


def render_recursive(scan: RecursiveOutcome, *, color: bool = False) -> str:
    sections = []
    for outcome in scan.outcomes:
        sections.append(f"== {outcome.result.project.directory} ==\n" + render(outcome, color=color))
    for failure in scan.failures:
        sections.append(f"== {failure.directory} ==\nnot audited: {neutralise(str(failure.error))}\n")
    failed = sum(1 for o in scan.outcomes if not o.verdict.passed)
    sections.append(
        f"{len(scan.outcomes) + len(scan.failures)} projects: {len(scan.outcomes)} audited, "
        f"{failed} failed the policy, {len(scan.failures)} could not be read\n"
    )
    return "\n".join(sections)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
