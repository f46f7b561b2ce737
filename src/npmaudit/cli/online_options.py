"""Options of `npmaudit audit` for online advisory sources (registered in audit_cmd.EXTRA_OPTION_MODULES)."""

from __future__ import annotations

import argparse

from npmaudit.cli.arguments import positive

SOURCES_HELP = """\
--compromised: the local database only (no advisory service asked). --osv: the OSV API online. --registry-advisories:
the npm registry's bulk advisory endpoint, as `npm audit` uses it (registry and credentials from
.npmrc / npm_config_* / --registry). The flags combine. With none: the local database when it
exists, plus OSV online unless --offline (or NPMAUDIT_OFFLINE=1, or `offline = true` in
.npmaudit.toml); offline without a local database is an error. An online source that cannot be
queried fails the run (exit 3); it never passes it.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("advisory sources", SOURCES_HELP)
    group.add_argument("--osv", action="store_true", help="query the OSV API online")
    group.add_argument(
        "--registry-advisories",
        action="store_true",
        help="query the npm registry's bulk advisory endpoint (npm audit's source)",
    )
    group.add_argument(
        "--registry-empty-error",
        action="store_true",
        help="with --registry-advisories: fail (exit 3) instead of warning when the registry answers no advisory "
        "for a tree in which the local store knows GitHub advisories affecting installed versions",
    )
    group.add_argument(
        "--offline",
        action="store_true",
        help="no network: the local database only (env NPMAUDIT_OFFLINE=1, config offline = true)",
    )
    group.add_argument(
        "--osv-url",
        metavar="URL",
        help="OSV API base URL, e.g. a mirror (env NPMAUDIT_OSV_URL, config osv-url; default OSV's public API)",
    )
    group.add_argument(
        "--timeout",
        type=positive(float, "seconds"),
        metavar="SECONDS",
        help="total deadline of each online request: resolving the host name, connecting, sending and receiving "
        "the whole answer (headers and body) must end within it, however slowly the server sends (env "
        "NPMAUDIT_TIMEOUT, config timeout; default 30). A request past it, a lost connection, 429 and 5xx answers "
        "are retried with backoff, each retry with a deadline of its own (env NPMAUDIT_RETRIES, default 3); then "
        "the run fails (exit 3)",
    )
    group.add_argument(
        "--registry",
        metavar="URL",
        help="npm registry URL for --registry-advisories (default: npm's configuration: .npmrc, npm_config_registry, "
        "else `npm config get registry`)",
    )
