"""What ``npmaudit signatures`` asks registries: keys, packuments (full documents: the per-version
``time`` and ``dist`` are needed) and attestation replies, each from the package's own registry with
the credentials ``.npmrc`` gives it (:class:`npmaudit.http.HttpClient`).

Packuments are kept on disk trimmed to what the checks read and revalidated with their etag; attestation
replies never change for a published version and are kept as they are. The shared packument cache of
npm's report (``npmaudit.registry.packuments``) keeps abbreviated documents without ``time``, which this
check cannot use. A registry that cannot be queried raises :class:`~npmaudit.errors.SourceError` (exit 3);
a 404 is an answer (no keys, no such package), never an empty pass.
"""

from __future__ import annotations

import gzip
import json
import threading
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from npmaudit import textfile
from npmaudit.atomicfile import atomic_replace
from npmaudit.errors import InputError, SourceError
from npmaudit.http import HttpClient, HttpError
from npmaudit.trust.keys import KEYS_PATH, MalformedKeys, RegistryKey, parse_keys
from npmaudit.trust.tarball_url import host_of

DIST_FIELDS = ("integrity", "shasum", "tarball", "signatures", "attestations")


def trim_packument(document: Mapping[str, Any]) -> dict[str, Any]:
    versions = document.get("versions") if isinstance(document.get("versions"), dict) else {}
    raw_times = document.get("time")
    times: Mapping[str, Any] = raw_times if isinstance(raw_times, dict) else {}
    trimmed: dict[str, Any] = {}
    for version, manifest in (versions or {}).items():
        dist = manifest.get("dist") if isinstance(manifest, dict) else None
        if isinstance(dist, dict):
            trimmed[version] = {"dist": {k: dist[k] for k in DIST_FIELDS if k in dist}}
    return {"name": document.get("name"), "versions": trimmed, "time": {k: v for k, v in times.items() if k in trimmed}}


class RegistryData:
    """Thread-safe; one per run. ``cache_dir`` None keeps nothing on disk."""

    def __init__(self, client: HttpClient, cache_dir: Path | None) -> None:
        self.client = client
        self.cache_dir = cache_dir
        self._keys: dict[str, tuple[RegistryKey, ...] | None] = {}
        self._down: dict[str, SourceError] = {}
        self._lock = threading.Lock()

    def _get(self, registry: str, url: str, **kwargs: Any) -> Any:
        """``client.get_json``; a registry that could not be reached at all (no HTTP answer) is not asked
        again in this run: its other packages fail at once with the same error."""
        down = self._down.get(registry)
        if down is not None:
            # Its own URL, not the one that failed: each package's line must name what it needed.
            raise HttpError(down.source, f"GET {url}: not asked: this registry gave no answer earlier ({down.reason})")
        try:
            return self.client.get_json(url, **kwargs)
        except HttpError as error:
            if error.status is None:
                self._down.setdefault(registry, error)
            raise

    def keys(self, registry: str) -> tuple[RegistryKey, ...] | None:
        """The registry's signing keys; None when it publishes none (404/400, as npm reads it)."""
        with self._lock:  # one fetch per registry, however many workers ask at once
            if registry not in self._keys:
                self._keys[registry] = self._fetch_keys(registry)
            return self._keys[registry]

    def _fetch_keys(self, registry: str) -> tuple[RegistryKey, ...] | None:
        url = registry.rstrip("/") + "/" + KEYS_PATH
        try:
            document = self._get(registry, url).data
        except HttpError as error:
            if error.status in (400, 404):
                keys = None
            else:
                raise
        else:
            try:
                keys = parse_keys(document)
            except MalformedKeys as error:
                raise SourceError(self.client.source, f"{url}: unusable keys: {error}") from None
        return keys

    def packument(self, name: str, registry: str) -> dict[str, Any] | None:
        """The trimmed full packument; None when the registry has no such package (404)."""
        escaped = urllib.parse.quote(name, safe="@")  # @scope%2fname, as npm asks
        url = registry.rstrip("/") + "/" + escaped
        path = self._path("packuments", registry, escaped)
        cached = _read(path)
        try:
            response = self._get(
                registry, url, headers={"accept": "application/json"}, etag=cached.get("etag") if cached else None
            )
        except HttpError as error:
            if error.status == 404:
                return None
            raise
        if response.not_modified and cached is not None:
            packument = cached.get("packument")
            return packument if isinstance(packument, dict) else None
        if not isinstance(response.data, dict):
            raise SourceError(self.client.source, f"{url}: the packument is not a JSON object")
        packument = trim_packument(response.data)
        _write(path, {"etag": response.etag, "packument": packument})
        return packument

    def attestations(self, url: str, registry: str) -> Any:
        """An attestations reply: the URL's path asked of the package's own registry (npm 11's rule)."""
        parsed = urllib.parse.urlsplit(url)
        target = urllib.parse.urljoin(registry, parsed.path)  # pacote: new URL(path, registry)
        if not parsed.path:
            raise SourceError(self.client.source, f"attestations URL without a path: {url}")
        path = self._path("attestations", registry, urllib.parse.quote(parsed.path, safe=""))
        cached = _read(path)
        if cached is not None:
            return cached.get("reply")
        reply = self._get(registry, target).data
        _write(path, {"reply": reply})
        return reply

    def _path(self, kind: str, registry: str, name: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / kind / urllib.parse.quote(host_of(registry), safe="") / (name + ".json.gz")


def _read(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        entry = json.loads(gzip.decompress(textfile.read_bytes(path)))  # never a FIFO or a device
    except (OSError, ValueError, EOFError, InputError):
        return None  # an unreadable cache entry is a miss, never an error
    return entry if isinstance(entry, dict) else None


def _write(path: Path | None, entry: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_replace(path, "wb") as stream:
        stream.write(gzip.compress(json.dumps(entry, separators=(",", ":")).encode(), mtime=0))
