"""The project configuration file, ``.npmaudit.toml``: found, read and checked (values are resolved with
flags and environment in ``npmaudit.cli.settings``).

The file is ``.npmaudit.toml`` in the project directory (or the nearest parent that
has one), with keys named like the long flags::

    policy = "warn"
    audit-level = "high"
    db = "security/advisories.json"
    omit = ["dev"]

    [verify]                 # npmaudit verify (npmaudit.trust.verify_config)
    allowed-hosts = ["registry.example.test"]

    [signatures]             # npmaudit signatures (npmaudit.trust.signatures_config)
    fail-on = ["invalid", "missing"]

    [[ignore]]                      # an accepted finding (keys: npmaudit.auditing.ignore_files)
    id = "GHSA-rp65-9cf3-cjxr"
    reason = "only parses our own CSS at build time"
    expires = 2026-03-31
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.errors import InputError
from npmaudit.records import field, record_class
from npmaudit.textfile import open_binary

if TYPE_CHECKING:
    from typing import Any

CONFIG_FILE_NAME = ".npmaudit.toml"
# Every key the file may hold. An unknown key is an error, not a setting silently ignored: a misspelt
# `audit_level = "critical"` must not leave the gate at its default.
KNOWN_KEYS = (
    "policy",
    "audit-level",
    "db",
    "omit",
    "offline",
    "osv-url",
    "mirror-url",
    "timeout",
    "retries",
    "max-db-age",
    "max-decompressed",
    "verify",  # a table: npmaudit.trust.verify_config (checked there, key by key)
    "signatures",  # a table: npmaudit.trust.signatures_config
    "ignore",  # an array of tables: npmaudit.auditing.ignore_files (keys checked below)
    "ignore-from",
    "strict-ignores",
)
TABLE_KEYS = frozenset({"verify", "signatures"})
# The keys of each [[ignore]] table (read by npmaudit.auditing.ignore_files, which also gives lines).
IGNORE_KEYS = ("id", "reason", "expires", "package", "version", "paths", "justification")


@record_class(frozen=True)
class ProjectConfig:
    path: Path | None
    values: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def path_value(self, key: str) -> Path | None:
        """A path from the file, relative to the file's directory."""
        value = self.values.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise InputError(self.path, f"'{key}' must be a path string")
        assert self.path is not None
        return (self.path.parent / value).expanduser()


def find_config(start: Path) -> ProjectConfig:
    """Read the nearest ``.npmaudit.toml`` at or above ``start``; none is fine.

    Anything under that name counts as the file, not only a regular file: a FIFO, a device, a
    directory or a broken link there is refused by :func:`load_config` (exit 2) instead of being
    passed over, which would silently run with the defaults (or a parent directory's settings).
    """
    directory = start if start.is_dir() else start.parent
    for candidate_dir in (directory.resolve(), *directory.resolve().parents):
        candidate = candidate_dir / CONFIG_FILE_NAME
        if os.path.lexists(candidate):
            return load_config(candidate)
    return ProjectConfig(None)


def load_config(path: Path) -> ProjectConfig:
    import tomllib  # lazy: most runs have no config file

    try:
        with open_binary(path, "config file") as stream:  # a FIFO or a device is refused, never read
            values = tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise InputError(path, f"invalid TOML: {error}") from None
    except UnicodeDecodeError as error:  # tomllib decodes the whole file as UTF-8 before parsing
        raise InputError(path, f"invalid TOML: not UTF-8 text (byte {error.start})") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise InputError(path, "invalid TOML: nested too deeply") from None
    except OSError as error:
        raise InputError(path, f"cannot read: {error.strerror or error}") from None
    check_keys(path, values)
    return ProjectConfig(path, values)


def check_keys(path: Path, values: Mapping[str, Any]) -> None:
    """Refuse keys npmaudit does not know, suggesting the closest known one."""
    import difflib

    for key, value in values.items():
        if key in KNOWN_KEYS:
            continue
        # a table is suggested only for a table: `ignore = [...]` is not a misspelt [signatures]
        candidates = KNOWN_KEYS if isinstance(value, dict) else tuple(k for k in KNOWN_KEYS if k not in TABLE_KEYS)
        close = difflib.get_close_matches(key.replace("_", "-"), candidates, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(KNOWN_KEYS)})"
        raise InputError(path, f"unknown key '{key}'{hint}")
    entries = values.get("ignore")
    if entries is not None and not (isinstance(entries, list) and all(isinstance(e, dict) for e in entries)):
        raise InputError(
            path, "'ignore' must be [[ignore]] tables, each with an id and a reason (ids alone have no reason)"
        )
    for entry in entries or ():
        for key in entry:
            if key not in IGNORE_KEYS:
                close = difflib.get_close_matches(key.replace("-", "_"), IGNORE_KEYS, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(IGNORE_KEYS)})"
                raise InputError(path, f"[[ignore]] {entry.get('id', '')}: unknown key '{key}'{hint}")
