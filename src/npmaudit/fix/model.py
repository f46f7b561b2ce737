"""What a fix plan says: the changes, what they fix, what stays vulnerable and why.

Values only; :mod:`npmaudit.fix.render` turns them into text and JSON.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from npmaudit.records import field, record_class


class Action(StrEnum):
    CHANGE = "change"
    ADD = "add"
    REMOVE = "remove"


@record_class(frozen=True)
class Change:
    """One lockfile entry: ``change name old => new``, ``add name new``, ``remove name old``."""

    action: Action
    location: str
    name: str
    old: str | None = None
    new: str | None = None

    def line(self) -> str:
        if self.action is Action.CHANGE:
            return f"change {self.name} {self.old} => {self.new}  {self.location}"
        version = self.new if self.action is Action.ADD else self.old
        return f"{self.action.value} {self.name} {version}  {self.location}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"action": self.action.value, "name": self.name, "location": self.location}
        if self.old is not None:
            data["from"] = self.old
        if self.new is not None:
            data["to"] = self.new
        return data


@record_class(frozen=True)
class ManifestChange:
    """A dependency range rewritten in a manifest (``--force`` majors, overrides)."""

    file: str
    field: str  # "dependencies", "overrides", "resolutions", ...
    key: str
    old: str | None
    new: str
    breaking: bool = False

    def line(self) -> str:
        before = self.old if self.old is not None else "(none)"
        marker = "  (breaking change: outside the declared range)" if self.breaking else ""
        return f"{self.file}: {self.field}.{self.key} {before} => {self.new}{marker}"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "field": self.field,
            "key": self.key,
            "from": self.old,
            "to": self.new,
            "breaking": self.breaking,
        }


class Reason(StrEnum):
    """Why a vulnerable package is left as it is."""

    NO_SAFE_VERSION = "no-safe-version"
    BLOCKED_BY_RANGE = "blocked-by-range"
    NEEDS_FORCE = "needs-force"
    BUNDLED = "bundled"
    NOT_FROM_REGISTRY = "not-from-registry"
    NO_PACKUMENT = "no-packument"
    NOT_PLACEABLE = "dependencies-not-placeable"
    INTRODUCES_FINDINGS = "change-dropped"
    NOT_ATTEMPTED = "not-attempted"


REASON_TEXT = {
    Reason.NO_SAFE_VERSION: "no safe version is published",
    Reason.BLOCKED_BY_RANGE: "blocked by a dependency range",
    Reason.NEEDS_FORCE: "the fix is a SemVer-major update of a direct dependency: needs --force",
    Reason.BUNDLED: "bundled inside another package: it cannot be fixed in the lockfile",
    Reason.NOT_FROM_REGISTRY: "not installed from the registry",
    Reason.NO_PACKUMENT: "the registry has no document for it",
    Reason.NOT_PLACEABLE: "the dependencies of every safe version in range cannot be placed in the tree",
    Reason.INTRODUCES_FINDINGS: "the change that fixed it introduced a new finding and was dropped",
    Reason.NOT_ATTEMPTED: "this strategy cannot change it",
}


@record_class(frozen=True)
class Outcome:
    """What happened to one vulnerable node."""

    location: str
    name: str
    version: str
    fixed: bool
    new_version: str | None = None
    reason: Reason | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "version": self.version, "location": self.location}
        data["fixed"] = self.fixed
        if self.new_version is not None:
            data["newVersion"] = self.new_version
        if self.reason is not None:
            data["reason"] = self.reason.value
            data["reasonText"] = REASON_TEXT[self.reason]
        if self.detail:
            data["detail"] = self.detail
        return data


@record_class(frozen=True)
class Remaining:
    """A finding the re-audit still reports, with the reason the plan gives for it."""

    name: str
    version: str
    locations: tuple[str, ...]
    advisories: tuple[str, ...]
    severity: str
    reason: Reason | None
    detail: str = ""
    introduced: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "severity": self.severity,
            "advisories": list(self.advisories),
            "locations": list(self.locations),
        }
        if self.reason is not None:
            data["reason"] = self.reason.value
            data["reasonText"] = REASON_TEXT[self.reason]
        if self.detail:
            data["detail"] = self.detail
        if self.introduced:
            data["introduced"] = True
        return data


@record_class
class FilePlan:
    """A file the fix rewrites: its path and the new text (None when unchanged)."""

    path: str
    text: str


@record_class
class FixResult:
    """Everything ``npmaudit fix`` computed: the plan, the proof, and what was written."""

    project: str
    lockfile: str
    lockfile_format: str
    strategy: str
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    manifest_changes: list[ManifestChange] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    vulnerable_before: int = 0
    vulnerable_after: int = 0
    remaining: list[Remaining] = field(default_factory=list)
    introduced: list[Remaining] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    tree_problems_before: int = 0
    tree_problems_after: int = 0
    files: list[FilePlan] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    next_command: str | None = None
    exit_code: int = 0
    """The command's exit code: the re-audit's verdict, or with ``dry_run`` the project's as it stands (as npm)."""
    reaudit_exit_code: int = 0
    """The re-audit's verdict on the planned files (written or not): 1 when something at or above the level remains."""
    audit_level: str = "low"
    messages: list[str] = field(default_factory=list)
