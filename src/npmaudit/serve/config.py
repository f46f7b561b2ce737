"""What one ``npmaudit serve`` process is asked to do, as a frozen value (resolved by the CLI)."""

from __future__ import annotations

from pathlib import Path

from npmaudit.records import record_class

MiB = 1024 * 1024
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_MAX_BODY = 32 * MiB
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_READERS = 4
DEFAULT_PAGE_SIZE = 1000
DEFAULT_MAX_CONNECTIONS = 512
DEFAULT_SHUTDOWN_TIMEOUT = 10.0
MAX_BATCH_QUERIES = 1000  # OSV's own limit for one querybatch
MAX_JSON_DEPTH = 64  # no request this server understands nests deeper than a v1 lockfile tree does


@record_class(frozen=True)
class ServeConfig:
    """Settings of the server. ``upstream`` is the registry GETs are forwarded to (None: 404)."""

    db: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    upstream: str | None = None
    max_body: int = DEFAULT_MAX_BODY
    """Largest request body accepted, compressed and decompressed alike (bytes)."""
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    """Seconds from the first byte of a request to its answer, body upload included."""
    readers: int = DEFAULT_READERS
    """Store reader threads, each with its own read-only SQLite connection."""
    page_size: int = DEFAULT_PAGE_SIZE
    """Vulnerabilities per OSV query result before ``next_page_token`` pages the rest."""
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    """Open connections beyond this are answered 503 (uvicorn's limit_concurrency)."""
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    """Seconds in-flight requests get to finish after SIGTERM/SIGINT."""
    max_json_depth: int = MAX_JSON_DEPTH
