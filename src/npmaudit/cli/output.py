"""Everything the command line writes goes through here: the last guard between text from files and
servers and the user's terminal.

A message (stderr, and the one-line results of `db` commands on stdout) is scrubbed of credentials
(:func:`npmaudit.npmrc.scrub_credentials`) and neutralised to one visible line
(:func:`npmaudit.report.safe_text.neutralise`): a path, a record id, a zip member's name or a
server's error body can hold escape sequences, carriage returns, bidi overrides or a line break
that would fake a second message. A report is passed through
:func:`npmaudit.report.safe_text.terminal_safe`, which keeps its lines and npmaudit's own colours.
"""

from __future__ import annotations

import sys

from npmaudit import TYPE_CHECKING
from npmaudit.npmrc import scrub_credentials
from npmaudit.report.safe_text import neutralise, terminal_safe

if TYPE_CHECKING:
    from typing import TextIO

PREFIX = "npmaudit: "


def safe_message(text: str) -> str:
    """One line, credential-free and inert on a terminal."""
    return neutralise(scrub_credentials(text))


def say(message: str, stream: TextIO | None = None) -> None:
    """``npmaudit: <message>`` on stderr."""
    print(PREFIX + safe_message(message), file=stream if stream is not None else sys.stderr)


def error(message: str) -> None:
    say(f"error: {message}")


def result_line(text: str) -> None:
    """A one-line result on stdout (`db import` counts, `db info`)."""
    print(safe_message(text))


def write_report(text: str, *, color: bool) -> None:
    """A rendered report on stdout: its lines kept, its own colours kept when colour is on."""
    sys.stdout.write(terminal_safe(text, keep_colour=color))
