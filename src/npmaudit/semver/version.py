"""Versions: parsing, precedence, increment and truncation with node-semver 7.8.5 semantics."""

from __future__ import annotations

import functools

from npmaudit.lazy_pattern import LazyPattern
from npmaudit.records import field, record_class

from . import _grammar as g


class SemverError(ValueError):
    """An invalid version, range or argument, where node-semver would throw."""


Identifier = int | str
SortKey = tuple[object, ...]  # nested tuples of ints and strings, compared as tuples
# Precedence key of one identifier: numeric ones sort before alphanumeric ones.
# node-semver compares numeric identifiers as JavaScript numbers (doubles); float() does
# the same rounding for the rare identifiers too long to be stored as numbers.
_IdKey = tuple[int, float | str]


def _identifier_key(ident: Identifier) -> _IdKey:
    if isinstance(ident, int):
        return (0, float(ident))
    if g.is_numeric(ident):
        return (0, float(ident))
    return (1, ident)


@record_class(frozen=True, eq=False)
class Version:
    """A parsed version. Comparisons follow SemVer precedence; build metadata is ignored
    by ==, <, hash (use compare_build to order by build too)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[Identifier, ...] = ()
    build: tuple[str, ...] = ()
    _key: SortKey = field(init=False, repr=False, compare=False)
    _text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(p) for p in self.prerelease)
            # A prerelease sorts before the release: (0, ...) < (1,).
            pre_key: SortKey = (0, *(_identifier_key(p) for p in self.prerelease))
        else:
            pre_key = (1,)
        object.__setattr__(self, "_key", (self.major, self.minor, self.patch, pre_key))
        object.__setattr__(self, "_text", text)

    @property
    def version(self) -> str:
        """node's `SemVer.version`: the canonical text without build metadata."""
        return self._text

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def __str__(self) -> str:
        return self._text

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return self._key == other._key if isinstance(other, Version) else NotImplemented

    def __lt__(self, other: Version) -> bool:
        return self._key < other._key if isinstance(other, Version) else NotImplemented

    def __le__(self, other: Version) -> bool:
        return self._key <= other._key if isinstance(other, Version) else NotImplemented

    def __gt__(self, other: Version) -> bool:
        return self._key > other._key if isinstance(other, Version) else NotImplemented

    def __ge__(self, other: Version) -> bool:
        return self._key >= other._key if isinstance(other, Version) else NotImplemented


def _prerelease_identifier(text: str) -> Identifier:
    # Numeric identifiers become numbers only while they are exact JavaScript integers.
    if g.is_numeric(text):
        number = int(text)
        if number < g.MAX_SAFE_INTEGER:
            return number
    return text


@functools.lru_cache(maxsize=65536)
def _parse_cached(text: str, loose: bool) -> Version | None:
    if len(text) > g.MAX_LENGTH:
        return None
    plain = _plain_version(text)
    if plain is not None:
        return plain
    return _parsed(text, loose)


def _plain_version(text: str) -> Version | None:
    """``major.minor.patch`` in ASCII digits without leading zeros, read without the pattern (most
    versions of a lockfile; both modes read them alike), else None: the pattern decides."""
    parts = text.split(".")
    if len(parts) != 3 or not text.isascii():
        return None
    major, minor, patch = parts
    if not (major.isdigit() and minor.isdigit() and patch.isdigit()):
        return None
    if (
        (len(major) > 1 and major[0] == "0")
        or (len(minor) > 1 and minor[0] == "0")
        or (len(patch) > 1 and patch[0] == "0")
    ):
        return None  # a leading zero: loose mode reads it, strict mode refuses it
    numbers = int(major), int(minor), int(patch)
    if max(numbers) > g.MAX_SAFE_INTEGER:
        return None
    return Version(*numbers, (), ())


