"""The one settings resolver: flags, environment, ``.npmaudit.toml`` and ``.npmrc`` into a :class:`Settings`.

This is the only module of npmaudit that reads ``os.environ``. Precedence, for every setting:
flag > environment > ``.npmaudit.toml`` > ``.npmrc`` (npm's own ``audit-level`` and ``omit``) > default.
Every value is validated wherever it came from, and a bad one names its origin.

==================  =======================  ==================  =================
setting             flag                     environment         .npmaudit.toml
==================  =======================  ==================  =================
database            ``--db``                 NPMAUDIT_DB         ``db``
offline             ``--offline``            NPMAUDIT_OFFLINE    ``offline``
OSV API             ``--osv-url``            NPMAUDIT_OSV_URL    ``osv-url``
mirror              ``--mirror``             NPMAUDIT_MIRROR_URL ``mirror-url``
timeout (seconds)   ``--timeout``            NPMAUDIT_TIMEOUT    ``timeout``
retries                                      NPMAUDIT_RETRIES    ``retries``
max database age    ``--max-db-age``         NPMAUDIT_MAX_DB_AGE ``max-db-age``
policy              ``--policy``             NPMAUDIT_POLICY     ``policy``
audit level         ``--audit-level``        NPMAUDIT_AUDIT_LEVEL ``audit-level``
omitted groups      ``--omit``               NODE_ENV=production ``omit``
cache directory                              NPMAUDIT_CACHE_DIR
serve address       ``--host``/``--port``    NPMAUDIT_SERVE_HOST/_PORT
serve upstream      ``--upstream``           NPMAUDIT_UPSTREAM
ignores             ``--ignore``,                                ``[[ignore]]``,
                    ``--ignore-from``                            ``ignore-from``
strict ignores      ``--strict-ignores``     NPMAUDIT_STRICT_IGNORES ``strict-ignores``
step summary file                            GITHUB_STEP_SUMMARY
inventory           ``--inventory``          NPMAUDIT_INVENTORY
==================  =======================  ==================  =================

Ignores add up rather than override: the config's tables and files, then ``--ignore-from``, then ``--ignore``.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.config import ProjectConfig, find_config
from npmaudit.errors import InputError, UsageError
from npmaudit.settings import (
    AUDIT_LEVELS,
    DEFAULT_MAX_DECOMPRESSED,
    DEFAULT_MIRROR_URL,
    DEFAULT_OSV_URL,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    OMIT_GROUPS,
    POLICIES,
    STORE_FILE_NAME,
    Settings,
)

if TYPE_CHECKING:
    from typing import Any

    from npmaudit.auditing.ignores import IgnoreRule
    from npmaudit.serve.config import ServeConfig

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


def environ() -> Mapping[str, str]:
    """The process environment (the one place it is read)."""
    return os.environ


def debug_enabled() -> bool:
    """``NPMAUDIT_DEBUG``: show tracebacks of internal errors."""
    return bool(os.environ.get("NPMAUDIT_DEBUG"))


def no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def cache_dir(env: Mapping[str, str]) -> Path:
    """``NPMAUDIT_CACHE_DIR`` > the user cache directory (shared by every project of this user)."""
    override = env.get("NPMAUDIT_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    from npmaudit.cli.user_dirs import user_dir

    return user_dir("cache", env)


def config_for(path: Path) -> ProjectConfig:
    """The ``.npmaudit.toml`` that governs ``path`` (a project, a lockfile, or the working directory)."""
    return find_config(path if path.exists() else Path.cwd())


def resolve_settings(
    args: argparse.Namespace,
    env: Mapping[str, str] | None = None,
    config: ProjectConfig | None = None,
    *,
    npm_report: bool = False,
    lockfile_lines: bool = False,
) -> Settings:
    """Resolve every setting of ``args``' command once. Commands without a flag simply lack the attribute.

    ``npm_report``: the chosen output format needs npm's own report (formats state their analyses);
    ``lockfile_lines``: a chosen format points at each package's lockfile line.
    """
    env = os.environ if env is None else env
    project_path = Path(getattr(args, "path", None) or ".")
    config = config if config is not None else config_for(project_path)
    flag = _Flags(args)
    policy = _choice("policy", flag("policy"), env, "NPMAUDIT_POLICY", config, POLICIES, "error")
    level = _choice("audit-level", flag("audit_level"), env, "NPMAUDIT_AUDIT_LEVEL", config, AUDIT_LEVELS, None)
    omit = _omit(flag("omit"), config)
    npmrc = _NpmrcKeys(project_path, env) if level is None or omit is None else None
    if level is None:
        level = npmrc.audit_level() if npmrc is not None else None
        level = level or "low"
    if omit is None:
        omit = npmrc.omit() if npmrc is not None else None
    if omit is None:
        omit = frozenset({"dev"}) if env.get("NODE_ENV") == "production" else frozenset()
    timeout = _number("--timeout", flag("timeout"), env, "NPMAUDIT_TIMEOUT", config, "timeout", DEFAULT_TIMEOUT)
    if not timeout > 0 or not math.isfinite(timeout):
        raise UsageError(f"timeout must be a positive number of seconds, not {timeout:g}")
    retries = _number(None, None, env, "NPMAUDIT_RETRIES", config, "retries", DEFAULT_RETRIES)
    if retries < 0 or retries != int(retries) or retries > 10:
        raise UsageError(f"retries must be a whole number from 0 to 10, not {retries:g}")
    cache = cache_dir(env)
    return Settings(
        cache_dir=cache,
        local=bool(flag("compromised")),
        osv=bool(flag("osv")),
        registry_advisories=bool(flag("registry_advisories")),
        registry_empty_error=bool(flag("registry_empty_error")),
        offline=_offline(bool(flag("offline")), env, config),
        db=_database(flag("db"), env, config),
        osv_url=_url(flag("osv_url"), env, "NPMAUDIT_OSV_URL", config, "osv-url", DEFAULT_OSV_URL),
        mirror_url=_url(flag("mirror"), env, "NPMAUDIT_MIRROR_URL", config, "mirror-url", DEFAULT_MIRROR_URL).rstrip(
            "/"
        ),
        registry=_registry(flag("registry")),
        timeout=timeout,
        retries=int(retries),
        max_db_age=_max_age(flag("max_db_age"), env, config),
        max_decompressed=_max_decompressed(env, config),
        policy=policy or "error",
        audit_level=level,
        omit=omit,
        allow_unchecked=bool(flag("allow_unchecked")),
        allow_refused_packuments=bool(flag("allow_refused_packuments")),
        ignores=_ignores(flag("ignore"), flag("ignore_from"), config),
        strict_ignores=_flag_env_config(
            bool(flag("strict_ignores")), env, "NPMAUDIT_STRICT_IGNORES", config, "strict-ignores"
        ),
        npm_report=npm_report,
        lockfile_lines=lockfile_lines,
        step_summary_file=_step_summary_file(env),
        write=flag("write"),
        write_cache=bool(flag("write_cache")),
        # Only `inventory` reads it (its commands have the flag): the others skip the user data
        # directory's lookup (on macOS and Windows, the import of platformdirs it takes).
        inventory=_inventory(flag("inventory"), env) if flag.offers("inventory") else None,
        npm_environ=dict(env),
        project_dir=_project_dir(project_path),
        config_file=config.path,
    )


class _Flags:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def __call__(self, name: str) -> Any:
        return getattr(self.args, name, None)

    def offers(self, name: str) -> bool:
        """Whether the command has the option (given or not)."""
        return hasattr(self.args, name)


def _choice(
    name: str,
    flag: str | None,
    env: Mapping[str, str],
    env_var: str,
    config: ProjectConfig,
    allowed: tuple[str, ...],
    default: str | None,
) -> str | None:
    for value, origin in ((flag, f"--{name}"), (env.get(env_var), env_var), (config.get(name), _origin(config, name))):
        if value is None or value == "":
            continue
        if not isinstance(value, str) or value.strip().lower() not in allowed:
            raise UsageError(f"{origin}: invalid value {value!r} (choose from {', '.join(allowed)})")
        return value.strip().lower()
    return default


def _origin(config: ProjectConfig, key: str) -> str:
    return f"{config.path}: {key}"


def _omit(flags: list[str] | None, config: ProjectConfig) -> frozenset[str] | None:
    """``--omit`` > ``.npmaudit.toml`` ``omit``; None when neither says (``.npmrc`` and NODE_ENV come next)."""
    if flags:
        values, origin = list(flags), "--omit"
    else:
        configured = config.get("omit")
        if configured is None:
            return None
        if isinstance(configured, str):
            configured = [configured]
        if not (isinstance(configured, list) and all(isinstance(v, str) for v in configured)):
            raise InputError(config.path, "'omit' must be a list of group names")
        values, origin = configured, _origin(config, "omit")
    for value in values:
        if value not in OMIT_GROUPS:
            raise UsageError(f"{origin}: invalid group {value!r} (choose from {', '.join(OMIT_GROUPS)})")
    return frozenset(values)


class _NpmrcKeys:
    """npm's own ``audit-level`` and ``omit`` from ``.npmrc`` / ``npm_config_*``, read only when needed."""

    def __init__(self, project_path: Path, env: Mapping[str, str]) -> None:
        self.project_path = project_path
        self.env = env
        self._config: Any = None

    def _get(self, key: str) -> tuple[Any, str]:
        if self._config is None:
            from npmaudit.npmrc import load_npm_config

            self._config = load_npm_config(_project_dir(self.project_path), env=dict(self.env))
        return self._config.get(key), f"{self._config.origin(key)}: {key}"

    def audit_level(self) -> str | None:
        value, origin = self._get("audit-level")
        if value is None or value == "":
            return None
        if not isinstance(value, str) or value.strip().lower() not in AUDIT_LEVELS:
            raise UsageError(f"{origin}: invalid value {value!r} (choose from {', '.join(AUDIT_LEVELS)})")
        return value.strip().lower()

    def omit(self) -> frozenset[str] | None:
        value, origin = self._get("omit")
        if value is None or value == "" or value == []:
            return None
        values = value if isinstance(value, list) else [value]
        groups = [str(v).strip() for v in values if str(v).strip()]
        for group in groups:
            if group not in OMIT_GROUPS:
                raise UsageError(f"{origin}: invalid group {group!r} (choose from {', '.join(OMIT_GROUPS)})")
        return frozenset(groups) or None


