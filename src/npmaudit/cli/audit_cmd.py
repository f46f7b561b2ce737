"""`npmaudit audit`: read a project, match it against advisories, report, and judge."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from npmaudit.cli import summary
from npmaudit.report import FORMAT_NAMES, FORMATS
from npmaudit.settings import AUDIT_LEVELS, OMIT_GROUPS, POLICIES

# Modules that add their own options to `audit` (each has add_arguments(parser)); a feature that
# brings flags registers here instead of growing this file.
EXTRA_OPTION_MODULES: tuple[str, ...] = (
    "npmaudit.cli.store_options",
    "npmaudit.cli.online_options",
    "npmaudit.cli.ignore_options",
    "npmaudit.cli.report_output",
)

DESCRIPTION = """\
Audit the dependency tree of an npm-ecosystem project (a directory or a lockfile) against security
advisories: known vulnerabilities and OpenSSF malicious-package reports.

Sources: --compromised uses the local advisory database only (no advisory service asked); --osv
queries the OSV API; --registry-advisories queries the npm registry's bulk advisory endpoint, as
`npm audit` does, with the registry and credentials from .npmrc. The flags combine. With none,
npmaudit uses the local database when it exists, plus OSV online unless --offline (or
NPMAUDIT_OFFLINE=1, or `offline = true` in .npmaudit.toml); offline without a local database is an
error. --format npm-json and npm-text also read packuments from the registry (a cache; only the
cache with --offline), whatever the source.

The local database is --db, else NPMAUDIT_DB, else `db` in the project's .npmaudit.toml, else the
shared store in the user cache directory. A database that is missing, unreadable or malformed is an
error (exit 2), and a source that cannot be queried ends the run with exit 3: never an empty result.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "audit",
        help=summary("audit"),
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
        help="advisories from the local database only, no advisory service asked (the seed's malicious-"
        "package gate); npm-json and npm-text still read packuments unless --offline",
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
        choices=FORMAT_NAMES,
        default="text",
        help="report format: "
        + "; ".join(f"{fmt.name}: {fmt.description}" for fmt in FORMATS)
        + ". The npm formats fetch packuments from the configured registry into a cache; --offline uses the "
        "cache only",
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
    parser.add_argument(
        "--allow-unchecked",
        action="store_true",
        help="a package whose lockfile version is not valid semver (it matches no advisory) is listed as not "
        "checked with a warning; without this flag it fails the run (exit 2)",
    )
    parser.add_argument(
        "--allow-refused-packuments",
        action="store_true",
        help="npm's report (--format npm-json/npm-text) over packuments the registry refused (401, 403; npm reads "
        "such a package as having no versions) warns, naming the packages; without this flag it fails the run "
        "(exit 3) after printing the report",
    )
    for module_name in EXTRA_OPTION_MODULES:
        importlib.import_module(module_name).add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from npmaudit.auditing.run import run_audit, run_recursive
    from npmaudit.cli import freeze_imports, output, skip_exit_collection
    from npmaudit.cli.progress import progress_for
    from npmaudit.cli.report_output import plan_reports
    from npmaudit.cli.settings import no_color, resolve_settings
    from npmaudit.errors import UsageError
    from npmaudit.report import LOCKFILE_LINES, NPM_REPORT, WHOLE_TREE, output_format

    freeze_imports()
    plan = plan_reports(args)
    analyses = plan.analyses
    settings = resolve_settings(args, npm_report=NPM_REPORT in analyses, lockfile_lines=LOCKFILE_LINES in analyses)
    if settings.policy == "off":
        output.say("policy is off: the advisory check was skipped")
        return 0
    progress = progress_for(enabled=output_format(args.format).for_people, no_color=no_color())
    path = Path(args.path)
    if args.recursive:
        if args.lockfile:
            raise UsageError("--lockfile and --recursive cannot be combined")
        plan.check_recursive()
        writer = plan.recursive_writer()
        scan = run_recursive(
            path,
            settings,
            progress=progress,
            keep_graphs=WHOLE_TREE in analyses,
            on_audited=writer.add if writer is not None else None,
        )
        skip_exit_collection()  # run_recursive closed the sources it opened
        plan.emit_recursive(scan, settings, writer)
        _print_messages(scan.messages)
        for failure in scan.failures:
            output.error(str(failure.error))
        return scan.exit_code
    outcome = run_audit(path, settings, lockfile=args.lockfile, progress=progress)
    skip_exit_collection()  # run_audit closed the sources it opened
    plan.emit(outcome, settings)
    _print_messages(outcome.messages)
    return outcome.verdict.exit_code


def _print_messages(messages: list[str]) -> None:
    from npmaudit.cli import output

    for message in messages:
        output.say(message)
