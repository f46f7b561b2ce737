"""Workspace globs matched as npm's minimatch matches them, in time linear in the input.

npm (``@npmcli/map-workspaces``) and yarn classic match ``workspaces`` patterns with minimatch
(default options). minimatch compiles each path segment to a JavaScript regular expression, and
a pattern such as ``*a*a*a*a*a*a*a*a*a*a*a*a*b`` backtracks exponentially on a folder name of a's;
translated to Python regular expressions it did the same (minutes for a 40-character name). Here
no regular expression is built from a pattern:

1. braces are expanded as minimatch's ``brace-expansion`` does (``{a,b}``, nesting, ``{1..3}``,
   ``{a..c}``, escapes), but within a budget proportional to the pattern (below);
2. each expansion is split into segments on ``/``, adjacent ``**`` collapse and ``x/..`` cancels;
3. a segment is a sequence of one-character matchers (a literal, ``?``, a ``[...]`` class) and
   ``*``, matched by the greedy algorithm that resumes from the last ``*``: at most
   ``len(segment) * len(name)`` steps, never exponential;
4. ``**`` segments match whole path segments, by a table over (pattern segment, path segment),
   with minimatch's rules: the segments ``**`` swallows never start with a dot, a ``**`` ending
   the pattern must swallow at least one, and with two ``**`` or more the names after the last
   one never start with a dot either.

minimatch's other rules kept here: a segment starting with ``*``, ``?`` or a class does not match
a name starting with a dot; a segment made only of ``*`` does not match an empty name; ``[x]`` is
the literal ``x``; a class with no valid member matches nothing; ``\\`` escapes the next character;
a pattern starting with ``#`` is a comment that matches nothing; patterns longer than 64 KiB are
refused by minimatch and match nothing here. Extglobs (``@(a|b)``, ``!(a)``) are not supported:
their characters match literally, as no workspace layout needs them.

The brace budget: ``brace-expansion`` stops at 100,000 results or 4 M characters, so
``{a,b}{a,b}…`` makes one short pattern into 100,000 patterns. Here a list of expansions may hold
``2 * len(pattern) + 1024`` characters, and a pattern 128 brace groups nested at most 16 deep;
past any of these :class:`GlobTooComplex` is raised (the readers make it an input error naming
the file) rather than matching some expansions and not others. Real workspace patterns stay far
below all three.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from npmaudit.lazy_pattern import LazyPattern
from npmaudit.records import record_class

MAX_PATTERN_LENGTH = 64 * 1024  # minimatch's assertValidPattern limit
BUDGET_BASE = 1024
BUDGET_FACTOR = 2
MAX_BRACE_GROUPS = 128
MAX_BRACE_DEPTH = 16  # braces inside braces inside braces…: real patterns nest two or three deep

CharTest = Callable[[str], bool]


@record_class(frozen=True, eq=False)  # compared by identity: `GLOBSTAR in parts` stays cheap
class Segment:
    """One path segment of a pattern: ``*`` is None, every other item tests one character."""

    items: tuple[CharTest | None, ...]
    no_dot: bool  # starts with *, ? or a class: a name starting with "." does not match
    no_empty: bool  # only stars: an empty name does not match
    never: bool = False  # holds a class that matches nothing
    literal: str | None = None  # the one name it matches, when it has no magic

    def match(self, name: str) -> bool:
        if self.literal is not None:
            return name == self.literal
        if self.never or (self.no_dot and name.startswith(".")) or (self.no_empty and not name):
            return False
        return _match_items(self.items, name)


class _Globstar:
    def __repr__(self) -> str:
        return "**"


GLOBSTAR = _Globstar()
Part = Segment | _Globstar


@record_class(frozen=True)
class Glob:
    """A compiled pattern: a path matches when one of its brace expansions does."""

    pattern: str
    expansions: tuple[tuple[Part, ...], ...]
    literals: frozenset[str] = frozenset()  # expansions without magic, as the paths they equal

    @property
    def cost(self) -> int:
        """Pattern matches one path costs (the expansions that need more than a look-up)."""
        return len(self.expansions)

    def match(self, path: str) -> bool:
        if path in self.literals:
            return True
        if not self.expansions:
            return False
        names = path.split("/") if "//" not in path else _split(path)
        return any(_match_parts(parts, names) for parts in self.expansions)


def glob_match(path: str, pattern: str) -> bool:
    """Does ``path`` (``/``-separated, relative) match the minimatch ``pattern``?"""
    return compile_glob(pattern).match(path)


@lru_cache(maxsize=512)
def compile_glob(pattern: str) -> Glob:
    if not pattern or pattern.startswith("#") or len(pattern) > MAX_PATTERN_LENGTH:
        # An empty pattern matches only the empty path, which no folder is.
        return Glob(pattern, ())
    budget = BUDGET_FACTOR * len(pattern) + BUDGET_BASE
    expansions: list[tuple[Part, ...]] = []
    literals: set[str] = set()
    seen: set[str] = set()
    for text in expand_braces(pattern, budget):
        if text in seen:
            continue
        seen.add(text)
        names = _optimise(_split(text))
        parts = tuple(_parse_part(name) for name in names)
        literal = _literal_path(parts)
        if literal is not None:
            literals.add(literal)
        else:
            expansions.append(parts)
    return Glob(pattern, tuple(expansions), frozenset(literals))


def _literal_path(parts: tuple[Part, ...]) -> str | None:
    """The one path an expansion matches when it has no magic (no *, ?, class or **)."""
    names = []
    for part in parts:
        if not isinstance(part, Segment) or part.literal is None:
            return None
        names.append(part.literal)
    if "" in names:  # empty names (a trailing slash) follow minimatch's own rule
        return None
    return "/".join(names)


# -- matching ----------------------------------------------------------------------------------


def _split(path: str) -> list[str]:
    return re.split(r"/+", path)


def _optimise(names: list[str]) -> list[str]:
    """minimatch's level-one optimisation: adjacent ``**`` collapse, ``x/..`` cancels out."""
    kept: list[str] = []
    for name in names:
        previous = kept[-1] if kept else None
        if name == "**" and previous == "**":
            continue
        if name == ".." and previous is not None and previous not in ("..", ".", "**"):
            kept.pop()
            continue
        kept.append(name)
    return kept or [""]


