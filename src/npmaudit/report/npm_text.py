"""``--format npm-text``: npm's detail report (what ``npm audit`` prints), line for line.

npm prints advisory titles, package names and paths as they are; here every string of the report
is neutralised first (report/safe_text.py), so a name or title carrying escape sequences, carriage
returns or bidi overrides is shown, not obeyed. Ordinary names and titles are unchanged, so the
text stays byte-identical to npm's.
"""

from __future__ import annotations

from npmaudit import TYPE_CHECKING
from npmaudit.npm_report import render_npm_text
from npmaudit.report.npm_json import npm_report_of
from npmaudit.report.safe_text import neutralise

if TYPE_CHECKING:
    from typing import Any


def render(outcome: Any, *, color: bool = False) -> str:
    # npm's output layer ends what it prints with a newline.
    return render_npm_text(neutralised(npm_report_of(outcome).document), color=color) + "\n"


def neutralised(value: Any) -> Any:
    """A copy of a JSON value with every string (object keys too, so names still look each other
    up) neutralised."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict):
        return {neutralise(key) if isinstance(key, str) else key: neutralised(item) for key, item in value.items()}
    if isinstance(value, list):
        return [neutralised(item) for item in value]
    return value
