"""Which advisory sources an audit uses, from flags, environment and the project config.

The decision (also in ``npmaudit audit --help``):

* ``--compromised``: the local database only; no network.
* ``--osv``: the OSV API online.
* ``--registry-advisories``: the npm registry's bulk advisory endpoint (what ``npm audit`` asks).
* The flags combine: ``--compromised --osv`` uses both, and so on.
* No source flag: the local database when it exists, plus OSV online unless offline is asked for
  (``--offline``, ``NPMAUDIT_OFFLINE=1`` or ``offline = true`` in ``.npmaudit.toml``).
* Offline with no local database is an error (exit 2): an audit against nothing is no audit.
  ``--offline`` together with ``--osv`` or ``--registry-advisories`` is a usage error.

Online sources share one HTTP configuration read from npm's own (``.npmrc``: proxies, CAs,
credentials) and ``--timeout`` / ``NPMAUDIT_TIMEOUT`` / ``timeout``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from npmaudit.advisories.model import Advisory
from npmaudit.advisories.source import AdvisorySource
from npmaudit.config import ProjectConfig, default_database_path
from npmaudit.errors import InputError, UsageError
from npmaudit.project.model import PackageRef, Project

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


def local_database_path(args: argparse.Namespace, config: ProjectConfig) -> Path:
    """``--db`` > ``NPMAUDIT_DB`` > the project config's ``db`` > the shared cache."""
    if getattr(args, "db", None):
        return Path(args.db).expanduser()
    env = os.environ.get("NPMAUDIT_DB")
    if env:
        return Path(env).expanduser()
    configured = config.path_value("db")
    if configured is not None:
        return configured
    return default_database_path()


def offline_requested(args: argparse.Namespace, config: ProjectConfig) -> bool:
    """``--offline`` > ``NPMAUDIT_OFFLINE`` > config ``offline``."""
    if getattr(args, "offline", False):
        return True
    env = os.environ.get("NPMAUDIT_OFFLINE")
    if env is not None and env.strip() != "":
        word = env.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise UsageError(f"NPMAUDIT_OFFLINE: invalid value {env!r} (use 1/0, true/false)")
        return word in TRUE_WORDS
    value = config.get("offline")
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InputError(config.path, "'offline' must be true or false")
    return value


def select_sources(
    args: argparse.Namespace,
    config: ProjectConfig,
    project: Project | None = None,
    omit: frozenset[str] = frozenset(),
) -> list[AdvisorySource]:
    """The sources for this run, local first. ``project``/``omit`` let the registry source send
    npm 11's exact payload; without them it is built from the packages audited."""
    from npmaudit.advisories.local import open_local_database

    want_local = bool(getattr(args, "compromised", False))
    want_osv = bool(getattr(args, "osv", False))
    want_registry = bool(getattr(args, "registry_advisories", False))
    offline = offline_requested(args, config)
    db_path = local_database_path(args, config)
    if offline and (want_osv or want_registry):
        used = " and ".join(f for f, on in (("--osv", want_osv), ("--registry-advisories", want_registry)) if on)
        raise UsageError(f"--offline (or NPMAUDIT_OFFLINE / config offline) cannot be combined with {used}")
    if not (want_local or want_osv or want_registry):
        if offline:
            if not db_path.exists():
                raise InputError(
                    db_path,
                    "offline audit needs a local advisory database, and there is none here "
                    "(import one with `npmaudit db import`, or pass --db)",
                )
            want_local = True
        else:
            # Only the shared default store may be absent; a database someone named must exist.
            want_local = db_path.exists() or db_path != default_database_path()
            want_osv = True
    sources: list[AdvisorySource] = []
    local: AdvisorySource | None = None
    if want_local:
        local = open_local_database(db_path)
        sources.append(local)
    if want_osv or want_registry:
        settings = http_settings(args, config)
        npm_config = npm_config_for(args)
        if want_osv:
            sources.append(_osv_source(args, config, settings, npm_config, local, db_path))
        if want_registry:
            from npmaudit.advisories.npm_bulk import SOURCE_NAME, NpmBulkSource
            from npmaudit.http import HttpClient

            client = HttpClient(SOURCE_NAME, settings, npm_config)
            sources.append(NpmBulkSource(client, npm_config.registry, project, omit))
    return sources


