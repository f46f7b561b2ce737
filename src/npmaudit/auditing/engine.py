"""Match a project against advisory sources: Project x Advisories -> Findings.

Each distinct installed (name, version) of a published package (registry or tarball) is tested
once against every candidate advisory the sources returned for that name. Every other node is
listed as not checked, with its reason; a published package whose version cannot be read is an
input error naming it (:class:`UncheckedVersionError`) unless the caller allows it, because it
would otherwise be counted as audited while no advisory could ever match it.

Records that describe the same advisory under several ids (a GHSA and its MAL twin, the same
record from two sources) share an id or alias; they are grouped into one finding so a report never
counts one problem twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from npmaudit import semver
from npmaudit.advisories.matching import affects, fixed_versions
from npmaudit.advisories.model import Advisory, Severity
from npmaudit.advisories.source import AdvisorySource, SourceInfo
from npmaudit.errors import InputError
from npmaudit.project.model import (
    MATCHED_SOURCES,
    Node,
    PackageRef,
    Project,
    SourceKind,
    unchecked_reason,
    version_problem,
)
from npmaudit.records import record_class


@record_class(frozen=True)
class Finding:
    """One advisory affecting one installed package version, at every location it is installed."""

    package: PackageRef
    advisory: Advisory  # the primary record of the group
    records: tuple[Advisory, ...]  # every record of the group, primary first
    nodes: tuple[Node, ...]
    fixed_in: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.package.name

    @property
    def version(self) -> str:
        return self.package.version

    @property
    def id(self) -> str:
        return self.advisory.id

    @property
    def aliases(self) -> tuple[str, ...]:
        ids = set().union(*(record.ids for record in self.records)) - {self.advisory.id}
        return tuple(sorted(ids))

    @property
    def malicious(self) -> bool:
        return any(record.malicious for record in self.records)

    @property
    def severity(self) -> Severity:
        """Malicious packages are critical whatever the record says; else the highest known level."""
        if self.malicious:
            return Severity.CRITICAL
        known = [r.severity for r in self.records if r.severity is not Severity.UNKNOWN]
        return max(known, key=lambda s: s.rank) if known else Severity.UNKNOWN

    @property
    def locations(self) -> tuple[str, ...]:
        return tuple(node.location for node in self.nodes)

    @property
    def paths(self) -> tuple[str, ...]:
        """Where the package is installed (lockfile locations such as ``node_modules/a/node_modules/b``)."""
        return self.locations

    @property
    def summary(self) -> str:
        return self.advisory.summary


@record_class(frozen=True)
class AuditResult:
    project: Project
    findings: tuple[Finding, ...]
    sources: tuple[SourceInfo, ...]
    audited: int  # distinct (name, version) pairs checked
    not_checked: tuple[Node, ...]  # never matched: the project's own code, git, unreadable versions
    omitted: int  # nodes left out by --omit
    advisories: tuple[Advisory, ...] = ()  # every candidate the sources returned, newest per id, in source order

    @property
    def unreadable_versions(self) -> tuple[Node, ...]:
        """Published packages left unchecked because their version cannot be read (allowed by the caller)."""
        return tuple(node for node in self.not_checked if version_problem(node) is not None)

    @property
    def warnings(self) -> list[str]:
        """One line per unreadable version the caller allowed: they were not checked, and a report must say so."""
        lockfile = self.project.lockfile
        return [f"warning: {lockfile}: not checked: {describe_unchecked(node)}" for node in self.unreadable_versions]


class UncheckedVersionError(InputError):
    """Published packages whose version cannot be read: they would pass unchecked."""


def describe_unchecked(node: Node) -> str:
    """``node_modules/x: x@latest: version 'latest' is not a valid semver version`` (one line)."""
    label = f"{node.name}@{node.version}" if node.version else node.name
    return f"{node.location}: {label}: {unchecked_reason(node)}, so no advisory can be matched against it"


def audit(
    project: Project,
    sources: Sequence[AdvisorySource],
    omit: frozenset[str] = frozenset(),
    *,
    allow_unchecked: bool = False,
) -> AuditResult:
    """Query every source for the project's published packages and match what they return.

    A published package whose version cannot be read raises :class:`UncheckedVersionError`
    (before any source is queried) unless ``allow_unchecked``: then it is listed as not checked.
    """
    # (name, version) -> its nodes: grouped by plain tuples (C-level hashing), one PackageRef per group.
    groups: dict[tuple[str, str], list[Node]] = {}
    not_checked: list[Node] = []
    unreadable: list[Node] = []
    omitted = 0
    # The tests of Node.omitted_by, Node.is_matched_by_version and version_problem, inlined: this loop
    # runs once per installed package (an empty ``omit`` omits nothing; a matched node's version is
    # unreadable when it is empty or not loose semver).
    parse = semver.parse_version
    for node in project.nodes.values():
        kind = node.source
        if kind is SourceKind.ROOT:
            continue
        if omit and node.omitted_by(omit):
            omitted += 1
        elif kind not in MATCHED_SOURCES:
            not_checked.append(node)
        elif not node.version or parse(node.version, loose=True) is None:
            not_checked.append(node)
            unreadable.append(node)
        else:
            groups.setdefault((node.name, node.version), []).append(node)
    if unreadable and not allow_unchecked:
        more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
        raise UncheckedVersionError(
            project.lockfile,
            f"{describe_unchecked(unreadable[0])}{more}; --allow-unchecked lists such packages "
            "as not checked and goes on",
        )
    refs = [PackageRef(name, version) for name, version in groups]
    candidates: dict[str, list[Advisory]] = {}
    for source in sources:
        for name, advisories in source.advisories_for(refs).items():
            candidates.setdefault(name, []).extend(advisories)
    findings = []
    for ref, nodes in zip(refs, groups.values(), strict=True):
        held = candidates.get(ref.name)
        if not held:
            continue  # most packages have no advisory at all
        matched = [a for a in _newest_per_id(held) if affects(a, ref.name, ref.version)]
        for records in _group_by_alias(matched):
            fixed = sorted({v for record in records for v in fixed_versions(record, ref.name, ref.version)})
            findings.append(
                Finding(
                    package=ref,
                    advisory=records[0],
                    records=tuple(records),
                    nodes=tuple(sorted(nodes, key=lambda n: n.location)),
                    fixed_in=tuple(fixed),
                )
            )
    findings.sort(key=lambda f: (f.name, _version_key(f.version), f.id))
    queried = _newest_per_id(a for advisories in candidates.values() for a in advisories)
    return AuditResult(
        project=project,
        findings=tuple(findings),
        sources=tuple(source.info() for source in sources),
        audited=len(groups),
        not_checked=tuple(not_checked),
        omitted=omitted,
        advisories=tuple(queried),
    )


def _version_key(version: str) -> tuple[int, object]:
    parsed = semver.parse_version(version, loose=True)
    return (0, parsed) if parsed is not None else (1, version)


def _newest_per_id(advisories: Iterable[Advisory]) -> list[Advisory]:
    """One record per id, the newest by ``modified``, chosen *before* withdrawn records are skipped:
    a newer withdrawn copy from one source must cancel an older active copy from another."""
    newest: dict[str, Advisory] = {}
    for advisory in advisories:
        current = newest.get(advisory.id)
        if current is None or advisory.modified > current.modified:
            newest[advisory.id] = advisory
    return list(newest.values())


_ID_PREFERENCE = ("GHSA-", "MAL-", "CVE-")


def _primary_rank(advisory: Advisory) -> tuple[int, str]:
    for rank, prefix in enumerate(_ID_PREFERENCE):
        if advisory.id.startswith(prefix):
            return rank, advisory.id
    return len(_ID_PREFERENCE), advisory.id


def _group_by_alias(advisories: list[Advisory]) -> list[list[Advisory]]:
    """Union records that share any id or alias; each group sorted with its primary record first."""
    parent = list(range(len(advisories)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for index, advisory in enumerate(advisories):
        for identifier in advisory.ids:
            if identifier in owner:
                parent[find(index)] = find(owner[identifier])
            else:
                owner[identifier] = index
    grouped: dict[int, list[Advisory]] = {}
    for index, advisory in enumerate(advisories):
        grouped.setdefault(find(index), []).append(advisory)
    return [sorted(members, key=_primary_rank) for members in grouped.values()]
