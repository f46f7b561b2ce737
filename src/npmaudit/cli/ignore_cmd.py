"""`npmaudit ignore list`: every ignore entry with its state (active, expired, stale) and what it hides.

Whether an ignore is stale depends on the findings, so the command audits the project with the same
sources, options and ignores as `npmaudit audit` would, then reports on the ignores instead of the
findings. It exits 0 whatever their states (2 or 3 when the audit itself cannot run).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.cli import summary
from npmaudit.settings import OMIT_GROUPS

if TYPE_CHECKING:
    from typing import Any

    from npmaudit.auditing.ignores import RuleState

DESCRIPTION = """\
List the ignores that apply to a project ([[ignore]] tables of .npmaudit.toml, its ignore-from files,
--ignore-from and --ignore) with the state of each: active (it hides findings, listed), expired (its
date has passed: it no longer applies), stale (it matches no finding: remove it or fix its id or
scope). The project is audited to tell; the source options are those of `npmaudit audit`.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("ignore", help=summary("ignore"), description=DESCRIPTION)
    commands = parser.add_subparsers(dest="ignore_command", metavar="SUBCOMMAND", parser_class=type(parser))
    listing = commands.add_parser(
        "list", help="every ignore with its state: active, expired, stale", description=DESCRIPTION
    )
    listing.add_argument("path", nargs="?", default=".", help="project directory or lockfile (default: .)")
    listing.add_argument("--lockfile", type=Path, metavar="PATH", help="read this lockfile instead of detecting one")
    listing.add_argument("-r", "--recursive", action="store_true", help="every project under PATH, as `audit -r`")
    listing.add_argument("--compromised", action="store_true", help="the local advisory database only (offline)")
    listing.add_argument("--db", type=Path, metavar="PATH", help="local advisory database (env NPMAUDIT_DB)")
    listing.add_argument("--omit", action="append", choices=OMIT_GROUPS, help="leave a dependency group out")
    listing.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    from npmaudit.cli import ignore_options, online_options

    online_options.add_arguments(listing)
    ignore_options.add_arguments(listing)
    listing.set_defaults(run=run)
    parser.set_defaults(run=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from npmaudit.auditing.run import run_audit, run_recursive
    from npmaudit.cli.settings import resolve_settings

    settings = resolve_settings(args)
    if not settings.ignores:
        origin = f" (config: {settings.config_file})" if settings.config_file else ""
        print(f"npmaudit: no ignores{origin}", file=sys.stderr)
        if args.format == "json":
            print("[]")
        return 0
    states: tuple[RuleState, ...]
    path = Path(args.path)
    if args.recursive:
        scan = run_recursive(path, settings)
        states = scan.ignore_states
        messages = [m for outcome in scan.outcomes for m in outcome.ignores.warnings]
    else:
        outcome = run_audit(path, settings, lockfile=args.lockfile)
        states = outcome.ignores.states
        messages = list(outcome.ignores.warnings)
    if args.format == "json":
        print(json.dumps([_state_json(state) for state in states], indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(_text(states))
    for message in messages:
        print(f"npmaudit: {message}", file=sys.stderr)
    return 0


def _text(states: Sequence[RuleState]) -> str:
    from npmaudit.report.safe_text import neutralise

    lines = []
    for state in states:
        rule = state.rule
        expires = f", expires {rule.expires_text}" if rule.expires is not None else ""
        lines.append(f"{state.state:8} {neutralise(rule.label)}  [{neutralise(rule.where)}{expires}]")
        lines.append(f"         reason: {neutralise(rule.reason)}")
        if state.hidden:
            lines.append(f"         hides: {neutralise(', '.join(state.hidden))}")
        if state.would_hide:
            lines.append(f"         no longer hides: {neutralise(', '.join(state.would_hide))}")
    counts = {name: sum(1 for s in states if s.state == name) for name in ("active", "expired", "stale")}
    lines.append(", ".join(f"{count} {name}" for name, count in counts.items()))
    return "\n".join(lines) + "\n"


def _state_json(state: RuleState) -> dict[str, Any]:
    rule = state.rule
    return {
        "id": rule.id,
        "state": state.state,
        "reason": rule.reason,
        "expires": rule.expires_text,
        "package": rule.package,
        "version": rule.version,
        "paths": list(rule.paths),
        "origin": rule.origin,
        "line": rule.line,
        "hides": list(state.hidden),
        "wouldHide": list(state.would_hide),
    }
