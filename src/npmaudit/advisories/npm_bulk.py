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

Fallback (as npm <= 10 did): when the bulk endpoint answers an error or a body that is not a bulk
answer, the quick-audit endpoint ``POST <registry>/-/npm/v1/security/audits/quick`` is asked with
npm 7-10's body (:func:`quick_payload`: the root's requirements and the v1-style nested
``dependencies`` tree) and its answer is read as npm 7-10 read it (:func:`parse_quick_answer`);
the run says so on stderr (``info().warnings``). Both failing is a :class:`SourceError` (exit 3).

An empty reply is checked: a registry or proxy that has no advisory data may answer ``{}`` (some
fail open). When the whole tree got no advisory while the local store (``cross_check``) knows
GitHub advisories (GHSA ids, the registry's own data) that affect installed versions, the run
warns, or fails with exit 3 under ``strict_empty`` (``--registry-empty-error``). A warning by
default because the store may legitimately disagree (stale, or holding advisories the
organisation's registry withholds); the flag is for gates that must fail closed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from npmaudit import TYPE_CHECKING
from npmaudit.advisories.matching import affects
from npmaudit.advisories.model import Advisory, AdvisoryFormatError
from npmaudit.advisories.source import AdvisorySource, SourceInfo
from npmaudit.errors import SourceError
from npmaudit.http import HttpClient
from npmaudit.npmrc import redact_url
from npmaudit.project.model import DepType, Edge, Node, PackageRef, Project
from npmaudit.project.npm_tree import link_targets, should_audit
from npmaudit.records import replace

if TYPE_CHECKING:
    from typing import Any

BULK_PATH = "-/npm/v1/security/advisories/bulk"
QUICK_PATH = "-/npm/v1/security/audits/quick"
EMPTY_EXAMPLES = 3  # advisories named in the empty-reply message
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
    """The bulk answer as advisories by package name. One advisory the registry lists under several
    packages (a GitHub advisory about ``@babel/helpers`` and ``@babel/runtime``) becomes one
    :class:`Advisory` with an ``affected`` entry per package: the engine keeps one record per id, so
    separate objects under one id would lose every package but one."""
    if not isinstance(document, dict):
        raise SourceError(SOURCE_NAME, "unexpected answer: not a JSON object keyed by package name")
    records: dict[str, dict[str, Any]] = {}
    ids_by_name: dict[str, dict[str, None]] = {}
    for name, entries in document.items():
        if not isinstance(entries, list):
            raise SourceError(SOURCE_NAME, f"unexpected answer: the advisories of {name} are not a list")
        for entry in entries:
            try:
                record = bulk_to_osv(name, entry)
            except ValueError as error:
                raise SourceError(SOURCE_NAME, f"unexpected answer: {error}") from None
            known = records.setdefault(record["id"], record)
            if known is not record and record["affected"][0] not in known["affected"]:
                known["affected"].append(record["affected"][0])
            ids_by_name.setdefault(name, {})[record["id"]] = None
    try:
        advisories = {key: _registry_advisory(record) for key, record in records.items()}
    except ValueError as error:
        raise SourceError(SOURCE_NAME, f"unexpected answer: {error}") from None
    return {name: [advisories[key] for key in ids] for name, ids in ids_by_name.items() if ids}


def _registry_advisory(record: dict[str, Any]) -> Advisory:
    try:
        advisory = Advisory.from_osv(record)
    except AdvisoryFormatError as error:
        raise ValueError(str(error)) from None
    if any(entry.npm_range is None for entry in advisory.affected):  # never "every version"
        raise ValueError(f"advisory {record['id']}: range not understood")
    return replace(advisory, url=record.get("references", [{}])[0].get("url") or advisory.url)


_HEADERS = {"npm-command": "audit", "accept": "*/*"}


def quick_payload(project: Project) -> dict[str, Any]:
    """npm 7-10's quick-audit body: ``{name, version, requires, dependencies, metadata}``.

    ``requires`` merges the root's dev, peer, optional and prod requirements (later ones win);
    ``dependencies`` is the v1 lockfile tree of every installed package under ``node_modules``,
    nested by folder, with ``version`` (``npm:real@version`` for an alias), the group flags and
    each package's own ``requires``. Nothing is filtered: omitted groups are left out when the
    answer is matched, as npm filters while building its report.
    """
    root = project.nodes.get("")
    requires: dict[str, str] = {}
    if root is not None:
        order = (DepType.DEV, DepType.PEER, DepType.PEER_OPTIONAL, DepType.OPTIONAL, DepType.PROD)
        for dep_type in order:  # workspaces and linked folders are the project's own code, not requirements
            requires.update(
                {
                    edge.name: edge.spec
                    for edge in root.edges
                    if edge.type is dep_type and not _to_own_code(project, edge)
                }
            )
    # A linked folder's own node_modules are listed under the link's entry, as npm's v1 tree nests them.
    links = {
        n.link_target: loc for loc, n in project.nodes.items() if n.link_target and loc.startswith("node_modules/")
    }
    tree: dict[str, Any] = {}
    placed = sorted(((_v1_location(loc, links), node) for loc, node in project.nodes.items()), key=_depth)
    for location, node in placed:
        if not location.startswith("node_modules/"):
            continue
        if node.link_target is not None:
            version = f"file:{node.link_target}"
        elif not node.version:
            continue
        folders = location.split("/node_modules/")
        folders[0] = folders[0].removeprefix("node_modules/")
        parent = tree
        for folder in folders[:-1]:
            parent = parent.setdefault(folder, {}).setdefault("dependencies", {})
        entry = parent.setdefault(folders[-1], {})
        install_name = folders[-1]
        if node.link_target is None:
            version = node.version if install_name == node.name else f"npm:{node.name}@{node.version}"
        entry["version"] = version
        for flag in ("dev", "optional", "bundled"):
            if getattr(node, "in_bundle" if flag == "bundled" else flag):
                entry[flag] = True
        edges = {edge.name: edge.spec for edge in node.edges if edge.type is not DepType.DEV}
        if edges:
            entry["requires"] = edges
    return {
        "name": root.name if root is not None else "",
        "version": root.version if root is not None else "",
        "requires": requires,
        "dependencies": tree,
        "metadata": {"npm_version": "", "node_version": "", "platform": "", "arch": "", "node_env": ""},
    }


def _to_own_code(project: Project, edge: Edge) -> bool:
    target = project.nodes.get(edge.to) if edge.to is not None else None
    return edge.spec.startswith("file:") or (
        target is not None and (target.link_target is not None or not target.location.startswith("node_modules/"))
    )


def _v1_location(location: str, links: Mapping[str, str]) -> str:
    """``packages/a/node_modules/b`` as ``node_modules/a/node_modules/b`` when ``node_modules/a``
    links to ``packages/a``."""
    head, separator, rest = location.partition("/node_modules/")
    if separator and head in links:
        return f"{links[head]}/node_modules/{rest}"
    return location


def _depth(item: tuple[str, Node]) -> int:
    return item[0].count("/node_modules/")


def parse_quick_answer(document: Any) -> dict[str, list[Advisory]]:
    """A quick-audit answer read as npm 7-10 read it (``auditToBulk``): per advisory, only
    ``{id, url, title, severity ('high' when absent), vulnerable_versions ('*' when absent)}`` under
    its ``module_name``; an answer without ``advisories`` is an invalid report."""
    if not isinstance(document, dict) or not isinstance(document.get("advisories"), dict):
        raise SourceError(SOURCE_NAME, "invalid advisory report from the quick-audit endpoint: no 'advisories' object")
    bulk: dict[str, list[dict[str, Any]]] = {}
    for advisory in document["advisories"].values():
        if not isinstance(advisory, dict) or not isinstance(advisory.get("module_name"), str):
            raise SourceError(SOURCE_NAME, "invalid advisory report from the quick-audit endpoint: no module_name")
        bulk.setdefault(advisory["module_name"], []).append(
            {
                "id": advisory.get("id"),
                "url": advisory.get("url"),
                "title": advisory.get("title"),
                "severity": advisory.get("severity") or "high",
                "vulnerable_versions": advisory.get("vulnerable_versions") or "*",
            }
        )
    return parse_bulk_answer(bulk)


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
        *,
        cross_check: AdvisorySource | None = None,
        strict_empty: bool = False,
    ) -> None:
        self.client = client
        self.registry = registry if registry.endswith("/") else registry + "/"
        self.project = project
        self.omit = omit
        self.payload: dict[str, list[str]] | None = None
        self.cross_check = cross_check
        self.strict_empty = strict_empty
        self.notes: list[str] = []  # what the run must say on stderr (fallback, empty reply)

    def prepare(self, project: Project, omit: frozenset[str]) -> NpmBulkSource:
        """A copy that sends npm 11's payload for this project's tree and omitted groups."""
        return NpmBulkSource(
            self.client, self.registry, project, omit, cross_check=self.cross_check, strict_empty=self.strict_empty
        )

    def info(self) -> SourceInfo:
        return SourceInfo(self.kind, redact_url(self.registry + BULK_PATH), warnings=tuple(self.notes))

    def advisories_for(self, packages: Collection[PackageRef]) -> Mapping[str, Sequence[Advisory]]:
        payload = bulk_payload(self.project, self.omit) if self.project is not None else payload_from_refs(packages)
        self.payload = payload
        if not payload:
            return {}  # npm makes no request either when nothing is left to audit
        self.notes = []
        try:
            document = self.client.post_json(self.registry + BULK_PATH, payload, gzip_body=True, headers=_HEADERS)
            found = parse_bulk_answer(document)
        except SourceError as bulk_error:
            if self.project is None:
                raise  # the quick-audit body is a whole tree: there is none without a project
            found = self._quick(bulk_error)
        if not found and self.cross_check is not None:
            self._check_empty(payload)
        return found

    def _quick(self, bulk_error: SourceError) -> dict[str, list[Advisory]]:
        assert self.project is not None
        quick_url = redact_url(self.registry + QUICK_PATH)
        try:
            document = self.client.post_json(
                self.registry + QUICK_PATH, quick_payload(self.project), gzip_body=True, headers=_HEADERS
            )
            found = parse_quick_answer(document)
        except SourceError as quick_error:
            raise SourceError(
                SOURCE_NAME,
                f"the bulk advisory endpoint failed ({bulk_error.reason}) and so did the quick-audit fallback "
                f"{quick_url} ({quick_error.reason})",
            ) from None
        self.notes.append(
            f"warning: {SOURCE_NAME}: the bulk advisory endpoint failed ({bulk_error.reason}); "
            f"used the quick-audit endpoint {quick_url} instead, as npm <= 10 did"
        )
        return found

    def _check_empty(self, payload: Mapping[str, Sequence[str]]) -> None:
        """No advisory for the whole tree: does the local store know GitHub advisories that affect it?"""
        assert self.cross_check is not None
        refs = [PackageRef(name, version) for name, versions in payload.items() for version in versions]
        known = self.cross_check.advisories_for(refs)
        affected: dict[str, str] = {}
        for ref in refs:
            for advisory in known.get(ref.name, ()):
                ghsa = next((i for i in sorted(advisory.ids) if i.startswith("GHSA-")), None)
                if ghsa is not None and affects(advisory, ref.name, ref.version):
                    affected.setdefault(ghsa, f"{ref.name}@{ref.version}")
        if not affected:
            return
        examples = ", ".join(f"{ghsa} ({ref})" for ghsa, ref in list(affected.items())[:EMPTY_EXAMPLES])
        message = (
            f"{redact_url(self.registry)} answered no advisory for the whole tree, but the local advisory store "
            f"knows {len(affected)} GitHub advisories affecting installed versions, e.g. {examples}: the "
            "registry's audit endpoint may have no advisory data (some proxies answer an empty report)"
        )
        if self.strict_empty:
            raise SourceError(SOURCE_NAME, message + " (--registry-empty-error)")
        self.notes.append(f"warning: {SOURCE_NAME}: {message}; --registry-empty-error makes this an error")
