"""``--format markdown``: a pull-request comment (and GitHub's job summary).

A headline with the verdict, a table of findings (malicious packages first, then by severity), the
details of each finding folded under ``<details>``, the ignored findings with their reasons, and the
sources with their database age. A hidden marker lets a bot find and update its previous comment.
GitHub refuses comments over 65,536 characters: past that the details, then table rows, are cut and
the comment says how many were left out.

Everything that comes from a lockfile or an advisory is escaped: a package name is untrusted text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from npmaudit import TYPE_CHECKING
from npmaudit.report.ci_common import (
    MALICIOUS_ACTION,
    all_source_facts,
    failing_keys,
    ignore_note,
    ordered,
    package_label,
    place_of,
)
from npmaudit.report.common import chain_labels
from npmaudit.report.safe_text import neutralise

if TYPE_CHECKING:
    from npmaudit.auditing.engine import Finding
    from npmaudit.auditing.run import AuditOutcome, ProjectFailure, RecursiveOutcome

MARKER = "<!-- npmaudit -->"
COMMENT_LIMIT = 65_536
MAX_PATHS = 3


def render(outcome: AuditOutcome, *, color: bool = False) -> str:
    return _fit([outcome], [], outcome.verdict.passed, COMMENT_LIMIT)


def render_recursive(scan: RecursiveOutcome, *, color: bool = False) -> str:
    return _fit(scan.outcomes, scan.failures, scan.exit_code == 0, COMMENT_LIMIT)


def _fit(outcomes: Sequence[AuditOutcome], failures: Sequence[ProjectFailure], passed: bool, limit: int) -> str:
    """The comment with as much detail as fits: first details go, then table rows."""
    total = sum(len(o.result.findings) for o in outcomes)
    for details, rows in ((total, total), *((0, n) for n in _shrinking(total))):
        text = document(outcomes, failures, passed, max_details=details, max_rows=rows)
        if len(text) <= limit:
            return text
    return document(outcomes, failures, passed, max_details=0, max_rows=0)


def _shrinking(total: int) -> list[int]:
    sizes, size = [], total
    while size > 0:
        sizes.append(size)
        size //= 2
    return sizes


def document(
    outcomes: Sequence[AuditOutcome],
    failures: Sequence[ProjectFailure],
    passed: bool,
    *,
    max_details: int,
    max_rows: int,
) -> str:
    lines = [MARKER, _headline(outcomes, failures, passed), ""]
    recursive = len(outcomes) + len(failures) > 1
    rows_left, details_left = max_rows, max_details
    for outcome in outcomes:
        if recursive:
            lines.append(f"### {_md(str(outcome.result.project.lockfile))}")
            lines.append("")
        section, rows_left, details_left = _project(outcome, rows_left, details_left)
        lines.extend(section)
    for failure in failures:
        lines.append(f"### {_md(str(failure.directory))}")
        lines.append("")
        lines.append(f"Not audited: {_md(str(failure.error))}")
        lines.append("")
    shown = max_rows - rows_left
    total = sum(len(o.result.findings) for o in outcomes)
    if shown < total:
        lines.append(f"_{total - shown} more findings left out to fit a comment: see the full report._")
        lines.append("")
    elif max_details < total:
        lines.append("_Details left out to fit a comment: see the full report._")
        lines.append("")
    lines.extend(_sources(outcomes))
    return "\n".join(lines).rstrip("\n") + "\n"


def _headline(outcomes: Sequence[AuditOutcome], failures: Sequence[ProjectFailure], passed: bool) -> str:
    findings = [f for o in outcomes for f in o.result.findings]
    malicious = len(
        {(o.result.project.lockfile, f.package) for o in outcomes for f in o.result.findings if f.malicious}
    )
    failing = sum(len(o.verdict.failing) for o in outcomes)
    ignored = sum(len(o.verdict.ignored) for o in outcomes)
    level = outcomes[0].verdict.level if outcomes else "low"
    state = "✅ passed" if passed else "❌ failed"
    parts = [f"{len(findings)} findings", f"{failing} at or above {level}"]
    if malicious:
        parts.insert(0, f"**{malicious} malicious package{'s' if malicious != 1 else ''}**")
    if ignored:
        parts.append(f"{ignored} ignored")
    if failures:
        parts.append(f"{len(failures)} project(s) not audited")
    return f"## npmaudit: {state} — {', '.join(parts)}"


def _project(outcome: AuditOutcome, rows_left: int, details_left: int) -> tuple[list[str], int, int]:
    result = outcome.result
    findings = ordered(result.findings)
    failing = failing_keys(outcome)
    lockfile = _code(str(result.project.lockfile))
    lines = [f"{result.audited} packages audited in `{lockfile}` ({result.project.lockfile_format})."]
    lines.append("")
    counted = [f for f in findings if outcome.ignores.rule_for(f) is None]
    ignored = [f for f in findings if outcome.ignores.rule_for(f) is not None]
    if counted:
        lines.append("| | Severity | Package | Advisory | Fixed in | Lockfile |")
        lines.append("|---|---|---|---|---|---|")
        for finding in counted:
            if rows_left <= 0:
                break
            rows_left -= 1
            lines.append(_row(outcome, finding, (finding.package, finding.id) in failing))
        lines.append("")
        for finding in counted:
            if details_left <= 0:
                break
            details_left -= 1
            lines.extend(_details(outcome, finding))
    elif not ignored:
        lines.append("No known vulnerable or malicious packages.")
        lines.append("")
    if ignored:
        lines.append(f"<details><summary>Ignored ({len(ignored)})</summary>")
        lines.append("")
        for finding in ignored:
            if rows_left <= 0:
                break
            rows_left -= 1
            rule = outcome.ignores.rule_for(finding)
            assert rule is not None
            lines.append(f"- {_md(package_label(finding))} {_md(finding.id)}: {_md(ignore_note(rule))}")
        lines.append("")
        lines.append("</details>")
        lines.append("")
    states = [s for s in outcome.ignores.states if s.state != "active"]
    if states:
        lines.append("Ignores to review:")
        lines.append("")
        for state in states:
            rule = state.rule
            lines.append(f"- {state.state}: {_md(rule.label)} ({_md(rule.where)})")
        lines.append("")
    return lines, rows_left, details_left


def _row(outcome: AuditOutcome, finding: Finding, fails: bool) -> str:
    icon = "☠️" if finding.malicious else ("❌" if fails else "⚠️")
    severity = "**MALICIOUS**" if finding.malicious else finding.severity.value
    advisory = f"[{_md(finding.id)}]({finding.advisory.url})" if _linkable(finding.advisory.url) else _md(finding.id)
    fixed = "remove it" if finding.malicious else (", ".join(_md(v) for v in finding.fixed_in) or "—")
    place = place_of(outcome, finding.nodes[0])
    where = f"{_md(place.file)}:{place.line}" if place.line is not None else _md(place.file)
    cells = [icon, severity, f"`{_code(package_label(finding))}`", advisory, fixed, where]
    return "| " + " | ".join(cells) + " |"


def _details(outcome: AuditOutcome, finding: Finding) -> list[str]:
    summary = html.escape(neutralise(finding.advisory.summary or "(no summary)"))
    head = html.escape(neutralise(f"{package_label(finding)} — {finding.id}"))
    lines = [f"<details><summary>{head}: {summary}</summary>", ""]
    if finding.aliases:
        lines.append(f"- Also known as: {_md(', '.join(finding.aliases))}")
    if finding.malicious:
        lines.append(f"- Action: {MALICIOUS_ACTION}")
    elif finding.fixed_in:
        lines.append(f"- Fix: upgrade to {_md(' or '.join(finding.fixed_in))}")
    else:
        lines.append("- Fix: no fixed version named by the advisory")
    nodes = finding.nodes[:MAX_PATHS]
    for node in nodes:
        place = place_of(outcome, node)
        line = f" (line {place.line})" if place.line is not None else ""
        chain = " › ".join(chain_labels(outcome.result, node))
        lines.append(f"- `{_code(node.location)}`{line}: {_md(chain)}")
    if len(finding.nodes) > len(nodes):
        lines.append(f"- +{len(finding.nodes) - len(nodes)} more install paths")
    lines.append("")
    lines.append("</details>")
    lines.append("")
    return lines


def _sources(outcomes: Sequence[AuditOutcome]) -> list[str]:
    facts = all_source_facts(outcomes)
    if not facts:
        return []
    return ["Sources: " + "; ".join(_md(f.text) for f in facts)]


def _linkable(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("https://", "http://")) and not any(c in str(url) for c in " ()<>")


_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]|#~!"})


def _md(text: str) -> str:
    """Untrusted text as literal Markdown: no emphasis, links, tables or HTML of its own."""
    return html.escape(neutralise(text), quote=False).translate(_MD_SPECIAL)


def _code(text: str) -> str:
    """Text for inside a code span: a backtick or a table pipe in it would end the span or the cell."""
    return neutralise(text).replace("`", "'").replace("|", "¦")
