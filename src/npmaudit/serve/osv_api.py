"""The OSV API v1 over the store: ``POST /v1/query``, ``POST /v1/querybatch``, ``GET /v1/vulns/{id}``.

Semantics follow OSV's API for the npm ecosystem:

* a query names a package by ``{name, ecosystem: "npm"}`` or by ``purl`` (``pkg:npm/...``), with
  an optional ``version``; with a version the answer is every active record that affects that
  version (tested by :func:`npmaudit.advisories.matching.affects`, the matcher ``--compromised``
  uses), without one every active record of the package;
* ``/v1/query`` answers full records, ``/v1/querybatch`` (at most 1000 queries) only ``id`` and
  ``modified`` for each, as OSV does; a result with no vulnerability is ``{}``;
* a result longer than the page size ends with ``next_page_token``; the client asks the same query
  again with ``page_token``. Results are ordered by id and a token holds the last id given (and
  the query it belongs to), so pages stay consistent when a ``db update`` lands between two pages;
* ``GET /v1/vulns/{id}`` answers the record stored under that id, or 404.

Other ecosystems and commit queries are refused with 400: this server holds npm data only, and an
empty answer for them would read as "no vulnerabilities".
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from npmaudit.advisories.matching import affects
from npmaudit.advisories.model import Advisory
from npmaudit.advisories.store import AdvisoryStore
from npmaudit.records import record_class
from npmaudit.serve.config import MAX_BATCH_QUERIES
from npmaudit.serve.npm_bulk import check_name
from npmaudit.serve.wire import ClientError

ECOSYSTEM = "npm"
PURL_PREFIX = "pkg:npm/"


@record_class(frozen=True)
class OsvQuery:
    name: str
    version: str | None
    after: str | None  # the last id of the previous page


@record_class(frozen=True)
class OsvResult:
    vulns: list[Advisory]
    next_page_token: str | None


def parse_query(query: Any, where: str = "query") -> OsvQuery:
    if not isinstance(query, dict):
        raise ClientError(400, f"{where} must be a JSON object")
    if query.get("commit"):
        raise ClientError(400, f"{where}: commit queries are not served (npm packages only)")
    package = query.get("package")
    if not isinstance(package, dict):
        raise ClientError(400, f"{where}: 'package' must be an object with name and ecosystem, or purl")
    version = query.get("version")
    if version is not None and (not isinstance(version, str) or len(version) > 256):
        raise ClientError(400, f"{where}: 'version' must be a string")
    version = version or None
    purl = package.get("purl")
    if purl is not None:
        if package.get("name") or package.get("ecosystem"):
            raise ClientError(400, f"{where}: give either purl or name and ecosystem")
        name, purl_version = _parse_purl(purl, where)
        if purl_version is not None and version is not None:
            raise ClientError(400, f"{where}: the version is given twice (purl and 'version')")
        version = version or purl_version
    else:
        ecosystem = package.get("ecosystem")
        if ecosystem != ECOSYSTEM:
            raise ClientError(400, f"{where}: ecosystem {ecosystem!r} is not served (only {ECOSYSTEM!r})")
        name = check_name(package.get("name"))
    token = query.get("page_token")
    after = _read_token(token, name, version, where) if token else None
    return OsvQuery(name, version, after)


def _parse_purl(purl: Any, where: str) -> tuple[str, str | None]:
    if not isinstance(purl, str) or not purl.startswith(PURL_PREFIX):
        raise ClientError(400, f"{where}: purl must start with {PURL_PREFIX!r} (npm packages only)")
    rest = purl[len(PURL_PREFIX) :].split("?", 1)[0].split("#", 1)[0]
    at = rest.rfind("@")
    name, version = (rest[:at], unquote(rest[at + 1 :])) if at > 0 else (rest, None)
    return check_name(unquote(name)), version or None


def _token(name: str, version: str | None, after: str) -> str:
    raw = json.dumps({"q": [name, version], "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: Any, name: str, version: str | None, where: str) -> str:
    try:
        if not isinstance(token, str) or len(token) > 4096:
            raise ValueError
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after = decoded["after"]
        if decoded["q"] != [name, version] or not isinstance(after, str):
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ClientError(400, f"{where}: invalid page_token (not one this server gave for this query)") from None
    return after


def answer_queries(store: AdvisoryStore, queries: Sequence[OsvQuery], page_size: int) -> list[OsvResult]:
    found = store.lookup(sorted({q.name for q in queries}))
    return [_result(query, found, page_size) for query in queries]


def _result(query: OsvQuery, found: Mapping[str, list[Advisory]], page_size: int) -> OsvResult:
    candidates = {
        advisory.id: advisory
        for advisory in found.get(query.name, ())
        if not advisory.withdrawn
        and (
            query.name in advisory.package_names
            if query.version is None
            else affects(advisory, query.name, query.version)
        )
    }
    ordered = [candidates[key] for key in sorted(candidates) if query.after is None or key > query.after]
    page = ordered[:page_size]
    token = _token(query.name, query.version, page[-1].id) if len(ordered) > page_size else None
    return OsvResult(page, token)


def parse_batch(document: Any) -> list[OsvQuery]:
    if not isinstance(document, dict) or not isinstance(document.get("queries"), list):
        raise ClientError(400, 'the querybatch request must be {"queries": [...]}')
    queries = document["queries"]
    if len(queries) > MAX_BATCH_QUERIES:
        raise ClientError(400, f"too many queries: {len(queries)} (at most {MAX_BATCH_QUERIES})")
    return [parse_query(query, f"queries[{index}]") for index, query in enumerate(queries)]


def query_document(result: OsvResult) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if result.vulns:
        document["vulns"] = [dict(advisory.record) for advisory in result.vulns]
    if result.next_page_token:
        document["next_page_token"] = result.next_page_token
    return document


def batch_document(results: Sequence[OsvResult]) -> dict[str, Any]:
    documents = []
    for result in results:
        document: dict[str, Any] = {}
        if result.vulns:
            document["vulns"] = [{"id": a.id, "modified": a.modified} for a in result.vulns]
        if result.next_page_token:
            document["next_page_token"] = result.next_page_token
        documents.append(document)
    return {"results": documents}
