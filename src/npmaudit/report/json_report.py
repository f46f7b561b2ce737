"""``--format json``: one JSON document on stdout, nothing else. Its shape is versioned by
``schemaVersion``; fields are only ever added within a version.

``summary`` counts every installed package once: ``installed`` = ``auditedInstalls`` + ``omitted``
+ ``notChecked`` (``audited`` is the number of distinct name@version pairs behind
``auditedInstalls``), and names the malicious packages. A recursive scan adds one ``summary`` over
all its projects. Control, bidi and other format characters in its strings are written as
``\\uXXXX`` escapes (report/safe_text.py)."""

from __future__ import annotations

from npmaudit import TYPE_CHECKING, __version__
from npmaudit.advisories.source import SourceInfo
from npmaudit.auditing.freshness import data_age
from npmaudit.project.model import unchecked_reason
from npmaudit.report.common import MaliciousPackage, chain_labels, malicious_packages, summarize
from npmaudit.report.safe_text import safe_json_dumps

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime
    from typing import Any

    from npmaudit.auditing.engine import Finding
    from npmaudit.auditing.run import AuditOutcome, RecursiveOutcome

SCHEMA_VERSION = 1
# Chains per finding: one vulnerable copy under every link of a long dependency chain would otherwise make
# the document grow with the square of the lockfile (every path is still listed in "paths").
MAX_CHAINS = 100


def finding_json(outcome: AuditOutcome, finding: Finding) -> dict[str, Any]:
    result = outcome.result
    advisory = finding.advisory
    return {
        "name": finding.name,
        "version": finding.version,
        "paths": list(finding.locations),
        "chains": [chain_labels(result, node) for node in finding.nodes[:MAX_CHAINS]],
        **({"chainsOmitted": len(finding.nodes) - MAX_CHAINS} if len(finding.nodes) > MAX_CHAINS else {}),
        "id": finding.id,
        "aliases": list(finding.aliases),
        "severity": finding.severity.value,
        "malicious": finding.malicious,
        "summary": advisory.summary,
        "url": advisory.url,
        "fixedIn": list(finding.fixed_in),
        "modified": advisory.modified,
        "dev": all(node.dev for node in finding.nodes),
        "optional": all(node.optional for node in finding.nodes),
        "records": [record.id for record in finding.records],
        # Where each installed copy came from: a tarball's name and version are only what it claims.
        "origins": [
            {
                "path": node.location,
                "source": node.source.value,
                "resolved": node.resolved,
                "provenance": node.provenance,
            }
            for node in finding.nodes
        ],
        "ignored": _ignored(outcome, finding),
    }


def _ignored(outcome: AuditOutcome, finding: Finding) -> dict[str, Any] | None:
    """The ignore hiding the finding (reason, expiry, where it is declared); None when it counts."""
    rule = outcome.ignores.rule_for(finding)
    if rule is None:
        return None
    from npmaudit.report.ci_common import ignore_json  # only for an ignored finding: most reports have none

    return ignore_json(rule)


def source_json(source: SourceInfo, now: datetime | None = None) -> dict[str, Any]:
    """The source as it describes itself, with the age of a local database's data (freshness.py)
    at ``now`` (the run's moment; None: the clock's)."""
    age = data_age(source, now)
    return {**source.to_json(), **({"dataAge": age.to_json()} if age is not None else {})}


def document(outcome: AuditOutcome) -> dict[str, Any]:
    result = outcome.result
    summary = summarize(result)
    verdict = outcome.verdict
    return {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": "npmaudit", "version": __version__},
        "project": {
            "directory": str(result.project.directory),
            "lockfile": str(result.project.lockfile),
            "lockfileFormat": result.project.lockfile_format,
        },
        "sources": [source_json(source, outcome.settings.now) for source in result.sources],
        "policy": {
            "policy": verdict.policy,
            "auditLevel": verdict.level,
            "omit": sorted(outcome.settings.omit),
            "passed": verdict.passed,
            "exitCode": verdict.exit_code,
        },
        "findings": [finding_json(outcome, finding) for finding in result.findings],
        "notChecked": [
            {
                "name": node.name,
                "version": node.version,
                "path": node.location,
                "source": node.source.value,
                "reason": unchecked_reason(node),
            }
            for node in result.not_checked
        ],
        "ignores": [
            {"rule": state.rule.label, "state": state.state, "origin": state.rule.origin, "line": state.rule.line}
            for state in outcome.ignores.states
        ],
        "summary": {
            "findings": summary.findings,
            "vulnerablePackages": summary.packages,
            "maliciousPackages": summary.malicious_packages,
            "bySeverity": summary.by_severity,
            "failing": len(verdict.failing),
            "ignored": len(verdict.ignored),
            "audited": summary.audited,
            "notChecked": summary.not_checked,
            "omitted": summary.omitted,
            "installed": summary.installed,
            "auditedInstalls": summary.audited_installs,
            "malicious": [malicious_json(package) for package in summary.malicious],
        },
    }


