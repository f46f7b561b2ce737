"""Packuments for installing: what a lockfile entry is written from (dist, bin, engines, ...).

npm's report needs only dependency lists (:func:`npmaudit.registry.packuments.trim_packument`);
writing a lockfile entry needs the tarball URL and integrity, ``bin``, ``engines``, ``os``/``cpu``,
``license``, ``funding``, ``deprecated`` and whether the package runs install scripts. These
documents are cached in their own folder (revalidated with ETags, as the report's), so the two
never read each other's trimmed copies.

Unlike the report, a fix must not mistake a refused request for a package without versions: only a
404 means "the registry has no such package"; any other failure (401, 403, 5xx, network) raises
:class:`~npmaudit.errors.SourceError`, so a half-fetched plan is never written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from npmaudit.registry.packuments import PackumentCache, registry_fetcher
from npmaudit.settings import Settings

INSTALL_FIELDS = (
    "name",
    "version",
    "dependencies",
    "optionalDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "bundleDependencies",
    "bundledDependencies",
    "deprecated",
    "engines",
    "os",
    "cpu",
    "libc",
    "bin",
    "license",
    "funding",
    "hasInstallScript",
    "gypfile",
)
INSTALL_SCRIPTS = ("preinstall", "install", "postinstall")
DIST_FIELDS = ("tarball", "integrity", "shasum")
CACHE_FOLDER = "install-packuments"


def trim_for_install(document: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the fields a lockfile entry is written from; install scripts only by name."""
    found = document.get("versions")
    versions: Mapping[str, Any] = found if isinstance(found, dict) else {}
    trimmed: dict[str, Any] = {}
    for version, manifest in versions.items():
        if not isinstance(manifest, dict):
            continue
        kept = {key: manifest[key] for key in INSTALL_FIELDS if key in manifest}
        dist = manifest.get("dist")
        if isinstance(dist, dict):
            kept["dist"] = {key: dist[key] for key in DIST_FIELDS if key in dist}
        scripts = manifest.get("scripts")
        if isinstance(scripts, dict):
            install = {key: scripts[key] for key in INSTALL_SCRIPTS if key in scripts}
            if install:
                kept["scripts"] = install
        trimmed[version] = kept
    return {"name": document.get("name"), "dist-tags": dict(document.get("dist-tags") or {}), "versions": trimmed}


def install_packuments(settings: Settings) -> PackumentCache:
    """The run's packuments for fixing: the configured registry (``.npmrc`` auth) through a cache;
    ``--offline`` reads the cache only."""
    from npmaudit.advisories.selection import http_settings, npm_config

    fetch = None
    if not settings.offline:
        from npmaudit.http import HttpClient

        config = npm_config(settings)
        client = HttpClient("npm registry (packuments)", http_settings(settings), config)
        # Unlike npm's report, a fix never reads a refused packument as one without versions:
        # the fetcher's PackumentRefused ends the run.
        fetch = registry_fetcher(client, config.registry_for)
    return PackumentCache(settings.cache_dir / CACHE_FOLDER, fetch, offline=settings.offline, trim=trim_for_install)
