"""``npmaudit fix`` from start to end: audit, plan, rewrite in memory, prove by re-auditing, write.

1. Read the project (an unparseable lockfile, or a package.json its lockfile does not satisfy, is
   an input error: exit 2) and audit it against the run's sources.
2. Plan (:mod:`npmaudit.fix.inplace` for npm lockfiles, :mod:`npmaudit.fix.overrides` for the
   others or with ``--strategy override``).
3. Render every file the plan changes, in memory only, and re-read the new lockfile exactly as an
   audit would (in a scratch folder holding copies of the project's manifests), then re-audit it
   against the same sources. The proof: each target fixed or still vulnerable with its reason, no
   finding the original did not have (a change that brings one is dropped and the plan made again
   without it), and no dependency edge broken that was not broken before.
4. Only a complete, proven plan is written, each file atomically; ``dry_run`` writes nothing. Any
   registry or source failure before that point raises and leaves every file as it was.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from npmaudit.advisories.source import AdvisorySource
from npmaudit.atomicfile import atomic_replace
from npmaudit.auditing.engine import AuditResult, Finding, audit
from npmaudit.auditing.policy import judge
from npmaudit.errors import InputError, NpmauditError, UsageError
from npmaudit.fix.checks import manifest_disagreements, tree_problems
from npmaudit.fix.inplace import InPlacePlanner
from npmaudit.fix.model import Action, Change, FilePlan, FixResult, ManifestChange, Outcome, Reason, Remaining
from npmaudit.fix.npm_lock import (
    NpmLockFile,
    RangeEdit,
    TreeDiff,
    apply_to_lock,
    detect_indent,
    detect_newline,
    diff_trees,
    dump_json,
    set_range,
    top_manifest_path,
)
from npmaudit.fix.safety import Safety
from npmaudit.fix.tree import Tree, install_name, under_node_modules
from npmaudit.progress import Progress, no_progress
from npmaudit.project.loader import load_project, load_project_noting
from npmaudit.project.model import Project
from npmaudit.project.readers.npm.locktext import load_manifest
from npmaudit.records import field, record_class
from npmaudit.registry.packuments import PackumentProvider
from npmaudit.settings import Settings

STRATEGIES = ("in-place", "override")
NPM_FORMATS = ("package-lock", "npm-shrinkwrap")
MAX_ROUNDS = 4  # plans made again after dropping changes that brought new findings


class PlanIntegrityError(NpmauditError):
    """The planned tree breaks a dependency the original did not: a bug; nothing is written."""

    exit_code = 70


@record_class(frozen=True)
class FixOptions:
    dry_run: bool = False
    force: bool = False
    strategy: str | None = None  # None: in-place for npm lockfiles, override for the others
    sources: Sequence[AdvisorySource] | None = None
    packuments: PackumentProvider | None = None
    extra_messages: list[str] = field(default_factory=list)


@record_class
class _Proof:
    project: Project
    result: AuditResult
    problems: list[str]


def run_fix(
    path: Path,
    settings: Settings,
    options: FixOptions = FixOptions(),
    *,
    lockfile: Path | None = None,
    progress: Progress = no_progress,
) -> FixResult:
    project, messages = load_project_noting(path, lockfile)
    npm = project.lockfile_format.startswith(NPM_FORMATS)
    if project.lockfile_format == "hidden-lockfile":
        raise UsageError(f"{project.lockfile}: fix rewrites a lockfile, and this project only has npm's hidden one")
    strategy = options.strategy or ("in-place" if npm else "override")
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r} (choose from {', '.join(STRATEGIES)})")
    if strategy == "in-place" and not npm:
        raise UsageError(
            f"{project.lockfile}: the in-place strategy rewrites npm lockfiles only; use --strategy override "
            f"for {project.lockfile_format}"
        )
    if strategy == "override":
        from npmaudit.fix.overrides import run_override

        return run_override(project, settings, options, messages, progress)

    lock = NpmLockFile.load(project.lockfile)
    manifest_path = project.directory / "package.json"
    if not manifest_path.is_file():
        raise InputError(manifest_path, "missing: npm ci needs the package.json its lockfile was made from")
    manifest_source, manifest = load_manifest(manifest_path)
    disagreements = manifest_disagreements(project)
    if disagreements:
        more = f" (and {len(disagreements) - 1} more)" if len(disagreements) > 1 else ""
        raise InputError(
            project.lockfile, f"does not match package.json: {disagreements[0]}{more}; run `npm install` first"
        )

    sources = list(options.sources) if options.sources is not None else _open_sources(settings, messages)
    before = _audit(project, sources, settings)
    messages.extend(before.warnings)
    packuments = options.packuments if options.packuments is not None else _packuments(settings)
    safety = Safety(sources)
    targets = sorted({node.location for finding in before.findings for node in finding.nodes})
    save_prefix = _save_prefix(settings)
    problems_before = tree_problems(project)

    excluded: set[str] = set()
    dropped: list[str] = []
    for _round in range(MAX_ROUNDS):
        tree = Tree.from_project(project)
        initial = tree.copy()
        planner = InPlacePlanner(
            tree,
            packuments,
            safety,
            force=options.force,
            save_prefix=save_prefix,
            excluded=excluded,
            progress=progress,
        )
        outcomes = planner.run(targets)
        flags_before = initial.computed_flags()
        flags_after = tree.computed_flags()
        diff = diff_trees(initial, tree, flags_before, flags_after)
        edits = [RangeEdit(f.top, f.name, f.new) for f in planner.forced.values()]
        files = _render(project, lock, manifest_source.text, manifest, tree, diff, flags_after, edits)
        proof = _prove(project, files, sources, settings)
        introduced = _introduced(before.findings, proof.result.findings)
        if not introduced:
            break
        responsible = {planner.attribution.get(loc) for f in introduced for loc in f.locations}
        responsible.discard(None)
        fresh = {loc for loc in responsible if loc is not None and loc not in excluded}
        if not fresh:
            raise PlanIntegrityError(
                f"the fix would introduce {len(introduced)} new finding(s) that no change accounts for; nothing written"
            )
        excluded |= fresh
        dropped.extend(sorted(fresh))
    else:
        raise PlanIntegrityError("the fix kept introducing new findings; nothing written")

    if len(proof.problems) > len(problems_before):
        new = sorted(set(proof.problems) - set(problems_before))
        sample = new[0] if new else proof.problems[0]
        raise PlanIntegrityError(
            f"the planned lockfile breaks {len(proof.problems) - len(problems_before)} dependency edge(s) "
            f"(first: {sample}); nothing written"
        )

    result = FixResult(
        project=str(project.directory),
        lockfile=str(project.lockfile),
        lockfile_format=project.lockfile_format,
        strategy="in-place",
        dry_run=options.dry_run,
        changes=_changes(initial, tree, diff),
        manifest_changes=_manifest_changes(project.directory, planner.forced.values(), initial),
        outcomes=outcomes,
        vulnerable_before=_vulnerable_count(before.findings),
        vulnerable_after=_vulnerable_count(proof.result.findings),
        remaining=_remaining(proof.result.findings, outcomes),
        dropped=[f"{initial.nodes[loc].name}@{initial.nodes[loc].version} ({loc})" for loc in dropped],
        tree_problems_before=len(problems_before),
        tree_problems_after=len(proof.problems),
        files=files,
        next_command="npm ci",
        audit_level=settings.audit_level,
        messages=messages + list(options.extra_messages),
    )
    # A dry run changes nothing: like npm's, its exit code judges the project as it stands.
    judged = before.findings if options.dry_run else proof.result.findings
    result.exit_code = judge(judged, settings.policy, settings.audit_level).exit_code
    result.reaudit_exit_code = judge(proof.result.findings, settings.policy, settings.audit_level).exit_code
    if not options.dry_run and (result.changes or result.manifest_changes):
        result.written = write_files(files)
    return result


# -- pieces ----------------------------------------------------------------------------------------


def _open_sources(settings: Settings, messages: list[str]) -> list[AdvisorySource]:
    from npmaudit.auditing.run import open_sources, source_messages

    sources = open_sources(settings)
    messages.extend(source_messages(sources, settings))
    return sources


def _packuments(settings: Settings) -> PackumentProvider:
    from npmaudit.fix.packuments import install_packuments

    return install_packuments(settings)


def _save_prefix(settings: Settings) -> str:
    from npmaudit.advisories.selection import npm_config

    config = npm_config(settings)
    if str(config.get("save-exact")).lower() == "true":
        return ""
    value = config.get("save-prefix")
    return value if isinstance(value, str) and value in ("", "^", "~") else "^"


def _audit(project: Project, sources: Sequence[AdvisorySource], settings: Settings) -> AuditResult:
    prepared = [source.prepare(project, settings.omit) for source in sources]
    return audit(project, prepared, settings.omit, allow_unchecked=settings.allow_unchecked)


def _render(
    project: Project,
    lock: NpmLockFile,
    manifest_text: str,
    manifest: dict[str, object],
    tree: Tree,
    diff: TreeDiff,
    flags_after: dict[str, tuple[bool, bool, bool, bool]],
    edits: list[RangeEdit],
) -> list[FilePlan]:
    """Every file of the plan as its new text, lockfile first (only files that change)."""
    files = []
    lock_text = apply_to_lock(lock, tree, diff, flags_after, edits)
    if lock_text != lock.text:
        files.append(FilePlan(str(lock.path), lock_text))
    by_top: dict[str, list[RangeEdit]] = {}
    for edit in edits:
        by_top.setdefault(edit.top, []).append(edit)
    for top, top_edits in sorted(by_top.items()):
        path = top_manifest_path(project.directory, top)
        if top == "":
            text, data = manifest_text, copy.deepcopy(manifest)
        else:
            source, data = load_manifest(path)
            text = source.text
        for edit in top_edits:
            data = set_range(data, edit.name, edit.new)
        files.append(FilePlan(str(path), dump_json(data, detect_indent(text), detect_newline(text))))
    return files


def _prove(project: Project, files: list[FilePlan], sources: Sequence[AdvisorySource], settings: Settings) -> _Proof:
    """Re-read the planned lockfile as the audit reads any lockfile, and audit it again."""
    planned = {Path(plan.path): plan.text for plan in files}
    with tempfile.TemporaryDirectory(prefix="npmaudit-fix-") as scratch:
        root = Path(scratch)
        for location, node in project.nodes.items():
            if node.link_target is not None or under_node_modules(location) or location.startswith(("../", "/")):
                continue
            original = top_manifest_path(project.directory, location)
            copy = top_manifest_path(root, location)
            if original in planned:
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_text(planned[original], encoding="utf-8")
            elif original.is_file():
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(original, copy)
        lock_copy = root / project.lockfile.name
        lock_copy.write_text(planned.get(project.lockfile) or project.lockfile.read_text(encoding="utf-8"), "utf-8")
        after = load_project(root, lock_copy)
        result = _audit(after, sources, settings)
        return _Proof(after, result, tree_problems(after))


def _introduced(before: Sequence[Finding], after: Sequence[Finding]) -> list[Finding]:
    """Findings of the planned tree that the original did not have (by package, advisory and location)."""
    known = {(f.name, f.version, f.id): set(f.locations) for f in before}
    found = []
    for finding in after:
        locations = known.get((finding.name, finding.version, finding.id))
        if locations is None or not set(finding.locations) <= locations:
            found.append(finding)
    return found


def _vulnerable_count(findings: Sequence[Finding]) -> int:
    """Vulnerable packages as npm's report counts them: one per package name."""
    return len({f.name for f in findings})


