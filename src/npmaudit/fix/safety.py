"""Which versions of a package are safe: affected by no advisory any of the run's sources knows.

A fix may only pick a version every source was asked about: sources that answer by package name
(the local database, the registry's bulk endpoint) answer once per name, the OSV API per version,
so every version considered is asked for before it is judged (in one batch per package, through
:meth:`Safety.prefetch`). The matcher is the audit's own (:func:`npmaudit.advisories.matching.affects`),
so "safe" here means exactly "no finding" in the re-audit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from npmaudit.advisories.matching import affects
from npmaudit.advisories.model import Advisory
from npmaudit.advisories.source import AdvisorySource
from npmaudit.project.model import PackageRef


class Safety:
    def __init__(self, sources: Sequence[AdvisorySource]) -> None:
        # Unprepared sources: a bulk source bound to a project would ask about that tree only.
        self.sources = list(sources)
        self._asked: set[PackageRef] = set()
        self._known: dict[str, dict[str, Advisory]] = {}
        self.queries = 0

    def prefetch(self, refs: Iterable[PackageRef]) -> None:
        """Ask every source about the versions not asked about yet (one call per source)."""
        missing = [ref for ref in dict.fromkeys(refs) if ref not in self._asked]
        if not missing:
            return
        self.queries += 1
        for source in self.sources:
            for name, advisories in source.advisories_for(missing).items():
                known = self._known.setdefault(name, {})
                for advisory in advisories:
                    current = known.get(advisory.id)
                    if current is None or advisory.modified > current.modified:
                        known[advisory.id] = advisory
        self._asked.update(missing)

    def affecting(self, name: str, version: str) -> list[Advisory]:
        """The advisories that affect ``name@version`` (asked for first when needed)."""
        self.prefetch([PackageRef(name, version)])
        return [a for a in self._known.get(name, {}).values() if affects(a, name, version)]

    def is_safe(self, name: str, version: str) -> bool:
        return not self.affecting(name, version)
