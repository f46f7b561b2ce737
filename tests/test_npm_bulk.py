"""`--registry-advisories`: npm 11's bulk payload (checked against payloads recorded from npm 11.19.1)
and its findings (checked against npm's own audit on the same advisories)."""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path

import pytest

from npmaudit.advisories.model import Advisory
from npmaudit.advisories.npm_bulk import BULK_PATH, NpmBulkSource, advisory_from_bulk, bulk_payload, bulk_to_osv
from npmaudit.auditing.engine import audit
from npmaudit.errors import EXIT_SOURCE, SourceError
from npmaudit.http import HttpClient, HttpSettings
from npmaudit.project.loader import load_project
from npmaudit.project.model import PackageRef
from servers import Fault, RegistryServer

ONLINE = Path(__file__).parent / "fixtures" / "osv" / "online"
FAST = HttpSettings(timeout=2.0, retries=1, backoff=0.01)
PAYLOAD_CASES = [
    (path.name.removesuffix(".bulk.json"), case)
    for path in sorted((ONLINE / "oracle").glob("*.bulk.json"))
    for case in json.loads(path.read_text())["cases"]
]


@pytest.fixture(scope="module")
def nsp() -> list[dict]:
    with gzip.open(ONLINE / "nsp-original.jsonl.gz", "rt", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream]


def _source(registry: str, project=None, omit=frozenset(), network=None) -> NpmBulkSource:
    return NpmBulkSource(HttpClient("npm registry advisories", FAST, network), registry, project, omit)


def _case_id(value: object) -> str:
    return value if isinstance(value, str) else " ".join(value["args"]) or "default"  # type: ignore[index]


@pytest.mark.parametrize(("name", "case"), PAYLOAD_CASES, ids=_case_id)
def test_payload_is_npm_11s(name: str, case: dict) -> None:
    project = load_project(ONLINE / "projects" / name)
    omit = frozenset(arg.split("=", 1)[1] for arg in case["args"])
    ours = bulk_payload(project, omit)
    assert [[key, versions] for key, versions in ours.items()] == case["payload"]  # names, order, versions


def test_payload_cases_cover_links_workspaces_and_aliases() -> None:
    lock = json.loads((ONLINE / "projects" / "npm__cli" / "package-lock.json").read_text())
    assert any(meta.get("link") for meta in lock["packages"].values())
    assert any(
        meta.get("name") and not loc.endswith("/" + meta["name"])
        for loc, meta in lock["packages"].items()
        if loc.startswith("node_modules/")
    )  # an alias: installed under another name
    assert len(PAYLOAD_CASES) == 9


@pytest.mark.parametrize("name", ["socketio__socket.io__packages__engine.io__examples__latency", "atom__atom"])
def test_findings_equal_npm_audits(nsp: list[dict], name: str) -> None:
    expected = {tuple(pair) for pair in json.loads((ONLINE / "oracle" / f"{name}.findings.json").read_text())["direct"]}
    project = load_project(ONLINE / "projects" / name)
    with RegistryServer.from_nsp(nsp) as registry:
        result = audit(project, [_source(registry.url, project)])
    ours = {
        (f.name, int(alias[4:]))
        for f in result.findings
        for a in f.records
        for alias in a.ids
        if alias.startswith("NPM-")
    }
    assert ours == expected and expected


def test_hand_checked_project(nsp: list[dict]) -> None:
    # lodash 4.17.15 is in NSP 516 (>=4.17.15 <4.17.19), not 368 (<4.17.5) or 493 (<4.17.11);
    # dev marked 0.3.5 is in 101 (<=0.3.5) only; minimist and policycms have no NSP advisory.
    project = load_project(ONLINE / "projects" / "handmade")
    with RegistryServer.from_nsp(nsp) as registry:
        found = audit(project, [_source(registry.url, project)])
        assert {(f.name, f.id) for f in found.findings} == {("lodash", "NPM-516"), ("marked", "NPM-101")}
        no_dev = audit(project, [_source(registry.url, project, frozenset({"dev"}))], frozenset({"dev"}))
        assert {(f.name, f.id) for f in no_dev.findings} == {("lodash", "NPM-516")}
        request = registry.requests_to("/" + BULK_PATH)[0]
        assert request.headers["content-encoding"] == "gzip"
        assert request.headers["content-type"] == "application/json"
        assert registry.bulk_payloads() == [
            {"lodash": ["4.17.15"], "marked": ["0.3.5"], "minimist": ["1.2.0"], "policycms": ["1.0.1"]},
            {"lodash": ["4.17.15"], "minimist": ["1.2.0"], "policycms": ["1.0.1"]},
        ]


