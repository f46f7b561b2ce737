"""``--format cyclonedx``: a CycloneDX 1.6 JSON SBOM of the audited tree, with its vulnerabilities as VEX.

Components follow ``npm sbom``'s conventions: one per installed package version, ``bom-ref``
``name@version``, the full (scoped) name, ``purl`` ``pkg:npm/%40scope/name@1.2.3``, the lockfile
location as ``cdx:npm:package:path`` and dev packages marked ``cdx:npm:package:development``; dev
packages take scope ``excluded`` (as pnpm's SBOM), optional ones ``optional``. The dependency graph is
the lockfile's resolved edges. Packages left out by ``--omit`` are not part of the audited tree.
Resolved tarball URLs are not repeated (the purl names the package; a private registry's host or a
token in a URL has no business in a document shared outside).

Each finding is one vulnerability affecting one component: ``analysis.state`` ``exploitable`` (VEX
"affected") or, when an ignore hides it, ``not_affected`` with the ignore's justification and reason.
``-r`` makes one BOM whose root is the scanned directory, each project a component under it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Sequence
from urllib.parse import quote

from npmaudit import TYPE_CHECKING, __version__
from npmaudit.auditing.ignores import DEFAULT_JUSTIFICATION
from npmaudit.project.model import Node, Project
from npmaudit.report.ci_common import (
    MALICIOUS_ACTION,
    all_source_facts,
    cvss_score,
    display_path,
    level_word,
    run_time,
)

if TYPE_CHECKING:
    from typing import Any

    from npmaudit.auditing.engine import Finding
    from npmaudit.auditing.run import AuditOutcome, ProjectFailure, RecursiveOutcome

SPEC_VERSION = "1.6"
SCHEMA_URL = "http://cyclonedx.org/schema/bom-1.6.schema.json"
_HASH_ALGORITHMS = {
    "sha512": ("SHA-512", 64),
    "sha384": ("SHA-384", 48),
    "sha256": ("SHA-256", 32),
    "sha1": ("SHA-1", 20),
}
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def render(outcome: AuditOutcome, *, color: bool = False) -> str:
    return json.dumps(document([outcome], []), indent=2, ensure_ascii=False) + "\n"


def render_recursive(scan: RecursiveOutcome, *, color: bool = False) -> str:
    return json.dumps(document(scan.outcomes, scan.failures, root_name=str(scan.root)), indent=2) + "\n"


def document(
    outcomes: Sequence[AuditOutcome], failures: Sequence[ProjectFailure], *, root_name: str | None = None
) -> dict[str, Any]:
    recursive = root_name is not None
    components: list[dict[str, Any]] = []
    dependencies: list[dict[str, Any]] = []
    vulnerabilities: list[dict[str, Any]] = []
    project_refs = []
    for outcome in outcomes:
        prefix = f"{display_path(outcome.result.project.directory)}|" if recursive else ""
        tree = _Tree(outcome, prefix)
        if recursive:
            components.append(tree.root_component())
            project_refs.append(tree.root_ref)
        components.extend(tree.components())
        dependencies.extend(tree.dependencies())
        vulnerabilities.extend(_vulnerability(outcome, finding, tree) for finding in outcome.result.findings)
    now = run_time(outcomes[0].settings.now if outcomes else None)
    if recursive:
        root = {"type": "application", "name": root_name, "bom-ref": "scan-root"}
        dependencies.insert(0, {"ref": "scan-root", "dependsOn": project_refs})
    else:
        root = _Tree(outcomes[0], "").root_component()
    properties = [{"name": "npmaudit:source", "value": facts.text} for facts in all_source_facts(outcomes)] + [
        {"name": "npmaudit:lockfile", "value": display_path(outcome.result.project.lockfile)} for outcome in outcomes
    ]
    properties += [{"name": "npmaudit:not-audited", "value": f"{f.directory}: {f.error}"} for f in failures]
    bom: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "npmaudit", "version": __version__}]},
            "component": root,
            "properties": properties,
        },
        "components": components,
        "dependencies": dependencies,
    }
    if vulnerabilities:
        bom["vulnerabilities"] = vulnerabilities
    return bom


class _Tree:
    """One project's components and dependency graph, with refs unique in the document."""

    def __init__(self, outcome: AuditOutcome, prefix: str) -> None:
        self.outcome = outcome
        self.project: Project = outcome.result.project
        self.prefix = prefix
        omit = outcome.settings.omit
        self.nodes = [n for n in self.project.packages() if not n.omitted_by(omit) and n.link_target is None]
        self.root_ref = f"{prefix}root:{self.project.root.name or self.project.directory.name or 'project'}"
        self._refs = {node.location: self._ref(node) for node in self.nodes}

    def _ref(self, node: Node) -> str:
        if node.is_registry and node.version:
            return f"{self.prefix}{node.name}@{node.version}"
        return f"{self.prefix}{node.name}@{node.version or node.source.value}:{node.location}"

    def ref(self, location: str) -> str | None:
        node = self.project.nodes.get(location)
        if node is None:
            return None
        if node.is_root:
            return self.root_ref
        if node.link_target is not None:  # a link stands for the folder it points at
            return self.ref(node.link_target) if node.link_target != location else None
        return self._refs.get(location)

    def root_component(self) -> dict[str, Any]:
        root = self.project.root
        component: dict[str, Any] = {
            "type": "application",
            "name": root.name or self.project.directory.resolve().name or "project",
            "bom-ref": self.root_ref,
        }
        if root.version:
            component["version"] = root.version
        return component

    def components(self) -> list[dict[str, Any]]:
        by_ref: dict[str, dict[str, Any]] = {}
        for node in self.nodes:
            ref = self._refs[node.location]
            existing = by_ref.get(ref)
            if existing is None:
                by_ref[ref] = self._component(node, ref)
                continue
            # One package version installed at several places: every path is listed, and it is as
            # needed as its most needed install (a production install makes it required).
            existing["properties"].append({"name": "cdx:npm:package:path", "value": node.location})
            scope = _scope(node)
            if _SCOPE_RANK[scope] > _SCOPE_RANK[existing["scope"]]:
                existing["scope"] = scope
            if not node.dev:
                existing["properties"] = [p for p in existing["properties"] if p["name"] != _DEVELOPMENT]
        return list(by_ref.values())

    def _component(self, node: Node, ref: str) -> dict[str, Any]:
        component: dict[str, Any] = {"type": "library", "bom-ref": ref, "name": node.name}
        if node.version:
            component["version"] = node.version
        component["scope"] = (
            "excluded" if node.dev else "optional" if node.optional or node.dev_optional else "required"
        )
        if node.is_registry and node.version:
            component["purl"] = purl(node.name, node.version)
        hashes = _hashes(node.integrity)
        if hashes:
            component["hashes"] = hashes
        properties = [{"name": "cdx:npm:package:path", "value": node.location}]
        if node.dev:
            properties.append({"name": _DEVELOPMENT, "value": "true"})
        if node.in_bundle:
            properties.append({"name": "cdx:npm:package:bundled", "value": "true"})
        if not node.is_registry:
            properties.append({"name": "npmaudit:source", "value": node.source.value})
        component["properties"] = properties
        return component

    def dependencies(self) -> list[dict[str, Any]]:
        graph: dict[str, list[str]] = {self.root_ref: []}
        for node in (self.project.root, *self.nodes):
            ref = self.root_ref if node.is_root else self._refs[node.location]
            targets = graph.setdefault(ref, [])
            for edge in node.edges:
                target = self.ref(edge.to) if edge.to is not None else None
                if target is not None and target != ref and target not in targets:
                    targets.append(target)
        return [{"ref": ref, "dependsOn": sorted(depends)} for ref, depends in graph.items()]


