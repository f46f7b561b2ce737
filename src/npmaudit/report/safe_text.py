"""Neutralise advisory text before it reaches a terminal.

Advisory summaries come from third parties (a malicious package's author can write to a
public advisory through its own package metadata). Control characters could move the cursor,
rewrite earlier lines or hide text (ANSI escapes, carriage returns, bidirectional overrides as in
"Trojan Source"); they are shown as visible escapes instead.
"""

from __future__ import annotations

import unicodedata


def neutralise(text: str) -> str:
    """One visible line: control and format characters become ``\\xNN`` / ``\\uNNNN`` escapes."""
    if text.isascii() and text.isprintable():
        return text  # nearly every name and summary: no control character can hide in printable ASCII
    out = []
    for char in text:
        if char in "\n\t":
            out.append(" ")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)
