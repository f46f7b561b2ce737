"""``--format sarif``: SARIF 2.1.0 as GitHub code scanning takes it (``docs/ci.md``).

One run for the whole invocation (``-r`` included: GitHub keeps at most 20 runs a file), one rule per
advisory, one result per (advisory, lockfile, package version) located at the line of the package's
entry in its lockfile, so a pull request that adds a vulnerable version is annotated on the line it
adds. ``security-severity`` is the CVSS base score (10 for malware), malicious packages are errors,
and an ignored finding carries a SARIF suppression with its reason. GitHub's limits are kept: when a
file would exceed them the least severe results are left out and the run says how many.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from npmaudit import TYPE_CHECKING, __version__
from npmaudit.advisories.model import Severity
from npmaudit.records import record_class
from npmaudit.report.ci_common import (
    MALICIOUS_ACTION,
    all_source_facts,
    display_path,
    failing_keys,
    ignore_json,
    package_label,
    place_of,
    score,
)
from npmaudit.report.safe_text import neutralise

if TYPE_CHECKING:
    from typing import Any

    from npmaudit.auditing.engine import Finding
    from npmaudit.auditing.run import AuditOutcome, ProjectFailure, RecursiveOutcome

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


@record_class(frozen=True)
class Limits:
    """GitHub code scanning's upload limits (a file over any of them is rejected whole)."""

    results_per_run: int = 25_000
    rules_per_run: int = 25_000
    locations_per_result: int = 1_000
    tags_per_rule: int = 20
    gzip_bytes: int = 10 * 1024 * 1024


GITHUB_LIMITS = Limits()
RELATED_LOCATIONS = 100  # GitHub shows at most 100 locations of a result; more would only be dropped
TEXT_LIMIT = 1024  # shortDescription and fullDescription


def render(outcome: AuditOutcome, *, color: bool = False) -> str:
    return _serialise(fit([outcome], [], GITHUB_LIMITS))


def render_recursive(scan: RecursiveOutcome, *, color: bool = False) -> str:
    return _serialise(fit(scan.outcomes, scan.failures, GITHUB_LIMITS))


def _serialise(log: dict[str, Any]) -> str:
    return json.dumps(log, indent=1, ensure_ascii=False) + "\n"


def fit(outcomes: Sequence[AuditOutcome], failures: Sequence[ProjectFailure], limits: Limits) -> dict[str, Any]:
    """The SARIF log, within ``limits``: the most severe results are kept, and the run says what was left out."""
    entries = [(outcome, finding) for outcome in outcomes for finding in outcome.result.findings]
    entries.sort(key=lambda entry: _rank(entry[1]))
    keep = min(len(entries), limits.results_per_run)
    while True:
        log = document(outcomes, failures, entries[:keep], limits, left_out=len(entries) - keep)
        rules = log["runs"][0]["tool"]["driver"]["rules"]
        if len(rules) > limits.rules_per_run:
            keep = _fewer(keep, len(rules), limits.rules_per_run)
            continue
        size = len(gzip.compress(_serialise(log).encode("utf-8"), 6))
        if size <= limits.gzip_bytes or keep == 0:
            return log
        keep = _fewer(keep, size, limits.gzip_bytes)


def _fewer(keep: int, actual: int, allowed: int) -> int:
    """Shrink in proportion, and always by at least one, so the loop ends."""
    return max(0, min(keep - 1, int(keep * allowed / actual * 0.95)))


def _rank(finding: Finding) -> tuple[bool, float, str, str, str]:
    return (not finding.malicious, -score(finding), finding.name, finding.version, finding.id)


