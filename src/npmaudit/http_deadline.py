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

Before there is a socket, the host name must be resolved, and ``getaddrinfo`` blocks in the C
library with no timeout of its own (a resolver that does not answer, an NSS module that hangs). A
new connection therefore resolves its host in a daemon thread of its own (:func:`resolve_within`)
and waits at most until the exchange's deadline: past it, the exchange expires like any other and
the stalled lookup is left to finish on its own. Each address is then connected within the time
that remains.
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

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


AddressInfo = tuple[Any, Any, int, str, Any]  # one entry of socket.getaddrinfo's answer
Resolver = Callable[[str, int, int, int], Sequence[AddressInfo]]  # (host, port, family, type): getaddrinfo's shape


class ResolveTimeout(TimeoutError):
    """The host name was not resolved before the deadline."""


def resolve_within(
    host: str, port: int, deadline: float, *, family: int = 0, resolver: Resolver = socket.getaddrinfo
) -> list[AddressInfo]:
    """``resolver(host, port, family, SOCK_STREAM)`` in a daemon thread, waited for until ``deadline``
    (monotonic). Its error is raised here; past the deadline :class:`ResolveTimeout` is, and the
    thread is abandoned (a daemon: it never holds the process up at exit)."""
    done = threading.Event()
    outcome: list[Any] = []

    def lookup() -> None:
        try:
            outcome.append(list(resolver(host, port, family, socket.SOCK_STREAM)))
        except BaseException as error:  # handed to the waiting caller
            outcome.append(error)
        finally:
            done.set()

    threading.Thread(target=lookup, name="npmaudit-resolve", daemon=True).start()
    if not done.wait(max(0.0, deadline - time.monotonic())):
        raise ResolveTimeout(f"{host} not resolved in time")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    found: list[AddressInfo] = outcome[0]
    return found


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


class _Watched(HTTPConnection):
    """A urllib3 connection that joins the current exchange when it connects or sends a request."""

    _watch_socket: socket.socket | None = None  # a duplicate descriptor of the TCP socket
    _watched_by: Exchange | None = None

    def _new_conn(self) -> socket.socket:
        current = _CURRENT.get()
        if current is not None and not _is_address(self._dns_host):
            return self._watch(self._connect_by_name(current))
        return self._watch(super()._new_conn())  # an address needs no lookup; no exchange, no deadline

    def _watch(self, sock: socket.socket) -> socket.socket:
        with _LOCK:
            self._release_watch_socket()
            self._watch_socket = sock.dup()
        self._join_current()
        return sock

    def _connect_by_name(self, current: Exchange) -> socket.socket:
        """urllib3's ``_new_conn`` (its errors included), with the name resolved within the exchange's
        deadline and each address connected within what remains of it."""
        try:
            addresses = resolve_within(
                self._dns_host, self.port, current.deadline, family=urllib3_connection.allowed_gai_family()
            )
        except ResolveTimeout:
            with _LOCK:
                current.expire()  # the client reports the deadline, and retries, as for a stalled answer
            raise ConnectTimeoutError(self, f"{self.host} was not resolved within the deadline") from None
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        failure: OSError = OSError("getaddrinfo returns an empty list")
        for address in addresses:
            remaining = current.deadline - time.monotonic()
            if remaining <= 0:
                with _LOCK:
                    current.expire()
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out (deadline)")
            try:
                sock = urllib3_connection.create_connection(
                    (str(address[4][0]), self.port),
                    min(remaining, self.timeout) if isinstance(self.timeout, int | float) else remaining,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as error:  # refused, unreachable, or timed out (socket.timeout): try the next
                failure = error
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        if isinstance(failure, TimeoutError):
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from failure
        raise NewConnectionError(self, f"Failed to establish a new connection: {failure}") from failure

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
