"""Does an advisory affect ``name@version``? OSV's rules, evaluated with npm's version order.

OSV ranges (SEMVER or ECOSYSTEM, the same thing for npm) are event lists: ``introduced`` opens an
affected interval, ``fixed`` closes it before that version, ``last_affected`` closes it after that
version, ``limit`` caps the whole range. Events are sorted by version before they are walked, and
plain SemVer precedence applies, so a prerelease inside an interval *is* affected (unlike a
node-semver range without includePrerelease, npm_ex's bug). Registry advisories carry a
node-semver range instead, tested the way npm audit tests it (include prereleases, loose).
"""

from __future__ import annotations

from functools import lru_cache

from npmaudit import semver
from npmaudit.advisories.model import Advisory, Affected, AffectedRange

_EVALUABLE = ("SEMVER", "ECOSYSTEM")


@lru_cache(maxsize=65536)
def _version(text: str) -> semver.Version | None:
    if text == "0":
        return None  # "introduced: 0" means from the very first version
    return semver.parse_version(text, loose=True)


def affects(advisory: Advisory, name: str, version: str) -> bool:
    """True when the advisory (not withdrawn) covers this exact package version."""
    if advisory.withdrawn:
        return False
    return any(entry.name == name and entry_affects(entry, version) for entry in advisory.affected)


def entry_affects(entry: Affected, version: str) -> bool:
    if version in entry.versions:
        return True
    if entry.npm_range is not None:
        return semver.satisfies(version, entry.npm_range, loose=True, include_prerelease=True)
    evaluable = [r for r in entry.ranges if r.type in _EVALUABLE]
    if not entry.versions and not entry.ranges:
        return True  # an entry naming the package with no bounds covers every version
    if not evaluable:
        return False
    parsed = semver.parse_version(version, loose=True)
    if parsed is None:
        return False  # an unparseable version can only match through the explicit list
    return any(_in_range(parsed, r) for r in evaluable)


_Events = tuple[tuple[semver.Version | None, str, str], ...]

# Each range's sorted events, by the range object: an audit asks again for every installed version of
# a package, and fixed_versions once more. The range is held with its events, so its id cannot be
# reused while the entry stands; a long-lived process (a server) clears the cache when it is full.
_SORTED: dict[int, tuple[AffectedRange, _Events]] = {}
_SORTED_LIMIT = 65536


def _sorted_events(rng: AffectedRange) -> _Events:
    held = _SORTED.get(id(rng))
    if held is not None and held[0] is rng:
        return held[1]
    events = _events_in_order(rng)
    if len(_SORTED) >= _SORTED_LIMIT:
        _SORTED.clear()
    _SORTED[id(rng)] = (rng, events)
    return events


def _events_in_order(rng: AffectedRange) -> _Events:
    events = []
    for event in rng.events:
        bound = _version(event.version)
        if bound is None and event.version != "0":
            continue  # a bound we cannot read cannot place this version
        events.append((bound, event.kind, event.version))
    # None ("0") sorts before every real version.
    events.sort(key=lambda item: (item[0] is not None, item[0] or _ZERO))
    return tuple(events)


_ZERO = semver.Version(0, 0, 0, (), ())


def _in_range(version: semver.Version, rng: AffectedRange) -> bool:
    events = _sorted_events(rng)
    limits = [bound for bound, kind, _ in events if kind == "limit" and bound is not None]
    if limits and not any(version < bound for bound in limits):
        return False
    affected = False
    for bound, kind, _ in events:
        if kind == "introduced":
            if bound is None or version >= bound:
                affected = True
        elif kind == "fixed":
            if bound is not None and version >= bound:
                affected = False
        elif kind == "last_affected" and bound is not None and version > bound:
            affected = False
    return affected


def fixed_versions(advisory: Advisory, name: str, version: str) -> tuple[str, ...]:
    """The ``fixed`` versions that end an interval containing ``version`` (the upgrade targets)."""
    parsed = semver.parse_version(version, loose=True)
    if parsed is None:
        return ()
    found: set[str] = set()
    for entry in advisory.affected:
        if entry.name != name:
            continue
        for rng in entry.ranges:
            if rng.type not in _EVALUABLE or not _in_range(parsed, rng):
                continue
            for bound, kind, text in _sorted_events(rng):
                if kind == "fixed" and bound is not None and bound > parsed:
                    found.add(text)
                    break
    return tuple(semver.sort_versions(list(found), loose=True))