def document(
    outcomes: Sequence[AuditOutcome],
    failures: Sequence[ProjectFailure],
    entries: Sequence[tuple[AuditOutcome, Finding]],
    limits: Limits = GITHUB_LIMITS,
    *,
    left_out: int = 0,
) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    rule_index: dict[str, int] = {}
    results = []
    failing = {id(outcome): failing_keys(outcome) for outcome in outcomes}
    for outcome, finding in entries:
        if finding.id not in rule_index:
            rule_index[finding.id] = len(rules)
            rules[finding.id] = _rule(finding, limits)
        else:
            _raise_rule(rules[finding.id], finding)
        results.append(_result(outcome, finding, rule_index[finding.id], failing[id(outcome)]))
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "npmaudit",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": list(rules.values()),
            }
        },
        "automationDetails": {"id": _category(outcomes)},
        "invocations": [_invocation(outcomes, failures, left_out)],
        "results": results,
        "properties": _run_properties(outcomes),
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _rule(finding: Finding, limits: Limits) -> dict[str, Any]:
    advisory = finding.advisory
    summary = neutralise(advisory.summary or "")
    raw_details = advisory.record.get("details")
    details = raw_details if isinstance(raw_details, str) else ""
    short = f"{finding.id}: {summary}" if summary else finding.id
    tags = ["security", "dependency", "npm", "malicious" if finding.malicious else "vulnerability"]
    properties: dict[str, Any] = {
        "tags": tags[: limits.tags_per_rule],
        "precision": "very-high",
        "security-severity": f"{score(finding):.1f}",
        "npmaudit/severity": finding.severity.value,
    }
    if finding.aliases:
        properties["npmaudit/aliases"] = list(finding.aliases)
    rule: dict[str, Any] = {
        "id": finding.id,
        "name": _rule_name(finding),
        "shortDescription": {"text": _cut(short, TEXT_LIMIT)},
        "fullDescription": {"text": _cut(neutralise(details) or short, TEXT_LIMIT)},
        "help": {"text": _help_text(finding), "markdown": _help_markdown(finding)},
        "defaultConfiguration": {"level": _level(finding)},
        "properties": properties,
    }
    if advisory.url and advisory.url.startswith(("https://", "http://")):
        rule["helpUri"] = advisory.url
    return rule


def _raise_rule(rule: dict[str, Any], finding: Finding) -> None:
    """A rule is as severe as its worst result (the same advisory may be scored per package)."""
    if float(rule["properties"]["security-severity"]) < score(finding):
        rule["properties"]["security-severity"] = f"{score(finding):.1f}"
        rule["defaultConfiguration"]["level"] = _level(finding)


def _rule_name(finding: Finding) -> str:
    kind = "MaliciousPackage" if finding.malicious else "VulnerableDependency"
    return f"{kind}/{finding.id}"[:255]


def _help_text(finding: Finding) -> str:
    lines = [f"{finding.id}: {neutralise(finding.advisory.summary or '(no summary)')}"]
    if finding.aliases:
        lines.append(f"Also known as: {', '.join(finding.aliases)}")
    if finding.advisory.url:
        lines.append(f"Advisory: {finding.advisory.url}")
    lines.append(_action(finding))
    lines.append(_ignore_snippet(finding))
    return "\n".join(lines)


def _help_markdown(finding: Finding) -> str:
    title = neutralise(finding.advisory.summary or "(no summary)").replace("<", "&lt;").replace(">", "&gt;")
    lines = [f"**{finding.id}**: {title}", ""]
    if finding.aliases:
        lines.append(f"Also known as: {', '.join(finding.aliases)}")
        lines.append("")
    if finding.advisory.url:
        lines.append(f"Advisory: <{finding.advisory.url}>")
        lines.append("")
    lines.append(_action(finding))
    lines.append("")
    lines.append("To accept it, add to `.npmaudit.toml` (a reason is required):")
    lines.append("")
    lines.append("```toml")
    lines.append(_ignore_snippet(finding))
    lines.append("```")
    return "\n".join(lines)


def _action(finding: Finding) -> str:
    if finding.malicious:
        return f"Malicious package: {MALICIOUS_ACTION}."
    if finding.fixed_in:
        return f"Fix: upgrade {finding.name} to {' or '.join(finding.fixed_in)}."
    return "Fix: no fixed version is named by the advisory."


def _ignore_snippet(finding: Finding) -> str:
    scope = f'package = "{finding.name}"\nversion = "{finding.version}"\n' if finding.malicious else ""
    return f'[[ignore]]\nid = "{finding.id}"\n{scope}reason = "..."\nexpires = 2030-01-01'


def _level(finding: Finding) -> str:
    if finding.malicious or finding.severity in (Severity.CRITICAL, Severity.HIGH, Severity.UNKNOWN):
        return "error"
    return "warning" if finding.severity is Severity.MODERATE else "note"