def _changes(before: Tree, after: Tree, diff: TreeDiff) -> list[Change]:
    changes = []
    for location in diff.changed:
        old, new = before.nodes[location], after.nodes[location]
        changes.append(Change(Action.CHANGE, location, new.name, old.version, new.version))
    for location in diff.added:
        node = after.nodes[location]
        changes.append(Change(Action.ADD, location, node.name, None, node.version))
    for location in diff.removed:
        node = before.nodes[location]
        if node.link_target is None:
            changes.append(Change(Action.REMOVE, location, node.name, node.version, None))
    return sorted(changes, key=lambda c: (c.location, c.action.value))


def _manifest_changes(directory: Path, forced: object, before: Tree) -> list[ManifestChange]:
    from npmaudit.fix.inplace import ForcedRange

    changes = []
    for item in forced:  # type: ignore[attr-defined]
        assert isinstance(item, ForcedRange)
        path = top_manifest_path(directory, item.top)
        dep = before.nodes[item.top].dep(item.name)
        field_name = _field_of(dep.type.value if dep else "prod")
        changes.append(ManifestChange(str(path), field_name, item.name, item.old, item.new, item.breaking))
    return sorted(changes, key=lambda c: (c.file, c.key))


def _field_of(kind: str) -> str:
    return {
        "prod": "dependencies",
        "dev": "devDependencies",
        "optional": "optionalDependencies",
        "peer": "peerDependencies",
        "peerOptional": "peerDependencies",
    }.get(kind, "dependencies")


