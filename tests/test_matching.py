"""OSV matching on real records. Expected answers are read off the records themselves (their
introduced / fixed / last_affected events and versions lists), not from our code."""

from __future__ import annotations

import pytest

from npmaudit.advisories.matching import affects, fixed_versions
from npmaudit.advisories.model import Advisory, Affected, Severity


@pytest.fixture(scope="module")
def advisories(core_records: dict[str, dict]) -> dict[str, Advisory]:
    return {key: Advisory.from_osv(record) for key, record in core_records.items()}


@pytest.mark.parametrize(
    ("advisory_id", "name", "version", "expected"),
    [
        # introduced 0, fixed 4.17.12
        ("GHSA-jf85-cpcp-j695", "lodash", "4.17.11", True),
        ("GHSA-jf85-cpcp-j695", "lodash", "4.17.12", False),
        ("GHSA-jf85-cpcp-j695", "lodash", "0.1.0", True),
        ("GHSA-jf85-cpcp-j695", "lodash-es", "4.17.13", True),
        ("GHSA-jf85-cpcp-j695", "lodash-es", "4.17.14", False),
        # last_affected is inclusive (npm_ex ignores it and over-matches)
        ("GHSA-p8p7-x288-28g6", "request", "2.88.2", True),
        ("GHSA-p8p7-x288-28g6", "request", "2.88.3", False),
        ("GHSA-p8p7-x288-28g6", "@cypress/request", "2.88.11", True),
        ("GHSA-p8p7-x288-28g6", "@cypress/request", "3.0.0", False),
        # a prerelease inside an interval is affected; prerelease bounds
        ("GHSA-67hx-6x53-jw92", "@babel/traverse", "7.23.1", True),
        ("GHSA-67hx-6x53-jw92", "@babel/traverse", "7.23.2", False),
        ("GHSA-67hx-6x53-jw92", "@babel/traverse", "7.23.2-rc.1", True),
        ("GHSA-67hx-6x53-jw92", "@babel/traverse", "8.0.0-alpha.1", True),
        ("GHSA-67hx-6x53-jw92", "@babel/traverse", "8.0.0-alpha.4", False),
        ("GHSA-67hx-6x53-jw92", "@babel/traverse", "8.0.0", False),
        # introduced 0 with no end: every version
        ("GHSA-67hx-6x53-jw92", "babel-traverse", "6.26.0", True),
        # several ranges for one package
        ("GHSA-3h5v-q93c-6h6q", "ws", "7.4.6", True),
        ("GHSA-3h5v-q93c-6h6q", "ws", "7.5.10", False),
        ("GHSA-3h5v-q93c-6h6q", "ws", "6.2.2", True),
        ("GHSA-3h5v-q93c-6h6q", "ws", "2.0.0", False),
        # explicit versions lists
        ("GHSA-pjwm-rvh2-c87w", "ua-parser-js", "0.7.29", True),
        ("GHSA-pjwm-rvh2-c87w", "ua-parser-js", "0.7.28", False),
        ("GHSA-pjwm-rvh2-c87w", "ua-parser-js", "0.7.30", False),
        ("GHSA-pjwm-rvh2-c87w", "ua-parser-js", "1.0.0", True),
        ("GHSA-mh6f-8j2x-4483", "event-stream", "3.3.6", True),
        ("GHSA-mh6f-8j2x-4483", "event-stream", "3.3.5", False),
        ("GHSA-mh6f-8j2x-4483", "flatmap-stream", "0.1.1", True),
        # other packages never match, even by a similar name
        ("GHSA-jf85-cpcp-j695", "lodash.merge", "4.6.0", False),
        # malicious records: introduced 0 / last_affected / introduced..fixed
        ("MAL-2022-9", "0-dns", "1.0.0", True),
        ("MAL-2022-499", "@personio-internal/split-sdk-provider", "1.23.0", True),
        ("MAL-2022-499", "@personio-internal/split-sdk-provider", "1.23.1", False),
        ("MAL-2023-462", "fsevents", "1.2.10", True),
        ("MAL-2023-462", "fsevents", "1.2.11", False),
        ("MAL-2023-462", "fsevents", "2.3.2", False),
        ("MAL-2023-462", "fsevents", "0.3.8", False),
        ("MAL-2023-8697", "@ledgerhq/connect-kit", "1.1.6", True),
        ("MAL-2023-8697", "@ledgerhq/connect-kit", "1.1.8", False),
        ("MAL-2024-11183", "@solana/web3.js", "1.95.7", True),
        ("MAL-2024-11183", "@solana/web3.js", "1.95.8", False),
        # a withdrawn record never matches
        ("MAL-2024-1722", "account-settings", "35.0.0", False),
        # node security records converted to OSV (last_affected pieces)
        ("NSWG-ECO-46", "ms", "0.7.0", True),
        ("NSWG-ECO-46", "ms", "0.7.1", False),
    ],
)
def test_real_records(advisories: dict[str, Advisory], advisory_id: str, name: str, version: str, expected: bool):
    assert affects(advisories[advisory_id], name, version) is expected