def _parsed(text: str, loose: bool) -> Version | None:
    m = (g.LOOSE if loose else g.FULL).match(g.js_trim(text))
    if m is None:
        return None
    major, minor, patch = int(m[1]), int(m[2]), int(m[3])
    if major > g.MAX_SAFE_INTEGER or minor > g.MAX_SAFE_INTEGER or patch > g.MAX_SAFE_INTEGER:
        return None
    prerelease = tuple(_prerelease_identifier(p) for p in m[4].split(".")) if m[4] else ()
    build = tuple(m[5].split(".")) if m[5] else ()
    return Version(major, minor, patch, prerelease, build)


def parse_version(text: object, *, loose: bool = False) -> Version | None:
    """node's `semver.parse`: the Version, or None when `text` is not a valid version.

    Surrounding whitespace is ignored and a leading `v` is accepted; loose mode also
    accepts `=`/`v`/spaces before the version, leading zeros and a prerelease without `-`.
    """
    if isinstance(text, Version):
        return text
    if not isinstance(text, str):
        return None
    return _parse_cached(text, bool(loose))


def to_version(value: object, *, loose: bool = False) -> Version:
    """Like parse_version, but raise SemverError where node's `new SemVer()` throws."""
    parsed = parse_version(value, loose=loose)
    if parsed is None:
        raise SemverError(f"Invalid Version: {value!r}")
    return parsed


def valid(text: object, *, loose: bool = False) -> str | None:
    """node's `semver.valid`: the canonical version string, or None."""
    parsed = parse_version(text, loose=loose)
    return parsed.version if parsed is not None else None


_LEADING_EQ_V = LazyPattern(r"^[=v]+")


def clean(text: str, *, loose: bool = False) -> str | None:
    """node's `semver.clean`: strips whitespace and leading `=`/`v` characters first."""
    return valid(_LEADING_EQ_V.sub("", g.js_trim(text)), loose=loose)


def _cmp_keys(a: SortKey, b: SortKey) -> int:
    return 0 if a == b else (-1 if a < b else 1)


def compare(a: str | Version, b: str | Version, *, loose: bool = False) -> int:
    """-1, 0 or 1 by SemVer precedence. Raises SemverError on an invalid version."""
    return _cmp_keys(to_version(a, loose=loose)._key, to_version(b, loose=loose)._key)


def rcompare(a: str | Version, b: str | Version, *, loose: bool = False) -> int:
    return compare(b, a, loose=loose)


def compare_loose(a: str | Version, b: str | Version) -> int:
    return compare(a, b, loose=True)


def compare_build(a: str | Version, b: str | Version, *, loose: bool = False) -> int:
    """Precedence first, then build metadata (more identifiers sort later)."""
    va, vb = to_version(a, loose=loose), to_version(b, loose=loose)
    result = _cmp_keys(va._key, vb._key)
    if result:
        return result
    return _cmp_keys(tuple(_identifier_key(x) for x in va.build), tuple(_identifier_key(x) for x in vb.build))


def gt(a: str | Version, b: str | Version, *, loose: bool = False) -> bool:
    return compare(a, b, loose=loose) > 0


def gte(a: str | Version, b: str | Version, *, loose: bool = False) -> bool:
    return compare(a, b, loose=loose) >= 0


def lt(a: str | Version, b: str | Version, *, loose: bool = False) -> bool:
    return compare(a, b, loose=loose) < 0


def lte(a: str | Version, b: str | Version, *, loose: bool = False) -> bool:
    return compare(a, b, loose=loose) <= 0


def eq(a: str | Version, b: str | Version, *, loose: bool = False) -> bool:
    return compare(a, b, loose=loose) == 0


def neq(a: str | Version, b: str | Version, *, loose: bool = False) -> bool:
    return compare(a, b, loose=loose) != 0


