"""Comparators and ranges: node-semver 7.8.5's range desugaring and matching rules.

A range is parsed the way node-semver does it, as a sequence of text rewrites
(hyphen ranges, operator spacing, carets, tildes, x-ranges, stars) that end in a list
of primitive comparators (`>=1.2.3`, `<2.0.0-0`, ...). The normalized text that npm
prints (`new Range(x).range`) falls out of the same steps, so we keep them as rewrites.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable
from re import Match

from . import _grammar as g
from .version import SemverError, SortKey, Version, _parse_cached, parse_version, to_version

NULL_SET = "<0.0.0-0"  # the comparator that matches nothing


class Comparator:
    """One primitive comparison: an operator ('', '<', '<=', '>', '>=') and a version,
    or the empty comparator (`semver is None`) that matches every version."""

    __slots__ = ("_key", "include_prerelease", "loose", "operator", "semver", "value")

    def __init__(self, text: str, *, loose: bool = False, include_prerelease: bool = False) -> None:
        if not isinstance(text, str):
            raise SemverError(f"Invalid comparator: {text!r}")
        self.loose = bool(loose)
        self.include_prerelease = bool(include_prerelease)
        comp = " ".join(g.split_ws(g.js_trim(text)))
        m = (g.COMPARATOR_LOOSE if self.loose else g.COMPARATOR).match(comp)
        if m is None:
            raise SemverError(f"Invalid comparator: {comp}")
        operator = m[1] or ""
        self.operator = "" if operator == "=" else operator
        if not m[2]:
            self.semver: Version | None = None
            self.value = ""
            self._key: SortKey | None = None
        else:
            self.semver = to_version(m[2], loose=self.loose)
            self.value = self.operator + self.semver.version
            self._key = self.semver._key

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Comparator({self.value!r})"

    def test(self, version: str | Version) -> bool:
        if self._key is None:
            return True
        if not isinstance(version, Version):
            parsed = parse_version(version, loose=self.loose)
            if parsed is None:
                return False
            version = parsed
        return _OPERATORS[self.operator](version._key, self._key)

    def intersects(self, other: Comparator, *, loose: bool = False, include_prerelease: bool = False) -> bool:
        """Whether some version satisfies both comparators (node's Comparator#intersects:
        the options given here are used, not the comparators' own)."""
        if not isinstance(other, Comparator):
            raise SemverError("a Comparator is required")
        opts = {"loose": loose, "include_prerelease": include_prerelease}
        if self.operator == "":
            if self.value == "":
                return True
            return to_range(other.value, **opts).test(self.value)
        if other.operator == "":
            if other.value == "":
                return True
            assert self.semver is not None and other.semver is not None
            return to_range(self.value, **opts).test(other.semver)
        assert self.semver is not None and other.semver is not None
        # Nothing sorts below <0.0.0-0 (or below <0.0.0 when prereleases are excluded).
        if include_prerelease and NULL_SET in (self.value, other.value):
            return False
        if not include_prerelease and (self.value.startswith("<0.0.0") or other.value.startswith("<0.0.0")):
            return False
        if self.operator[0] == other.operator[0]:
            return True  # both bounded below, or both bounded above
        if self.semver.version == other.semver.version and "=" in self.operator and "=" in other.operator:
            return True
        if self.semver < other.semver and self.operator[0] == ">" and other.operator[0] == "<":
            return True
        return self.semver > other.semver and self.operator[0] == "<" and other.operator[0] == ">"


_OPERATORS: dict[str, Callable[[SortKey, SortKey], bool]] = {
    "": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

ComparatorSet = tuple[Comparator, ...]


class Range:
    """A parsed range: `set` is a tuple of comparator sets, OR-ed; the comparators of a
    set are AND-ed. Raises SemverError when the range is invalid."""

    __slots__ = ("_checks", "include_prerelease", "loose", "range", "raw", "set")

    def __init__(self, text: str, *, loose: bool = False, include_prerelease: bool = False) -> None:
        if not isinstance(text, str):
            raise SemverError(f"Invalid SemVer Range: {text!r}")
        self.loose = bool(loose)
        self.include_prerelease = bool(include_prerelease)
        self.raw = g.collapse_ws(g.js_trim(text))
        sets = [
            s
            for s in (_parse_set(g.js_trim(part), self.loose, self.include_prerelease) for part in self.raw.split("||"))
            if s
        ]
        if not sets:
            raise SemverError(f"Invalid SemVer Range: {self.raw}")
        if len(sets) > 1:
            # Drop sets that match nothing, unless all do; a set that matches anything wins.
            first = sets[0]
            sets = [s for s in sets if s[0].value != NULL_SET] or [first]
            if len(sets) > 1:
                for s in sets:
                    if len(s) == 1 and s[0].value == "":
                        sets = [s]
                        break
        self.set: tuple[ComparatorSet, ...] = tuple(sets)
        self.range = "||".join(" ".join(g.js_trim(c.value) for c in s) for s in self.set)
        self._checks = _compile(self.set)

    @classmethod
    def from_comparator(cls, comparator: Comparator, *, loose: bool = False, include_prerelease: bool = False) -> Range:
        """node's `new Range(comparator)`: a one-comparator range."""
        self = cls.__new__(cls)
        self.loose = bool(loose)
        self.include_prerelease = bool(include_prerelease)
        self.raw = comparator.value
        self.set = ((comparator,),)
        self.range = comparator.value
        self._checks = _compile(self.set)
        return self

    def __str__(self) -> str:
        return self.range

    def __repr__(self) -> str:
        return f"Range({self.raw!r})"

    def test(self, version: str | Version) -> bool:
        """Whether `version` satisfies the range; False for an invalid version."""
        if not isinstance(version, Version):
            if not version or not isinstance(version, str):
                return False
            parsed = _parse_cached(version, self.loose)
            if parsed is None:
                return False
            version = parsed
        # Hot path (one call per package version and advisory): precompiled checks.
        key = version._key
        for checks, prerelease_tuples in self._checks:
            for compare, bound in checks:
                if not compare(key, bound):
                    break
            else:
                if (
                    not version.prerelease
                    or self.include_prerelease
                    or (version.major, version.minor, version.patch) in prerelease_tuples
                ):
                    return True
        return False

    def intersects(self, other: Range, *, loose: bool | None = None, include_prerelease: bool | None = None) -> bool:
        """Whether some version satisfies both ranges. Options default to this range's own
        (node's method defaults them to off; the module-level intersects() passes them)."""
        if not isinstance(other, Range):
            raise SemverError("a Range is required")
        opts = {
            "loose": self.loose if loose is None else bool(loose),
            "include_prerelease": self.include_prerelease if include_prerelease is None else bool(include_prerelease),
        }
        return any(
            _satisfiable(mine, opts)
            and any(
                _satisfiable(theirs, opts) and all(a.intersects(b, **opts) for a in mine for b in theirs)
                for theirs in other.set
            )
            for mine in self.set
        )


_Checks = tuple[tuple[tuple[Callable[[SortKey, SortKey], bool], SortKey], ...], frozenset[tuple[int, int, int]]]


def _compile(sets: tuple[ComparatorSet, ...]) -> tuple[_Checks, ...]:
    """Per comparator set: its (operator, bound key) checks, and the major.minor.patch
    tuples whose prereleases it admits when prereleases are excluded. A prerelease only
    matches a set that names a prerelease of the same tuple: ^1.2.3-pr.1 admits
    1.2.3-pr.2 but not 1.2.4-alpha."""
    compiled = []
    for comparators in sets:
        checks = tuple((_OPERATORS[c.operator], c._key) for c in comparators if c._key is not None)
        tuples = frozenset(
            (c.semver.major, c.semver.minor, c.semver.patch)
            for c in comparators
            if c.semver is not None and c.semver.prerelease
        )
        compiled.append((checks, tuples))
    return tuple(compiled)


def _satisfiable(comparators: ComparatorSet, opts: dict[str, bool]) -> bool:
    remaining = list(comparators)
    current = remaining.pop()
    while remaining:
        if not all(current.intersects(other, **opts) for other in remaining):
            return False
        current = remaining.pop()
    return True


# ---------------------------------------------------------------------------------------
# Desugaring: text rewrites, in node-semver's order.


def _is_x(ident: str | None) -> bool:
    return not ident or ident.lower() == "x" or ident == "*"


def _hyphen_replacer(include_prerelease: bool) -> Callable[[Match[str]], str]:
    z = "-0" if include_prerelease else ""

    def replace(m: Match[str]) -> str:
        start, f_major, f_minor, f_patch, f_pre = m[1], m[2], m[3], m[4], m[5]
        end, t_major, t_minor, t_patch, t_pre = m[7], m[8], m[9], m[10], m[11]
        if _is_x(f_major):
            low = ""
        elif _is_x(f_minor):
            low = f">={f_major}.0.0{z}"
        elif _is_x(f_patch):
            low = f">={f_major}.{f_minor}.0{z}"
        elif f_pre:
            low = f">={start}"
        else:
            low = f">={start}{z}"
        if _is_x(t_major):
            high = ""
        elif _is_x(t_minor):
            high = f"<{int(t_major) + 1}.0.0-0"
        elif _is_x(t_patch):
            high = f"<{t_major}.{int(t_minor) + 1}.0-0"
        elif t_pre:
            high = f"<={t_major}.{t_minor}.{t_patch}-{t_pre}"
        elif include_prerelease:
            high = f"<{t_major}.{t_minor}.{int(t_patch) + 1}-0"
        else:
            high = f"<={end}"
        return g.js_trim(f"{low} {high}")

    return replace


def _map_words(comp: str, fn: Callable[[str], str]) -> str:
    return " ".join(fn(word) for word in g.split_ws(g.js_trim(comp)))


def _replace_tilde(comp: str, loose: bool, include_prerelease: bool) -> str:
    z = "-0" if include_prerelease else ""

    def replace(m: Match[str]) -> str:
        major, minor, patch, pre = m[1], m[2], m[3], m[4]
        if _is_x(major):
            return ""
        if _is_x(minor):
            return f">={major}.0.0{z} <{int(major) + 1}.0.0-0"
        if _is_x(patch):
            return f">={major}.{minor}.0{z} <{major}.{int(minor) + 1}.0-0"
        if pre:
            return f">={major}.{minor}.{patch}-{pre} <{major}.{int(minor) + 1}.0-0"
        return f">={major}.{minor}.{patch} <{major}.{int(minor) + 1}.0-0"

    if not comp.startswith("~"):
        return comp  # the pattern is anchored on a "~"
    return (g.TILDE_LOOSE if loose else g.TILDE).sub(replace, comp, count=1)


def _replace_caret(comp: str, loose: bool, include_prerelease: bool) -> str:
    z = "-0" if include_prerelease else ""

    def replace(m: Match[str]) -> str:
        major, minor, patch, pre = m[1], m[2], m[3], m[4]
        if _is_x(major):
            return ""
        if _is_x(minor):
            return f">={major}.0.0{z} <{int(major) + 1}.0.0-0"
        if _is_x(patch):
            if major == "0":
                return f">={major}.{minor}.0{z} <{major}.{int(minor) + 1}.0-0"
            return f">={major}.{minor}.0{z} <{int(major) + 1}.0.0-0"
        low = f">={major}.{minor}.{patch}-{pre}" if pre else f">={major}.{minor}.{patch}"
        # The upper bound is the next change of the first non-zero part (compared as text,
        # so loose "00" counts as non-zero, as in node-semver).
        if major == "0":
            if minor == "0":
                return f"{low} <{major}.{minor}.{int(patch) + 1}-0"
            return f"{low} <{major}.{int(minor) + 1}.0-0"
        return f"{low} <{int(major) + 1}.0.0-0"

    if not comp.startswith("^"):
        return comp  # the pattern is anchored on a "^"
    return (g.CARET_LOOSE if loose else g.CARET).sub(replace, comp, count=1)


def _replace_xrange(comp: str, loose: bool, include_prerelease: bool) -> str:
    comp = g.js_trim(comp)

    def replace(m: Match[str]) -> str:
        op, major, minor, patch = m[1], m[2], m[3], m[4]
        if (_is_x(major) and not _is_x(minor)) or (_is_x(minor) and patch and not _is_x(patch)):
            return comp  # "x.1" and "1.x.2" are not x-ranges; leave them to fail later
        x_major = _is_x(major)
        x_minor = x_major or _is_x(minor)
        any_x = x_minor or _is_x(patch)
        if op == "=" and any_x:
            op = ""
        pre = "-0" if include_prerelease else ""
        if x_major:
            return NULL_SET if op in (">", "<") else "*"
        if op and any_x:
            # Fill the x parts with 0, then turn > and <= into >= and < on the next version.
            major_s: str = major
            minor_s: str = "0" if x_minor else minor
            patch_s = "0"
            if op == ">":
                op = ">="
                if x_minor:
                    major_s, minor_s = str(int(major) + 1), "0"
                else:
                    minor_s = str(int(minor) + 1)
            elif op == "<=":
                op = "<"
                if x_minor:
                    major_s = str(int(major) + 1)
                else:
                    minor_s = str(int(minor) + 1)
            if op == "<":
                pre = "-0"
            return f"{op}{major_s}.{minor_s}.{patch_s}{pre}"
        if x_minor:
            return f">={major}.0.0{pre} <{int(major) + 1}.0.0-0"
        if any_x:
            return f">={major}.{minor}.0{pre} <{major}.{int(minor) + 1}.0-0"
        return m[0]

    return (g.XRANGE_LOOSE if loose else g.XRANGE).sub(replace, comp, count=1)


def _desugar_word(word: str, loose: bool, include_prerelease: bool) -> str:
    comp = g.BUILD_BOUNDED.sub("", word, count=1) if "+" in word else word
    comp = _map_words(comp, lambda c: _replace_caret(c, loose, include_prerelease))
    comp = _map_words(comp, lambda c: _replace_tilde(c, loose, include_prerelease))
    comp = " ".join(_replace_xrange(c, loose, include_prerelease) for c in g.split_ws(comp))
    comp = g.js_trim(comp)
    return g.STAR.sub("", comp, count=1) if "*" in comp else comp


@functools.lru_cache(maxsize=8192)
def _parse_set(text: str, loose: bool, include_prerelease: bool) -> ComparatorSet:
    """One `||`-separated part of a range -> its comparators (empty when loose mode
    discarded everything). Raises SemverError when a comparator is invalid."""
    # Each rewrite runs only where the character its pattern needs is in the text (a pattern
    # compiled costs a run more than the few ranges it would parse): the same result, as a
    # pattern that needs a "+" finds nothing to replace in a text without one.
    if "+" in text:
        text = g.BUILD.sub("", text)
    if g.may_be_hyphen_range(text):
        text = (g.HYPHEN_LOOSE if loose else g.HYPHEN).sub(_hyphen_replacer(include_prerelease), text, count=1)
    text = g.trim_comparators(text)
    if "~" in text:
        text = g.TILDE_TRIM.sub(lambda m: m[1] + "~", text)
    if "^" in text:
        text = g.CARET_TRIM.sub(lambda m: m[1] + "^", text)

    words = g.split_ws(" ".join(_desugar_word(w, loose, include_prerelease) for w in text.split(" ")))
    words = [g.js_trim(w) for w in words]
    if any("0.0.0" in w for w in words):
        gte0 = g.GTE0_PRE if include_prerelease else g.GTE0
        words = [gte0.sub("", w, count=1) for w in words]
    if loose:
        words = [w for w in words if g.COMPARATOR_LOOSE.match(w)]

    # Every comparator is validated before the null-set shortcut: "<0 -" is invalid, not empty.
    comparators = [Comparator(word, loose=loose, include_prerelease=include_prerelease) for word in words]
    by_value: dict[str, Comparator] = {}
    for comp in comparators:
        if comp.value == NULL_SET:
            return (comp,)
        by_value[comp.value] = comp  # a repeated comparator keeps its first position
    if len(by_value) > 1:
        by_value.pop("", None)
    return tuple(by_value.values())


@functools.lru_cache(maxsize=16384)
def _range_or_none(text: str, loose: bool, include_prerelease: bool) -> Range | None:
    """Cached parse; invalid ranges are cached too (as None), since an advisory with a
    malformed range would otherwise be re-parsed for every version tested against it."""
    try:
        return Range(text, loose=loose, include_prerelease=include_prerelease)
    except SemverError:
        return None


def to_range(value: str | Range | Comparator, *, loose: bool = False, include_prerelease: bool = False) -> Range:
    """node's `new Range(value, options)`, cached for strings. Raises SemverError."""
    if isinstance(value, Range):
        if value.loose == bool(loose) and value.include_prerelease == bool(include_prerelease):
            return value
        value = value.raw
    elif isinstance(value, Comparator):
        return Range.from_comparator(value, loose=loose, include_prerelease=include_prerelease)
    if not isinstance(value, str):
        raise SemverError(f"Invalid SemVer Range: {value!r}")
    parsed = _range_or_none(value, bool(loose), bool(include_prerelease))
    if parsed is None:
        raise SemverError(f"Invalid SemVer Range: {value}")
    return parsed


def valid_range(text: object, *, loose: bool = False, include_prerelease: bool = False) -> str | None:
    """node's `semver.validRange`: the normalized range ('*' for any version), or None."""
    try:
        return to_range(text, loose=loose, include_prerelease=include_prerelease).range or "*"  # type: ignore[arg-type]
    except SemverError:
        return None


def satisfies(
    version: str | Version, range: str | Range, *, loose: bool = False, include_prerelease: bool = False
) -> bool:
    """Whether `version` satisfies `range`. False for any invalid input; never raises."""
    if isinstance(range, str):  # the common case, without to_range's dispatch
        parsed_range = _range_or_none(range, bool(loose), bool(include_prerelease))
        return parsed_range is not None and parsed_range.test(version)
    try:
        parsed_range = to_range(range, loose=loose, include_prerelease=include_prerelease)
    except SemverError:
        return False
    return parsed_range.test(version)


def _best_satisfying(
    versions: Iterable[str], range: str | Range, loose: bool, include_prerelease: bool, want: int
) -> str | None:
    try:
        parsed_range = to_range(range, loose=loose, include_prerelease=include_prerelease)
    except SemverError:
        return None
    best: str | None = None
    best_version: Version | None = None
    for candidate in versions:
        if not parsed_range.test(candidate):
            continue
        parsed = to_version(candidate, loose=loose)
        if best_version is None or (parsed > best_version if want > 0 else parsed < best_version):
            best, best_version = candidate, parsed
    return best


def max_satisfying(
    versions: Iterable[str], range: str | Range, *, loose: bool = False, include_prerelease: bool = False
) -> str | None:
    """The highest of `versions` that satisfies `range` (the first one among equals)."""
    return _best_satisfying(versions, range, loose, include_prerelease, 1)


def min_satisfying(
    versions: Iterable[str], range: str | Range, *, loose: bool = False, include_prerelease: bool = False
) -> str | None:
    """The lowest of `versions` that satisfies `range` (the first one among equals)."""
    return _best_satisfying(versions, range, loose, include_prerelease, -1)


def min_version(range: str | Range, *, loose: bool = False, include_prerelease: bool = False) -> Version | None:
    """node's `semver.minVersion`: the lowest version that can satisfy the range, or None."""
    parsed_range = to_range(range, loose=loose, include_prerelease=include_prerelease)
    for candidate in (Version(0, 0, 0), Version(0, 0, 0, (0,))):
        if parsed_range.test(candidate):
            return candidate
    best: Version | None = None
    for comparators in parsed_range.set:
        set_min: Version | None = None
        for c in comparators:
            if c.semver is None or c.operator in ("<", "<="):
                continue
            candidate = c.semver
            if c.operator == ">":
                if candidate.prerelease:
                    candidate = Version(candidate.major, candidate.minor, candidate.patch, (*candidate.prerelease, 0))
                else:
                    candidate = Version(candidate.major, candidate.minor, candidate.patch + 1)
            else:
                candidate = Version(candidate.major, candidate.minor, candidate.patch, candidate.prerelease)
            if set_min is None or candidate > set_min:
                set_min = candidate
        if set_min is not None and (best is None or best > set_min):
            best = set_min
    if best is not None and parsed_range.test(best):
        return best
    return None


def intersects(
    r1: str | Range | Comparator,
    r2: str | Range | Comparator,
    *,
    loose: bool = False,
    include_prerelease: bool = False,
) -> bool:
    """Whether some version satisfies both ranges. Raises SemverError on an invalid range."""
    a = to_range(r1, loose=loose, include_prerelease=include_prerelease)
    b = to_range(r2, loose=loose, include_prerelease=include_prerelease)
    return a.intersects(b, loose=loose, include_prerelease=include_prerelease)


def to_comparators(range: str, *, loose: bool = False, include_prerelease: bool = False) -> list[list[str]]:
    """node's `semver.toComparators`: the comparator strings of each set."""
    parsed = to_range(range, loose=loose, include_prerelease=include_prerelease)
    return [g.js_trim(" ".join(c.value for c in s)).split(" ") for s in parsed.set]
