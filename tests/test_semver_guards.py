"""The plain-string checks that stand in front of node-semver's patterns (issue 17: a pattern is
compiled only when a range could use it) decide exactly as the patterns would.

Each rewrite of a range runs only when its text holds what the pattern needs (a ``+`` for the
build, a ``^`` or ``~``, a ``*``, ``0.0.0``, a hyphen between spaces, whitespace after an
operator): these tests hold every such check to the pattern itself, on edge cases and on random
texts over the characters the grammar cares about, so a skipped rewrite is always one that would
have changed nothing.
"""

from __future__ import annotations

import random

import pytest

from npmaudit.semver import _grammar as g

# The grammar's characters, JavaScript whitespace that Python's str.isspace does not share (and the
# reverse), digits that are not ASCII, and a few letters.
ALPHABET = "0123456789..xX*^~<>==||--++ vvab\t\n\u3000\ufeff\x1c\u00b2\u0661"
EDGES = [
    "",
    "-",
    " - ",
    "1 - 2",
    "1.2.3 - 2.3.4",
    "1.2.3 -2",
    "1.2.3- 2",
    "1.2.3\u3000-\ufeff2.3.4",
    "1.2.3\x1c-\x1c2.3.4",
    "1.2.3-beta",
    ">= 1.2.3",
    "> 1",
    "<  1",
    "=\t1",
    "  1.2.3",
    "1.2.3  2",
    "v 1.2.3",
    "~ 1.2",
    "^ 1.2",
    "~> 1",
    ">=0.0.0",
    ">= 0.0.0-0",
    "*",
    ">=*",
    "1.2.3+build",
    "1.2.3+",
    "0",
    "00",
    "\u0661",
    "\u00b2",
    "12\n",
    "v" * 200 + " 1",
]


# Pieces of real ranges, so that random texts also form hyphen ranges, operators before spaces, etc.
TOKENS = [
    *["1", "1.2", "1.2.3", "0.0.0", "01.2.3", "x", "X", "*", "1.x", "1.2.3-beta.1", "1.2.3beta", "+b.1"],
    *[" ", "  ", "\t", "\u3000", "\ufeff", "\x1c", " - ", "-", "^", "~", "~>", ">", ">=", "<", "<=", "=", "v", "||"],
]


def random_texts(count: int, seed: int = 17) -> list[str]:
    rng = random.Random(seed)
    characters = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 14))) for _ in range(count)]
    pieces = ["".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 6))) for _ in range(count)]
    return EDGES + characters + pieces


TEXTS = random_texts(3000)


def test_is_numeric_is_the_numeric_pattern() -> None:
    for text in [*TEXTS, "0", "123", "\u0661\u0662", "\uff11", "1\u00b2", "007", " 1", "1 "]:
        assert g.is_numeric(text) == bool(g.NUMERIC.match(text)), text


@pytest.mark.parametrize("name", ["HYPHEN", "HYPHEN_LOOSE"])
def test_no_hyphen_range_is_missed(name: str) -> None:
    pattern = getattr(g, name)
    matched = 0
    for text in TEXTS:
        if pattern.search(text) is not None:
            matched += 1
            assert g.may_be_hyphen_range(text), text
    assert matched >= 5  # the check was held against texts the pattern matches


def test_a_text_without_space_to_trim_is_left_as_the_pattern_leaves_it() -> None:
    changed = 0
    for text in TEXTS:
        replaced = g.COMPARATOR_TRIM.sub(lambda m: (m[1] or "") + (m[2] or "") + (m[3] or ""), text)
        assert g.trim_comparators(text) == replaced, text
        if replaced != text:
            changed += 1
            assert g._has_space_to_trim(text), text
    assert changed >= 20  # texts the replacement changes were among them


@pytest.mark.parametrize(
    ("names", "needed"),
    [
        (("BUILD", "BUILD_BOUNDED"), "+"),
        (("TILDE_TRIM",), "~"),
        (("CARET_TRIM",), "^"),
        (("STAR",), "*"),
        (("GTE0", "GTE0_PRE"), "0.0.0"),
    ],
)
def test_a_pattern_skipped_for_want_of_its_text_would_have_found_nothing(names: tuple[str, ...], needed: str) -> None:
    texts = [*TEXTS, ">=0.0.0", " >= 0.0.0-0 ", ">=\u30000.0.0"]
    for name in names:
        pattern = getattr(g, name)
        assert any(pattern.search(text) for text in texts)  # the pattern is exercised
        for text in texts:
            if needed not in text:
                assert pattern.search(text) is None, (name, text)


@pytest.mark.parametrize(("names", "first"), [(("TILDE", "TILDE_LOOSE"), "~"), (("CARET", "CARET_LOOSE"), "^")])
def test_an_anchored_pattern_needs_its_first_character(names: tuple[str, ...], first: str) -> None:
    texts = [*TEXTS, f"{first}1.2.3", f"{first}1", f"{first}>1"]
    for name in names:
        pattern = getattr(g, name)
        assert any(pattern.match(text) for text in texts)
        for text in texts:
            if not text.startswith(first):
                assert pattern.search(text) is None, (name, text)


# ECMAScript's WhiteSpace (TAB, VT, FF, ZWNBSP and the Zs category: SP, NBSP, U+1680, U+2000-U+200A,
# U+202F, U+205F, U+3000) and LineTerminator (LF, CR, LS, PS) code points, written out.
JS_WHITESPACE = frozenset(
    "\t\x0b\x0c\ufeff \xa0\u1680\u202f\u205f\u3000\n\r\u2028\u2029" + "".join(map(chr, range(0x2000, 0x200B)))
)


def test_the_patterns_whitespace_is_javascripts_on_every_code_point() -> None:
    """The grammar spells JavaScript's whitespace through Python's ``\\s`` (cheaper to compile than a
    class listing the code points): the two agree on all 1,114,112 code points, and so does the set
    trimming uses."""
    import re

    whitespace = re.compile(g.WS)
    prefix = re.compile(g._PREFIX_LOOSE + r"\Z")
    differ = [
        hex(code)
        for code in range(0x110000)
        if (whitespace.fullmatch(chr(code)) is not None) != (chr(code) in JS_WHITESPACE)
    ]
    assert differ == []
    assert g._TRIM_SET == JS_WHITESPACE
    assert prefix.match("v=\u3000\ufeff v") is not None
    assert prefix.match("v\x1c") is None and prefix.match("\x85") is None
