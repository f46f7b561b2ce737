"""``--osv``: the OSV API online (``/v1/querybatch`` then ``/v1/vulns/{id}``).

querybatch answers only ``id`` and ``modified`` for each vuln (npm_ex stopped there, so its
``--osv`` never matched anything: docs/npm_ex.md). Every id is therefore
*hydrated* with ``GET /v1/vulns/{id}``, concurrently but bounded, except ids whose ``modified``
equals a copy the caller already holds (the local store plugs in through ``known``).

Queries go in chunks of at most 1000 (OSV's limit), chunks are sent concurrently, and each query
whose result carries ``next_page_token`` is asked again with that token until the answer ends.
Any failure (network, HTTP, JSON, shape) raises :class:`~npmaudit.errors.SourceError`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from npmaudit import TYPE_CHECKING
from npmaudit.advisories.model import Advisory, AdvisoryFormatError
from npmaudit.advisories.source import KnownRecords, SourceInfo
from npmaudit.errors import SourceError
from npmaudit.http import HttpClient
from npmaudit.npmrc import redact_url
from npmaudit.project.model import PackageRef, Project
from npmaudit.records import record_class
from npmaudit.settings import DEFAULT_OSV_URL

if TYPE_CHECKING:
    from typing import Any

CONFIG_OSV_URL = "osv-url"
BATCH_SIZE = 1000  # OSV's documented maximum number of queries per querybatch
MAX_PAGES = 1000  # per query: a server that never stops paging is a broken server
DEFAULT_WORKERS = 64  # osv-scanner hydrates with up to 1000 at once; 64 keeps a 3,000-package audit under 1 s
SOURCE_NAME = "OSV API"


class KnownAdvisories:
    """What the caller already holds, so unchanged records are not fetched again.

    ``modified(id)`` gives the stored copy's ``modified`` (or None); ``get(id)`` the stored copy.
    The SQLite store implements both; the default holds nothing.
    """

    def modified(self, advisory_id: str) -> str | None:
        return None

    def get(self, advisory_id: str) -> Advisory | None:
        return None


@record_class(frozen=True)
class CallableKnown(KnownAdvisories):
    """Adapts two callables (e.g. bound methods of a store) to :class:`KnownAdvisories`."""

    known_modified: Callable[[str], str | None]
    load: Callable[[str], Advisory | None]

    def modified(self, advisory_id: str) -> str | None:
        return self.known_modified(advisory_id)

    def get(self, advisory_id: str) -> Advisory | None:
        return self.load(advisory_id)


@record_class(frozen=True)
class OsvFetchStats:
    queries: int
    batch_requests: int
    hydrated: int  # records fetched with /v1/vulns/{id}
    reused: int  # records taken from the caller's copy (same modified)


class OsvApiSource:
    """An :class:`~npmaudit.advisories.source.AdvisorySource` over the OSV API."""

    kind = "osv-api"

    def __init__(
        self,
        client: HttpClient,
        base_url: str = DEFAULT_OSV_URL,
        known: KnownRecords | None = None,
        workers: int = DEFAULT_WORKERS,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.client = client
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.known = known or KnownAdvisories()
        self.workers = max(1, workers)
        self.batch_size = max(1, min(batch_size, BATCH_SIZE))
        self.stats: OsvFetchStats | None = None
        self.fetched: list[Advisory] = []  # records hydrated in the last call (for write-back)

    def prepare(self, project: Project, omit: frozenset[str]) -> OsvApiSource:
        """The same answers for every project: nothing to bind."""
        return self

    def info(self) -> SourceInfo:
        details: dict[str, Any] = {}
        if self.stats is not None:
            details = {"hydrated": self.stats.hydrated, "reused": self.stats.reused}
        return SourceInfo(self.kind, redact_url(self.base_url), None, None, details)

    def advisories_for(self, packages: Collection[PackageRef]) -> Mapping[str, Sequence[Advisory]]:
        refs = list(dict.fromkeys(packages))  # unique, order kept
        prime = getattr(self.known, "prime", None)
        if callable(prime):
            prime(refs)  # let a local cache look up these packages once
        ids_by_ref, modified, batches = self._query(refs)
        records = self._hydrate(modified)
        found: dict[str, dict[str, Advisory]] = {}
        for ref, ids in zip(refs, ids_by_ref, strict=True):
            bucket = found.setdefault(ref.name, {})
            for advisory_id in ids:
                advisory = records[advisory_id]
                if ref.name not in advisory.package_names:
                    # Matching tests the record's own entries for this name: a hit whose record does
                    # not list the package would be dropped without a word. The answer is wrong.
                    raise SourceError(
                        SOURCE_NAME,
                        f"querybatch answered {advisory_id} for {ref}, but that record does not name "
                        f"the npm package {ref.name}",
                    )
                bucket[advisory_id] = advisory
        self.stats = OsvFetchStats(len(refs), batches, len(self.fetched), len(records) - len(self.fetched))
        return {name: list(advisories.values()) for name, advisories in found.items() if advisories}

    # --- querybatch ---------------------------------------------------------------------------

    def _query(self, refs: list[PackageRef]) -> tuple[list[dict[str, None]], dict[str, str], int]:
        """Ids (an ordered set per ref) and their ``modified``, for every ref, pages followed."""
        ids_by_ref: list[dict[str, None]] = [{} for _ in refs]
        modified: dict[str, str] = {}
        pending: list[tuple[int, str | None]] = [(index, None) for index in range(len(refs))]
        pages = 0
        batches = 0
        while pending:
            pages += 1
            if pages > MAX_PAGES:
                raise SourceError(SOURCE_NAME, f"querybatch pagination did not end after {MAX_PAGES} pages")
            chunks = [pending[i : i + self.batch_size] for i in range(0, len(pending), self.batch_size)]
            batches += len(chunks)
            with ThreadPoolExecutor(max_workers=min(self.workers, len(chunks))) as pool:
                answers = list(pool.map(lambda chunk: self._batch(refs, chunk), chunks))
            pending = []
            for chunk, results in zip(chunks, answers, strict=True):
                for (index, _token), result in zip(chunk, results, strict=True):
                    vulns, next_token = result
                    for advisory_id, when in vulns:
                        ids_by_ref[index][advisory_id] = None
                        if when > modified.get(advisory_id, ""):
                            modified[advisory_id] = when
                        else:
                            modified.setdefault(advisory_id, when)
                    if next_token:
                        pending.append((index, next_token))
        return ids_by_ref, modified, batches

    def _batch(
        self, refs: list[PackageRef], chunk: list[tuple[int, str | None]]
    ) -> list[tuple[list[tuple[str, str]], str | None]]:
        queries = []
        for index, token in chunk:
            query: dict[str, Any] = {
                "package": {"name": refs[index].name, "ecosystem": "npm"},
                "version": refs[index].version,
            }
            if token:
                query["page_token"] = token
            queries.append(query)
        document = self.client.post_json(self.base_url + "v1/querybatch", {"queries": queries})
        return _parse_batch(document, len(queries))

    # --- hydration ----------------------------------------------------------------------------

    def _hydrate(self, modified: Mapping[str, str]) -> dict[str, Advisory]:
        records: dict[str, Advisory] = {}
        to_fetch = []
        for advisory_id, when in modified.items():
            if when and self.known.modified(advisory_id) == when:
                stored = self.known.get(advisory_id)
                if stored is not None:
                    records[advisory_id] = stored
                    continue
            to_fetch.append(advisory_id)
        self.fetched = []
        if to_fetch:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(to_fetch))) as pool:
                for advisory in pool.map(self._fetch_one, to_fetch):
                    records[advisory.id] = advisory
                    self.fetched.append(advisory)
        missing = [i for i in modified if i not in records]
        if missing:  # a record whose id differs from the one asked for
            raise SourceError(SOURCE_NAME, f"GET v1/vulns/{missing[0]} answered a record with another id")
        return records

    def _fetch_one(self, advisory_id: str) -> Advisory:
        url = self.base_url + "v1/vulns/" + quote(advisory_id, safe="", errors="surrogatepass")
        document = self.client.get_json(url).data
        try:
            advisory = Advisory.from_osv(document)
        except AdvisoryFormatError as error:
            raise SourceError(SOURCE_NAME, f"unexpected record from {redact_url(url)}: {error}") from None
        if advisory.id != advisory_id:
            raise SourceError(SOURCE_NAME, f"{redact_url(url)} answered record {advisory.id}")
        return advisory


def _parse_batch(document: Any, expected: int) -> list[tuple[list[tuple[str, str]], str | None]]:
    """Validate a querybatch answer: ``{"results": [{"vulns": [{id, modified}], "next_page_token"}]}``."""
    if not isinstance(document, dict) or not isinstance(document.get("results"), list):
        raise SourceError(SOURCE_NAME, "unexpected querybatch answer: no 'results' list")
    results = document["results"]
    if len(results) != expected:
        raise SourceError(SOURCE_NAME, f"unexpected querybatch answer: {len(results)} results for {expected} queries")
    parsed = []
    for result in results:
        if not isinstance(result, dict):
            raise SourceError(SOURCE_NAME, "unexpected querybatch answer: a result is not an object")
        vulns = result.get("vulns") or []
        token = result.get("next_page_token") or None
        if not isinstance(vulns, list) or (token is not None and not isinstance(token, str)):
            raise SourceError(SOURCE_NAME, "unexpected querybatch answer: 'vulns' is not a list")
        entries = []
        for vuln in vulns:
            if not isinstance(vuln, dict) or not isinstance(vuln.get("id"), str) or not vuln["id"]:
                raise SourceError(SOURCE_NAME, "unexpected querybatch answer: a vuln has no string 'id'")
            when = vuln.get("modified")
            entries.append((vuln["id"], when if isinstance(when, str) else ""))
        parsed.append((entries, token))
    return parsed
