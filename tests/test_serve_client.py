"""`--registry-advisories` against `npmaudit serve`: the quick-audit fallback when the bulk endpoint
fails (as npm <= 10 did), both failing (exit 3), and an empty reply the local store contradicts.

The registry is serve itself behind a loopback proxy whose faults break the bulk endpoint (an HTTP
error, a body that is not JSON, JSON of the wrong shape) while the quick-audit endpoint still works.
"""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from npmaudit.advisories.npm_bulk import quick_payload
from npmaudit.cli import main
from npmaudit.project.loader import load_project
from servers.base import Answer, Fault, LocalServer, RecordedRequest
from servers.registry_server import RegistryServer
from test_serve_support import FIXTURES, ServeProcess, npm_stems, oracle_store

BULK = "/-/npm/v1/security/advisories/bulk"
QUICK = "/-/npm/v1/security/audits/quick"
PROJECT = FIXTURES / "lockfiles" / "npm" / "react-boilerplate__react-boilerplate"


class Proxy(LocalServer):
    """Forwards every request to ``target`` (faults first, as any LocalServer)."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target.rstrip("/")

    def handle(self, request: RecordedRequest) -> Answer:
        data = request.body if request.method == "POST" else None
        sent = urllib.request.Request(self.target + request.path, data=data, method=request.method)
        sent.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(sent, timeout=60) as answer:
                return answer.status, {"content-type": "application/json"}, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, {"content-type": "application/json"}, error.read()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return oracle_store(tmp_path_factory.mktemp("client") / "store.sqlite")


@pytest.fixture(scope="module")
def serve(store: Path):
    with ServeProcess(store) as process:
        yield process


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("NPMAUDIT_DB", "NODE_ENV", "NPMAUDIT_OFFLINE", "NPMAUDIT_POLICY", "NPMAUDIT_RETRIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NPMAUDIT_RETRIES", "0")


def _audit(capsys: pytest.CaptureFixture[str], registry: str, *extra: str) -> tuple[int, set[tuple[str, ...]], str]:
    args = ["audit", str(PROJECT), "--registry-advisories", "--registry", registry, "--format", "json", *extra]
    code = main([*args, "--policy", "warn"])
    captured = capsys.readouterr()
    if not captured.out:
        return code, set(), captured.err
    findings = {(f["name"], f["version"], f["id"]) for f in json.loads(captured.out)["findings"]}
    return code, findings, captured.err


BROKEN_BULK = [
    ("HTTP 500", Fault(BULK, "status", status=500, body=b'{"error":"boom"}', times=0), "HTTP 500"),
    ("not JSON", Fault(BULK, "body", body=b"<html>gateway</html>", times=0), "invalid JSON"),
    ("wrong shape", Fault(BULK, "body", body=b'{"minimist": "none"}', times=0), "not a list"),
]


@pytest.mark.parametrize("what,fault,reason", BROKEN_BULK, ids=[b[0] for b in BROKEN_BULK])
def test_a_failing_bulk_endpoint_falls_back_to_quick_audit(
    what: str, fault: Fault, reason: str, serve: ServeProcess, env: None, capsys
) -> None:
    with Proxy(serve.url) as proxy:
        code, through_bulk, err = _audit(capsys, proxy.url)
        assert code == 0 and through_bulk and "quick-audit" not in err
        proxy.add_fault(fault)
        code, through_quick, err = _audit(capsys, proxy.url)
        asked = [r.path for r in proxy.requests]
    assert code == 0 and through_quick == through_bulk
    assert asked[-2:] == [BULK, QUICK]
    warning = next(line for line in err.splitlines() if "quick-audit endpoint" in line)
    assert warning.startswith("npmaudit: warning: npm registry advisories: the bulk advisory endpoint failed")
    assert reason in warning and "as npm <= 10 did" in warning


def test_both_endpoints_failing_is_exit_3(serve: ServeProcess, env: None, capsys) -> None:
    with Proxy(serve.url) as proxy:
        proxy.add_fault(Fault(BULK, "status", status=503, times=0))
        proxy.add_fault(Fault(QUICK, "body", body=b'{"actions": []}', times=0))  # no advisories: invalid
        code, findings, err = _audit(capsys, proxy.url)
    assert code == 3 and not findings
    assert "the bulk advisory endpoint failed (HTTP 503" in err and "so did the quick-audit fallback" in err
    assert "invalid advisory report" in err


def test_an_empty_reply_the_local_store_contradicts_warns_or_fails(store: Path, env: None, capsys) -> None:
    with RegistryServer() as empty:  # knows no advisory: answers {} to every bulk request
        code, findings, err = _audit(capsys, empty.url, "--db", str(store))
        assert code == 0 and not findings
        warning = next(line for line in err.splitlines() if "answered no advisory" in line)
        assert "GHSA-" in warning and "--registry-empty-error" in warning
        code, _, err = _audit(capsys, empty.url, "--db", str(store), "--registry-empty-error")
        assert code == 3 and "answered no advisory for the whole tree" in err
        # without a local store to contradict it, an empty answer is just an answer
        code, _, err = _audit(capsys, empty.url)
        assert code == 0 and "answered no advisory" not in err


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    pending = [(tree, prefix)]
    while pending:
        level, base = pending.pop()
        for name, entry in level.items():
            path = f"{base}{name}"
            if "version" in entry:
                found[path] = entry["version"]
            pending.append((entry.get("dependencies") or {}, f"{path}>"))
    return found


NPM8_RECORDED = [s for s in npm_stems() if (FIXTURES / "serve" / "npm8" / f"{s}.quick.json.gz").exists()]


@pytest.mark.parametrize("stem", NPM8_RECORDED)
def test_quick_payload_is_the_tree_npm_sends(stem: str) -> None:
    """Our quick-audit body holds the packages, versions and requirements npm 8 sent for the same lockfile."""
    [post] = json.loads(gzip.decompress((FIXTURES / "serve" / "npm8" / f"{stem}.quick.json.gz").read_bytes()))
    npm_sent = post["request"]
    ours = quick_payload(load_project(FIXTURES / "lockfiles" / "npm" / stem, None))
    # npm's `requires` also names workspaces it depends on by range; ours leaves the project's own code out
    own = {name for name, spec in npm_sent["dependencies"].items() if spec.get("version", "").startswith("file:")}
    assert ours["requires"] == {k: v for k, v in npm_sent["requires"].items() if k not in own}
    theirs = {path: version for path, version in _flatten(npm_sent["dependencies"]).items()}
    mine = _flatten(ours["dependencies"])
    registry_versions = {p: v for p, v in theirs.items() if not v.startswith(("file:", "git", "http"))}
    assert {p: v for p, v in mine.items() if p in registry_versions} == registry_versions
