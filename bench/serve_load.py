"""Load test of `npmaudit serve` on loopback, with `npmaudit db update` running beside it.

    .venv/bin/python bench/serve_load.py [--clients 8] [--seconds 20] [--readers 4] [--updates 6]

N client threads send, for a fixed and bounded time, the requests real lockfiles make (tests/fixtures'
npm corpus): the bulk request npm 11 would send for each project (``bulk_payload``) and the OSV
querybatch requests npmaudit's ``--osv`` sends (at most 1000 queries each), to a server started as
`npmaudit serve` on 127.0.0.1. Meanwhile `npmaudit db update --full --mirror file://...` runs
``--updates`` times in another process, each time from a local mirror holding one more slice of the
advisories, so the answers change while the load runs.

Checks: zero errors (every answer 200), zero wrong answers: every answer must equal the answer the
store gave for that request in one of its states (before the first update, or after one of them),
computed in-process from the store after each update with the same functions the server uses.
Then the same load against the bare store lookup (the same functions, one store connection per
thread, no HTTP) gives the reference figures. Prints requests/s, p50 and p99 latency for both.
Traffic goes to 127.0.0.1 only; every loop is bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from npmaudit.advisories.mirror import import_source
from npmaudit.advisories.npm_bulk import bulk_payload
from npmaudit.advisories.store import AdvisoryStore, filling_store
from npmaudit.project.loader import load_project
from npmaudit.serve import osv_api
from npmaudit.serve.npm_bulk import bulk_answer

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
BULK = "/-/npm/v1/security/advisories/bulk"
BATCH = "/v1/querybatch"
PAGE_SIZE = 1000


def requests_for_corpus() -> list[tuple[str, bytes]]:
    """(path, JSON body) of every bulk and querybatch request the npm corpus makes."""
    made: list[tuple[str, bytes]] = []
    for folder in sorted((FIXTURES / "lockfiles" / "npm").iterdir()):
        if not folder.is_dir() or folder.name == "expected":
            continue
        project = load_project(folder, None)
        made.append((BULK, json.dumps(bulk_payload(project)).encode()))
        refs = sorted({(n.name, n.version) for n in project.packages() if n.is_matched_by_version and n.version})
        for start in range(0, len(refs), 1000):
            queries = [
                {"package": {"name": name, "ecosystem": "npm"}, "version": version}
                for name, version in refs[start : start + 1000]
            ]
            made.append((BATCH, json.dumps({"queries": queries}).encode()))
    return made


def answer_in_process(store: AdvisoryStore, path: str, body: bytes) -> Any:
    document = json.loads(body)
    if path == BULK:
        return bulk_answer(store, document)
    queries = osv_api.parse_batch(document)
    return osv_api.batch_document(osv_api.answer_queries(store, queries, PAGE_SIZE))


def digest(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def expected_digests(db: Path, made: list[tuple[str, bytes]]) -> list[str]:
    with AdvisoryStore.open(db) as store:
        return [digest(answer_in_process(store, path, body)) for path, body in made]


def write_mirror(folder: Path, given: list[dict[str, Any]]) -> None:
    newest: dict[str, dict[str, Any]] = {}
    for record in given:  # one file per id, as OSV's archive has: the newest copy
        if record["id"] not in newest or (record.get("modified") or "") >= (newest[record["id"]].get("modified") or ""):
            newest[record["id"]] = record
    records = list(newest.values())
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "all.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    listing = sorted(((r.get("modified") or "", r["id"]) for r in records), reverse=True)
    (folder / "modified_id.csv").write_text("".join(f"{m},{i}\n" for m, i in listing))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


class Load:
    """N threads sending requests round-robin until the deadline; latencies and answers kept."""

    def __init__(self, made: list[tuple[str, bytes]], clients: int, seconds: float) -> None:
        self.made = made
        self.clients = clients
        self.seconds = seconds
        self.latencies: list[float] = []
        self.seen: list[tuple[int, str]] = []  # (request index, answer digest)
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def run(self, send: Callable[[int], Any], setup: Callable[[], None] | None = None) -> float:
        deadline = time.monotonic() + self.seconds
        started = time.monotonic()

        def client(offset: int) -> None:
            if setup is not None:
                setup()
            index = offset
            while time.monotonic() < deadline:
                which = index % len(self.made)
                begun = time.perf_counter()
                try:
                    answer = send(which)
                except Exception as error:  # every failure is counted, none hidden
                    with self.lock:
                        self.errors.append(f"{type(error).__name__}: {error}")
                    continue
                finally:
                    index += 1
                elapsed = time.perf_counter() - begun
                with self.lock:
                    self.latencies.append(elapsed)
                    self.seen.append((which, digest(answer)))

        threads = [threading.Thread(target=client, args=(i * 7,)) for i in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - started

    def figures(self, elapsed: float) -> str:
        if not self.latencies:
            return "no request answered"
        ordered = sorted(self.latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"{len(ordered)} requests in {elapsed:.1f} s = {len(ordered) / elapsed:.1f} req/s, "
            f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--updates", type=int, default=6)
    opts = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="serve-load-"))
    db = work / "store.sqlite"
    # The store starts with the Node Security and malicious-package records; each update brings one
    # more slice of GitHub's (the fixtures' and npm-oracle's), so the answers change as the load runs.
    store_fixtures = FIXTURES / "osv" / "store"
    base = [store_fixtures / "npm-nodesecurity.jsonl.gz", store_fixtures / "npm-malicious-sample.jsonl.gz"]
    extra = read_jsonl(store_fixtures / "npm-ghsa.jsonl.gz") + read_jsonl(
        FIXTURES / "npm_oracle" / "advisories" / "real.jsonl"
    )
    with filling_store(db) as store:
        store.merge([import_source(path) for path in base])
    everything = [record for path in base for record in read_jsonl(path)]
    mirrors = []
    for step in range(1, opts.updates + 1):
        mirrors.append(work / f"mirror{step}")
        write_mirror(mirrors[-1], everything + extra[: len(extra) * step // opts.updates])
    made = requests_for_corpus()
    lockfiles = sum(1 for path, _ in made if path == BULK)
    print(f"{len(made)} distinct requests (bulk and querybatch) from {lockfiles} lockfiles", file=sys.stderr)
    allowed: list[set[str]] = [{d} for d in expected_digests(db, made)]

    env = {**os.environ, "NPMAUDIT_CACHE_DIR": str(work / "cache")}
    server = subprocess.Popen(
        [sys.executable, "-m", "npmaudit", "serve", "--db", str(db), "--port", "0", "--readers", str(opts.readers)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert server.stderr is not None
    port = int(server.stderr.readline().split("127.0.0.1:", 1)[1].split("/", 1)[0])
    threading.Thread(target=lambda: [None for _ in server.stderr or ()], daemon=True).start()

    local = threading.local()

    def over_http(which: int) -> Any:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        path, body = made[which]
        connection.request("POST", path, body=body, headers={"content-type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
        return json.loads(data)

    updates_done: list[float] = []

    def updater() -> None:
        for mirror in mirrors:
            begun = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "npmaudit",
                    "db",
                    "update",
                    "--full",
                    "--db",
                    str(db),
                    "--mirror",
                    mirror.as_uri(),
                ],
                check=True,
                capture_output=True,
                env=env,
            )
            updates_done.append(time.perf_counter() - begun)
            for index, value in enumerate(expected_digests(db, made)):
                allowed[index].add(value)
            time.sleep(opts.seconds / (opts.updates + 1))

    load = Load(made, opts.clients, opts.seconds)
    update_thread = threading.Thread(target=updater)
    update_thread.start()
    elapsed = load.run(over_http)
    update_thread.join()
    server.terminate()
    server.wait(timeout=60)
    wrong = sum(1 for which, value in load.seen if value not in allowed[which])
    answers_per_request: dict[int, set[str]] = {}
    for which, value in load.seen:
        answers_per_request.setdefault(which, set()).add(value)
    changed = sum(1 for values in answers_per_request.values() if len(values) > 1)
    print(
        f"serve (HTTP, {opts.clients} clients, {opts.readers} readers, {len(updates_done)} db updates beside it, "
        f"each {statistics.mean(updates_done):.2f} s): {load.figures(elapsed)}; errors {len(load.errors)}, "
        f"wrong answers {wrong}; {changed} of {len(made)} requests saw their answer change during the run"
    )

    reference = Load(made, opts.clients, opts.seconds)

    def bare(which: int) -> Any:
        store = getattr(local, "store", None)
        if store is None:
            store = local.store = AdvisoryStore.open(db)
        path, body = made[which]
        return answer_in_process(store, path, body)

    elapsed = reference.run(bare)
    final = expected_digests(db, made)
    wrong_reference = sum(1 for which, value in reference.seen if value != final[which])
    print(
        f"bare store lookup (in-process, {opts.clients} threads): {reference.figures(elapsed)}; "
        f"errors {len(reference.errors)}, wrong answers {wrong_reference}"
    )
    failed = load.errors or wrong or reference.errors or wrong_reference or len(updates_done) != opts.updates
    if load.errors:
        print("first error: " + load.errors[0], file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
