"""Benchmark `--osv`: 3,000 packages against a local OSV API that adds 50 ms to every request.

Prints the number of querybatch and hydration requests and the wall time. Goal: ceil(n/1000)
batch requests, hydration in parallel, under 1 s. Run: .venv/bin/python bench/online_osv.py

The server (tests/servers/osv_server.py) runs in its own process, as a real API would, so that it
does not share the client's interpreter lock. It answers every record naming a queried package
whatever the version (a superset of OSV's answer), so the hydration count is a worst case.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import multiprocessing
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from npmaudit.advisories.osv_api import OsvApiSource  # noqa: E402
from npmaudit.http import HttpClient, HttpSettings  # noqa: E402
from npmaudit.project.loader import load_project  # noqa: E402
from npmaudit.project.model import PackageRef  # noqa: E402
from servers import OsvServer  # noqa: E402

ONLINE = ROOT / "tests" / "fixtures" / "osv" / "online"


def records() -> list[dict]:
    found = []
    for name in ("npm-ghsa.jsonl.gz", "npm-malicious-sample.jsonl.gz"):
        with gzip.open(ONLINE / name, "rt", encoding="utf-8") as stream:
            found.extend(json.loads(line) for line in stream)
    return found


def packages(count: int, advisory_records: list[dict]) -> list[PackageRef]:
    """Real packages of real lockfiles first, then names that have malicious-package reports."""
    refs: dict[PackageRef, None] = {}
    for project in ("npm__cli", "atom__atom", "mochajs__mocha"):
        for node in load_project(ONLINE / "projects" / project).auditable():
            refs[PackageRef(node.name, node.version)] = None
    for record in advisory_records:
        for affected in record.get("affected", []):
            name = affected["package"]["name"]
            refs[PackageRef(name, (affected.get("versions") or ["1.0.0"])[0])] = None
    return list(refs)[:count]


def serve(latency: float, ready: multiprocessing.Queue, stop: multiprocessing.Event) -> None:  # type: ignore[type-arg]
    with OsvServer(records(), latency=latency) as server:
        ready.put(server.url)
        stop.wait()
        ready.put((len(server.requests_to("/v1/querybatch")), len(server.requests_to("/v1/vulns/"))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packages", type=int, default=3000)
    parser.add_argument("--latency", type=float, default=0.050)
    parser.add_argument("--workers", type=int, default=None)
    options = parser.parse_args()
    refs = packages(options.packages, records())
    ready: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    stop = multiprocessing.Event()
    process = multiprocessing.Process(target=serve, args=(options.latency, ready, stop), daemon=True)
    process.start()
    try:
        url = ready.get(timeout=60)
        client = HttpClient("OSV API", HttpSettings(timeout=10))
        kwargs = {"workers": options.workers} if options.workers else {}
        source = OsvApiSource(client, url, **kwargs)
        start, cpu_start = time.perf_counter(), time.process_time()
        found = source.advisories_for(refs)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        stop.set()
        batches, hydrations = ready.get(timeout=60)
    finally:
        stop.set()
        process.join(timeout=10)
    advisories = sum(len(v) for v in found.values())
    print(f"packages: {len(refs)}  latency per request: {options.latency * 1000:.0f} ms  workers: {source.workers}")
    print(f"querybatch requests: {batches} (goal {math.ceil(len(refs) / 1000)})  hydration requests: {hydrations}")
    print(f"packages with candidate advisories: {len(found)}  candidate (package, advisory) pairs: {advisories}")
    print(f"wall time: {elapsed:.3f} s (goal < 1 s); client CPU time: {cpu:.3f} s")


if __name__ == "__main__":
    main()
