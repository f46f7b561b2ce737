"""`npmaudit inventory`: record many projects' package sets, query them, re-evaluate them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.cli import store_options, summary

if TYPE_CHECKING:
    from typing import Any

    from npmaudit.inventory.store import Inventory
    from npmaudit.settings import Settings

DESCRIPTION = """\
An inventory records the package set of many projects (name, version, install path, group,
source kind, and the chain from the root), so that "who has X?" is one query over a whole fleet,
and `inventory audit` re-evaluates every project when the advisory database changes.

The inventory is --inventory, else NPMAUDIT_INVENTORY, else inventory.sqlite in the user data
directory: a SQLite file, or a PostgreSQL database given as postgresql://user@host/dbname (many
CI runners adding at once, many readers; needs `pip install 'npmaudit[postgres]'`).
"""

ADD_HELP = """\
Record each project (a directory or a lockfile; -r: every project under each directory). A project
is known by its location: its resolved directory, or --location (a CI runner names the repository
it checked out). Re-adding an unchanged package set writes nothing but new labels; a changed one
replaces the project's rows in one transaction.
"""

AUDIT_HELP = """\
Match every inventoried project against the local advisory database (--db, NPMAUDIT_DB, else the
shared store: refresh it with `npmaudit db update` first) and record the result. With --changed,
report only what changed since the last run: projects newly affected (an advisory that now matches
one of their packages) and projects no longer affected (an advisory withdrawn or narrowed, a
package upgraded). Exit 1 when a project is affected (with --changed: newly affected).
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from npmaudit.cli.query_cmd import allow_intermixed

    parser = subparsers.add_parser(
        "inventory",
        help=summary("inventory"),
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="inventory_command", metavar="COMMAND", parser_class=type(parser))

    add = commands.add_parser(
        "add", help="record projects", description=ADD_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="project directory or lockfile")
    add.add_argument("-r", "--recursive", action="store_true", help="add every project with a lockfile under PATH")
    add.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a label kept with the project, e.g. repo=org/app, commit=SHA (repeatable)",
    )
    add.add_argument("--location", metavar="NAME", help="record the project under this name instead of its path")
    _common(add)
    add.set_defaults(run=run_add)
    allow_intermixed(add)

    query = commands.add_parser(
        "query",
        help="which inventoried projects install a package, version, range or advisory",
        description="SPEC as for `npmaudit query`. Exit 1 when anything matches.",
    )
    query.add_argument("spec", nargs="+", metavar="SPEC", help="name, name@version, name@range or advisory id")
    query.add_argument("--db", type=Path, metavar="PATH", help="advisory database for advisory ids (env NPMAUDIT_DB)")
    store_options.add_max_db_age(query)
    _common(query)
    query.set_defaults(run=run_query)

    remove = commands.add_parser("remove", help="forget projects", description="Forget projects (all or none).")
    remove.add_argument("locations", nargs="+", metavar="LOCATION", help="a project's location, or its directory")
    _common(remove, formats=False)
    remove.set_defaults(run=run_remove)

    listing = commands.add_parser("list", help="list the inventoried projects")
    _common(listing)
    listing.set_defaults(run=run_list)

    audit = commands.add_parser(
        "audit",
        help="re-evaluate every project against the advisory database",
        description=AUDIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit.add_argument("--changed", action="store_true", help="report only changes since the last run")
    audit.add_argument("--db", type=Path, metavar="PATH", help="local advisory database (env NPMAUDIT_DB)")
    audit.add_argument(
        "--allow-unchecked",
        action="store_true",
        help="a package version that cannot be read (not semver) is listed as not checked instead of failing",
    )
    store_options.add_max_db_age(audit)
    _common(audit)
    audit.set_defaults(run=run_audit)
    parser.set_defaults(run=_usage(parser))


def _common(parser: argparse.ArgumentParser, *, formats: bool = True) -> None:
    parser.add_argument(
        "--inventory",
        metavar="PATH|URL",
        help="the inventory: a SQLite file or postgresql://... (env NPMAUDIT_INVENTORY; "
        "default inventory.sqlite in the user data directory)",
    )
    if formats:
        parser.add_argument("--format", choices=("text", "json"), default="text", help="report format (default text)")


def _usage(parser: argparse.ArgumentParser) -> Any:
    def run(args: argparse.Namespace) -> int:
        from npmaudit.errors import EXIT_INPUT

        parser.print_help(sys.stderr)
        return EXIT_INPUT

    return run


def _settings(args: argparse.Namespace) -> Settings:
    from npmaudit.cli.settings import resolve_settings

    return resolve_settings(args)


def _open(settings: Settings, *, create: bool = False) -> Inventory:
    from npmaudit.errors import UsageError
    from npmaudit.inventory.store import Inventory

    if not settings.inventory:
        raise UsageError("no inventory given (--inventory or NPMAUDIT_INVENTORY)")
    return Inventory.open(settings.inventory, create=create)


def _labels(values: list[str]) -> dict[str, str]:
    from npmaudit.errors import UsageError

    labels = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--label {value!r}: expected KEY=VALUE")
        labels[key.strip()] = text
    return labels


def _print_json(document: Any) -> None:
    from npmaudit.cli import output
    from npmaudit.report.safe_text import safe_json_dumps

    output.write_report(safe_json_dumps(document) + "\n", color=False)


def run_add(args: argparse.Namespace) -> int:
    from npmaudit.cli import output
    from npmaudit.cli.progress import progress_for
    from npmaudit.cli.settings import no_color
    from npmaudit.inventory.ingest import add_paths
    from npmaudit.inventory.render import add_document

    labels = _labels(args.label)
    settings = _settings(args)
    progress = progress_for(enabled=args.format == "text", no_color=no_color())
    with _open(settings, create=True) as inventory:
        report = add_paths(
            inventory, args.paths, recursive=args.recursive, location=args.location, labels=labels, progress=progress
        )
    if args.format == "json":
        _print_json(add_document(inventory.location, report))
    else:
        for result in report.added:
            output.result_line(f"{result.status}: {result.location} ({result.packages} packages)")
    for failure in report.failures:
        output.error(failure.message)
    return report.exit_code


def run_query(args: argparse.Namespace) -> int:
    from npmaudit.cli import output
    from npmaudit.inventory.advisory_lookup import finder
    from npmaudit.inventory.render import render_json, render_text
    from npmaudit.inventory.spec import resolve_specs

    settings = _settings(args)
    find = finder(settings.database, is_default=not settings.database_named, max_db_age=settings.max_db_age)
    specs = resolve_specs(list(args.spec), find)
    for message in find.messages:
        output.say(message)
    with _open(settings) as inventory:
        result = inventory.query(specs)
    output.write_report(
        render_json(result) if args.format == "json" else render_text(result, summary=True), color=False
    )
    for message in result.messages:
        output.say(message)
    return result.exit_code


def run_remove(args: argparse.Namespace) -> int:
    from npmaudit.cli import output
    from npmaudit.inventory.ingest import known_locations

    settings = _settings(args)
    with _open(settings) as inventory:
        for location in inventory.remove(known_locations(inventory, args.locations)):
            output.result_line(f"removed: {location}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from npmaudit.cli import output
    from npmaudit.inventory.render import projects_document, projects_text

    settings = _settings(args)
    with _open(settings) as inventory:
        records = inventory.projects()
    if args.format == "json":
        _print_json(projects_document(inventory.location, records))
    else:
        output.write_report(projects_text(inventory.location, records), color=False)
    return 0


def run_audit(args: argparse.Namespace) -> int:
    from npmaudit.cli import output
    from npmaudit.inventory.reevaluate import reevaluate_against, render_changes_text, render_run_text, run_document

    settings = _settings(args)
    with _open(settings) as inventory:
        run = reevaluate_against(
            inventory,
            settings.database,
            is_default=not settings.database_named,
            allow_unchecked=settings.allow_unchecked,
            max_db_age=settings.max_db_age,
        )
    for message in run.messages:
        output.say(message)
    if args.format == "json":
        _print_json(run_document(run, changed_only=args.changed))
    elif args.changed:
        output.write_report(render_changes_text(run), color=False)
    else:
        output.write_report(render_run_text(run), color=False)
    for package in run.unchecked:
        output.say(f"warning: not checked: {package} (its version cannot be read)")
    return run.exit_code(changed_only=args.changed)