def _remaining(findings: Sequence[Finding], outcomes: Sequence[Outcome]) -> list[Remaining]:
    by_location = {outcome.location: outcome for outcome in outcomes}
    grouped: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        grouped.setdefault((finding.name, finding.version), []).append(finding)
    remaining = []
    for (name, version), group in sorted(grouped.items()):
        locations = tuple(sorted({loc for f in group for loc in f.locations}))
        outcome = next((by_location[loc] for loc in locations if loc in by_location), None)
        severity = max((f.severity for f in group), key=lambda s: s.rank)
        reason = outcome.reason if outcome is not None and not outcome.fixed else None
        remaining.append(
            Remaining(
                name,
                version,
                locations,
                tuple(sorted({f.id for f in group})),
                severity.value,
                reason if reason is not None else (Reason.BLOCKED_BY_RANGE if outcome is None else None),
                outcome.detail if outcome is not None else "",
                introduced=outcome is None,
            )
        )
    return remaining


def write_files(files: Sequence[FilePlan]) -> list[str]:
    """Each file replaced atomically, in order (the lockfile first)."""
    written = []
    for plan in files:
        with atomic_replace(Path(plan.path)) as stream:
            stream.write(plan.text)
        written.append(plan.path)
    return written


def location_label(location: str) -> str:
    return install_name(location) if location else "(root)"
