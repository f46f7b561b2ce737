"""A hostile server on 127.0.0.1 that sends its answer a few bytes at a time, for ever.

Each connection reads the request, sends ``prefix`` at once, then drips ``drip`` one byte every
``interval`` seconds, repeating it, until the client goes away. With a prefix that ends inside the
headers the client never sees the end of the headers; with a prefix holding complete headers and
a large ``content-length`` it never sees the end of the body. Every wait is far shorter than any
socket timeout, which is the point: only a total deadline stops such a server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class DripServer:
    """``with DripServer(prefix, drip) as server:`` then request ``server.url``."""

    def __init__(
        self,
        prefix: bytes,
        drip: bytes = b"x",
        interval: float = 0.05,
        read_request: bool = True,
        answer_first: bytes | None = None,
    ) -> None:
        self.prefix = prefix
        self.drip = drip
        self.interval = interval
        self.read_request = read_request  # False: drip at once, before any request (a TLS handshake that never ends)
        self.answer_first = answer_first  # a whole answer to each connection's first request; drip on the next
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> DripServer:
        self._accepting.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._accepting.join()
        for thread in self._threads:
            thread.join()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.answer_first is not None:
                self._read_request(connection)
                connection.sendall(self.answer_first)
            if self.read_request:
                self._read_request(connection)
            connection.sendall(self.prefix)
            position = 0
            while not self._stop.is_set():
                connection.sendall(self.drip[position : position + 1])
                position = (position + 1) % len(self.drip)
                time.sleep(self.interval)

    def _read_request(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(4096)
            if not chunk:
                return
            received += chunk
        head, _, rest = received.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                missing = int(value.strip()) - len(rest)
                while missing > 0:
                    chunk = connection.recv(missing)
                    if not chunk:
                        return
                    missing -= len(chunk)
