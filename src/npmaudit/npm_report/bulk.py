"""Advisories in the shape npm's bulk advisory endpoint answers, from any advisory source.

npm's report is computed from ``{name: [{id, url, title, severity, vulnerable_versions, cwe, cvss}]}``,
one advisory per (advisory, package): the registry writes all of an advisory's ranges for a package
as one node-semver range joined by `` || ``. That matters, because npm's metavuln calculator
memoises advisories by (package, id): two objects with one id for one package would let npm test
only the first one's range. OSV records often carry several ``affected`` entries for one package
(GitHub exports one per vulnerable range), so they are joined here
(:meth:`npmaudit.advisories.model.Advisory.node_semver_range`).

Registry advisories already carry npm's fields. OSV records carry none of npm's numeric ids, so we
derive one: ``int(sha256(osv_id).hexdigest()[:7], 16)``, the derivation the npm-oracle tool uses
when it serves OSV records to npm (tests/fixtures/npm_oracle/SOURCE.md). That number is npmaudit's
stable ``source`` for an OSV advisory: it depends only on the OSV id, so it survives database
updates and is the same on every machine. The other fields follow the same conversion, so that our
document and npm's compare equal: url is the GitHub advisory page when the record is or aliases a
GHSA (else the osv.dev page), title is the summary as written (else the id), severity is the
record's severity word (MAL records are critical, anything else unknown is moderate), cvss names
the record's first CVSS v3 vector. Withdrawn advisories give nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from npmaudit.advisories.model import Advisory

_NPM_SEVERITIES = ("info", "low", "moderate", "high", "critical")


def npm_advisory_id(osv_id: str) -> int:
    """The numeric ``source`` npmaudit (and npm-oracle) give an OSV advisory."""
    return int(hashlib.sha256(osv_id.encode()).hexdigest()[:7], 16)


def bulk_entries(advisory: Advisory) -> list[tuple[str, dict[str, Any]]]:
    """(package name, bulk advisory object) for every npm package the advisory affects, one per
    package, in the order the packages first occur in the advisory."""
    if advisory.withdrawn:
        return []
    entries = []
    for name in dict.fromkeys(entry.name for entry in advisory.affected):
        vulnerable = advisory.node_semver_range(name)
        if vulnerable is None:
            continue  # only ranges npm cannot test (GIT): the registry would list nothing either
        if _known_by_npm_range(advisory, name):
            entries.append((name, _registry_fields(advisory, vulnerable)))
        else:
            entries.append((name, _osv_fields(advisory, vulnerable)))
    return entries


def bulk_index(advisories: Iterable[Advisory]) -> dict[str, list[dict[str, Any]]]:
    """{package name: [bulk advisory, ...]} in the advisories' order (npm processes them in it)."""
    index: dict[str, list[dict[str, Any]]] = {}
    for advisory in advisories:
        for name, entry in bulk_entries(advisory):
            index.setdefault(name, []).append(entry)
    return index


def _osv_fields(advisory: Advisory, vulnerable: str) -> dict[str, Any]:
    return {
        "id": npm_advisory_id(advisory.id),
        "url": _osv_url(advisory),
        "title": _written_summary(advisory) or advisory.id,
        "severity": _osv_severity(advisory),
        "vulnerable_versions": vulnerable,
        "cwe": list(advisory.cwe),
        "cvss": {"score": 0, "vectorString": _first_cvss3(advisory)},
    }


def _osv_url(advisory: Advisory) -> str:
    for candidate in (advisory.id, *advisory.aliases):
        if candidate.startswith("GHSA-"):
            return f"https://github.com/advisories/{candidate}"
    return f"https://osv.dev/vulnerability/{advisory.id}"


def _osv_severity(advisory: Advisory) -> str:
    if any(i.startswith("MAL-") for i in (advisory.id, *advisory.aliases)):
        return "critical"
    word = advisory.severity_label.lower()
    return word if word in _NPM_SEVERITIES else "moderate"


# What the model does not keep and npm's fields need, read from the record as written: the summary
# without the model's fallback on the details, the first CVSS v3 vector (the model keeps the newest
# of any version), and the registry's own numeric id and score on advisories it served.


def _database_specific(advisory: Advisory) -> Mapping[str, Any]:
    specific = advisory.record.get("database_specific")
    return specific if isinstance(specific, dict) else {}


def _written_summary(advisory: Advisory) -> str:
    summary = advisory.record.get("summary")
    return summary if isinstance(summary, str) else ""


def _first_cvss3(advisory: Advisory) -> str | None:
    for entry in advisory.record.get("severity") or ():
        if isinstance(entry, dict) and entry.get("type") == "CVSS_V3":
            score = entry.get("score")
            return score if isinstance(score, str) else None
    return None


def _known_by_npm_range(advisory: Advisory, name: str) -> bool:
    """An advisory known for this package by its node-semver range: a registry bulk advisory (kept
    as an OSV record by npmaudit.advisories.npm_bulk, with the numeric id in
    ``database_specific.npm_advisory_id``) or an OSV record whose original npm range could not be
    written as OSV events. Its fields are the registry's, as far as the record keeps them."""
    return any(entry.npm_range is not None for entry in advisory.affected if entry.name == name)


def _registry_fields(advisory: Advisory, vulnerable: str) -> dict[str, Any]:
    specific = _database_specific(advisory)
    raw_id = specific.get("npm_advisory_id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        numeric = raw_id
    elif isinstance(raw_id, str) and raw_id.isdigit():
        numeric = int(raw_id)
    else:
        numeric = npm_advisory_id(advisory.id)
    severity = advisory.severity_label.lower()
    if severity not in _NPM_SEVERITIES:
        severity = advisory.severity.value if advisory.severity.value in _NPM_SEVERITIES else "high"
    score = specific.get("cvss_score")
    return {
        "id": numeric,
        "url": advisory.url or _osv_url(advisory),
        "title": advisory.summary or advisory.id,
        "severity": severity,
        "vulnerable_versions": vulnerable,
        "cwe": list(advisory.cwe),
        "cvss": {
            "score": score if isinstance(score, int | float) and not isinstance(score, bool) else 0,
            "vectorString": advisory.cvss_vector,
        },
    }
