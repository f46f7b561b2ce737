"""The ASGI application: routing, limits, errors as JSON, access logs, lifespan.

Every request gets one answer within ``request_timeout`` seconds (body upload included): a
malformed one a 4xx with ``{"error": ...}`` (OSV paths: OSV's ``{"code", "message"}``), a store
that cannot be read a 503, and a bug a 500 whose body names only the exception type; the
traceback goes to the server's log, never to the client. Each answered request is logged as one
JSON object on the ``npmaudit.serve.access`` logger (the CLI writes it to stderr).

Decoding, parsing and store lookups run on the reader threads (:class:`StoreReaders`), so a large
request never stalls the event loop that accepts the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from npmaudit.advisories.source import SourceInfo
from npmaudit.advisories.store import AdvisoryStore
from npmaudit.auditing.freshness import data_age
from npmaudit.errors import InputError
from npmaudit.serve import osv_api
from npmaudit.serve.config import ServeConfig
from npmaudit.serve.npm_bulk import bulk_answer, bulk_request
from npmaudit.serve.quick import quick_answer
from npmaudit.serve.readers import StoreReaders
from npmaudit.serve.upstream import Upstream
from npmaudit.serve.wire import (
    Answer,
    ClientError,
    Disconnected,
    Receive,
    Scope,
    Send,
    decode_body,
    headers_of,
    json_answer,
    parse_json,
    read_body,
    send_answer,
)

ACCESS_LOG = logging.getLogger("npmaudit.serve.access")
SERVER_LOG = logging.getLogger("npmaudit.serve")

BULK_PATH = "/-/npm/v1/security/advisories/bulk"
QUICK_PATHS = ("/-/npm/v1/security/audits/quick", "/-/npm/v1/security/audits")
HEALTH_PATH = "/-/npmaudit/health"
VULNS_PREFIX = "/v1/vulns/"
POST_PATHS = (BULK_PATH, *QUICK_PATHS, "/v1/query", "/v1/querybatch")


class Request:
    """What a handler needs of a request: method, path, headers, and the body, read on demand."""

    def __init__(self, scope: Scope, receive: Receive, limit: int) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        self.raw_target = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        self.headers = headers_of(scope)
        self._receive = receive
        self._limit = limit
        self.bytes_in = 0

    async def body(self) -> bytes:
        raw = await read_body(self._receive, self.headers, self._limit)
        self.bytes_in = len(raw)
        return raw


Work = Callable[[AdvisoryStore], Any]


class ServeApp:
    """The ASGI callable. ``upstream``: where other GETs go (None: 404)."""

    def __init__(self, config: ServeConfig, readers: StoreReaders, upstream: Upstream | None = None) -> None:
        self.config = config
        self.readers = readers
        self.upstream = upstream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        # websocket: not served; uvicorn closes it

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def close(self) -> None:
        self.readers.close()
        if self.upstream is not None:
            self.upstream.close()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request = Request(scope, receive, self.config.max_body)
        osv_style = request.path.startswith("/v1/")
        try:
            answer = await asyncio.wait_for(self._route(request), self.config.request_timeout)
        except ClientError as error:
            answer = _error(error.status, error.message, osv_style)
        except Disconnected:
            self._log(scope, request, 499, 0, started)
            return
        except TimeoutError:
            answer = _error(503, f"request not answered within {self.config.request_timeout:g} s", osv_style)
        except InputError as error:  # the store could not be read (damaged, locked past the timeout)
            SERVER_LOG.error("store error: %s", error)
            answer = _error(503, f"advisory store unavailable: {error.problem}", osv_style)
        except Exception as error:  # a bug: the client learns only that, the log has the traceback
            SERVER_LOG.exception("internal error on %s %s", request.method, request.path)
            answer = _error(500, f"internal error ({type(error).__name__})", osv_style)
        await send_answer(send, answer, head=request.method == "HEAD")
        self._log(scope, request, answer.status, len(answer.body), started)

    async def _route(self, request: Request) -> Answer:
        method, path = request.method, request.path
        if method == "POST":
            if path == BULK_PATH:
                return await self._with_body(request, _bulk)
            if path in QUICK_PATHS:
                return await self._with_body(request, _quick)
            if path == "/v1/query":
                return await self._with_body(request, self._osv_query)
            if path == "/v1/querybatch":
                return await self._with_body(request, self._osv_batch)
            raise ClientError(404, f"no such endpoint: POST {path[:200]}")
        if method in ("GET", "HEAD"):
            if path in POST_PATHS:
                raise ClientError(405, f"{path} answers POST only")
            if path == HEALTH_PATH:
                return await self._health()
            if path.startswith(VULNS_PREFIX):
                return await self._vuln(unquote(path[len(VULNS_PREFIX) :]))
            if path.startswith("/v1/"):
                raise ClientError(404, f"no such endpoint: GET {path[:200]}")
            return await self._forward(request)
        raise ClientError(405, f"method {method} not allowed")

    async def _with_body(self, request: Request, handle: Callable[[AdvisoryStore, Any], Any]) -> Answer:
        raw = await request.body()
        limit = self.config.max_body

        def work(store: AdvisoryStore) -> Answer:
            document = parse_json(decode_body(raw, request.headers, limit))
            return json_answer(handle(store, document))

        answer: Answer = await self.readers.read(work)
        return answer

    def _osv_query(self, store: AdvisoryStore, document: Any) -> Any:
        query = osv_api.parse_query(document)
        [result] = osv_api.answer_queries(store, [query], self.config.page_size)
        return osv_api.query_document(result)

    def _osv_batch(self, store: AdvisoryStore, document: Any) -> Any:
        queries = osv_api.parse_batch(document)
        return osv_api.batch_document(osv_api.answer_queries(store, queries, self.config.page_size))

    async def _vuln(self, vuln_id: str) -> Answer:
        if not vuln_id or "/" in vuln_id or len(vuln_id) > 256:
            raise ClientError(404, "Bug not found.")
        record = await self.readers.read(lambda store: store.record(vuln_id))
        if record is None:
            raise ClientError(404, "Bug not found.")
        return json_answer(record)

    async def _health(self) -> Answer:
        try:
            info: SourceInfo = await self.readers.read(lambda store: store.info(), fresh=True)
        except InputError as error:
            return json_answer({"status": "unavailable", "error": error.problem}, 503)
        age = data_age(info)
        return json_answer(
            {
                "status": "ok",
                "store": info.location,
                "records": info.records,
                "updated": info.details.get("updated"),
                "synced": info.details.get("synced"),
                "dataModified": info.newest_modified,
                "age": age.to_json() if age is not None else None,
            }
        )

    async def _forward(self, request: Request) -> Answer:
        if self.upstream is None:
            raise ClientError(404, f"not found: {request.path[:200]} (no --upstream registry to forward it to)")
        if not request.raw_target.startswith("/"):
            raise ClientError(400, "invalid request target")
        loop = asyncio.get_running_loop()
        upstream = self.upstream
        answer: Answer = await loop.run_in_executor(None, upstream.get, request.raw_target, request.headers)
        return answer

    def _log(self, scope: Scope, request: Request, status: int, size: int, started: float) -> None:
        if not ACCESS_LOG.isEnabledFor(logging.INFO):
            return
        client = scope.get("client") or ("", 0)
        entry = {
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "client": f"{client[0]}:{client[1]}",
            "method": request.method,
            "path": request.path[:500],
            "status": status,
            "bytes_in": request.bytes_in,
            "bytes_out": size,
            "ms": round((time.perf_counter() - started) * 1000, 2),
            "user_agent": request.headers.get("user-agent", "")[:200],
        }
        ACCESS_LOG.info(json.dumps(entry, separators=(",", ":")))


def _bulk(store: AdvisoryStore, document: Any) -> Any:
    return bulk_answer(store, bulk_request(document))


def _quick(store: AdvisoryStore, document: Any) -> Any:
    return quick_answer(store, document)


def _error(status: int, message: str, osv_style: bool) -> Answer:
    if osv_style:  # OSV's API answers errors as a gRPC status: 3 invalid argument, 5 not found
        code = {400: 3, 404: 5, 413: 3, 415: 3, 405: 12, 503: 14, 500: 13}.get(status, 2)
        return json_answer({"code": code, "message": message}, status)
    return json_answer({"error": message}, status)


def create_app(config: ServeConfig, upstream: Upstream | None = None) -> ServeApp:
    """The application over ``config.db`` (checked: it must be a filled store)."""
    from npmaudit.serve.readers import check_store

    check_store(config.db)
    return ServeApp(config, StoreReaders(config.db, config.readers), upstream)


AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
