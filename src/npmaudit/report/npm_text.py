"""``--format npm-text``: npm's detail report (what ``npm audit`` prints), line for line."""

from __future__ import annotations

from typing import Any

from npmaudit.npm_report import render_npm_text
from npmaudit.report.npm_json import npm_report_of


def render(outcome: Any, *, color: bool = False) -> str:
    # npm's output layer ends what it prints with a newline.
    return render_npm_text(npm_report_of(outcome).document, color=color) + "\n"