_DEVELOPMENT = "cdx:npm:package:development"
_SCOPE_RANK = {"excluded": 0, "optional": 1, "required": 2}


def _scope(node: Node) -> str:
    """Dev packages are ``excluded`` (not part of what runs), optional ones ``optional``, the rest ``required``."""
    if node.dev:
        return "excluded"
    return "optional" if node.optional or node.dev_optional else "required"


def purl(name: str, version: str) -> str:
    """The package URL of an npm package: ``pkg:npm/%40scope/name@1.2.3``.

    The purl spec lowercases npm names (the registry still serves a few old mixed-case ones, such as
    JSONStream, and treats names case-insensitively in new publishes).
    """
    scope, _, bare = name.lower().rpartition("/") if name.startswith("@") else ("", "", name.lower())
    namespace = f"{quote(scope, safe='')}/" if scope else ""
    return f"pkg:npm/{namespace}{quote(bare, safe='')}@{quote(version, safe='')}"


def _hashes(integrity: str | None) -> list[dict[str, str]]:
    """The first usable SRI hash of ``integrity`` as hex (yarn berry's checksums are not SRI: none)."""
    for token in (integrity or "").split():
        algorithm, _, digest = token.partition("-")
        known = _HASH_ALGORITHMS.get(algorithm.lower())
        if known is None:
            continue
        name, size = known
        try:
            raw = base64.b64decode(digest.split("?", 1)[0], validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == size:  # a truncated or placeholder digest is no hash of anything
            return [{"alg": name, "content": raw.hex()}]
    return []


def _vulnerability(outcome: AuditOutcome, finding: Finding, tree: _Tree) -> dict[str, Any]:
    advisory = finding.advisory
    record = advisory.record
    component = tree.ref(finding.nodes[0].location) or f"{tree.prefix}{finding.name}@{finding.version}"
    vulnerability: dict[str, Any] = {
        "bom-ref": f"{component}#{finding.id}",
        "id": finding.id,
        "source": _source(finding.id, advisory.url),
    }
    if finding.aliases:
        vulnerability["references"] = [
            {"id": alias, "source": {"name": _source(alias, None)["name"]}} for alias in finding.aliases
        ]
    vulnerability["ratings"] = [_rating(finding)]
    cwes = sorted({int(c[4:]) for r in finding.records for c in r.cwe if re.fullmatch(r"CWE-\d+", c)})
    if cwes:
        vulnerability["cwes"] = cwes
    if advisory.summary:
        vulnerability["description"] = advisory.summary
    details = record.get("details")
    if isinstance(details, str) and details:
        vulnerability["detail"] = details
    if finding.malicious:
        vulnerability["recommendation"] = f"Malicious package: {MALICIOUS_ACTION}."
    elif finding.fixed_in:
        vulnerability["recommendation"] = f"Upgrade {finding.name} to {' or '.join(finding.fixed_in)}."
    for key, field in (("published", "published"), ("modified", "updated")):
        value = record.get(key)
        if isinstance(value, str) and _DATE_TIME.match(value):
            vulnerability[field] = value
    vulnerability["affects"] = [{"ref": component, "versions": [{"version": finding.version, "status": "affected"}]}]
    vulnerability["analysis"] = _analysis(outcome, finding)
    properties = [{"name": "npmaudit:install-path", "value": location} for location in finding.locations]
    if finding.malicious:
        properties.append({"name": "npmaudit:malicious", "value": "true"})
    vulnerability["properties"] = properties
    return vulnerability


def _analysis(outcome: AuditOutcome, finding: Finding) -> dict[str, Any]:
    rule = outcome.ignores.rule_for(finding)
    if rule is not None:
        until = f"; until {rule.expires_text}" if rule.expires is not None else ""
        return {
            "state": "not_affected",
            "justification": rule.justification or DEFAULT_JUSTIFICATION,
            "detail": f"ignored: {rule.reason} ({rule.where}{until})",
        }
    analysis: dict[str, Any] = {"state": "exploitable"}
    if finding.fixed_in:
        analysis["response"] = ["update"]
    if finding.malicious:
        analysis["detail"] = "malicious package"
    return analysis


def _rating(finding: Finding) -> dict[str, Any]:
    severity = "critical" if finding.malicious else level_word(finding.severity)
    rating: dict[str, Any] = {"severity": severity}
    vector = next((r.cvss_vector for r in finding.records if r.cvss_vector), None)
    measured = cvss_score(finding)
    if vector and measured is not None:
        rating["score"] = measured
        rating["vector"] = vector
        rating["method"] = (
            "CVSSv4"
            if vector.startswith("CVSS:4")
            else "CVSSv31"
            if vector.startswith("CVSS:3.1")
            else "CVSSv3"
            if vector.startswith("CVSS:3")
            else "CVSSv2"
        )
    else:
        rating["method"] = "other"
    return rating


def _source(identifier: str, url: str | None) -> dict[str, str]:
    if identifier.startswith("GHSA-"):
        return {"name": "GitHub Advisory Database", "url": f"https://github.com/advisories/{identifier}"}
    if identifier.startswith("CVE-"):
        return {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/{identifier}"}
    if identifier.startswith("MAL-"):
        return {"name": "OpenSSF Malicious Packages", "url": f"https://osv.dev/vulnerability/{identifier}"}
    safe = quote(identifier, safe="-_.:")
    return {
        "name": "OSV",
        "url": url if url and url.startswith("https://") else f"https://osv.dev/vulnerability/{safe}",
    }
