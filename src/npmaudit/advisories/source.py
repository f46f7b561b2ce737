"""The one interface every advisory source implements: local files, the SQLite store, OSV online,
the npm registry's bulk endpoint.

A source answers "which advisories may concern these packages?"; the matcher (not the source)
decides which ones really affect each installed version, so every source is judged by the same
rules. A source that cannot answer raises :class:`npmaudit.errors.SourceError` (online) or
:class:`npmaudit.errors.InputError` (a local file): it never returns an empty answer instead.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from npmaudit import TYPE_CHECKING
from npmaudit.advisories.model import Advisory
from npmaudit.project.model import PackageRef, Project
from npmaudit.records import field, record_class
from npmaudit.runtime_typing import Protocol, runtime_checkable

if TYPE_CHECKING:
    from typing import Any


@record_class(frozen=True)
class SourceInfo:
    """What a report says about a source it used.

    ``kind`` is a short machine name (``json-db``, ``sqlite``, ``osv-api``, ``npm-registry``),
    ``location`` a path or URL (never with credentials), ``records`` how many advisories the source
    holds (None for online sources), ``newest_modified`` the newest ``modified`` time of the data it
    was filled with (see :mod:`npmaudit.auditing.freshness` for the age computed from it), ``warnings``
    what a run should say about it on stderr (records it refused).
    """

    kind: str
    location: str
    records: int | None = None
    newest_modified: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "location": self.location}
        if self.records is not None:
            data["records"] = self.records
        if self.newest_modified is not None:
            data["newestModified"] = self.newest_modified
        data.update(self.details)
        return data


class KnownRecords(Protocol):
    """Records a caller already holds, so an online source need not fetch unchanged ones again."""

    def modified(self, advisory_id: str) -> str | None:
        """The held copy's ``modified``, or None when none is held."""
        ...

    def get(self, advisory_id: str) -> Advisory | None:
        """The held copy."""
        ...


@runtime_checkable
class AdvisorySource(Protocol):
    """One advisory source. A new kind of source is one module implementing this, plus one row of
    :data:`npmaudit.advisories.selection.SOURCE_KINDS`."""

    def prepare(self, project: Project, omit: frozenset[str]) -> AdvisorySource:
        """The source as it answers for one project.

        A source whose question depends on the whole tree (the registry's bulk payload is npm's own
        for the project and its omitted groups) returns a copy bound to the project; the others
        return themselves. Opened once per run, prepared once per project: ``-r`` asks exactly
        what a single audit asks.
        """
        ...

    def info(self) -> SourceInfo:
        """Describe the source for reports."""
        ...

    def advisories_for(self, packages: Collection[PackageRef]) -> Mapping[str, Sequence[Advisory]]:
        """Candidate advisories, by package name, for the given packages.

        May return advisories that do not affect the given versions (the matcher tests each), and
        may include withdrawn ones (the matcher skips them).
        """
        ...


@runtime_checkable
class ClosableSource(Protocol):
    """A source holding an open resource (the SQLite store's connection)."""

    def close(self) -> None: ...


def close_sources(sources: Sequence[AdvisorySource]) -> None:
    """Close what the run opened. Left to the interpreter's last collection, a store's connection
    outlives the run (its ``-wal``/``-shm`` files stay beside the store if that collection is skipped)."""
    for source in sources:
        if isinstance(source, ClosableSource):
            source.close()
