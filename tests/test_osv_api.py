"""`--osv` against a real local OSV API (tests/servers/osv_server.py) answering from real records."""

from __future__ import annotations

import pytest

from conftest import HANDMADE_DEV, HANDMADE_PROD, ONLINE
from npmaudit.advisories.model import Advisory
from npmaudit.advisories.osv_api import CallableKnown, OsvApiSource
from npmaudit.auditing.engine import audit
from npmaudit.errors import EXIT_SOURCE, SourceError
from npmaudit.http import HttpClient, HttpSettings
from npmaudit.project.loader import load_project
from npmaudit.project.model import PackageRef
from servers import Fault, OsvServer

FAST = HttpSettings(timeout=2.0, retries=1, backoff=0.01)


@pytest.fixture
def records(online_osv_records: list[dict]) -> list[dict]:
    return online_osv_records


def _source(server: OsvServer, **kwargs) -> OsvApiSource:
    return OsvApiSource(HttpClient("OSV API", FAST), server.url, **kwargs)


def test_findings_on_a_hand_checked_project(records: list[dict]) -> None:
    project = load_project(ONLINE / "projects" / "handmade")
    with OsvServer(records, page_size=3) as server:
        result = audit(project, [_source(server)])
        assert {(f.name, f.id) for f in result.findings} == HANDMADE_PROD | HANDMADE_DEV
        assert {(f.name, f.id) for f in audit(project, [_source(server)], frozenset({"dev"})).findings} == HANDMADE_PROD
        assert [f.malicious for f in result.findings if f.name == "policycms"] == [True]


def test_querybatch_is_chunked_by_1000(records: list[dict]) -> None:
    refs = [PackageRef(f"pkg-{i}", "1.0.0") for i in range(2_400)] + [PackageRef("lodash", "4.17.15")]
    with OsvServer(records) as server:
        found = _source(server).advisories_for(refs)
        batches = [r.json()["queries"] for r in server.requests_to("/v1/querybatch")]
        assert sorted(len(b) for b in batches) == [401, 1000, 1000]  # sent concurrently
        asked = [(q["package"]["name"], q["version"], q["package"]["ecosystem"]) for b in batches for q in b]
        assert sorted(asked) == sorted((r.name, r.version, "npm") for r in refs)
        assert set(found) == {"lodash"}


def test_pagination_is_followed(records: list[dict]) -> None:
    with OsvServer(records, page_size=2) as server:
        found = _source(server).advisories_for([PackageRef("lodash", "4.17.15"), PackageRef("marked", "0.3.5")])
        lodash_ids = {r["id"] for r in records if any(a["package"]["name"] == "lodash" for a in r["affected"])}
        marked_ids = {r["id"] for r in records if any(a["package"]["name"] == "marked" for a in r["affected"])}
        assert {a.id for a in found["lodash"]} == lodash_ids and len(lodash_ids) == 7
        assert {a.id for a in found["marked"]} == marked_ids and len(marked_ids) == 12
        batches = [r.json()["queries"] for r in server.requests_to("/v1/querybatch")]
        assert len(batches) == 6  # 12 marked ids in pages of 2
        assert all("page_token" in q for b in batches[1:] for q in b)


def test_every_id_is_hydrated_with_the_full_record(records: list[dict]) -> None:
    by_id = {r["id"]: r for r in records}
    with OsvServer(records) as server:
        source = _source(server)
        found = source.advisories_for([PackageRef("minimist", "1.2.0")])
        fetched = sorted(r.path for r in server.requests_to("/v1/vulns/"))
        assert fetched == ["/v1/vulns/GHSA-vh95-rmgr-6w4m", "/v1/vulns/GHSA-xvch-5gv4-984h"]
        for advisory in found["minimist"]:
            assert advisory.record == by_id[advisory.id]
            assert advisory.affected  # npm_ex's stubs had none, so nothing ever matched


def test_unchanged_records_are_not_fetched_again(records: list[dict]) -> None:
    by_id = {r["id"]: r for r in records}
    stored = {
        "GHSA-xvch-5gv4-984h": Advisory.from_osv(by_id["GHSA-xvch-5gv4-984h"]),  # same modified: reused
        "GHSA-vh95-rmgr-6w4m": Advisory.from_osv({**by_id["GHSA-vh95-rmgr-6w4m"], "modified": "2020-01-01T00:00:00Z"}),
    }
    known = CallableKnown(lambda i: stored[i].modified if i in stored else None, stored.get)
    with OsvServer(records) as server:
        source = _source(server, known=known)
        found = source.advisories_for([PackageRef("minimist", "1.2.0")])
        assert [r.path for r in server.requests_to("/v1/vulns/")] == ["/v1/vulns/GHSA-vh95-rmgr-6w4m"]
        assert {a.modified for a in found["minimist"]} == {
            by_id["GHSA-xvch-5gv4-984h"]["modified"],
            by_id["GHSA-vh95-rmgr-6w4m"]["modified"],
        }
        assert source.stats is not None and (source.stats.hydrated, source.stats.reused) == (1, 1)


