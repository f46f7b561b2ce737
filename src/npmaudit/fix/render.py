"""``npmaudit fix`` output: the plan, what it fixes, what stays and why, the re-audit, what was written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from npmaudit.fix.model import REASON_TEXT, FixResult
from npmaudit.report.safe_text import neutralise

EXIT_RULE = (
    "0 only when nothing at or above the audit level remains (under policy error): after the fix, as the "
    "re-audit proves; with --dry-run, in the project as it stands"
)


def render_text(result: FixResult) -> str:
    lines = [
        f"npmaudit fix: {result.lockfile} ({result.lockfile_format}), strategy {result.strategy}"
        + (", dry run" if result.dry_run else ""),
        "",
    ]
    if result.changes or result.manifest_changes:
        lines.extend(neutralise(change.line()) for change in result.changes)
        lines.extend(neutralise(change.line()) for change in result.manifest_changes)
    else:
        lines.append("no change")
    fixed = [o for o in result.outcomes if o.fixed]
    lines.append("")
    lines.append(f"fixed: {len(fixed)}")
    for outcome in fixed:
        to = f" -> {outcome.new_version}" if outcome.new_version and outcome.new_version != outcome.version else ""
        note = f" ({outcome.detail})" if outcome.detail else ""
        lines.append(neutralise(f"  {outcome.name} {outcome.version}{to}  {outcome.location}{note}"))
    lines.append(f"still vulnerable: {len(result.remaining)} name@version")
    for item in result.remaining:
        why = REASON_TEXT[item.reason] if item.reason is not None else "not changed"
        detail = f": {item.detail}" if item.detail else ""
        where = ", ".join(item.locations[:3]) + (
            f" (+{len(item.locations) - 3} more)" if len(item.locations) > 3 else ""
        )
        lines.append(
            neutralise(f"  {item.name} {item.version} ({item.severity}; {', '.join(item.advisories)}) at {where}")
        )
        lines.append(neutralise(f"    {why}{detail}"))
    if result.dropped:
        lines.append("dropped (they introduced new findings): " + neutralise(", ".join(result.dropped)))
    lines.append("")
    lines.append(
        f"re-audit (packages by name, as npm counts them): {result.vulnerable_before} vulnerable before, "
        f"{result.vulnerable_after} after, "
        f"{len(result.introduced)} introduced; dependency problems before {result.tree_problems_before}, "
        f"after {result.tree_problems_after}"
    )
    if result.dry_run:
        lines.append("dry run: nothing written")
    elif result.written:
        names = ", ".join(Path(p).name for p in result.written)
        lines.append(f"wrote {names}; next: {result.next_command}" if result.next_command else f"wrote {names}")
    else:
        lines.append("nothing to write")
    if result.dry_run and result.files and result.next_command:
        lines.append(f"after writing, run: {result.next_command}")
    return "\n".join(lines) + "\n"


def render_json(result: FixResult) -> str:
    document: dict[str, Any] = {
        "project": result.project,
        "lockfile": result.lockfile,
        "lockfileFormat": result.lockfile_format,
        "strategy": result.strategy,
        "dryRun": result.dry_run,
        "changes": [change.to_json() for change in result.changes],
        "manifestChanges": [change.to_json() for change in result.manifest_changes],
        "breaking": [change.to_json() for change in result.manifest_changes if change.breaking],
        "outcomes": [outcome.to_json() for outcome in result.outcomes],
        "reaudit": {
            "vulnerableBefore": result.vulnerable_before,
            "vulnerableAfter": result.vulnerable_after,
            "remaining": [item.to_json() for item in result.remaining],
            "introduced": [item.to_json() for item in result.introduced],
            "dropped": result.dropped,
            "treeProblemsBefore": result.tree_problems_before,
            "treeProblemsAfter": result.tree_problems_after,
        },
        "written": result.written,
        "next": result.next_command,
        "auditLevel": result.audit_level,
        "exitCode": result.exit_code,
        "exitRule": EXIT_RULE,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
