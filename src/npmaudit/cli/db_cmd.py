"""`npmaudit db`: manage the SQLite advisory store (import, export, info, update).

The store is the one ``--db`` / ``NPMAUDIT_DB`` / the project's ``db`` / the shared cache names, as
for `audit`. Results go to stdout; progress (only when stderr is a terminal and ``NO_COLOR`` is
unset) and the records an import refused go to stderr. An import or update that fails leaves the
store as it was, and creates none.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.cli import summary

if TYPE_CHECKING:
    from typing import Any

DESCRIPTION = """\
Manage the local advisory store: a SQLite database indexed by package name, holding each OSV
record once. Merging keeps, for each id, the record with the newest 'modified'; withdrawn records
are kept as withdrawn and no longer match; a record dated more than a day in the future is refused.
A failed import or update leaves the store as it was (and creates none).
"""

DB_HELP = "the store (env NPMAUDIT_DB, the project's .npmaudit.toml `db`, else the shared cache)"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "db",
        help=summary("db"),
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="db_command", metavar="COMMAND", parser_class=type(parser))

    importing = commands.add_parser(
        "import",
        help="merge advisory files into the store",
        description="Merge OSV records into the store, all sources in one transaction. A SOURCE is a JSON "
        "array of records, {vulns:[...]} / {advisories:[...]}, one record, JSON Lines, any of them gzipped, a "
        "directory of .json records, a zip archive such as OSV's all.zip, or another store.",
    )
    importing.add_argument("sources", nargs="+", type=Path, metavar="SOURCE")
    importing.add_argument("--db", type=Path, metavar="PATH", help=DB_HELP)
    importing.set_defaults(run=run_import)

    exporting = commands.add_parser(
        "export",
        help="write every record of the store to a file",
        description="Write the store's records: json is the seed's compromised_packages.json format (an "
        "array sorted by id), jsonl one record per line.",
    )
    exporting.add_argument("path", type=Path, metavar="PATH")
    exporting.add_argument("--format", choices=("json", "jsonl"), default="json", help="(default: json)")
    exporting.add_argument("--db", type=Path, metavar="PATH", help=DB_HELP)
    exporting.set_defaults(run=run_export)

    info = commands.add_parser("info", help="counts, age (last sync, newest record) and sources of the store")
    info.add_argument("--format", choices=("text", "json"), default="text", help="(default: text)")
    info.add_argument("--db", type=Path, metavar="PATH", help=DB_HELP)
    info.set_defaults(run=run_info)

    update = commands.add_parser(
        "update",
        help="update the store from an OSV mirror",
        description="Update the store from an OSV mirror of the npm ecosystem: all.zip the first time, then only "
        "the records modified_id.csv lists as changed. The mirror is --mirror, else env NPMAUDIT_MIRROR_URL, else "
        "the project's .npmaudit.toml `mirror-url`, else OSV's public bucket.",
    )
    update.add_argument("--mirror", metavar="URL", help="the mirror's ecosystem directory (http(s):// or file://)")
    update.add_argument("--full", action="store_true", help="download all.zip even when a delta would do")
    update.add_argument("--db", type=Path, metavar="PATH", help=DB_HELP)
    update.set_defaults(run=run_update)

    parser.set_defaults(run=lambda args: _missing_command(parser))


def _missing_command(parser: argparse.ArgumentParser) -> int:
    from npmaudit.errors import EXIT_INPUT

    parser.print_help(sys.stderr)
    return EXIT_INPUT


# -- commands ----------------------------------------------------------------------------------


def run_import(args: argparse.Namespace) -> int:
    from npmaudit.advisories.mirror import import_source
    from npmaudit.advisories.store import filling_store
    from npmaudit.cli.settings import resolve_settings

    limit = resolve_settings(args).max_decompressed
    sources = [import_source(path, limit) for path in args.sources]
    with filling_store(_checked_path(store_path(args))) as store, _progress() as progress:
        result = store.merge(sources, progress=progress)
    _print_messages(result.messages())
    for counts in result.sources:
        _result(f"{counts.location}: {counts.records:,} records, {counts.added:,} added, {counts.changed:,} updated")
    _result(f"{store.path}: {result.total:,} records")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from npmaudit.advisories.store import export_store

    with _open_store(args, create=False) as store:
        count = export_store(store, args.path, args.format)
    _print_messages([f"exported {count:,} records to {args.path}"])
    return 0


def run_info(args: argparse.Namespace) -> int:
    with _open_store(args, create=False) as store:
        stats = store.stats()
    size = stats.path.stat().st_size
    if args.format == "json":
        from npmaudit.report.safe_text import safe_json_dumps

        print(safe_json_dumps(_stats_json(stats, size)))
        return 0
    _result(f"store       {stats.path} (schema {stats.schema_version}, {size / 1e6:.1f} MB)")
    _result(
        f"records     {stats.records:,}: {stats.vulnerabilities:,} vulnerabilities, {stats.malicious:,} malicious, "
        f"{stats.withdrawn:,} withdrawn"
    )
    _result(f"packages    {stats.packages:,}")
    if stats.updated:
        _result(f"updated     {stats.updated}{_ago(stats.updated)} (last import or update)")
    else:
        _result("updated     never: not a database until `db update` or `db import` succeeds")
    _result(f"synced      {stats.synced or 'never (not updated from a mirror)'}{_ago(stats.synced)}")
    _result(f"newest      {stats.data_modified or '-'}{_ago(stats.data_modified)} (newest record 'modified')")
    _result(f"age         {_age_line(stats)}")
    if stats.sources:
        _result("sources")
        for source in stats.sources:
            _result(
                f"  {source.updated}  {source.kind:<11} {source.location} ({source.records:,} records: "
                f"{source.added:,} added, {source.changed:,} updated)"
            )
    return 0


def run_update(args: argparse.Namespace) -> int:
    from npmaudit.advisories.mirror import update_from_mirror
    from npmaudit.advisories.store import filling_store
    from npmaudit.cli.settings import resolve_settings

    settings = resolve_settings(args)
    url = settings.mirror_url
    with filling_store(_checked_path(settings.database)) as store, _progress() as progress:
        update = update_from_mirror(
            store, url, full=args.full, progress=progress, max_decompressed=settings.max_decompressed
        )
    result = update.result
    _print_messages(result.messages())
    what = "all.zip" if update.mode == "full" else f"{update.fetched:,} changed records"
    counts = f"{result.added:,} added, {result.changed:,} updated"
    _result(f"{update.url}: {what}: {counts}; {store.path}: {result.total:,} records")
    return 0


# -- helpers -----------------------------------------------------------------------------------


def store_path(args: argparse.Namespace) -> Path:
    from npmaudit.cli.settings import resolve_settings

    return resolve_settings(args).database


def _checked_path(path: Path) -> Path:
    """``path``, unless it holds something other than a store (a JSON database, say)."""
    from npmaudit.advisories.local import is_sqlite_file
    from npmaudit.errors import UsageError

    if path.exists() and path.is_file() and path.stat().st_size and not is_sqlite_file(path):
        raise UsageError(
            f"{path} is not a SQLite store: `db` commands manage a store; import this database into one with "
            f"`npmaudit db import {path}`"
        )
    return path


def _open_store(args: argparse.Namespace, *, create: bool) -> Any:
    from npmaudit.advisories.local import MISSING_DEFAULT_HINT, MISSING_HINT
    from npmaudit.advisories.store import AdvisoryStore
    from npmaudit.cli.settings import resolve_settings
    from npmaudit.errors import InputError

    settings = resolve_settings(args)
    path = _checked_path(settings.database)
    if not create and not path.exists():
        hint = MISSING_HINT if settings.database_named else MISSING_DEFAULT_HINT
        raise InputError(path, hint)
    return AdvisoryStore.open(path, create=create)


def _print_messages(messages: list[str]) -> None:
    from npmaudit.cli import output

    for message in messages:
        output.say(message)


def _result(line: str) -> None:
    from npmaudit.cli import output

    output.result_line(line)


@contextmanager
def _progress() -> Iterator[Any]:
    """The terminal progress line for long work; cleared however the work ends."""
    from npmaudit.cli.progress import TerminalProgress, progress_for
    from npmaudit.cli.settings import no_color

    progress = progress_for(enabled=True, no_color=no_color())
    try:
        yield progress
    finally:
        if isinstance(progress, TerminalProgress):
            progress.clear()


def _stats_json(stats: Any, size: int) -> dict[str, Any]:
    return {
        "path": str(stats.path),
        "schemaVersion": stats.schema_version,
        "bytes": size,
        "records": stats.records,
        "vulnerabilities": stats.vulnerabilities,
        "malicious": stats.malicious,
        "withdrawn": stats.withdrawn,
        "packages": stats.packages,
        "newestModified": stats.newest_modified,
        "dataModified": stats.data_modified,
        "synced": stats.synced,
        "updated": stats.updated,
        "filled": stats.updated is not None,
        "dataAge": _data_age(stats).to_json() if _data_age(stats) is not None else None,
        "sources": [
            {
                "location": s.location,
                "kind": s.kind,
                "updated": s.updated,
                "records": s.records,
                "added": s.added,
                "updated_records": s.changed,
                **({"state": dict(s.state)} if s.state else {}),
            }
            for s in stats.sources
        ],
    }


def _data_age(stats: Any) -> Any:
    """The store's age by the audit's own definition (auditing/freshness.py)."""
    from npmaudit.advisories.source import SourceInfo
    from npmaudit.auditing.freshness import data_age

    details = {"synced": stats.synced} if stats.synced else {}
    return data_age(SourceInfo("sqlite", str(stats.path), stats.records, stats.data_modified, details))


def _age_line(stats: Any) -> str:
    age = _data_age(stats)
    if age is None:
        return "unknown (no record has a credible 'modified')"
    return f"{age.days:.1f} days ({age.basis_text()})"


def _ago(stamp: str | None) -> str:
    if not stamp:
        return ""
    from npmaudit.advisories.record_times import parse_time

    moment = parse_time(stamp)
    if moment is None:
        return ""
    from datetime import UTC, datetime

    days = (datetime.now(UTC) - moment).total_seconds() / 86400
    if days < 1 / 24:
        return f" ({max(0, round(days * 1440))} minutes ago)"
    if days < 2:
        return f" ({days * 24:.1f} hours ago)"
    return f" ({days:.1f} days ago)"
