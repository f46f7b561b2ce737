"""Progress of long work (``db update``, fetching packuments), reported through a callback.

Core code never prints: a long operation takes a :class:`Progress` and calls it as it goes; the
command line decides whether and how to show it (on stderr, only when stderr is a terminal, never
with ``NO_COLOR`` or a machine-readable format). Library callers pass nothing and see nothing.
"""

from __future__ import annotations

from npmaudit.runtime_typing import Protocol


class Progress(Protocol):
    def __call__(self, task: str, done: int, total: int | None) -> None:
        """``done`` of ``total`` steps of ``task`` are finished (``total`` None when unknown)."""


def no_progress(task: str, done: int, total: int | None) -> None:
    """The default: report nothing."""