def malicious_json(package: MaliciousPackage) -> dict[str, Any]:
    return {
        "name": package.name,
        "version": package.version,
        "paths": list(package.locations),
        "ids": list(package.ids),
    }


def render(outcome: AuditOutcome, *, color: bool = False) -> str:
    return safe_json_dumps(document(outcome)) + "\n"


# Where the projects go in the recursive document's frame: the frame's only key written at the top
# level's indent with an empty list (a raw newline never occurs inside a JSON string).
_PROJECTS_SLOT = '\n  "projects": [],'


def render_recursive(scan: RecursiveOutcome, *, color: bool = False) -> str:
    sections = RecursiveSections()
    for outcome in scan.outcomes:
        sections.add(outcome)
    return sections.render(scan)


def recursive_writer() -> RecursiveSections:
    """The recursive document written project by project (report.RecursiveWriter): ``-r`` hands each
    project's outcome to :meth:`RecursiveSections.add` as soon as it is audited and keeps none of them."""
    return RecursiveSections()


class RecursiveSections:
    """The recursive document, each project's part dumped as soon as the project is given: only its text
    and what the scan's summary says of it are kept, never the project's findings nor a tree of every
    project's document (which once took more memory than the findings). The text is that of the
    whole document dumped at once (``safe_json_dumps`` escapes character by character)."""

    def __init__(self) -> None:
        self._texts: list[str] = []
        self._failing: list[str] = []
        self._holding: list[dict[str, Any]] = []
        self._findings = 0

    def add(self, outcome: AuditOutcome) -> None:
        # json.dumps(indent=2) writes an element two levels down as the element alone, every line of
        # it indented by four more spaces.
        self._texts.append(safe_json_dumps(document(outcome)).replace("\n", "\n    "))
        directory = str(outcome.result.project.directory)
        malicious = malicious_packages(outcome.result.findings)
        if malicious:
            self._holding.append({"directory": directory, "packages": [malicious_json(p) for p in malicious]})
        if not outcome.verdict.passed:
            self._failing.append(directory)
        self._findings += len(outcome.result.findings)

    def render(self, scan: RecursiveOutcome) -> str:
        return "".join(self.pieces(scan))

    def pieces(self, scan: RecursiveOutcome) -> Iterator[str]:
        """The document's text in pieces (each project's part as it was kept), to be written one after
        another without joining them."""
        frame = {
            "schemaVersion": SCHEMA_VERSION,
            "tool": {"name": "npmaudit", "version": __version__},
            "root": str(scan.root),
            "exitCode": scan.exit_code,
            "projects": [],
            "errors": [
                {"directory": str(f.directory), "error": str(f.error), "exitCode": f.error.exit_code}
                for f in scan.failures
            ],
            "summary": self._summary(scan),
        }
        head, tail = safe_json_dumps(frame).split(_PROJECTS_SLOT)
        if not self._texts:
            yield f"{head}{_PROJECTS_SLOT}{tail}\n"
            return
        yield f'{head}\n  "projects": [\n    '
        for index, text in enumerate(self._texts):
            if index:
                yield ",\n    "
            yield text
        yield f"\n  ],{tail}\n"

    def _summary(self, scan: RecursiveOutcome) -> dict[str, Any]:
        """The scan at a glance: how many projects, which failed, which hold malicious packages."""
        return {
            "projectsScanned": len(self._texts) + len(scan.failures),
            "projectsAudited": len(self._texts),
            "projectsNotAudited": len(scan.failures),
            "projectsFailingPolicy": len(self._failing),
            "failingPolicy": list(self._failing),
            "notAudited": [str(failure.directory) for failure in scan.failures],
            "projectsWithMalicious": len(self._holding),
            "malicious": list(self._holding),
            "findings": self._findings,
        }
