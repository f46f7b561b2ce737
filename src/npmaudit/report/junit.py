"""``--format junit``: JUnit XML as Jenkins, GitLab, Azure Pipelines and CircleCI read it.

One test suite per lockfile, one test case per installed package version (``classname`` the
lockfile, ``name`` ``name@version``: GitLab keys cases by both and drops duplicates). A case fails
when the package has a finding at or above the audit level (malicious packages always); its
``<failure>`` text lists every such advisory, because GitLab shows the text and not the message
attribute. Findings below the level go to ``<system-out>`` of a passing case; a package whose
findings are all ignored is skipped with the reasons; packages no registry advisory applies to (git,
folders, links, workspaces) are skipped as not checked. The suite's properties carry the sources and
the database age.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence

from npmaudit import TYPE_CHECKING
from npmaudit.project.model import Node, PackageRef
from npmaudit.report.ci_common import (
    advisory_lines,
    display_path,
    failing_keys,
    ignore_note,
    ordered,
    place_of,
    source_facts,
)
from npmaudit.report.common import by_package
from npmaudit.report.safe_text import neutralise

if TYPE_CHECKING:
    from npmaudit.auditing.engine import Finding
    from npmaudit.auditing.run import AuditOutcome, ProjectFailure, RecursiveOutcome


def render(outcome: AuditOutcome, *, color: bool = False) -> str:
    return _serialise(_suites([outcome], []))


def render_recursive(scan: RecursiveOutcome, *, color: bool = False) -> str:
    return _serialise(_suites(scan.outcomes, scan.failures))


def _serialise(root: ElementTree.Element) -> str:
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def _suites(outcomes: Sequence[AuditOutcome], failures: Sequence[ProjectFailure]) -> ElementTree.Element:
    root = ElementTree.Element("testsuites", name="npmaudit")
    for outcome in outcomes:
        root.append(_suite(outcome))
    for failure in failures:
        suite = ElementTree.SubElement(
            root, "testsuite", name=display_path(failure.directory), tests="1", failures="0", errors="1", skipped="0"
        )
        case = ElementTree.SubElement(suite, "testcase", classname=display_path(failure.directory), name="(project)")
        error = ElementTree.SubElement(case, "error", message="not audited", type="input")
        error.text = _xml_text(str(failure.error))
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(suite.get(key, "0")) for suite in root)))
    root.set("time", "0")
    return root


def _suite(outcome: AuditOutcome) -> ElementTree.Element:
    result = outcome.result
    lockfile = display_path(result.project.lockfile)
    suite = ElementTree.Element("testsuite", name=lockfile)
    properties = ElementTree.SubElement(suite, "properties")
    for facts in source_facts(result, outcome.settings.now):
        ElementTree.SubElement(properties, "property", name="npmaudit.source", value=_xml_text(facts.text))
        if facts.age_days is not None:
            ElementTree.SubElement(
                properties, "property", name="npmaudit.database-age-days", value=f"{facts.age_days:.1f}"
            )
    for name, value in (("npmaudit.audit-level", outcome.verdict.level), ("npmaudit.policy", outcome.verdict.policy)):
        ElementTree.SubElement(properties, "property", name=name, value=value)
    findings = by_package(result.findings)
    failing = failing_keys(outcome)
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    for ref, nodes in _packages(outcome).items():
        found = ordered(findings.get(ref, []))
        case = ElementTree.SubElement(suite, "testcase", classname=lockfile, name=_xml_text(str(ref)), time="0")
        place = place_of(outcome, nodes[0])
        case.set("file", place.file)
        if place.line is not None:
            case.set("line", str(place.line))
        counts["tests"] += 1
        failed = [f for f in found if (f.package, f.id) in failing or (f.malicious and _not_ignored(outcome, f))]
        ignored = [f for f in found if not _not_ignored(outcome, f)]
        if failed:
            counts["failures"] += 1
            worst = failed[0]
            message = f"{'MALICIOUS ' if worst.malicious else ''}{worst.severity.value}: {worst.id}"
            if len(failed) > 1:
                message += f" and {len(failed) - 1} more"
            failure = ElementTree.SubElement(case, "failure", message=_xml_text(message), type=worst.severity.value)
            failure.text = _xml_text("\n\n".join(_finding_text(outcome, f) for f in failed))
        elif ignored and len(ignored) == len(found):
            counts["skipped"] += 1
            notes = "; ".join(_ignored_text(outcome, f) for f in ignored)
            ElementTree.SubElement(case, "skipped", message=_xml_text(notes))
        rest = [f for f in found if f not in failed]
        if rest and (failed or len(ignored) != len(found)):
            out = ElementTree.SubElement(case, "system-out")
            out.text = _xml_text("\n\n".join(_finding_text(outcome, f) for f in rest))
    for node in result.not_checked:
        if node.link_target is not None:
            continue
        label = f"{node.name}@{node.version}" if node.version else f"{node.name} ({node.location})"
        case = ElementTree.SubElement(suite, "testcase", classname=lockfile, name=_xml_text(label), time="0")
        ElementTree.SubElement(
            case, "skipped", message=f"not checked: a {node.source.value} package (registry advisories do not apply)"
        )
        counts["tests"] += 1
        counts["skipped"] += 1
    for key, count in counts.items():
        suite.set(key, str(count))
    suite.set("errors", "0")
    suite.set("time", "0")
    return suite


def _packages(outcome: AuditOutcome) -> dict[PackageRef, list[Node]]:
    """Every audited package version, sorted by name and version, with its nodes."""
    omit = outcome.settings.omit
    packages: dict[PackageRef, list[Node]] = {}
    for node in outcome.result.project.auditable(omit):
        packages.setdefault(PackageRef(node.name, node.version), []).append(node)
    return dict(sorted(packages.items()))


def _not_ignored(outcome: AuditOutcome, finding: Finding) -> bool:
    return outcome.ignores.rule_for(finding) is None


def _ignored_text(outcome: AuditOutcome, finding: Finding) -> str:
    rule = outcome.ignores.rule_for(finding)
    return f"{finding.id} {ignore_note(rule)}" if rule is not None else finding.id


def _finding_text(outcome: AuditOutcome, finding: Finding) -> str:
    lines = [f"{finding.id} [{'MALICIOUS, ' if finding.malicious else ''}{finding.severity.value}]"]
    lines.extend(advisory_lines(finding, say_no_fix=False))
    rule = outcome.ignores.rule_for(finding)
    if rule is not None:
        lines.append(ignore_note(rule))
    lines.append(f"installed at: {', '.join(neutralise(location) for location in finding.locations)}")
    return "\n".join(lines)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_text(text: str) -> str:
    """XML 1.0 cannot hold most control characters, even escaped: they become visible escapes."""
    return _NOT_XML.sub(lambda match: f"\\x{ord(match.group(0)):02x}", text)
