"""npm's audit report (arborist's ``AuditReport``, npm 11): the ``npm audit --json`` document.

The walk is npm's, quirks included, because users compare our output with npm's:

* advisories are processed in response order (package names in inventory order, each package's
  advisories in source order); metavulns found on the way are appended and processed too;
* a node already flagged for a package is not looked at again for that package's later
  advisories, so its dependents only inherit the severity of the first advisory that flagged it;
* ``fixAvailable`` is computed for each edge from a top node (root, workspace, any folder outside
  node_modules) and pushed down through ``via`` after the loop.

npm resolves metavuln calculations in promise order, which depends on network timing. We pick the
deterministic order closest to it: calculations already done resolve first (in edge order), then
new ones whose packument is in memory, then new ones needing a fetch (each in edge order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from npmaudit.advisories.model import Advisory
from npmaudit.npm_report.bulk import bulk_index
from npmaudit.npm_report.calculator import Calculator, NpmAdvisory
from npmaudit.npm_report.collation import collation_key
from npmaudit.npm_report.tree import AuditTree, TreeNode, build_tree, should_audit
from npmaudit.npm_report.vuln import FixAvailable, Vuln, registry_subspec
from npmaudit.progress import Progress, no_progress
from npmaudit.project.model import Project
from npmaudit.records import field, record_class
from npmaudit.registry.pick_manifest import Engines, NoMatchingVersion, pick_manifest

if TYPE_CHECKING:
    from npmaudit.registry.packuments import Refusal

PackumentGetter = Callable[[str], "dict[str, Any] | None"]
PACKUMENTS_TASK = "packuments"


@record_class
class NpmReport:
    """The computed report: ``document`` is what ``npm audit --json`` prints; ``unavailable``
    names the packages whose packument could not be had (offline and not cached): their
    meta-vulnerabilities and fixes could not be evaluated (npm treats them as having no versions)."""

    document: dict[str, Any]
    unavailable: tuple[str, ...] = ()
    top_vulns: tuple[str, ...] = field(default_factory=tuple)
    refused: tuple[Refusal, ...] = ()
    """Packuments the registry refused (401, 403, ...): read as npm reads them (no versions), but
    nobody looked, so the report may differ from the one the packages deserve."""

    def unavailable_message(self, *, offline: bool = True) -> str | None:
        """The line to show when packuments were missing: not cached (``--offline`` with a cold
        cache), or, online, a registry that has no such package (404: a git or unpublished one)."""
        if not self.unavailable:
            return None
        names = ", ".join(self.unavailable)
        count = len(self.unavailable)
        if not offline:
            return (
                f"the registry has no packument for {count} package(s) (HTTP 404), so their meta-vulnerabilities "
                f"and fixes were evaluated as for a package without published versions, as npm does: {names}"
            )
        return (
            f"no cached packument for {count} package(s), so their meta-vulnerabilities "
            f"and fixes could not be evaluated (treated as having no published versions, as npm does): {names}"
        )

    def refused_message(self) -> str | None:
        """One line naming the refused packuments, grouped by registry and status (no credentials)."""
        if not self.refused:
            return None
        groups: dict[tuple[int, str], list[str]] = {}
        for refusal in self.refused:
            names = groups.setdefault((refusal.status, refusal.registry), [])
            if refusal.name not in names:
                names.append(refusal.name)
        parts = "; ".join(
            f"HTTP {status} from {registry}: {', '.join(sorted(names))}" for (status, registry), names in groups.items()
        )
        count = sum(len(names) for names in groups.values())
        return (
            f"{count} package(s) not looked up, the registry refused their packuments ({parts}): npm's report "
            "reads them as having no published versions, as npm does, so their meta-vulnerabilities and fixes "
            "may be wrong"
        )


def build_npm_report(
    project: Project,
    advisories: Iterable[Advisory],
    packuments: PackumentGetter,
    omit: frozenset[str] = frozenset(),
    *,
    engines: Engines | None = None,
    progress: Progress = no_progress,
) -> NpmReport:
    """Compute npm's report for a project and advisories (from any source, in source order).

    ``packuments(name)`` returns the (abbreviated) packument or None when it is not available. Each
    is asked for once; the count goes to ``progress`` as task ``"packuments"`` (the total is known
    only at the end: a fetch can reveal more dependents to evaluate).
    """
    tree = build_tree(project)
    unavailable: list[str] = []
    asked = 0

    def tracked(name: str) -> dict[str, Any] | None:
        nonlocal asked
        found = packuments(name) if name else None
        if found is None and name:
            unavailable.append(name)
        asked += 1
        progress(PACKUMENTS_TASK, asked, None)
        return found

    walk = _ReportWalk(tree, Calculator(tracked), omit, engines or Engines())
    walk.run(bulk_index(advisories))
    progress(PACKUMENTS_TASK, asked, asked)
    return NpmReport(walk.to_json(), tuple(sorted(set(unavailable))), tuple(walk.top_vulns))


class _ReportWalk:
    def __init__(self, tree: AuditTree, calculator: Calculator, omit: frozenset[str], engines: Engines) -> None:
        self.tree = tree
        self.calculator = calculator
        self.omit = omit
        self.engines = engines
        self.vulns: dict[str, Vuln] = {}
        self.top_vulns: dict[str, Vuln] = {}

    def payload(self) -> list[str]:
        """Package names of the bulk request, in inventory order (first occurrence)."""
        return [
            name
            for name, nodes in self.tree.by_name.items()
            if any(should_audit(self.tree, n, self.omit) for n in nodes)
        ]

    def run(self, index: dict[str, list[dict[str, Any]]]) -> None:
        names = self.payload()
        if not names:
            return
        ordered: list[NpmAdvisory] = []
        in_set: set[int] = set()
        for name in names:
            for bulk in index.get(name, ()):
                advisory = self.calculator.calculate(name, dict(bulk))
                if id(advisory) not in in_set:
                    in_set.add(id(advisory))
                    ordered.append(advisory)
        seen: set[str] = set()
        i = 0
        while i < len(ordered):
            advisory = ordered[i]
            i += 1
            self._process(advisory, seen, ordered, in_set)
        for vuln in self.vulns.values():
            for advisory in list(vuln.advisories.values()):
                if advisory.type == "metavuln":
                    vuln.add_via(self.vulns[advisory.dependency])

    def _process(self, advisory: NpmAdvisory, seen: set[str], ordered: list[NpmAdvisory], in_set: set[int]) -> None:
        name = advisory.name
        key = f"{name}@{advisory.range}"
        vuln = self.vulns.get(name)
        if vuln is None:
            vuln = Vuln(name, advisory)
        else:
            vuln.add_advisory(advisory)
        self.vulns[name] = vuln
        if key not in seen:
            ready: list[tuple[NpmAdvisory, TreeNode, str]] = []
            fresh: list[tuple[TreeNode, str]] = []
            for node in self.tree.by_name.get(name, ()):
                if not should_audit(self.tree, node, self.omit):
                    continue
                if not advisory.test_version(node.version):
                    continue
                if id(node) in vuln.nodes:
                    continue
                vuln.nodes[id(node)] = node
                for dependent, spec in node.edges_in:
                    if dependent.is_top and id(dependent) not in vuln.top_nodes:
                        vuln.fix_available = self._fix_available(vuln, spec)
                        if vuln.fix_available is not True:
                            self.top_vulns[vuln.name] = vuln
                            vuln.top_nodes.add(id(dependent))
                    else:  # npm's else: a top node already seen also gets a (useless) metavuln
                        if self.calculator.is_calculated(dependent.package_name, advisory):
                            meta = self.calculator.calculate(dependent.package_name, advisory)
                            ready.append((meta, dependent, spec))
                        else:
                            fresh.append((dependent, spec))
            # New calculations resolve after the memoised ones; those whose packument is already
            # in memory (only a cache lookup to wait for) before those that need a fetch.
            fresh.sort(key=lambda item: not self.calculator.has_packument(item[0].package_name))
            resolved = ready + [
                (self.calculator.calculate(dependent.package_name, advisory), dependent, spec)
                for dependent, spec in fresh
            ]
            for meta, dependent, spec in resolved:
                if meta.test_version(dependent.version or "undefined", spec) and id(meta) not in in_set:
                    in_set.add(id(meta))
                    ordered.append(meta)
            seen.add(key)
        current = self.vulns[name]
        if not current.nodes:
            del self.vulns[name]
            return
        for other in list(vuln.advisories.values()):
            if not any(other.test_version(n.version) for n in vuln.nodes.values()):
                vuln.delete_advisory(other)

    def _fix_available(self, vuln: Vuln, spec: str) -> FixAvailable:
        if not vuln.test_spec(spec):
            return True
        wanted = registry_subspec(spec)
        if wanted is None:
            return False
        try:
            picked = pick_manifest(vuln.packument, wanted, avoid=vuln.range or None, engines=self.engines)
        except NoMatchingVersion:
            return False
        fix: dict[str, Any] = {}
        if "name" in picked:
            fix["name"] = picked["name"]
        if "version" in picked:
            fix["version"] = picked["version"]
        if "_isSemVerMajor" in picked:
            fix["isSemVerMajor"] = picked["_isSemVerMajor"]
        return fix

    def to_json(self) -> dict[str, Any]:
        counts = {"info": 0, "low": 0, "moderate": 0, "high": 0, "critical": 0, "total": len(self.vulns)}
        dependencies = {
            "prod": 0,
            "dev": 0,
            "optional": 0,
            "peer": 0,
            "peerOptional": 0,
            "total": len(self.tree.nodes) - 1,
        }
        for tree_node in self.tree.nodes:
            node = tree_node.node
            flags = (("dev", node.dev), ("optional", node.optional), ("peer", node.peer))
            prod = True
            for flag, value in flags:
                if value:
                    dependencies[flag] += 1
                    prod = False
            if prod:
                dependencies["prod"] += 1
        entries = []
        for name, vuln in self.vulns.items():
            entries.append((name, vuln.to_json()))
            severity = vuln.severity or "null"
            counts[severity] = counts.get(severity, 0) + 1
        entries.sort(key=lambda item: collation_key(item[0]))
        return {
            "auditReportVersion": 2,
            "vulnerabilities": dict(entries),
            "metadata": {"vulnerabilities": counts, "dependencies": dependencies},
        }