def test_registry_with_a_path_and_a_token(tmp_path: Path, nsp: list[dict]) -> None:
    from npmaudit.npmrc import load_npm_config

    with RegistryServer.from_nsp(nsp, token="reg-token") as registry:
        registry_url = registry.url + "npm/"
        npmrc = f"registry={registry_url}\n//127.0.0.1:{registry.port}/npm/:_authToken=reg-token\n"
        (tmp_path / ".npmrc").write_text(npmrc)
        config = load_npm_config(tmp_path, env={"PATH": "", "HOME": str(tmp_path / "h")}, ask_npm=False)
        found = _source(config.registry, network=config).advisories_for([PackageRef("lodash", "4.17.15")])
        assert [a.id for a in found["lodash"]] == ["NPM-368", "NPM-493", "NPM-516"]
        assert registry.requests[0].path == "/npm/" + BULK_PATH
        with pytest.raises(SourceError, match="HTTP 401"):
            _source(registry_url).advisories_for([PackageRef("lodash", "4.17.15")])  # no credentials


def test_ghsa_url_gives_the_id_and_the_record_round_trips() -> None:
    entry = {
        "id": 1096460,
        "url": "https://github.com/advisories/GHSA-p6mc-m468-83gw",
        "title": "Prototype Pollution in lodash",
        "severity": "high",
        "vulnerable_versions": ">=3.7.0 <4.17.19",
        "cwe": ["CWE-770", "CWE-1321"],
        "cvss": {"score": 7.4, "vectorString": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H"},
    }
    advisory = advisory_from_bulk("lodash", entry)
    assert advisory.id == "GHSA-p6mc-m468-83gw" and advisory.aliases == ("NPM-1096460",)
    assert advisory.url == entry["url"] and advisory.severity.value == "high" and not advisory.malicious
    assert advisory.affected[0].npm_range == ">=3.7.0 <4.17.19" and advisory.cwe == ("CWE-770", "CWE-1321")
    reread = Advisory.from_osv(json.loads(json.dumps(bulk_to_osv("lodash", entry))))  # as written by --write
    assert reread.affected[0].npm_range == ">=3.7.0 <4.17.19" and reread.ids == advisory.ids
    assert reread.record["database_specific"]["cvss_score"] == 7.4
    from npmaudit.npm_report.bulk import bulk_entries

    assert [e["cvss"] for _, e in bulk_entries(advisory)] == [entry["cvss"]]  # npm's `via` keeps the score
    malware = advisory_from_bulk("evil", {**entry, "cwe": ["CWE-506"], "url": "https://example.test/x"})
    assert malware.malicious and malware.id == "NPM-1096460" and malware.aliases == ()


def test_nothing_to_audit_sends_nothing() -> None:
    with RegistryServer() as registry:
        assert _source(registry.url).advisories_for([]) == {}
        assert registry.requests == []


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        (Fault("/", "status", status=500, body=b'{"error":"boom"}', times=0), r"HTTP 500 from POST .*bulk: \{"),
        (Fault("/", "status", status=404), r"HTTP 404"),
        (Fault("/", "body", body=b"<html>"), r"invalid JSON"),
        (Fault("/", "body", body=b"[]"), r"not a JSON object keyed by package name"),
        (Fault("/", "body", body=b'{"lodash":{"id":1}}'), r"advisories of lodash are not a list"),
        (Fault("/", "body", body=b'{"lodash":[{"id":1,"url":"u"}]}'), r"advisory 1 of lodash has no vulnerable_"),
        (Fault("/", "body", body=b'{"lodash":[7]}'), r"an advisory of lodash is not an object"),
        (Fault("/", "drop", times=0), r"connection lost|answer cut off"),
    ],
)
def test_fails_closed(fault: Fault, match: str) -> None:
    with RegistryServer() as registry:
        registry.add_fault(fault)
        with pytest.raises(SourceError, match=match) as caught:
            _source(registry.url).advisories_for([PackageRef("lodash", "4.17.15")])
        assert caught.value.exit_code == EXIT_SOURCE and "\n" not in str(caught.value)
        assert str(caught.value).startswith("npm registry advisories: ")


def test_refused_and_timeout_fail_closed() -> None:
    url = _refused_url()
    with pytest.raises(SourceError, match="connection refused"):
        _source(url).advisories_for([PackageRef("lodash", "4.17.15")])
    with RegistryServer() as registry:
        registry.add_fault(Fault("/", "delay", seconds=1.0, times=0))
        slow = NpmBulkSource(HttpClient("npm registry advisories", HttpSettings(timeout=0.2, retries=0)), registry.url)
        with pytest.raises(SourceError, match=r"no answer within 0.2 s"):
            slow.advisories_for([PackageRef("lodash", "4.17.15")])