def http_settings(args: argparse.Namespace, config: ProjectConfig) -> Any:
    """Timeout and retries: ``--timeout`` > ``NPMAUDIT_TIMEOUT`` > config ``timeout``;
    ``NPMAUDIT_RETRIES`` > config ``retries``."""
    from npmaudit.http import DEFAULT_TIMEOUT, HttpSettings

    timeout = _number(
        "--timeout", getattr(args, "timeout", None), "NPMAUDIT_TIMEOUT", config, "timeout", DEFAULT_TIMEOUT
    )
    if timeout <= 0:
        raise UsageError(f"timeout must be a positive number of seconds, not {timeout:g}")
    retries = _number(None, None, "NPMAUDIT_RETRIES", config, "retries", HttpSettings.retries)
    if retries < 0 or retries != int(retries) or retries > 10:
        raise UsageError(f"retries must be a whole number from 0 to 10, not {retries:g}")
    return HttpSettings(timeout=timeout, retries=int(retries))


def _number(flag: str | None, flag_value: Any, env_var: str, config: ProjectConfig, key: str, default: float) -> float:
    for value, origin in (
        (flag_value, flag),
        (os.environ.get(env_var), env_var),
        (config.get(key), f"{config.path}: {key}"),
    ):
        if value is None or value == "":
            continue
        try:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        except (TypeError, ValueError):
            raise UsageError(f"{origin}: not a number: {value!r}") from None
    return float(default)


def npm_config_for(args: argparse.Namespace) -> Any:
    """The npm configuration (.npmrc layers, env, --registry) for the project named on the command line."""
    from npmaudit.npmrc import load_npm_config, normalize_registry

    path = Path(getattr(args, "path", None) or ".")
    directory = path if path.is_dir() else path.parent
    cli = {}
    if getattr(args, "registry", None):
        cli["registry"] = normalize_registry(args.registry, "--registry")
    return load_npm_config(directory.resolve(), cli=cli)


def _osv_source(
    args: argparse.Namespace,
    config: ProjectConfig,
    settings: Any,
    npm_config: Any,
    local: AdvisorySource | None,
    db_path: Path,
) -> AdvisorySource:
    from npmaudit.advisories.local import is_sqlite_file, open_local_database
    from npmaudit.advisories.osv_api import SOURCE_NAME, OsvApiSource, osv_base_url
    from npmaudit.http import HttpClient

    base_url = osv_base_url(getattr(args, "osv_url", None), config.get("osv-url"))
    # Records the local database already holds with the same `modified` are not fetched again.
    cache = local
    if cache is None and db_path.is_file() and is_sqlite_file(db_path):
        try:
            cache = open_local_database(db_path)
        except InputError:
            cache = None  # only a cache here: an unusable store just means fetching everything
    known = KnownFromSource(cache) if cache is not None else None
    return OsvApiSource(HttpClient(SOURCE_NAME, settings, npm_config), base_url, known=known)


class KnownFromSource:
    """Any local :class:`AdvisorySource` as the OSV source's cache of unchanged records.

    ``prime`` asks the local source once for the audited packages' names; ``modified``/``get``
    then answer from that answer (the SQLite store and the JSON database both index by name).
    """

    def __init__(self, source: AdvisorySource) -> None:
        self.source = source
        self._by_id: dict[str, Advisory] = {}

    def prime(self, packages: Collection[PackageRef]) -> None:
        answer: Mapping[str, Any] = self.source.advisories_for(packages)
        for advisories in answer.values():
            for advisory in advisories:
                current = self._by_id.get(advisory.id)
                if current is None or advisory.modified > current.modified:
                    self._by_id[advisory.id] = advisory

    def modified(self, advisory_id: str) -> str | None:
        advisory = self._by_id.get(advisory_id)
        return advisory.modified if advisory is not None else None

    def get(self, advisory_id: str) -> Advisory | None:
        return self._by_id.get(advisory_id)
