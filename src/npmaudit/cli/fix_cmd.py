"""`npmaudit fix`: plan remediations, prove them by a re-audit, write the lockfile (and manifests)."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from npmaudit.cli import summary
from npmaudit.settings import AUDIT_LEVELS, OMIT_GROUPS, POLICIES

DESCRIPTION = """\
Fix vulnerable dependencies and prove it: every change is re-audited against the same advisory
sources before anything is written.

in-place (npm lockfiles v1-v3 and npm-shrinkwrap.json): each vulnerable package moves to the newest
version that every dependent's range accepts and no advisory affects (an older safe version in
range counts too); its dependencies are resolved against the existing tree, new ones placed as npm
places them, packages nothing needs any more removed. When a range forbids every safe version, the
dependent is updated within its own dependents' ranges; a direct dependency is moved to a new major
only with --force (package.json gets the new range with your save prefix).

override (the default for yarn, pnpm and bun): the package manager's own override field with the
safe version, scoped as narrowly as the format allows; then run the printed command to relock.

npmaudit never touches node_modules: after a fix, run the install command it prints. Nothing is
written with --dry-run, nor when any registry or advisory request fails (exit 3). A lockfile that
does not parse, or that does not satisfy its package.json, is an input error (exit 2). The exit code
is 0 only when the re-audit leaves nothing at or above --audit-level.
"""

EXTRA_OPTION_MODULES: tuple[str, ...] = ("npmaudit.cli.store_options", "npmaudit.cli.online_options")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "fix",
        help=summary("fix"),
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", nargs="?", default=".", help="project directory or lockfile (default: .)")
    parser.add_argument("--lockfile", type=Path, metavar="PATH", help="fix this lockfile instead of detecting one")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and the re-audit; write nothing")
    parser.add_argument(
        "--force",
        action="store_true",
        help="allow SemVer-major (out of range) updates of direct dependencies; each is listed as a breaking change",
    )
    parser.add_argument(
        "--strategy",
        choices=("in-place", "override"),
        help="in-place: rewrite the npm lockfile; override: write the package manager's overrides "
        "(default: in-place for npm lockfiles, override for yarn, pnpm and bun)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    parser.add_argument(
        "--package-lock-only",
        action="store_true",
        help="accepted for npm users: npmaudit only ever writes lockfiles and manifests, never node_modules",
    )
    parser.add_argument(
        "--compromised",
        action="store_true",
        help="advisories from the local database only (packuments still come from the registry)",
    )
    parser.add_argument("--db", type=Path, metavar="PATH", help="local advisory database (env NPMAUDIT_DB)")
    parser.add_argument("--policy", choices=POLICIES, help="error (default), warn or off, as for audit")
    parser.add_argument("--audit-level", choices=AUDIT_LEVELS, help="failure threshold of the re-audit (default low)")
    parser.add_argument("--omit", action="append", choices=OMIT_GROUPS, help="leave a dependency group out")
    parser.add_argument(
        "--allow-unchecked", action="store_true", help="list packages whose version is not semver instead of failing"
    )
    for module_name in EXTRA_OPTION_MODULES:
        importlib.import_module(module_name).add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from npmaudit.cli.progress import progress_for
    from npmaudit.cli.settings import no_color, resolve_settings
    from npmaudit.fix.render import render_json, render_text
    from npmaudit.fix.run import FixOptions, run_fix

    settings = resolve_settings(args)
    if settings.policy == "off":
        print("npmaudit: policy is off: the advisory check was skipped, nothing fixed", file=sys.stderr)
        return 0
    progress = progress_for(enabled=args.format == "text", no_color=no_color())
    options = FixOptions(dry_run=args.dry_run, force=args.force, strategy=args.strategy)
    result = run_fix(Path(args.path), settings, options, lockfile=args.lockfile, progress=progress)
    sys.stdout.write(render_json(result) if args.format == "json" else render_text(result))
    for message in result.messages:
        print(f"npmaudit: {message}", file=sys.stderr)
    return result.exit_code
