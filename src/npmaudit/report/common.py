"""What every report format says the same way: counts, dependency chains, database age."""

from __future__ import annotations

from dataclasses import dataclass

from npmaudit.advisories.model import Severity
from npmaudit.auditing.engine import AuditResult, Finding
from npmaudit.project.model import Node, PackageRef

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
