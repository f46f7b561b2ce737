"""The advisory model's node-semver range for a package (Advisory.node_semver_range): every `affected`
entry of a record for that package joined by " || ", as the registry's bulk endpoint and npm-oracle
serve it. The real records come from tests/fixtures/npm_oracle/advisories (see its SOURCE.md); the
expected strings for them are what npm-oracle's `convert` printed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import FIXTURES
from npmaudit.advisories.matching import affects
from npmaudit.advisories.model import Advisory, Affected

REAL = FIXTURES / "npm_oracle" / "advisories" / "real.jsonl"


def _real(advisory_id: str) -> Advisory:
    for line in REAL.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["id"] == advisory_id:
            return Advisory.from_osv(record)
    raise AssertionError(f"{advisory_id} is not in {REAL}")


def _record(*affected: dict[str, Any]) -> Advisory:
    return Advisory.from_osv({"id": "TEST-1", "modified": "2024-01-01T00:00:00Z", "affected": list(affected)})


def _entry(name: str = "p", ranges: list[Any] | None = None, versions: list[str] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"package": {"ecosystem": "npm", "name": name}}
    if ranges is not None:
        entry["ranges"] = [{"type": "SEMVER", "events": events} for events in ranges]
    if versions is not None:
        entry["versions"] = versions
    return entry


def test_every_entry_of_a_real_record_is_in_the_range() -> None:
    """GitHub exports one `affected` entry per vulnerable range: y18n's three entries (one with a
    listed version) and debug's two become one range each, in record order."""
    y18n = _real("GHSA-c4w7-xm78-47vh")
    assert len([e for e in y18n.affected if e.name == "y18n"]) == 3
    assert y18n.node_semver_range("y18n") == "<3.2.2 || >=4.0.0 <4.0.1 || 4.0.0 || >=5.0.0 <5.0.5"
    debug = _real("GHSA-9vvw-cc9w-f27h")
    assert debug.node_semver_range("debug") == ">=3.0.0 <3.1.0 || <2.6.9"
    assert debug.node_semver_range("y18n") is None
    # The installed versions the old per-entry conversion missed are inside the joined range.
    assert affects(y18n, "y18n", "4.0.0") and affects(debug, "debug", "2.6.8")


@pytest.mark.parametrize(
    ("affected", "expected"),
    [
        ([_entry(ranges=[[{"introduced": "1.0.0"}, {"fixed": "1.2.0"}]])], ">=1.0.0 <1.2.0"),
        ([_entry(ranges=[[{"introduced": "0"}, {"last_affected": "2.1.3"}]])], "<=2.1.3"),
        ([_entry(ranges=[[{"introduced": "1.0.0"}, {"limit": "3.0.0"}]])], ">=1.0.0 <3.0.0"),
        ([_entry(ranges=[[{"introduced": "0"}]])], "*"),
        ([_entry(ranges=[[{"introduced": "2.0.0"}]])], ">=2.0.0"),
        (
            [_entry(ranges=[[{"introduced": "0"}, {"fixed": "1.0.1"}, {"introduced": "2.0.0"}, {"fixed": "2.0.3"}]])],
            "<1.0.1 || >=2.0.0 <2.0.3",
        ),
        # Listed versions keep the record's order (not string or version order), after the ranges.
        (
            [_entry(ranges=[[{"introduced": "3.0.0"}]], versions=["1.0.10", "1.0.2", "1.0.10"])],
            ">=3.0.0 || 1.0.10 || 1.0.2",
        ),
        # No ranges and no versions: every version, as the matcher reads it.
        ([_entry()], "*"),
        # Parts repeated across entries are written once; other packages' entries are not mixed in.
        (
            [
                _entry(ranges=[[{"introduced": "0"}, {"fixed": "1.0.0"}]]),
                _entry("q", ranges=[[{"introduced": "0"}, {"fixed": "9.0.0"}]]),
                _entry(ranges=[[{"introduced": "0"}, {"fixed": "1.0.0"}]], versions=["1.5.0"]),
            ],
            "<1.0.0 || 1.5.0",
        ),
    ],
)
def test_range_shapes(affected: list[dict[str, Any]], expected: str) -> None:
    assert _record(*affected).node_semver_range("p") == expected


def test_nothing_npm_could_test_gives_no_range() -> None:
    git_only = _entry()
    git_only["ranges"] = [{"type": "GIT", "repo": "https://example.test/p.git", "events": [{"introduced": "0"}]}]
    assert _record(git_only).node_semver_range("p") is None
    assert _record(_entry(ranges=[[{"introduced": "0"}]])).node_semver_range("other") is None


def test_a_kept_node_semver_range_is_used_as_written() -> None:
    """Records converted from npm's own advisories keep the range OSV events could not express."""
    entry = _entry()
    entry["database_specific"] = {"vulnerable_versions": "<3.11 || >= 4 <4.5"}
    assert _record(entry).node_semver_range("p") == "<3.11 || >= 4 <4.5"


def test_versions_without_their_order_are_still_written() -> None:
    """An Affected built by hand (no record order) still lists every version, in sorted order."""
    entry = Affected("p", versions=frozenset({"2.0.0", "1.0.0"}))
    assert entry.node_semver_parts() == ["1.0.0", "2.0.0"]


def test_severity_label_is_the_records_own_word() -> None:
    record = {"id": "TEST-2", "modified": "", "database_specific": {"severity": "MEDIUM"}, "affected": []}
    assert Advisory.from_osv(record).severity_label == "MEDIUM"
    assert Advisory.from_osv({**record, "database_specific": {"severity": 7}}).severity_label == ""
