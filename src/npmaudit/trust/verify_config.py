"""What ``npmaudit verify`` allows: the ``[verify]`` table of ``.npmaudit.toml``, checked.

::

    [verify]
    allowed-hosts = ["registry.example.test", "npm.corp.test:8443"]   # default: the .npmrc registries
    allowed-urls = ["https://cdn.example.test/pkg-1.0.0.tgz"]         # exact exceptions to the host rule
    allow-git = false       # git dependencies (LV051)
    allow-remote = false    # tarball URLs outside the registries (LV052)
    allow-file = false      # file:/link dependencies outside the project (LV017)
    [verify.severity]
    LV021 = "warn"          # or by name: integrity-weak = "warn"; "off" skips the check
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from npmaudit.errors import InputError
from npmaudit.records import field, record_class
from npmaudit.trust.checks import CHECKS, SEVERITIES, check_for

TABLE_KEYS = ("allowed-hosts", "allowed-urls", "allow-git", "allow-remote", "allow-file", "severity")


@record_class(frozen=True)
class VerifyConfig:
    allowed_hosts: tuple[str, ...] | None = None
    """``host[:port]`` values; None: the registries configured for npm."""
    allowed_urls: frozenset[str] = frozenset()
    allow_git: bool = False
    allow_remote: bool = False
    allow_file: bool = False
    severities: Mapping[str, str] = field(default_factory=dict)
    """Check id -> severity, for the checks whose default was changed."""

    def severity(self, check_id: str) -> str:
        return self.severities.get(check_id) or next(c.default for c in CHECKS if c.id == check_id)


def parse_verify_table(table: Any, origin: Path | None) -> dict[str, Any]:
    """The ``[verify]`` table as keyword values for :class:`VerifyConfig`; errors name the file and key."""
    where = origin if origin is not None else ".npmaudit.toml"
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise InputError(where, "'verify' must be a table ([verify])")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in TABLE_KEYS:
            close = difflib.get_close_matches(key.replace("_", "-"), TABLE_KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(TABLE_KEYS)})"
            raise InputError(where, f"unknown key 'verify.{key}'{hint}")
        if key in ("allowed-hosts", "allowed-urls"):
            if not (isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)):
                raise InputError(where, f"'verify.{key}' must be a list of strings")
            if key == "allowed-hosts":
                values["allowed_hosts"] = tuple(normalize_host(v) for v in value)
            else:
                values["allowed_urls"] = frozenset(v.strip() for v in value)
        elif key == "severity":
            values["severities"] = parse_severities(value, where)
        else:
            if not isinstance(value, bool):
                raise InputError(where, f"'verify.{key}' must be true or false")
            values[key.replace("-", "_")] = value
    return values


def parse_severities(value: Any, where: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InputError(where, "'verify.severity' must be a table of check = severity")
    severities: dict[str, str] = {}
    for key, severity in value.items():
        check = check_for(str(key))
        if check is None:
            raise InputError(where, f"'verify.severity': unknown check {key!r} (ids LV002 to LV060; see --list-checks)")
        if severity not in SEVERITIES:
            raise InputError(where, f"'verify.severity.{key}': {severity!r} is not one of {', '.join(SEVERITIES)}")
        severities[check.id] = severity
    return severities


def normalize_host(value: str) -> str:
    """A host as lockfile-lint accepts it: ``host[:port]`` or a URL whose host is taken."""
    from npmaudit.trust.tarball_url import host_of

    text = value.strip()
    return host_of(text) if "://" in text else text.lower().rstrip("/")
