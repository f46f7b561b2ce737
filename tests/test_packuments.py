"""The packument cache (registry/packuments.py) against a real registry server on 127.0.0.1: used as
is within the registry's max-age, revalidated with the etag after it, fetched ahead on a bounded pool
of threads, and npm's report the same whichever way its packuments arrived."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

import pytest

from npmaudit.advisories.model import Advisory
from npmaudit.http import HttpClient, HttpSettings
from npmaudit.npm_report import Engines, build_npm_report
from npmaudit.project.readers.npm.lockfile import read
from npmaudit.registry.packuments import (
    MappingPackuments,
    PackumentCache,
    Prefetching,
    dependents_by_name,
    fresh_for,
    registry_fetcher,
)
from servers.registry_server import RegistryServer

FIXTURES = Path(__file__).parent / "fixtures"
ORACLE = FIXTURES / "npm_oracle"


def _packument(name: str) -> dict[str, Any]:
    return {"name": name, "dist-tags": {"latest": "1.0.0"}, "versions": {"1.0.0": {"name": name, "version": "1.0.0"}}}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _cache(directory: Path, server: RegistryServer, clock: Clock, workers: int = 4) -> PackumentCache:
    client = HttpClient("registry")
    return PackumentCache(directory, registry_fetcher(client, lambda name: server.url), workers=workers, clock=clock)


def test_a_packument_is_used_without_asking_while_the_registry_says_it_is_fresh(tmp_path: Path) -> None:
    clock = Clock()
    with RegistryServer(packuments={"a": _packument("a")}, cache_control="public, max-age=300") as server:
        with _cache(tmp_path, server, clock) as cache:
            assert cache("a") == _packument("a")
        assert len(server.requests_to("/a")) == 1
        clock.now += 299
        with _cache(tmp_path, server, clock) as cache:
            assert cache("a") == _packument("a")
        assert len(server.requests_to("/a")) == 1  # fresh: not even a conditional request
        clock.now += 2
        with _cache(tmp_path, server, clock) as cache:
            assert cache("a") == _packument("a")
        revalidation = server.requests_to("/a")[1]
        assert revalidation.headers.get("if-none-match")  # stale: asked again, with the etag (a 304)
        clock.now += 299
        with _cache(tmp_path, server, clock) as cache:
            assert cache("a") == _packument("a")
        assert len(server.requests_to("/a")) == 2  # the 304 made the copy fresh again


@pytest.mark.parametrize("cache_control", [None, "no-cache, max-age=300", "private, max-age=0"])
def test_without_a_freshness_lifetime_every_use_revalidates(tmp_path: Path, cache_control: str | None) -> None:
    clock = Clock()
    with RegistryServer(packuments={"a": _packument("a")}, cache_control=cache_control) as server:
        for _ in range(3):
            with _cache(tmp_path, server, clock) as cache:
                assert cache("a") == _packument("a")
        requests = server.requests_to("/a")
        assert len(requests) == 3 and all(r.headers.get("if-none-match") for r in requests[1:])


def test_freshness_counts_the_age_a_shared_cache_reports() -> None:
    assert fresh_for({"cache-control": "public, max-age=300"}) == 300
    assert fresh_for({"cache-control": "public, max-age=300", "age": "120"}) == 180
    assert fresh_for({"cache-control": "max-age=300", "age": "400"}) is None
    assert fresh_for({"cache-control": "s-maxage=300"}) is None  # for shared caches only
    assert fresh_for({"cache-control": "max-age=soon"}) is None
    assert fresh_for({}) is None


def test_prefetched_packuments_are_fetched_ahead_on_a_bounded_pool(tmp_path: Path) -> None:
    names = [f"p{i}" for i in range(12)]
    with RegistryServer(packuments={n: _packument(n) for n in names}, latency=0.25) as server:
        with _cache(tmp_path, server, Clock(), workers=4) as cache:
            cache.prefetch(names)
            deadline = time.monotonic() + 30
            while len(server.requests) < len(names) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [cache(n) for n in names] == [_packument(n) for n in names]
            cache.prefetch(names)  # asked and fetched already: never again
        assert sorted(r.path.lstrip("/") for r in server.requests) == sorted(names)
        assert 2 <= server.most_in_flight <= 4


def test_a_failed_prefetch_fails_only_the_call_that_asks_for_it(tmp_path: Path) -> None:
    from npmaudit.errors import SourceError
    from servers.base import Fault

    with RegistryServer(packuments={"a": _packument("a"), "b": _packument("b")}) as server:
        server.add_fault(Fault("/b", "status", status=500, times=0))
        client = HttpClient("registry", HttpSettings(retries=0))
        with PackumentCache(tmp_path, registry_fetcher(client, lambda name: server.url)) as cache:
            cache.prefetch(["a", "b"])
            assert cache("a") == _packument("a")
            with pytest.raises(SourceError, match="HTTP 500"):
                cache("b")


def test_the_report_is_the_same_with_packuments_fetched_ahead(tmp_path: Path) -> None:
    """npm's report over a real registry server, packuments prefetched from the project's graph on
    four threads, equals the report computed from the same packuments in memory, one at a time."""
    with gzip.open(ORACLE / "packuments.json.gz", "rt", encoding="utf-8") as stream:
        documents = json.load(stream)
    lines = []
    for name in ("real.jsonl", "synthetic.jsonl"):
        lines += [x for x in (ORACLE / "advisories" / name).read_text().splitlines() if x.strip()]
    advisories = [Advisory.from_osv(json.loads(line)) for line in lines]
    runs = json.loads((ORACLE / "runs.json").read_text())
    engines = Engines(node=runs["_tools"]["node"], npm=runs["_tools"]["npm"])
    project = read(FIXTURES / "lockfiles" / "npm" / "mochajs__mocha" / "package-lock.json")
    expected = build_npm_report(project, advisories, MappingPackuments(documents), engines=engines)
    served = {name: document for name, document in documents.items() if document is not None}
    with RegistryServer(packuments=served, latency=0.01) as server:
        with _cache(tmp_path, server, Clock(), workers=4) as cache:
            installed = {node.name for node in project.packages()}
            first = [n for a in advisories for n in sorted(a.package_names) if n in installed]
            edges = [
                (node.name, project.nodes[edge.to].name)
                for node in project.nodes.values()
                for edge in node.edges
                if edge.to in project.nodes
            ]
            provider = Prefetching(cache, first, dependents_by_name(edges))
            report = build_npm_report(project, advisories, provider, engines=engines)
        assert server.most_in_flight > 1
    assert report.document == expected.document
    assert report.unavailable == expected.unavailable
