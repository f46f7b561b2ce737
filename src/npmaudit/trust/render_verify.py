"""``npmaudit verify`` reports: one line per finding (``file:line: severity ID entry: message``) and a
summary, or one JSON document."""

from __future__ import annotations

import json

from npmaudit.trust.checks import CHECKS, CHECKS_BY_ID
from npmaudit.trust.verify import VerifyReport


def render_text(report: VerifyReport) -> str:
    lines = [finding.one_line() for finding in report.findings]
    errors = sum(1 for f in report.findings if f.severity == "error")
    warnings = len(report.findings) - errors
    verdict = "FAILED" if report.failed else "passed"
    lines.append(
        f"verify {verdict}: {report.entries} entr{'y' if report.entries == 1 else 'ies'} of {report.lockfile.name} "
        f"({report.lockfile_format}), {len(report.checks_run)} checks, {_count(errors, 'error')}, "
        f"{_count(warnings, 'warning')}; node_modules {report.node_modules}"
    )
    return "\n".join(lines) + "\n"


def render_json(report: VerifyReport) -> str:
    document = {
        "lockfile": str(report.lockfile),
        "lockfileFormat": report.lockfile_format,
        "entries": report.entries,
        "allowedHosts": list(report.allowed_hosts),
        "nodeModules": report.node_modules,
        "checks": [
            {"id": check_id, "name": CHECKS_BY_ID[check_id].name, "severity": severity}
            for check_id, severity in report.checks_run.items()
        ],
        "findings": [
            {
                "check": f.check,
                "name": CHECKS_BY_ID[f.check].name,
                "severity": f.severity,
                "lockfile": f.lockfile,
                "line": f.line,
                "entry": f.entry,
                "message": f.message,
            }
            for f in report.findings
        ],
        "summary": {
            "errors": sum(1 for f in report.findings if f.severity == "error"),
            "warnings": sum(1 for f in report.findings if f.severity == "warn"),
        },
        "passed": not report.failed,
    }
    return json.dumps(document, indent=2) + "\n"


def render_checks() -> str:
    width = max(len(c.name) for c in CHECKS)
    return "".join(f"{c.id}  {c.name:<{width}}  {c.default:<5}  {c.summary}\n" for c in CHECKS)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