def cmp(a: str | Version, op: str, b: str | Version, *, loose: bool = False) -> bool:
    """node's `semver.cmp`. `===`/`!==` compare the version strings as given (Version
    objects by their canonical text); the others compare by precedence."""
    if op in ("===", "!=="):
        sa = a.version if isinstance(a, Version) else a
        sb = b.version if isinstance(b, Version) else b
        return (sa == sb) == (op == "===")
    if op in ("", "=", "=="):
        return eq(a, b, loose=loose)
    if op == "!=":
        return neq(a, b, loose=loose)
    if op == ">":
        return gt(a, b, loose=loose)
    if op == ">=":
        return gte(a, b, loose=loose)
    if op == "<":
        return lt(a, b, loose=loose)
    if op == "<=":
        return lte(a, b, loose=loose)
    raise SemverError(f"Invalid operator: {op}")


def sort_versions(versions: list[str], *, loose: bool = False) -> list[str]:
    """node's `semver.sort` (ascending by compare_build), returned as a new list."""

    def order(a: str, b: str) -> int:
        return compare_build(a, b, loose=loose)

    return sorted(versions, key=functools.cmp_to_key(order))


def rsort_versions(versions: list[str], *, loose: bool = False) -> list[str]:
    def order(a: str, b: str) -> int:
        return compare_build(b, a, loose=loose)

    return sorted(versions, key=functools.cmp_to_key(order))


# ---------------------------------------------------------------------------------------
# inc / truncate

RELEASE_TYPES = ("major", "premajor", "minor", "preminor", "patch", "prepatch", "prerelease")

