"""npm's own report (``--format npm-json`` / ``npm-text``) for an audit that has run.

Meta-vulnerabilities and fixes need packuments: they come from the configured registry through the
shared HTTP client and an on-disk cache (used as is within the registry's max-age, revalidated with
ETags after it), fetched ahead on a bounded pool; ``--offline`` reads the cache only, and the report
then says which dependents could not be evaluated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from npmaudit.progress import Progress, no_progress
from npmaudit.settings import Settings

if TYPE_CHECKING:
    from npmaudit.auditing.engine import AuditResult
    from npmaudit.npm_report import NpmReport


def compute_npm_report(result: AuditResult, settings: Settings, progress: Progress = no_progress) -> NpmReport:
    from npmaudit.advisories.selection import http_settings, npm_config
    from npmaudit.npm_report import build_npm_report
    from npmaudit.registry.packuments import PackumentCache, Prefetching, dependents_by_name, registry_fetcher

    fetch = None
    if not settings.offline:
        from npmaudit.http import HttpClient

        config = npm_config(settings)
        client = HttpClient("npm registry (packuments)", http_settings(settings), config)
        fetch = registry_fetcher(client, config.registry_for)
    project = result.project
    with PackumentCache(settings.packument_cache, fetch, offline=settings.offline) as cache:
        # The packages advisories name are asked for first, then the dependents of their affected
        # copies (and of every copy of a package a meta-vulnerability reaches): fetch those ahead.
        installed = {node.name for node in project.packages()}
        named = [name for advisory in result.advisories for name in sorted(advisory.package_names) if name in installed]
        affected: dict[str, set[str]] = {}
        for finding in result.findings:
            affected.setdefault(finding.name, set()).update(finding.locations)
        edges = (
            (node.name, target.name)
            for node in project.nodes.values()
            for edge in node.edges
            if edge.to is not None
            and (target := project.nodes.get(edge.to)) is not None
            and (target.name not in affected or edge.to in affected[target.name])
        )
        packuments = Prefetching(cache, dict.fromkeys(named), dependents_by_name(edges))
        report = build_npm_report(project, result.advisories, packuments, settings.omit, progress=progress)
    return report