def _project_dir(path: Path) -> Path:
    directory = path if path.is_dir() else path.parent
    return directory.resolve()


def _offline(flag: bool, env: Mapping[str, str], config: ProjectConfig) -> bool:
    """``--offline`` > ``NPMAUDIT_OFFLINE`` > config ``offline``."""
    if flag:
        return True
    value = env.get("NPMAUDIT_OFFLINE")
    if value is not None and value.strip() != "":
        word = value.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise UsageError(f"NPMAUDIT_OFFLINE: invalid value {value!r} (use 1/0, true/false)")
        return word in TRUE_WORDS
    configured = config.get("offline")
    if configured is None:
        return False
    if not isinstance(configured, bool):
        raise InputError(config.path, "'offline' must be true or false")
    return configured


def _database(flag: Path | None, env: Mapping[str, str], config: ProjectConfig) -> Path | None:
    """``--db`` > ``NPMAUDIT_DB`` > the project config's ``db`` (relative to that file) > None (the shared store)."""
    if flag:
        return Path(flag).expanduser()
    value = env.get("NPMAUDIT_DB")
    if value:
        return Path(value).expanduser()
    return config.path_value("db")


def _url(flag: str | None, env: Mapping[str, str], env_var: str, config: ProjectConfig, key: str, default: str) -> str:
    for value in (flag, env.get(env_var), config.get(key)):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return default


