"""npm's own report (``--format npm-json`` / ``npm-text``) for an audit that has run.

Meta-vulnerabilities and fixes need packuments: they come from the configured registry through the
shared HTTP client and an on-disk cache (used as is within the registry's max-age, revalidated with
ETags after it), fetched ahead on a bounded pool; ``--offline`` reads the cache only, and the report
then says which dependents could not be evaluated. A packument the registry refuses (401, 403) is read
as npm reads it (no versions) and named in :attr:`NpmReport.refused`: the run then fails (exit 3)
unless ``allow_refused_packuments`` (docs/npm-audit.md says why).
"""

from __future__ import annotations

from npmaudit import TYPE_CHECKING
from npmaudit.progress import Progress, no_progress
from npmaudit.records import replace
from npmaudit.settings import Settings

if TYPE_CHECKING:
    from npmaudit.auditing.engine import AuditResult
    from npmaudit.npm_report import NpmReport


def compute_npm_report(result: AuditResult, settings: Settings, progress: Progress = no_progress) -> NpmReport:
    from npmaudit.advisories.selection import http_settings, npm_config
    from npmaudit.npm_report import build_npm_report
    from npmaudit.registry.packuments import PackumentCache, Prefetching, RefusalsAsNpmDoes, registry_fetcher

    fetch = None
    if not settings.offline:
        from npmaudit.http import HttpClient

        config = npm_config(settings)
        client = HttpClient("npm registry (packuments)", http_settings(settings), config)
        fetch = registry_fetcher(client, config.registry_for)
    with PackumentCache(settings.packument_cache, fetch, offline=settings.offline) as cache:
        first, dependents = _likely_requests(result)
        packuments = RefusalsAsNpmDoes(Prefetching(cache, first, dependents))
        report = build_npm_report(result.project, result.advisories, packuments, settings.omit, progress=progress)
    if not packuments.refused:
        return report
    refused = tuple(packuments.refused)
    names = {refusal.name for refusal in refused}
    # Refused is not "not cached": each package is named once, under what really happened.
    return replace(report, refused=refused, unavailable=tuple(n for n in report.unavailable if n not in names))


def _likely_requests(result: AuditResult) -> tuple[list[str], dict[str, list[str]]]:
    """What npm's report will ask for: the packages advisories name first, then, for each package
    asked, its dependents (of its affected copies only, when the audit found some): a guess that
    only decides what is fetched ahead, never what the report reads."""
    from npmaudit.registry.packuments import dependents_by_name

    project = result.project
    installed = {node.name for node in project.packages()}
    first = [name for advisory in result.advisories for name in sorted(advisory.package_names) if name in installed]
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
    return list(dict.fromkeys(first)), dependents_by_name(edges)