def _fails(server: OsvServer, match: str) -> SourceError:
    with pytest.raises(SourceError, match=match) as caught:
        _source(server).advisories_for([PackageRef("minimist", "1.2.0")])
    assert caught.value.exit_code == EXIT_SOURCE and caught.value.source == "OSV API"
    assert "\n" not in str(caught.value)
    return caught.value


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        (Fault("/v1/querybatch", "status", status=500, times=0), r"HTTP 500 from POST .*/v1/querybatch"),
        (Fault("/v1/querybatch", "status", status=400, body=b'{"code":3}'), r"HTTP 400 from POST"),
        (Fault("/v1/querybatch", "body", body=b"{not json"), r"invalid JSON in the answer of .*querybatch"),
        (Fault("/v1/querybatch", "body", body=b'{"vulns":[]}'), r"no 'results' list"),
        (Fault("/v1/querybatch", "body", body=b'{"results":[]}'), r"0 results for 1 queries"),
        (Fault("/v1/querybatch", "body", body=b'{"results":[{"vulns":[{"modified":"x"}]}]}'), r"no string 'id'"),
        (Fault("/v1/querybatch", "drop", times=0), r"connection lost|answer cut off"),
        (Fault("/v1/vulns/", "status", status=404, body=b'{"code":5}'), r"HTTP 404 from GET .*/v1/vulns/GHSA-"),
        (Fault("/v1/vulns/", "status", status=503, times=0), r"HTTP 503 from GET .*/v1/vulns/"),
        (Fault("/v1/vulns/", "body", body=b"[]"), r"unexpected record .*must be a JSON object"),
        (Fault("/v1/vulns/", "body", body=b'{"id":"GHSA-other"}'), r"answered record GHSA-other"),
    ],
)
def test_fails_closed(records: list[dict], fault: Fault, match: str) -> None:
    with OsvServer(records) as server:
        server.add_fault(fault)
        _fails(server, match)


def test_timeout_fails_closed(records: list[dict]) -> None:
    with OsvServer(records) as server:
        server.add_fault(Fault("/v1/querybatch", "delay", seconds=1.0, times=0))
        source = OsvApiSource(HttpClient("OSV API", HttpSettings(timeout=0.2, retries=0)), server.url)
        with pytest.raises(SourceError, match=r"POST .*/v1/querybatch: no answer within 0.2 s"):
            source.advisories_for([PackageRef("minimist", "1.2.0")])


def test_refused_connection_fails_closed() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = OsvApiSource(HttpClient("OSV API", FAST), f"http://127.0.0.1:{port}/")
    with pytest.raises(SourceError) as caught:
        source.advisories_for([PackageRef("minimist", "1.2.0")])
    assert str(caught.value) == f"OSV API: POST http://127.0.0.1:{port}/v1/querybatch: connection refused"


def test_endless_pagination_fails_closed(records: list[dict], monkeypatch: pytest.MonkeyPatch) -> None:
    from npmaudit.advisories import osv_api

    monkeypatch.setattr(osv_api, "MAX_PAGES", 3)
    with OsvServer(records) as server:
        server.add_fault(Fault("/v1/querybatch", "body", body=b'{"results":[{"next_page_token":"again"}]}', times=0))
        _fails(server, r"pagination did not end after 3 pages")


def test_ten_megabyte_querybatch_answer(records: list[dict]) -> None:
    """A 10 MB answer (one query, ~170,000 vuln stubs) is read whole, then every id hydrated."""
    item = '{"id":"GHSA-xvch-5gv4-984h","modified":"2023-02-27T14:47:14Z","note":"%s"}'
    body = ('{"results":[{"vulns":[' + ",".join(item % ("x" * 8) for _ in range(130_000)) + "]}]}").encode()
    assert len(body) > 10_000_000
    with OsvServer(records) as server:
        server.add_fault(Fault("/v1/querybatch", "body", body=body))
        found = _source(server).advisories_for([PackageRef("minimist", "1.2.0")])
        assert [a.id for a in found["minimist"]] == ["GHSA-xvch-5gv4-984h"]