def test_unparseable_installed_version_matches_only_an_explicit_list(advisories: dict[str, Advisory]):
    assert not affects(advisories["GHSA-jf85-cpcp-j695"], "lodash", "not-a-version")
    listed = Advisory.from_osv(
        {"id": "X-1", "affected": [{"package": {"ecosystem": "npm", "name": "p"}, "versions": ["weird"]}]}
    )
    assert affects(listed, "p", "weird")


def _record(events: list[dict], kind: str = "SEMVER") -> Advisory:
    return Advisory.from_osv(
        {
            "id": "X-2",
            "affected": [{"package": {"ecosystem": "npm", "name": "p"}, "ranges": [{"type": kind, "events": events}]}],
        }
    )


def test_events_are_sorted_before_they_are_walked():
    advisory = _record([{"fixed": "2.0.0"}, {"introduced": "1.0.0"}])
    assert affects(advisory, "p", "1.5.0")
    assert not affects(advisory, "p", "2.0.0")
    assert not affects(advisory, "p", "0.9.0")


def test_a_second_introduced_reopens_without_losing_the_first_interval():
    advisory = _record([{"introduced": "1.0.0"}, {"fixed": "1.2.0"}, {"introduced": "2.0.0"}, {"fixed": "2.1.0"}])
    assert [affects(advisory, "p", v) for v in ("1.1.0", "1.3.0", "2.0.5", "2.1.0")] == [True, False, True, False]


def test_limit_caps_the_range():
    advisory = _record([{"introduced": "0"}, {"limit": "3.0.0"}])
    assert affects(advisory, "p", "2.9.9")
    assert not affects(advisory, "p", "3.0.0")


def test_ecosystem_ranges_are_read_like_semver_and_git_ranges_are_ignored():
    assert affects(_record([{"introduced": "1.0.0"}, {"fixed": "1.1.0"}], "ECOSYSTEM"), "p", "1.0.5")
    assert not affects(_record([{"introduced": "0"}], "GIT"), "p", "1.0.5")


def test_an_entry_without_versions_or_ranges_covers_every_version():
    advisory = Advisory.from_osv({"id": "X-3", "affected": [{"package": {"ecosystem": "npm", "name": "p"}}]})
    assert affects(advisory, "p", "9.9.9")


def test_non_npm_entries_are_dropped():
    advisory = Advisory.from_osv(
        {
            "id": "X-4",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "p"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                }
            ],
        }
    )
    assert advisory.affected == ()
    assert not affects(advisory, "p", "1.0.0")


def test_registry_ranges_use_advisory_semantics_prereleases_included():
    advisory = Advisory(
        id="GHSA-test",
        modified="",
        aliases=(),
        summary="",
        severity=Severity.HIGH,
        malicious=False,
        affected=(Affected("p", npm_range=">=1.0.0 <1.2.0"),),
    )
    assert affects(advisory, "p", "1.1.0-beta.1")
    assert affects(advisory, "p", "1.0.0")
    assert not affects(advisory, "p", "1.2.0")


def test_fixed_versions_name_the_end_of_the_interval(advisories: dict[str, Advisory]):
    assert fixed_versions(advisories["GHSA-jf85-cpcp-j695"], "lodash", "4.17.11") == ("4.17.12",)
    assert fixed_versions(advisories["GHSA-3h5v-q93c-6h6q"], "ws", "7.4.6") == ("7.5.10",)
    assert fixed_versions(advisories["GHSA-p8p7-x288-28g6"], "request", "2.88.2") == ()
    assert fixed_versions(advisories["GHSA-jf85-cpcp-j695"], "lodash", "4.17.12") == ()


