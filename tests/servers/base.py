"""A threaded HTTP server on 127.0.0.1 with a request log and fault injection.

Subclasses implement ``handle(request) -> (status, headers, body)``. Faults are queued per path
prefix and consumed in order (``times`` each), so a test can script "first a 503, then succeed".
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TLS_DIR = Path(__file__).parent / "tls"
CA_CERT = TLS_DIR / "localhost-cert.pem"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes  # decompressed when the request was gzipped

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Fault:
    """What to do instead of (or before) answering a request whose path starts with ``prefix``.

    kind: ``status`` (answer ``status`` with ``body``/``headers``), ``delay`` (sleep ``seconds``
    then answer normally), ``drop`` (close the connection without an answer), ``body`` (answer 200
    with ``body`` as is: invalid JSON, a wrong shape, a huge document).
    """

    prefix: str
    kind: str
    status: int = 500
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    times: int = 1  # how many requests it applies to; 0 = forever


Answer = tuple[int, Mapping[str, str], bytes]


class LocalServer:
    """Start with ``with Server(...) as server:``; ``server.url`` ends with a slash."""

    def __init__(self, latency: float = 0.0, tls: bool = False) -> None:
        self.latency = latency
        self.tls = tls
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0  # requests being answered now, and the most at once (concurrency tests)
        self.most_in_flight = 0
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without NODELAY, Nagle + delayed ACK add
                # ~40 ms to every request on a kept-alive connection.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
                pass

            def do_GET(self) -> None:
                owner._serve(self, "GET")

            def do_POST(self) -> None:
                owner._serve(self, "POST")

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:  # failed TLS handshakes etc.
                pass

        self._server = Server(("127.0.0.1", 0), Handler)
        if tls:  # a self-signed certificate for 127.0.0.1 (tests/servers/tls, test use only)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(TLS_DIR / "localhost-cert.pem", TLS_DIR / "localhost-key.pem")
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._server.request_queue_size = 128
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/"

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def handle(self, request: RecordedRequest) -> Answer:
        raise NotImplementedError

    def requests_to(self, prefix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    # --- plumbing -------------------------------------------------------------------------------

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.prefix):
                    if fault.times == 1:
                        self._faults.remove(fault)
                    elif fault.times > 1:
                        fault.times -= 1
                    return fault
        return None

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        body = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" and raw else raw
        request = RecordedRequest(method, handler.path, headers, body)
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self._answer(handler, request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, handler: BaseHTTPRequestHandler, request: RecordedRequest) -> None:
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(handler.path)
        if fault is not None and fault.kind == "drop":
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "status":
            answer: Answer = (fault.status, {"content-type": "application/json", **fault.headers}, fault.body)
        elif fault is not None and fault.kind == "body":
            answer = (200, {"content-type": "application/json", **fault.headers}, fault.body)
        else:
            answer = self.handle(request)
        status, answer_headers, answer_body = answer
        try:
            handler.send_response(status)
            for name, value in answer_headers.items():
                handler.send_header(name, value)
            handler.send_header("content-length", str(len(answer_body)))
            handler.end_headers()
            handler.wfile.write(answer_body)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True


def json_answer(status: int, document: Any, headers: Mapping[str, str] | None = None) -> Answer:
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return status, {"content-type": "application/json", **(headers or {})}, body


class EchoServer(LocalServer):
    """Answers every request with ``{"method", "path"}`` and ``extra`` (for client tests)."""

    def __init__(self, latency: float = 0.0, tls: bool = False, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(latency, tls)
        self.extra = dict(extra or {})

    def handle(self, request: RecordedRequest) -> Answer:
        return json_answer(200, {"method": request.method, "path": request.path, **self.extra})
