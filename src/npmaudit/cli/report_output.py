"""Where reports go: ``--format`` on stdout or to ``--output PATH``, plus ``--report FORMAT=PATH`` for each
other file, all from one run; and the Markdown job summary a format asks for when the CI provides one.

Files are written atomically, after every report has rendered, so a failed run never leaves half a
SARIF file for the next step to upload. The job summary is appended (GitHub gives each step its own
file and other tools may have written to it first).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.cli import output
from npmaudit.errors import UsageError
from npmaudit.report import FORMAT_NAMES, OutputFormat, RecursiveWriter, output_format
from npmaudit.runtime_typing import NamedTuple

if TYPE_CHECKING:
    from npmaudit.auditing.run import AuditOutcome, RecursiveOutcome
    from npmaudit.settings import Settings


def _report_spec(text: str) -> tuple[str, Path]:
    name, equals, path = text.partition("=")
    if not equals or not name or not path:
        raise argparse.ArgumentTypeError(f"expected FORMAT=PATH, not {text!r}")
    if name not in FORMAT_NAMES:
        raise argparse.ArgumentTypeError(f"unknown format {name!r} (choose from {', '.join(FORMAT_NAMES)})")
    if path == "-":  # read as stdout by most tools; here it would be a file named "-" in the folder
        raise argparse.ArgumentTypeError(f"{text!r}: stdout takes the --format report; --report writes files")
    return name, Path(path)


def _output_path(text: str) -> Path:
    if text == "-":  # stdout is the default: a file named "-" is never what was meant
        raise argparse.ArgumentTypeError("'-': the report goes to stdout without --output")
    return Path(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("report files")
    group.add_argument(
        "--output",
        "-o",
        type=_output_path,
        metavar="PATH",
        help="write the --format report to PATH instead of stdout (written atomically)",
    )
    group.add_argument(
        "--report",
        action="append",
        type=_report_spec,
        metavar="FORMAT=PATH",
        help="also write a report in FORMAT to PATH, from the same run; repeatable "
        "(e.g. --report sarif=npmaudit.sarif --report junit=npmaudit.xml)",
    )


class Destination(NamedTuple):  # named tuples: cheaper to create at import than dataclasses
    format: OutputFormat
    path: Path | None  # None: stdout


class ReportPlan(NamedTuple):
    destinations: tuple[Destination, ...]

    @property
    def analyses(self) -> frozenset[str]:
        return frozenset().union(*(d.format.analyses for d in self.destinations))

    @property
    def formats(self) -> tuple[OutputFormat, ...]:
        return tuple(dict.fromkeys(d.format for d in self.destinations))

    def check_recursive(self) -> None:
        for fmt in self.formats:
            if not fmt.recursive:
                raise UsageError(f"--format {fmt.name} reports one project; it cannot be combined with --recursive")

    def emit(self, outcome: AuditOutcome, settings: Settings) -> None:
        self._emit(lambda fmt, color: fmt.render(outcome, color=color), settings)

    def recursive_writer(self) -> RecursiveWriter | None:
        """A writer of the ``-r`` report project by project, when every report is of one format that has
        one (and no other report needs the projects' outcomes): the scan then keeps none of them."""
        formats = self.formats
        if len(formats) != 1 or formats[0].step_summary:
            return None
        if formats[0].colored and self._colors_stdout():
            return None  # a writer keeps each project's text as it wrote it, uncoloured
        return formats[0].recursive_writer()

    def _colors_stdout(self) -> bool:
        """Some report goes to standard output, and that takes colour."""
        return any(d.path is None for d in self.destinations) and _stdout_takes_color()

    def emit_recursive(self, scan: RecursiveOutcome, settings: Settings, writer: RecursiveWriter | None = None) -> None:
        """``writer``: the one :meth:`recursive_writer` gave, which the scan handed every project to."""
        if writer is not None:
            self._write_pieces(writer, scan)
            return
        self._emit(lambda fmt, color: fmt.render_recursive(scan, color=color), settings)

    def _write_pieces(self, writer: RecursiveWriter, scan: RecursiveOutcome) -> None:
        """Each report of the writer's one format written piece by piece, as the writer keeps it, never
        joined into one string: files first (each written beside its name and renamed, as any report), then
        stdout. Such a format has no job summary (:meth:`recursive_writer`)."""
        for destination in self.destinations:
            if destination.path is not None:
                write_report_pieces(destination.path, writer.pieces(scan))
        for destination in self.destinations:
            if destination.path is None:
                for piece in writer.pieces(scan):
                    output.write_report(piece, color=False)

    def _emit(self, render: Callable[[OutputFormat, bool], str], settings: Settings) -> None:
        color = _stdout_takes_color()
        rendered = [(d, render(d.format, color and d.path is None)) for d in self.destinations]
        for destination, text in rendered:
            if destination.path is not None:
                write_report(destination.path, text)
        summaries = {fmt.step_summary for fmt in self.formats if fmt.step_summary}
        if settings.step_summary_file is not None:
            for name in sorted(s for s in summaries if s):
                append_summary(settings.step_summary_file, render(output_format(name), False))
        for destination, text in rendered:
            if destination.path is None:
                # stdout may be a terminal: the one guard keeps only npmaudit's own colours.
                output.write_report(text, color=color and destination.format.colored)


def _stdout_takes_color() -> bool:
    """Standard output is a terminal and NO_COLOR is not set: a report written there may be coloured."""
    from npmaudit.cli.settings import no_color

    return sys.stdout.isatty() and not no_color()


def plan_reports(args: argparse.Namespace) -> ReportPlan:
    main = output_format(args.format)
    destinations = [Destination(main, getattr(args, "output", None))]
    for name, path in getattr(args, "report", None) or ():
        destinations.append(Destination(output_format(name), path))
    paths = [d.path.resolve() for d in destinations if d.path is not None]
    for path in paths:
        if paths.count(path) > 1:
            raise UsageError(f"two reports would be written to {path}")
    return ReportPlan(tuple(destinations))


def write_report(path: Path, text: str) -> None:
    write_report_pieces(path, (text,))


def write_report_pieces(path: Path, pieces: Iterable[str]) -> None:
    """The report made of ``pieces`` written to ``path`` atomically: all of it or, on any error, nothing."""
    from npmaudit.atomicfile import atomic_replace

    if not path.parent.is_dir():
        raise UsageError(f"{path}: cannot write the report: no such directory {path.parent}")
    try:
        with atomic_replace(path) as stream:
            for piece in pieces:
                stream.write(piece)
    except OSError as error:
        raise UsageError(f"{path}: cannot write the report: {error.strerror or error}") from None


def append_summary(path: Path, text: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        raise UsageError(f"{path}: cannot append the job summary: {error.strerror or error}") from None
