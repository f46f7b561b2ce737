"""What every report format says the same way: counts, malicious packages, dependency chains.

The package counts partition the lockfile: every installed package (each lockfile entry but the
root, one per install location) is exactly one of *audited* (a published package, from the registry
or a tarball, matched against the advisories), *omitted* (left out by ``--omit``) or *not checked*
(the project's own code, git checkouts, unreadable versions; see the engine). The audited installs
are matched once per distinct name@version, which is the smaller number npm's report calls "packages".
"""

from __future__ import annotations

from collections.abc import Iterable

from npmaudit.advisories.model import Severity
from npmaudit.auditing.engine import AuditResult, Finding
from npmaudit.project.model import ChainStep, Node, PackageRef, unchecked_reason, version_problem
from npmaudit.records import record_class

SEVERITY_ORDER = ("critical", "high", "moderate", "low", "info", "unknown")


@record_class(frozen=True)
class MaliciousPackage:
    """One installed package version that a malicious-package report names."""

    name: str
    version: str
    locations: tuple[str, ...]
    ids: tuple[str, ...]  # the malicious findings' ids, each with its aliases

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


@record_class(frozen=True)
class Summary:
    findings: int
    packages: int  # distinct vulnerable package versions
    malicious_packages: int
    by_severity: dict[str, int]  # per finding
    audited: int  # distinct name@version pairs matched
    not_checked: int  # installs
    omitted: int  # installs
    installed: int  # every install but the root: audited_installs + omitted + not_checked
    audited_installs: int
    malicious: tuple[MaliciousPackage, ...]


def summarize(result: AuditResult) -> Summary:
    by_severity = dict.fromkeys(SEVERITY_ORDER, 0)
    for finding in result.findings:
        by_severity[finding.severity.value] += 1
    installed = len(result.project.nodes) - 1  # every node but the root, which every reader puts at ""
    malicious = malicious_packages(result.findings)
    return Summary(
        findings=len(result.findings),
        packages=len({f.package for f in result.findings}),
        malicious_packages=len(malicious),
        by_severity=by_severity,
        audited=result.audited,
        not_checked=len(result.not_checked),
        omitted=result.omitted,
        installed=installed,
        # The engine sorts every install into exactly one of the three groups.
        audited_installs=installed - result.omitted - len(result.not_checked),
        malicious=malicious,
    )


def malicious_packages(findings: Iterable[Finding]) -> tuple[MaliciousPackage, ...]:
    """The installed package versions with a malicious finding, in report order, each once."""
    ids: dict[PackageRef, list[str]] = {}
    nodes: dict[PackageRef, tuple[Node, ...]] = {}
    for finding in findings:
        if finding.malicious:
            ids.setdefault(finding.package, []).append(finding.id)
            ids[finding.package].extend(finding.aliases)
            nodes[finding.package] = finding.nodes
    return tuple(
        MaliciousPackage(ref.name, ref.version, tuple(n.location for n in nodes[ref]), tuple(dict.fromkeys(found)))
        for ref, found in ids.items()
    )


def step_label(step: ChainStep) -> str:
    """``name@version``; an alias as ``old-lodash (lodash@4.17.4)``; the root by its name."""
    node = step.node
    if node.is_root:
        return node.name or "(root)"
    label = f"{node.name}@{node.version}" if node.version else node.name
    return f"{step.installed_as} ({label})" if step.installed_as else label


def chain_labels(result: AuditResult, node: Node) -> list[str]:
    """The dependents from the root to ``node`` as labels (see :meth:`Project.why`)."""
    return [step_label(step) for step in result.project.why(node.location)]


def by_package(findings: tuple[Finding, ...]) -> dict[PackageRef, list[Finding]]:
    """Findings grouped per package version: packages with a malicious finding first, then the rest,
    each part in the engine's order (name, then version)."""
    grouped: dict[PackageRef, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.package, []).append(finding)
    malicious = {ref: group for ref, group in grouped.items() if any(f.malicious for f in group)}
    return malicious | {ref: group for ref, group in grouped.items() if ref not in malicious}


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


def count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def name_list(packages: Iterable[MaliciousPackage], limit: int) -> str:
    """``a@1, b@2 (+3 more)``: at most ``limit`` names, and how many were left out."""
    names = [str(package) for package in packages]
    shown = ", ".join(names[:limit])
    return f"{shown} (+{len(names) - limit} more)" if len(names) > limit else shown
