"""A total deadline for each HTTP exchange, however slowly the server sends.

Socket timeouts bound each wait for the *next* bytes, so a server that drips one byte a second
(in its headers or its body) never trips them. Here every exchange runs as an :class:`Exchange`
with an absolute deadline; the urllib3 connections it uses (a new one or one from the pool)
attach themselves to it, and one watchdog thread shuts their sockets down when the deadline
passes. The blocked read then ends at once (end of stream or a TLS error) and the client, seeing
:attr:`Exchange.expired`, reports the deadline instead of whatever the read raised.

Each connection keeps a duplicate of its TCP socket's descriptor for the watchdog: the socket
object itself is replaced when TLS wraps it (the handshake runs on a detached descriptor), while
``shutdown`` on the duplicate acts on the one underlying connection at every stage.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_LOCK = threading.Condition()  # guards every Exchange, every connection's watch socket and the heap
_CURRENT: ContextVar[Exchange | None] = ContextVar("npmaudit_http_exchange", default=None)


class Exchange:
    """One request on the wire: connect, send, headers and body before ``deadline`` (monotonic)."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self.finished = False
        self.answered = False  # set by the client once the status line and headers are read
        self._sockets: list[socket.socket] = []  # the watch sockets of the connections it used
        self._adopted: list[socket.socket] = []  # watch sockets of connections closed meanwhile

    def attach(self, watch_socket: socket.socket) -> None:
        """With the lock held."""
        self._sockets.append(watch_socket)
        if self.expired:  # attached after the deadline: cut it off straight away
            _shut(watch_socket)

    def adopt(self, watch_socket: socket.socket) -> None:
        """With the lock held: a connection closed while the exchange runs; its response may still
        read through the socket (``Connection: close`` hands the socket to the response)."""
        self._adopted.append(watch_socket)

    def expire(self) -> None:
        """With the lock held (the watchdog)."""
        if self.finished or self.expired:
            return
        self.expired = True
        for watch_socket in self._sockets:
            _shut(watch_socket)

    def finish(self) -> bool:
        """Stop watching; True when the deadline passed first (the answer must not be trusted)."""
        with _LOCK:
            if not self.finished:
                self.finished = True
                for watch_socket in self._adopted:
                    watch_socket.close()
                self._sockets.clear()
                self._adopted.clear()
            return self.expired


def _shut(watch_socket: socket.socket) -> None:
    """Shut the TCP connection down both ways: a blocked read or write on it returns now."""
    with contextlib.suppress(OSError):
        watch_socket.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def exchange(seconds: float) -> Iterator[Exchange]:
    """Run the block as one exchange: connections used inside it are cut off at the deadline."""
    current = Exchange(seconds)
    _WATCHDOG.arm(current)
    token = _CURRENT.set(current)
    try:
        yield current
    finally:
        _CURRENT.reset(token)
        current.finish()


class _Watchdog:
    """One daemon thread expiring exchanges in deadline order (a heap; finished ones are dropped)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Exchange]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, current: Exchange) -> None:
        with _LOCK:
            heapq.heappush(self._heap, (current.deadline, next(self._order), current))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="npmaudit-http-deadline", daemon=True)
                self._thread.start()
            _LOCK.notify()

    def _run(self) -> None:
        with _LOCK:
            while True:
                while self._heap and self._heap[0][2].finished:
                    heapq.heappop(self._heap)
                if not self._heap:
                    _LOCK.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    _LOCK.wait(wait)
                    continue
                heapq.heappop(self._heap)[2].expire()


_WATCHDOG = _Watchdog()


class _Watched(HTTPConnection):
    """A urllib3 connection that joins the current exchange when it connects or sends a request."""

    _watch_socket: socket.socket | None = None  # a duplicate descriptor of the TCP socket
    _watched_by: Exchange | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        with _LOCK:
            self._release_watch_socket()
            self._watch_socket = sock.dup()
        self._join_current()
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._join_current()  # a kept-alive connection from the pool joins here
        super().request(*args, **kwargs)

    def close(self) -> None:
        with _LOCK:
            self._release_watch_socket()
        super().close()

    def _join_current(self) -> None:
        current = _CURRENT.get()
        with _LOCK:
            if current is None or current.finished or self._watch_socket is None or self._watched_by is current:
                return
            current.attach(self._watch_socket)
            self._watched_by = current

    def _release_watch_socket(self) -> None:
        """With the lock held: close the duplicate, or leave it to the exchange still reading through it."""
        watch_socket, owner = self._watch_socket, self._watched_by
        self._watch_socket = self._watched_by = None
        if watch_socket is None:
            return
        if owner is not None and not owner.finished:
            owner.adopt(watch_socket)
        else:
            watch_socket.close()


class WatchedHTTPConnection(_Watched):
    pass


class WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


POOL_CLASSES: dict[str, type[HTTPConnectionPool]] = {
    "http": WatchedHTTPConnectionPool,
    "https": WatchedHTTPSConnectionPool,
}
