"""The real npm CLI against `npmaudit serve`, as recorded (tests/fixtures/serve/SOURCE.md), replayed.

The recordings hold every audit request npm 11, 10, 8 and 6 sent to serve on loopback (bulk for
npm 11; quick audit for npm 10 and 8 once the bulk endpoint was refused; npm 6's ``/audits``), the
answer serve gave and what npm printed. These tests need no npm: they replay each request to a
serve started on the same advisories and check that it answers exactly what npm was given, then
that what npm printed from those answers is what npm printed through npm-oracle (npm 11), or through
the bulk endpoint (npm 10 and 8), or what serve answered (npm 6).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from npmaudit.cli import main
from servers.registry_server import RegistryServer
from test_serve_support import FIXTURES, ServeProcess, npm_stems, oracle_store, request

RECORDED = FIXTURES / "serve"
ORACLE = FIXTURES / "npm_oracle"
STEMS = npm_stems()
COMPARISON = json.loads((RECORDED / "comparison.json").read_text())
# npm resolves metavulns in network-completion order, so a few of its ranges vary from run to run
# (tests/test_npm_report.py ORDER_DEPENDENT_RANGES, npm_oracle/expected/reruns).
ORDER_DEPENDENT_RANGES = {("firebase__firebase-tools", "@google-cloud/storage")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with gzip.open(ORACLE / "packuments.json.gz", "rt", encoding="utf-8") as stream:
        packuments = {name: doc for name, doc in json.load(stream).items() if doc is not None}
    store = oracle_store(tmp_path_factory.mktemp("serve-npm") / "store.sqlite")
    with RegistryServer(packuments=packuments) as registry, ServeProcess(store, "--upstream", registry.url) as serve:
        yield serve


def _posts(path: Path) -> list[dict[str, Any]]:
    return json.loads(gzip.decompress(path.read_bytes()))


def _replay(server: ServeProcess, post: dict[str, Any]) -> Any:
    body = gzip.compress(json.dumps(post["request"]).encode())
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    reply = request(server.port, "POST", post["path"], body, headers)
    assert reply.status == 200, reply.body[:300]
    return reply.json()


def summary(document: dict[str, Any]) -> dict[str, Any]:
    """Each vulnerable package's range and via (advisory numbers, package names)."""
    return {
        name: {
            "range": vuln["range"],
            "via": sorted(str(v["source"]) if isinstance(v, dict) else v for v in vuln["via"]),
        }
        for name, vuln in document["vulnerabilities"].items()
    }


def advised(document: dict[str, Any]) -> set[str]:
    """The packages an advisory names directly (not only through a dependency)."""
    return {name for name, vuln in document["vulnerabilities"].items() if any(isinstance(v, dict) for v in vuln["via"])}


def _canonical(report: dict[str, Any]) -> dict[str, Any]:
    """The report with its actions as (action, module, target) -> advisory numbers resolved: the
    recording keeps the request with its keys sorted, and which of two equally short paths reaches
    a package first (so which path a finding names, and which action groups a resolve) follows the
    order npm sent the tree in. Findings are compared by version and number of paths."""
    actions: dict[tuple[str, str, str], set[int]] = {}
    for action in report["actions"]:
        key = (action["action"], action["module"], str(action.get("target")))
        actions.setdefault(key, set()).update(r["id"] for r in action["resolves"])
    advisories = {
        key: {**a, "findings": [(f["version"], len(f["paths"])) for f in a["findings"]]}
        for key, a in report["advisories"].items()
    }
    return {**report, "actions": actions, "advisories": advisories}


def _without_order_dependent(stem: str, found: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in found.items() if (stem, name) not in ORDER_DEPENDENT_RANGES}


@pytest.mark.parametrize("stem", STEMS)
def test_npm11_through_serve(stem: str, server: ServeProcess) -> None:
    """serve answers npm 11's recorded bulk request exactly as it answered npm, and what npm printed
    from it equals npm's own output through npm-oracle on the same advisories."""
    [post] = _posts(RECORDED / "npm11" / f"{stem}.bulk.json.gz")
    assert post["path"] == "/-/npm/v1/security/advisories/bulk"
    assert _replay(server, post) == post["answer"]
    printed = json.loads((RECORDED / "npm11" / f"{stem}.json").read_text())
    assert COMPARISON[stem]["npm11"]["same_as_npm_oracle"] is True
    reference = json.loads((ORACLE / "expected" / f"{stem}.json").read_text())
    assert _without_order_dependent(stem, summary(printed)) == _without_order_dependent(stem, summary(reference))


