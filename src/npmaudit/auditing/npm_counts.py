"""npm's vulnerability counts with the ignored findings taken out, for the exit code of the npm formats.

npm's report itself (``--format npm-json`` / ``npm-text``) stays exactly npm's; only the verdict must not
count what an ignore hides. npm counts vulnerable *packages*, each at the worst severity of what it is
vulnerable through: its own advisories and the vulnerable dependencies it can only install (``via``).
Taking an ignored advisory out can empty a package's ``via`` and so clear its dependents in turn, and
can lower a package's severity; both are recomputed here from the report's own ``vulnerabilities``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from npmaudit import TYPE_CHECKING
from npmaudit.auditing.engine import Finding
from npmaudit.auditing.ignores import IgnoreReport, finding_ids

if TYPE_CHECKING:
    from typing import Any

LEVELS = ("info", "low", "moderate", "high", "critical")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}
_ID_IN_URL = re.compile(r"/(?:advisories|vulnerability)/([^/?#]+)$")


def npm_counts_without_ignored(
    document: Mapping[str, Any], findings: Iterable[Finding], ignores: IgnoreReport
) -> Mapping[str, int]:
    """``metadata.vulnerabilities`` as npm would count it had the ignored findings not been found."""
    counts: Mapping[str, int] = document["metadata"]["vulnerabilities"]
    ignored: dict[str, set[str]] = {}
    counted: dict[str, set[str]] = {}
    for finding in findings:
        (ignored if ignores.is_ignored(finding) else counted).setdefault(finding.name, set()).update(
            finding_ids(finding)
        )
    if not ignored:
        return counts

    def hidden(package: str, via: Mapping[str, Any]) -> bool:
        match = _ID_IN_URL.search(str(via.get("url") or ""))
        advisory = match.group(1).upper() if match else ""
        return advisory in ignored.get(package, ()) and advisory not in counted.get(package, ())

    entries: Mapping[str, Mapping[str, Any]] = document.get("vulnerabilities") or {}
    live: dict[str, list[Any]] = {}
    for name, entry in entries.items():
        live[name] = [v for v in entry.get("via", ()) if isinstance(v, str) or not hidden(name, v)]
    changed = True
    while changed:  # a package vulnerable only through cleared dependencies is cleared too
        changed = False
        for name in list(live):
            kept = [v for v in live[name] if not isinstance(v, str) or live.get(v)]
            if len(kept) != len(live[name]):
                live[name], changed = kept, True
        for name in [n for n, via in live.items() if not via]:
            del live[name]
            changed = True
    severity = {name: _own_severity(via) for name, via in live.items()}
    changed = True
    while changed:  # then each takes the worst of its dependencies', until nothing moves
        changed = False
        for name, via in live.items():
            for dependency in (v for v in via if isinstance(v, str)):
                if _RANK.get(severity.get(dependency, "info"), 0) > _RANK.get(severity[name], 0):
                    severity[name], changed = severity[dependency], True
    result = dict.fromkeys(LEVELS, 0)
    for level in severity.values():
        if level in result:
            result[level] += 1
    result["total"] = sum(result.values())
    return result


def _own_severity(via: list[Any]) -> str:
    levels = [str(v.get("severity")) for v in via if isinstance(v, Mapping)]
    return max(levels, key=lambda level: _RANK.get(level, 0), default="info")
