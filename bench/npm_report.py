"""Benchmark: npmaudit's npm report against npm itself (npm-oracle) on the largest npm lockfile.

    .venv/bin/python bench/npm_report.py [--stem facebook__create-react-app] [--no-npm]

npmaudit runs from the recorded fixtures (advisories + packuments, no network). npm runs through
/work/shared/tools/npm-oracle with the same advisories; its packuments come from the oracle's cache
(warm after one run), so both sides compute from local data. Prints wall times and whether the
documents agree (apart from npm's order-dependent fixAvailable choices, see tests/test_npm_report.py).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from npmaudit.advisories.model import Advisory
from npmaudit.npm_report import Engines, build_npm_report
from npmaudit.project.readers.npm.lockfile import read
from npmaudit.registry.packuments import MappingPackuments

REPO = Path(__file__).resolve().parents[1]
ORACLE_FIXTURES = REPO / "tests" / "fixtures" / "npm_oracle"
LOCKS = REPO / "tests" / "fixtures" / "lockfiles" / "npm"
NPM_ORACLE = Path("/work/shared/tools/npm-oracle")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stem", default="facebook__create-react-app")
    ap.add_argument("--no-npm", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    lines = []
    for name in ("real.jsonl", "synthetic.jsonl"):
        lines += [x for x in (ORACLE_FIXTURES / "advisories" / name).read_text().splitlines() if x.strip()]
    runs = json.loads((ORACLE_FIXTURES / "runs.json").read_text())
    engines = Engines(node=runs["_tools"]["node"], npm=runs["_tools"]["npm"])
    folder = LOCKS / args.stem
    lockfile = folder / "npm-shrinkwrap.json"
    if not lockfile.exists():
        lockfile = folder / "package-lock.json"

    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        advisories = [Advisory.from_osv(json.loads(x)) for x in lines]
        raw = gzip.decompress((ORACLE_FIXTURES / "packuments.json.gz").read_bytes())
        packuments = MappingPackuments(json.loads(raw))
        project = read(lockfile)
        report = build_npm_report(project, advisories, packuments, engines=engines)
        best = min(best, time.perf_counter() - start)
    vulns = len(report.document["vulnerabilities"])
    print(
        f"npmaudit  {args.stem}: {best:.2f}s (best of {args.repeat}; {vulns} vulnerabilities, "
        f"{len(project.nodes)} nodes, {len(advisories)} advisories)"
    )
    if args.no_npm or not NPM_ORACLE.exists() or shutil.which("npm") is None:
        return 0
    with tempfile.TemporaryDirectory(prefix="npmreport-bench-") as tmp:
        combined = Path(tmp) / "advisories.jsonl"
        combined.write_text("\n".join(lines) + "\n")
        project_dir = Path(tmp) / "project"
        shutil.copytree(folder, project_dir)
        env = dict(os.environ, npm_config_cache=str(Path(tmp) / "npm-cache"))
        cache = Path("/tmp/npmaudit-oracle-cache")  # the recorders' packument cache (tests/oracle)
        cmd = [
            str(NPM_ORACLE),
            "run",
            "--advisories",
            str(combined),
            "--cache",
            str(cache),
            "--project",
            str(project_dir),
            "--",
            "npm",
            "audit",
            "--json",
        ]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        elapsed = time.perf_counter() - start
    npm_doc = json.loads(proc.stdout)
    same_names = list(npm_doc["vulnerabilities"]) == list(report.document["vulnerabilities"])
    print(
        f"npm 11    {args.stem}: {elapsed:.2f}s (npm-oracle, fresh npm cache, cached packuments; "
        f"{len(npm_doc['vulnerabilities'])} vulnerabilities; same vulnerability names: {same_names})"
    )
    print(f"speed-up: {elapsed / best:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
