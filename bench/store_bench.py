"""Benchmark of the SQLite advisory store at full scale (issue 3). Prints figures; not a test.

    .venv/bin/python bench/store_bench.py [--shared ../shared] [--work /tmp/npmaudit-bench] [--runs 7] [--no-npm]

1. writes the 215k-record corpus with ``shared/tools/make-scale-corpus`` (once; reused after);
2. ``npmaudit db import`` of that corpus into a fresh store (goal <= 60 s), then again unchanged
   (goal <= 10 s);
3. ``npmaudit audit <largest npm lockfile> --db <store> --format json --compromised``: whole process,
   median of --runs runs (goal <= 0.3 s) and peak RSS (goal <= 100 MB);
4. ``npmaudit --help`` (goal <= 0.15 s);
5. unless --no-npm: ``npm audit --json`` on the same lockfile against the real records served by
   ``shared/tools/npm-oracle serve``, median of --runs runs, and the ratio npm / npmaudit (goal >= 5x).

Every figure is the wall time of a whole child process (``os.wait4`` gives its own peak RSS and CPU
time), with byte-code compiled once as in an installed package (PYTHONPYCACHEPREFIX in the work
directory).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NPMAUDIT = Path(sys.executable).parent / "npmaudit"
LARGEST_NPM_LOCKFILE = ("package-lock-v2", "facebook__create-react-app")
REAL_RECORDS = ("npm-malicious.jsonl.gz", "npm-ghsa.jsonl.gz", "npm-nodesecurity.jsonl.gz")


def timed(
    command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[float, int, float]:
    """(wall seconds, peak RSS in MB, CPU seconds: user + system) of one child process. On a busy
    machine wall time includes waiting for a CPU; CPU time does not."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if child.stderr:
        child.stderr.close()
    if child.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{stderr}")
    return wall, usage.ru_maxrss // 1024, usage.ru_utime + usage.ru_stime


def repeated(command: list[str], runs: int, **kwargs) -> tuple[float, list[float], int, float]:
    """(median wall, every wall, peak RSS, median CPU) over ``runs`` runs after one warm-up run."""
    timed(command, **kwargs)  # warm the page cache and the .pyc files
    results = [timed(command, **kwargs) for _ in range(runs)]
    walls = [r[0] for r in results]
    return statistics.median(walls), walls, max(r[1] for r in results), statistics.median(r[2] for r in results)


def largest_npm_lockfile(shared: Path, work: Path) -> Path:
    folder, name = LARGEST_NPM_LOCKFILE
    project = work / name
    project.mkdir(parents=True, exist_ok=True)
    source = shared / "data" / "lockfiles" / folder
    shutil.copy(source / f"{name}__package-lock.json", project / "package-lock.json")
    shutil.copy(source / f"{name}__package.json", project / "package.json")
    return project