_JS_DECIMAL = LazyPattern(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")  # no split of a digit run
_JS_RADIX = LazyPattern(r"^0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)\Z")


def _js_number(value: object) -> float:
    """JavaScript's Number(value), for the argument types inc() can receive (NaN when
    not a number). Needed because identifierBase and prerelease bases are tested with
    Number()/isNaN(), which accept more than digits (e.g. '0x1f', '1e3', 'Infinity')."""
    if value is None:
        return float("nan")
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = g.js_trim(value)
        if not text:
            return 0.0
        if _JS_DECIMAL.match(text):
            return float(text)
        if _JS_RADIX.match(text):
            return float(int(text, 0))
        if text in ("Infinity", "+Infinity"):
            return float("inf")
        if text == "-Infinity":
            return float("-inf")
    return float("nan")


def _js_truthy_number(value: object) -> bool:
    n = _js_number(value)
    return n == n and n != 0


def _compare_identifiers(a: Identifier, b: Identifier) -> int:
    return _cmp_keys(_identifier_key(a), _identifier_key(b))


def _starts_with_identifier(prerelease: list[Identifier], identifier: str) -> bool:
    parts = identifier.split(".")
    if len(parts) > len(prerelease):
        return False
    return all(_compare_identifiers(prerelease[i], part) == 0 for i, part in enumerate(parts))


class _Bump:
    """Mutable working copy for inc(), which node implements as in-place mutation. (A plain
    class: a dataclass costs every run that imports semver ~0.4 ms to create, for a rare call.)"""

    __slots__ = ("loose", "major", "minor", "patch", "prerelease")

    def __init__(self, major: int, minor: int, patch: int, prerelease: list[Identifier], loose: bool) -> None:
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.loose = loose

    def bump(self, release: str, identifier: str | None, base: object) -> None:
        if release.startswith("pre"):
            if not identifier and base is False:
                raise SemverError("invalid increment argument: identifier is empty")
            if identifier:
                pattern = g.PRERELEASE_LOOSE if self.loose else g.PRERELEASE
                m = pattern.search(f"-{identifier}")
                if m is None or m[1] != identifier:
                    raise SemverError(f"invalid identifier: {identifier}")
        if release == "premajor":
            self.prerelease = []
            self.patch = self.minor = 0
            self.major += 1
            self.bump("pre", identifier, base)
        elif release == "preminor":
            self.prerelease = []
            self.patch = 0
            self.minor += 1
            self.bump("pre", identifier, base)
        elif release == "prepatch":
            self.prerelease = []
            self.bump("patch", identifier, base)
            self.bump("pre", identifier, base)
        elif release == "prerelease":
            if not self.prerelease:
                self.bump("patch", identifier, base)
            self.bump("pre", identifier, base)
        elif release == "release":
            if not self.prerelease:
                raise SemverError("version is not a prerelease")
            self.prerelease = []
        elif release == "major":
            # 1.0.0-5 -> 1.0.0, but 1.1.0 -> 2.0.0
            if self.minor != 0 or self.patch != 0 or not self.prerelease:
                self.major += 1
            self.minor = self.patch = 0
            self.prerelease = []
        elif release == "minor":
            if self.patch != 0 or not self.prerelease:
                self.minor += 1
            self.patch = 0
            self.prerelease = []
        elif release == "patch":
            if not self.prerelease:
                self.patch += 1
            self.prerelease = []
        elif release == "pre":
            self._bump_pre(identifier, base)
        else:
            raise SemverError(f"invalid increment argument: {release}")

    def _bump_pre(self, identifier: str | None, base: object) -> None:
        start = 1 if _js_truthy_number(base) else 0
        if not self.prerelease:
            self.prerelease = [start]
        else:
            for i in range(len(self.prerelease) - 1, -1, -1):
                if isinstance(self.prerelease[i], int):
                    self.prerelease[i] += 1  # type: ignore[operator]
                    break
            else:  # no numeric identifier to increment
                if identifier == ".".join(str(p) for p in self.prerelease) and base is False:
                    raise SemverError("invalid increment argument: identifier already exists")
                self.prerelease.append(start)
        if identifier:
            replacement: list[Identifier] = [identifier] if base is False else [identifier, start]
            if _starts_with_identifier(self.prerelease, identifier):
                n = len(identifier.split("."))
                following = self.prerelease[n] if n < len(self.prerelease) else None
                if _js_number(following) != _js_number(following):  # isNaN(following)
                    self.prerelease = replacement
            else:
                self.prerelease = replacement

    def text(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(p) for p in self.prerelease)
        return text


def inc(
    version: str | Version,
    release: str,
    *,
    loose: bool = False,
    include_prerelease: bool = False,
    identifier: str | None = None,
    identifier_base: object = None,
) -> str | None:
    """node's `semver.inc`: the incremented version text, or None when the version or the
    arguments are invalid. `identifier_base` is '0'/'1' (or 0/1) for the first prerelease
    number, or False to add no number at all."""
    del include_prerelease  # accepted for signature parity; increments do not depend on it
    if isinstance(version, Version):
        version = version.version
    parsed = parse_version(version, loose=loose)
    if parsed is None or not isinstance(release, str):
        return None
    work = _Bump(parsed.major, parsed.minor, parsed.patch, list(parsed.prerelease), bool(loose))
    try:
        work.bump(release, identifier, identifier_base)
    except SemverError:
        return None
    return work.text()


def truncate(version: str | Version, release: str, *, loose: bool = False) -> str | None:
    """node's `semver.truncate`: drop the parts below `release` ('pre*' types only drop build)."""
    if release not in RELEASE_TYPES:
        return None
    parsed = parse_version(version.version if isinstance(version, Version) else version, loose=loose)
    if parsed is None:
        return None
    if release.startswith("pre"):
        return parsed.version
    if release == "major":
        return f"{parsed.major}.0.0"
    if release == "minor":
        return f"{parsed.major}.{parsed.minor}.0"
    return f"{parsed.major}.{parsed.minor}.{parsed.patch}"


def major(version: str | Version, *, loose: bool = False) -> int:
    return to_version(version, loose=loose).major


def minor(version: str | Version, *, loose: bool = False) -> int:
    return to_version(version, loose=loose).minor


def patch(version: str | Version, *, loose: bool = False) -> int:
    return to_version(version, loose=loose).patch


def prerelease(version: str | Version, *, loose: bool = False) -> tuple[Identifier, ...] | None:
    """node's `semver.prerelease`: the prerelease identifiers, or None when there are none
    or the version is invalid."""
    parsed = parse_version(version, loose=loose)
    return parsed.prerelease if parsed is not None and parsed.prerelease else None
