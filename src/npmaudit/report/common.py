"""What every report format says the same way: counts, dependency chains, database age."""

from __future__ import annotations

from dataclasses import dataclass

from npmaudit.advisories.model import Severity
from npmaudit.auditing.engine import AuditResult, Finding
from npmaudit.project.model import Node, PackageRef, unchecked_reason, version_problem

SEVERITY_ORDER = ("critical", "high", "moderate", "low", "info", "unknown")


@dataclass(frozen=True)
class Summary:
    findings: int
    packages: int  # distinct vulnerable package versions
    malicious_packages: int
    by_severity: dict[str, int]  # per finding
    audited: int
    not_checked: int
    omitted: int


def summarize(result: AuditResult) -> Summary:
    by_severity = dict.fromkeys(SEVERITY_ORDER, 0)
    for finding in result.findings:
        by_severity[finding.severity.value] += 1
    return Summary(
        findings=len(result.findings),
        packages=len({f.package for f in result.findings}),
        malicious_packages=len({f.package for f in result.findings if f.malicious}),
        by_severity=by_severity,
        audited=result.audited,
        not_checked=len(result.not_checked),
        omitted=result.omitted,
    )


def chain_labels(result: AuditResult, node: Node) -> list[str]:
    """The dependents from the root to ``node`` as ``name@version`` labels (root by its name)."""
    labels = []
    for step in result.project.chain(node.location):
        if step.is_root:
            labels.append(step.name or "(root)")
        elif step.version:
            labels.append(f"{step.name}@{step.version}")
        else:
            labels.append(step.name)
    return labels


def by_package(findings: tuple[Finding, ...]) -> dict[PackageRef, list[Finding]]:
    grouped: dict[PackageRef, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.package, []).append(finding)
    return grouped


def worst(findings: list[Finding]) -> Severity:
    return max((f.severity for f in findings), key=lambda s: s.rank)


UNREADABLE_VERSION = "with a version that cannot be read"


def not_checked_by_reason(result: AuditResult) -> dict[str, list[Node]]:
    """The nodes the audit did not match, grouped by why (most frequent reason first); every
    unreadable version is one group (each is then worth naming on its own)."""
    grouped: dict[str, list[Node]] = {}
    for node in result.not_checked:
        reason = UNREADABLE_VERSION if version_problem(node) is not None else unchecked_reason(node)
        grouped.setdefault(reason, []).append(node)
    return dict(sorted(grouped.items(), key=lambda item: (-len(item[1]), item[0])))
