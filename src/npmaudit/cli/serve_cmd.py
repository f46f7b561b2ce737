"""`npmaudit serve`: the local advisory store as npm's audit endpoints and the OSV API.

Needs the optional ``serve`` extra (uvicorn). The store is the one ``--db`` / ``NPMAUDIT_DB`` /
the project's ``db`` / the shared cache names, as for `audit`; it must have been filled by
``db import`` or ``db update``. One line on stderr says where it listens; the access log follows,
one JSON object per request. SIGTERM or Ctrl-C stops it gracefully.
"""

from __future__ import annotations

import argparse
import sys

from npmaudit.cli import summary
from npmaudit.cli.arguments import positive

DESCRIPTION = """\
Serve the local advisory store, read-only, to every client that speaks npm's audit endpoints or
the OSV API:

  POST /-/npm/v1/security/advisories/bulk   npm 7+ (`npm audit --registry http://HOST:PORT/`)
  POST /-/npm/v1/security/audits/quick      npm 6-10's quick audit (and npm 6's /audits)
  POST /v1/query, /v1/querybatch            OSV API v1 (osv-scanner, Renovate, npmaudit --osv-url)
  GET  /v1/vulns/{id}
  GET  /-/npmaudit/health                   the store's record count and age
  GET  anything else                        forwarded to --upstream (packuments, /-/npm/v1/keys);
                                            404 without it

`npmaudit db update` may run beside the server: readers see the store before or after each
update, never half of one.
"""


def _mebibytes(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of MiB: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 MiB: {text!r}")
    return int(value * 1024 * 1024)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return int(text)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "serve",
        help=summary("serve"),
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", metavar="PATH", help="the store (env NPMAUDIT_DB, config db, else the shared cache)")
    parser.add_argument("--host", metavar="ADDRESS", help="address to listen on (env NPMAUDIT_SERVE_HOST; 127.0.0.1)")
    parser.add_argument("--port", type=_port, metavar="N", help="port (env NPMAUDIT_SERVE_PORT; 8765; 0 = any free)")
    parser.add_argument(
        "--upstream",
        metavar="URL",
        help="registry to forward other GETs to: packuments, /-/npm/v1/keys (env NPMAUDIT_UPSTREAM; credentials "
        "from .npmrc); without it they answer 404",
    )
    parser.add_argument("--max-body", type=_mebibytes, metavar="MIB", help="largest request body (default 32)")
    parser.add_argument(
        "--request-timeout", type=positive(float), metavar="SECONDS", help="answer within this (default 30)"
    )
    parser.add_argument("--readers", type=positive(int), metavar="N", help="store reader threads (default 4)")
    parser.add_argument(
        "--page-size", type=positive(int), metavar="N", help="OSV results per page before next_page_token (1000)"
    )
    parser.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from npmaudit.cli.settings import environ, resolve_serve_config
    from npmaudit.errors import UsageError

    config = resolve_serve_config(args)
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        raise UsageError("`npmaudit serve` needs the serve extra: pip install 'npmaudit[serve]'") from None
    from pathlib import Path

    from npmaudit.serve.app import create_app
    from npmaudit.serve.server import bind, run_server

    upstream = None
    if config.upstream is not None:
        from npmaudit.http import HttpClient, HttpSettings
        from npmaudit.npmrc import load_npm_config, redact_url
        from npmaudit.serve.upstream import Upstream

        network = load_npm_config(Path.cwd(), env=dict(environ()))
        settings = HttpSettings(timeout=config.request_timeout, retries=0)
        upstream = Upstream(config.upstream, HttpClient(f"upstream {redact_url(config.upstream)}", settings, network))
    app = create_app(config, upstream)
    from npmaudit.cli import runs_long

    runs_long()
    sock = bind(config)
    _configure_logging()
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    forward = f", forwarding GETs to {_redacted(config.upstream)}" if config.upstream else ""
    print(f"npmaudit serve: listening on http://{shown_host}:{port}/ (store {config.db}{forward})", file=sys.stderr)
    sys.stderr.flush()
    run_server(app, sock, on_stop=lambda: print("npmaudit serve: stopped", file=sys.stderr))
    return 0


def _redacted(url: str | None) -> str:
    from npmaudit.npmrc import redact_url

    return redact_url(url or "")


def _configure_logging() -> None:
    """Access log and server messages on stderr, one line each; uvicorn says only what goes wrong."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name, level in (("npmaudit.serve", logging.INFO), ("uvicorn", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    errors = logging.getLogger("npmaudit.serve")
    errors.handlers[0].setFormatter(logging.Formatter("%(message)s"))
