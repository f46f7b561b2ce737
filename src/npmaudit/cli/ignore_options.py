"""Options for ignores, shared by `npmaudit audit` (through audit_cmd.EXTRA_OPTION_MODULES) and `ignore list`."""

from __future__ import annotations

import argparse
from pathlib import Path

from npmaudit.cli.arguments import advisory_id

IGNORES_HELP = """\
Accepted findings: [[ignore]] tables in .npmaudit.toml (id, reason, optional expires date, package,
version range, dependency paths "a>b>c"), --ignore ID, and --ignore-from FILE (audit-ci's
audit-ci.json / .jsonc allowlist, better-npm-audit's .nsprc, or a TOML file of [[ignore]] tables).
Any alias of an advisory matches. Ignored findings stay in every report, marked with their reason,
and do not count for the exit code; an expired ignore stops applying (the run names its line); an
ignore that matches nothing is reported as stale; a malicious package is hidden only by an ignore
naming its exact package and version.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ignores", IGNORES_HELP)
    group.add_argument(
        "--ignore",
        action="append",
        type=advisory_id,
        metavar="ID",
        help="accept this advisory (GHSA, CVE, MAL or OSV id; any alias matches); repeatable",
    )
    group.add_argument(
        "--ignore-from",
        action="append",
        type=Path,
        metavar="PATH",
        help="read ignores from audit-ci's config, a .nsprc, or a TOML file of [[ignore]] tables; repeatable "
        "(config ignore-from)",
    )
    group.add_argument(
        "--strict-ignores",
        action="store_true",
        help="an ignore that matches nothing fails the run (env NPMAUDIT_STRICT_IGNORES, config strict-ignores)",
    )
