"""A LazyPattern (issue 17: patterns compiled on first use) answers as the compiled pattern does,
and compiles nothing until it is asked; the modules that declare one leave it uncompiled at import."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from npmaudit.lazy_pattern import LazyPattern

TEXTS = ["", "a", "abc", "x1.2.3y", "1.2.3-beta+b", "A.TGZ\n", "\n\n<<<<<<< HEAD\n", "é\u2028z", "v1 v2 v3"]
SOURCES = [(r"[0-9]+", 0), (r"^[a-z]+$", re.MULTILINE), (r"\.(?:tgz|tar)$", re.IGNORECASE), (r"(v)(\d)", 0), ("", 0)]


def found(match: re.Match[str] | None) -> tuple[tuple[int, int], tuple[str | None, ...]] | None:
    return None if match is None else (match.span(), match.groups())


@pytest.mark.parametrize(("source", "flags"), SOURCES)
def test_it_answers_as_the_compiled_pattern(source: str, flags: int) -> None:
    lazy, compiled = LazyPattern(source, flags), re.compile(source, flags)
    for text in TEXTS:
        for method in ("match", "fullmatch", "search"):
            for bounds in ((), (1,), (1, 3)):
                ours = getattr(lazy, method)(text, *bounds)
                theirs = getattr(compiled, method)(text, *bounds)
                assert found(ours) == found(theirs), (method, text, bounds)
        assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in compiled.finditer(text)]
        assert lazy.sub("<\\g<0>>", text) == compiled.sub("<\\g<0>>", text)
        assert lazy.sub(lambda m: m.group().upper(), text, count=1) == compiled.sub(
            lambda m: m.group().upper(), text, count=1
        )
        assert lazy.split(text) == compiled.split(text)
        assert lazy.split(text, 1) == compiled.split(text, 1)
    assert lazy.compiled is lazy.compiled  # compiled once, then kept


def test_nothing_is_compiled_before_use() -> None:
    lazy = LazyPattern(r"(unclosed")  # an invalid pattern: compiling it would raise
    assert "unclosed" in repr(lazy)
    with pytest.raises(re.error):
        lazy.search("x")


def test_the_modules_leave_their_rare_patterns_uncompiled_at_import() -> None:
    """A fresh interpreter imports the modules an npm lockfile audit loads: their LazyPatterns are
    still uncompiled (a plain re.compile there would have paid at import)."""
    program = """
import importlib, sys
from npmaudit.lazy_pattern import LazyPattern
names = ["npmaudit.npmrc", "npmaudit.report.safe_text", "npmaudit.semver.version", "npmaudit.project.model",
         "npmaudit.project.readers.npm.locktext", "npmaudit.project.readers.npm.spec", "npmaudit.project.globs"]
lazy = [(n, k) for n in names for k, v in vars(importlib.import_module(n)).items() if isinstance(v, LazyPattern)]
compiled = [(n, k) for n, k in lazy if getattr(sys.modules[n], k)._compiled is not None]
print(len(lazy), compiled)
"""
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout.split(
        " ", 1
    )
    assert int(out[0]) >= 20
    assert out[1].strip() == "[]"
