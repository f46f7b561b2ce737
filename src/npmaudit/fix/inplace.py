"""The in-place strategy: change vulnerable nodes to safe versions inside the ranges that lead to them.

For each vulnerable node (shallowest first, so a parent's update can carry its children along):

1. Every incoming edge must stay valid: the candidates are the versions that satisfy all of their
   specs and are affected by no advisory, newest first (not deprecated before deprecated). An
   older safe version in range is a candidate too: npm ≤ 11.1x never picks one (npm/cli #3472).
2. A candidate's own dependencies are resolved against the tree as node would resolve them from
   the node's location: an existing node that satisfies the spec is reused; otherwise a new node
   (the newest safe version in the spec) is placed by npm's rule: walking up from the dependent,
   the shallowest folder where nothing of that name is in the way and no node below would now
   resolve to a version it does not accept; an existing node in the way is replaced only when
   the new version satisfies all of its dependents. A version whose dependencies cannot be placed
   safely is skipped (the fix never introduces a vulnerable package).
3. When an edge's range forbids every safe version, the dependent is updated instead, within its
   own dependents' ranges, to a version whose range admits a safe one (npm's meta-vulnerability
   fix), recursively up the chain. A direct dependency (of the root or a workspace) is only
   moved outside its range with ``force``: its new range (save prefix + version) is recorded as a
   manifest change.
4. Nodes nothing reaches any more are removed (never the project's own folders, never nodes that
   were already extraneous before the fix).

Bundled nodes come inside their bundler's tarball and cannot be changed; packages not from the
registry (git, tarballs, folders) are left alone; both are reported with their reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from npmaudit import semver
from npmaudit.fix.model import Outcome, Reason
from npmaudit.fix.safety import Safety
from npmaudit.fix.tree import Dep, Tree, TreeNode, child_location, registry_spec, spec_allows
from npmaudit.progress import Progress, no_progress
from npmaudit.project.model import DepType, PackageRef, SourceKind
from npmaudit.project.readers.npm.spec import SpecType, spec_type
from npmaudit.records import record_class, replace
from npmaudit.registry.packuments import PackumentProvider

MAX_DEPTH = 32  # new nodes placed below one change: deeper means a dependency cycle gone wrong
MAX_META_DEPTH = 4  # dependents updated above a blocked edge


@record_class(frozen=True)
class ForcedRange:
    """A direct dependency's range moved outside itself (``--force``)."""

    top: str  # "" for the root, else the workspace folder
    name: str
    old: str
    new: str
    breaking: bool


@record_class
class _Failure:
    reason: Reason
    detail: str = ""


def manifest_deps(manifest: Mapping[str, Any]) -> tuple[Dep, ...]:
    """A published manifest's dependency edges with arborist's precedence (optional over prod over peer)."""
    edges: dict[str, Dep] = {}
    peers = _string_map(manifest.get("peerDependencies"))
    meta = manifest.get("peerDependenciesMeta")
    meta = meta if isinstance(meta, dict) else {}
    for name, spec in peers.items():
        entry = meta.get(name)
        optional = isinstance(entry, dict) and bool(entry.get("optional"))
        edges[name] = Dep(name, spec, DepType.PEER_OPTIONAL if optional else DepType.PEER)
    for name, spec in _string_map(manifest.get("dependencies")).items():
        edges[name] = Dep(name, spec, DepType.PROD)
    for name, spec in _string_map(manifest.get("optionalDependencies")).items():
        edges[name] = Dep(name, spec, DepType.OPTIONAL)
    return tuple(edges.values())


def bundles(manifest: Mapping[str, Any]) -> bool:
    """Whether a version ships dependencies inside its tarball (their entries cannot be known here)."""
    found = manifest.get("bundleDependencies", manifest.get("bundledDependencies"))
    return bool(found)


