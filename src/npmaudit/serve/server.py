"""Running the application under uvicorn: one process, an event loop for connections and the
reader threads for the store.

The listening socket is bound before uvicorn starts, so the caller knows the port (``--port 0``
picks a free one) and a bad address fails at once with one line. uvicorn gives the rest: HTTP/1.1
parsing (h11), keep-alive with an idle timeout, a cap on open connections (503 beyond it) and the
graceful shutdown on SIGTERM/SIGINT: the socket stops accepting, in-flight requests get
``shutdown_timeout`` seconds to finish, then the application closes its store connections.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType

from npmaudit.errors import UsageError
from npmaudit.serve.app import ServeApp
from npmaudit.serve.config import ServeConfig

KEEP_ALIVE_SECONDS = 5
MAX_HEADER_BYTES = 64 * 1024  # h11's limit on a request's head (request line and headers)


def bind(config: ServeConfig) -> socket.socket:
    """The listening socket for ``config.host:config.port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as error:
        sock.close()
        raise UsageError(f"cannot listen on {config.host}:{config.port}: {error.strerror or error}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_server(app: ServeApp, sock: socket.socket, *, on_stop: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT; returns after the graceful shutdown."""
    import uvicorn

    config = app.config
    uvicorn_config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        access_log=False,  # the application writes its own structured access log
        server_header=False,
        limit_concurrency=config.max_connections,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=max(1, round(config.shutdown_timeout)),
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        http="h11",
        loop="asyncio",
    )
    server = uvicorn.Server(uvicorn_config)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again under the
    # handlers it found: these make that second delivery a normal return (exit 0), not a kill.
    previous = {sig: signal.signal(sig, _stopped) for sig in STOP_SIGNALS} if _main_thread() else {}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
        if on_stop is not None:
            on_stop()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stopped(signum: int, frame: FrameType | None) -> None:
    """The stop signal uvicorn re-raises after its graceful shutdown: nothing more to do."""


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
