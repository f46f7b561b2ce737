"""The clock a run reads: one place, so that every reading of "now" by the audit (ignore
expiries, the data's age, a report's time) agrees.

Callers look it up as ``clock.utc_now()`` at each call rather than importing the function, so a
test can hold the clock still for everything an in-process run does (tests/conftest.py does, for
each test: two runs compared byte for byte must not fall on either side of a step of the age).
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def moment(fixed: datetime | None) -> datetime:
    """A fixed moment when given (tests, reproducible runs; a naive one is read as UTC), else now."""
    if fixed is None:
        return utc_now()
    return fixed if fixed.tzinfo else fixed.replace(tzinfo=UTC)
