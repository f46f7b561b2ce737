"""Errors that carry the exit code the command line must end with.

Exit codes separate results from failures (docs/architecture.md, decision 4):
0 passed, 1 findings at or above the failure level, 2 usage or input error,
3 an advisory source could not be queried (fail closed).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2
EXIT_SOURCE = 3


class NpmauditError(Exception):
    """Base class: `str(error)` is the one-line message shown to the user."""

    exit_code = EXIT_INPUT


class UsageError(NpmauditError):
    """Bad flags, option values or configuration."""

    exit_code = EXIT_INPUT


class InputError(NpmauditError):
    """A file we were asked to read is missing, unreadable or malformed.

    The message always names the file, and the line when the format allows it.
    """

    exit_code = EXIT_INPUT

    def __init__(self, path: object, problem: str, line: int | None = None) -> None:
        self.path = str(path)
        self.problem = problem
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class SourceError(NpmauditError):
    """An advisory source could not be queried; the audit must not pass silently."""

    exit_code = EXIT_SOURCE

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")
