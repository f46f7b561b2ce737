"""What a query asks for: ``name``, ``name@version``, ``name@range`` or an advisory id.

Versions and ranges follow node-semver, read the way ``npm audit`` reads an advisory's vulnerable
versions (loose, prereleases included): ``debug@>=4.4.0 <4.5.0`` finds ``4.4.2-beta.1`` too,
because during an incident a prerelease inside the range is exactly as installed as a release.
A dist-tag (``debug@latest``) is not a version: it names whatever the registry says today, and a
query about it would silently answer another question, so it is refused.

An advisory id (``GHSA-…``, ``MAL-…``, ``CVE-…``: OSV's ``PREFIX-…`` shape, which npm's lowercase
package names never take) is looked up in the local advisory database by id or alias; every
package it names is then matched by :func:`npmaudit.advisories.matching.affects`, the audit's
own rule, so ``query GHSA-x`` lists exactly what ``audit`` would report under that id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from npmaudit import semver
from npmaudit.advisories.matching import affects
from npmaudit.advisories.model import Advisory
from npmaudit.errors import UsageError
from npmaudit.records import record_class

_ADVISORY_ID = re.compile(r"^[A-Z][A-Z0-9]*-[A-Za-z0-9][A-Za-z0-9._:-]*$")

AdvisoryFinder = Callable[[Sequence[str]], Mapping[str, Sequence[Advisory]]]
"""Looks advisory ids up (by id or alias): every id asked must come back with its records."""


@record_class(frozen=True)
class SpecMatch:
    """Why a package version matched a spec: the advisory ids (for an advisory spec) and malice."""

    advisories: tuple[str, ...] = ()
    malicious: bool = False


@record_class(frozen=True)
class PackageSpec:
    """``name`` (every version), ``name@version`` or ``name@range``."""

    text: str
    name: str
    range: str | None  # None: every version, whatever it is

    @property
    def names(self) -> frozenset[str]:
        return frozenset((self.name,))

    def matches(self, name: str, version: str) -> SpecMatch | None:
        if name != self.name:
            return None
        if self.range is None:
            return SpecMatch()
        if version and semver.satisfies(version, self.range, **semver.ADVISORY_OPTIONS):
            return SpecMatch()
        return None


@record_class(frozen=True)
class AdvisorySpec:
    """An advisory id and the records that carry it (as id or alias), newest per id."""

    text: str
    records: tuple[Advisory, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(name for record in self.records for name in record.package_names)

    @property
    def withdrawn(self) -> bool:
        return all(record.withdrawn for record in self.records)

    def matches(self, name: str, version: str) -> SpecMatch | None:
        if not version:
            return None  # the audit never matches a package without a version either
        hit = [record for record in self.records if affects(record, name, version)]
        if not hit:
            return None
        return SpecMatch(tuple(sorted({record.id for record in hit})), any(record.malicious for record in hit))


Spec = PackageSpec | AdvisorySpec


def is_advisory_id(text: str) -> bool:
    return bool(_ADVISORY_ID.match(text))


def parse_package_spec(text: str) -> PackageSpec:
    """``name``, ``@scope/name``, ``name@1.2.3``, ``@scope/name@^1.2 || >=2.0.0-rc.1``."""
    spec = text.strip()
    at = spec.find("@", 1)  # a scoped name starts with its own '@'
    name, version = (spec, None) if at < 0 else (spec[:at], spec[at + 1 :].strip())
    if not name or any(c.isspace() for c in name) or name in ("@", ".", ".."):
        raise UsageError(f"{text!r}: not a package name")
    if name.startswith("@") and "/" not in name:
        raise UsageError(f"{text!r}: a scoped package name is @scope/name")
    if version is None:
        return PackageSpec(text, name, None)
    if not version:
        raise UsageError(f"{text!r}: nothing after '@' (give a version or a range, or just the name)")
    if semver.valid_range(version, **semver.ADVISORY_OPTIONS) is None:
        raise UsageError(f"{text!r}: {version!r} is not a version or a semver range (dist-tags are not resolved)")
    return PackageSpec(text, name, version)


def resolve_specs(texts: Sequence[str], find_advisories: AdvisoryFinder | None) -> tuple[Spec, ...]:
    """Read every spec; advisory ids are looked up with ``find_advisories`` (all at once).

    ``find_advisories`` may be None when no advisory database is available: an advisory id is then
    a usage error, never an empty answer.
    """
    if not texts:
        raise UsageError("give at least one SPEC: a package name, name@version, name@range or an advisory id")
    unique = list(dict.fromkeys(text.strip() for text in texts))
    ids = [text for text in unique if is_advisory_id(text)]
    found: Mapping[str, Sequence[Advisory]] = {}
    if ids:
        if find_advisories is None:
            raise UsageError(f"{ids[0]}: advisory ids are looked up in a local advisory database, and none is set")
        found = find_advisories(ids)
    specs: list[Spec] = []
    for text in unique:
        if text in ids:
            specs.append(AdvisorySpec(text, _newest_per_id(found[text])))
        else:
            specs.append(parse_package_spec(text))
    return tuple(specs)


def _newest_per_id(records: Sequence[Advisory]) -> tuple[Advisory, ...]:
    """One record per id, the newest by ``modified`` (a withdrawn newer copy wins, as in the audit)."""
    newest: dict[str, Advisory] = {}
    for record in records:
        current = newest.get(record.id)
        if current is None or record.modified > current.modified:
            newest[record.id] = record
    return tuple(sorted(newest.values(), key=lambda record: record.id))
