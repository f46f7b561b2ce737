"""Which advisory sources a run uses, from its :class:`~npmaudit.settings.Settings`.

The decision (also in ``npmaudit audit --help``):

* ``local`` (``--compromised``): the local database only; no network.
* ``osv`` (``--osv``): the OSV API online.
* ``registry_advisories`` (``--registry-advisories``): the npm registry's bulk advisory endpoint.
* They combine. With none: the local database when it exists, plus OSV online unless offline.
* Offline with no local database is an error (exit 2): an audit against nothing is no audit.
  Offline together with ``osv`` or ``registry_advisories`` is a usage error.

Each kind of source is one row of :data:`SOURCE_KINDS`; the sources are opened once per run and
:meth:`~npmaudit.advisories.source.AdvisorySource.prepare`\\ d for each project, so a project audited
inside ``-r`` is asked about exactly as when audited alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.advisories.model import Advisory
from npmaudit.advisories.source import AdvisorySource
from npmaudit.errors import InputError, UsageError
from npmaudit.project.model import PackageRef
from npmaudit.records import record_class
from npmaudit.runtime_typing import NamedTuple
from npmaudit.settings import Settings

if TYPE_CHECKING:
    from typing import Any

    from npmaudit.advisories.store import AdvisoryStore
    from npmaudit.http import HttpSettings
    from npmaudit.npmrc import NpmConfig


@record_class(frozen=True)
class SourceKind:
    """One kind of advisory source: its name, whether it needs the network, and how to open it."""

    name: str
    online: bool
    open: Callable[[Settings, AdvisorySource | None], AdvisorySource]
    """Open the source; the second argument is the run's local database, when one is used."""


def _open_local(settings: Settings, local: AdvisorySource | None) -> AdvisorySource:
    from npmaudit.advisories.local import open_local_database

    return open_local_database(
        settings.database, is_default=not settings.database_named, max_decompressed=settings.max_decompressed
    )


def _open_osv(settings: Settings, local: AdvisorySource | None) -> AdvisorySource:
    from npmaudit.advisories.local import is_sqlite_file, open_local_database
    from npmaudit.advisories.osv_api import SOURCE_NAME, OsvApiSource
    from npmaudit.http import HttpClient

    # Records the local database already holds with the same `modified` are not fetched again.
    cache = local
    path = settings.database
    if cache is None and path.is_file() and is_sqlite_file(path):
        try:
            cache = open_local_database(
                path, is_default=not settings.database_named, max_decompressed=settings.max_decompressed
            )
        except InputError:
            cache = None  # only a cache here: an unusable store just means fetching everything
    known = KnownFromSource(cache) if cache is not None else None
    client = HttpClient(SOURCE_NAME, http_settings(settings), npm_config(settings))
    return OsvApiSource(client, settings.osv_url, known=known)


def _open_registry(settings: Settings, local: AdvisorySource | None) -> AdvisorySource:
    from npmaudit.advisories.npm_bulk import SOURCE_NAME, NpmBulkSource
    from npmaudit.http import HttpClient

    config = npm_config(settings)
    client = HttpClient(SOURCE_NAME, http_settings(settings), config)
    # An empty answer is checked against the local store, when there is a usable one.
    return NpmBulkSource(
        client,
        config.registry,
        cross_check=local or _usable_store(settings),
        strict_empty=settings.registry_empty_error,
    )


def _usable_store(settings: Settings) -> AdvisorySource | None:
    """The run's local database as a cross-check only: a filled store, else nothing (never an error)."""
    from npmaudit.advisories.local import filled_or_closed, open_local_database

    probe = _probe_store(settings.database)
    if not probe.filled:
        return None
    try:
        if probe.store is not None:
            return filled_or_closed(probe.store)
        return open_local_database(
            settings.database, is_default=not settings.database_named, max_decompressed=settings.max_decompressed
        )
    except InputError:
        return None


LOCAL = SourceKind("local", online=False, open=_open_local)
OSV = SourceKind("osv", online=True, open=_open_osv)
REGISTRY = SourceKind("registry-advisories", online=True, open=_open_registry)
SOURCE_KINDS: tuple[SourceKind, ...] = (LOCAL, OSV, REGISTRY)
"""In the order a run opens and reports them: local first."""


