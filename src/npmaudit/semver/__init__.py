"""npm-compatible semantic versioning: node-semver 7.8.5 behaviour, written for npmaudit.

Two ways of reading ranges matter to an npm audit:

* install semantics (the default options): what npm would install for a dependency
  spec. Prereleases only match a range that names a prerelease of the same tuple.
* advisory semantics (`ADVISORY_OPTIONS`: loose + include_prerelease): how npm audit
  tests an advisory's `vulnerable_versions`, so that `1.2.3-beta` counts as inside `<1.2.3`.

Functions mirror node-semver's names in snake_case and its edge cases: `satisfies` and
`valid*` return False/None on invalid input, comparisons raise SemverError.
Parsed versions and ranges are cached, because satisfies() runs once per
(package version, advisory) pair.
"""

from __future__ import annotations

from .range import (
    Comparator,
    Range,
    intersects,
    max_satisfying,
    min_satisfying,
    min_version,
    satisfies,
    to_comparators,
    to_range,
    valid_range,
)
from .relations import gtr, ltr, outside, simplify_range, subset
from .version import (
    RELEASE_TYPES,
    SemverError,
    Version,
    clean,
    cmp,
    compare,
    compare_build,
    compare_loose,
    eq,
    gt,
    gte,
    inc,
    lt,
    lte,
    major,
    minor,
    neq,
    parse_version,
    patch,
    prerelease,
    rcompare,
    rsort_versions,
    sort_versions,
    to_version,
    truncate,
    valid,
)

ADVISORY_OPTIONS: dict[str, bool] = {"loose": True, "include_prerelease": True}
"""The options npm audit uses to test advisory ranges (metavuln-calculator's semverOpt)."""

__all__ = [
    "ADVISORY_OPTIONS",
    "RELEASE_TYPES",
    "Comparator",
    "Range",
    "SemverError",
    "Version",
    "clean",
    "cmp",
    "compare",
    "compare_build",
    "compare_loose",
    "eq",
    "gt",
    "gte",
    "gtr",
    "inc",
    "intersects",
    "lt",
    "lte",
    "ltr",
    "major",
    "max_satisfying",
    "min_satisfying",
    "min_version",
    "minor",
    "neq",
    "outside",
    "parse_version",
    "patch",
    "prerelease",
    "rcompare",
    "rsort_versions",
    "satisfies",
    "simplify_range",
    "sort_versions",
    "subset",
    "to_comparators",
    "to_range",
    "to_version",
    "truncate",
    "valid",
    "valid_range",
]
