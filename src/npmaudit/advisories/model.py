"""The advisory model: OSV records (schema 1.x), restricted to what concerns npm.

An :class:`Advisory` keeps the full original record (``record``) so that databases written back
out lose nothing, and a parsed view of the parts matching needs. Registry advisories (npm's bulk
endpoint) become the same type, with a node-semver range in ``Affected.npm_range``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from functools import lru_cache

from npmaudit import TYPE_CHECKING, semver
from npmaudit.errors import InputError
from npmaudit.records import field, record_class
from npmaudit.runtime_typing import NamedTuple

if TYPE_CHECKING:
    from typing import Any


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Order for thresholds. An unscored advisory ranks as high: npm's own default for an
        advisory without a severity, so that a missing score never lets a finding slip through."""
        return _RANK[self]


_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MODERATE: 2,
    Severity.HIGH: 3,
    Severity.UNKNOWN: 3,
    Severity.CRITICAL: 4,
}

# Names used by GitHub (MODERATE), CVSS (MEDIUM) and npm (moderate) for the same level.
_SEVERITY_WORDS = {
    "info": Severity.INFO,
    "none": Severity.INFO,
    "low": Severity.LOW,
    "moderate": Severity.MODERATE,
    "medium": Severity.MODERATE,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}

MALICIOUS_ORIGINS_KEY = "malicious-packages-origins"
MALWARE_CWE = "CWE-506"
EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


class AdvisoryFormatError(ValueError):
    """An OSV record that cannot be understood (not an object, no id, bad affected entries)."""


class MalformedRecordError(InputError):
    """A file's record that cannot be understood: an input error (exit 2) when the file is local;
    a caller fed by an online source (a mirror) turns it into a SourceError (exit 3)."""


@record_class(frozen=True, slots=True)
class Event:
    kind: str  # one of EVENT_KINDS
    version: str


@record_class(frozen=True, slots=True)
class AffectedRange:
    type: str  # SEMVER, ECOSYSTEM or GIT
    events: tuple[Event, ...]


@record_class(frozen=True, slots=True)
class Affected:
    """One ``affected[]`` entry for an npm package.

    ``npm_range`` is set for registry advisories (a node-semver ``vulnerable_versions`` string) and
    is tested with advisory semantics (include prereleases, loose), as npm does. ``versions`` is
    for lookups; ``listed_versions`` keeps the record's own order, which a node-semver range
    written from the entry repeats.
    """

    name: str
    ranges: tuple[AffectedRange, ...] = ()
    versions: frozenset[str] = frozenset()
    npm_range: str | None = None
    listed_versions: tuple[str, ...] = ()

    def node_semver_parts(self) -> list[str]:
        """This entry as node-semver range parts (to be joined by `` || ``), as npm's registry
        writes OSV events: introduced/fixed -> ``>=a <b``, last_affected -> ``>=a <=b``, limit ->
        ``<b``, introduced 0 -> ``<b`` (or ``*`` when nothing closes it), events in the record's
        order; then each listed version exactly. No ranges and no versions means every version
        (``*``); only GIT ranges give no part (nothing npm could test)."""
        if self.npm_range is not None:
            return [self.npm_range]
        if not self.ranges and not self.versions:
            return ["*"]
        parts: list[str] = []
        for rng in self.ranges:
            if rng.type not in ("SEMVER", "ECOSYSTEM"):
                continue
            introduced: str | None = None
            for event in rng.events:
                if event.kind == "introduced":
                    introduced = event.version
                    continue
                op = "<=" if event.kind == "last_affected" else "<"
                low = "" if introduced in (None, "0") else f">={introduced} "
                parts.append(f"{low}{op}{event.version}")
                introduced = None
            if introduced is not None:
                parts.append("*" if introduced == "0" else f">={introduced}")
        listed = set(self.listed_versions)
        parts.extend(self.listed_versions)
        parts.extend(sorted(v for v in self.versions if v not in listed))  # built without the order
        return list(dict.fromkeys(parts))


