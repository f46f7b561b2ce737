"""npm-audit-report's ``json`` and ``detail`` reporters and its exit-code rule, line for line.

Colour follows npm's chalk use (bold names, yellow/red/magenta severities, dim paths); without
colour the text is byte-identical to ``npm audit`` writing to a pipe.
"""

from __future__ import annotations

import json
from typing import Any

_EXIT_RANK = {"info": 0, "low": 1, "moderate": 2, "high": 3, "critical": 4, "none": 5}


def render_npm_json(document: dict[str, Any]) -> str:
    """``JSON.stringify(report, null, 2)`` (no trailing newline; npm's output adds one)."""
    return json.dumps(document, indent=2, ensure_ascii=False)


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def _wrap(self, text: str, start: str, end: str) -> str:
        return f"\x1b[{start}m{text}\x1b[{end}m" if self.color else text

    def bold(self, text: str) -> str:
        return self._wrap(text, "1", "22")

    def dim(self, text: str) -> str:
        return self._wrap(text, "2", "22")

    def _colored_bold(self, text: str, code: str) -> str:
        return self._wrap(self.bold(text), code, "39") if self.color else text

    def green(self, text: str) -> str:
        return self._colored_bold(text, "32")

    def red(self, text: str) -> str:
        return self._colored_bold(text, "31")

    def yellow(self, text: str) -> str:
        return self._colored_bold(text, "33")

    def magenta(self, text: str) -> str:
        return self._colored_bold(text, "35")

    def severity(self, sev: str, text: str | None = None) -> str:
        shown = text or sev
        lowered = sev.lower()
        if lowered == "moderate":
            return self.yellow(shown)
        if lowered == "high":
            return self.red(shown)
        if lowered == "critical":
            return self.magenta(shown)
        return self.bold(shown)


def _summary(document: dict[str, Any], c: _Style) -> str:
    counts = document["metadata"]["vulnerabilities"]
    output: list[str] = []
    if counts["total"] == 0:
        output.append(f"found {c.green('0')} vulnerabilities")
        return "\n".join(output)
    some_fixable = some_unfixable = some_force = force_major = False
    for vuln in document["vulnerabilities"].values():
        fix = vuln["fixAvailable"]
        some_fixable = some_fixable or fix is True
        some_unfixable = some_unfixable or fix is False
        if isinstance(fix, dict):
            some_force = True
            force_major = force_major or bool(fix.get("isSemVerMajor"))
    sevs = [(s, n) for s, n in counts.items() if s in ("low", "moderate", "high", "critical") and n > 0]
    if len(sevs) > 1:
        listed = ", ".join(f"{n} {c.severity(s)}" for s, n in sevs)
        output.append(f"{c.red(str(counts['total']))} vulnerabilities ({listed})")
    elif sevs:
        sev, n = sevs[0]
        output.append(f"{n} {c.severity(sev)} severity vulnerabilit{'y' if n == 1 else 'ies'}")
    else:
        # npm crashes here ("undefined is not iterable") on an info-only report; we say what it is.
        total = counts["total"]
        output.append(f"{total} {c.severity('info')} severity vulnerabilit{'y' if total == 1 else 'ies'}")
    if some_fixable:
        scope = "issues that do not require attention" if some_force or some_unfixable else "all issues"
        output.extend(["", f"To address {scope}, run:\n  npm audit fix"])
    if some_force:
        output.extend(
            [
                "",
                "To address all issues"
                + (" possible" if some_unfixable else "")
                + (" (including breaking changes)" if force_major else "")
                + ", run:\n  npm audit fix --force",
            ]
        )
    if some_unfixable:
        output.extend(["", "Some issues need review, and may require choosing", "a different dependency."])
    return "\n".join(output)


def render_npm_text(document: dict[str, Any], *, color: bool = False) -> str:
    """npm-audit-report's ``detail`` reporter (what ``npm audit`` prints), without the final newline."""
    c = _Style(color)
    summary = _summary(document, c)
    vulnerabilities = document["vulnerabilities"]
    if document["metadata"]["vulnerabilities"]["total"] == 0:
        return summary
    output: list[str] = [c.bold("# npm audit report"), ""]
    printed: set[str] = set()
    for vuln in vulnerabilities.values():
        if any(not isinstance(v, str) for v in vuln["via"]):
            block = _print_vuln(vuln, c, vulnerabilities, printed, "")
            output.append(block if block is not None else "")
    output.append(summary)
    return "\n".join(output)


def _print_vuln(
    vuln: dict[str, Any], c: _Style, vulnerabilities: dict[str, Any], printed: set[str], indent: str
) -> str | None:
    if vuln["name"] in printed:
        return None
    printed.add(vuln["name"])
    top = indent == ""
    output = [f"{c.bold(vuln['name'])}  {vuln['range']}"]
    if top and vuln["severity"] != "low":
        output.append(f"Severity: {c.severity(vuln['severity'])}")
    for via in vuln["via"]:
        if isinstance(via, str):
            output.append(f"Depends on vulnerable versions of {c.bold(via)}")
        elif top:
            output.append(f"{c.bold(str(via['title']))} - {via['url']}")
    if top:
        fix = vuln["fixAvailable"]
        if fix is False:
            output.append(c.red("No fix available"))
        elif fix is True:
            output.append(c.green("fix available") + " via `npm audit fix`")
        elif isinstance(fix, dict):
            kind = "a breaking change" if fix.get("isSemVerMajor") else "outside the stated dependency range"
            output.append(f"{c.yellow('fix available')} via `npm audit fix --force`")
            output.append(f"Will install {_js(fix.get('name'))}@{_js(fix.get('version'))}, which is {kind}")
    for path in vuln["nodes"]:
        output.append(c.dim(path))
    for effect in vuln["effects"]:
        nested = _print_vuln(vulnerabilities[effect], c, vulnerabilities, printed, "  ")
        if nested:
            output.extend(nested.split("\n"))
    if top:
        output.append("")
    return "\n".join(f"{indent}{line}" for line in output)


def _js(value: Any) -> str:
    return "undefined" if value is None else str(value)


def npm_exit_code(document: dict[str, Any], audit_level: str | None = None) -> int:
    """1 when any severity at or above ``audit_level`` (default ``low``) has a count, else 0."""
    level = _EXIT_RANK[audit_level or "low"]
    for severity, count in document["metadata"]["vulnerabilities"].items():
        if count > 0 and severity in _EXIT_RANK and _EXIT_RANK[severity] >= level:
            return 1
    return 0
