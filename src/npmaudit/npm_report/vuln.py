"""arborist's ``Vuln``: one entry of npm's report (a package name and everything known about it).

``fix_available`` keeps npm's setter semantics: assigning it pushes the value down to every vuln in
``via`` (false wins; true is replaced; an object replaces a non-object or a non-major object), and
adding a via re-runs the setter. Identity (``is``) is what stops the propagation on loops, as
``===`` does in JavaScript, so fix objects are never copied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from npmaudit import semver
from npmaudit.npm_report.calculator import NpmAdvisory
from npmaudit.npm_report.collation import collation_key, locale_sorted
from npmaudit.project.readers.npm.spec import REGISTRY_TYPES, SpecType, alias_target, spec_type

if TYPE_CHECKING:
    from npmaudit.npm_report.tree import TreeNode

_OPTS = semver.ADVISORY_OPTIONS
SEVERITY_RANK = {"info": 0, "low": 1, "moderate": 2, "high": 3, "critical": 4}

FixAvailable = bool | dict[str, Any]


def registry_subspec(spec: str) -> str | None:
    """The range npm tests for a registry spec (an alias's target range), None for non-registry."""
    kind = spec_type(spec)
    if kind not in REGISTRY_TYPES:
        return None
    if kind is SpecType.ALIAS:
        return alias_target(spec)[1]
    return spec


class Vuln:
    def __init__(self, name: str, advisory: NpmAdvisory) -> None:
        self.name = name
        self.via: dict[int, Vuln] = {}
        self.advisories: dict[int, NpmAdvisory] = {}
        self.severity: str | None = None
        self.effects: dict[int, Vuln] = {}
        self.top_nodes: set[int] = set()
        self.nodes: dict[int, TreeNode] = {}
        self._range: str | None = None
        self._simple_range: str | None = None
        self._fix_available: FixAvailable = True
        self.add_advisory(advisory)
        self.packument = advisory.packument or {}
        self.versions = advisory.versions

    # -- fixAvailable ----------------------------------------------------------------------

    @property
    def fix_available(self) -> FixAvailable:
        return self._fix_available

    @fix_available.setter
    def fix_available(self, f: FixAvailable) -> None:
        self._fix_available = f
        for v in list(self.via.values()):
            current = v.fix_available
            if current is f:
                continue
            replaces_object = isinstance(f, dict) and (
                not isinstance(current, dict) or not current.get("isSemVerMajor")
            )
            if f is False or current is True or replaces_object:
                v.fix_available = f

    # -- advisories, vias ------------------------------------------------------------------

    def add_advisory(self, advisory: NpmAdvisory) -> None:
        self.advisories[id(advisory)] = advisory
        self._range = None
        self._simple_range = None
        if SEVERITY_RANK.get(advisory.severity, -2) > SEVERITY_RANK.get(self.severity or "", -1):
            self.severity = advisory.severity

    def delete_advisory(self, advisory: NpmAdvisory) -> None:
        self.advisories.pop(id(advisory), None)
        self.severity = None
        self._range = None
        self._simple_range = None
        for remaining in list(self.advisories.values()):
            self.add_advisory(remaining)
        dependencies = {a.dependency for a in self.advisories.values()}
        for via in list(self.via.values()):
            if via.name not in dependencies:
                self.delete_via(via)

    def add_via(self, v: Vuln) -> None:
        self.via[id(v)] = v
        v.effects[id(self)] = self
        self.fix_available = self.fix_available

    def delete_via(self, v: Vuln) -> None:
        self.via.pop(id(v), None)
        v.effects.pop(id(self), None)

    # -- ranges ----------------------------------------------------------------------------

    @property
    def range(self) -> str:
        if not self._range:
            self._range = " || ".join(a.range or "" for a in self.advisories.values())
        return self._range

    @property
    def simple_range(self) -> str:
        if self._simple_range and self._simple_range == self._range:
            return self._simple_range
        first = next(iter(self.advisories.values()))
        simplified = semver.simplify_range(first.versions, self.range, **_OPTS)
        self._simple_range = simplified
        self._range = simplified
        return simplified

    # -- questions -------------------------------------------------------------------------

    @property
    def is_direct(self) -> bool:
        return any(
            source.is_root or source.is_workspace for node in self.nodes.values() for source, _spec in node.edges_in
        )

    def test_spec(self, spec: str) -> bool:
        """True when no version the spec allows (install semantics) is outside the vuln's range."""
        wanted = registry_subspec(spec)
        if wanted is None:
            return True
        vuln_range = self.range
        for version in self.versions:
            if semver.satisfies(version, wanted) and not semver.satisfies(version, vuln_range, **_OPTS):
                return False
        return True

    def to_json(self) -> dict[str, Any]:
        via: list[Any] = []
        for advisory in self.advisories.values():
            if advisory.type == "metavuln":
                via.append(advisory.dependency)
                continue
            item: dict[str, Any] = {
                "source": advisory.source,
                "name": advisory.name,
                "dependency": advisory.dependency,
                "title": advisory.title,
                "url": advisory.url,
                "severity": advisory.severity,
            }
            if advisory.cwe is not None:
                item["cwe"] = advisory.cwe
            if advisory.cvss is not None:
                item["cvss"] = advisory.cvss
            item["range"] = advisory.range
            via.append(item)
        via.sort(key=lambda item: collation_key(_via_key(item)))
        return {
            "name": self.name,
            "severity": self.severity,
            "isDirect": self.is_direct,
            "via": via,
            "effects": locale_sorted(v.name for v in self.effects.values()),
            "range": self.simple_range,
            "nodes": locale_sorted(n.location for n in self.nodes.values()),
            "fixAvailable": self.fix_available,
        }


def _via_key(item: Any) -> str:
    """``String(item.source || item)``: numeric ids compare as strings."""
    if isinstance(item, dict):
        source = item.get("source")
        return _js_string(source) if source else "[object Object]"
    return str(item)


def _js_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
