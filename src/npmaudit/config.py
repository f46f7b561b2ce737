"""Settings and their precedence: command-line flag > environment > project config file > default.

The project config file is ``.npmaudit.toml`` in the project directory (or the nearest parent that
has one), with keys named like the long flags::

    policy = "warn"
    audit-level = "high"
    db = "security/advisories.json"
    omit = ["dev"]
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from npmaudit.errors import InputError, UsageError

CONFIG_FILE_NAME = ".npmaudit.toml"
POLICIES = ("error", "warn", "off")
AUDIT_LEVELS = ("info", "low", "moderate", "high", "critical", "none")
OMIT_GROUPS = ("dev", "optional", "peer")
APP_NAME = "npmaudit"


def default_cache_dir() -> Path:
    """The user cache directory (shared by every project of this user)."""
    override = os.environ.get("NPMAUDIT_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir  # lazy: keeps `--help` fast

    return Path(user_cache_dir(APP_NAME, appauthor=False))


def default_database_path() -> Path:
    return default_cache_dir() / "advisories.sqlite"


@dataclass(frozen=True)
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
    """Read the nearest ``.npmaudit.toml`` at or above ``start``; none is fine."""
    directory = start if start.is_dir() else start.parent
    for candidate_dir in (directory.resolve(), *directory.resolve().parents):
        candidate = candidate_dir / CONFIG_FILE_NAME
        if candidate.is_file():
            return load_config(candidate)
    return ProjectConfig(None)


def load_config(path: Path) -> ProjectConfig:
    try:
        with path.open("rb") as stream:
            values = tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise InputError(path, f"invalid TOML: {error}") from None
    except UnicodeDecodeError as error:  # tomllib decodes the whole file as UTF-8 before parsing
        raise InputError(path, f"invalid TOML: not UTF-8 text (byte {error.start})") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise InputError(path, "invalid TOML: nested too deeply") from None
    except OSError as error:
        raise InputError(path, f"cannot read: {error.strerror or error}") from None
    return ProjectConfig(path, values)


def choose(
    name: str,
    flag: str | None,
    env_var: str,
    config: ProjectConfig,
    default: str,
    allowed: tuple[str, ...],
) -> str:
    """Resolve one enumerated setting, validating the value wherever it came from."""
    for value, origin in (
        (flag, f"--{name}"),
        (os.environ.get(env_var), env_var),
        (config.get(name), f"{config.path}: {name}"),
    ):
        if value is None or value == "":
            continue
        if not isinstance(value, str) or value.strip().lower() not in allowed:
            raise UsageError(f"{origin}: invalid value {value!r} (choose from {', '.join(allowed)})")
        return value.strip().lower()
    return default


def resolve_omit(flags: list[str] | None, config: ProjectConfig) -> frozenset[str]:
    """``--omit`` groups; with none given, ``NODE_ENV=production`` omits dev, as npm does."""
    values: list[str] = list(flags or [])
    origin = "--omit"
    if not values:
        configured = config.get("omit")
        if isinstance(configured, str):
            configured = [configured]
        if configured is not None and not (
            isinstance(configured, list) and all(isinstance(v, str) for v in configured)
        ):
            raise InputError(config.path, "'omit' must be a list of group names")
        values = list(configured or [])
        origin = f"{config.path}: omit"
    if not values and os.environ.get("NODE_ENV") == "production":
        values = ["dev"]
    for value in values:
        if value not in OMIT_GROUPS:
            raise UsageError(f"{origin}: invalid group {value!r} (choose from {', '.join(OMIT_GROUPS)})")
    return frozenset(values)
