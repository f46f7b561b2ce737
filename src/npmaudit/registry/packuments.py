"""Packuments (a package's published versions and their manifests) behind one small interface, so
that npm's report (and any command choosing versions) reads fixtures in tests and the registry in use.

A provider is any callable ``(name) -> packument | None``; None means "not available", which npm
treats as a package with no versions (every version counts as vulnerable, the range becomes "").
A registry that refuses a packument (401, 403: any client error but 404) is not "no such package":
the fetcher raises :class:`PackumentRefused`, and :class:`RefusalsAsNpmDoes` lets npm's report go on
as npm does (no versions) while remembering each refusal, so the run can say it could not look.

:class:`PackumentCache` keeps abbreviated packuments on disk, trimmed once to what the report reads
(the versions' fields npm's calculator and pick-manifest use), and in offline mode answers from disk
only, remembering which names it could not answer so the caller can say which dependents could not
be evaluated. Online, a cached packument is used as it is while the registry's ``Cache-Control:
max-age`` says it is fresh, and revalidated with its etag (a conditional GET) after that, as an HTTP
cache does. Fetches run on a bounded pool of threads: :meth:`PackumentCache.prefetch` starts the
ones the caller will probably ask for (:class:`Prefetching` guesses them from the dependency graph),
so the report waits for one round trip per level of the tree instead of one per package.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from npmaudit import textfile
from npmaudit.errors import InputError, SourceError
from npmaudit.records import record_class

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


class Fetched(NamedTuple):
    """One answer of the registry: status 304 keeps the cached copy; ``fresh_for`` is how many more
    seconds the answer may be used without asking again (``max-age`` less ``Age``), None when the
    registry did not say (then every use revalidates)."""

    status: int
    document: dict[str, Any] | None
    etag: str | None
    fresh_for: float | None = None


# fetch(name, etag) -> Fetched (or the (status, document, etag) triple of a fetcher that knows no freshness).
Fetcher = Callable[[str, str | None], "Fetched | tuple[int, dict[str, Any] | None, str | None]"]

# Fetches in flight at once: enough to hide the registry's latency, few enough to stay polite.
DEFAULT_WORKERS = 16


def fresh_for(headers: Mapping[str, str]) -> float | None:
    """Seconds an answer stays fresh from its ``Cache-Control`` (and ``Age``) headers, or None.

    ``no-cache`` and ``no-store`` mean "ask every time"; ``s-maxage`` is for shared caches only.
    """
    directives: dict[str, str] = {}
    for part in (headers.get("cache-control") or "").split(","):
        name, _, value = part.strip().partition("=")
        directives[name.strip().lower()] = value.strip().strip('"')
    if "no-cache" in directives or "no-store" in directives:
        return None
    try:
        max_age = int(directives["max-age"])
    except (KeyError, ValueError):
        return None
    try:
        age = max(0, int((headers.get("age") or "0").strip()))
    except ValueError:
        age = 0
    return float(max_age - age) if max_age > age else None


class PackumentCache:
    def __init__(
        self,
        directory: Path,
        fetch: Fetcher | None = None,
        *,
        offline: bool = False,
        workers: int = DEFAULT_WORKERS,
        clock: Callable[[], float] = time.time,
        trim: Callable[[Mapping[str, Any]], dict[str, Any]] = trim_packument,
    ) -> None:
        """``trim`` keeps what the caller reads of a document (npm's report: :func:`trim_packument`)."""
        self.directory = directory
        self._fetch = fetch
        self._trim = trim
        self.offline = offline or fetch is None
        self.missing: list[str] = []
        self._workers = max(1, workers)
        self._clock = clock
        self._pool: ThreadPoolExecutor | None = None
        self._started: dict[str, Future[dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

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

    def prefetch(self, names: Iterable[str]) -> None:
        """Start fetching these packuments in the background (online only); asking for one of them
        later waits for its fetch instead of starting another. A failed fetch fails only the call
        that asks for that name: a name never asked for never fails the caller."""
        if self.offline:
            return
        with self._lock:
            for name in names:
                if name and name not in self._started:
                    if self._pool is None:
                        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="packuments")
                    self._started[name] = self._pool.submit(self._online, name)

    def close(self) -> None:
        """Drop the fetches nobody asked for yet and wait for those running."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._started.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> PackumentCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __call__(self, name: str) -> dict[str, Any] | None:
        if self.offline or self._fetch is None:
            cached = self._read(name)
            if cached is None:
                self.missing.append(name)
                return None
            return cached.get("packument")
        with self._lock:
            started = self._started.get(name)
            mine = started is None
            if started is None:  # fetched here, and remembered so that no prefetch fetches it again
                started = self._started[name] = Future()
        if mine:
            try:
                started.set_result(self._online(name))
            except BaseException as error:
                started.set_exception(error)
        return started.result()

    def _online(self, name: str) -> dict[str, Any] | None:
        assert self._fetch is not None
        cached = self._read(name)
        now = self._clock()
        if cached is not None:
            fresh_until = cached.get("freshUntil")
            if isinstance(fresh_until, int | float) and now < fresh_until:
                return cached.get("packument")  # still fresh: no request at all
        answer = Fetched(*self._fetch(name, cached.get("etag") if cached else None))
        fresh_until = now + answer.fresh_for if answer.fresh_for else None
        if answer.status == 304 and cached is not None:
            if fresh_until is not None:
                self._write(name, {**cached, "freshUntil": fresh_until})
            return cached.get("packument")
        if answer.document is None:
            self._write(name, {"etag": None, "packument": None, "freshUntil": fresh_until})
            return None
        packument = self._trim(answer.document)
        self._write(name, {"etag": answer.etag, "packument": packument, "freshUntil": fresh_until})
        return packument


class Prefetching:
    """A provider over a :class:`PackumentCache` that, asked for one package's packument, starts
    fetching those of the packages that depend on it: npm's report asks for a package's packument
    when an advisory concerns it, and then for its dependents' to see whether the advisory reaches
    them (a meta-vulnerability). ``first`` are fetched at once (the packages advisories name).

    Guessing changes only when a packument is fetched, never which packuments the report reads or
    what it computes: the walk asks for exactly the same names in the same order.
    """

    def __init__(self, cache: PackumentCache, first: Iterable[str], dependents: Mapping[str, Collection[str]]):
        self._cache = cache
        self._dependents = dependents
        cache.prefetch(first)

    def __call__(self, name: str) -> dict[str, Any] | None:
        self._cache.prefetch(self._dependents.get(name, ()))
        return self._cache(name)


@record_class(frozen=True)
class Refusal:
    """A packument the registry refused to give: who was asked and what it answered."""

    name: str
    registry: str  # without credentials
    status: int


class RefusalsAsNpmDoes:
    """A provider that reads a packument the registry refused (:class:`PackumentRefused`) as npm
    11 does, as a package without versions (metavuln-calculator's packument fetch turns any failure
    into an empty packument, and ``npm audit`` says nothing), and keeps each refusal in
    :attr:`refused` so that the caller can say the report rests on packuments nobody looked up."""

    def __init__(self, provider: PackumentProvider) -> None:
        self._provider = provider
        self.refused: list[Refusal] = []

    def __call__(self, name: str) -> dict[str, Any] | None:
        try:
            return self._provider(name)
        except PackumentRefused as refusal:
            self.refused.append(Refusal(refusal.name, refusal.registry, refusal.status))
            return None


def dependents_by_name(edges: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """``{package: [the packages that depend on it]}`` from (dependent, dependency) name pairs."""
    found: dict[str, dict[str, None]] = {}
    for dependent, dependency in edges:
        if dependent != dependency:
            found.setdefault(dependency, {})[dependent] = None
    return {name: list(names) for name, names in found.items()}


class PackumentRefused(SourceError):
    """The registry answered a packument request with a client error that does not mean "no such
    package" (401, 403, ...): nobody looked. ``registry`` is shown without credentials."""

    def __init__(self, source: str, reason: str, *, name: str, registry: str, status: int) -> None:
        super().__init__(source, reason)
        self.name = name
        self.registry = registry
        self.status = status


def registry_fetcher(client: Any, registry_for: Callable[[str], str]) -> Fetcher:
    """A fetcher over npmaudit.http.HttpClient: GET <registry>/<escaped name> (corgi), with etag and
    the answer's freshness (``Cache-Control``).

    A 404 gives no document (the registry has no such package); any other client error raises
    :class:`PackumentRefused` (credentials refused, or some other refusal to answer), and any other
    failure the client's own error. npm's report reads a refusal as npm does through
    :class:`RefusalsAsNpmDoes`; a fix never does.
    """
    from npmaudit.http import HttpError
    from npmaudit.npmrc import redact_url

    def fetch(name: str, etag: str | None) -> Fetched:
        registry = registry_for(name)
        url = registry.rstrip("/") + "/" + urllib.parse.quote(name, safe="@", errors="surrogatepass")
        headers = {"accept": CORGI_ACCEPT}
        if etag:
            headers["if-none-match"] = etag
        try:
            response = client.request("GET", url, headers=headers, ok=(200, 304) if etag else (200,))
        except HttpError as error:
            if error.status == 404:
                return Fetched(error.status, None, None)
            if error.status is not None and 400 <= error.status < 500:
                raise PackumentRefused(
                    error.source, error.reason, name=name, registry=redact_url(registry), status=error.status
                ) from None
            raise
        freshness = fresh_for(response.headers)
        if response.status == 304:
            return Fetched(304, None, response.headers.get("etag") or etag, freshness)
        data = client.decode_json(response)
        if not isinstance(data, dict):  # an answer, but no packument: never read as "no such package"
            kind = "null" if data is None else type(data).__name__
            raise SourceError(client.source, f"GET {redact_url(url)}: not a packument (a JSON {kind}, not an object)")
        return Fetched(response.status, data, response.headers.get("etag"), freshness)

    return fetch
