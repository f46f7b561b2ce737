"""``--max-db-age DAYS``: a local advisory database older than this fails the audit (exit 3).

A CI gate that passes against a month-old database is passing on stale knowledge; the deterministic
offline gate needs a way to say "refresh first". The age of a store is the time since its last
``db import`` / ``db update`` (``SourceInfo.details["updated"]``); a JSON database has no such
record, so its newest ``modified`` stands in (the best lower bound of its freshness we have).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from npmaudit.advisories.source import SourceInfo
from npmaudit.errors import SourceError, UsageError

LOCAL_KINDS = frozenset({"sqlite", "json-db"})  # online sources are live: they have no age


def parse_days(value: object, origin: str = "--max-db-age") -> float:
    """A non-negative number of days (fractions allowed: 0.5 is twelve hours)."""
    try:
        days = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(f"{origin}: expected a number of days, not {value!r}") from None
    if not math.isfinite(days) or days < 0:
        raise UsageError(f"{origin}: expected a number of days >= 0, not {value!r}")
    return days


def database_time(info: SourceInfo) -> str | None:
    updated = info.details.get("updated") if info.details else None
    return updated if isinstance(updated, str) and updated else info.newest_modified


def age_days(info: SourceInfo, now: datetime | None = None) -> float | None:
    """Days since the database was last refreshed; None when it cannot be told."""
    stamp = database_time(info)
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return ((now or datetime.now(UTC)) - moment).total_seconds() / 86400


def check_freshness(sources: Sequence[SourceInfo], max_age: float | None, now: datetime | None = None) -> None:
    """Raise :class:`SourceError` when a local database is older than ``max_age`` days, or its
    age is unknown (fail closed: an unknown age is not a fresh one)."""
    if max_age is None:
        return
    for info in sources:
        if info.kind not in LOCAL_KINDS:
            continue
        age = age_days(info, now)
        if age is None:
            raise SourceError(info.location, f"--max-db-age {max_age:g}: the database's age is unknown")
        if age > max_age:
            raise SourceError(
                info.location,
                f"the advisory database is {age:.1f} days old (last updated {database_time(info)}), older than "
                f"--max-db-age {max_age:g}: refresh it with `npmaudit db update` or `npmaudit db import`",
            )
