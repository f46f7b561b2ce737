"""``--format github``: GitHub Actions workflow commands, one annotation per finding at its lockfile line.

``::error`` for the findings that fail the run (malicious packages always), ``::warning`` for those
below the audit level, ``::notice`` for ignored ones with their reason. GitHub shows only the first 10
annotations of each kind on a run's page, so the worst come first and a summary notice ends the output.
The Markdown summary for ``$GITHUB_STEP_SUMMARY`` is the ``markdown`` format, appended by the command
line (this format's ``step_summary`` in the format table).

Every value is escaped as GitHub's toolkit escapes it: a package name or an advisory title holding a
newline could otherwise start a workflow command of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from npmaudit import TYPE_CHECKING
from npmaudit.report.ci_common import (
    advisory_lines,
    all_source_facts,
    failing_keys,
    ignore_note,
    ordered,
    package_label,
    place_of,
)
from npmaudit.report.safe_text import neutralise

if TYPE_CHECKING:
    from npmaudit.auditing.engine import Finding
    from npmaudit.auditing.run import AuditOutcome, ProjectFailure, RecursiveOutcome

MAX_INSTALL_PATHS = 5


def render(outcome: AuditOutcome, *, color: bool = False) -> str:
    return _render([outcome], [], outcome.verdict.passed)


def render_recursive(scan: RecursiveOutcome, *, color: bool = False) -> str:
    return _render(scan.outcomes, scan.failures, scan.exit_code == 0)


def _render(outcomes: Sequence[AuditOutcome], failures: Sequence[ProjectFailure], passed: bool) -> str:
    commands: list[tuple[int, str]] = []
    for outcome in outcomes:
        failing = failing_keys(outcome)
        for finding in ordered(outcome.result.findings):
            rule = outcome.ignores.rule_for(finding)
            if rule is not None:
                kind, body = "notice", f"{ignore_note(rule)}\n"
            elif (finding.package, finding.id) in failing or finding.malicious:
                kind, body = "error", ""
            else:
                kind, body = "warning", f"below the audit level {outcome.verdict.level}\n"
            commands.append((_ORDER[kind], _annotation(kind, outcome, finding, body)))
    for failure in failures:
        commands.append((_ORDER["error"], _command("error", {"title": "npmaudit: not audited"}, str(failure.error))))
    commands.sort(key=lambda command: command[0])  # stable: malicious and severe first within each kind
    lines = [command for _, command in commands]
    lines.append(_command("notice", {"title": "npmaudit summary"}, _summary(outcomes, failures, passed)))
    return "\n".join(lines) + "\n"


_ORDER = {"error": 0, "warning": 1, "notice": 2}


def _annotation(kind: str, outcome: AuditOutcome, finding: Finding, note: str) -> str:
    place = place_of(outcome, finding.nodes[0])
    properties = {"file": place.file}
    if place.line is not None:
        properties["line"] = str(place.line)
    label = neutralise(package_label(finding))
    marker = "MALICIOUS package" if finding.malicious else finding.severity.value
    properties["title"] = f"{marker} {label}: {finding.id}"
    lines = advisory_lines(finding)
    shown = finding.locations[:MAX_INSTALL_PATHS]
    more = f" (+{len(finding.locations) - len(shown)} more)" if len(finding.locations) > len(shown) else ""
    lines.append(f"installed at: {', '.join(neutralise(location) for location in shown)}{more}")
    return _command(kind, properties, "\n".join(lines) + ("\n" + note.rstrip("\n") if note else ""))


def _summary(outcomes: Sequence[AuditOutcome], failures: Sequence[ProjectFailure], passed: bool) -> str:
    findings = sum(len(o.result.findings) for o in outcomes)
    failing = sum(len(o.verdict.failing) for o in outcomes)
    ignored = sum(len(o.verdict.ignored) for o in outcomes)
    malicious = len(
        {(o.result.project.lockfile, f.package) for o in outcomes for f in o.result.findings if f.malicious}
    )
    level = outcomes[0].verdict.level if outcomes else "low"
    lines = [
        f"{'passed' if passed else 'FAILED'}: {findings} findings in {len(outcomes)} project(s), {failing} at or above "
        f"{level}, {ignored} ignored, {malicious} malicious package(s)"
        + (f"; {len(failures)} project(s) could not be audited" if failures else "")
    ]
    for facts in all_source_facts(outcomes):
        lines.append(f"source: {neutralise(facts.text)}")
    return "\n".join(lines)


def _command(kind: str, properties: dict[str, str], message: str) -> str:
    rendered = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
    return f"::{kind} {rendered}::{_escape_data(message)}" if rendered else f"::{kind}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
