"""The clock a run reads when nothing fixed its moment: one function, so that every reading of
"now" by the audit (ignore expiries, the data's age, a report's time) comes from one place.

Callers look it up as ``clock.utc_now()`` at each call rather than importing the function, so a
test can hold the clock still for everything an in-process run does (tests/conftest.py does, for
each test: two runs compared byte for byte must not fall on either side of a step of the age).
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
