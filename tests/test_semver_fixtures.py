"""Every case of node-semver 7.8.5's own test fixtures, run against npmaudit.semver.

The expectations are node-semver's (tests/fixtures/semver/SOURCE.md); each test applies a
fixture the way node-semver's own test suite does, translated to our snake_case API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from npmaudit import semver

FIXTURES = Path(__file__).parent / "fixtures" / "semver"


def is_tagged(value: Any) -> bool:
    return isinstance(value, dict) and "$type" in value


def js_truthy(value: Any) -> bool:
    # Tagged values in option positions are undefined / NaN / a RegExp: all falsy as a flag.
    return False if is_tagged(value) else bool(value)


def options(raw: Any = None) -> dict[str, bool]:
    """node-semver's parseOptions: falsy -> {}, a non-object -> {loose: true}, else the object."""
    if not js_truthy(raw) and not is_tagged(raw):
        return {"loose": False, "include_prerelease": False}
    if not isinstance(raw, dict):
        return {"loose": True, "include_prerelease": False}
    return {"loose": js_truthy(raw.get("loose")), "include_prerelease": js_truthy(raw.get("includePrerelease"))}


def value(raw: Any) -> Any:
    """A tagged fixture value becomes a non-string Python object, as in JavaScript."""
    return object() if is_tagged(raw) else raw


def _file_cases(name: str) -> list[pytest.param]:
    data = json.loads((FIXTURES / name).read_text())
    return [pytest.param(case, id=f"{i}") for i, case in enumerate(data)]


@pytest.mark.parametrize("case", _file_cases("range-include.json"))
def test_range_include(case: list[Any]) -> None:
    rng, version, *rest = case
    opts = options(rest[0] if rest else None)
    assert semver.satisfies(version, rng, **opts) is True
    assert semver.Range(rng, **opts).test(version) is True


@pytest.mark.parametrize("case", _file_cases("range-exclude.json"))
def test_range_exclude(case: list[Any]) -> None:
    rng, version, *rest = case
    opts = options(rest[0] if rest else None)
    assert semver.satisfies(version, rng, **opts) is False
    if semver.valid_range(rng, **opts) is not None:
        assert semver.Range(rng, **opts).test(version) is False


@pytest.mark.parametrize("case", _file_cases("range-parse.json"))
def test_range_parse(case: list[Any]) -> None:
    rng, expected, *rest = case
    opts = options(rest[0] if rest else None)
    assert semver.valid_range(rng, **opts) == expected
    if expected is None:
        with pytest.raises(semver.SemverError):
            semver.Range(rng, **opts)
    else:
        assert semver.Range(rng, **opts).range == ("" if expected == "*" else expected)


@pytest.mark.parametrize("case", _file_cases("range-intersection.json"))
def test_range_intersection(case: list[Any]) -> None:
    r0, r1, expected = case
    range0, range1 = semver.Range(r0), semver.Range(r1)
    assert semver.intersects(r1, r0) is expected
    assert semver.intersects(r0, r1) is expected
    assert semver.intersects(r1, r0, loose=True) is expected
    assert semver.intersects(r0, r1, loose=True) is expected
    assert semver.intersects(range0, range1) is expected
    assert semver.intersects(range1, range0) is expected
    assert semver.intersects(range0, range1, loose=True) is expected
    assert semver.intersects(range1, range0, loose=True) is expected
    assert range0.intersects(range1) is expected


@pytest.mark.parametrize("case", _file_cases("comparator-intersection.json"))
def test_comparator_intersection(case: list[Any]) -> None:
    c0, c1, expected, *rest = case
    include_prerelease = js_truthy(rest[0] if rest else None)
    comp0, comp1 = semver.Comparator(c0), semver.Comparator(c1)
    assert comp0.intersects(comp1, include_prerelease=include_prerelease) is expected
    assert comp1.intersects(comp0, include_prerelease=include_prerelease) is expected
    for loose in (False, True):
        opts = {"loose": loose, "include_prerelease": include_prerelease}
        assert semver.intersects(comp0, comp1, **opts) is expected
        assert semver.intersects(comp1, comp0, **opts) is expected
        assert semver.intersects(c0, c1, **opts) is expected
        assert semver.intersects(c1, c0, **opts) is expected


@pytest.mark.parametrize("case", _file_cases("comparisons.json"))
def test_comparisons(case: list[Any]) -> None:
    v0, v1, *rest = case
    loose = options(rest[0] if rest else None)["loose"]
    assert semver.cmp(v0, ">", v1, loose=loose)
    assert semver.cmp(v1, "<", v0, loose=loose)
    assert not semver.cmp(v1, ">", v0, loose=loose)
    assert not semver.cmp(v0, "<", v1, loose=loose)
    assert semver.cmp(v1, "==", v1, loose=loose)
    assert semver.cmp(v0, ">=", v1, loose=loose)
    assert semver.cmp(v1, "<=", v0, loose=loose)
    assert semver.cmp(v0, "!=", v1, loose=loose)
    assert semver.compare(v0, v1, loose=loose) == 1
    assert semver.compare(v1, v0, loose=loose) == -1
    assert semver.rcompare(v0, v1, loose=loose) == -1
    assert semver.gt(v0, v1, loose=loose) and semver.lt(v1, v0, loose=loose)
    a, b = semver.to_version(v0, loose=loose), semver.to_version(v1, loose=loose)
    assert a > b and b < a and a != b and a >= b and b <= a


