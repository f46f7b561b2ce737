"""Ranges built to make the grammar backtrack take time linear in their length, with node-semver's verdicts.

node-semver limits a version to 256 characters but a range not at all, and its loose prefix
`[v=\\s]*` is unbounded: 30,000 `v` made one satisfies() call take 25 s here (node-semver 7.8.5
itself takes about 10 s on it). The verdicts below were checked against node-semver 7.8.5 as
bundled with npm 11 (`semver.validRange(r)`, `validRange(r, {loose: true})`, `satisfies("1.2.3", r,
{loose: true, includePrerelease: true})`).
"""

from __future__ import annotations

import random
import re
import time

import pytest

from npmaudit.semver import ADVISORY_OPTIONS, _grammar, clean, parse_version, satisfies, valid_range

N = 30_000

VERDICTS = [
    # (range, validRange, validRange loose, satisfies 1.2.3 in advisory mode)
    ("v" * N, None, None, False),
    ("v" * N + "x", "*", "*", True),
    ("v" * N + "1.2.3", None, None, False),
    (">=" + "v" * 250 + "1.2.3", None, ">=1.2.3", True),  # 256 characters of version text: still valid
    (">=" + "v" * 260 + "1.2.3", None, None, False),  # longer than a version may be
    ("= " * (N // 2) + "1.2.3", None, "1.2.3", True),
    ("<" + "v" * N + "x", "<0.0.0-0", "<0.0.0-0", False),
]


@pytest.mark.parametrize(("text", "strict", "loose", "inside"), VERDICTS, ids=lambda v: str(v)[:12])
def test_long_prefix_runs_get_node_semvers_verdict_in_linear_time(
    text: str, strict: str | None, loose: str | None, inside: bool
) -> None:
    started = time.perf_counter()
    assert valid_range(text) == strict
    assert valid_range(text, loose=True) == loose
    assert satisfies("1.2.3", text, **ADVISORY_OPTIONS) is inside
    assert time.perf_counter() - started < 1.5


HOSTILE_SHAPES = {
    "v": "v" * N,
    "equals": "=" * N,
    "v-space": "v " * (N // 2),
    "equals-space": "= " * (N // 2),
    "equals-v": "=v" * (N // 2),
    "gte-v": ">=" + "v" * N,
    "tilde-v": "~v" * (N // 2),
    "lt": "<" * N,
    "digits": "1" * N,
    "dots": "1." * (N // 2),
    "dashes": "-" * N,
    "x": "x" * N,
    "stars": "*" * N,
    "hyphen-ranges": "1.2.3 - " * (N // 8),
    "prerelease-ids": "1.2.3-" + "a." * (N // 2),
    "numeric-prerelease": "1.2.3-" + "1." * (N // 2),
    "ors": "||" * (N // 2),
    "spaces-inside": " 1" + " " * N + "2 ",
    "ideographic-spaces": " 1" + "\u3000 " * (N // 2) + "2 ",
}


@pytest.mark.parametrize("shape", sorted(HOSTILE_SHAPES))
def test_hostile_range_shapes_take_linear_time(shape: str) -> None:
    text = HOSTILE_SHAPES[shape]
    started = time.perf_counter()
    satisfies("1.2.3", text)
    satisfies("1.2.3", text, **ADVISORY_OPTIONS)
    valid_range(text, loose=True)
    parse_version(text, loose=True)
    clean(text, loose=True)
    assert time.perf_counter() - started < 1.5, shape


def test_trim_comparators_equals_the_greedy_substitution_it_replaced() -> None:
    """The skip over prefix runs and the possessive prefix change no result of COMPARATORTRIM."""
    greedy = re.compile(_grammar.COMPARATOR_TRIM.pattern.replace(")*+", ")*"))
    assert greedy.pattern != _grammar.COMPARATOR_TRIM.pattern

    def reference(text: str) -> str:
        return greedy.sub(lambda m: (m[1] or "") + (m[2] or "") + (m[3] or ""), text)

    pieces = ["v", "=", " ", "\t", "<", ">", "1", "2", ".", "x", "*", "-", "a", "+", "~", "^", "|", "0", "\u3000"]
    rng = random.Random(20240611)
    for _ in range(30_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 20)))
        assert _grammar.trim_comparators(text) == reference(text), repr(text)
