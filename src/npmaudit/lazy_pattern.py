"""Regular expressions compiled the first time they are used (issue 17: start-up cost).

Compiling a pattern takes tens of microseconds, a few hundred for a long one. A module that
compiles its patterns at import makes every run pay for all of them, though a run uses few: an
offline audit of an npm lockfile never classifies a git or file spec, never parses a brace
sequence and prints no credential to scrub. A :class:`LazyPattern` stands where the compiled
pattern would, answers the same calls, and compiles on the first one. Patterns a run uses on
every package stay plain ``re.compile`` (one call less each time).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator

from npmaudit import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any


class LazyPattern:
    """``re.compile(pattern, flags)``, done on the first match, fullmatch, search, finditer or sub."""

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self.pattern, self.flags)
        return compiled

    def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled.match(string, pos, endpos)

    def fullmatch(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled.fullmatch(string, pos, endpos)

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled.search(string, pos, endpos)

    def finditer(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(string, pos, endpos)

    def sub(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> str:
        return self.compiled.sub(repl, string, count)

    def split(self, string: str, maxsplit: int = 0) -> list[str | Any]:
        return self.compiled.split(string, maxsplit)

    def __repr__(self) -> str:
        return f"LazyPattern({self.pattern!r}, {self.flags!r})"
