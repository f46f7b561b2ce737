"""``--registry-advisories``: the npm registry's bulk advisory endpoint, as npm 11's audit uses it.

The request is ``POST <registry>/-/npm/v1/security/advisories/bulk`` with the gzipped JSON
``{name: [versions]}`` built exactly as npm 11's arborist builds it (``prepareBulkData`` and
``shouldAudit`` in ``audit-report.js``; docs/npm-audit.md):

* names are real package names (an alias ``"x": "npm:foo@1"`` is sent as ``foo``), in the
  order the names first occur in the tree; versions are unique, in insertion order;
* left out: the root, nodes without a version, links and every node a link points to
  (workspaces and ``file:`` folders), and nodes ``--omit`` drops — except that a node whose
  ``top`` is neither the root nor a workspace (inside a linked folder) is never omitted.

The registry is the default ``registry`` even for scoped packages, as in npm. Each advisory in the
answer becomes an :class:`Advisory` with ``Affected(npm_range=vulnerable_versions)``, which the
matcher tests with npm audit's semantics (include prereleases, loose).

Identity: ``Advisory.id`` is the GHSA id parsed from the advisory's ``url`` when it has one (so
the same advisory from OSV groups with it), else ``NPM-<numeric id>``; the numeric id is kept as
the alias ``NPM-<n>`` and in ``database_specific.npm_advisory_id``, the url in ``Advisory.url``
and as an ADVISORY reference. ``record`` is an OSV record (see :func:`bulk_to_osv`), so
``--write`` can store registry advisories without losing their exact range.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from npmaudit.advisories.model import Advisory, AdvisoryFormatError
from npmaudit.advisories.source import SourceInfo
from npmaudit.errors import SourceError
from npmaudit.http import HttpClient
from npmaudit.npmrc import redact_url
from npmaudit.project.model import PackageRef, Project
from npmaudit.project.npm_tree import link_targets, should_audit

BULK_PATH = "-/npm/v1/security/advisories/bulk"
SOURCE_NAME = "npm registry advisories"
_GHSA = re.compile(r"GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}", re.IGNORECASE)


def bulk_payload(project: Project, omit: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """The ``{name: [versions]}`` body npm 11 would send for this project."""
    targets = link_targets(project.nodes.values())
    payload: dict[str, list[str]] = {}
    order: dict[str, None] = {}
    for node in project.nodes.values():
        if node.is_root or not node.name:
            continue
        order.setdefault(node.name, None)  # npm's inventory index orders names by first node
        if should_audit(project, node, omit, targets):
            versions = payload.setdefault(node.name, [])
            if node.version not in versions:
                versions.append(node.version)
    return {name: payload[name] for name in order if name in payload}


def payload_from_refs(packages: Collection[PackageRef]) -> dict[str, list[str]]:
    payload: dict[str, list[str]] = {}
    for ref in packages:
        versions = payload.setdefault(ref.name, [])
        if ref.version not in versions:
            versions.append(ref.version)
    return payload


def bulk_to_osv(name: str, entry: Any) -> dict[str, Any]:
    """One advisory object of the bulk answer as an OSV record (ValueError when its shape is wrong).

    The node-semver range goes to ``affected[].database_specific.vulnerable_versions``, which the
    advisory model reads back as ``Affected.npm_range``: written into an OSV database, the record
    still matches exactly the versions the registry said, never "every version".
    """
    if not isinstance(entry, dict):
        raise ValueError(f"an advisory of {name} is not an object")
    numeric = entry.get("id")
    if isinstance(numeric, bool) or not isinstance(numeric, int | str) or numeric == "":
        raise ValueError(f"an advisory of {name} has no id")
    vulnerable = entry.get("vulnerable_versions")
    if not isinstance(vulnerable, str) or not vulnerable.strip():
        raise ValueError(f"advisory {numeric} of {name} has no vulnerable_versions")
    url = entry.get("url") if isinstance(entry.get("url"), str) else None
    ghsa = _GHSA.search(url or "")
    npm_id = f"NPM-{numeric}"
    advisory_id = "GHSA-" + ghsa.group(0)[5:].lower() if ghsa else npm_id
    cwe = [c for c in entry.get("cwe") or () if isinstance(c, str)] if isinstance(entry.get("cwe"), list) else []
    raw_cvss = entry.get("cvss")
    cvss: dict[str, Any] = raw_cvss if isinstance(raw_cvss, dict) else {}
    vector = cvss.get("vectorString") if isinstance(cvss.get("vectorString"), str) else None
    database_specific: dict[str, Any] = {"source": "npm-registry", "npm_advisory_id": numeric, "cwe_ids": cwe}
    score = cvss.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool):
        database_specific["cvss_score"] = score  # npm's report repeats the registry's score in `via`
    severity = str(entry.get("severity") or "").strip().lower()
    if severity:
        database_specific["severity"] = severity
    record: dict[str, Any] = {
        "id": advisory_id,
        "modified": "",
        "aliases": [npm_id] if advisory_id != npm_id else [],
        "summary": entry.get("title") if isinstance(entry.get("title"), str) else "",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": name},
                "database_specific": {"vulnerable_versions": vulnerable.strip()},
            }
        ],
        "database_specific": database_specific,
    }
    if vector and vector.startswith("CVSS:3"):
        record["severity"] = [{"type": "CVSS_V3", "score": vector}]
    elif vector and vector.startswith("CVSS:4"):
        record["severity"] = [{"type": "CVSS_V4", "score": vector}]
    if url:
        record["references"] = [{"type": "ADVISORY", "url": url}]
    return record


def advisory_from_bulk(name: str, entry: Any) -> Advisory:
    record = bulk_to_osv(name, entry)
    try:
        advisory = Advisory.from_osv(record)
    except AdvisoryFormatError as error:
        raise ValueError(str(error)) from None
    affected = advisory.affected[0]
    if affected.npm_range is None:  # the model must carry the range; never "every version"
        raise ValueError(f"advisory {record['id']} of {name}: range not understood")
    return replace(advisory, url=record.get("references", [{}])[0].get("url") or advisory.url)


def parse_bulk_answer(document: Any) -> dict[str, list[Advisory]]:
    if not isinstance(document, dict):
        raise SourceError(SOURCE_NAME, "unexpected answer: not a JSON object keyed by package name")
    found: dict[str, list[Advisory]] = {}
    for name, entries in document.items():
        if not isinstance(entries, list):
            raise SourceError(SOURCE_NAME, f"unexpected answer: the advisories of {name} are not a list")
        try:
            advisories = [advisory_from_bulk(name, entry) for entry in entries]
        except ValueError as error:
            raise SourceError(SOURCE_NAME, f"unexpected answer: {error}") from None
        if advisories:
            found[name] = advisories
    return found


class NpmBulkSource:
    """An :class:`~npmaudit.advisories.source.AdvisorySource` over ``<registry>/-/npm/v1/security/...``.

    With a ``project`` the payload is npm 11's exactly (:func:`bulk_payload`); without one it is
    built from the packages the engine asks about.
    """

    kind = "npm-registry"

    def __init__(
        self,
        client: HttpClient,
        registry: str,
        project: Project | None = None,
        omit: frozenset[str] = frozenset(),
    ) -> None:
        self.client = client
        self.registry = registry if registry.endswith("/") else registry + "/"
        self.project = project
        self.omit = omit
        self.payload: dict[str, list[str]] | None = None

    def prepare(self, project: Project, omit: frozenset[str]) -> NpmBulkSource:
        """A copy that sends npm 11's payload for this project's tree and omitted groups."""
        return NpmBulkSource(self.client, self.registry, project, omit)

    def info(self) -> SourceInfo:
        return SourceInfo(self.kind, redact_url(self.registry + BULK_PATH))

    def advisories_for(self, packages: Collection[PackageRef]) -> Mapping[str, Sequence[Advisory]]:
        payload = bulk_payload(self.project, self.omit) if self.project is not None else payload_from_refs(packages)
        self.payload = payload
        if not payload:
            return {}  # npm makes no request either when nothing is left to audit
        document = self.client.post_json(
            self.registry + BULK_PATH,
            payload,
            gzip_body=True,
            headers={"npm-command": "audit", "accept": "*/*"},
        )
        return parse_bulk_answer(document)
