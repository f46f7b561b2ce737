"""``POST /-/npm/v1/security/audits/quick`` (and npm 6's ``/audits``): the full-tree quick audit.

npm 6 sends its v1 lockfile tree; npm 7-10 send the same shape when the bulk request failed
(docs: the quick-audit fallback): ``{name, version, requires, dependencies, metadata}`` where
``dependencies`` nests ``{name: {version, dev, optional, bundled, requires, dependencies}}`` as
npm's v1 lockfile does. The answer is npm 6's report:

* ``advisories``: ``{key: {id, title, module_name, vulnerable_versions, severity, url, findings,
  ...}}``, one per record and package that affects an installed version. ``id``, ``url``,
  ``title``, ``severity`` and ``vulnerable_versions`` come from the same conversion as the bulk
  endpoint's (:func:`npmaudit.npm_report.bulk.bulk_entries`), so npm 7-10, which keep only those
  five fields, test exactly what they would from the bulk answer. When one record affects several
  packages of the tree, the second package's advisory gets its own number (derived from the record
  id and the package name): the report is keyed by number, and npm 6 looks resolves up by it.
  ``findings`` lists each affected version with its dependency paths (``a>b>c``, the shortest
  path through the tree's ``requires``; one path per installed copy, which keeps the answer
  bounded on large trees);
* ``actions``: what npm 6 offers to run, where the tree alone tells it: ``update`` when the
  record's first fixed version satisfies the range the dependent requires, ``install`` for a direct
  dependency whose fix lies outside its range (``isMajor`` when the major version changes),
  ``review`` otherwise (no fix, or one that needs another version of a dependent: that needs the
  registry's packuments, which this server does not have);
* ``metadata``: vulnerable paths counted by severity and the tree's dependency counts;
  ``muted`` is empty.

A request with requirements but no tree (what npm 9-10 send unless ``lockfile-version`` is 1 or
2: they commit the tree as lockfile v3, which has no ``dependencies``) is refused with 400 rather
than answered with an empty report. Versions that are not registry versions (git, ``file:`` and
remote specs) are not matched, and names npm 6 scrubbed to hashes match nothing, as on the registry.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from npmaudit import semver
from npmaudit.advisories.matching import affects, fixed_versions
from npmaudit.advisories.model import Advisory
from npmaudit.advisories.store import AdvisoryStore
from npmaudit.npm_report.bulk import bulk_entries, npm_advisory_id
from npmaudit.records import field, record_class
from npmaudit.serve.wire import ClientError

SEVERITIES = ("info", "low", "moderate", "high", "critical")


@record_class
class TreeNode:
    key: str  # the name the tree lists it under (an alias for npm: specs)
    name: str  # the real package name
    version: str  # the registry version, "" when it is not one
    parent: int  # index of the physical parent, -1 for the root
    dev: bool = False
    optional: bool = False
    bundled: bool = False
    requires: dict[str, str] = field(default_factory=dict)
    children: dict[str, int] = field(default_factory=dict)


@record_class(frozen=True)
class QuickTree:
    root_requires: dict[str, str]
    nodes: list[TreeNode]  # index 0 is the root


def parse_tree(document: Any) -> QuickTree:
    """The tree of a quick-audit body (400 for a wrong shape)."""
    if not isinstance(document, dict):
        raise ClientError(400, "the audit request must be a JSON object (npm's lockfile tree)")
    root_requires = _requires(document.get("requires"), "requires")
    if root_requires and not document.get("dependencies"):
        # npm 9-10 commit the tree as lockfile v3, which has no `dependencies`: their fallback sends
        # only the root's requirements. Answering "no advisories" to that would be a silent pass.
        raise ClientError(
            400,
            "the audit request holds no dependency tree, only the root's requirements (npm 9-10 send the tree "
            "only with lockfile-version=2: `npm audit --lockfile-version=2`; npm 11 uses the bulk endpoint)",
        )
    root = TreeNode("", "", "", -1, requires=root_requires)
    nodes = [root]
    pending: deque[tuple[int, Any, str]] = deque([(0, document.get("dependencies"), "dependencies")])
    while pending:
        parent, dependencies, where = pending.popleft()
        if dependencies is None:
            continue
        if not isinstance(dependencies, dict):
            raise ClientError(400, f"{where} must be an object")
        for key, entry in sorted(dependencies.items()):  # the answer must not depend on key order
            if not isinstance(key, str) or not key:
                raise ClientError(400, f"{where}: an entry has an empty name")
            here = f"{where}.{key}"[:200]
            if not isinstance(entry, dict):
                raise ClientError(400, f"{here} must be an object")
            name, version = _real_name_version(key, entry.get("version"), here)
            node = TreeNode(
                key,
                name,
                version,
                parent,
                dev=entry.get("dev") is True,
                optional=entry.get("optional") is True,
                bundled=entry.get("bundled") is True,
                requires=_requires(entry.get("requires"), f"{here}.requires"),
            )
            nodes[parent].children[key] = len(nodes)
            nodes.append(node)
            pending.append((len(nodes) - 1, entry.get("dependencies"), f"{here}.dependencies"))
    return QuickTree(root_requires, nodes)


def _requires(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, bool):  # npm 6 writes `requires: true` at the top of a v1 lockfile
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ClientError(400, f"{where} must be an object of name: version range")
    return value


def _real_name_version(key: str, version: Any, where: str) -> tuple[str, str]:
    if version is None:
        return key, ""
    if not isinstance(version, str):
        raise ClientError(400, f"{where}.version must be a string")
    if version.startswith("npm:"):  # an alias: "npm:real-name@1.2.3"
        spec = version[4:]
        at = spec.rfind("@")
        if at > 0:
            return spec[:at], _registry_version(spec[at + 1 :])
        return key, ""
    return key, _registry_version(version)


def _registry_version(text: str) -> str:
    return text if semver.parse_version(text, loose=True) is not None else ""


def logical_paths(tree: QuickTree) -> list[list[str]]:
    """For every node, the shortest dependency path from the root through ``requires`` (npm
    resolves a name from the requiring node's folder upwards); nodes no path reaches keep their
    folder path."""
    nodes = tree.nodes
    paths: list[list[str] | None] = [None] * len(nodes)
    paths[0] = []
    queue: deque[int] = deque([0])
    while queue:
        index = queue.popleft()
        base = paths[index] or []
        for name in sorted(nodes[index].requires):
            target = _resolve(nodes, index, name)
            if target is not None and paths[target] is None:
                paths[target] = [*base, nodes[target].key]
                queue.append(target)
    result: list[list[str]] = []
    for index, found in enumerate(paths):
        if found is None:
            chain: list[str] = []
            cursor = index
            while cursor > 0:
                chain.append(nodes[cursor].key)
                cursor = nodes[cursor].parent
            found = chain[::-1]
        result.append(found)
    return result


def _resolve(nodes: list[TreeNode], start: int, name: str) -> int | None:
    cursor = start
    while cursor >= 0:
        child = nodes[cursor].children.get(name)
        if child is not None:
            return child
        cursor = nodes[cursor].parent
    return None


@record_class
class _Hit:
    node: int
    path: list[str]


def quick_answer(store: AdvisoryStore, document: Any) -> dict[str, Any]:
    tree = parse_tree(document)
    names = sorted({n.name for n in tree.nodes[1:] if n.version})
    found = store.lookup(names) if names else {}
    return quick_report(tree, found)


def quick_report(tree: QuickTree, found: Mapping[str, list[Advisory]]) -> dict[str, Any]:
    paths = logical_paths(tree)
    nodes = tree.nodes
    hits: dict[tuple[str, str], list[_Hit]] = {}  # (record id, package) -> affected nodes
    records: dict[str, Advisory] = {}
    for index, node in enumerate(nodes):
        if index == 0 or not node.version:
            continue
        for advisory in found.get(node.name, ()):
            if affects(advisory, node.name, node.version):
                records[advisory.id] = advisory
                hits.setdefault((advisory.id, node.name), []).append(_Hit(index, paths[index]))
    advisories: dict[str, dict[str, Any]] = {}
    numbers: dict[tuple[str, str], int] = {}
    for (record_id, name), affected in hits.items():
        entry = _bulk_entry(records[record_id], name)
        if entry is None:
            continue
        number = entry["id"]
        if str(number) in advisories:  # one record, a second package: a number of its own
            number = npm_advisory_id(f"{record_id} {name}")
        numbers[(record_id, name)] = number
        advisories[str(number)] = _advisory(records[record_id], name, entry, number, affected, nodes)
    actions = _actions(tree, found, hits, numbers, records)
    return {
        "actions": actions,
        "advisories": advisories,
        "muted": [],
        "metadata": _metadata(nodes, advisories),
    }


def _bulk_entry(advisory: Advisory, name: str) -> dict[str, Any] | None:
    for entry_name, entry in bulk_entries(advisory):
        if entry_name == name:
            return entry
    return None


def _advisory(
    advisory: Advisory,
    name: str,
    entry: dict[str, Any],
    number: int,
    affected: list[_Hit],
    nodes: list[TreeNode],
) -> dict[str, Any]:
    by_version: dict[str, list[str]] = {}
    for hit in affected:
        by_version.setdefault(nodes[hit.node].version, []).append(">".join(hit.path))
    record = advisory.record
    references = [r.get("url") for r in record.get("references") or () if isinstance(r, dict)]
    fixes = _fixes(advisory, name)
    return {
        "id": number,
        "title": entry["title"],
        "module_name": name,
        "vulnerable_versions": entry["vulnerable_versions"],
        "patched_versions": f">={fixes[-1]}" if fixes and not _open_ended(advisory, name) else "<0.0.0",
        "severity": entry["severity"],
        "url": entry["url"],
        "cwe": entry["cwe"][0] if entry["cwe"] else "",
        "cves": [alias for alias in advisory.aliases if alias.startswith("CVE-")],
        "overview": record.get("details") if isinstance(record.get("details"), str) else "",
        "recommendation": f"Upgrade to version {fixes[-1]} or later" if fixes else "None",
        "references": "\n".join(f"- {url}" for url in references if isinstance(url, str)),
        "access": "public",
        "created": record.get("published") if isinstance(record.get("published"), str) else advisory.modified,
        "updated": advisory.modified,
        "deleted": None,
        "found_by": {"name": ""},
        "reported_by": {"name": ""},
        "metadata": {"module_type": "", "exploitability": 0, "affected_components": ""},
        "findings": [
            {"version": version, "paths": sorted(by_version[version])}
            for version in semver.sort_versions(list(by_version), loose=True)
        ],
    }


def _fixes(advisory: Advisory, name: str) -> list[str]:
    found = {
        event.version
        for entry in advisory.affected
        if entry.name == name
        for rng in entry.ranges
        for event in rng.events
        if event.kind == "fixed"
    }
    return semver.sort_versions(list(found), loose=True)


def _open_ended(advisory: Advisory, name: str) -> bool:
    """Some range of the package is never closed (every version from some point on is affected)."""
    for entry in advisory.affected:
        if entry.name != name:
            continue
        if entry.npm_range is not None or (not entry.ranges and not entry.versions):
            return True
        for rng in entry.ranges:
            if rng.events and rng.events[-1].kind == "introduced":
                return True
    return False


def _actions(
    tree: QuickTree,
    found: Mapping[str, list[Advisory]],
    hits: Mapping[tuple[str, str], list[_Hit]],
    numbers: Mapping[tuple[str, str], int],
    records: Mapping[str, Advisory],
) -> list[dict[str, Any]]:
    nodes = tree.nodes
    by_node: dict[int, list[tuple[str, _Hit]]] = {}
    for (record_id, name), affected in hits.items():
        if (record_id, name) in numbers:
            for hit in affected:
                by_node.setdefault(hit.node, []).append((record_id, hit))
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for index, pairs in by_node.items():
        node = nodes[index]
        path = pairs[0][1].path
        action = _action_for(tree, found, node, path, [records[r] for r, _ in pairs])
        key = tuple(sorted((k, str(v)) for k, v in action.items()))
        target = grouped.setdefault(key, {**action, "resolves": []})
        for record_id, hit in pairs:
            target["resolves"].append(
                {
                    "id": numbers[(record_id, node.name)],
                    "path": ">".join(hit.path),
                    "dev": node.dev,
                    "optional": node.optional,
                    "bundled": node.bundled,
                }
            )
    # The same tree sent with its keys in another order gets the same answer.
    for action in grouped.values():
        action["resolves"].sort(key=lambda r: (r["path"], r["id"]))
    return sorted(
        grouped.values(), key=lambda a: (a["module"], a["action"], str(a.get("target")), a["resolves"][0]["path"])
    )


def _action_for(
    tree: QuickTree, found: Mapping[str, list[Advisory]], node: TreeNode, path: list[str], advisories: list[Advisory]
) -> dict[str, Any]:
    review = {"action": "review", "module": node.name}
    targets = []
    for advisory in advisories:
        fixes = fixed_versions(advisory, node.name, node.version)
        if not fixes:
            return review
        targets.append(fixes[0])
    target = semver.sort_versions(targets, loose=True)[-1]
    if any(affects(a, node.name, target) for a in found.get(node.name, ())):
        return review
    requirer_spec = _requirer_spec(tree, path, node)
    if requirer_spec is not None and semver.satisfies(target, requirer_spec, loose=True):
        return {"action": "update", "module": node.name, "target": target, "depth": len(path)}
    if len(path) == 1:
        major = semver.parse_version(target, loose=True)
        current = semver.parse_version(node.version, loose=True)
        is_major = major is not None and current is not None and major.major != current.major
        return {"action": "install", "module": node.name, "target": target, "isMajor": is_major}
    return review


def _requirer_spec(tree: QuickTree, path: list[str], node: TreeNode) -> str | None:
    """The range the package's dependent on ``path`` requires it by."""
    if len(path) == 1:
        return tree.root_requires.get(node.key)
    requirer: int | None = 0
    for key in path[:-1]:
        requirer = _resolve(tree.nodes, requirer, key) if requirer is not None else None
    if requirer is None:
        return None
    spec = tree.nodes[requirer].requires.get(node.key)
    if spec is not None and spec.startswith("npm:"):
        return spec.rsplit("@", 1)[-1]
    return spec


def _metadata(nodes: list[TreeNode], advisories: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for advisory in advisories.values():
        paths = sum(len(finding["paths"]) for finding in advisory["findings"])
        counts[advisory["severity"] if advisory["severity"] in counts else "high"] += paths
    packages = nodes[1:]
    return {
        "vulnerabilities": counts,
        "dependencies": sum(1 for n in packages if not n.dev),
        "devDependencies": sum(1 for n in packages if n.dev),
        "optionalDependencies": sum(1 for n in packages if n.optional),
        "totalDependencies": len(packages),
    }
