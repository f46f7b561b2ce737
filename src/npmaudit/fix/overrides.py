"""The override strategy: tell the package manager which version to resolve, then let it relock.

Every format has one mechanism, written as narrowly as the format allows:

========================  ================================================  ==============================
format                    where                                             key (scope)
========================  ================================================  ==============================
npm (package-lock)        package.json ``overrides``                        ``{"<parent>@<version>": {"<name>": v}}``
yarn classic              package.json ``resolutions``                      ``"<parent>/<name>"``
yarn berry                package.json ``resolutions``                      ``"<parent>/<name>"``
pnpm (< 10)               package.json ``pnpm.overrides``                   ``"<parent>@<version>><name>"``
pnpm 10                   pnpm-workspace.yaml ``overrides``                 ``"<parent>@<version>><name>"``
bun                       package.json ``overrides``                        ``"<name>"`` (bun has no nesting)
========================  ================================================  ==============================

A vulnerable package that the project itself declares (the root or a workspace) gets its range
rewritten instead (a package manager refuses an override that contradicts a direct dependency).
The version is the newest safe one that the dependent's range accepts; when none does, the newest
safe one of the same major, else the newest safe one, each listed as outside that range (a
breaking change for the dependent, to be checked). Without a relock nothing changes in the lock,
so the proof is a prediction: the tree re-audited with each overridden package at its new version.
The command that relocks is printed; the plan is only written when every source answered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from npmaudit import semver
from npmaudit.auditing.engine import Finding, audit
from npmaudit.auditing.policy import judge
from npmaudit.errors import InputError, UsageError
from npmaudit.fix.model import FilePlan, FixResult, ManifestChange, Outcome, Reason, Remaining
from npmaudit.fix.npm_lock import detect_indent, detect_newline, dump_json, set_range
from npmaudit.fix.safety import Safety
from npmaudit.fix.tree import registry_spec, spec_allows
from npmaudit.progress import Progress
from npmaudit.project.model import Node, Project
from npmaudit.project.readers.npm.locktext import load_manifest
from npmaudit.records import record_class, replace
from npmaudit.settings import Settings

RELOCK = {
    "npm": "npm install --package-lock-only",
    "yarn-classic": "yarn install",
    "yarn-berry": "yarn install --mode=update-lockfile",
    "pnpm": "pnpm install --lockfile-only",
    "bun": "bun install --lockfile-only",
}


@record_class(frozen=True)
class _Override:
    name: str
    vulnerable: str
    parent: Node  # the dependent (root or a workspace: a direct dependency)
    spec: str
    version: str
    in_range: bool


def manager_of(project: Project) -> str:
    fmt = project.lockfile_format
    if fmt.startswith(("package-lock", "npm-shrinkwrap")):
        return "npm"
    if fmt == "yarn-v1":
        return "yarn-classic"
    if fmt.startswith("yarn-berry"):
        return "yarn-berry"
    if fmt.startswith("pnpm"):
        return "pnpm"
    if fmt.startswith("bun"):
        return "bun"
    raise UsageError(f"{project.lockfile}: no override mechanism for {fmt}")


def run_override(
    project: Project, settings: Settings, options: Any, messages: list[str], progress: Progress
) -> FixResult:
    from npmaudit.fix.run import _audit, _open_sources, _packuments, _vulnerable_count, write_files

    manager = manager_of(project)
    manifest_path = project.directory / "package.json"
    if not manifest_path.is_file():
        raise InputError(manifest_path, "missing: overrides are written into the project's package.json")
    sources = list(options.sources) if options.sources is not None else _open_sources(settings, messages)
    before = _audit(project, sources, settings)
    packuments = options.packuments if options.packuments is not None else _packuments(settings)
    safety = Safety(sources)
    overrides: list[_Override] = []
    outcomes: list[Outcome] = []
    findings = _by_package(before.findings)
    for done, ((name, version), nodes) in enumerate(sorted(findings.items())):
        progress("planning overrides", done, len(findings))
        document = packuments(name)
        versions = semver.rsort_versions([v for v in (document or {}).get("versions", {}) if semver.valid(v)])
        safety.prefetch(_refs(name, versions))
        safe = [v for v in versions if not semver.prerelease(v) and safety.is_safe(name, v)]
        for node in nodes:
            if node.in_bundle:
                outcomes.append(Outcome(node.location, name, version, False, reason=Reason.BUNDLED))
                continue
            if not node.is_registry:
                outcomes.append(Outcome(node.location, name, version, False, reason=Reason.NOT_FROM_REGISTRY))
                continue
            if document is None:
                outcomes.append(Outcome(node.location, name, version, False, reason=Reason.NO_PACKUMENT))
                continue
            if not safe:
                outcomes.append(Outcome(node.location, name, version, False, reason=Reason.NO_SAFE_VERSION))
                continue
            planned = _plan_node(project, node, safe)
            overrides.extend(planned)
            chosen = sorted({o.version for o in planned})
            outcomes.append(Outcome(node.location, name, version, True, chosen[-1] if chosen else None))
    progress("planning overrides", len(findings), len(findings))
    overrides = _deduplicated(overrides)
    files, changes = _render(project, manager, overrides)
    predicted = _predict(project, overrides, sources, settings)
    remaining = _remaining(predicted, outcomes)
    result = FixResult(
        project=str(project.directory),
        lockfile=str(project.lockfile),
        lockfile_format=project.lockfile_format,
        strategy="override",
        dry_run=options.dry_run,
        manifest_changes=changes,
        outcomes=outcomes,
        vulnerable_before=_vulnerable_count(before.findings),
        vulnerable_after=_vulnerable_count(predicted),
        remaining=remaining,
        files=files,
        next_command=RELOCK[manager],
        audit_level=settings.audit_level,
        messages=[*messages, f"the lockfile changes when the package manager relocks: run `{RELOCK[manager]}`"],
    )
    judged = before.findings if options.dry_run else predicted
    result.exit_code = judge(judged, settings.policy, settings.audit_level).exit_code
    result.reaudit_exit_code = judge(predicted, settings.policy, settings.audit_level).exit_code
    if not options.dry_run and files:
        result.written = write_files(files)
    return result


def _refs(name: str, versions: Sequence[str]) -> list[Any]:
    from npmaudit.project.model import PackageRef

    return [PackageRef(name, v) for v in versions]


def _by_package(findings: Sequence[Finding]) -> dict[tuple[str, str], list[Node]]:
    grouped: dict[tuple[str, str], dict[str, Node]] = {}
    for finding in findings:
        for node in finding.nodes:
            grouped.setdefault((finding.name, finding.version), {})[node.location] = node
    return {key: [nodes[loc] for loc in sorted(nodes)] for key, nodes in grouped.items()}


def _plan_node(project: Project, node: Node, safe: list[str]) -> list[_Override]:
    planned = []
    for parent_location in sorted(set(project.dependents(node.location))):
        parent = project.nodes[parent_location]
        edge = next((e for e in parent.edges if e.to == node.location), None)
        if edge is None or registry_spec(edge.spec) is None:
            continue
        in_range = [v for v in safe if spec_allows(edge.spec, node.name, v)]
        if in_range:
            planned.append(_Override(node.name, node.version, parent, edge.spec, in_range[0], True))
            continue
        # Outside the range: the smallest step that helps (the same major, else the lowest safe
        # version above the installed one), as a security update should be.
        same_major = [v for v in safe if semver.major(v) == semver.major(node.version)]
        above = [v for v in reversed(safe) if semver.gt(v, node.version)]
        version = same_major[0] if same_major else above[0] if above else safe[0]
        planned.append(_Override(node.name, node.version, parent, edge.spec, version, False))
    return planned


def _deduplicated(overrides: list[_Override]) -> list[_Override]:
    """One override per (dependent, package): the highest version asked for."""
    best: dict[tuple[str, str], _Override] = {}
    for item in overrides:
        key = (item.parent.location, item.name)
        current = best.get(key)
        if current is None or semver.gt(item.version, current.version):
            best[key] = item
    return [best[key] for key in sorted(best)]


def _is_direct(project: Project, parent: Node) -> bool:
    return project.is_top(parent.location)


def _render(project: Project, manager: str, overrides: list[_Override]) -> tuple[list[FilePlan], list[ManifestChange]]:
    manifest_path = project.directory / "package.json"
    source, manifest = load_manifest(manifest_path)
    changes: list[ManifestChange] = []
    workspace_edits: dict[Path, list[_Override]] = {}
    entries: dict[str, str] = {}
    nested: dict[str, dict[str, str]] = {}
    for item in overrides:
        if _is_direct(project, item.parent):
            path = project.directory / item.parent.location / "package.json" if item.parent.location else manifest_path
            workspace_edits.setdefault(path, []).append(item)
            continue
        parent = item.parent
        if manager == "npm":
            nested.setdefault(f"{parent.name}@{parent.version}", {})[item.name] = item.version
        elif manager in ("yarn-classic", "yarn-berry"):
            entries[f"{parent.name}/{item.name}"] = item.version
        elif manager == "pnpm":
            entries[f"{parent.name}@{parent.version}>{item.name}"] = item.version
        else:  # bun: top-level overrides only
            previous = entries.get(item.name)
            if previous is None or semver.gt(item.version, previous):
                entries[item.name] = item.version
    field, holder = _override_field(manager, project)
    files: list[FilePlan] = []
    data: dict[str, Any] = dict(manifest)
    if nested or entries:
        if holder == "pnpm-workspace.yaml":
            files.append(_pnpm_workspace(project.directory / holder, entries))
        else:
            target = data
            for part in field.split(".")[:-1]:
                target = target.setdefault(part, {})
            section = target.setdefault(field.split(".")[-1], {})
            for key, value in {**entries, **nested}.items():
                old = section.get(key)
                if isinstance(value, dict) and isinstance(old, dict):
                    value = {**old, **value}
                section[key] = value
        for key, value in entries.items():
            changes.append(ManifestChange(str(project.directory / holder), field, key, None, value))
        for key, children in nested.items():
            for name, value in children.items():
                changes.append(ManifestChange(str(manifest_path), field, f"{key}.{name}", None, value))
    for path, items in sorted(workspace_edits.items()):
        edited = data if path == manifest_path else load_manifest(path)[1]
        for item in items:
            edited = set_range(edited, item.name, _direct_range(item))
            changes.append(
                ManifestChange(str(path), "dependencies", item.name, item.spec, _direct_range(item), not item.in_range)
            )
        if path != manifest_path:
            text = load_manifest(path)[0].text
            files.append(FilePlan(str(path), dump_json(edited, detect_indent(text), detect_newline(text))))
    if data != manifest:
        files.insert(
            0, FilePlan(str(manifest_path), dump_json(data, detect_indent(source.text), detect_newline(source.text)))
        )
    # Overrides of transitive packages outside their dependent's range are breaking for that dependent.
    flagged = {(o.parent.location, o.name) for o in overrides if not o.in_range}
    changes = [replace(c, breaking=c.breaking or any(c.key.endswith(n) for _, n in flagged)) for c in changes]
    return files, changes


def _direct_range(item: _Override) -> str:
    parsed = registry_spec(item.spec)
    prefix = "^"
    if parsed is not None and parsed[1][:1] in ("~", "^"):
        prefix = parsed[1][0]
    return f"{prefix}{item.version}"


def _override_field(manager: str, project: Project) -> tuple[str, str]:
    if manager == "npm" or manager == "bun":
        return "overrides", "package.json"
    if manager.startswith("yarn"):
        return "resolutions", "package.json"
    if _pnpm_major(project) >= 10:
        return "overrides", "pnpm-workspace.yaml"
    return "pnpm.overrides", "package.json"


def _pnpm_major(project: Project) -> int:
    _, manifest = load_manifest(project.directory / "package.json")
    declared = manifest.get("packageManager")
    match = re.match(r"pnpm@(\d+)", declared) if isinstance(declared, str) else None
    if match:
        return int(match.group(1))
    return 10 if (project.directory / "pnpm-workspace.yaml").is_file() else 9


def _pnpm_workspace(path: Path, entries: dict[str, str]) -> FilePlan:
    """pnpm 10 reads overrides from pnpm-workspace.yaml: append (or extend) its ``overrides`` map."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    lines = text.splitlines()
    body = [f"  {_yaml_key(key)}: {_yaml_key(value)}" for key, value in sorted(entries.items())]
    if "overrides:" in (line.rstrip() for line in lines):
        at = next(i for i, line in enumerate(lines) if line.rstrip() == "overrides:") + 1
        while at < len(lines) and lines[at].startswith((" ", "\t")):
            at += 1
        lines[at:at] = body
    else:
        lines += ["overrides:", *body]
    return FilePlan(str(path), "\n".join(lines) + "\n")