def _choose(settings: Settings) -> tuple[tuple[SourceKind, ...], AdvisoryStore | None]:
    """The kinds of source this run uses (the rules in this module's docstring), and the shared
    store when deciding opened it to see whether it was filled and the run uses it: that handle is
    then the local source, so the store is opened once."""
    asked = {LOCAL: settings.local, OSV: settings.osv, REGISTRY: settings.registry_advisories}
    store: AdvisoryStore | None = None
    online = [kind.name for kind, on in asked.items() if on and kind.online]
    if settings.offline and online:
        flags = " and ".join(f"--{name}" for name in online)
        raise UsageError(f"--offline (or NPMAUDIT_OFFLINE / config offline) cannot be combined with {flags}")
    if not any(asked.values()):
        if settings.offline:
            if not settings.database.exists():
                raise InputError(
                    settings.database,
                    "offline audit needs a local advisory database, and there is none here "
                    "(import one with `npmaudit db import`, or pass --db)",
                )
            asked[LOCAL] = True
        else:
            # Only the shared default store may be absent; a database someone named must exist. A
            # shared store that only `--write-cache` ever wrote to is a cache, not a database: OSV is
            # asked anyway, so it is skipped here (asked for with --compromised, it is an error).
            if settings.database_named:
                asked[LOCAL] = True
            else:
                probe = _probe_store(settings.database)
                asked[LOCAL], store = probe.filled, probe.store
            asked[OSV] = True
    return tuple(kind for kind in SOURCE_KINDS if asked[kind]), store


class _StoreProbe(NamedTuple):
    """Whether the shared store exists and a ``db import`` / ``db update`` once filled it; ``store``
    is the handle opened to look (only for a filled SQLite store), for the caller to use or close.
    (A named tuple: cheaper to create at import than a dataclass.)"""

    filled: bool
    store: AdvisoryStore | None = None


def _probe_store(path: Path) -> _StoreProbe:
    from npmaudit.advisories.local import is_sqlite_file
    from npmaudit.advisories.store import AdvisoryStore

    if not os.path.lexists(path):
        return _StoreProbe(False)
    if not path.is_file() or not is_sqlite_file(path):
        # Not a store (a FIFO, a directory, a broken link, another file): opening it as the local
        # source says what is wrong with it, rather than a run that quietly leaves it out.
        return _StoreProbe(True)
    try:
        store = AdvisoryStore.open(path)
    except InputError:
        return _StoreProbe(True)  # a damaged store: opening it as the local source reports it
    try:
        filled = bool(store.info().details.get("updated"))
    except InputError:
        store.close()
        return _StoreProbe(True)  # unreadable: opening it as the local source reports it
    except BaseException:
        store.close()
        raise
    if not filled:
        store.close()
        return _StoreProbe(False)
    return _StoreProbe(True, store)


def select_sources(settings: Settings) -> list[AdvisorySource]:
    """Open the sources for this run, local first."""
    from npmaudit.advisories.local import filled_or_closed  # the probed store gets open_local_database's checks

    sources: list[AdvisorySource] = []
    local: AdvisorySource | None = None
    kinds, store = _choose(settings)
    try:
        for kind in kinds:
            if kind is LOCAL and store is not None:
                source: AdvisorySource = filled_or_closed(store)
                store = None  # the run owns it now
            else:
                source = kind.open(settings, local)
            if kind is LOCAL:
                local = source
            sources.append(source)
    finally:
        if store is not None:
            store.close()
    return sources


def http_settings(settings: Settings) -> HttpSettings:
    from npmaudit.http import HttpSettings

    return HttpSettings(timeout=settings.timeout, retries=settings.retries)


def npm_config(settings: Settings) -> NpmConfig:
    """npm's configuration (.npmrc layers, ``npm_config_*``, ``--registry``) for the run's project."""
    from npmaudit.npmrc import load_npm_config

    cli = {"registry": settings.registry} if settings.registry else {}
    return load_npm_config(settings.project_dir, env=settings.npm_environ, cli=cli)


class KnownFromSource:
    """Any local :class:`AdvisorySource` as the OSV source's cache of unchanged records
    (a :class:`~npmaudit.advisories.source.KnownRecords`).

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
