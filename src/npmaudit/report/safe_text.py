"""Neutralise text from files and servers before it reaches a terminal: the one place that decides
which characters are unsafe, for every report format and every message.

Advisory summaries come from third parties (a malicious package's author can write to a
public advisory through its own package metadata), package names and paths from lockfiles in pull
requests, error snippets from servers. Control characters could move the cursor, rewrite earlier
lines, set the window title or hide text (ANSI and OSC escapes, carriage returns, C1 controls such
as the one-byte CSI, bidirectional overrides as in "Trojan Source", line and paragraph separators);
they are shown as visible escapes instead. Lone surrogates (a JSON ``\\ud800`` escape) are unsafe
too: they cannot even be encoded for output.

Three forms, one rule (:func:`is_unsafe`):

* :func:`neutralise` — one visible line (messages, names, summaries in the text report);
* :func:`terminal_safe` — a rendered report, line breaks kept; the colour codes npmaudit itself
  writes (SGR, ``ESC [ digits m``) may be kept when colour is on;
* :func:`safe_json_dumps` — a JSON document whose strings carry those characters as ``\\uXXXX``
  escapes: the same values for a JSON reader, and nothing a terminal would act on.
"""

from __future__ import annotations

import functools
import json
import re

from npmaudit import TYPE_CHECKING
from npmaudit.lazy_pattern import LazyPattern

if TYPE_CHECKING:
    from typing import Any

# Cc: C0/C1 controls and DEL; Cf: format characters (bidi overrides and isolates, zero-width
# characters); Zl/Zp: the line and paragraph separators; Cs: lone surrogates.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

# The colour sequences npmaudit's own renderers write (select graphic rendition only).
_OWN_SGR = LazyPattern(r"\x1b\[[0-9;]*m")


def is_unsafe(char: str) -> bool:
    """Would this character, written raw, be acted on by a terminal rather than shown?"""
    import unicodedata  # here: only text beyond printable ASCII is looked up, and most runs have none

    return unicodedata.category(char) in UNSAFE_CATEGORIES


def _is_plain(text: str) -> bool:
    # Printable ASCII (space to tilde) holds no unsafe character: the common case, checked fast.
    return text.isascii() and text.isprintable()


def neutralise(text: str) -> str:
    """One visible line: control and format characters become ``\\xNN`` / ``\\uNNNN`` escapes."""
    if _is_plain(text):
        return text  # nearly every name and summary: no control character can hide in printable ASCII
    out = []
    for char in text:
        if char in "\n\t":
            out.append(" ")
        elif is_unsafe(char):
            out.append(_visible_escape(char))
        else:
            out.append(char)
    return "".join(out)


def _visible_escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def terminal_safe(output: str, *, keep_colour: bool = False) -> str:
    """A rendered report made safe as a whole: line feeds and tabs stay, every other unsafe
    character becomes a ``\\uXXXX`` escape (valid inside a JSON string too, so a JSON document stays
    valid and means the same). With ``keep_colour``, npmaudit's own SGR colour sequences stay;
    they can only change colours. This is the last guard before stdout: renderers neutralise what
    they print themselves, so normally nothing is left for it to change."""
    if not keep_colour:
        return _escape_unsafe(output, keep="\n\t")
    pieces = []
    position = 0
    for match in _OWN_SGR.finditer(output):
        pieces.append(_escape_unsafe(output[position : match.start()], keep="\n\t"))
        pieces.append(match.group(0))
        position = match.end()
    pieces.append(_escape_unsafe(output[position:], keep="\n\t"))
    return "".join(pieces)


def _escape_unsafe(text: str, keep: str) -> str:
    # Only characters outside printable ASCII (and ``keep``) are looked at, each kind once: a report
    # of tens of megabytes costs a fraction of its json.dumps.
    return _candidates(keep).sub(_escape_match, text)


@functools.cache
def _candidates(keep: str) -> re.Pattern[str]:
    return re.compile("[^\x20-\x7e" + "".join(f"\\x{ord(char):02x}" for char in keep) + "]")


def _escape_match(match: re.Match[str]) -> str:
    return _escaped_if_unsafe(match.group())


@functools.lru_cache(maxsize=4096)
def _escaped_if_unsafe(char: str) -> str:
    return _json_escape(char) if is_unsafe(char) else char


def _json_escape(char: str) -> str:
    """``\\uXXXX`` as JSON writes it: a character beyond the BMP as its UTF-16 surrogate pair."""
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def safe_json_dumps(value: Any, *, indent: int | None = 2) -> str:
    """``json.dumps(value, indent=indent, ensure_ascii=False)`` with every unsafe character escaped.

    ``json.dumps`` already escapes C0 controls; DEL, the C1 controls, bidi and other format
    characters, the line separators and lone surrogates it writes raw, so they are escaped here.
    Outside strings a JSON document holds only ASCII punctuation and whitespace, so every such
    character is inside a string and its escape means the same character; other text (accents,
    CJK, emoji) stays as it is, so documents of ordinary names are byte for byte unchanged.

    The standard library's compiled encoder ignores ``indent``, and its pure-Python one was half the
    cost of a report: a document indented by 2 is written by :mod:`npmaudit.report.json_indent` (the
    same text, faster). (orjson's compiled encoder once wrote ``-r``'s documents: no faster than that
    writer on the scan benchmark, and its import, with dataclasses, inspect and uuid, was 1.6 MB of
    the scan's peak memory.)
    """
    text = None
    if indent == 2:
        from npmaudit.report.json_indent import indented

        text = indented(value)
    if text is None:
        text = json.dumps(value, indent=indent, ensure_ascii=False)
    return safe_json_text(text)


def safe_json_text(text: str) -> str:
    """A JSON document's text (as any serialiser wrote it) with every unsafe character escaped:
    see :func:`safe_json_dumps`."""
    return _escape_unsafe(text, keep="\n")
