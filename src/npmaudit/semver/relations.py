"""How versions and ranges relate: outside/gtr/ltr, subset, and npm's range simplification."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable

from .range import Comparator, ComparatorSet, Range, satisfies, to_range
from .version import SemverError, Version, compare, to_version


def outside(
    version: str | Version,
    range: str | Range,
    hilo: str,
    *,
    loose: bool = False,
    include_prerelease: bool = False,
) -> bool:
    """node's `semver.outside`: whether `version` is above (hilo '>') or below ('<') every
    version the range admits. Raises SemverError on an invalid version, range or hilo."""
    parsed = to_version(version, loose=loose)
    parsed_range = to_range(range, loose=loose, include_prerelease=include_prerelease)
    beyond: Callable[[Version, Version], bool]
    if hilo == ">":
        beyond, op, op_eq = operator.gt, ">", ">="
    elif hilo == "<":
        beyond, op, op_eq = operator.lt, "<", "<="
    else:
        raise SemverError('Must provide a hilo val of "<" or ">"')
    if parsed_range.test(parsed):
        return False
    # Written as for '>'; for '<' every comparison is mirrored by `beyond`.
    for comparators in parsed_range.set:
        high: Comparator | None = None
        low: Comparator | None = None
        for c in comparators:
            if c.semver is None:
                c = _at_least_zero(False)
            high = high or c
            low = low or c
            assert c.semver is not None and high.semver is not None and low.semver is not None
            if beyond(c.semver, high.semver):
                high = c
            elif beyond(low.semver, c.semver):
                low = c
        assert high is not None and low is not None and low.semver is not None
        # The set is open in our direction: some version beyond ours still matches.
        if high.operator in (op, op_eq):
            return False
        # Our version is not beyond the set's lowest bound.
        if (not low.operator or low.operator == op) and not beyond(parsed, low.semver):
            return False
        if low.operator == op_eq and beyond(low.semver, parsed):
            return False
    return True


@functools.cache
def _at_least_zero(include_prerelease: bool) -> Comparator:
    """``>=0.0.0`` (``>=0.0.0-0`` with prereleases): made on first use, as parsing compiles the
    comparator grammar, which an audit that never compares ranges does not need."""
    return Comparator(">=0.0.0-0" if include_prerelease else ">=0.0.0")


def gtr(version: str | Version, range: str | Range, *, loose: bool = False, include_prerelease: bool = False) -> bool:
    """Whether `version` is greater than every version the range admits."""
    return outside(version, range, ">", loose=loose, include_prerelease=include_prerelease)


def ltr(version: str | Version, range: str | Range, *, loose: bool = False, include_prerelease: bool = False) -> bool:
    """Whether `version` is lower than every version the range admits."""
    return outside(version, range, "<", loose=loose, include_prerelease=include_prerelease)


def simplify_range(
    versions: list[str], range: str | Range, *, loose: bool = False, include_prerelease: bool = False
) -> str:
    """node's `semver.simplifyRange`, as npm audit uses it to print vulnerable ranges.

    Describes the members of `versions` that satisfy `range` as runs (`1.2.3`, `*`,
    `>=a`, `<=b`, `a - b`, joined by ` || `) and returns that text only when it is
    strictly shorter than the original range text; otherwise the original. Unlike
    node, the caller's list is not sorted in place. Raises SemverError on an invalid
    version in `versions`.
    """

    def by_version(a: str, b: str) -> int:
        return compare(a, b, loose=loose)

    ordered = sorted(versions, key=functools.cmp_to_key(by_version))
    opts = {"loose": loose, "include_prerelease": include_prerelease}
    runs: list[tuple[str, str | None]] = []
    first: str | None = None
    prev: str | None = None
    for version in ordered:
        if satisfies(version, range, **opts):
            prev = version
            if first is None:
                first = version
        else:
            if prev is not None:
                assert first is not None
                runs.append((first, prev))
            prev = first = None
    if first is not None:
        runs.append((first, None))

    parts = []
    for low, high in runs:
        if low == high:
            parts.append(low)
        elif high is None and low == ordered[0]:
            parts.append("*")
        elif high is None:
            parts.append(f">={low}")
        elif low == ordered[0]:
            parts.append(f"<={high}")
        else:
            parts.append(f"{low} - {high}")
    simplified = " || ".join(parts)
    original = range.raw if isinstance(range, Range) else str(range)
    return simplified if len(simplified) < len(original) else original


def subset(sub: str | Range, dom: str | Range, *, loose: bool = False, include_prerelease: bool = False) -> bool:
    """node's `semver.subset`: whether every version `sub` admits is admitted by `dom`.
    Raises SemverError on an invalid range."""
    if sub is dom or (isinstance(sub, str) and sub == dom):
        return True
    sub_range = to_range(sub, loose=loose, include_prerelease=include_prerelease)
    dom_range = to_range(dom, loose=loose, include_prerelease=include_prerelease)
    saw_non_null = False
    for simple_sub in sub_range.set:
        for simple_dom in dom_range.set:
            result = _simple_subset(simple_sub, simple_dom, loose, include_prerelease)
            saw_non_null = saw_non_null or result is not None
            if result:
                break
        else:
            # None means "this sub set is empty"; an empty set is a subset of anything.
            if saw_non_null:
                return False
    return True


def _higher_gt(a: Comparator | None, b: Comparator) -> Comparator:
    if a is None:
        return b
    assert a.semver is not None and b.semver is not None
    order = compare(a.semver, b.semver)
    if order:
        return a if order > 0 else b
    return b if b.operator == ">" and a.operator == ">=" else a  # >1.2.3 is tighter than >=1.2.3


def _lower_lt(a: Comparator | None, b: Comparator) -> Comparator:
    if a is None:
        return b
    assert a.semver is not None and b.semver is not None
    order = compare(a.semver, b.semver)
    if order:
        return a if order < 0 else b
    return b if b.operator == "<" and a.operator == "<=" else a


def _same_tuple(a: Version, b: Version) -> bool:
    return (a.major, a.minor, a.patch) == (b.major, b.minor, b.patch)


def _simple_subset(sub: ComparatorSet, dom: ComparatorSet, loose: bool, include_prerelease: bool) -> bool | None:
    """True/False for subset-or-not; None when `sub` admits no version at all."""
    opts = {"loose": loose, "include_prerelease": include_prerelease}
    if sub is dom:
        return True
    if len(sub) == 1 and sub[0].semver is None:
        if len(dom) == 1 and dom[0].semver is None:
            return True
        sub = (_at_least_zero(include_prerelease),)
    if len(dom) == 1 and dom[0].semver is None:
        if include_prerelease:
            return True
        dom = (_at_least_zero(False),)

    exact: list[Version] = []
    gt: Comparator | None = None
    lt: Comparator | None = None
    for c in sub:
        if c.operator in (">", ">="):
            gt = _higher_gt(gt, c)
        elif c.operator in ("<", "<="):
            lt = _lower_lt(lt, c)
        else:
            assert c.semver is not None
            exact.append(c.semver)
    if len(exact) > 1:
        return None

    bounds_order: int | None = None
    if gt is not None and lt is not None:
        assert gt.semver is not None and lt.semver is not None
        bounds_order = compare(gt.semver, lt.semver)
        if bounds_order > 0:
            return None
        if bounds_order == 0 and (gt.operator != ">=" or lt.operator != "<="):
            return None

    if exact:
        only = exact[0]
        if gt is not None and not satisfies(only, str(gt), **opts):
            return None
        if lt is not None and not satisfies(only, str(lt), **opts):
            return None
        return all(satisfies(only, str(c), **opts) for c in dom)

    # Without includePrerelease, a sub bound on a prerelease (>=1.2.3-pre) admits
    # prereleases of that tuple, so dom must name a prerelease of the same tuple too.
    need_lt_pre: Version | None = None
    need_gt_pre: Version | None = None
    if lt is not None and not include_prerelease and lt.semver is not None and lt.semver.prerelease:
        need_lt_pre = lt.semver
    if gt is not None and not include_prerelease and gt.semver is not None and gt.semver.prerelease:
        need_gt_pre = gt.semver
    if (
        need_lt_pre is not None
        and lt is not None
        and len(need_lt_pre.prerelease) == 1
        and lt.operator == "<"
        and need_lt_pre.prerelease[0] == 0
        and isinstance(need_lt_pre.prerelease[0], int)
    ):
        need_lt_pre = None  # <1.2.3-0 is just "below 1.2.3"

    has_dom_lt = has_dom_gt = False
    for c in dom:
        has_dom_gt = has_dom_gt or c.operator in (">", ">=")
        has_dom_lt = has_dom_lt or c.operator in ("<", "<=")
        if gt is not None:
            assert gt.semver is not None
            if (
                need_gt_pre is not None
                and c.semver is not None
                and c.semver.prerelease
                and _same_tuple(c.semver, need_gt_pre)
            ):
                need_gt_pre = None
            if c.operator in (">", ">="):
                higher = _higher_gt(gt, c)
                if higher is c and higher is not gt:
                    return False
            elif gt.operator == ">=" and not c.test(gt.semver):
                return False
        if lt is not None:
            assert lt.semver is not None
            if (
                need_lt_pre is not None
                and c.semver is not None
                and c.semver.prerelease
                and _same_tuple(c.semver, need_lt_pre)
            ):
                need_lt_pre = None
            if c.operator in ("<", "<="):
                lower = _lower_lt(lt, c)
                if lower is c and lower is not lt:
                    return False
            elif lt.operator == "<=" and not c.test(lt.semver):
                return False
        if not c.operator and (lt is not None or gt is not None) and bounds_order != 0:
            return False

    # A one-sided sub cannot fit in a dom bounded on the other side
    # (unless sub is a single version: >=1.0.0 <=1.0.0).
    if gt is not None and has_dom_lt and lt is None and bounds_order != 0:
        return False
    if lt is not None and has_dom_gt and gt is None and bounds_order != 0:
        return False
    return need_gt_pre is None and need_lt_pre is None