@pytest.mark.parametrize(
    ("advisory_id", "malicious"),
    [
        ("MAL-2022-9", True),
        ("GHSA-4x49-vf9v-38px", True),  # aliases MAL-2025-46974
        ("GHSA-pjwm-rvh2-c87w", True),  # GitHub malware advisory (CWE-506)
        ("GHSA-mh6f-8j2x-4483", True),
        ("GHSA-jf85-cpcp-j695", False),
        ("GHSA-8r6j-v8pm-fqw3", False),  # code injection, not malware
        ("NSWG-ECO-46", False),
    ],
)
def test_malicious_detection(advisories: dict[str, Advisory], advisory_id: str, malicious: bool):
    assert advisories[advisory_id].malicious is malicious


def test_malicious_origins_mark_a_record_without_a_mal_id():
    record = {"id": "X-5", "database_specific": {"malicious-packages-origins": [{"source": "ghsa-malware"}]}}
    assert Advisory.from_osv(record).malicious


@pytest.mark.parametrize(
    ("advisory_id", "severity"),
    [
        ("GHSA-jf85-cpcp-j695", Severity.CRITICAL),  # database_specific.severity CRITICAL
        ("GHSA-72xf-g2v4-qvf3", Severity.MODERATE),
        ("GHSA-2p57-rm9w-gvfp", Severity.HIGH),
        ("MAL-2022-9", Severity.UNKNOWN),  # no score at all
    ],
)
def test_severity_from_the_record(advisories: dict[str, Advisory], advisory_id: str, severity: Severity):
    assert advisories[advisory_id].severity is severity


def test_severity_falls_back_to_the_cvss_vector():
    record = {"id": "X-6", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}
    assert Advisory.from_osv(record).severity is Severity.CRITICAL
    record = {"id": "X-7", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"}]}
    assert Advisory.from_osv(record).severity is Severity.LOW
    record = {"id": "X-8", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/garbage"}]}
    assert Advisory.from_osv(record).severity is Severity.UNKNOWN


def test_a_malformed_record_is_refused():
    from npmaudit.advisories.model import AdvisoryFormatError

    for bad in ([], {"affected": []}, {"id": "X", "affected": {}}, {"id": "X", "aliases": "CVE-1"}):
        with pytest.raises(AdvisoryFormatError):
            Advisory.from_osv(bad)


def test_an_entry_with_only_npms_range_uses_it():
    # NSWG-ECO-8 as converted: no OSV ranges, npm's vulnerable_versions kept in database_specific.
    record = {
        "id": "NSWG-ECO-8",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "express"},
                "database_specific": {"unconverted": True, "vulnerable_versions": "<3.11 || >= 4 <4.5"},
            }
        ],
    }
    advisory = Advisory.from_osv(record)
    assert [affects(advisory, "express", v) for v in ("3.10.0", "3.11.0", "4.4.9", "4.5.0", "4.19.2")] == [
        True,
        False,
        True,
        False,
        False,
    ]


def test_sorted_events_are_kept_per_range_object_and_only_for_it(advisories: dict[str, Advisory]):
    """The cache of sorted events (matching._SORTED) answers for the very range object it was filled
    for, with what sorting it again gives; an entry left under the same id by another range (an id
    Python reused) is not taken for it."""
    from npmaudit.advisories import matching
    from npmaudit.advisories.model import AffectedRange, Event

    ranges = [rng for advisory in advisories.values() for entry in advisory.affected for rng in entry.ranges]
    assert len(ranges) > 20
    for rng in ranges:
        first = matching._sorted_events(rng)
        assert matching._sorted_events(rng) is first
        assert first == matching._events_in_order(rng)
    other = AffectedRange("SEMVER", (Event("introduced", "0"), Event("fixed", "1.0.0")))
    stale = AffectedRange("SEMVER", (Event("introduced", "5.0.0"),))
    matching._SORTED[id(other)] = (stale, matching._events_in_order(stale))
    assert matching._sorted_events(other) == matching._events_in_order(other)
    assert affects(_record([{"introduced": "0"}, {"fixed": "1.0.0"}]), "p", "0.5.0")
