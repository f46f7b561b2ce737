"""bun.lock's JSONC made plain JSON in one pass: comments and trailing commas become spaces.

Every offset and line is kept (newlines inside comments stay), so JSON errors point at the real
line. The scan is linear however the text is built: a bun.lock comes with pull requests, and the
regular expression this replaces rescanned to the end of the line or file from every unclosed
``"`` or ``/*`` (120 KB of them took minutes).

The rules, as that expression had them:

* a string is ``"`` up to the next unescaped ``"``, kept as is (a backslash escapes any
  character, a newline too); a ``"`` met by an unescaped newline first is an ordinary character,
  and so is every ``"`` before that newline (each of them would stop at the same one);
* ``//`` runs to the end of the line; ``/*`` to the next ``*/``; an unclosed ``/*`` is ordinary,
  and so is every later ``/*`` (none of them can be closed either);
* a comma followed by nothing but whitespace and comments up to ``}`` or ``]`` is trailing.
"""

from __future__ import annotations


def strip_jsonc(text: str) -> str:
    """Plain JSON from JSONC: comments and trailing commas blanked, every offset and line kept."""
    if "/" not in text and "," not in text:
        return text
    blanks: list[tuple[int, int]] = []  # (start, end) of each comment and trailing comma
    position = 0
    length = len(text)
    strings_from = 0  # no string starts before this offset (an unclosed " on the line)
    block_comments = True  # False once a /* was found unclosed
    comma = -1  # the pending comma: trailing if only blanks and comments come before } or ]

    while position < length:
        char = text[position]
        if char == '"' and position >= strings_from:
            end, unclosed_at = _string_end(text, position)
            if end < 0:  # unclosed: an ordinary character, and so is every " up to where it failed
                strings_from = unclosed_at
                comma = -1
                position += 1
                continue
            comma = -1
            position = end
            continue
        if char == "/" and position + 1 < length:
            following = text[position + 1]
            if following == "/":
                newline = text.find("\n", position)
                end = length if newline < 0 else newline
                blanks.append((position, end))
                position = end
                continue
            if following == "*" and block_comments:
                close = text.find("*/", position + 2)
                if close >= 0:
                    blanks.append((position, close + 2))
                    position = close + 2
                    continue
                block_comments = False
        if char.isspace():
            position += 1
            continue
        if char in "}]" and comma >= 0:
            blanks.append((comma, comma + 1))
        comma = position if char == "," else -1
        position += 1
    return _blanked(text, sorted(blanks))  # a trailing comma is found after the comments that follow it


def _blanked(text: str, blanks: list[tuple[int, int]]) -> str:
    out: list[str] = []
    kept = 0
    for start, end in blanks:
        out.append(text[kept:start])
        piece = text[start:end]
        out.append(" " * len(piece) if "\n" not in piece else "".join(c if c == "\n" else " " for c in piece))
        kept = end
    out.append(text[kept:])
    return "".join(out)


def _string_end(text: str, start: int) -> tuple[int, int]:
    """(the offset after the string opening at ``start``, -1) or, when an unescaped newline or the
    end of the text comes first, (-1, its offset). A backslash escapes any character, a newline too."""
    position = start + 1
    length = len(text)
    while position < length:
        char = text[position]
        if char == '"':
            return position + 1, -1
        if char == "\n":
            return -1, position
        position += 2 if char == "\\" else 1
    return -1, length