def _match_items(items: tuple[CharTest | None, ...], name: str) -> bool:
    """Greedy wildcard matching that resumes after the last ``*``: O(len(items) * len(name))."""
    i = t = 0
    resume_item, resume_text = -1, 0
    while t < len(name):
        if i < len(items):
            item = items[i]
            if item is None:
                resume_item, resume_text = i, t
                i += 1
                continue
            if item(name[t]):
                i += 1
                t += 1
                continue
        if resume_item < 0:
            return False
        i = resume_item + 1
        resume_text += 1
        t = resume_text
    while i < len(items) and items[i] is None:
        i += 1
    return i == len(items)


def _hidden(name: str) -> bool:
    return name.startswith(".")  # also "." and "..", which ** never swallows


def _match_parts(parts: tuple[Part, ...], names: list[str]) -> bool:
    """Pattern segments against path segments; ``**`` by a table, never by backtracking."""
    if GLOBSTAR not in parts:
        if len(parts) == len(names):
            return all(_segment_match(part, name) for part, name in zip(parts, names, strict=True))
        # "a/*" matches "a/b/": the one extra, empty segment of a trailing slash.
        return len(names) == len(parts) + 1 and names[-1] == "" and _match_parts(parts, names[:-1])
    count = len(names)
    # reach[j]: the pattern so far matches names[:j]; a ** ending the pattern must swallow one.
    reach = [True] + [False] * count
    last = len(parts) - 1
    for index, part in enumerate(parts):
        following = [False] * (count + 1)
        if isinstance(part, _Globstar):
            carry = False
            for j in range(count + 1):
                # carry: ** starting at a reachable position has swallowed names up to j
                following[j] = carry if index == last else reach[j] or carry
                if j < count:
                    carry = (reach[j] or carry) and not _hidden(names[j])
        else:
            for j in range(count):
                if reach[j] and _segment_match(part, names[j]):
                    following[j + 1] = True
        reach = following
    if not reach[count]:
        return False
    tail = len(parts) - 1 - max(i for i, part in enumerate(parts) if isinstance(part, _Globstar))
    if tail and sum(isinstance(part, _Globstar) for part in parts) > 1:
        # minimatch's walk over body sections ends with a dot check that runs to the end of the
        # path, over the tail's names too: a/**/b/**/.c never matches (kept for equal verdicts).
        return not any(_hidden(name) for name in names[count - tail :])
    return True


