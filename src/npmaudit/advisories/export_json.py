"""Writing OSV records as the seed's JSON writes them, fast: ``jsondb.encodable_json(record,
indent=2, sort_keys=True)`` (and the compact, key-sorted JSON Lines form), byte for byte.

Python's own C encoder ignores ``indent``: an indented document goes through the pure-Python encoder,
which took 26 s of a 215k-record export. orjson's encoder (compiled; a dependency) writes the very
same bytes for everything a record can hold except numbers Python writes with an exponent (orjson
writes ``1e-07`` as ``1e-7``), NaN and infinities (``null``), integers beyond 64 bits and strings
that are not valid Unicode (lone surrogates, which ``encodable_json`` escapes); such a record is
written by the standard library instead (found while parsing, or refused by orjson).
tests/test_export_json.py checks the two writers agree on real records, on every code point and on
the numbers they write differently.
"""

from __future__ import annotations

import json
import math

from npmaudit import TYPE_CHECKING
from npmaudit.advisories.jsondb import encodable_json

if TYPE_CHECKING:
    from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - a build without it writes every record the slow way
    orjson = None  # type: ignore[assignment]

_INDENTED = (orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) if orjson is not None else 0
_COMPACT = orjson.OPT_SORT_KEYS if orjson is not None else 0


class _Unsafe(Exception):
    """The record holds a number orjson writes differently."""


def _refuse(text: str) -> Any:
    raise _Unsafe


def _plain_float(text: str) -> float:
    """A number both writers write alike: finite, and written by Python without an exponent
    (orjson writes ``1e-7`` where Python writes ``1e-07``, ``0.00001`` where it writes ``1e-05``)."""
    value = float(text)
    if "e" in repr(value) or value in (math.inf, -math.inf) or value != value:
        raise _Unsafe
    return value


def parse(text: str | bytes) -> tuple[Any, bool]:
    """The record parsed by the standard library, and whether orjson may write it."""
    try:
        return json.loads(text, parse_float=_plain_float, parse_constant=_refuse), orjson is not None
    except _Unsafe:
        return json.loads(text), False


def indented(record: Any, fast: bool) -> str:
    """``encodable_json(record, indent=2, sort_keys=True)``."""
    if fast:
        try:
            return orjson.dumps(record, option=_INDENTED).decode()
        except TypeError:  # a huge integer, a lone surrogate, nesting deeper than orjson goes
            pass
    return encodable_json(record, indent=2, sort_keys=True)


def compact(record: Any, fast: bool) -> str:
    """``encodable_json(record, sort_keys=True, separators=(",", ":"))``."""
    if fast:
        try:
            return orjson.dumps(record, option=_COMPACT).decode()
        except TypeError:
            pass
    return encodable_json(record, sort_keys=True, separators=(",", ":"))
