"""`npmaudit audit`: read a project, match it against advisories, report, and judge."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from npmaudit.config import AUDIT_LEVELS, OMIT_GROUPS, POLICIES

# Modules that add their own options to `audit` (each has add_arguments(parser)); a feature that
# brings flags registers here instead of growing this file.
EXTRA_OPTION_MODULES: tuple[str, ...] = ("npmaudit.cli.store_options", "npmaudit.cli.online_options")

FORMATS = ("text", "json", "npm-json", "npm-text")

DESCRIPTION = """\
Audit the dependency tree of an npm-ecosystem project (a directory or a lockfile) against security
advisories: known vulnerabilities and OpenSSF malicious-package reports.

Sources: --compromised uses the local advisory database only (offline); --osv queries the OSV API;
--registry-advisories queries the npm registry's bulk advisory endpoint, as `npm audit` does, with the
registry and credentials from .npmrc. The flags combine. With none, npmaudit uses the local database
when it exists, plus OSV online unless --offline (or NPMAUDIT_OFFLINE=1, or `offline = true` in
.npmaudit.toml); offline without a local database is an error.

The local database is --db, else NPMAUDIT_DB, else `db` in the project's .npmaudit.toml, else the
shared store in the user cache directory. A database that is missing, unreadable or malformed is an
error (exit 2), and a source that cannot be queried ends the run with exit 3: never an empty result.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "audit",
        help="audit a project's dependencies",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", nargs="?", default=".", help="project directory or lockfile (default: .)")
    parser.add_argument("--lockfile", type=Path, metavar="PATH", help="read this lockfile instead of detecting one")
    parser.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="audit every project with a lockfile under PATH (skipping node_modules and VCS folders): one "
        "combined report with a section per project, and one exit code",
    )
    parser.add_argument(
        "--compromised",
        action="store_true",
        help="offline check against the local advisory database (the seed's malicious-package gate)",
    )
    parser.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help="local advisory database: a SQLite store (see `npmaudit db`), a JSON array of OSV records, "
        "{vulns:[...]}, JSON Lines, gzipped, or a directory of .json records (env NPMAUDIT_DB)",
    )
    parser.add_argument(
        "--write",
        type=Path,
        metavar="PATH",
        help="merge the advisories that matched into this project-local JSON database (newest 'modified' wins)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="report format (default: text). npm-json / npm-text: exactly what `npm audit --json` / `npm audit` "
        "print (meta-vulnerabilities, fixAvailable), with packuments from the configured registry, cached; "
        "--offline uses the cache only",
    )
    parser.add_argument(
        "--policy",
        choices=POLICIES,
        help="error: fail on findings at or above --audit-level; warn: report and pass; off: skip the check "
        "(env NPMAUDIT_POLICY; default error)",
    )
    parser.add_argument(
        "--audit-level",
        choices=AUDIT_LEVELS,
        help="failure threshold; never hides findings (env NPMAUDIT_AUDIT_LEVEL; default low; malicious = critical; "
        "unscored advisories count as high)",
    )
    parser.add_argument(
        "--omit",
        action="append",
        choices=OMIT_GROUPS,
        help="leave a dependency group out (repeatable); NODE_ENV=production omits dev",
    )
    for module_name in EXTRA_OPTION_MODULES:
        importlib.import_module(module_name).add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from npmaudit.audit.run import AuditOptions, run_audit, run_recursive
    from npmaudit.config import choose, find_config, resolve_omit
    from npmaudit.errors import UsageError
    from npmaudit.report import render, render_recursive

    path = Path(args.path)
    config = find_config(path if path.exists() else Path.cwd())
    policy = choose("policy", args.policy, "NPMAUDIT_POLICY", config, "error", POLICIES)
    level = choose("audit-level", args.audit_level, "NPMAUDIT_AUDIT_LEVEL", config, "low", AUDIT_LEVELS)
    if policy == "off":
        print("npmaudit: policy is off: the advisory check was skipped", file=sys.stderr)
        return 0
    options = AuditOptions(
        path=path,
        lockfile=args.lockfile,
        omit=resolve_omit(args.omit, config),
        policy=policy,
        level=level,
        npm_report=args.format.startswith("npm-"),
    )
    if args.recursive:
        if args.lockfile:
            raise UsageError("--lockfile and --recursive cannot be combined")
        if options.npm_report:
            raise UsageError(f"--format {args.format} reports one project; it cannot be combined with --recursive")
        scan = run_recursive(options, args, config)
        sys.stdout.write(render_recursive(args.format, scan, color=_use_color(args.format)))
        _print_messages(scan.messages)
        for failure in scan.failures:
            print(f"npmaudit: error: {failure.error}", file=sys.stderr)
        return scan.exit_code
    outcome = run_audit(options, args, config)
    sys.stdout.write(render(args.format, outcome, color=_use_color(args.format)))
    _print_messages(outcome.messages)
    return outcome.verdict.exit_code


def _print_messages(messages: list[str]) -> None:
    for message in messages:
        print(f"npmaudit: {message}", file=sys.stderr)


def _use_color(fmt: str) -> bool:
    import os

    return fmt == "text" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