@record_class(frozen=True)
class Advisory:
    id: str
    modified: str
    aliases: tuple[str, ...]
    summary: str
    severity: Severity
    malicious: bool
    affected: tuple[Affected, ...]
    withdrawn: str | None = None
    url: str | None = None
    cvss_vector: str | None = None
    cwe: tuple[str, ...] = ()
    record: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False, hash=False)
    # The record's own severity word (``database_specific.severity``) as written, before it is read
    # as a Severity (which falls back on CVSS): npm-style advisories repeat the word.
    severity_label: str = ""

    @property
    def ids(self) -> frozenset[str]:
        """The id and every alias: two records sharing any of these describe one advisory."""
        return frozenset((self.id, *self.aliases))

    @property
    def package_names(self) -> frozenset[str]:
        return frozenset(entry.name for entry in self.affected)

    def node_semver_range(self, name: str) -> str | None:
        """The versions of ``name`` this advisory covers as one node-semver range: every
        ``affected`` entry for the package, in record order, parts joined by `` || `` without
        repeats, as the registry's bulk endpoint answers one advisory per package. None when no
        entry names the package or none can be written as a range."""
        parts: dict[str, None] = {}
        for entry in self.affected:
            if entry.name == name:
                for part in entry.node_semver_parts():
                    parts.update(dict.fromkeys(part.split(" || ")))
        return " || ".join(parts) or None

    @classmethod
    def from_osv(cls, record: Any) -> Advisory:
        """Parse one OSV record. Non-npm ``affected`` entries are dropped, not rejected."""
        advisory_id = _checked_id(record)
        affected = _parse_affected(advisory_id, record.get("affected"))
        aliases = _aliases(advisory_id, record)
        database_specific = _database_specific(record)
        cvss_vector = _cvss_vector(record.get("severity"))
        modified = record.get("modified")
        return cls(
            id=advisory_id,
            modified=modified if isinstance(modified, str) else "",
            aliases=aliases,
            summary=_text(record.get("summary")) or _text(record.get("details")).split("\n", 1)[0],
            severity=_severity(database_specific, cvss_vector),
            malicious=_is_malicious(advisory_id, aliases, database_specific, record),
            affected=affected,
            withdrawn=_withdrawn(record),
            url=_advisory_url(advisory_id, aliases, record.get("references")),
            cvss_vector=cvss_vector,
            cwe=_cwe_ids(database_specific),
            record=record,
            severity_label=label if isinstance(label := database_specific.get("severity"), str) else "",
        )


class IndexFields(NamedTuple):
    """What a store indexes of a record: the fields of :meth:`Advisory.from_osv` of the same names."""

    package_names: frozenset[str]
    withdrawn: str | None
    malicious: bool


def index_fields(record: Any) -> IndexFields:
    """The indexed fields of an OSV record, after every check :meth:`Advisory.from_osv` makes (the
    same :class:`AdvisoryFormatError` for a record it refuses), without building the model: an
    import of 215k records needs only these."""
    advisory_id = _checked_id(record)
    names = check_affected(advisory_id, record.get("affected"))
    aliases = _aliases(advisory_id, record)
    return IndexFields(
        frozenset(names),
        _withdrawn(record),
        _is_malicious(advisory_id, aliases, _database_specific(record), record),
    )


