"""`npmaudit query SPEC... [PATH] [-r]`: which projects install this package, and where."""

from __future__ import annotations

import argparse
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.cli import store_options, summary

if TYPE_CHECKING:
    from typing import Any

DESCRIPTION = """\
List every install of the packages asked for, in one project or (-r) in every project under PATH,
with the install path, the dependency group (prod, dev, optional, peer), and the chain of
dependents from the project's root. No inventory and no network needed.

SPEC is a package name (every version), name@version, name@range (node-semver, read as npm audit
reads an advisory's range: a prerelease inside the range matches), or an advisory id (GHSA-...,
MAL-..., CVE-...), looked up by id or alias in the local advisory database (--db, NPMAUDIT_DB, the
project's .npmaudit.toml, else the shared store) and matched as `audit` matches it. Quote ranges:
'debug@>=4.4.2 <4.4.3'.

PATH (default .) is the last argument when it looks like a path: ".", "..", or containing a "/"
(write ./name for a folder whose name could be a package's). A recursive scan prints a summary
first: projects scanned, projects hit, and the (malicious) packages found in each.

Exit codes: 0 nothing matches, 1 something matches (so it can gate), 2 a usage or input error
(an unknown advisory id, a project that could not be read: the answer would be incomplete).
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "query",
        help=summary("query"),
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", nargs="+", metavar="SPEC", help="name, name@version, name@range or advisory id")
    parser.add_argument("-r", "--recursive", action="store_true", help="query every project with a lockfile under PATH")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="report format (default text)")
    parser.add_argument("--db", type=Path, metavar="PATH", help="advisory database for advisory ids (env NPMAUDIT_DB)")
    store_options.add_max_db_age(parser)
    parser.set_defaults(run=run)
    allow_intermixed(parser)


def allow_intermixed(parser: argparse.ArgumentParser) -> None:
    """Accept options between positionals (``query debug -r .``): argparse alone stops filling
    positionals at the first option and then refuses the rest."""
    plain = parser.parse_known_args
    inside = False

    def parse_known_args(args: Any = None, namespace: Any = None) -> Any:
        nonlocal inside
        if inside:  # parse_known_intermixed_args calls back into parse_known_args
            return plain(args, namespace)
        inside = True
        try:
            return parser.parse_known_intermixed_args(args, namespace)
        finally:
            inside = False

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]


def looks_like_path(text: str) -> bool:
    """A scoped package (``@scope/name``) has a slash too, but never starts a path."""
    if text in (".", "..") or text.startswith(("~", "./", "../", "/")):
        return True
    return "/" in text and not text.startswith("@")


def split_specs(positionals: list[str]) -> tuple[list[str], Path]:
    """SPEC... [PATH]: the last argument is the path when it looks like one."""
    from npmaudit.errors import UsageError

    if len(positionals) > 1 and looks_like_path(positionals[-1]):
        specs, path = positionals[:-1], Path(positionals[-1]).expanduser()
    else:
        specs, path = positionals, Path(".")
    for spec in specs:
        if looks_like_path(spec):
            raise UsageError(f"{spec!r} looks like a path, not a package: give it last, after the SPECs")
    return specs, path


def run(args: argparse.Namespace) -> int:
    from npmaudit.cli import output
    from npmaudit.cli.progress import progress_for
    from npmaudit.cli.settings import no_color, resolve_settings
    from npmaudit.inventory.advisory_lookup import finder
    from npmaudit.inventory.files import query_path
    from npmaudit.inventory.render import render_json, render_text
    from npmaudit.inventory.spec import is_advisory_id, resolve_specs

    texts, path = split_specs(list(args.spec))
    args.path = str(path)
    settings = resolve_settings(args)
    for text in texts:
        if not is_advisory_id(text) and "@" not in text[1:] and Path(text).is_dir():
            output.say(f"{text!r} is read as a package name; write ./{text} to query that folder")
    find = finder(settings.database, is_default=not settings.database_named, max_db_age=settings.max_db_age)
    specs = resolve_specs(texts, find)
    for message in find.messages:
        output.say(message)
    progress = progress_for(enabled=args.format == "text", no_color=no_color())
    result = query_path(path, specs, recursive=args.recursive, progress=progress)
    if args.format == "json":
        output.write_report(render_json(result), color=False)
    else:
        output.write_report(render_text(result, summary=args.recursive), color=False)
    for message in result.messages:
        output.say(message)
    for failure in result.failures:
        output.error(failure.message)
    return result.exit_code
