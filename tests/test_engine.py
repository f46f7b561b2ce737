"""The audit engine on a small hand-built tree: what is matched, what is never matched, grouping
of one advisory's several records, omitted groups, dependency chains, and the policy verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES
from npmaudit.advisories.jsondb import JsonDatabase
from npmaudit.advisories.model import Severity
from npmaudit.auditing.engine import audit
from npmaudit.auditing.policy import judge
from npmaudit.project.model import DepType, Edge, Node, Project, SourceKind

CORE = FIXTURES / "osv" / "core"


def _project() -> Project:
    nodes = [
        Node(
            "",
            "app",
            "1.0.0",
            SourceKind.ROOT,
            edges=(
                Edge("lodash", "^4.17.0", DepType.PROD, "node_modules/lodash"),
                Edge("a", "^1.0.0", DepType.PROD, "node_modules/a"),
                Edge("fsevents", "^1.2.0", DepType.OPTIONAL, "node_modules/fsevents"),
                Edge("ua-parser-js", "0.7.29", DepType.DEV, "node_modules/ua-parser-js"),
                Edge("0-dns", "workspace:*", DepType.PROD, "node_modules/0-dns"),
                Edge("debug", "4.4.2", DepType.PROD, "node_modules/debug"),
            ),
        ),
        Node("node_modules/lodash", "lodash", "4.17.11", SourceKind.REGISTRY),
        Node(
            "node_modules/a",
            "a",
            "1.0.0",
            SourceKind.REGISTRY,
            edges=(Edge("lodash", "4.17.11", DepType.PROD, "node_modules/a/node_modules/lodash"),),
        ),
        Node("node_modules/a/node_modules/lodash", "lodash", "4.17.11", SourceKind.REGISTRY),
        Node("node_modules/fsevents", "fsevents", "1.2.10", SourceKind.REGISTRY, optional=True),
        Node("node_modules/ua-parser-js", "ua-parser-js", "0.7.29", SourceKind.REGISTRY, dev=True),
        # A workspace member that shares its name with a malicious registry package (osv-scanner#2881).
        Node("node_modules/0-dns", "0-dns", "", SourceKind.WORKSPACE, link_target="packages/0-dns"),
        Node("packages/0-dns", "0-dns", "1.0.0", SourceKind.WORKSPACE),
        Node("node_modules/debug", "debug", "4.4.2", SourceKind.REGISTRY),
        # A git dependency with a registry-malicious name is not that registry package either.
        Node("node_modules/0-shadowenv", "0-shadowenv", "1.0.0", SourceKind.GIT),
    ]
    return Project(Path("."), Path("package-lock.json"), "test", {n.location: n for n in nodes})


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[JsonDatabase]:
    # The debug@4.4.2 malware is published both as GHSA-4x49-vf9v-38px and as MAL-2025-46974; the MAL twin
    # here is a minimal record carrying only what links the two (its id), to test that one problem is one finding.
    twin = tmp_path_factory.mktemp("db") / "twin.json"
    twin.write_text(
        json.dumps(
            [
                {
                    "id": "MAL-2025-46974",
                    "modified": "2025-09-16T00:00:00Z",
                    "summary": "Malicious code in debug (npm)",
                    "affected": [{"package": {"ecosystem": "npm", "name": "debug"}, "versions": ["4.4.2"]}],
                }
            ]
        )
    )
    return [JsonDatabase(CORE / name) for name in ("ghsa.jsonl", "malicious.jsonl")] + [JsonDatabase(twin)]


def test_findings_cover_registry_packages_only(sources):
    result = audit(_project(), sources)
    found = {(f.name, f.version, f.id) for f in result.findings}
    assert found == {
        ("lodash", "4.17.11", "GHSA-jf85-cpcp-j695"),
        ("lodash", "4.17.11", "GHSA-p6mc-m468-83gw"),
        ("fsevents", "1.2.10", "GHSA-8r6j-v8pm-fqw3"),
        ("fsevents", "1.2.10", "MAL-2023-462"),
        ("ua-parser-js", "0.7.29", "GHSA-pjwm-rvh2-c87w"),
        ("debug", "4.4.2", "GHSA-4x49-vf9v-38px"),
    }
    assert {n.location for n in result.not_checked} == {
        "node_modules/0-dns",
        "packages/0-dns",
        "node_modules/0-shadowenv",
    }
    assert result.audited == 5  # lodash@4.17.11 (twice), a, fsevents, ua-parser-js, debug


def test_one_advisory_under_two_ids_is_one_finding(sources):
    debug = [f for f in audit(_project(), sources).findings if f.name == "debug"]
    assert len(debug) == 1
    assert "MAL-2025-46974" in debug[0].aliases
    assert [r.id for r in debug[0].records] == ["GHSA-4x49-vf9v-38px", "MAL-2025-46974"]
    assert debug[0].malicious and debug[0].severity is Severity.CRITICAL


def test_every_install_location_and_the_chain_from_the_root(sources):
    result = audit(_project(), sources)
    lodash = next(f for f in result.findings if f.id == "GHSA-jf85-cpcp-j695")
    assert lodash.locations == ("node_modules/a/node_modules/lodash", "node_modules/lodash")
    chain = result.project.chain("node_modules/a/node_modules/lodash")
    assert [n.location for n in chain] == ["", "node_modules/a", "node_modules/a/node_modules/lodash"]
    assert lodash.fixed_in == ("4.17.12",)


def test_omitted_groups_are_left_out(sources):
    result = audit(_project(), sources, omit=frozenset({"dev", "optional"}))
    assert {f.name for f in result.findings} == {"lodash", "debug"}
    assert result.omitted == 2


def test_malicious_findings_are_critical_whatever_the_record_says(sources):
    result = audit(_project(), sources)
    mal = next(f for f in result.findings if f.id == "MAL-2023-462")
    assert mal.advisory.severity is Severity.UNKNOWN
    assert mal.severity is Severity.CRITICAL


@pytest.mark.parametrize(
    ("policy", "level", "code", "failing"),
    [
        ("error", "low", 1, 6),
        ("error", "critical", 1, 5),  # lodash GHSA-p6mc is high, the rest critical or malicious
        ("error", "none", 0, 0),
        ("warn", "low", 0, 6),
    ],
)
def test_policy_and_level_decide_the_exit_code(sources, policy, level, code, failing):
    verdict = judge(audit(_project(), sources).findings, policy, level)
    assert verdict.exit_code == code
    assert len(verdict.failing) == failing


def test_no_findings_pass_under_error():
    verdict = judge((), "error", "info")
    assert verdict.exit_code == 0


def test_a_newer_withdrawn_copy_cancels_an_older_active_one(tmp_path: Path):
    active = {
        "id": "MAL-2099-7",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "npm", "name": "lodash"}, "versions": ["4.17.11"]}],
    }
    withdrawn = dict(active, modified="2025-01-01T00:00:00Z", withdrawn="2025-01-01T00:00:00Z")
    (tmp_path / "old.json").write_text(json.dumps([active]))
    (tmp_path / "new.json").write_text(json.dumps([withdrawn]))
    for order in (["old.json", "new.json"], ["new.json", "old.json"]):
        result = audit(_project(), [JsonDatabase(tmp_path / name) for name in order])
        assert not any(f.id == "MAL-2099-7" for f in result.findings), order
    assert any(f.id == "MAL-2099-7" for f in audit(_project(), [JsonDatabase(tmp_path / "old.json")]).findings)