def _result(outcome: AuditOutcome, finding: Finding, index: int, failing: set[Any]) -> dict[str, Any]:
    places = [place_of(outcome, node) for node in finding.nodes]
    primary = places[0]
    result: dict[str, Any] = {
        "ruleId": finding.id,
        "ruleIndex": index,
        "level": _level(finding),
        "message": {"text": _message(finding)},
        "locations": [_location(primary.file, primary.line)],
        "partialFingerprints": {"primaryLocationLineHash": _fingerprint(finding, primary.file)},
        "properties": {
            "package": finding.name,
            "version": finding.version,
            "installPaths": list(finding.locations),
            "severity": finding.severity.value,
            "malicious": finding.malicious,
            "fixedIn": list(finding.fixed_in),
            "failsTheRun": (finding.package, finding.id) in failing,
        },
    }
    related = []
    for number, (node, place) in enumerate(zip(finding.nodes[1:], places[1:], strict=True), 1):
        if number > RELATED_LOCATIONS:
            break
        location = _location(place.file, place.line)
        location["id"] = number
        location["message"] = {"text": f"also installed at {neutralise(node.location)}"}
        related.append(location)
    if related:
        result["relatedLocations"] = related
    rule = outcome.ignores.rule_for(finding)
    if rule is not None:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": rule.reason}]
        result["properties"]["ignored"] = ignore_json(rule)
    return result


def _message(finding: Finding) -> str:
    package = neutralise(package_label(finding))
    if finding.malicious:
        return f"{package} is a malicious package ({finding.id}): {MALICIOUS_ACTION}."
    aliases = f" (also known as {', '.join(finding.aliases)})" if finding.aliases else ""
    summary = neutralise(finding.advisory.summary or "")
    fix = f" Fixed in {' or '.join(finding.fixed_in)}." if finding.fixed_in else " No fixed version is named."
    return f"{package} is vulnerable to {finding.id}{aliases}: {summary or 'no summary'}.{fix}"


def _location(file: str, line: int | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(file)}}
    if line is not None:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical}


def _uri(file: str) -> str:
    path = Path(file)
    return path.as_uri() if path.is_absolute() else quote(path.as_posix(), safe="/@")


def _fingerprint(finding: Finding, file: str) -> str:
    """Stable across edits elsewhere in the lockfile: the advisory, the lockfile and the package version."""
    digest = hashlib.sha256(f"{finding.id}|{file}|{finding.name}@{finding.version}".encode()).hexdigest()
    return f"{digest[:16]}:1"


def _category(outcomes: Sequence[AuditOutcome]) -> str:
    """``npmaudit/<lockfile folder>/``: uploads for different projects of one commit do not replace each other."""
    if len(outcomes) == 1:
        folder = display_path(outcomes[0].result.project.lockfile).rpartition("/")[0]
        return f"npmaudit/{folder}/" if folder else "npmaudit/"
    return "npmaudit/recursive/"


def _invocation(outcomes: Sequence[AuditOutcome], failures: Sequence[ProjectFailure], left_out: int) -> dict[str, Any]:
    notes: list[dict[str, Any]] = []
    for outcome in outcomes:
        for message in outcome.messages:
            notes.append({"level": "warning", "message": {"text": neutralise(message)}})
    for failure in failures:
        notes.append(
            {"level": "error", "message": {"text": f"{display_path(failure.directory)}: not audited: {failure.error}"}}
        )
    if left_out:
        notes.append(
            {
                "level": "warning",
                "message": {
                    "text": f"{left_out} least severe results left out to stay within GitHub's SARIF limits; "
                    "the JSON report has every finding"
                },
            }
        )
    invocation: dict[str, Any] = {"executionSuccessful": not failures}
    if notes:
        invocation["toolExecutionNotifications"] = notes
    return invocation


def _run_properties(outcomes: Sequence[AuditOutcome]) -> dict[str, Any]:
    verdicts = [outcome.verdict for outcome in outcomes]
    return {
        "npmaudit/sources": [facts.to_json() for facts in all_source_facts(outcomes)],
        "npmaudit/lockfiles": [display_path(outcome.result.project.lockfile) for outcome in outcomes],
        "npmaudit/auditLevel": verdicts[0].level if verdicts else None,
        "npmaudit/passed": all(verdict.passed for verdict in verdicts),
    }


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