def _segment_match(part: Part, name: str) -> bool:
    return isinstance(part, Segment) and part.match(name)


# -- parsing a segment -------------------------------------------------------------------------


def _literal(char: str) -> CharTest:
    return char.__eq__


def _any(char: str) -> bool:
    return True


def _parse_part(text: str) -> Part:
    if text == "**":
        return GLOBSTAR
    items: list[CharTest | None] = []
    plain: list[str] = []  # the literal characters, while there is no magic
    magic = first_magic = never = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            literal = "\\" if i == len(text) - 1 else text[i + 1]
            items.append(_literal(literal))
            plain.append(literal)
            i += 2
            continue
        if char in "*?":
            first_magic = first_magic or not items
            magic = True
            if char == "?":
                items.append(_any)
            elif not items or items[-1] is not None:  # runs of * are one *
                items.append(None)
            i += 1
            continue
        if char == "[":
            parsed = _parse_class(text, i)
            if parsed is not None:
                test, consumed, class_magic, single = parsed
                first_magic = first_magic or (class_magic and not items)
                magic = magic or class_magic
                never = never or test is None
                items.append(test or _any)
                plain.append(single or "")
                i += consumed
                continue
        items.append(_literal(char))
        plain.append(char)
        i += 1
    only_stars = bool(text) and set(text) == {"*"}
    return Segment(tuple(items), first_magic, only_stars, never, None if magic else "".join(plain))


_POSIX_CLASSES: dict[str, tuple[CharTest, bool]] = {
    # name: (test, negated) — minimatch's translations to Unicode properties
    "[:alnum:]": (lambda c: _category(c)[0] == "L" or _category(c) in ("Nl", "Nd"), False),
    "[:alpha:]": (lambda c: _category(c)[0] == "L" or _category(c) == "Nl", False),
    "[:ascii:]": (lambda c: ord(c) <= 0x7F, False),
    "[:blank:]": (lambda c: _category(c) == "Zs" or c == "\t", False),
    "[:cntrl:]": (lambda c: _category(c) == "Cc", False),
    "[:digit:]": (lambda c: _category(c) == "Nd", False),
    "[:graph:]": (lambda c: _category(c)[0] in ("Z", "C"), True),
    "[:lower:]": (lambda c: _category(c) == "Ll", False),
    "[:print:]": (lambda c: _category(c)[0] == "C", False),
    "[:punct:]": (lambda c: _category(c)[0] == "P", False),
    "[:space:]": (lambda c: _category(c)[0] == "Z" or c in "\t\r\n\v\f", False),
    "[:upper:]": (lambda c: _category(c) == "Lu", False),
    "[:word:]": (lambda c: _category(c)[0] == "L" or _category(c) in ("Nl", "Nd", "Pc"), False),
    "[:xdigit:]": (lambda c: c in "ABCDEFabcdef0123456789", False),
}


def _category(char: str) -> str:
    import unicodedata  # here: only a POSIX class ([:alpha:] ...) in a workspace glob looks one up

    return unicodedata.category(char)