def _registry(flag: str | None) -> str | None:
    if not flag:
        return None
    from npmaudit.npmrc import normalize_registry

    return normalize_registry(flag, "--registry")


def _number(
    flag: str | None,
    flag_value: Any,
    env: Mapping[str, str],
    env_var: str,
    config: ProjectConfig,
    key: str,
    default: float,
) -> float:
    for value, origin in ((flag_value, flag), (env.get(env_var), env_var), (config.get(key), _origin(config, key))):
        if value is None or value == "":
            continue
        try:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        except (TypeError, ValueError):
            raise UsageError(f"{origin}: not a number: {value!r}") from None
    return float(default)


def _inventory(flag: str | None, env: Mapping[str, str]) -> str:
    """``--inventory`` > ``NPMAUDIT_INVENTORY`` > inventory.sqlite in the user data directory."""
    value = flag or env.get("NPMAUDIT_INVENTORY")
    if value:
        return value
    from npmaudit.cli.user_dirs import user_dir

    return str(user_dir("data", env) / "inventory.sqlite")


def _max_age(flag: float | None, env: Mapping[str, str], config: ProjectConfig) -> float | None:
    """``--max-db-age`` > ``NPMAUDIT_MAX_DB_AGE`` > the project config's ``max-db-age`` > no limit."""
    from npmaudit.auditing.freshness import parse_days

    if flag is not None:
        return flag
    value = env.get("NPMAUDIT_MAX_DB_AGE")
    if value:
        return parse_days(value, "NPMAUDIT_MAX_DB_AGE")
    configured = config.get("max-db-age")
    if configured is not None and configured != "":
        return parse_days(configured, _origin(config, "max-db-age"))
    return None


