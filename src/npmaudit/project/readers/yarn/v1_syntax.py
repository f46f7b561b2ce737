"""The syntax of yarn classic's lockfile (``# yarn lockfile v1``): not YAML, so it gets its own parser.

The format is what yarn 1's ``lockfile/parse.js`` accepts: lines indented by two spaces per level;
a line is one or more comma-separated keys (quoted JSON strings or bare words) followed either by
``:`` and an indented block, or by a value (``version "1.0.0"``; ``key: value`` is accepted too);
``#`` starts a comment. Parsing line by line keeps the exact line number of every key, so a damaged
lockfile is reported at the line where it breaks.
"""

from __future__ import annotations

import json
from pathlib import Path

from npmaudit.errors import InputError

Scalar = str | bool | int | float


class Block(dict[str, "Scalar | Block"]):
    """A mapping that remembers the line each of its keys was written on (1-based)."""

    __slots__ = ("line", "lines")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[str, int] = {}


_CONFLICT_MARKERS = ("<<<<<<<", "=======", ">>>>>>>", "|||||||")
_BARE_STOP = frozenset(" :,\t")


def parse(text: str, path: Path) -> Block:
    """Parse the whole file into nested blocks; raise InputError at the first malformed line."""
    root = Block(0)
    stack: list[Block] = [root]  # stack[i] is the open block at indent level i
    expect_child = False  # the previous line ended with ':' and opened a block
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        content = line.lstrip(" ")
        if not content or content.startswith("#"):
            continue
        if content.startswith(_CONFLICT_MARKERS):
            raise InputError(path, "git merge conflict markers; resolve the conflict and run yarn install", number)
        if content[0] == "\t" or "\t" in line[: len(line) - len(content)]:
            raise InputError(path, "tab in indentation (yarn.lock indents with two spaces)", number)
        spaces = len(line) - len(content)
        if spaces % 2:
            raise InputError(path, f"invalid indentation of {spaces} spaces (must be a multiple of two)", number)
        level = spaces // 2
        depth = len(stack) - 1  # the deepest level a line may be written at
        if level > depth:
            raise InputError(path, "unexpected indentation", number)
        if expect_child and level < depth:
            stack.pop()  # the block opened on the previous line stays empty
            depth -= 1
        del stack[level + 1 :]
        keys, has_colon, value = _parse_line(content, path, number)
        target = stack[level]
        if value is None:
            if not has_colon:
                raise InputError(path, f"expected ':' or a value after {keys[-1]!r}", number)
            block = Block(number)
            for key in keys:
                target[key] = block
                target.lines[key] = number
            stack.append(block)
            expect_child = True
        else:
            for key in keys:
                target[key] = value
                target.lines[key] = number
            expect_child = False
    return root


def _parse_line(content: str, path: Path, number: int) -> tuple[list[str], bool, Scalar | None]:
    """Split one line into its keys, whether a ':' follows them, and its value (None for a block)."""
    tokens: list[tuple[str, Scalar]] = []  # ("str" | "word" | "," | ":", value)
    pos = 0
    end = len(content)
    while pos < end:
        char = content[pos]
        if char == " ":
            pos += 1
        elif char == "#":
            break
        elif char in ",:":
            tokens.append((char, char))
            pos += 1
        elif char == '"':
            close = _closing_quote(content, pos)
            if close < 0:
                raise InputError(path, "unterminated string", number)
            try:
                tokens.append(("str", json.loads(content[pos : close + 1])))
            except ValueError:
                raise InputError(path, "invalid escape in string", number) from None
            pos = close + 1
        else:
            start = pos
            while pos < end and content[pos] not in _BARE_STOP:
                pos += 1
            if pos == start:
                # A stop character no rule above takes (a tab, say): yarn's own lexer rejects it too,
                # and skipping nothing here would loop forever.
                raise InputError(path, f"unexpected character {char!r}", number)
            tokens.append(("word", content[start:pos]))
    keys: list[str] = []
    index = 0
    while True:
        if index >= len(tokens) or tokens[index][0] not in ("str", "word"):
            raise InputError(path, "expected a key", number)
        keys.append(str(tokens[index][1]))
        index += 1
        if index < len(tokens) and tokens[index][0] == ",":
            index += 1
            continue
        break
    has_colon = index < len(tokens) and tokens[index][0] == ":"
    if has_colon:
        index += 1
    value: Scalar | None = None
    if index < len(tokens):
        kind, raw = tokens[index]
        if kind not in ("str", "word"):
            raise InputError(path, f"unexpected {raw!r}", number)
        value = _word_value(raw) if kind == "word" else raw
        index += 1
    if index < len(tokens):
        raise InputError(path, f"unexpected {tokens[index][1]!r} after the value", number)
    return keys, has_colon, value


def _closing_quote(content: str, start: int) -> int:
    pos = start + 1
    while pos < len(content):
        char = content[pos]
        if char == "\\":
            pos += 2
            continue
        if char == '"':
            return pos
        pos += 1
    return -1


def _word_value(word: Scalar) -> Scalar:
    """Bare words are strings except the literals yarn's tokenizer turns into booleans and numbers."""
    if word == "true":
        return True
    if word == "false":
        return False
    if isinstance(word, str) and word.isdigit():
        return int(word)
    return word
