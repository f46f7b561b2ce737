"""Progress on stderr: only on a terminal, never with NO_COLOR or for formats read by programs."""

from __future__ import annotations

import io

from npmaudit.cli.progress import TerminalProgress, progress_for
from npmaudit.progress import no_progress
from npmaudit.report import FORMATS


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_shown_on_a_terminal_and_cleared_when_done() -> None:
    stream = _Terminal()
    progress = progress_for(enabled=True, no_color=False, stream=stream)
    assert isinstance(progress, TerminalProgress)
    progress.interval = 0.0
    progress("packuments", 1, 3)
    progress("packuments \x1b]0;evil\x07", 2, 3)
    progress("packuments", 3, 3)
    text = stream.getvalue()
    assert "npmaudit: packuments: 1/3" in text and "2/3" in text
    assert "\x1b]0;" not in text and "\x07" not in text  # names from servers are neutralised
    assert text.endswith("\r\x1b[2K")  # nothing left on the line once the task is done


def test_never_for_pipes_no_color_or_program_formats() -> None:
    assert progress_for(enabled=True, no_color=False, stream=io.StringIO()) is no_progress
    assert progress_for(enabled=True, no_color=True, stream=_Terminal()) is no_progress
    assert progress_for(enabled=False, no_color=False, stream=_Terminal()) is no_progress
    people = {fmt.name for fmt in FORMATS if fmt.for_people}
    assert "json" not in people and "npm-json" not in people and {"text", "npm-text"} <= people