def resolve_serve_config(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> ServeConfig:
    """``npmaudit serve``'s settings: the store as for ``audit`` (``--db`` > NPMAUDIT_DB > the
    working directory's ``.npmaudit.toml`` ``db`` > the shared store), the address and the upstream
    registry (flag > environment), and the server's limits (flags)."""
    from npmaudit.serve.config import ServeConfig

    env = os.environ if env is None else env
    config = config_for(Path.cwd())
    db = _database(getattr(args, "db", None), env, config) or cache_dir(env) / STORE_FILE_NAME
    host = (getattr(args, "host", None) or env.get("NPMAUDIT_SERVE_HOST") or "").strip() or None
    port_value: int | None = getattr(args, "port", None)
    port_text = env.get("NPMAUDIT_SERVE_PORT", "").strip()
    if port_value is None and port_text:
        if not port_text.isdigit():
            raise UsageError(f"NPMAUDIT_SERVE_PORT: not a port number: {port_text!r}")
        port_value = int(port_text)
    if port_value is not None and not 0 <= port_value <= 65535:
        raise UsageError(f"port must be a whole number from 0 to 65535, not {port_value}")
    upstream = getattr(args, "upstream", None) or env.get("NPMAUDIT_UPSTREAM") or None
    if upstream is not None:
        from npmaudit.npmrc import normalize_registry

        upstream = normalize_registry(upstream, "--upstream")
    values: dict[str, Any] = {"db": db.expanduser()}
    if host is not None:
        values["host"] = host
    if port_value is not None:
        values["port"] = int(port_value)
    if upstream is not None:
        values["upstream"] = upstream
    for flag_name, key in (
        ("max_body", "max_body"),
        ("request_timeout", "request_timeout"),
        ("readers", "readers"),
        ("page_size", "page_size"),
    ):
        value = getattr(args, flag_name, None)
        if value is not None:
            values[key] = value
    return ServeConfig(**values)


def _ignores(flags: list[str] | None, files: list[Path] | None, config: ProjectConfig) -> tuple[IgnoreRule, ...]:
    """``[[ignore]]`` tables and ``ignore-from`` files of the config, then ``--ignore-from``, then ``--ignore``."""
    configured = config.get("ignore-from")
    if not flags and not files and configured is None and config.get("ignore") is None:
        return ()  # no ignore anywhere: the readers of ignore files are not even loaded
    from npmaudit.auditing.ignore_files import rules_from_file, rules_from_flags, rules_from_tables

    rules: list[IgnoreRule] = []
    if config.path is not None and config.get("ignore") is not None:
        rules.extend(rules_from_tables(config.path, config.get("ignore")))
    if configured is not None:
        if isinstance(configured, str):
            configured = [configured]
        if not (isinstance(configured, list) and all(isinstance(v, str) and v for v in configured)):
            raise InputError(config.path, "'ignore-from' must be a list of paths")
        assert config.path is not None
        for value in configured:
            rules.extend(rules_from_file((config.path.parent / value).expanduser()))
    for path in files or ():
        rules.extend(rules_from_file(Path(path).expanduser()))
    rules.extend(rules_from_flags(flags or ()))
    return tuple(rules)


def _flag_env_config(flag: bool, env: Mapping[str, str], env_var: str, config: ProjectConfig, key: str) -> bool:
    """A yes/no setting: the flag > the environment variable > the config key > no."""
    if flag:
        return True
    value = env.get(env_var)
    if value is not None and value.strip() != "":
        word = value.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise UsageError(f"{env_var}: invalid value {value!r} (use 1/0, true/false)")
        return word in TRUE_WORDS
    configured = config.get(key)
    if configured is None:
        return False
    if not isinstance(configured, bool):
        raise InputError(config.path, f"'{key}' must be true or false")
    return configured


def _step_summary_file(env: Mapping[str, str]) -> Path | None:
    """GitHub Actions' job-summary file for this step (``GITHUB_STEP_SUMMARY``), when the run is in one."""
    value = env.get("GITHUB_STEP_SUMMARY")
    return Path(value) if value else None


def _max_decompressed(env: Mapping[str, str], config: ProjectConfig) -> int:
    """``NPMAUDIT_MAX_DECOMPRESSED`` > config ``max-decompressed`` (MiB) > the default (2048 MiB)."""
    value = _number(None, None, env, "NPMAUDIT_MAX_DECOMPRESSED", config, "max-decompressed", -1)
    if value == -1:
        return DEFAULT_MAX_DECOMPRESSED
    if not math.isfinite(value) or value < 1:
        raise UsageError(f"max-decompressed must be a number of MiB of at least 1, not {value:g}")
    return int(value * (1 << 20))
