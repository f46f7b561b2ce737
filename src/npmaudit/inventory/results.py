"""The answer to a query, whether it read lockfiles (``query``) or an inventory (``inventory query``).

Both produce the same values, so both print the same report and the tests can compare them
install path by install path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from npmaudit.errors import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK
from npmaudit.inventory.packages import groups_of
from npmaudit.inventory.spec import AdvisorySpec, Spec
from npmaudit.records import field, record_class


@record_class(frozen=True)
class Hit:
    """One installed package (one install path of one project) that a spec matched."""

    name: str
    version: str
    location: str  # the install path, e.g. node_modules/express/node_modules/debug
    source: str  # the source kind (registry, ...)
    flags: int  # npmaudit.inventory.packages group bits
    chain: tuple[str, ...]  # from the root's name to this package's name@version
    specs: tuple[str, ...]  # the SPECs it matched, as given
    advisories: tuple[str, ...] = ()  # advisory ids it matched through (advisory specs)
    malicious: bool = False  # matched through a malicious-package advisory

    @property
    def groups(self) -> tuple[str, ...]:
        return groups_of(self.flags)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name


@record_class(frozen=True)
class ProjectHits:
    location: str  # the project's directory (or the location it was inventoried under)
    lockfile: str
    hits: tuple[Hit, ...]
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def packages(self) -> tuple[str, ...]:
        """Distinct ``name@version`` hit, in order."""
        return tuple(dict.fromkeys(hit.label for hit in self.hits))

    @property
    def malicious_packages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(hit.label for hit in self.hits if hit.malicious))


@record_class(frozen=True)
class Failure:
    """A project that could not be read: the query did not look inside it."""

    location: str
    message: str


@record_class(frozen=True)
class QueryResult:
    specs: tuple[str, ...]
    scanned: int  # projects looked into
    projects: tuple[ProjectHits, ...]  # the projects hit, by location
    failures: tuple[Failure, ...] = ()
    messages: tuple[str, ...] = ()  # notes for stderr (a withdrawn advisory, ...)
    recursive: bool = False

    @property
    def hits(self) -> int:
        return sum(len(project.hits) for project in self.projects)

    @property
    def exit_code(self) -> int:
        """2 when a project could not be read (the answer may be incomplete), else 1 when anything matched."""
        if self.failures:
            return EXIT_INPUT
        return EXIT_FINDINGS if self.projects else EXIT_OK


def spec_notes(specs: Sequence[Spec]) -> tuple[str, ...]:
    """What a reader must know about the specs themselves: a withdrawn advisory matches nothing."""
    notes = []
    for spec in specs:
        if isinstance(spec, AdvisorySpec) and spec.withdrawn:
            notes.append(f"{spec.text} is withdrawn: it affects no package version")
    return tuple(notes)


def match_specs(specs: Sequence[Spec], name: str, version: str) -> tuple[tuple[str, ...], tuple[str, ...], bool] | None:
    """Which specs match ``name@version``: (spec texts, advisory ids, malicious), or None."""
    texts: list[str] = []
    advisories: set[str] = set()
    malicious = False
    for spec in specs:
        if name not in spec.names:
            continue
        match = spec.matches(name, version)
        if match is not None:
            texts.append(spec.text)
            advisories.update(match.advisories)
            malicious = malicious or match.malicious
    if not texts:
        return None
    return tuple(texts), tuple(sorted(advisories)), malicious
