"""Advisories in the shape npm's bulk advisory endpoint answers, from any advisory source.

npm's report is computed from ``{name: [{id, url, title, severity, vulnerable_versions, cwe, cvss}]}``.
Registry advisories already carry those fields. OSV records carry none of npm's numeric ids, so we
derive one: ``int(sha256(osv_id).hexdigest()[:7], 16)``, the derivation the npm-oracle tool uses
when it serves OSV records to npm. That number is npmaudit's stable ``source`` for an OSV advisory:
it depends only on the OSV id, so it survives database updates and is the same on every machine.
The other fields follow the same conversion, so that our document and npm's compare equal:
url is the GitHub advisory page when the record is or aliases a GHSA (else the osv.dev page), title
is the summary (else the id), severity is ``database_specific.severity`` (MAL records are critical,
anything else unknown is moderate), the range is the OSV events as a node-semver range.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from npmaudit.advisories.model import Advisory, Affected

_NPM_SEVERITIES = ("info", "low", "moderate", "high", "critical")


def npm_advisory_id(osv_id: str) -> int:
    """The numeric ``source`` npmaudit (and npm-oracle) give an OSV advisory."""
    return int(hashlib.sha256(osv_id.encode()).hexdigest()[:7], 16)


def osv_range(affected: Affected, versions: Iterable[str] | None = None) -> str:
    """An affected entry's SEMVER/ECOSYSTEM events, then its explicit versions (in ``versions``
    order when given: the record's own order), as one node-semver range."""
    parts: list[str] = []
    for rng in affected.ranges:
        if rng.type not in ("SEMVER", "ECOSYSTEM"):
            continue
        introduced: str | None = None
        for event in rng.events:
            if event.kind == "introduced":
                introduced = event.version
                continue
            op = "<=" if event.kind == "last_affected" else "<"
            if introduced in (None, "0"):
                parts.append(f"{op}{event.version}")
            else:
                parts.append(f">={introduced} {op}{event.version}")
            introduced = None
        if introduced is not None:
            parts.append("*" if introduced == "0" else f">={introduced}")
    parts.extend(sorted(affected.versions) if versions is None else versions)
    return " || ".join(dict.fromkeys(parts))


def bulk_entries(advisory: Advisory) -> list[tuple[str, dict[str, Any]]]:
    """(package name, bulk advisory object) for every npm package the advisory affects."""
    if advisory.withdrawn:
        return []
    record: Mapping[str, Any] = advisory.record or {}
    database_specific = record.get("database_specific") if isinstance(record.get("database_specific"), dict) else {}
    entries = []
    for index, affected in enumerate(advisory.affected):
        if affected.npm_range is not None:
            entries.append((affected.name, _registry_entry(advisory, affected, record)))
            continue
        rng = _osv_range_from_record(record, index, affected)
        if not rng:
            continue
        entries.append(
            (
                affected.name,
                {
                    "id": npm_advisory_id(advisory.id),
                    "url": _osv_url(advisory),
                    "title": (record.get("summary") if isinstance(record.get("summary"), str) else "") or advisory.id,
                    "severity": _osv_severity(advisory, database_specific),
                    "vulnerable_versions": rng,
                    "cwe": [c for c in database_specific.get("cwe_ids") or () if isinstance(c, str)],
                    "cvss": {"score": 0, "vectorString": _first_cvss3(record)},
                },
            )
        )
    return entries


def _osv_range_from_record(record: Mapping[str, Any], index: int, affected: Affected) -> str:
    """The range, keeping explicit versions in the record's own order when the record is at hand
    (Affected.versions is a set)."""
    raw_affected = [
        a
        for a in record.get("affected") or ()
        if isinstance(a, dict)
        and str((a.get("package") or {}).get("ecosystem", "")).lower() == "npm"
        and (a.get("package") or {}).get("name")
    ]
    if index < len(raw_affected) and raw_affected[index].get("package", {}).get("name") == affected.name:
        raw_versions = raw_affected[index].get("versions")
        if isinstance(raw_versions, list):
            return osv_range(affected, [v for v in raw_versions if isinstance(v, str)])
    return osv_range(affected)


def _osv_url(advisory: Advisory) -> str:
    for candidate in (advisory.id, *advisory.aliases):
        if candidate.startswith("GHSA-"):
            return f"https://github.com/advisories/{candidate}"
    return f"https://osv.dev/vulnerability/{advisory.id}"


def _osv_severity(advisory: Advisory, database_specific: Mapping[str, Any]) -> str:
    if any(i.startswith("MAL-") for i in (advisory.id, *advisory.aliases)):
        return "critical"
    word = str(database_specific.get("severity") or "").lower()
    return word if word in _NPM_SEVERITIES else "moderate"


def _first_cvss3(record: Mapping[str, Any]) -> str | None:
    for entry in record.get("severity") or ():
        if isinstance(entry, dict) and entry.get("type") == "CVSS_V3":
            score = entry.get("score")
            return score if isinstance(score, str) else None
    return None


def _registry_entry(advisory: Advisory, affected: Affected, record: Mapping[str, Any]) -> dict[str, Any]:
    """An advisory known by its node-semver range: a registry bulk advisory (kept as an OSV record
    by npmaudit.advisories.npm_bulk, with the numeric id in ``database_specific.npm_advisory_id``)
    or an OSV record whose original npm range could not be written as OSV events."""
    specific = record.get("database_specific") if isinstance(record.get("database_specific"), dict) else {}
    raw_id = specific.get("npm_advisory_id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        numeric = raw_id
    elif isinstance(raw_id, str) and raw_id.isdigit():
        numeric = int(raw_id)
    else:
        numeric = npm_advisory_id(advisory.id)
    severity = str(specific.get("severity") or "").lower()
    if severity not in _NPM_SEVERITIES:
        severity = advisory.severity.value if advisory.severity.value in _NPM_SEVERITIES else "high"
    score = specific.get("cvss_score")
    return {
        "id": numeric,
        "url": advisory.url or _osv_url(advisory),
        "title": advisory.summary or advisory.id,
        "severity": severity,
        "vulnerable_versions": affected.npm_range or "*",
        "cwe": list(advisory.cwe),
        "cvss": {
            "score": score if isinstance(score, int | float) and not isinstance(score, bool) else 0,
            "vectorString": advisory.cvss_vector,
        },
    }


def bulk_index(advisories: Iterable[Advisory]) -> dict[str, list[dict[str, Any]]]:
    """{package name: [bulk advisory, ...]} in the advisories' order (npm processes them in it)."""
    index: dict[str, list[dict[str, Any]]] = {}
    for advisory in advisories:
        for name, entry in bulk_entries(advisory):
            index.setdefault(name, []).append(entry)
    return index