def _aliases(advisory_id: str, record: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(a for a in _string_list(advisory_id, record, "aliases") if a != advisory_id)


def _database_specific(record: Mapping[str, Any]) -> Mapping[str, Any]:
    value = record.get("database_specific")
    return value if isinstance(value, dict) else {}


def _withdrawn(record: Mapping[str, Any]) -> str | None:
    value = record.get("withdrawn")
    return value if isinstance(value, str) and value else None


def _checked_id(record: Any) -> str:
    if not isinstance(record, dict):
        raise AdvisoryFormatError(f"an advisory must be a JSON object, not {type(record).__name__}")
    advisory_id = record.get("id")
    if not isinstance(advisory_id, str) or not advisory_id:
        raise AdvisoryFormatError("an advisory has no string 'id'")
    return advisory_id


def _cwe_ids(database_specific: Mapping[str, Any]) -> tuple[str, ...]:
    # Informational only (like database_specific itself): a malformed list is ignored, not fatal.
    cwe_ids = database_specific.get("cwe_ids")
    return tuple(c for c in cwe_ids if isinstance(c, str)) if isinstance(cwe_ids, list) else ()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _string_list(advisory_id: str, record: Mapping[str, Any], key: str) -> list[str]:
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AdvisoryFormatError(f"{advisory_id}: '{key}' must be a list of strings")
    return value


def _parse_affected(advisory_id: str, entries: Any) -> tuple[Affected, ...]:
    """The npm entries of ``affected``, each checked so that it can be matched as written.

    A range, event or version list that cannot be read would otherwise become an entry that matches
    nothing (or everything), silently: it is an :class:`AdvisoryFormatError` naming the record.
    """
    parsed = []
    for name, where, entry in _npm_entries(advisory_id, entries):
        ranges = tuple(
            AffectedRange(kind, tuple(Event(event_kind, value) for event_kind, value in events))
            for kind, events in _checked_ranges(where, entry)
        )
        versions = _checked_versions(where, entry)
        npm_range = _checked_npm_range(where, entry, bool(ranges), versions)
        listed = tuple(dict.fromkeys(versions))
        parsed.append(Affected(name, ranges, frozenset(listed), npm_range, listed))
    return tuple(parsed)


def check_affected(advisory_id: str, entries: Any) -> list[str]:
    """The npm package names of ``affected`` (one per entry, in record order), after exactly the
    checks :func:`_parse_affected` makes, in the same order, without building the entries: what a
    store that only indexes a record needs (``Advisory.package_names``)."""
    names = []
    for name, where, entry in _npm_entries(advisory_id, entries):
        # Most records (malicious packages) have this one range: it passes every check below.
        has_ranges = entry.get("ranges") == _EVERY_VERSION or bool(_checked_ranges(where, entry))
        versions = _checked_versions(where, entry)
        _checked_npm_range(where, entry, has_ranges, versions)
        names.append(name)
    return names


_EVERY_VERSION = [{"type": "SEMVER", "events": [{"introduced": "0"}]}]


def _npm_entries(advisory_id: str, entries: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(name, where, entry) for every npm entry of ``affected``; entries of other ecosystems and
    entries without a package are passed over."""
    if entries is None:
        return
    if not isinstance(entries, list):
        raise AdvisoryFormatError(f"{advisory_id}: 'affected' must be a list")
    for entry in entries:
        if not isinstance(entry, dict):
            raise AdvisoryFormatError(f"{advisory_id}: an 'affected' entry is not an object")
        package = entry.get("package")
        if not isinstance(package, dict):
            continue  # an entry without a package names nothing we can match
        if str(package.get("ecosystem", "")).lower() != "npm":
            continue
        name = package.get("name")
        if not isinstance(name, str) or not name:
            raise AdvisoryFormatError(f"{advisory_id}: an npm 'affected' entry has no package name")
        yield name, f"{advisory_id}: {name}", entry


def _checked_ranges(where: str, entry: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The entry's ranges as (type, [(event kind, version)]), each checked."""
    raw_ranges = entry.get("ranges")
    if raw_ranges is None:
        raw_ranges = []
    if not isinstance(raw_ranges, list):
        raise AdvisoryFormatError(f"{where}: 'ranges' must be a list")
    return [_checked_range(where, raw_range) for raw_range in raw_ranges]


def _checked_versions(where: str, entry: Mapping[str, Any]) -> list[str]:
    versions = entry.get("versions")
    if versions is None:
        versions = []
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        raise AdvisoryFormatError(f"{where}: 'versions' must be a list of strings")
    return versions


def _checked_npm_range(where: str, entry: Mapping[str, Any], has_ranges: bool, versions: list[str]) -> str | None:
    specific = entry.get("database_specific")
    if not has_ranges and not versions and isinstance(specific, dict) and "vulnerable_versions" in specific:
        # Records converted from npm's own advisories keep the original node-semver range here when
        # it could not be expressed as OSV events; it is exact, "every version" would not be.
        return _npm_range(where, specific["vulnerable_versions"])
    return None


RANGE_TYPES = ("SEMVER", "ECOSYSTEM", "GIT")


def _checked_range(where: str, raw_range: Any) -> tuple[str, list[tuple[str, str]]]:
    if not isinstance(raw_range, dict):
        raise AdvisoryFormatError(f"{where}: a range is not an object")
    kind = raw_range.get("type")
    if not isinstance(kind, str) or kind.upper() not in RANGE_TYPES:
        shown = "no 'type'" if kind is None else f"type {kind!r}"
        raise AdvisoryFormatError(f"{where}: a range has {shown} (expected one of {', '.join(RANGE_TYPES)})")
    kind = kind.upper()
    raw_events = raw_range.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        raise AdvisoryFormatError(f"{where}: a {kind} range has no 'events' (a non-empty list)")
    events = [_checked_event(where, kind, raw_event) for raw_event in raw_events]
    if not any(event_kind == "introduced" for event_kind, _ in events):
        raise AdvisoryFormatError(f"{where}: a {kind} range has no 'introduced' event, so it covers no version")
    return kind, events


def _checked_event(where: str, kind: str, raw_event: Any) -> tuple[str, str]:
    if not isinstance(raw_event, dict) or len(raw_event) != 1:
        raise AdvisoryFormatError(f"{where}: an event must be an object with exactly one of {', '.join(EVENT_KINDS)}")
    ((event_kind, value),) = raw_event.items()
    if event_kind not in EVENT_KINDS:
        raise AdvisoryFormatError(f"{where}: unknown event {event_kind!r} (expected one of {', '.join(EVENT_KINDS)})")
    if not isinstance(value, str) or not value:
        raise AdvisoryFormatError(f"{where}: event {event_kind!r} must be a version string, not {value!r}")
    if kind != "GIT" and not (event_kind == "introduced" and value == "0") and not _is_version(value):
        raise AdvisoryFormatError(f"{where}: event {event_kind!r} has {value!r}, which is not a semver version")
    return event_kind, value


def _is_version(text: str) -> bool:
    return semver.parse_version(text, loose=True) is not None


def _npm_range(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AdvisoryFormatError(f"{where}: 'vulnerable_versions' must be a node-semver range, not {value!r}")
    if semver.valid_range(value, **semver.ADVISORY_OPTIONS) is None:
        raise AdvisoryFormatError(f"{where}: 'vulnerable_versions' {value!r} is not a node-semver range")
    return value.strip()


def _cvss_vector(entries: Any) -> str | None:
    """The newest CVSS vector in an OSV ``severity`` list (v4 preferred over v3 over v2)."""
    if not isinstance(entries, list):
        return None
    best: tuple[int, str] | None = None
    preference = {"CVSS_V4": 3, "CVSS_V3": 2, "CVSS_V2": 1}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("score"), str):
            rank = preference.get(str(entry.get("type")), 0)
            if rank and (best is None or rank > best[0]):
                best = (rank, entry["score"])
    return best[1] if best else None


def _severity(database_specific: Mapping[str, Any], cvss_vector: str | None) -> Severity:
    word = database_specific.get("severity")
    if isinstance(word, str) and word.strip().lower() in _SEVERITY_WORDS:
        return _SEVERITY_WORDS[word.strip().lower()]
    if cvss_vector:
        return severity_from_cvss(cvss_vector)
    return Severity.UNKNOWN


@lru_cache(maxsize=4096)
def severity_from_cvss(vector: str) -> Severity:
    """The qualitative severity of a CVSS v2/v3/v4 vector; UNKNOWN when it cannot be scored."""
    import cvss  # imported here: most runs (malicious-package records) never need it

    try:
        if vector.startswith("CVSS:4"):
            return _SEVERITY_WORDS.get(cvss.CVSS4(vector).severity.lower(), Severity.UNKNOWN)
        if vector.startswith("CVSS:3"):
            return _SEVERITY_WORDS.get(cvss.CVSS3(vector).severities()[0].lower(), Severity.UNKNOWN)
        score = float(cvss.CVSS2(vector).scores()[0])
    except Exception:  # the library raises several unrelated types for malformed vectors
        return Severity.UNKNOWN
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MODERATE
    return Severity.LOW if score > 0 else Severity.INFO


def _is_malicious(
    advisory_id: str, aliases: tuple[str, ...], database_specific: Mapping[str, Any], record: Mapping[str, Any]
) -> bool:
    if any(i.startswith("MAL-") for i in (advisory_id, *aliases)):
        return True
    if database_specific.get(MALICIOUS_ORIGINS_KEY):
        return True
    # GitHub's malware advisories (GHSA with type "malware") carry it in database_specific or in
    # the affected entries' database_specific, depending on the exporter.
    if str(database_specific.get("type", "")).lower() == "malware":
        return True
    # GitHub's reviewed malware advisories (ua-parser-js, event-stream, the 2025 debug/chalk takeover)
    # are exported to OSV with CWE-506, "Embedded Malicious Code", and no other marker.
    cwe_ids = database_specific.get("cwe_ids")
    if isinstance(cwe_ids, list) and MALWARE_CWE in cwe_ids:
        return True
    for entry in record.get("affected") or ():
        if isinstance(entry, dict):
            specific = entry.get("database_specific")
            if isinstance(specific, dict) and (
                specific.get(MALICIOUS_ORIGINS_KEY) or str(specific.get("type", "")).lower() == "malware"
            ):
                return True
    return False


def _advisory_url(advisory_id: str, aliases: tuple[str, ...], references: Any) -> str | None:
    """A human link: the GitHub advisory page for a GHSA, else the record's ADVISORY reference."""
    for candidate in (advisory_id, *aliases):
        if candidate.startswith("GHSA-"):
            return f"https://github.com/advisories/{candidate}"
    if isinstance(references, list):
        for kind in ("ADVISORY", "WEB"):
            for reference in references:
                if isinstance(reference, dict) and reference.get("type") == kind:
                    url = reference.get("url")
                    if isinstance(url, str):
                        return url
    return None