def _yaml_key(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _predict(
    project: Project, overrides: list[_Override], sources: Sequence[Any], settings: Settings
) -> tuple[Finding, ...]:
    """The findings of the tree once relocked with the overrides: each overridden node at its version."""
    moved = {}
    for item in overrides:
        for location, node in project.nodes.items():
            if node.name == item.name and node.version == item.vulnerable and location in _children_of(project, item):
                moved[location] = item.version
    nodes = {loc: replace(node, version=moved.get(loc, node.version)) for loc, node in project.nodes.items()}
    planned = Project(project.directory, project.lockfile, project.lockfile_format, nodes)
    prepared = [source.prepare(planned, settings.omit) for source in sources]
    return audit(planned, prepared, settings.omit, allow_unchecked=settings.allow_unchecked).findings


def _children_of(project: Project, item: _Override) -> set[str]:
    """Where the override applies: the dependent's own dependency of that name (every one, for bun)."""
    if project.lockfile_format.startswith("bun"):
        return {loc for loc, node in project.nodes.items() if node.name == item.name}
    return {e.to for e in item.parent.edges if e.to is not None and project.nodes[e.to].name == item.name}


def _remaining(findings: Sequence[Finding], outcomes: list[Outcome]) -> list[Remaining]:
    from npmaudit.fix.run import _remaining as remaining

    return remaining(findings, outcomes)
