"""The ``[signatures]`` table of ``.npmaudit.toml``, checked::

[signatures]
fail-on = ["integrity-mismatch", "invalid", "missing", "provenance-regression"]
trusted-root = "security/trusted_root.json"   # a pinned Sigstore trusted root (relative to the file)
provenance = true                             # fetch and verify dist.attestations
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from npmaudit.errors import InputError
from npmaudit.trust.signatures import FAIL_ON_CHOICES

TABLE_KEYS = ("fail-on", "trusted-root", "provenance")


def parse_signatures_table(table: Any, origin: Path | None) -> dict[str, Any]:
    where = origin if origin is not None else ".npmaudit.toml"
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise InputError(where, "'signatures' must be a table ([signatures])")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in TABLE_KEYS:
            close = difflib.get_close_matches(key.replace("_", "-"), TABLE_KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(TABLE_KEYS)})"
            raise InputError(where, f"unknown key 'signatures.{key}'{hint}")
        if key == "fail-on":
            values["fail_on"] = parse_fail_on(value, f"{where}: signatures.fail-on")
        elif key == "trusted-root":
            if not isinstance(value, str) or not value:
                raise InputError(where, "'signatures.trusted-root' must be a path string")
            base = origin.parent if origin is not None else Path(".")
            values["trusted_root"] = (base / value).expanduser()
        else:
            if not isinstance(value, bool):
                raise InputError(where, "'signatures.provenance' must be true or false")
            values["provenance"] = value
    return values


def parse_fail_on(value: Any, origin: str) -> frozenset[str]:
    from npmaudit.errors import UsageError

    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise UsageError(f"{origin}: a list of outcome names")
    chosen = {v.strip() for v in items if v.strip()}
    unknown = sorted(chosen - set(FAIL_ON_CHOICES) - {"none"})
    if unknown:
        raise UsageError(f"{origin}: unknown outcome {unknown[0]!r} (choose from {', '.join(FAIL_ON_CHOICES)}, none)")
    return frozenset(chosen - {"none"})
