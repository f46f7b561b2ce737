"""`audit` options of the advisory store: --write-cache and --max-db-age (registered through
audit_cmd.EXTRA_OPTION_MODULES)."""

from __future__ import annotations

import argparse


def _days(value: str) -> float:
    from npmaudit.auditing.freshness import parse_days
    from npmaudit.errors import UsageError

    try:
        return parse_days(value)
    except UsageError:
        raise argparse.ArgumentTypeError(f"expected a number of days >= 0, not {value!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--write-cache",
        action="store_true",
        help="merge the advisories that matched into the shared store in the user cache directory "
        "(newest 'modified' wins)",
    )
    add_max_db_age(parser)


def add_max_db_age(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-db-age",
        type=_days,
        metavar="DAYS",
        help="fail (exit 3) when the local advisory database was last updated more than DAYS ago "
        "(env NPMAUDIT_MAX_DB_AGE)",
    )
