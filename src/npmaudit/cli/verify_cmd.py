"""`npmaudit verify`: offline checks of a lockfile against injection and drift (the CI gate)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.cli import summary

if TYPE_CHECKING:
    from npmaudit.settings import Settings
    from npmaudit.trust.verify import Registries

DESCRIPTION = """\
Check a lockfile itself, offline and deterministically: every resolved URL on an allowed registry host
(default: the registries configured in .npmrc, scoped ones included) over https, tarball URLs naming the
entry's own package and version (aliases by their real name), integrity present, well formed and sha512,
no git, remote tarball or file: dependency outside the project unless allowed, no integrity shared by two
packages (a swap), package.json specs satisfied by the lock (drift), and node_modules matching the lock
when it is installed. Every check has a stable id (--list-checks); each finding names the lockfile line.

Configuration: the [verify] table of .npmaudit.toml (allowed-hosts, allowed-urls, allow-git,
allow-remote, allow-file, and [verify.severity] with error/warn/off per check id or name).

exit codes: 0 passed (warnings allowed), 1 a check failed, 2 unreadable input or bad configuration.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "verify",
        help=summary("verify"),
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", nargs="?", default=".", help="project directory or lockfile (default: .)")
    parser.add_argument("--lockfile", type=Path, metavar="PATH", help="read this lockfile instead of detecting one")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="report format (default text)")
    parser.add_argument(
        "--allowed-host",
        action="append",
        metavar="HOST",
        help="allowed registry host[:port] or URL (repeatable; replaces the .npmrc registries and the config)",
    )
    parser.add_argument("--allow-git", action="store_true", default=None, help="allow git dependencies (LV051)")
    parser.add_argument(
        "--allow-remote", action="store_true", default=None, help="allow tarball URLs outside the registries (LV052)"
    )
    parser.add_argument(
        "--allow-file", action="store_true", default=None, help="allow file:/link dependencies outside the project"
    )
    parser.add_argument("--no-installed", action="store_true", help="do not compare node_modules with the lock")
    parser.add_argument("--registry", metavar="URL", help="the default registry (overrides .npmrc)")
    parser.add_argument("--list-checks", action="store_true", help="list the checks with their ids and exit")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from npmaudit.cli.settings import config_for, resolve_settings
    from npmaudit.errors import EXIT_FINDINGS, EXIT_OK
    from npmaudit.project.loader import load_project
    from npmaudit.records import replace
    from npmaudit.trust.render_verify import render_checks, render_json, render_text
    from npmaudit.trust.verify import verify_project
    from npmaudit.trust.verify_config import VerifyConfig, normalize_host, parse_verify_table

    if args.list_checks:
        sys.stdout.write(render_checks())
        return EXIT_OK
    path = Path(args.path)
    config_file = config_for(path)
    config = VerifyConfig(**parse_verify_table(config_file.get("verify"), config_file.path))
    if args.allowed_host:
        config = replace(config, allowed_hosts=tuple(normalize_host(h) for h in args.allowed_host))
    config = replace(
        config,
        allow_git=config.allow_git or bool(args.allow_git),
        allow_remote=config.allow_remote or bool(args.allow_remote),
        allow_file=config.allow_file or bool(args.allow_file),
    )
    settings = resolve_settings(args, config=config_file)
    project = load_project(path, args.lockfile, allow_empty=True)  # LV003 lists what an empty lock lacks
    registries = configured_registries(settings, need_default=config.allowed_hosts is None)
    report = verify_project(project, config, registries, compare_installed=not args.no_installed)
    sys.stdout.write(render_json(report) if args.format == "json" else render_text(report))
    return EXIT_FINDINGS if report.failed else EXIT_OK


def configured_registries(settings: Settings, *, need_default: bool = True) -> Registries:
    """The default registry and every ``@scope:registry`` npm is configured with for the project.

    Without ``need_default`` (allowed hosts were given) an unconfigured default registry is no error:
    only the scope registries matter then (LV016).
    """
    from npmaudit.advisories.selection import npm_config
    from npmaudit.errors import UsageError
    from npmaudit.npmrc import normalize_registry
    from npmaudit.trust.verify import Registries

    config = npm_config(settings)
    scopes: dict[str, str] = {}
    for layer in config.layers:
        for key, value in layer.values.items():
            if key.startswith("@") and key.endswith(":registry") and isinstance(value, str) and value.strip():
                scopes.setdefault(key[: -len(":registry")], normalize_registry(value, f"{layer.origin}: {key}"))
    try:
        default = config.registry
    except UsageError:
        if need_default:
            raise
        default = ""
    return Registries(default=default, scopes=scopes)
