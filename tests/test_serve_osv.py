"""`npmaudit audit --osv --osv-url http://127.0.0.1:PORT` against `npmaudit serve` finds exactly what
`--compromised` finds on the same store, for every lockfile of the corpus (tests/fixtures/lockfiles).

The store holds every advisory fixture (GitHub, Node Security, malicious packages with withdrawn
ones, npm-oracle's real and synthetic records). The server pages OSV results three at a time, so
the client's ``next_page_token`` loop is exercised, and the OSV client has no local copy to reuse:
every record it reports was fetched with ``GET /v1/vulns/{id}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from npmaudit.cli import main
from test_serve_support import ORACLE_ADVISORIES, STORE_RECORDS, ServeProcess, build_store, corpus

FOUND: dict[str, int] = {}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sources = [*sorted(STORE_RECORDS.glob("*.jsonl.gz")), ORACLE_ADVISORIES / "real.jsonl"]
    return build_store(tmp_path_factory.mktemp("osv") / "store.sqlite", *sources, ORACLE_ADVISORIES / "synthetic.jsonl")


@pytest.fixture(scope="module")
def server(store: Path):
    with ServeProcess(store, "--page-size", "3") as process:
        yield process


def _projects(tmp_root: Path) -> list[tuple[str, Path]]:
    return list(corpus(tmp_root))


PROJECTS = _projects(Path(__import__("tempfile").mkdtemp(prefix="npmaudit-serve-corpus-")))


def _findings(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, set[tuple[Any, ...]]]:
    code = main(["audit", *args, "--format", "json", "--allow-unchecked", "--policy", "warn"])
    out = capsys.readouterr().out
    document = json.loads(out)
    found = {
        (f["name"], f["version"], f["id"], tuple(f["records"]), tuple(f["paths"]), f["malicious"])
        for f in document["findings"]
    }
    return code, found


@pytest.mark.parametrize("ident,folder", PROJECTS, ids=[p[0] for p in PROJECTS])
def test_osv_api_of_serve_finds_what_the_store_finds(
    ident: str, folder: Path, server: ServeProcess, store: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))  # no local copy for the OSV client
    monkeypatch.delenv("NPMAUDIT_DB", raising=False)
    local_code, local = _findings(capsys, [str(folder), "--compromised", "--db", str(store)])
    online_code, online = _findings(capsys, [str(folder), "--osv", "--osv-url", server.url])
    assert local_code == online_code == 0
    assert online == local
    FOUND[ident] = len(local)


def test_the_comparison_was_not_empty(server: ServeProcess) -> None:
    """Runs after the corpus: most projects have findings, and the server paged and hydrated."""
    if len(FOUND) < len(PROJECTS):
        pytest.skip("run with the whole corpus")
    assert sum(FOUND.values()) > 500 and sum(1 for n in FOUND.values() if n) >= 25
    paths = [entry["path"] for entry in server.access_log()]
    assert "/v1/querybatch" in paths and any(p.startswith("/v1/vulns/") for p in paths)
