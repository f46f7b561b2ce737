"""Hand-checked cases: npm audit's range simplification and the advisory/install modes.

Every expected value below was checked by hand against node-semver 7.8.5 (bundled with
npm 11) with `semver.simplifyRange` / `semver.satisfies`; the first four simplify cases are
the examples of shared reference npm-audit-internals.md §3.5.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npmaudit import semver
from npmaudit.semver import ADVISORY_OPTIONS

SIMPLIFY = [
    # (versions, range, advisory-mode result, install-mode result)
    (["1.0.0", "1.0.1", "2.0.0"], "<1.0.1", "1.0.0", "1.0.0"),
    (["1.0.0", "1.0.1", "2.0.0"], "<1.5.0 || <2.0.0", "<=1.0.1", "<=1.0.1"),
    (["1.0.0", "1.1.0", "2.0.0"], "1.0.0 - 1.1.0", "<=1.1.0", "<=1.1.0"),
    # Simplified text of equal length loses: the advisory's own range is kept.
    (
        ["0.1.0", "0.2.0", "0.2.1", "0.3.0", "1.0.0", "1.2.2", "1.2.3", "1.3.0"],
        "<0.2.1 || >=1.0.0 <1.2.3",
        "<0.2.1 || >=1.0.0 <1.2.3",
        "<0.2.1 || >=1.0.0 <1.2.3",
    ),
    ([], "<1.0.1", "", ""),  # no versions: the empty string is shorter
    (["2.0.0", "1.0.0", "1.5.0"], ">=0.0.1", "*", "*"),  # unsorted input, every version matches
    (["1.0.0", "1.5.0", "2.0.0", "2.1.0"], ">=1.5.0", ">=1.5.0", ">=1.5.0"),
    (["1.0.0", "1.2.3", "2.0.0"], "1.2.3", "1.2.3", "1.2.3"),
    # A prerelease inside the run only counts in advisory mode.
    (["1.0.0", "1.1.0-beta.1", "1.1.0", "2.0.0"], ">=1.0.0 <2.0.0-0", "<=1.1.0", "1.0.0 || 1.1.0"),
]


@pytest.mark.parametrize(("versions", "rng", "advisory", "install"), SIMPLIFY)
def test_simplify_range(versions: list[str], rng: str, advisory: str, install: str) -> None:
    before = list(versions)
    assert semver.simplify_range(versions, rng, **ADVISORY_OPTIONS) == advisory
    assert semver.simplify_range(versions, rng) == install
    assert versions == before  # unlike node, the caller's list is left alone


def test_simplify_range_rejects_invalid_versions() -> None:
    with pytest.raises(semver.SemverError):
        semver.simplify_range(["1.0.0", "not-a-version"], "<2.0.0")


@pytest.mark.parametrize(
    ("version", "rng", "advisory", "install"),
    [
        # The three cases where podhmo's node-semver port was measured wrong (peers.md §6).
        ("1.0.0-rc.1", ">=1.0.0-beta <1.0.0", True, True),
        ("1.2.3-alpha", "<1.2.3", True, False),
        ("2.0.0-0", "<2.0.0", True, False),
        ("1.2.3+build.5", "1.2.3", True, True),
        ("0.0.5", "^0.0", True, True),
        ("1.2.3", "~>1.2.3", True, True),
        ("1.2.3", "=v1.2.3", True, True),
        ("1.2.3", ">= 1.2.3", True, True),
        ("1.2.3.4", "*", False, False),
        ("1.2.4-alpha", "^1.2.3-pr.1", True, False),
        ("1.2.3-pr.2", "^1.2.3-pr.1", True, True),
    ],
)
def test_satisfies_in_both_modes(version: str, rng: str, advisory: bool, install: bool) -> None:
    assert semver.satisfies(version, rng, **ADVISORY_OPTIONS) is advisory
    assert semver.satisfies(version, rng) is install


@pytest.mark.parametrize("bad", [None, 1, "not a range >=", ">=1.2.3 <"])
def test_satisfies_never_raises(bad: object) -> None:
    assert semver.satisfies("1.2.3", bad) is False  # type: ignore[arg-type]
    assert semver.satisfies(bad, ">=1.0.0") is False  # type: ignore[arg-type]


def test_version_value_semantics() -> None:
    a = semver.parse_version("v1.2.3-beta.2+build.7")
    b = semver.parse_version("1.2.3-beta.2")
    assert a is not None and b is not None
    assert (a.major, a.minor, a.patch, a.prerelease, a.build) == (1, 2, 3, ("beta", 2), ("build", "7"))
    assert str(a) == "1.2.3-beta.2" and a.is_prerelease
    assert a == b and hash(a) == hash(b)  # build metadata does not take part in precedence
    assert semver.compare_build("1.2.3+b", "1.2.3") == 1
    unsorted = ["1.2.3+b", "1.2.3", "1.0.0", "1.2.3-rc.1"]
    assert semver.sort_versions(unsorted) == ["1.0.0", "1.2.3-rc.1", "1.2.3", "1.2.3+b"]
    assert sorted(semver.to_version(v) for v in ["1.10.0", "1.9.0", "1.9.0-alpha.10", "1.9.0-alpha.9"]) == [
        semver.Version(1, 9, 0, ("alpha", 9)),
        semver.Version(1, 9, 0, ("alpha", 10)),
        semver.Version(1, 9, 0),
        semver.Version(1, 10, 0),
    ]


def test_version_limits() -> None:
    assert semver.valid("9007199254740991.0.0") == "9007199254740991.0.0"
    assert semver.valid("9007199254740992.0.0") is None
    assert semver.valid("1.2.3-" + "a" * 250) is not None  # exactly 256 characters
    assert semver.valid("1.2.3-" + "a" * 251) is None  # longer than 256 characters
    assert semver.satisfies("1.2.3", "")  # the empty range means any version
    assert semver.valid("  =v1.2.3  ", loose=True) == "1.2.3"
    assert semver.valid("=v1.2.3") is None
    assert semver.valid("1.2.3\n") == "1.2.3"  # trimmed like JavaScript's String#trim
    assert semver.valid("1.2.3\x1c") is None  # not JavaScript whitespace


def test_range_api() -> None:
    r = semver.Range("^1.2.3 || 2.x", **ADVISORY_OPTIONS)
    assert r.range == ">=1.2.3 <2.0.0-0||>=2.0.0-0 <3.0.0-0"
    assert [[c.value for c in s] for s in r.set] == [[">=1.2.3", "<2.0.0-0"], [">=2.0.0-0", "<3.0.0-0"]]
    assert r.test("2.0.0-beta") and r.test(semver.Version(1, 5, 0)) and not r.test("nope")
    assert semver.Range("*").range == "" and semver.valid_range("*") == "*"
    with pytest.raises(semver.SemverError):
        semver.Range(">=1.0.0 <")
    assert semver.max_satisfying(["1.2.3", "1.2.4", "2.0.0"], "^1.2") == "1.2.4"
    assert semver.min_satisfying(["1.2.3", "1.2.4", "2.0.0"], "^1.2") == "1.2.3"
    assert semver.max_satisfying(["1.2.3"], "not a range") is None
    assert semver.subset("^1.2.3", ">=1.0.0") and not semver.subset(">=1.0.0", "^1.2.3")
    assert semver.intersects("^1.2.3", "1.5.x") and not semver.intersects("^1.2.3", "<1.0.0")
    assert semver.inc("1.2.3", "prerelease", identifier="beta") == "1.2.4-beta.0"
    assert semver.inc("1.2.3", "bogus") is None


# -- the plain-version fast path ------------------------------------------------------------------

PLAIN_EDGES = [
    "1.2.3",
    "0.0.0",
    "10.20.30",
    "01.2.3",
    "1.02.3",
    "1.2.03",
    "00.0.0",
    "1.2",
    "1.2.3.4",
    "1..3",
    ".1.2",
    "1.2.",
    "v1.2.3",
    "=1.2.3",
    " 1.2.3",
    "1.2.3 ",
    "1.2.3\n",
    "1.2.3-0",
    "1.2.3+b",
    "1.2.3beta",
    "１.2.3",
    "1.².3",
    "9007199254740991.0.0",
    "9007199254740992.0.0",
    "1.2.9007199254740992",
    "0.0.00",
    "-1.2.3",
    "1.-2.3",
    "+1.2.3",
    "1_0.2.3",
    "999999999999999999999.1.1",
]


@pytest.mark.parametrize("loose", [False, True])
def test_a_plain_version_reads_as_the_pattern_reads_it(loose: bool) -> None:
    """``major.minor.patch`` is read without the pattern: on the edges of that shape and on every
    version of the fixtures, the answer is the pattern's (``semver.version._parsed``)."""
    from npmaudit.semver import version as module

    fixtures = Path(__file__).parent / "fixtures" / "semver"
    texts = [*PLAIN_EDGES]
    for name in ("valid-versions.json", "invalid-versions.json"):
        texts.extend(json_strings(json.loads((fixtures / name).read_text(encoding="utf-8"))))
    plain_seen = 0
    for text in texts:
        fast = module._plain_version(text)
        if fast is not None:
            plain_seen += 1
        assert fields(module._parse_cached.__wrapped__(text, loose)) == fields(module._parsed(text, loose)), text
        assert fast is None or fields(fast) == fields(module._parsed(text, loose)), text
    assert plain_seen > 5  # the fast path was exercised, not only the fallback


def fields(version: semver.Version | None) -> tuple[object, ...] | None:
    """Everything a parsed version holds (== ignores build metadata)."""
    if version is None:
        return None
    return (version.major, version.minor, version.patch, version.prerelease, version.build, str(version))


def json_strings(value: object) -> list[str]:
    """Every string anywhere in a fixture document."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in json_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in json_strings(item)]
    return []