def count_packages(lockfile: Path) -> int:
    data = json.loads(lockfile.read_text())
    return sum(1 for key in data.get("packages", {}) if "node_modules/" in key)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "npmaudit-bench")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-npm", action="store_true", help="skip the npm audit comparison")
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    # Byte-code as an installed package has it: compiled once (into the work directory, not the
    # source tree), not recompiled by every process as PYTHONDONTWRITEBYTECODE=1 would make it.
    env = dict(os.environ, NPMAUDIT_CACHE_DIR=str(work / "cache"), PYTHONPYCACHEPREFIX=str(work / "pycache"))
    env.pop("NPMAUDIT_DB", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} at start; python {sys.version.split()[0]}")

    corpus = work / "corpus-215k.jsonl.gz"
    if not corpus.exists():
        wall, _, _ = timed([sys.executable, str(args.shared / "tools" / "make-scale-corpus"), "--out", str(corpus)])
        print(f"corpus written by make-scale-corpus in {wall:.1f} s")
    with gzip.open(corpus, "rb") as stream:
        records = sum(1 for line in stream if line.strip())
    print(f"corpus: {records:,} records, {corpus.stat().st_size / 1e6:.1f} MB gzipped")

    store = work / "store.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    importing = [str(NPMAUDIT), "db", "import", str(corpus), "--db", str(store)]
    first, first_rss, first_cpu = timed(importing, env=env)
    print(
        f"db import (fresh store):      {first:6.1f} s (CPU {first_cpu:.1f} s)  peak RSS {first_rss} MB   "
        f"goal <= 60 s   {records / first:,.0f} records/s"
    )
    again, again_rss, again_cpu = timed(importing, env=env)
    print(
        f"db import (unchanged again):  {again:6.1f} s (CPU {again_cpu:.1f} s)  peak RSS {again_rss} MB   goal <= 10 s"
    )
    print(
        f"store size: {store.stat().st_size / 1e6:.1f} MB ({store.stat().st_size / records:.0f} bytes/record; "
        f"the corpus is {corpus.stat().st_size / 1e6:.1f} MB gzipped)"
    )

    project = largest_npm_lockfile(args.shared, work)
    lockfile = project / "package-lock.json"
    print(
        f"lockfile: {LARGEST_NPM_LOCKFILE[1]} package-lock.json, {lockfile.stat().st_size / 1e6:.1f} MB, "
        f"{count_packages(lockfile):,} packages"
    )
    auditing = [str(NPMAUDIT), "audit", str(lockfile), "--db", str(store), "--format", "json", "--compromised"]
    report = json.loads(subprocess.run(auditing, env=env, capture_output=True, check=False).stdout)
    ours, runs, rss, audit_cpu = repeated(auditing, args.runs, env=env)
    print(
        f"npmaudit audit (offline):     {ours:6.3f} s median of {args.runs} "
        f"({', '.join(f'{r:.3f}' for r in runs)}; fastest {min(runs):.3f}), CPU {audit_cpu:.3f} s  "
        f"peak RSS {rss} MB   goals <= 0.3 s, <= 100 MB"
    )
    print(f"  findings: {len(report['findings'])}, vulnerable packages: {report['summary']['vulnerablePackages']}")
    helping, runs, _, cpu = repeated([str(NPMAUDIT), "--help"], args.runs, env=env)
    print(f"npmaudit --help:              {helping:6.3f} s median of {args.runs}, CPU {cpu:.3f} s   goal <= 0.15 s")

    if not args.no_npm:
        compare_with_npm(args, work, project, ours, audit_cpu)
    print(f"machine load average {os.getloadavg()[0]:.2f} at the end (other processes inflate every figure)")
    return 0


def compare_with_npm(args: argparse.Namespace, work: Path, project: Path, ours: float, our_cpu: float) -> None:
    if shutil.which("npm") is None:
        print("npm audit: skipped (npm is not installed)")
        return
    real = work / "real-records.jsonl"
    with real.open("wb") as sink:
        for name in REAL_RECORDS:
            with gzip.open(args.shared / "data" / "osv" / name, "rb") as source:
                shutil.copyfileobj(source, sink)
    oracle = subprocess.Popen(
        [
            sys.executable,
            str(args.shared / "tools" / "npm-oracle"),
            "serve",
            "--advisories",
            str(real),
            "--cache",
            str(work / "oracle-cache"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = oracle.stdout.readline() if oracle.stdout else ""
        url = line.rsplit(" at ", 1)[-1].strip()
        if not url.startswith("http://127.0.0.1:"):
            print(f"npm audit: skipped (npm-oracle did not start: {line!r})")
            return
        env = dict(os.environ, npm_config_registry=url, npm_config_audit="true", npm_config_update_notifier="false")
        command = ["npm", "audit", "--json", "--registry", url]
        npm_report = json.loads(subprocess.run(command, cwd=project, env=env, capture_output=True).stdout)
        theirs, runs, rss, cpu = repeated(command, args.runs, cwd=project, env=env)
        total = npm_report.get("metadata", {}).get("vulnerabilities", {}).get("total")
        print(
            f"npm audit --json (npm-oracle): {theirs:5.3f} s median of {args.runs} "
            f"({', '.join(f'{r:.3f}' for r in runs)}), CPU {cpu:.3f} s (npm's own, not the oracle's)  "
            f"peak RSS {rss} MB; {total} vulnerable packages"
        )
        print(f"ratio npm / npmaudit: {theirs / ours:.1f}x wall, {cpu / our_cpu:.1f}x CPU   goal >= 5x")
    finally:
        oracle.send_signal(signal.SIGTERM)
        try:
            oracle.wait(timeout=10)
        except subprocess.TimeoutExpired:
            oracle.kill()
            oracle.wait()
        if oracle.stdout:
            oracle.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