def _parse_class(text: str, start: int) -> tuple[CharTest | None, int, bool, str | None] | None:
    """A ``[...]`` class at ``start``: (test or None when nothing can match, length, magic, the one
    character of a class that is a mere literal); None when it is not closed (``[`` is literal)."""
    ranges: list[tuple[str, str]] = []
    posix: list[CharTest] = []
    negated_posix: list[CharTest] = []
    negate = False
    seen_first = False
    escaping = False
    range_start = ""
    end = -1
    i = start + 1
    while i < len(text):
        char = text[i]
        if char in "!^" and i == start + 1:
            negate = True
            i += 1
            continue
        if char == "]" and seen_first and not escaping:
            end = i + 1
            break
        seen_first = True
        if char == "\\" and not escaping:
            escaping = True
            i += 1
            continue
        if char == "[" and not escaping:
            name = next((n for n in _POSIX_CLASSES if text.startswith(n, i)), None)
            if name is not None:
                if range_start:  # [a-[:alpha:]] is invalid: nothing matches
                    return None, len(text) - start, True, None
                test, negative = _POSIX_CLASSES[name]
                (negated_posix if negative else posix).append(test)
                i += len(name)
                continue
        escaping = False
        if range_start:
            if char >= range_start:  # a reversed range is dropped; the others still count
                ranges.append((range_start, char))
            range_start = ""
            i += 1
            continue
        if text.startswith("-]", i + 1):
            ranges.extend([(char, char), ("-", "-")])
            i += 2
            continue
        if text.startswith("-", i + 1):
            range_start = char
            i += 2
            continue
        ranges.append((char, char))
        i += 1
    if end < 0:
        return None
    length = end - start
    if not ranges and not posix and not negated_posix:
        return None, length, True, None
    if not negate and not posix and not negated_posix and len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return _literal(ranges[0][0]), length, False, ranges[0][0]  # [x] is the literal x, not magic
    return _class_test(tuple(ranges), tuple(posix), tuple(negated_posix), negate), length, True, None


def _class_test(
    ranges: tuple[tuple[str, str], ...],
    posix: tuple[CharTest, ...],
    negated_posix: tuple[CharTest, ...],
    negate: bool,
) -> CharTest:
    positive = bool(ranges or posix)

    def test(char: str) -> bool:
        if positive:
            inside = any(low <= char <= high for low, high in ranges) or any(p(char) for p in posix)
            if inside != negate:
                return True
        if negated_posix:
            inside = any(p(char) for p in negated_posix)
            if inside == negate:
                return True
        return False

    return test


# -- brace expansion ---------------------------------------------------------------------------

_ESCAPES = {"\\\\": "\x00S", "\\{": "\x00O", "\\}": "\x00C", "\\,": "\x00M", "\\.": "\x00P"}
_UNESCAPES = {"\x00S": "\\", "\x00O": "{", "\x00C": "}", "\x00M": ",", "\x00P": "."}
_NUMERIC_SEQUENCE = LazyPattern(r"-?\d+\.\.-?\d+(?:\.\.-?\d+)?")
_ALPHA_SEQUENCE = LazyPattern(r"[a-zA-Z]\.\.[a-zA-Z](?:\.\.-?\d+)?")


class GlobTooComplex(ValueError):
    """A pattern whose braces expand past the budget, or nest or repeat past what any layout needs."""


class _Budget:
    """The characters one list of expansions may hold, and the brace groups one pattern may have."""

    def __init__(self, characters: int) -> None:
        self.characters = characters
        self.groups = 0

    def check(self, texts: list[str], adding: str) -> None:
        if sum(map(len, texts)) + len(adding) > self.characters:
            raise GlobTooComplex(f"a pattern whose braces expand to more than {self.characters:,} characters")

    def count_group(self) -> None:
        self.groups += 1
        if self.groups > MAX_BRACE_GROUPS:
            raise GlobTooComplex(f"a pattern with more than {MAX_BRACE_GROUPS} brace groups")


