"""Output formats: one module per format behind :class:`FormatModule`, one row each in :data:`FORMATS`.

Adding a format is one module plus one row: the command line takes its ``--format`` choices, help
text and the analyses to run from this table, and never names a format itself. A format states the
analyses it needs (``npm-report``: npm's meta-vulnerabilities and fixes, which need packuments); the
run computes them and the verdict judges what was analysed, so the renderer never decides an exit code.
"""

from __future__ import annotations

import importlib

from npmaudit import TYPE_CHECKING
from npmaudit.errors import UsageError
from npmaudit.records import record_class
from npmaudit.runtime_typing import Protocol, cast

if TYPE_CHECKING:
    from collections.abc import Iterable

    from npmaudit.auditing.run import AuditOutcome, RecursiveOutcome

NPM_REPORT = "npm-report"
"""The analysis that computes npm's own report (``AuditOutcome.npm_report``)."""
LOCKFILE_LINES = "lockfile-lines"
"""The analysis that finds each finding's entry line in its lockfile (``AuditOutcome.places``)."""
WHOLE_TREE = "whole-tree"
"""A format that reads every installed package, not only the findings: a ``-r`` scan keeps each
project's whole graph for it (others keep what their report needs, ``auditing/run.py``)."""


class FormatModule(Protocol):
    """What a format module provides. ``render_recursive`` may be absent (then ``-r`` is refused)."""

    def render(self, outcome: AuditOutcome, *, color: bool = False) -> str:
        """The whole output for one project, ending with a newline."""
        ...


class RecursiveFormatModule(FormatModule, Protocol):
    def render_recursive(self, scan: RecursiveOutcome, *, color: bool = False) -> str:
        """One document for every project of a ``-r`` scan."""
        ...


class RecursiveWriter(Protocol):
    """A ``-r`` document written project by project, for a format whose module has ``recursive_writer()``:
    the scan hands each project's outcome to ``add`` as soon as it is audited and keeps none of them."""

    def add(self, outcome: AuditOutcome) -> None: ...

    def render(self, scan: RecursiveOutcome) -> str:
        """The whole document, the same text as the module's ``render_recursive`` of the kept outcomes."""
        ...

    def pieces(self, scan: RecursiveOutcome) -> Iterable[str]:
        """The text of :meth:`render` in pieces, to be written without joining them."""
        ...


@record_class(frozen=True)
class OutputFormat:
    name: str
    module: str
    description: str
    analyses: frozenset[str] = frozenset()
    recursive: bool = True
    colored: bool = False  # may use colour on a terminal
    for_people: bool = False  # read by a person (progress may be shown on stderr); else read by a program
    step_summary: str | None = None  # a format whose output is appended to the CI's job summary, when there is one

    def load(self) -> FormatModule:
        return cast(FormatModule, importlib.import_module(self.module))

    def render(self, outcome: AuditOutcome, *, color: bool = False) -> str:
        return self.load().render(outcome, color=color and self.colored)

    def render_recursive(self, scan: RecursiveOutcome, *, color: bool = False) -> str:
        if not self.recursive:
            raise UsageError(f"--format {self.name} reports one project; it cannot be combined with --recursive")
        module = cast(RecursiveFormatModule, self.load())
        return module.render_recursive(scan, color=color and self.colored)

    def recursive_writer(self) -> RecursiveWriter | None:
        """A writer of the ``-r`` document project by project, when the format has one."""
        factory = getattr(self.load(), "recursive_writer", None) if self.recursive else None
        return cast(RecursiveWriter, factory()) if factory is not None else None


FORMATS: tuple[OutputFormat, ...] = (
    OutputFormat("text", "npmaudit.report.text", "a report for people (the default)", colored=True, for_people=True),
    OutputFormat("json", "npmaudit.report.json_report", "npmaudit's JSON document (schemaVersion 1)"),
    OutputFormat(
        "npm-json",
        "npmaudit.report.npm_json",
        "exactly what `npm audit --json` prints (meta-vulnerabilities, fixAvailable)",
        analyses=frozenset({NPM_REPORT}),
        recursive=False,
    ),
    OutputFormat(
        "npm-text",
        "npmaudit.report.npm_text",
        "exactly what `npm audit` prints",
        analyses=frozenset({NPM_REPORT}),
        recursive=False,
        for_people=True,
    ),
    OutputFormat(
        "sarif",
        "npmaudit.report.sarif",
        "SARIF 2.1.0 for GitHub code scanning: a rule per advisory, results at the package's lockfile line",
        analyses=frozenset({LOCKFILE_LINES}),
    ),
    OutputFormat(
        "github",
        "npmaudit.report.github",
        "GitHub Actions workflow commands (::error file=...,line=...::) and a Markdown job summary appended to "
        "$GITHUB_STEP_SUMMARY when it is set",
        analyses=frozenset({LOCKFILE_LINES}),
        step_summary="markdown",
    ),
    OutputFormat(
        "markdown",
        "npmaudit.report.markdown",
        "a pull-request comment: malicious packages first, then by severity, details folded",
        analyses=frozenset({LOCKFILE_LINES}),
    ),
    OutputFormat(
        "cyclonedx",
        "npmaudit.report.cyclonedx",
        "CycloneDX 1.6 JSON: the audited tree as an SBOM with its vulnerabilities (VEX; ignored = not_affected)",
        analyses=frozenset({WHOLE_TREE}),
    ),
    OutputFormat(
        "junit",
        "npmaudit.report.junit",
        "JUnit XML: a test case per package, failing at or above the audit level",
        analyses=frozenset({LOCKFILE_LINES}),
    ),
)

FORMAT_NAMES: tuple[str, ...] = tuple(f.name for f in FORMATS)


def output_format(name: str) -> OutputFormat:
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise UsageError(f"unknown format {name!r} (choose from {', '.join(FORMAT_NAMES)})")


def render(name: str, outcome: AuditOutcome, *, color: bool = False) -> str:
    return output_format(name).render(outcome, color=color)


def render_recursive(name: str, scan: RecursiveOutcome, *, color: bool = False) -> str:
    return output_format(name).render_recursive(scan, color=color)
