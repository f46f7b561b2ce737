"""``--format text``: the human report. Malicious packages are impossible to miss: a banner naming
each one right under the first line, their blocks before all others, and the summary line names them
again. Every line of advisory text is neutralised; colour only when asked (a TTY without NO_COLOR)."""

from __future__ import annotations

from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.advisories.model import Severity
from npmaudit.auditing.engine import describe_unchecked
from npmaudit.auditing.freshness import data_age
from npmaudit.report.ci_common import ignore_note
from npmaudit.report.common import (
    MaliciousPackage,
    Summary,
    by_package,
    chain_labels,
    count,
    malicious_packages,
    name_list,
    not_checked_by_reason,
    summarize,
    worst,
)
from npmaudit.report.safe_text import neutralise

if TYPE_CHECKING:
    from collections.abc import Iterator

    from npmaudit.auditing.engine import Finding
    from npmaudit.auditing.run import AuditOutcome, RecursiveOutcome

MAX_LOCATIONS = 5  # install paths (and their chains) shown per package; the rest are counted
MAX_NAMED = 10  # malicious packages named on a summary line; the banner names every one

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
    summary = summarize(result)
    lines: list[str] = []
    project = result.project
    lines.append(
        f"{neutralise(str(project.lockfile))} ({project.lockfile_format}): {_counts(summary, outcome.settings.omit)}"
    )
    lines.extend(_malicious_banner(summary.malicious, paint))
    lines.append("")
    for findings in by_package(result.findings).values():
        lines.extend(_package_block(outcome, findings, paint))
        lines.append("")
    lines.extend(_footer(outcome, summary, paint))
    return "\n".join(lines) + "\n"


def _counts(summary: Summary, omit: frozenset[str]) -> str:
    """Every installed package once: audited + omitted + not checked = installed."""
    parts = [f"{summary.audited_installs} audited ({summary.audited} distinct name@version)"]
    if summary.omitted or omit:
        parts.append(f"{summary.omitted} omitted (--omit {','.join(sorted(omit))})")
    if summary.not_checked:
        parts.append(f"{summary.not_checked} not checked")
    return f"{count(summary.installed, 'installed package')}: {', '.join(parts)}"


def _malicious_banner(malicious: tuple[MaliciousPackage, ...], paint: _Painter) -> list[str]:
    if not malicious:
        return []
    title = (
        f"MALICIOUS PACKAGES INSTALLED ({len(malicious)}): remove them and treat every machine that installed "
        "them as compromised (rotate the secrets it held)"
    )
    lines = [paint(title, _MALICIOUS_COLOR)]
    for package in malicious:
        where = neutralise(_locations(package.locations))
        lines.append(f"  {neutralise(str(package))} at {where} ({neutralise(', '.join(package.ids))})")
    return lines


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
        rule = outcome.ignores.rule_for(finding)
        if rule is not None:
            lines.append(f"    {neutralise(ignore_note(rule))} (not counted)")
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
    lines.append(f"  installed at: {', '.join(neutralise(n.location) for n in shown)}{_more(len(nodes), len(shown))}")
    for node in nodes:
        if node.provenance:  # a tarball: its name and version are only what the file claims
            origin = f" ({neutralise(node.resolved)})" if node.resolved else ""
            lines.append(f"  source of {neutralise(node.location)}: {node.provenance}{origin}")
    for node in shown:
        lines.append(f"  why: {' > '.join(neutralise(label) for label in chain_labels(outcome.result, node))}")
    if len(nodes) > len(shown):
        lines.append(f"  why: +{len(nodes) - len(shown)} more, one per install path (--format json lists every one)")
    return lines


def _locations(locations: tuple[str, ...]) -> str:
    shown = locations[:MAX_LOCATIONS]
    return ", ".join(shown) + _more(len(locations), len(shown))


def _more(total: int, shown: int) -> str:
    return f" (+{total - shown} more)" if total > shown else ""


