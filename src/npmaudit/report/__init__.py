"""Output formats: one module per format, each with ``render(outcome, *, color) -> str``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from npmaudit.audit.run import AuditOutcome, RecursiveOutcome

FORMAT_MODULES = {
    "text": "npmaudit.report.text",
    "json": "npmaudit.report.json_report",
    "npm-json": "npmaudit.report.npm_json",
    "npm-text": "npmaudit.report.npm_text",
}


def render(fmt: str, outcome: AuditOutcome, *, color: bool = False) -> str:
    module = importlib.import_module(FORMAT_MODULES[fmt])
    return module.render(outcome, color=color)


def render_recursive(fmt: str, scan: RecursiveOutcome, *, color: bool = False) -> str:
    """A combined report: each format module's ``render_recursive`` when it has one."""
    module = importlib.import_module(FORMAT_MODULES[fmt])
    return module.render_recursive(scan, color=color)
