"""Progress lines on stderr for long work, when a person is watching.

Shown only when stderr is a terminal and ``NO_COLOR`` is unset, and never for machine-readable
output (the caller passes ``enabled=False`` then). One line, rewritten in place, at most ten times a
second; cleared when the task ends so no progress text is left among the messages.
"""

from __future__ import annotations

import sys
import time

from npmaudit import TYPE_CHECKING
from npmaudit.progress import Progress, no_progress
from npmaudit.report.safe_text import neutralise

if TYPE_CHECKING:
    from typing import TextIO


class TerminalProgress:
    def __init__(self, stream: TextIO, interval: float = 0.1) -> None:
        self.stream = stream
        self.interval = interval
        self._last = 0.0
        self._shown = False

    def __call__(self, task: str, done: int, total: int | None) -> None:
        finished = total is not None and done >= total
        now = time.monotonic()
        if not finished and now - self._last < self.interval:
            return
        self._last = now
        count = f"{done}/{total}" if total is not None else str(done)
        self.stream.write(f"\r\x1b[2Knpmaudit: {neutralise(task)}: {count}")
        self._shown = True
        if finished:
            self.clear()
        self.stream.flush()

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._shown = False


def progress_for(enabled: bool, no_color: bool, stream: TextIO | None = None) -> Progress:
    """A terminal progress line when it makes sense, else the silent default."""
    stream = stream if stream is not None else sys.stderr
    if enabled and not no_color and stream.isatty():
        return TerminalProgress(stream)
    return no_progress
