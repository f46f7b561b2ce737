"""``--format npm-json``: the document ``npm audit --json`` prints (see npmaudit.npm_report).

The outcome must carry the computed report as ``outcome.npm_report`` (an
:class:`npmaudit.npm_report.NpmReport`): building it needs packuments, which the audit run fetches.

The text is npm's byte for byte, except that control, bidi and other format characters inside its
strings (names from a lockfile, titles from an advisory) are written as ``\\uXXXX`` escapes, which
``JSON.stringify`` leaves raw: the same values for a JSON reader, nothing a terminal acts on.
"""

from __future__ import annotations

from npmaudit import TYPE_CHECKING
from npmaudit.errors import UsageError
from npmaudit.npm_report import NpmReport, render_npm_json
from npmaudit.report.safe_text import safe_json_text

if TYPE_CHECKING:
    from typing import Any


def npm_report_of(outcome: Any) -> NpmReport:
    report = getattr(outcome, "npm_report", None)
    if not isinstance(report, NpmReport):
        raise UsageError("the npm report formats need the audit run to compute npm's report (npm_report)")
    return report


def render(outcome: Any, *, color: bool = False) -> str:
    # npm's output layer ends what it prints with a newline.
    return safe_json_text(render_npm_json(npm_report_of(outcome).document)) + "\n"
