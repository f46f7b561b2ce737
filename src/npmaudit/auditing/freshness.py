"""How old a local advisory database is, by one definition for every kind, and what follows.

The age of a local database is the time since the newest moment its data is known to be current:

* a store synchronised from an OSV mirror (``db update``): its last successful synchronisation
  (``SourceInfo.details["synced"]``), the newest record's ``modified`` shown beside it; when a
  later ``db import`` brought even newer records, their ``modified`` counts instead;
* a JSON database, and a store filled by ``db import`` of files: the newest record's ``modified``
  (``SourceInfo.newest_modified``; a store leaves out what ``audit --write-cache`` added).

The time of a ``db import`` says nothing about its data: a year-old file imported today is a year
old, as it is when read directly. A time more than a day ahead of now cannot be true (see
:mod:`npmaudit.advisories.record_times`) and counts as unknown. ``--max-db-age DAYS`` fails the
run (exit 3) when a local database is older, or its age unknown; without it, a database older than
a week gets a warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from npmaudit import TYPE_CHECKING, clock
from npmaudit.advisories.record_times import latest_credible, parse_time
from npmaudit.advisories.source import SourceInfo
from npmaudit.errors import SourceError, UsageError
from npmaudit.records import record_class

if TYPE_CHECKING:
    from typing import Any

LOCAL_KINDS = frozenset({"sqlite", "json-db"})  # online sources are live: they have no age
STALE_WARNING_DAYS = 7.0
REFRESH_HINT = "refresh it with `npmaudit db update` or `npmaudit db import`"

SYNCED = "last-sync"
NEWEST_MODIFIED = "newest-modified"
BASIS_WORDS = {SYNCED: "last synced", NEWEST_MODIFIED: "newest record modified"}


@record_class(frozen=True)
class DataAge:
    since: str  # the time the data is known to be current at
    basis: str  # SYNCED or NEWEST_MODIFIED
    days: float

    def basis_text(self) -> str:
        """``last synced 2026-01-09T00:00:00Z`` or ``newest record modified 2025-11-04T16:42:14Z``."""
        return f"{BASIS_WORDS[self.basis]} {self.since}"

    def describe(self) -> str:
        """``last synced 2026-01-09T00:00:00Z, 1.0 days old``."""
        return f"{self.basis_text()}, {self.days:.1f} days old"

    def to_json(self) -> dict[str, Any]:
        return {"since": self.since, "basis": self.basis, "days": round(self.days, 3)}


def parse_days(value: object, origin: str = "--max-db-age") -> float:
    """A non-negative number of days (fractions allowed: 0.5 is twelve hours)."""
    try:
        days = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(f"{origin}: expected a number of days, not {value!r}") from None
    if not math.isfinite(days) or days < 0:
        raise UsageError(f"{origin}: expected a number of days >= 0, not {value!r}")
    return days


def data_age(info: SourceInfo, now: datetime | None = None) -> DataAge | None:
    """The age of a local source's data by the definition above; None for an online source, or
    when no credible time tells it."""
    if info.kind not in LOCAL_KINDS:
        return None
    now = clock.moment(now)
    latest = latest_credible(now)
    synced = info.details.get("synced") if info.details else None
    candidates: list[tuple[datetime, str, str]] = []
    for stamp, basis in ((synced, SYNCED), (info.newest_modified, NEWEST_MODIFIED)):
        moment = parse_time(stamp) if isinstance(stamp, str) else None
        if isinstance(stamp, str) and moment is not None and moment <= latest:
            candidates.append((moment, stamp, basis))
    if not candidates:
        return None
    # The later of the two: a store synced a year ago and then given a newer file is as new as the file.
    moment, since, basis = max(candidates, key=lambda candidate: candidate[0])
    return DataAge(since, basis, max(0.0, (now - moment).total_seconds() / 86400))


def age_days(info: SourceInfo, now: datetime | None = None) -> float | None:
    """Days since the data was known to be current; None when it cannot be told."""
    age = data_age(info, now)
    return age.days if age is not None else None


def check_freshness(sources: Sequence[SourceInfo], max_age: float | None, now: datetime | None = None) -> list[str]:
    """What the run must say about its local sources, as messages for stderr: each source's own
    warnings (records it refused) and, without ``max_age``, a database older than a week.

    Raises :class:`SourceError` when a local database is older than ``max_age`` days, or its age is
    unknown (fail closed: an unknown age is not a fresh one). A ``max_age`` replaces the weekly
    warning: the user has said how old is old enough.
    """
    messages: list[str] = []
    for info in sources:
        messages.extend(info.warnings)
        if info.kind not in LOCAL_KINDS:
            continue
        age = data_age(info, now)
        if max_age is not None:
            if age is None:
                raise SourceError(info.location, f"--max-db-age {max_age:g}: the database's age is unknown")
            if age.days > max_age:
                raise SourceError(
                    info.location,
                    f"the advisory database is {age.days:.1f} days old ({age.basis_text()}), "
                    f"older than --max-db-age {max_age:g}: {REFRESH_HINT}",
                )
        elif age is None:
            messages.append(f"{info.location}: the advisory database's age is unknown (no record has a credible time)")
        elif age.days > STALE_WARNING_DAYS:
            messages.append(
                f"{info.location}: the advisory database is {age.days:.1f} days old ({age.basis_text()}): "
                f"{REFRESH_HINT}, or set --max-db-age to make this an error"
            )
    return messages