def expand_braces(pattern: str, budget: int) -> list[str]:
    """The brace expansions of ``pattern``, in brace-expansion's order; :class:`GlobTooComplex`
    when a list of them would hold more than ``budget`` characters."""
    if pattern.startswith("{}"):  # as bash: a leading {} is literal
        pattern = "\\{\\}" + pattern[2:]
    for escape, mark in _ESCAPES.items():
        pattern = pattern.replace(escape, mark)
    results = _expand(pattern, _Budget(budget), top=True) if pattern else []
    unescaped = []
    for text in results:
        for mark, char in _UNESCAPES.items():
            text = text.replace(mark, char)
        unescaped.append(text)
    return unescaped


_BRACE = re.compile(r"[{}]")


def _balanced(text: str) -> tuple[str, str, str] | None:
    """(before, body, after) of the first ``{`` that is closed, and its ``}``; unclosed ones are
    skipped. One scan over the braces alone, which ends when the first outermost pair closes."""
    opened: list[int] = []
    first: tuple[int, int] | None = None
    for brace in _BRACE.finditer(text):
        index = brace.start()
        if text[index] == "{":
            opened.append(index)
        elif opened:
            start = opened.pop()
            if first is None or start < first[0]:
                first = (start, index)
            if not opened:
                break  # no earlier { is open: nothing later can start before this pair
    if first is None:
        return None
    start, end = first
    return text[:start], text[start + 1 : end], text[end + 1 :]


def _combine(accumulated: list[str], pre: str, values: list[str], budget: _Budget, drop_empty: bool) -> list[str]:
    out: list[str] = []
    size = 0
    for head in accumulated:
        for value in values:
            expansion = head + pre + value
            if drop_empty and not expansion:
                continue
            size += len(expansion)
            if size > budget.characters:
                budget.check(out, expansion)
            out.append(expansion)
    return out


def _expand(text: str, budget: _Budget, top: bool, depth: int = 0) -> list[str]:
    """Expand ``text`` left to right, one top-level brace group at a time."""
    if depth > MAX_BRACE_DEPTH:
        raise GlobTooComplex(f"a pattern with braces nested more than {MAX_BRACE_DEPTH} deep")
    accumulated = [""]
    drop_empty = False
    first_group = True
    while True:
        found = _balanced(text)
        if found is None:
            return _combine(accumulated, text, [""], budget, drop_empty)
        pre, body, post = found
        budget.count_group()  # each group rescans what follows it: their number is bounded
        if pre.endswith("$"):  # ${...} is not a brace group
            accumulated = _combine(accumulated, pre + "{" + body + "}", [""], budget, drop_empty and not post)
            first_group = False
            if not post:
                return accumulated
            text = post
            continue
        sequence = _NUMERIC_SEQUENCE.fullmatch(body) or _ALPHA_SEQUENCE.fullmatch(body)
        if sequence is None and "," not in body:
            if re.search(r",(?!,).*\}", post):  # {a},b}: the first } is literal, the group goes on
                text = pre + "{" + body + _ESCAPES["\\}"] + post
                top = True
                continue
            return _combine(accumulated, pre + "{" + body + "}" + post, [""], budget, drop_empty)
        if first_group:
            drop_empty = top and sequence is None
            first_group = False
        if sequence is not None:
            values = _sequence(body, alpha=_ALPHA_SEQUENCE.fullmatch(body) is not None, budget=budget)
        else:
            options = _comma_parts(body)
            if len(options) == 1:  # x{{a,b}}y is x{a}y x{b}y
                values = ["{" + v + "}" for v in _expand(options[0], budget, False, depth + 1)]
            else:
                values = []
                for option in options:
                    values.extend(_expand(option, budget, False, depth + 1))
                    budget.check(values, "")
        accumulated = _combine(accumulated, pre, values, budget, drop_empty and not post)
        if not post:
            return accumulated
        text = post


_BRACE_OR_COMMA = LazyPattern(r"[{},]")


