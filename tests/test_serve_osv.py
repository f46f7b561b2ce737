"""`npmaudit audit --osv --osv-url http://127.0.0.1:PORT` against `npmaudit serve` finds exactly what
`--compromised` finds on the same store, for every lockfile of the corpus (tests/fixtures/lockfiles).

The store holds every advisory fixture (GitHub, Node Security, malicious packages with withdrawn
ones, npm-oracle's real and synthetic records). The server pages OSV results three at a time, so
the client's ``next_page_token`` loop is exercised, and the OSV client has no local copy to reuse:
every record it reports was fetched with ``GET /v1/vulns/{id}``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from npmaudit import semver
from npmaudit.cli import main
from npmaudit.project.loader import load_project
from npmaudit.project.model import SourceKind
from test_serve_support import ORACLE_ADVISORIES, STORE_RECORDS, ServeProcess, build_store, corpus, post_json

FOUND: dict[str, int] = {}
AGREED: dict[str, list[str]] = {}  # project -> the records both endpoints found affecting it


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


def _installed(folder: Path) -> dict[str, list[str]]:
    """name -> the versions of it the project installs from a registry (what npm's bulk request sends)."""
    versions: dict[str, set[str]] = {}
    for node in load_project(folder).nodes.values():
        if node.source is SourceKind.REGISTRY and node.version:
            versions.setdefault(node.name, set()).add(node.version)
    return {name: sorted(found) for name, found in versions.items()}


def _osv_pairs(server: ServeProcess, installed: dict[str, list[str]]) -> set[tuple[str, str, str]]:
    """(name, version, record id) for every OSV record the server says affects an installed version,
    every page of every query read."""
    pending = [{"package": {"name": n, "ecosystem": "npm"}, "version": v} for n, vs in installed.items() for v in vs]
    found: set[tuple[str, str, str]] = set()
    while pending:
        batch, pending = pending[:1000], pending[1000:]
        reply = post_json(server.port, "/v1/querybatch", {"queries": batch})
        assert reply.status == 200, reply.body[:200]
        for query, result in zip(batch, reply.json()["results"], strict=True):
            found.update((query["package"]["name"], query["version"], vuln["id"]) for vuln in result.get("vulns", ()))
            if result.get("next_page_token"):
                pending.append({**query, "page_token": result["next_page_token"]})
    return found


@pytest.mark.parametrize("ident,folder", PROJECTS, ids=[p[0] for p in PROJECTS])
def test_the_bulk_and_osv_endpoints_agree_on_what_affects_each_installed_version(
    ident: str, folder: Path, server: ServeProcess
) -> None:
    """The bulk endpoint answers every advisory of a named package, as the registry does (npm tests
    the versions); tested the way npm tests them, its advisories affect exactly the versions the OSV
    endpoint names, as many for each version. A Node Security record and the GitHub record aliasing
    it are two records on both endpoints (as on the registry and on OSV), so neither counts one the
    other does not."""
    installed = _installed(folder)
    reply = post_json(server.port, "/-/npm/v1/security/advisories/bulk", installed)
    assert reply.status == 200
    # Counted per installed version: a bulk advisory is named by its page's URL (a malicious-package
    # record aliased by a GitHub one links to the GitHub page), an OSV answer by its record's id.
    bulk = Counter(
        (name, version)
        for name, advisories in reply.json().items()
        for advisory in advisories
        for version in installed[name]
        if semver.satisfies(version, advisory["vulnerable_versions"], **semver.ADVISORY_OPTIONS)
    )
    osv = _osv_pairs(server, installed)
    assert bulk == Counter((name, version) for name, version, _ in osv)
    AGREED[ident] = sorted(record for _, _, record in osv)


def test_the_comparison_was_not_empty(server: ServeProcess) -> None:
    """Runs after the corpus: most projects have findings, and the server paged and hydrated."""
    if len(FOUND) < len(PROJECTS):
        pytest.skip("run with the whole corpus")
    assert sum(FOUND.values()) > 500 and sum(1 for n in FOUND.values() if n) >= 25
    agreed = [record for records in AGREED.values() for record in records]
    # Node Security records that GitHub records alias were among those both endpoints answered.
    assert len(agreed) > 500 and sum(record.startswith("NSWG-") for record in agreed) >= 10
    paths = [entry["path"] for entry in server.access_log()]
    assert "/v1/querybatch" in paths and any(p.startswith("/v1/vulns/") for p in paths)
