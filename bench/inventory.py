"""Benchmark: an inventory of 10,000 projects on SQLite and PostgreSQL, beside the same question
answered from the files.

    .venv/bin/python bench/inventory.py [--projects 10000] [--queries 40] [--writers 4]
                                        [--backends sqlite,postgresql] [--postgres URL]

The projects are generated from the real lockfiles of the test corpus (tests/inventory_corpus.py:
41 projects, every format): project i is corpus project i mod 41 with its versions varied by a
seeded random walk (a patch bump for 15% of its packages, a minor bump for 3%, a prerelease of the
next patch for 0.5%), so the fleet has many distinct versions, as a real one does.

Measured, per backend, with the fleet at its full size: the ingest rate (``Inventory.add`` of
already-parsed projects) in three shapes: batched as ``inventory add -r`` commits them (64 projects
per transaction; most of the fleet is added this way), one transaction per project from one writer
(a CI runner), and from ``--writers`` processes at once (a fleet's runners); the same three for
changed projects, and re-adding unchanged ones; the size on disk; and the latency of
``inventory query`` (in process: p50/p99 over the query set, each run 3 times; and the command
line, process start included) for three kinds of question: a broad range over the most installed
names, their commonest exact version, and rare exact versions (installed by at most 20 projects:
a compromised patch release). The reference is ``query -r`` and ``audit -r`` over the corpus
folder itself (41 projects of files), scaled to the fleet's size by the seconds per project.
Without ``--postgres``, a temporary server is started as tests/servers/postgres.py starts one.

Each way of adding also reports its CPU per project: the writers' own (the client's side: what a CI
runner spends) and, on a server this script started, PostgreSQL's (every process of it, read from
/proc). Here the writers and the server share the machine's cores; a fleet's runners are other
machines, so the server's CPU per project says what one of its cores keeps up with.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from inventory_corpus import build_corpus  # noqa: E402
from npmaudit import semver  # noqa: E402
from npmaudit.inventory.ingest import BATCH_PROJECTS as BATCH  # noqa: E402
from npmaudit.inventory.packages import PackageRow, PackageSet, package_set  # noqa: E402
from npmaudit.inventory.spec import parse_package_spec  # noqa: E402
from npmaudit.inventory.store import Inventory, ProjectEntry  # noqa: E402
from npmaudit.project.loader import load_project  # noqa: E402


def vary(base: PackageSet, seed: int, cache: dict[tuple[str, int], str]) -> PackageSet:
    """The base project with some versions moved on, deterministically for ``seed``."""
    rng = random.Random(seed)
    rows = []
    for row in base.rows:
        version = row.version
        roll = rng.random()
        if row.node and roll < 0.185:
            kind = 0 if roll < 0.15 else 1 if roll < 0.18 else 2
            key = (version, kind * 10 + int(roll * 1000) % 3)
            moved = cache.get(key)
            if moved is None:
                parsed = semver.parse_version(version, loose=True)
                if parsed is None:
                    moved = version
                elif kind == 0:
                    moved = f"{parsed.major}.{parsed.minor}.{parsed.patch + 1 + key[1] % 10}"
                elif kind == 1:
                    moved = f"{parsed.major}.{parsed.minor + 1}.0"
                else:
                    moved = f"{parsed.major}.{parsed.minor}.{parsed.patch + 1}-rc.1"
                cache[key] = moved
            version = moved
        rows.append(
            PackageRow(row.node, row.name, version, row.location, row.source, row.flags, row.parent)
            if version != row.version
            else row
        )
    return PackageSet(base.lockfile_format, tuple(rows))


def fleet(bases: list[tuple[str, PackageSet]], indexes: range, *, seed_offset: int = 0) -> list[ProjectEntry]:
    """Projects ``indexes`` of the fleet (generated, not timed by the caller)."""
    entries = []
    for index in indexes:
        name, base = bases[index % len(bases)]
        entries.append(
            ProjectEntry(
                location=f"fleet/{index:05d}-{name}",
                lockfile=f"{name}/lockfile",
                lockfile_sha256=None,
                packages=vary(base, index + seed_offset, _CACHE),
                labels={"repo": f"org/{name}", "commit": f"{index:040x}"},
            )
        )
    return entries


_CACHE: dict[tuple[str, int], str] = {}


def choose_queries(bases: list[tuple[str, PackageSet]], count: int) -> tuple[list[str], list[str]]:
    """For the most installed names: a broad range (a caret range on their commonest major, every
    other one a prerelease-inclusive interval) and a narrow one (their commonest exact version, as
    an incident asks: "who has debug@4.4.2?")."""
    installs: Counter[str] = Counter()
    majors: dict[str, Counter[int]] = {}
    exact: dict[str, Counter[str]] = {}
    for _, base in bases:
        for row in base.rows:
            parsed = semver.parse_version(row.version, loose=True) if row.node and row.source == "registry" else None
            if parsed is not None:
                installs[row.name] += 1
                majors.setdefault(row.name, Counter())[parsed.major] += 1
                exact.setdefault(row.name, Counter())[row.version] += 1
    broad, narrow = [], []
    for name, _ in installs.most_common(count):
        major = majors[name].most_common(1)[0][0]
        broad.append(f"{name}@>={major}.0.0-0 <{major + 1}.0.0" if len(broad) % 2 else f"{name}@^{major}.0.0")
        narrow.append(f"{name}@{exact[name].most_common(1)[0][0]}")
    return broad, narrow


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def size_on_disk(inventory: Inventory, location: str) -> int:
    db = inventory.backend
    if db.dialect == "sqlite":
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return Path(location).stat().st_size
    return int(db.execute("SELECT pg_database_size(current_database())")[0][0])


def timed_adds(
    inventory: Inventory,
    bases: list[tuple[str, PackageSet]],
    indexes: range,
    offset: int = 0,
    *,
    batch: int = 1,
    census: Counter[tuple[str, str]] | None = None,
    cpu: list[float] | None = None,
) -> tuple[float, int, Counter[str]]:
    """Add these projects (``batch`` per transaction, as ``inventory add -r`` does; 1: as CI runners
    send them); the seconds spent adding, the rows, the statuses. ``census`` counts, untimed, the
    projects installing each registry (name, version); ``cpu`` gets the CPU seconds this process
    spent adding (the client's side) appended."""
    seconds, rows, statuses = 0.0, 0, Counter()
    client = 0.0
    for first in range(indexes.start, indexes.stop, 500):
        entries = fleet(bases, range(first, min(first + 500, indexes.stop)), seed_offset=offset)
        start, start_cpu = time.perf_counter(), time.process_time()
        for at in range(0, len(entries), batch):
            for result in inventory.add_many(entries[at : at + batch]):
                statuses[result.status] += 1
        seconds += time.perf_counter() - start
        client += time.process_time() - start_cpu
        rows += sum(len(entry.packages.rows) for entry in entries)
        if census is not None:
            for entry in entries:
                census.update({(row.name, row.version) for row in entry.packages.rows if row.source == "registry"})
        if (first // 500) % 4 == 3:
            print(f"   {first + 500 - indexes.start} projects, {seconds:.1f} s", flush=True)
    if cpu is not None:
        cpu.append(client)
    return seconds, rows, statuses


def _writer(location: str, bases: list[tuple[str, PackageSet]], indexes: range, offset: int, ready, results) -> None:
    entries = fleet(bases, indexes, seed_offset=offset)
    with Inventory.open(location) as inventory:
        ready.wait()
        start, start_cpu = time.monotonic(), time.process_time()
        statuses = Counter(inventory.add(entry).status for entry in entries)
        results.put((start, time.monotonic(), dict(statuses), time.process_time() - start_cpu))


def parallel_adds(
    location: str,
    bases: list[tuple[str, PackageSet]],
    indexes: range,
    writers: int,
    offset: int = 0,
    cpu: list[float] | None = None,
) -> tuple[float, Counter[str]]:
    """``writers`` processes adding their share of the projects, one transaction each, all at once
    (a fleet's CI runners): the seconds from the first start to the last end, and the statuses;
    ``cpu`` gets the writers' CPU seconds spent adding appended."""
    context = multiprocessing.get_context("fork")
    ready = context.Barrier(writers)
    results = context.Queue()
    shares = [range(indexes.start + i, indexes.stop, writers) for i in range(writers)]
    processes = [
        context.Process(target=_writer, args=(location, bases, share, offset, ready, results)) for share in shares
    ]
    for process in processes:
        process.start()
    done = [results.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join()
        assert process.exitcode == 0, process.exitcode
    statuses: Counter[str] = Counter()
    for _, _, counted, _ in done:
        statuses.update(counted)
    if cpu is not None:
        cpu.append(sum(seconds for _, _, _, seconds in done))
    return max(end for _, end, _, _ in done) - min(start for start, _, _, _ in done), statuses


def server_cpu_reader(data: Path) -> Callable[[], float] | None:
    """A function giving the CPU seconds spent so far by the PostgreSQL server whose data directory
    is ``data``, every process of it together: the postmaster, its live children (backends, WAL
    writer, checkpointer, autovacuum) and, through the postmaster's children times, those that
    ended (each writer's backend ends with its connection). None where /proc or the server's pid
    file cannot be read: the figures are then left out, not guessed."""
    try:
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None

    def fields(pid: str) -> list[str] | None:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # ended meanwhile: its time is in the postmaster's children times
            return None
        return stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, ...

    def seconds() -> float:
        own = fields(str(postmaster))
        if own is None:
            raise RuntimeError("the PostgreSQL server stopped during the benchmark")
        total = sum(int(value) for value in own[11:15])  # utime, stime, cutime, cstime
        for pid in os.listdir("/proc"):
            if pid.isdigit() and pid != str(postmaster):
                child = fields(pid)
                if child is not None and child[1] == str(postmaster):
                    total += int(child[11]) + int(child[12])
        return total / ticks

    seconds()  # fails here, not in the middle of a run, if the process table cannot be read
    return seconds


def rare_queries(census: Counter[tuple[str, str]], count: int) -> list[str]:
    """Incident questions: exact versions that only a few projects install (a compromised patch
    release caught early), drawn from those installed by 1 to 20 projects of the fleet."""
    candidates = sorted(pair for pair, projects in census.items() if projects <= 20)
    picked = random.Random(16).sample(candidates, min(count, len(candidates)))
    return [f"{name}@{version}" for name, version in picked]


def latencies(inventory: Inventory, specs: list[str]) -> tuple[list[float], list[int]]:
    parsed = [(parse_package_spec(text),) for text in specs]
    times, hits = [], []
    for _ in range(3):
        for spec in parsed:
            start = time.perf_counter()
            result = inventory.query(spec)
            times.append(time.perf_counter() - start)
            hits.append(result.hits)
    return times, hits


def bench_backend(
    label: str,
    location: str,
    bases: list[tuple[str, PackageSet]],
    args: argparse.Namespace,
    server_cpu: Callable[[], float] | None = None,
) -> dict:
    """Ingest the fleet: most of it in batches, then a sample one project per transaction, from
    one writer and from ``--writers`` processes at once, at the fleet's full size; re-add samples
    unchanged and changed the same three ways; then the queries. Each way of adding also gets
    the CPU per project of the writers (the client's side) and, given ``server_cpu``
    (:func:`server_cpu_reader`), of the database server."""
    n, writers = args.projects, args.writers
    tail = max(writers, min(500, n // 10))
    bulk = n - 2 * tail
    print(f"\n== {label}: ingesting {n} projects", flush=True)
    broad, narrow = choose_queries(bases, args.queries)
    census: Counter[tuple[str, str]] = Counter()
    cpu_ms: dict[str, float] = {}

    def measured(name: str, projects: int, adds: Callable[[list[float]], Any]) -> Any:
        """``adds(cpu)``, with the client's and the server's CPU per project kept under ``name``."""
        client: list[float] = []
        before = server_cpu() if server_cpu is not None else None
        result = adds(client)
        if before is not None and server_cpu is not None:
            cpu_ms[f"{name}_server_cpu_ms_per_project"] = round((server_cpu() - before) / projects * 1000, 2)
        cpu_ms[f"{name}_client_cpu_ms_per_project"] = round(sum(client) / projects * 1000, 2)
        return result

    with Inventory.open(location, create=True) as inventory:
        batched_s, rows, _ = measured(
            f"first_batched_{BATCH}",
            bulk,
            lambda cpu: timed_adds(inventory, bases, range(bulk), batch=BATCH, census=census, cpu=cpu),
        )
        single_s, single_rows, _ = measured(
            "first_single_writer",
            tail,
            lambda cpu: timed_adds(inventory, bases, range(bulk, bulk + tail), census=census, cpu=cpu),
        )
    parallel_s, _ = measured(
        f"first_{writers}_writers",
        tail,
        lambda cpu: parallel_adds(location, bases, range(bulk + tail, n), writers, cpu=cpu),
    )
    rows += single_rows
    for entry in fleet(bases, range(bulk + tail, n)):  # what the writers added
        rows += len(entry.packages.rows)
        census.update({(row.name, row.version) for row in entry.packages.rows if row.source == "registry"})
    with Inventory.open(location) as inventory:
        size = size_on_disk(inventory, location)
        sample = range(min(1000, n))
        unchanged_s, _, unchanged = timed_adds(inventory, bases, sample)
        changed_s, _, changed = measured(
            "changed_single_writer", tail, lambda cpu: timed_adds(inventory, bases, range(tail), offset=n, cpu=cpu)
        )
        changed_batched_s, _, changed_batched = measured(
            f"changed_batched_{BATCH}",
            tail,
            lambda cpu: timed_adds(inventory, bases, range(tail, 2 * tail), n, batch=BATCH, cpu=cpu),
        )
    changed_parallel_s, changed_parallel = measured(
        f"changed_{writers}_writers",
        tail,
        lambda cpu: parallel_adds(location, bases, range(2 * tail, 3 * tail), writers, n, cpu=cpu),
    )
    for statuses in (changed, changed_batched, changed_parallel):
        assert set(statuses) <= {"replaced", "unchanged"}, statuses
    assert set(unchanged) == {"unchanged"}, unchanged
    rare = rare_queries(census, args.queries)
    with Inventory.open(location) as inventory:
        broad_times, broad_hits = latencies(inventory, broad)
        narrow_times, narrow_hits = latencies(inventory, narrow)
        rare_times, rare_hits = latencies(inventory, rare)
    cli = []
    for text in broad[:3] + narrow[:3]:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "npmaudit", "inventory", "query", text, "--inventory", location, "--format", "json"],
            stdout=subprocess.DEVNULL,
            check=False,
        )
        cli.append(time.perf_counter() - start)

    def ms(value: float) -> float:
        return round(value * 1000, 1)

    def rate(count: int, seconds: float) -> float:
        return round(count / seconds, 1)

    figures = {
        "backend": label,
        "projects": n,
        "rows": rows,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else None,
        f"first_ingest_batched_{BATCH}_per_s": rate(bulk, batched_s),
        "first_ingest_single_writer_per_s": rate(tail, single_s),
        f"first_ingest_{writers}_writers_per_s": rate(tail, parallel_s),
        "size_mb": round(size / 1e6, 1),
        "unchanged_readd_per_s": rate(len(sample), unchanged_s),
        "changed_single_writer_per_s": rate(tail, changed_s),
        f"changed_batched_{BATCH}_per_s": rate(tail, changed_batched_s),
        f"changed_{writers}_writers_per_s": rate(tail, changed_parallel_s),
        "broad_query_p50_ms": ms(statistics.median(broad_times)),
        "broad_query_p99_ms": ms(percentile(broad_times, 0.99)),
        "broad_installs_median": statistics.median(broad_hits),
        "narrow_query_p50_ms": ms(statistics.median(narrow_times)),
        "narrow_query_p99_ms": ms(percentile(narrow_times, 0.99)),
        "narrow_installs_median": statistics.median(narrow_hits),
        "rare_query_p50_ms": ms(statistics.median(rare_times)),
        "rare_query_p99_ms": ms(percentile(rare_times, 0.99)),
        "rare_installs_median": statistics.median(rare_hits),
        "cli_query_median_ms": ms(statistics.median(cli)),
        **cpu_ms,
    }
    print(json.dumps(figures, indent=2), flush=True)
    return figures


def server_summary(figures: dict, writers: int) -> str:
    """What the PostgreSQL server's CPU per project says about a fleet whose runners are other
    machines: the projects per second one core of the server keeps up with, for each way of adding."""
    parts = []
    for name in (
        f"first_batched_{BATCH}",
        f"first_{writers}_writers",
        f"changed_batched_{BATCH}",
        f"changed_{writers}_writers",
    ):
        server = figures.get(f"{name}_server_cpu_ms_per_project")
        client = figures.get(f"{name}_client_cpu_ms_per_project")
        if server is None:
            return "PostgreSQL server CPU: not measured (a server this benchmark did not start)"
        parts.append(
            f"{name}: client {client} + server {server} ms = one server core per {1000 / server:.0f} projects/s"
        )
    return "PostgreSQL CPU per project (writers beside the server on this machine):\n  " + "\n  ".join(parts)


def reference(corpus: Path, specs: list[str], projects: int, work: Path) -> dict:
    """The same question from the files: query -r and audit -r (against one record per spec)."""
    count = len(load_projects_quietly(corpus))
    spec = specs[0]
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "npmaudit", "query", spec, str(corpus), "-r", "--format", "json"],
        stdout=subprocess.DEVNULL,
        check=False,
    )
    query_s = time.perf_counter() - start
    name, _, wanted = spec.rpartition("@")
    record = {
        "id": "MAL-0000-0001",
        "modified": "2025-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "npm", "name": name}, "ranges": _events(wanted)}],
    }
    database = work / "one-record.json"
    database.write_text(json.dumps([record]))
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "npmaudit", "audit", "-r", str(corpus), "--compromised", "--db", str(database)],
        stdout=subprocess.DEVNULL,
        check=False,
        env={**_environ(), "NPMAUDIT_CACHE_DIR": str(work / "cache")},
    )
    audit_s = time.perf_counter() - start
    figures = {
        "files_projects": count,
        "query_r_s": round(query_s, 2),
        "audit_r_s": round(audit_s, 2),
        "query_r_s_per_project": round(query_s / count, 3),
        f"query_r_s_scaled_to_{projects}": round(query_s / count * projects),
        f"audit_r_s_scaled_to_{projects}": round(audit_s / count * projects),
    }
    print(json.dumps(figures, indent=2), flush=True)
    return figures


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def _events(wanted: str) -> list[dict]:
    ranges = []
    for comparators in semver.to_comparators(wanted, loose=True, include_prerelease=True):
        events = [{"introduced": "0"}]
        for comparator in comparators:
            if comparator.startswith(">="):
                events[0] = {"introduced": comparator[2:]}
            elif comparator.startswith("<"):
                events.append({"fixed": comparator[1:]})
        ranges.append({"type": "SEMVER", "events": events})
    return ranges


