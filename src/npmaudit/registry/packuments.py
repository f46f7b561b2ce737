"""Packuments (a package's published versions and their manifests) behind one small interface, so
that npm's report (and any command choosing versions) reads fixtures in tests and the registry in use.

A provider is any callable ``(name) -> packument | None``; None means "not available", which npm
treats as a package with no versions (every version counts as vulnerable, the range becomes "").

:class:`PackumentCache` keeps abbreviated packuments on disk, trimmed to what the report reads,
revalidates them with the registry's etag (conditional GET), and in offline mode answers from
disk only, remembering which names it could not answer so the caller can say which dependents
could not be evaluated.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from npmaudit import textfile
from npmaudit.errors import InputError

# Fields of a version that metavuln-calculator and npm-pick-manifest read.
VERSION_FIELDS = (
    "name",
    "version",
    "dependencies",
    "optionalDependencies",
    "peerDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "deprecated",
    "engines",
)
# npm asks for the abbreviated ("corgi") document, as pacote.packument does.
CORGI_ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"


class PackumentProvider(Protocol):
    def __call__(self, name: str) -> dict[str, Any] | None: ...


def trim_packument(document: Mapping[str, Any]) -> dict[str, Any]:
    found = document.get("versions")
    versions: Mapping[str, Any] = found if isinstance(found, dict) else {}
    return {
        "name": document.get("name"),
        "dist-tags": dict(document.get("dist-tags") or {}),
        "versions": {
            version: {k: manifest[k] for k in VERSION_FIELDS if k in manifest}
            for version, manifest in versions.items()
            if isinstance(manifest, dict)
        },
    }


class MappingPackuments:
    """Packuments from a mapping (fixtures, or documents already fetched)."""

    def __init__(self, documents: Mapping[str, dict[str, Any] | None]) -> None:
        self._documents = documents

    def __call__(self, name: str) -> dict[str, Any] | None:
        return self._documents.get(name)


# fetch(name, etag) -> (status, document or None, etag); status 304 keeps the cached copy.
Fetcher = Callable[[str, str | None], tuple[int, dict[str, Any] | None, str | None]]


class PackumentCache:
    def __init__(self, directory: Path, fetch: Fetcher | None = None, *, offline: bool = False) -> None:
        self.directory = directory
        self._fetch = fetch
        self.offline = offline or fetch is None
        self.missing: list[str] = []

    def _path(self, name: str) -> Path:
        return self.directory / (urllib.parse.quote(name, safe="@", errors="surrogatepass") + ".json.gz")

    def _read(self, name: str) -> dict[str, Any] | None:
        path = self._path(name)
        try:
            entry = json.loads(gzip.decompress(textfile.read_bytes(path)))  # never a FIFO or a device
        except (OSError, ValueError, InputError):
            return None  # an unreadable cache entry is a cache miss, never an error
        return entry if isinstance(entry, dict) else None

    def _write(self, name: str, entry: dict[str, Any]) -> None:
        try:
            self._replace(name, entry)
        except OSError as error:  # read-only, full, or not a directory: a usage problem, not a bug
            raise InputError(
                self.directory,
                f"cannot write the packument cache: {error.strerror or error} (set NPMAUDIT_CACHE_DIR to a writable "
                "directory)",
            ) from None

    def _replace(self, name: str, entry: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = gzip.compress(json.dumps(entry, separators=(",", ":")).encode(), mtime=0)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".packument-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self._path(name))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __call__(self, name: str) -> dict[str, Any] | None:
        cached = self._read(name)
        if self.offline or self._fetch is None:
            if cached is None:
                self.missing.append(name)
                return None
            return cached.get("packument")
        status, document, etag = self._fetch(name, cached.get("etag") if cached else None)
        if status == 304 and cached is not None:
            return cached.get("packument")
        if document is None:
            self._write(name, {"etag": None, "packument": None})
            return None
        packument = trim_packument(document)
        self._write(name, {"etag": etag, "packument": packument})
        return packument


def registry_fetcher(client: Any, registry_for: Callable[[str], str]) -> Fetcher:
    """A fetcher over npmaudit.http.HttpClient: GET <registry>/<escaped name> (corgi), with etag.

    A 404 (or any client error) gives no document, as pacote's failure gives npm an empty packument.
    """
    from npmaudit.http import HttpError

    def fetch(name: str, etag: str | None) -> tuple[int, dict[str, Any] | None, str | None]:
        url = registry_for(name).rstrip("/") + "/" + urllib.parse.quote(name, safe="@", errors="surrogatepass")
        try:
            response = client.get_json(url, headers={"accept": CORGI_ACCEPT}, etag=etag)
        except HttpError as error:
            if error.status is not None and 400 <= error.status < 500:
                return error.status, None, None
            raise
        if response.not_modified:
            return 304, None, etag
        data = response.data if isinstance(response.data, dict) else None
        return response.status, data, response.etag

    return fetch
