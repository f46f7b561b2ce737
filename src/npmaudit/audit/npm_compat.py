"""npm's own report (``--format npm-json`` / ``npm-text``) for an audit that has run.

Meta-vulnerabilities and fixes need packuments: they come from the configured registry through the
shared HTTP client and an on-disk cache (revalidated with ETags); ``--offline`` reads the cache
only, and the report then says which dependents could not be evaluated.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from npmaudit.config import ProjectConfig, default_cache_dir

if TYPE_CHECKING:
    from npmaudit.audit.engine import AuditResult
    from npmaudit.npm_report import NpmReport

NPM_FORMATS = ("npm-json", "npm-text")


def compute_npm_report(
    result: AuditResult, args: argparse.Namespace, config: ProjectConfig, omit: frozenset[str]
) -> NpmReport:
    from npmaudit.npm_report import build_npm_report
    from npmaudit.npm_report.packuments import PackumentCache, registry_fetcher
    from npmaudit.sources import http_settings, npm_config_for, offline_requested

    offline = offline_requested(args, config)
    fetch = None
    if not offline:
        from npmaudit.http import HttpClient

        npm_config = npm_config_for(args)
        client = HttpClient("npm registry (packuments)", http_settings(args, config), npm_config)
        fetch = registry_fetcher(client, npm_config.registry_for)
    packuments = PackumentCache(default_cache_dir() / "packuments", fetch, offline=offline)
    return build_npm_report(result.project, result.advisories, packuments, omit)