def load_projects_quietly(corpus: Path) -> list[Path]:
    from npmaudit.project.discover import find_projects

    return find_projects(corpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--writers", type=int, default=4, help="processes adding at once (default: 4)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database (default: a temporary server)")
    args = parser.parse_args()
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="npmaudit-bench-")))
        corpus = work / "corpus"
        directories = build_corpus(corpus)
        start = time.perf_counter()
        bases = [(d.name, package_set(load_project(d))) for d in directories]
        parse_s = time.perf_counter() - start
        rows = sum(len(base.rows) for _, base in bases)
        print(f"corpus: {len(bases)} projects, {rows} nodes, parsed in {parse_s:.1f} s", flush=True)
        results = []
        summaries: list[str] = []
        backends = args.backends.split(",")
        if "sqlite" in backends:
            results.append(bench_backend("sqlite", str(work / "inventory.sqlite"), bases, args))
        if "postgresql" in backends:
            url = args.postgres
            if url is None:
                from servers.postgres import TemporaryPostgres

                server = stack.enter_context(TemporaryPostgres(durable=True))
                url = server.create_database()
                server_cpu = server_cpu_reader(server.data)
            else:
                server_cpu = None  # another machine's server, perhaps: not measured
            figures = bench_backend("postgresql", url, bases, args, server_cpu)
            results.append(figures)
            summaries.append(server_summary(figures, args.writers))
        results.append(reference(corpus, choose_queries(bases, args.queries)[0], args.projects, work))
        needed = args.projects / 60
        print(f"\ningest goal (one CI run per project per minute): {needed:.0f} projects/s", flush=True)
        for line in summaries:
            print(line, flush=True)
        print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