@pytest.mark.parametrize("stem", STEMS)
def test_npmaudit_registry_client_through_serve_reproduces_npm11(
    stem: str, server: ServeProcess, tmp_path: Path, capsys, monkeypatch
) -> None:
    """`npmaudit audit --registry-advisories --format npm-json` pointed at serve (packuments through
    its --upstream) reports the vulnerabilities npm 11 printed through serve."""
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("NPMAUDIT_DB", "NODE_ENV", "NPMAUDIT_OFFLINE", "NPMAUDIT_POLICY"):
        monkeypatch.delenv(name, raising=False)
    project = FIXTURES / "lockfiles" / "npm" / stem
    main(["audit", str(project), "--registry-advisories", "--registry", server.url, "--format", "npm-json"])
    ours = json.loads(capsys.readouterr().out)
    printed = json.loads((RECORDED / "npm11" / f"{stem}.json").read_text())
    assert _without_order_dependent(stem, summary(ours)) == _without_order_dependent(stem, summary(printed))


QUICK_TESTED_HOLES = {"debug"}
QUICK_RUNS = [
    (npm, stem)
    for npm in ("10", "8", "6")
    for stem in STEMS
    if (RECORDED / f"npm{npm}" / f"{stem}.quick.json.gz").exists()
]


@pytest.mark.parametrize("npm,stem", QUICK_RUNS, ids=[f"npm{n}-{s}" for n, s in QUICK_RUNS])
def test_older_npm_quick_audit_through_serve(npm: str, stem: str, server: ServeProcess) -> None:
    """serve answers npm 10/8's quick-audit fallback and npm 6's audit as it answered them; npm 10 and 8
    then flagged the packages they flag through the bulk endpoint, and npm 6 printed every advisory."""
    posts = _posts(RECORDED / f"npm{npm}" / f"{stem}.quick.json.gz")
    assert [p["path"] for p in posts] == (
        ["/-/npm/v1/security/audits"] if npm == "6" else ["/-/npm/v1/security/audits/quick"]
    )
    answer = _replay(server, posts[0])
    assert _canonical(answer) == _canonical(posts[0]["answer"]) and answer["advisories"]
    printed = json.loads((RECORDED / f"npm{npm}" / f"{stem}.json").read_text())
    if npm == "6":
        modules = {a["module_name"] for a in answer["advisories"].values()}
        assert {a["module_name"] for a in printed["advisories"].values()} == modules
        npm11 = json.loads((RECORDED / "npm11" / f"{stem}.json").read_text())
        assert modules == advised(npm11)
    else:
        through_bulk = json.loads((RECORDED / f"npm{npm}" / f"{stem}.bulk-run.json").read_text())
        # Through the bulk endpoint npm tests each advisory itself, and its _testVersions heuristic flags
        # debug@4.3.5, which the synthetic record's hole leaves out (npm_oracle/SOURCE.md); serve's
        # quick answer lists only advisories that affect an installed version, as the registry's did.
        modules = {a["module_name"] for a in answer["advisories"].values()}
        heuristic_only = {name for name in advised(through_bulk) - modules if name in QUICK_TESTED_HOLES}
        assert advised(printed) == advised(through_bulk) - heuristic_only


def test_npm10s_treeless_quick_request_is_refused(server: ServeProcess) -> None:
    """npm 9-10 commit the tree as lockfile v3, so without lockfile-version=2 their quick request
    holds no tree; npm printed "0 vulnerabilities" from the empty report serve used to give. Now a 400."""
    [post] = _posts(RECORDED / "npm10-default" / "mochajs__mocha.quick.json.gz")
    assert "dependencies" not in post["request"] and post["request"]["requires"]
    printed = json.loads((RECORDED / "npm10-default" / "mochajs__mocha.json").read_text())
    assert printed["vulnerabilities"] == {}
    body = gzip.compress(json.dumps(post["request"]).encode())
    reply = request(server.port, "POST", post["path"], body, {"content-encoding": "gzip"})
    assert reply.status == 400 and "no dependency tree" in reply.json()["error"]