def _comma_parts(body: str) -> list[str]:
    """``body`` split at its top-level commas (commas inside nested braces stay)."""
    parts = []
    depth = 0
    start = 0
    for mark in _BRACE_OR_COMMA.finditer(body):
        char = mark.group()
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(0, depth - 1)
        elif depth == 0:
            parts.append(body[start : mark.start()])
            start = mark.end()
    parts.append(body[start:])
    return parts


def _sequence(body: str, alpha: bool, budget: _Budget) -> list[str]:
    bounds = body.split("..")
    first, last = (ord(b) if alpha else int(b) for b in bounds[:2])
    step = max(abs(int(bounds[2])), 1) if len(bounds) == 3 else 1
    width = max(len(bounds[0]), len(bounds[1]))
    padded = not alpha and any(re.match(r"-?0\d", b) for b in bounds[:2])
    if last < first:
        step = -step
    values: list[str] = []
    spent = 0
    value = first
    while (value <= last) if step > 0 else (value >= last):
        if alpha:
            item = "" if chr(value) == "\\" else chr(value)
        else:
            item = str(value)
            if padded and len(item) < width:
                zeros = "0" * (width - len(item))
                item = "-" + zeros + item[1:] if value < 0 else zeros + item
        spent += len(item)
        if spent > budget.characters:
            budget.check(values, item)
        values.append(item)
        value += step
    return values


# -- folders on disk ---------------------------------------------------------------------------

MAX_FOLDERS_SEARCHED = 100_000


def matching_folders(root: Path, pattern: str) -> list[str]:
    """Folders under ``root`` (relative, ``/``-separated) that ``pattern`` matches, as node-glob
    walks for yarn classic: segment by segment, listing a folder only where a segment has magic;
    ``**`` descends into every folder that is neither hidden, a ``node_modules`` nor a symbolic
    link. At most :data:`MAX_FOLDERS_SEARCHED` folders are listed (then :class:`GlobTooComplex`)."""
    glob = compile_glob(pattern)
    found: set[str] = {literal for literal in glob.literals if (root / literal).is_dir()}
    listed = [0]
    for parts in glob.expansions:
        found.update(_walk(root, parts, listed))
    return sorted(path for path in found if glob.match(path))


def _walk(root: Path, parts: tuple[Part, ...], listed: list[int]) -> set[str]:
    names: list[tuple[str, ...]] = [()]
    for part in parts:
        if isinstance(part, _Globstar):
            return {"/".join(prefix + rest) for prefix in names for rest in _subtree(root, prefix, listed)}
        following: list[tuple[str, ...]] = []
        for prefix in names:
            if part.literal is not None:
                if (root.joinpath(*prefix, part.literal)).is_dir():
                    following.append((*prefix, part.literal))
                continue
            for name in _children(root, prefix, listed, follow_links=True):
                if part.match(name):
                    following.append((*prefix, name))
        names = following
        if not names:
            break
    return {"/".join(name) for name in names if name}


def _subtree(root: Path, prefix: tuple[str, ...], listed: list[int]) -> list[tuple[str, ...]]:
    """Every path below ``prefix`` that ``**`` may cross (the empty one included)."""
    out: list[tuple[str, ...]] = [()]
    pending: list[tuple[str, ...]] = [()]
    while pending:
        relative = pending.pop()
        for name in _children(root, prefix + relative, listed, follow_links=False):
            if name.startswith(".") or name == "node_modules":
                continue
            out.append((*relative, name))
            pending.append((*relative, name))
    return out


def _children(root: Path, prefix: tuple[str, ...], listed: list[int], follow_links: bool) -> list[str]:
    """The names of the folders in ``root/prefix``; none when it cannot be listed."""
    listed[0] += 1
    if listed[0] > MAX_FOLDERS_SEARCHED:
        raise GlobTooComplex(f"more than {MAX_FOLDERS_SEARCHED:,} folders to search")
    try:
        with os.scandir(root.joinpath(*prefix)) as entries:
            return [
                entry.name
                for entry in entries
                if entry.is_dir(follow_symlinks=follow_links) and (follow_links or not entry.is_symlink())
            ]
    except OSError:
        return []
