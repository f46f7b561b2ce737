"""`npmaudit serve` as a real uvicorn server on 127.0.0.1: endpoints, limits, malformed requests,
the upstream registry, graceful shutdown, and `db update` beside it."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from npmaudit.advisories.mirror import import_source
from npmaudit.advisories.store import AdvisoryStore, filling_store
from npmaudit.cli import main
from servers.base import Fault
from servers.registry_server import RegistryServer
from test_serve_support import (
    ORACLE_ADVISORIES,
    STORE_RECORDS,
    ServeProcess,
    build_store,
    oracle_store,
    post_json,
    request,
)

BULK = "/-/npm/v1/security/advisories/bulk"
QUICK = "/-/npm/v1/security/audits/quick"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return oracle_store(tmp_path_factory.mktemp("serve") / "store.sqlite")


@pytest.fixture(scope="module")
def server(store: Path):
    with ServeProcess(store, "--max-body", "1", "--page-size", "1") as process:
        yield process


def _healthy(server: ServeProcess) -> None:
    reply = request(server.port, "GET", "/-/npmaudit/health")
    assert reply.status == 200 and reply.json()["records"] == 246


def test_health_reports_the_record_count_and_age(server: ServeProcess) -> None:
    document = request(server.port, "GET", "/-/npmaudit/health").json()
    assert document["status"] == "ok" and document["records"] == 246
    assert document["updated"] and document["age"]["basis"] == "newest-modified" and document["age"]["days"] >= 0


def test_bulk_answers_the_registry_shape_for_named_packages_only(server: ServeProcess) -> None:
    reply = post_json(server.port, BULK, {"minimist": ["1.2.0"], "no-such-package-here": ["1.0.0"]}, gzipped=True)
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    answer = reply.json()
    assert list(answer) == ["minimist"]
    by_url = {a["url"].rsplit("/", 1)[1]: a for a in answer["minimist"]}
    assert set(by_url) == {"GHSA-vh95-rmgr-6w4m", "GHSA-xvch-5gv4-984h"}
    assert by_url["GHSA-xvch-5gv4-984h"]["vulnerable_versions"] == ">=1.0.0 <1.2.6 || <0.2.4"
    assert set(by_url["GHSA-xvch-5gv4-984h"]) == {
        "id",
        "url",
        "title",
        "severity",
        "vulnerable_versions",
        "cwe",
        "cvss",
    }
    # plain JSON works too, and gives the same answer
    assert post_json(server.port, BULK, {"minimist": ["1.2.0"]}).json() == {"minimist": answer["minimist"]}


def test_quick_audit_answers_findings_paths_actions_and_metadata(server: ServeProcess) -> None:
    body = {
        "name": "app",
        "version": "1.0.0",
        "requires": {"mkdirp": "^0.5.1", "minimist": "^1.2.0"},
        "dependencies": {
            "mkdirp": {
                "version": "0.5.1",
                "requires": {"minimist": "0.0.8"},
                "dependencies": {"minimist": {"version": "0.0.8"}},
            },
            "minimist": {"version": "1.2.0", "dev": True},
        },
    }
    document = post_json(server.port, QUICK, body, gzipped=True).json()
    assert set(document) == {"actions", "advisories", "muted", "metadata"}
    findings = {(a["module_name"], a["url"].rsplit("/", 1)[1]): a["findings"] for a in document["advisories"].values()}
    assert findings[("minimist", "GHSA-xvch-5gv4-984h")] == [
        {"version": "0.0.8", "paths": ["mkdirp>minimist"]},
        {"version": "1.2.0", "paths": ["minimist"]},
    ]
    actions = {(a["action"], a["module"], a.get("target"), a.get("depth")) for a in document["actions"]}
    # 1.2.0 is a direct dependency whose fix (1.2.6) is inside ^1.2.0: npm update; 0.0.8 is pinned: review
    assert ("update", "minimist", "1.2.6", 1) in actions and ("review", "minimist", None, None) in actions
    assert document["metadata"]["totalDependencies"] == 3 and document["metadata"]["devDependencies"] == 1
    assert sum(document["metadata"]["vulnerabilities"].values()) == sum(
        len(f["paths"]) for a in document["advisories"].values() for f in a["findings"]
    )


def test_quick_audit_without_a_tree_is_refused_not_answered_empty(server: ServeProcess) -> None:
    reply = post_json(server.port, QUICK, {"name": "app", "requires": {"minimist": "^1.2.0"}})
    assert reply.status == 400 and "lockfile-version=2" in reply.json()["error"]
    empty = post_json(server.port, QUICK, {"name": "app", "requires": {}, "dependencies": {}})
    assert empty.status == 200 and empty.json()["advisories"] == {}


def test_osv_query_querybatch_paging_and_vulns(server: ServeProcess) -> None:
    query = {"package": {"name": "minimist", "ecosystem": "npm"}, "version": "1.2.0"}
    first = post_json(server.port, "/v1/querybatch", {"queries": [query]}).json()["results"][0]
    assert len(first["vulns"]) == 1 and first["next_page_token"]  # --page-size 1
    second = post_json(server.port, "/v1/querybatch", {"queries": [{**query, "page_token": first["next_page_token"]}]})
    rest = second.json()["results"][0]
    assert "next_page_token" not in rest
    ids = [v["id"] for v in first["vulns"] + rest["vulns"]]
    assert ids == ["GHSA-vh95-rmgr-6w4m", "GHSA-xvch-5gv4-984h"]
    full = post_json(server.port, "/v1/query", {"package": {"purl": "pkg:npm/minimist@1.2.0"}}).json()
    assert full["vulns"][0]["id"] == "GHSA-vh95-rmgr-6w4m" and full["vulns"][0]["affected"]
    assert post_json(server.port, "/v1/query", {**query, "version": "1.2.8"}).json() == {}
    record = request(server.port, "GET", "/v1/vulns/GHSA-xvch-5gv4-984h").json()
    assert record["id"] == "GHSA-xvch-5gv4-984h" and record["modified"]
    missing = request(server.port, "GET", "/v1/vulns/GHSA-0000-0000-0000")
    assert missing.status == 404 and missing.json()["code"] == 5


MALFORMED = [
    ("bad JSON", BULK, b'{"minimist": [', {}),
    ("not UTF-8", BULK, b'{"\xff\xfe": []}', {}),
    ("empty body", BULK, b"", {}),
    ("bulk is a list", BULK, b'["minimist"]', {}),
    ("versions not a list", BULK, b'{"minimist": "1.2.0"}', {}),
    ("name too long", BULK, json.dumps({"x" * 300: []}).encode(), {}),
    ("quick deps not an object", QUICK, b'{"dependencies": []}', {}),
    ("quick entry not an object", QUICK, b'{"dependencies": {"a": 1}}', {}),
    ("quick version not a string", QUICK, b'{"dependencies": {"a": {"version": 1}}}', {}),
    ("querybatch without queries", "/v1/querybatch", b'{"q": []}', {}),
    ("query of another ecosystem", "/v1/query", b'{"package": {"name": "x", "ecosystem": "PyPI"}}', {}),
    ("commit query", "/v1/query", b'{"commit": "abc"}', {}),
    ("bad page token", "/v1/query", b'{"package": {"name": "x", "ecosystem": "npm"}, "page_token": "zzz"}', {}),
    ("too many queries", "/v1/querybatch", json.dumps({"queries": [{}] * 1001}).encode(), {}),
    ("deep nesting", BULK, b"[" * 200_000 + b"]" * 200_000, {}),
    ("deep quick tree", QUICK, b'{"dependencies":' + b'{"a":{"dependencies":' * 3000 + b"{}" + b"}}" * 3000 + b"}", {}),
    ("gzip header, plain body", BULK, b'{"a": []}', {"content-encoding": "gzip"}),
    ("truncated gzip", BULK, gzip.compress(b'{"a": []}')[:-6], {"content-encoding": "gzip"}),
    ("unknown encoding", BULK, b'{"a": []}', {"content-encoding": "br"}),
    ("gzip bomb", BULK, gzip.compress(b" " * (100 * MiB)), {"content-encoding": "gzip"}),
]


@pytest.mark.parametrize("what,path,body,headers", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_requests_get_a_4xx_json_error_and_the_server_keeps_serving(
    server: ServeProcess, what: str, path: str, body: bytes, headers: dict[str, str]
) -> None:
    reply = request(server.port, "POST", path, body, {"content-type": "application/json", **headers})
    assert 400 <= reply.status < 500, (reply.status, reply.body[:300])
    document = reply.json()
    message = document.get("error") or document.get("message")
    assert isinstance(message, str) and message and "Traceback" not in message
    _healthy(server)


def test_a_100_mb_body_is_refused_413_whether_announced_or_streamed(server: ServeProcess) -> None:
    announced = request(server.port, "POST", BULK, b"{}", {"content-length": str(100 * MiB)}, timeout=30)
    assert announced.status == 413
    # chunked, no length announced: refused once the limit (--max-body 1 MiB) is passed
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(f"POST {BULK} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"[" * MiB
        sent = 0
        try:
            while sent < 100 * MiB:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while we were still sending
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    _healthy(server)


def test_unknown_paths_methods_and_gets_without_upstream(server: ServeProcess) -> None:
    assert request(server.port, "GET", "/-/npm/v1/keys").status == 404
    assert request(server.port, "GET", "/minimist").json()["error"].startswith("not found")
    assert request(server.port, "POST", "/-/npm/v1/other", b"{}").status == 404
    assert request(server.port, "GET", BULK).status == 405
    assert request(server.port, "PUT", "/minimist", b"{}").status == 405
    assert request(server.port, "GET", "/v1/unknown").json()["code"] == 5


def test_access_log_is_one_json_object_per_request(server: ServeProcess) -> None:
    request(server.port, "GET", "/-/npmaudit/health?probe=1", headers={"user-agent": "probe/1"})
    time.sleep(0.2)
    entries = [e for e in server.access_log() if e["user_agent"] == "probe/1"]
    assert entries and entries[-1]["path"] == "/-/npmaudit/health" and entries[-1]["status"] == 200
    assert {"time", "client", "method", "bytes_in", "bytes_out", "ms"} <= set(entries[-1])


def test_upstream_gets_are_forwarded_with_accept_and_status(store: Path) -> None:
    packument = {"name": "left-pad", "dist-tags": {"latest": "1.3.0"}, "versions": {"1.3.0": {"version": "1.3.0"}}}
    with (
        RegistryServer(packuments={"left-pad": packument}) as registry,
        ServeProcess(store, "--upstream", registry.url) as server,
    ):
        registry.add_fault(Fault("/-/npm/v1/keys", "body", body=b'{"keys":[]}'))
        accept = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
        reply = request(server.port, "GET", "/left-pad", headers={"accept": accept, "authorization": "Bearer theirs"})
        assert reply.status == 200 and reply.json()["name"] == "left-pad" and reply.headers.get("etag")
        assert request(server.port, "GET", "/-/npm/v1/keys").json() == {"keys": []}
        assert request(server.port, "GET", "/no-such-package").status == 404
        sent = registry.requests_to("/left-pad")[0]
        assert sent.headers["accept"] == accept and "authorization" not in sent.headers
    # an upstream that cannot be reached is a 502 with a JSON error
    with ServeProcess(store, "--upstream", "http://127.0.0.1:9/") as server:
        reply = request(server.port, "GET", "/left-pad")
        assert reply.status == 502 and "upstream registry" in reply.json()["error"]


def test_an_unfilled_or_missing_store_is_refused_at_start(tmp_path: Path, capsys) -> None:
    assert main(["serve", "--db", str(tmp_path / "none.sqlite"), "--port", "0"]) == 2
    assert "advisory store not found" in capsys.readouterr().err
    cache_only = tmp_path / "cache.sqlite"
    from npmaudit.advisories.store import write_records

    write_records(cache_only, [json.loads((ORACLE_ADVISORIES / "synthetic.jsonl").read_text().splitlines()[0])])
    assert main(["serve", "--db", str(cache_only), "--port", "0"]) == 2
    assert "never filled" in capsys.readouterr().err
    # a JSON database (what `audit --db` reads) gets the way to make a store from it
    assert main(["serve", "--db", str(ORACLE_ADVISORIES / "real.jsonl"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "real.jsonl: not an advisory store: serve reads a SQLite store" in err
    assert "npmaudit db import FILE --db STORE" in err and len(err.strip().splitlines()) == 1


def test_sigterm_lets_an_in_flight_request_finish_then_stops(store: Path) -> None:
    server = ServeProcess(store)
    big = {"dependencies": {f"p{i}": {"version": "1.0.0"} for i in range(200_000)}, "requires": {"p0": "1"}}
    body = json.dumps(big).encode()
    result: dict[str, int] = {}

    def slow() -> None:
        result["status"] = request(server.port, "POST", QUICK, body, {"content-type": "application/json"}).status

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.3)  # the request is being read or answered
    code = server.stop()
    worker.join(timeout=60)
    assert result.get("status") == 200 and code == 0
    assert server.log[-1] == "npmaudit serve: stopped"


def test_sigterm_after_requests_closes_every_reader_without_a_traceback(store: Path) -> None:
    # Each request opens a reader thread's connection; stopping closes them all from another thread.
    server = ServeProcess(store, "--readers", "2")
    for _ in range(4):
        assert request(server.port, "GET", "/-/npmaudit/health").status == 200
    code = server.stop()
    assert code == 0
    assert not [line for line in server.log if "Traceback" in line or "shutdown failed" in line]
    assert server.log[-1] == "npmaudit serve: stopped"


def test_db_update_beside_the_server_never_blocks_or_tears_reads(tmp_path: Path) -> None:
    """Readers during a series of merges see the store as it was after one of them, never half of one."""
    from npmaudit.serve.npm_bulk import bulk_for_names

    path = build_store(tmp_path / "store.sqlite", STORE_RECORDS / "npm-malicious-sample.jsonl.gz")
    lines = (ORACLE_ADVISORIES / "real.jsonl").read_text().splitlines()
    chunks = []
    for index in range(6):
        chunk = tmp_path / f"chunk{index}.jsonl"
        chunk.write_text("\n".join(lines[index::6]) + "\n")
        chunks.append(chunk)
    names = sorted({json.loads(line)["affected"][0]["package"]["name"] for line in lines})
    payload = {name: [] for name in names}

    def state() -> str:
        with AdvisoryStore.open(path) as store:
            return json.dumps(bulk_for_names(names, store.lookup(names)), sort_keys=True)

    states = {state()}
    with ServeProcess(path, "--readers", "2") as server:
        stop = threading.Event()
        answers: list[tuple[int, str]] = []

        def read() -> None:
            while not stop.is_set():
                reply = post_json(server.port, BULK, payload)
                answers.append((reply.status, json.dumps(reply.json(), sort_keys=True)))

        readers = [threading.Thread(target=read) for _ in range(3)]
        for thread in readers:
            thread.start()
        for chunk in chunks:
            with filling_store(path) as store:
                store.merge([import_source(chunk)])  # one transaction, beside the readers
            states.add(state())
            time.sleep(0.2)
        stop.set()
        for thread in readers:
            thread.join(timeout=60)
    assert len(states) == 7  # every merge changed what the server should answer
    assert len(answers) > 20 and all(status == 200 for status, _ in answers)
    assert {text for _, text in answers} <= states
    assert len({text for _, text in answers}) >= 3  # the readers really saw the store change