@pytest.mark.parametrize("case", _file_cases("equality.json"))
def test_equality(case: list[Any]) -> None:
    v0, v1, *rest = case
    loose = options(rest[0] if rest else None)["loose"]
    assert semver.cmp(v0, "", v1, loose=loose)
    assert semver.cmp(v0, "=", v1, loose=loose)
    assert semver.cmp(v0, "==", v1, loose=loose)
    assert not semver.cmp(v0, "!=", v1, loose=loose)
    assert not semver.cmp(v0, "===", v1, loose=loose)
    a, b = semver.to_version(v0, loose=loose), semver.to_version(v1, loose=loose)
    assert semver.cmp(a, "===", b)
    assert semver.cmp(v0, "!==", v1, loose=loose)
    assert not semver.cmp(a, "!==", b)
    assert semver.eq(v0, v1, loose=loose) and not semver.neq(v0, v1, loose=loose)
    assert semver.compare(v0, v1, loose=loose) == 0
    assert a == b and hash(a) == hash(b)


@pytest.mark.parametrize("case", _file_cases("increments.json"))
def test_increments(case: list[Any]) -> None:
    version, release, expected, *rest = case
    raw_options, identifier, base = [*rest, None, None, None][:3]
    if isinstance(raw_options, str):  # node's inc(version, release, identifier, identifierBase) form
        raw_options, identifier, base = None, raw_options, identifier
    opts = options(raw_options)
    assert semver.inc(version, release, loose=opts["loose"], identifier=identifier, identifier_base=base) == expected


@pytest.mark.parametrize("case", _file_cases("invalid-versions.json"))
def test_invalid_versions(case: list[Any]) -> None:
    raw, _reason, *rest = case
    loose = options(rest[0] if rest else None)["loose"]
    version = value(raw)
    assert semver.parse_version(version, loose=loose) is None
    assert semver.valid(version, loose=loose) is None
    with pytest.raises(semver.SemverError):
        semver.to_version(version, loose=loose)
    with pytest.raises(semver.SemverError):
        semver.compare(version, "1.2.3", loose=loose)


@pytest.mark.parametrize("case", _file_cases("valid-versions.json"))
def test_valid_versions(case: list[Any]) -> None:
    text, major, minor, patch, prerelease, build = case
    parsed = semver.parse_version(text)
    assert parsed is not None
    assert (parsed.major, parsed.minor, parsed.patch) == (major, minor, patch)
    assert list(parsed.prerelease) == prerelease
    assert list(parsed.build) == build
    assert parsed.is_prerelease is bool(prerelease)
    expected_text = f"{major}.{minor}.{patch}" + ("-" + ".".join(map(str, prerelease)) if prerelease else "")
    assert str(parsed) == semver.valid(text) == expected_text


@pytest.mark.parametrize("case", _file_cases("truncations.json"))
def test_truncations(case: list[Any]) -> None:
    version, release, expected = case
    assert semver.truncate(version, release) == expected
    parsed = semver.parse_version(version)
    if parsed is not None:
        assert semver.truncate(parsed, release) == expected


@pytest.mark.parametrize("case", _file_cases("version-gt-range.json"))
def test_version_gt_range(case: list[Any]) -> None:
    rng, version, *rest = case
    opts = options(rest[0] if rest else None)
    assert semver.gtr(version, rng, **opts) is True
    assert semver.outside(version, rng, ">", **opts) is True


@pytest.mark.parametrize("case", _file_cases("version-not-gt-range.json"))
def test_version_not_gt_range(case: list[Any]) -> None:
    rng, version, *rest = case
    opts = options(rest[0] if rest else None)
    assert semver.gtr(version, rng, **opts) is False


@pytest.mark.parametrize("case", _file_cases("version-lt-range.json"))
def test_version_lt_range(case: list[Any]) -> None:
    rng, version, *rest = case
    opts = options(rest[0] if rest else None)
    assert semver.ltr(version, rng, **opts) is True
    assert semver.outside(version, rng, "<", **opts) is True


@pytest.mark.parametrize("case", _file_cases("version-not-lt-range.json"))
def test_version_not_lt_range(case: list[Any]) -> None:
    rng, version, *rest = case
    opts = options(rest[0] if rest else None)
    assert semver.ltr(version, rng, **opts) is False


def test_every_fixture_file_is_exercised() -> None:
    """Guards against a fixture file being added without a test (982 cases in 15 files)."""
    tested = {
        "range-include.json", "range-exclude.json", "range-parse.json", "range-intersection.json",
        "comparator-intersection.json", "comparisons.json", "equality.json", "increments.json",
        "invalid-versions.json", "valid-versions.json", "truncations.json", "version-gt-range.json",
        "version-lt-range.json", "version-not-gt-range.json", "version-not-lt-range.json",
    }  # fmt: skip
    on_disk = {p.name for p in FIXTURES.glob("*.json") if not p.name.startswith("oracle-")}
    assert on_disk == tested
    assert sum(len(json.loads((FIXTURES / n).read_text())) for n in tested) == 982
