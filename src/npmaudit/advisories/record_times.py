"""Record times that cannot be true, and the rule every local source applies to them.

A record's ``modified`` decides which copy of a record wins a merge (the newest) and how old a
database is (its newest record). A copy dated in the far future would therefore win every later
merge, hiding the genuine record for ever, and make any database look fresh for ever. So a record
whose ``modified`` or ``withdrawn`` lies more than a day after the time it is read, or is not a
time at all, is *refused*: never imported, never indexed, and named in a message.

Refusing rather than clamping to the import time: a clamped copy would still outrank every genuine
version modified before the import (the attack keeps working until the genuine record happens to
change again), and it would make stale data look as fresh as the import. A refused record changes
nothing; the genuine record, which carries a real time, is merged as usual. A day of tolerance
covers clocks and time zones that disagree by hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from npmaudit import TYPE_CHECKING
from npmaudit.records import record_class

if TYPE_CHECKING:
    from typing import Any

FUTURE_TOLERANCE = timedelta(days=1)
CHECKED_FIELDS = ("modified", "withdrawn")  # the times that decide a merge or a match
NAMED_IN_MESSAGE = 3  # refused records named in one message; the rest are counted


@record_class(frozen=True)
class RefusedRecord:
    key: str
    reason: str  # "'modified' 9999-12-31T23:59:59Z is more than a day in the future"


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time as an aware datetime (a time without an offset is taken as UTC)."""
    text = text.strip()
    if text.endswith("z"):
        text = text[:-1] + "Z"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def latest_credible(now: datetime) -> datetime:
    """The latest time a record read at ``now`` can carry."""
    try:
        return now + FUTURE_TOLERANCE
    except OverflowError:  # a clock at the end of time: nothing is later
        return datetime.max.replace(tzinfo=UTC)


def time_problem(record: Mapping[str, Any], latest: datetime) -> str | None:
    """Why this record's times cannot be trusted, or None when they can.

    Absent or non-string values are left to the record parser: they rank lowest in a merge and
    never pin a record as newest.
    """
    for name in CHECKED_FIELDS:
        value = record.get(name)
        if not isinstance(value, str) or not value:
            continue
        moment = parse_time(value)
        if moment is None:
            return f"'{name}' {value!r} is not a time"
        if moment > latest:
            return f"'{name}' {value} is more than a day in the future"
    return None


def is_credible_time(value: str | None, latest: datetime) -> bool:
    if not value:
        return False
    moment = parse_time(value)
    return moment is not None and moment <= latest


def refusal_message(location: str, refused: Sequence[RefusedRecord]) -> str:
    """One line for every record a source had refused."""
    named = "; ".join(f"{item.key} ({item.reason})" for item in refused[:NAMED_IN_MESSAGE])
    more = f"; and {len(refused) - NAMED_IN_MESSAGE} more" if len(refused) > NAMED_IN_MESSAGE else ""
    noun = "record" if len(refused) == 1 else "records"
    return f"{location}: refused {len(refused)} {noun} with an impossible time, kept out of the database: {named}{more}"