def _string_map(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def dependency_spec(manifest: Mapping[str, Any], name: str) -> str | None:
    for dep in manifest_deps(manifest):
        if dep.name == name:
            return dep.spec
    return None


class InPlacePlanner:
    def __init__(
        self,
        tree: Tree,
        packuments: PackumentProvider,
        safety: Safety,
        *,
        force: bool = False,
        save_prefix: str = "^",
        excluded: Iterable[str] = (),
        progress: Progress = no_progress,
    ) -> None:
        self.tree = tree
        self.initial = tree.copy()
        self.extraneous = set(tree.nodes) - tree.reachable()
        self.packuments = packuments
        self.safety = safety
        self.force = force
        self.save_prefix = save_prefix
        self.excluded = set(excluded)
        self.progress = progress
        self.forced: dict[tuple[str, str], ForcedRange] = {}
        self.attribution: dict[str, str] = {}
        """Changed or added location -> the vulnerable node whose fix changed it last."""
        self._documents: dict[str, dict[str, Any] | None] = {}
        self._versions: dict[str, list[str]] = {}
        self._safe: dict[str, list[str]] = {}

    # -- registry data ------------------------------------------------------------------------

    def packument(self, name: str) -> dict[str, Any] | None:
        if name not in self._documents:
            self._documents[name] = self.packuments(name)
        return self._documents[name]

    def versions(self, name: str) -> list[str]:
        """Published versions (valid semver), newest first."""
        if name not in self._versions:
            document = self.packument(name) or {}
            found = [v for v in (document.get("versions") or {}) if semver.valid(v) is not None]
            self._versions[name] = semver.rsort_versions(found)
        return self._versions[name]

    def manifest(self, name: str, version: str) -> dict[str, Any]:
        document = self.packument(name) or {}
        found = (document.get("versions") or {}).get(version)
        return found if isinstance(found, dict) else {}

    def safe_versions(self, name: str) -> list[str]:
        """Every safe version, newest first, versions that are not deprecated before those that are."""
        if name not in self._safe:
            versions = self.versions(name)
            self.safety.prefetch(PackageRef(name, v) for v in versions)
            safe = [v for v in versions if self.safety.is_safe(name, v)]
            self._safe[name] = self._prefer_maintained(name, safe)
        return self._safe[name]

    def _prefer_maintained(self, name: str, versions: list[str]) -> list[str]:
        return sorted(versions, key=lambda v: bool(self.manifest(name, v).get("deprecated")))

    def is_safe(self, node: TreeNode) -> bool:
        return self.safety.is_safe(node.name, node.version)

    # -- the plan -----------------------------------------------------------------------------

    def run(self, targets: Iterable[str]) -> list[Outcome]:
        ordered = sorted(set(targets), key=lambda loc: (loc.count("node_modules/"), loc))
        results: dict[str, Outcome] = {}
        for done, location in enumerate(ordered):
            self.progress("planning fixes", done, len(ordered))
            node = self.tree.nodes.get(location)
            if location in self.excluded:
                original = self.initial.nodes[location]
                results[location] = Outcome(
                    location, original.name, original.version, False, reason=Reason.INTRODUCES_FINDINGS
                )
                continue
            original = self.initial.nodes[location]
            if node is None or node.name != original.name or (node.version != original.version and self.is_safe(node)):
                continue  # an earlier change already fixed or removed it: judged below
            before = dict(self.tree.nodes)
            results[location] = self.fix_node(location)
            for changed, now in self.tree.nodes.items():
                if before.get(changed) is not now:
                    self.attribution[changed] = location
        self.progress("planning fixes", len(ordered), len(ordered))
        outcomes = []
        for location in ordered:
            if location in results:
                outcomes.append(results[location])
                continue
            original = self.initial.nodes[location]
            current = self.tree.nodes.get(location)
            if current is None or current.name != original.name:
                outcomes.append(Outcome(location, original.name, original.version, True, detail="no longer needed"))
            elif self.is_safe(current):
                outcomes.append(Outcome(location, original.name, original.version, True, current.version))
            else:
                outcomes.append(
                    Outcome(location, original.name, original.version, False, reason=Reason.BLOCKED_BY_RANGE)
                )
        return outcomes

    def fix_node(self, location: str) -> Outcome:
        node = self.tree.nodes[location]
        if self.is_safe(node):
            return Outcome(location, node.name, node.version, True, node.version, detail="already safe")
        failure = self._fix(location)
        now = self.tree.nodes.get(location)
        if failure is None:
            if now is None or now.name != node.name:
                return Outcome(location, node.name, node.version, True, detail="no longer needed")
            return Outcome(location, node.name, node.version, True, now.version)
        return Outcome(location, node.name, node.version, False, reason=failure.reason, detail=failure.detail)

    def _fix(self, location: str) -> _Failure | None:
        node = self.tree.nodes[location]
        if node.in_bundle:
            bundler = self._bundler(location)
            return _Failure(Reason.BUNDLED, f"bundled by {bundler}" if bundler else "")
        if not node.is_registry:
            return _Failure(Reason.NOT_FROM_REGISTRY, f"installed from {node.source.value}")
        if self.packument(node.name) is None:
            return _Failure(Reason.NO_PACKUMENT)
        safe = self.safe_versions(node.name)
        if not safe:
            return _Failure(Reason.NO_SAFE_VERSION, f"every published version of {node.name} is affected")
        failure = self._in_range(location, safe)
        if failure is None:
            return None
        blocking = [
            (source, dep)
            for source, dep in self.tree.incoming(location)
            if not any(spec_allows(dep.spec, node.name, v) for v in safe)
        ]
        if not blocking:
            return failure
        outcome: list[_Failure] = []

        def unblock_all() -> bool:
            for source, dep in blocking:
                problem = self._unblock(source, dep, node.name, safe, 0)
                if problem is not None:
                    outcome.append(problem)
                    return False
            now = self.tree.nodes.get(location)
            if now is None or now.name != node.name or self.is_safe(now):
                return True
            return self._in_range(location, self.safe_versions(node.name)) is None

        if self._attempt(unblock_all):
            return None
        return outcome[0] if outcome else failure

    def _bundler(self, location: str) -> str:
        for level in self.tree.chain(location):
            node = self.tree.nodes.get(level)
            if level != location and node is not None and not node.in_bundle:
                return f"{node.name}@{node.version}" if level else "the project"
        return ""

    def _in_range(self, location: str, safe: list[str]) -> _Failure | None:
        """Change the node to the best safe version all its incoming edges accept."""
        node = self.tree.nodes[location]
        incoming = self.tree.incoming(location)
        fits = [v for v in safe if all(spec_allows(dep.spec, node.name, v) for _, dep in incoming)]
        if not fits:
            blocked = next(
                ((s, d) for s, d in incoming if not any(spec_allows(d.spec, node.name, v) for v in safe)), None
            )
            if blocked is None:
                return _Failure(Reason.BLOCKED_BY_RANGE, "no safe version satisfies all of its dependents together")
            return _Failure(Reason.BLOCKED_BY_RANGE, self._describe_edge(*blocked))
        for version in fits:
            if self._attempt(lambda v=version: self._replace(location, v)):  # type: ignore[misc]
                return None
        return _Failure(Reason.NOT_PLACEABLE, f"tried {', '.join(fits[:5])}{' ...' if len(fits) > 5 else ''}")

    def _describe_edge(self, source: str, dep: Dep) -> str:
        node = self.tree.nodes[source]
        who = "the project" if source == "" else f"{node.name}@{node.version}" if node.version else source
        return f"{who} requires {dep.name}@{dep.spec!r}"

    def _attempt(self, action: Callable[[], bool]) -> bool:
        """Run ``action`` on the tree; keep its changes (and prune) only when it succeeds."""
        saved = self.tree.copy()
        forced = dict(self.forced)
        if action():
            self._prune()
            return True
        self.tree.restore(saved)
        self.forced = forced
        return False

    def _prune(self) -> None:
        reachable = self.tree.reachable()
        for location in list(self.tree.nodes):
            if location not in reachable and location not in self.extraneous and not self.tree.is_top(location):
                self.tree.remove(location)

    # -- changing one node --------------------------------------------------------------------

    def _replace(self, location: str, version: str) -> bool:
        old = self.tree.nodes[location]
        manifest = self.manifest(old.name, version)
        if not manifest or bundles(manifest):
            return False
        node = replace(
            old, version=version, source=SourceKind.REGISTRY, deps=manifest_deps(manifest), manifest=manifest
        )
        self.tree.put(node)
        return all(self._ensure(location, dep, 0) for dep in node.deps)

    def _ensure(self, location: str, dep: Dep, depth: int) -> bool:
        """Make ``dep`` of the node at ``location`` resolve to a node that satisfies it."""
        found = self.tree.resolve(location, dep.name)
        parsed = registry_spec(dep.spec)
        if parsed is None:
            return found is not None  # git, file, URL: never placed by a fix; an existing one stays
        if found is not None:
            target = self.tree.nodes[found]
            if target.link_target is not None or not target.is_registry:
                return True  # a link (workspace), git or a tarball: kept as it is
            if spec_allows(dep.spec, target.name, target.version):
                return True
        elif dep.type is DepType.PEER_OPTIONAL:
            return True
        if depth > MAX_DEPTH:
            return False
        placed = self._place(location, dep, parsed[0] or dep.name, parsed[1], depth)
        return placed or (found is None and dep.type is DepType.OPTIONAL)

    def pick(self, name: str, wanted: str) -> str | None:
        """npm-pick-manifest over the safe versions: the ``latest`` tag when it fits, else the newest."""
        document = self.packument(name)
        if document is None:
            return None
        tags = document.get("dist-tags") or {}
        if spec_type(wanted) is SpecType.TAG:
            tagged = tags.get(wanted)
            candidates = [tagged] if isinstance(tagged, str) else []
        else:
            candidates = [v for v in self.versions(name) if semver.satisfies(v, wanted, loose=True)]
        if not candidates:
            return None
        self.safety.prefetch(PackageRef(name, v) for v in candidates)
        usable = [
            v
            for v in candidates
            if self.safety.is_safe(name, v) and self.manifest(name, v) and not bundles(self.manifest(name, v))
        ]
        if not usable:
            return None
        latest = tags.get("latest")
        if latest in usable and not self.manifest(name, latest).get("deprecated"):
            return str(latest)
        return self._prefer_maintained(name, usable)[0]

    def _place(self, location: str, dep: Dep, name: str, wanted: str, depth: int) -> bool:
        version = self.pick(name, wanted)
        if version is None:
            return False
        start = location
        if dep.type in (DepType.PEER, DepType.PEER_OPTIONAL):
            start = self.tree.parent(location) or ""  # a peer is installed beside its dependent
        chosen: str | None = None
        for level in self.tree.chain(start):
            holder = self.tree.nodes.get(level)
            if holder is not None and (holder.in_bundle or holder.link_target is not None):
                continue
            here = child_location(level, dep.name)
            existing = self.tree.nodes.get(here)
            if existing is not None:
                if self._can_replace(here, name, version):
                    chosen = here
                break
            if not self._shadow_ok(level, dep.name, name, version):
                break
            chosen = here
        if chosen is None:
            return False
        manifest = self.manifest(name, version)
        node = TreeNode(chosen, name, version, SourceKind.REGISTRY, manifest_deps(manifest), manifest=manifest)
        self.tree.put(node)
        return all(self._ensure(chosen, d, depth + 1) for d in node.deps)

    def _can_replace(self, location: str, name: str, version: str) -> bool:
        existing = self.tree.nodes[location]
        if existing.link_target is not None or existing.in_bundle or not existing.is_registry:
            return False
        return all(spec_allows(dep.spec, name, version) for _, dep in self.tree.incoming(location))

    def _shadow_ok(self, level: str, install: str, name: str, version: str) -> bool:
        """No node below ``level`` that now resolves ``install`` above it (or not at all) would get
        a version it does not accept."""
        for source in self.tree.dependents_named(install):
            chain = list(self.tree.chain(source))
            if level not in chain:
                continue
            found = self.tree.resolve(source, install)
            if found is not None:
                holder = found[: -len(f"node_modules/{install}")].removesuffix("/")
                if holder in chain and chain.index(holder) < chain.index(level):
                    continue  # it resolves below the level: unaffected
            dep = self.tree.nodes[source].dep(install)
            if dep is not None and not spec_allows(dep.spec, name, version):
                return False
        return True

    # -- blocked edges ------------------------------------------------------------------------

    def _unblock(self, source: str, dep: Dep, name: str, acceptable: list[str], depth: int) -> _Failure | None:
        """Make the dependent at ``source`` accept one of ``acceptable`` versions of ``name``."""
        holder = self.tree.nodes[source]
        if self.tree.is_top(source):
            return self._force(source, dep, name, acceptable)
        if not holder.is_registry or holder.in_bundle or depth >= MAX_META_DEPTH:
            return _Failure(Reason.BLOCKED_BY_RANGE, self._describe_edge(source, dep))
        if self.packument(holder.name) is None:
            return _Failure(Reason.BLOCKED_BY_RANGE, self._describe_edge(source, dep))
        helpful = []
        for version in self.safe_versions(holder.name):
            spec = dependency_spec(self.manifest(holder.name, version), dep.name)
            if spec is None or any(spec_allows(spec, name, v) for v in acceptable):
                helpful.append(version)
        if not helpful:
            return _Failure(
                Reason.BLOCKED_BY_RANGE,
                f"{self._describe_edge(source, dep)}, and no safe version of {holder.name} allows a safe {name}",
            )
        incoming = self.tree.incoming(source)
        fits = [v for v in helpful if all(spec_allows(d.spec, holder.name, v) for _, d in incoming)]
        for version in fits:
            if version != holder.version and self._attempt(lambda v=version: self._replace(source, v)):  # type: ignore[misc]
                return None
        # No version of the dependent in its own dependents' ranges helps: go one level up.
        blocking = [(s, d) for s, d in incoming if not any(spec_allows(d.spec, holder.name, v) for v in helpful)]
        if not blocking:
            return _Failure(Reason.BLOCKED_BY_RANGE, self._describe_edge(source, dep))
        problems: list[_Failure] = []

        def lift() -> bool:
            for upper, upper_dep in blocking:
                problem = self._unblock(upper, upper_dep, holder.name, helpful, depth + 1)
                if problem is not None:
                    problems.append(problem)
                    return False
            now = self.tree.nodes.get(source)
            if now is None or now.name != holder.name:
                return True
            current = self.tree.incoming(source)
            for version in helpful:
                if all(spec_allows(d.spec, holder.name, version) for _, d in current) and self._attempt(
                    lambda v=version: self._replace(source, v)  # type: ignore[misc]
                ):
                    return True
            return False

        if self._attempt(lift):
            return None
        return problems[0] if problems else _Failure(Reason.BLOCKED_BY_RANGE, self._describe_edge(source, dep))

    def _force(self, top: str, dep: Dep, name: str, acceptable: list[str]) -> _Failure | None:
        """A direct dependency whose range forbids every acceptable version: a new range, with --force."""
        version = self._force_version(name, acceptable)
        if version is None:
            return _Failure(Reason.BLOCKED_BY_RANGE, self._describe_edge(top, dep))
        parsed = registry_spec(dep.spec)
        if parsed is None:
            return _Failure(Reason.NOT_FROM_REGISTRY, f"the project requires {dep.name}@{dep.spec!r}")
        real, wanted = parsed
        new_range = f"{self.save_prefix}{version}"  # npm saves a forced fix with the save prefix
        if real is not None:
            new_range = f"npm:{real}@{new_range}"
        breaking = not self._within_caret(wanted, version)
        floor = semver.min_version(wanted, loose=True) if semver.valid_range(wanted, loose=True) else None
        if floor is not None and semver.lt(version, floor):
            label = "a downgrade outside the stated range"
        else:
            label = "SemVer major, a breaking change" if breaking else "outside the stated range"
        if not self.force:
            return _Failure(Reason.NEEDS_FORCE, f"--force would update {dep.name} to {version} ({label})")
        holder = self.tree.nodes[top]
        deps = tuple(replace(d, spec=new_range) if d.name == dep.name else d for d in holder.deps)
        self.tree.put(replace(holder, deps=deps))
        previous = self.forced.get((top, dep.name))
        self.forced[(top, dep.name)] = ForcedRange(
            top, dep.name, previous.old if previous else dep.spec, new_range, breaking
        )
        return None

    def _force_version(self, name: str, acceptable: list[str]) -> str | None:
        if not acceptable:
            return None
        latest = ((self.packument(name) or {}).get("dist-tags") or {}).get("latest")
        if latest in acceptable:
            return str(latest)
        stable = [v for v in acceptable if not semver.prerelease(v)]
        return (stable or acceptable)[0]

    @staticmethod
    def _within_caret(wanted: str, version: str) -> bool:
        floor = semver.min_version(wanted, loose=True) if semver.valid_range(wanted, loose=True) else None
        if floor is None:
            return False
        return semver.satisfies(version, f"^{floor}", loose=True)
