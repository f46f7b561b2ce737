"""npm's own audit report (``npm audit --json`` / ``npm audit``), computed without node.

Entry points: :func:`build_npm_report` (the document, from a project, advisories and packuments),
:func:`render_npm_json` and :func:`render_npm_text` (npm's JSON and detail text reporters),
:func:`npm_exit_code` (npm's exit code for an audit level).
"""

from npmaudit.npm_report.builder import NpmReport, build_npm_report
from npmaudit.npm_report.render import npm_exit_code, render_npm_json, render_npm_text
from npmaudit.registry.pick_manifest import Engines

__all__ = ["Engines", "NpmReport", "build_npm_report", "npm_exit_code", "render_npm_json", "render_npm_text"]