def _footer(outcome: AuditOutcome, summary: Summary, paint: _Painter) -> list[str]:
    result = outcome.result
    lines = []
    if summary.findings:
        counts = ", ".join(f"{n} {level}" for level, n in summary.by_severity.items() if n)
        malicious = ""
        if summary.malicious:
            named = paint(neutralise(name_list(summary.malicious, MAX_NAMED)), _MALICIOUS_COLOR)
            malicious = f" ({summary.malicious_packages} malicious: {named})"
        packages = count(summary.packages, "vulnerable package")
        lines.append(f"{packages}{malicious}, {count(summary.findings, 'finding')}: {counts}")
    else:
        lines.append("no known vulnerable or malicious packages found")
    if summary.not_checked:
        reasons = not_checked_by_reason(result)
        counts = "; ".join(f"{len(nodes)} {reason}" for reason, nodes in reasons.items())
        lines.append(f"not checked: {count(summary.not_checked, 'package')}: {counts}")
        for node in result.unreadable_versions:
            lines.append(f"  not checked: {neutralise(describe_unchecked(node))}")
    if summary.omitted:
        omit = ",".join(sorted(outcome.settings.omit))
        lines.append(f"omitted: {count(summary.omitted, 'package')} (--omit {omit})")
    for source in result.sources:
        details = []
        if source.records is not None:
            details.append(f"{source.records} records")
        age = data_age(source, outcome.settings.now)
        if age is not None:
            details.append(age.describe())
        if source.newest_modified and (age is None or age.since != source.newest_modified):
            details.append(f"newest record modified {source.newest_modified}")
        suffix = f" ({'; '.join(details)})" if details else ""
        lines.append(f"source: {source.kind} {neutralise(source.location)}{suffix}")
    verdict = outcome.verdict
    if verdict.ignored:
        lines.append(f"ignored: {count(len(verdict.ignored), 'finding')} (reported, not counted)")
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
    """The scan's summary first (what failed, where the malicious packages are), then one section
    per project, then the one-line total again."""
    sections = RecursiveSections(color=color)
    for outcome in scan.outcomes:
        sections.add(outcome)
    return sections.render(scan)


def recursive_writer() -> RecursiveSections:
    """The recursive report written project by project (report.RecursiveWriter), without colour: ``-r``
    hands each project's outcome to :meth:`RecursiveSections.add` as soon as it is audited and keeps
    none of them (the CLI asks for it only when no report goes to a colour terminal)."""
    return RecursiveSections()


class RecursiveSections:
    """The recursive report, each project's section written when the project is given: only its text
    and what the summary says of it are kept, never the project's findings and chains (which, kept for
    every project until the end, were 3 MB of a 200-project scan's peak)."""

    def __init__(self, *, color: bool = False) -> None:
        self._color = color
        self._paint = _Painter(color)
        self._sections: list[str] = []
        self._malicious: list[tuple[Path, str]] = []  # (project, its packages as the summary names them)
        self._failed: list[Path] = []

    def add(self, outcome: AuditOutcome) -> None:
        directory = outcome.result.project.directory
        self._sections.append(f"== {neutralise(str(directory))} ==\n" + render(outcome, color=self._color))
        malicious = malicious_packages(outcome.result.findings)
        if malicious:
            named = neutralise(", ".join(f"{p} ({_locations(p.locations)})" for p in malicious))
            self._malicious.append((directory, named))
        if not outcome.verdict.passed:
            self._failed.append(directory)

    def render(self, scan: RecursiveOutcome) -> str:
        return "".join(self.pieces(scan))

    def pieces(self, scan: RecursiveOutcome) -> Iterator[str]:
        """The report's text in pieces (each project's section as it was kept)."""
        yield "\n".join(self._summary(scan)) + "\n"
        for section in self._sections:
            yield "\n" + section
        for failure in scan.failures:
            yield f"\n== {neutralise(str(failure.directory))} ==\nnot audited: {neutralise(str(failure.error))}\n"
        yield "\n" + self._total(scan) + "\n"

    def _total(self, scan: RecursiveOutcome) -> str:
        audited = len(self._sections)
        return (
            f"{count(audited + len(scan.failures), 'project')}: {audited} audited, "
            f"{len(self._failed)} failed the policy, {len(scan.failures)} could not be read, "
            f"{len(self._malicious)} with malicious packages"
        )

    def _summary(self, scan: RecursiveOutcome) -> list[str]:
        lines = [f"{neutralise(str(scan.root))}: {self._total(scan)}"]
        for directory, named in self._malicious:
            where = neutralise(_relative(directory, scan.root))
            lines.append(f"{self._paint('MALICIOUS', _MALICIOUS_COLOR)} in {where}: {named}")
        if self._failed:
            lines.append(f"failed the policy: {neutralise(', '.join(_relative(d, scan.root) for d in self._failed))}")
        if scan.failures:
            unread = ", ".join(_relative(f.directory, scan.root) for f in scan.failures)
            lines.append(f"could not be read: {neutralise(unread)}")
        return lines


def _relative(directory: Path, root: Path) -> str:
    """A project's folder as the scan found it under its root (``.`` for the root itself)."""
    try:
        return str(directory.relative_to(root))
    except ValueError:
        return str(directory)
