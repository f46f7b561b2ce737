"""The root manifest's ``resolutions`` field: yarn's overrides of what a dependency resolves to.

A dependency the manifest overrides is locked under the override (berry keeps the original range
in the dependent's entry but keys the lock entry by the override: ``@types/node: npm:*`` is found
under ``@types/node@npm:18.x``). Patterns follow yarn: ``name``, ``name@range``, ``parent/name``,
``parent@range/name`` and ``**/name``; the most specific match wins.
"""

from __future__ import annotations

import re

from npmaudit.lazy_pattern import LazyPattern
from npmaudit.records import record_class

# Compiled when a manifest has resolutions (most have none).
_PATTERN = LazyPattern(
    r"^(?:(?P<parent>\*\*|(?:@[^/@]+/)?[^/@]+)(?:@(?P<prange>[^/]+))?/)?"
    r"(?P<name>(?:@[^/@]+/)?[^/@]+)(?:@(?P<range>.+))?$"
)
_PROTOCOL = re.compile(r"^[a-z][a-z0-9+.-]*:")


def with_protocol(spec: str) -> str:
    """Berry's normal form of a spec: a bare range or tag gets the default ``npm:`` protocol."""
    return spec if _PROTOCOL.match(spec) else f"npm:{spec}"


@record_class(frozen=True, slots=True)
class _Rule:
    parent: str | None
    name: str
    range: str | None
    spec: str

    def specificity(self) -> int:
        return (2 if self.parent not in (None, "**") else 0) + (1 if self.range is not None else 0)


class Resolutions:
    def __init__(self, field: dict[str, str] | None) -> None:
        self._rules: dict[str, list[_Rule]] = {}
        for pattern, spec in (field or {}).items():
            match = _PATTERN.match(pattern.strip())
            if match is None:
                continue  # yarn ignores (with a warning) patterns it cannot parse
            rule = _Rule(match["parent"], match["name"], match["range"], spec)
            self._rules.setdefault(rule.name, []).append(rule)
        for rules in self._rules.values():
            rules.sort(key=lambda rule: -rule.specificity())

    def names(self) -> frozenset[str]:
        """The dependency names some rule overrides: no other name needs :meth:`override`."""
        return frozenset(self._rules)

    def override(self, parent: str, name: str, spec: str) -> str | None:
        """The spec that replaces ``name@spec`` when required by a package named ``parent``."""
        for rule in self._rules.get(name, ()):
            if rule.parent not in (None, "**") and rule.parent != parent:
                continue
            if rule.range is not None and with_protocol(rule.range) != with_protocol(spec):
                continue
            return rule.spec
        return None
