"""Benchmark the CI formats: the cost of lockfile lines, and each format's size on the largest lockfile.

    .venv/bin/python bench/ci_formats.py [--repeat 7]

1. Lockfile lines (the ``lockfile-lines`` analysis): for the largest fixture lockfile of each format,
   the median time of an offline audit without it, with it, and of the line scan alone (every
   finding's nodes located). The audit uses the fixtures' real advisories (GitHub, Node Security,
   OpenSSF samples and npm-oracle's records), opened once, as ``-r`` does.
2. Each CI format on the largest lockfile (create-react-app, 2,565 packages): bytes, gzipped bytes,
   render time, and the schema check the tests run (SARIF: the vendored 2.1.0 schema; CycloneDX:
   cyclonedx-python-lib's strict validator), when the test dependencies are installed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from lockfile_corpus import corpus, load_fixture, materialise  # noqa: E402
from npmaudit.advisories.local import open_local_database  # noqa: E402
from npmaudit.auditing.run import run_audit  # noqa: E402
from npmaudit.project.entry_lines import entry_places  # noqa: E402
from npmaudit.report import render  # noqa: E402
from npmaudit.settings import Settings  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
LARGEST = FIXTURES / "lockfiles" / "npm" / "facebook__create-react-app" / "package-lock.json"


def database(folder: Path) -> Path:
    path = folder / "advisories.jsonl"
    parts = []
    for name in ("npm-ghsa.jsonl.gz", "npm-nodesecurity.jsonl.gz", "npm-malicious-sample.jsonl.gz"):
        parts.append(gzip.decompress((FIXTURES / "osv" / "store" / name).read_bytes()).decode())
    for name in ("real.jsonl", "synthetic.jsonl"):
        parts.append((FIXTURES / "npm_oracle" / "advisories" / name).read_text())
    path.write_text("".join(part if part.endswith("\n") else part + "\n" for part in parts))
    return path


def median(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    db = database(folder)
    source = open_local_database(db)
    plain = Settings(cache_dir=folder / "cache", local=True, db=db)
    located = Settings(cache_dir=folder / "cache", local=True, db=db, lockfile_lines=True)

    largest_per_format: dict[str, tuple[int, Path]] = {}
    for entry in corpus():
        lockfile = materialise(entry, folder)
        if lockfile.name == "node_modules":
            continue
        kind = load_fixture(entry, folder).lockfile_format
        size = lockfile.stat().st_size
        if size > largest_per_format.get(kind, (0, lockfile))[0]:
            largest_per_format[kind] = (size, lockfile)

    print("lockfile lines: median seconds of an offline audit without / with them, and of the scan alone")
    print(f"{'format':18} {'KB':>6} {'findings':>8} {'audit':>7} {'+lines':>7} {'scan':>7} {'share':>6}")
    for kind, (size, lockfile) in sorted(largest_per_format.items()):
        outcome = run_audit(lockfile, plain, sources=[source])
        project = outcome.result.project
        wanted = [node.location for finding in outcome.result.findings for node in finding.nodes]
        without = median(lambda lf=lockfile: run_audit(lf, plain, sources=[source]), args.repeat)
        with_lines = median(lambda lf=lockfile: run_audit(lf, located, sources=[source]), args.repeat)
        scan = median(lambda p=project, w=wanted: entry_places(p, w), args.repeat)
        print(
            f"{kind:18} {size // 1024:6} {len(outcome.result.findings):8} {without:7.3f} {with_lines:7.3f} "
            f"{scan:7.4f} {scan / without:6.1%}"
        )

    outcome = run_audit(LARGEST, located, sources=[source])
    print(f"\nformats on {LARGEST.relative_to(ROOT)}: {len(outcome.result.findings)} findings")
    validators = _validators()
    for name in ("text", "json", "sarif", "github", "markdown", "cyclonedx", "junit"):
        seconds = median(lambda n=name: render(n, outcome), args.repeat)
        text = render(name, outcome)
        data = text.encode()
        check = validators.get(name)
        verdict = "" if check is None else ("schema: valid" if check(text) == [] else f"schema: {check(text)[:1]}")
        print(f"{name:10} {len(data):9,} B  gzip {len(gzip.compress(data)):8,} B  render {seconds:.3f} s  {verdict}")
    return 0


def _validators() -> dict[str, Callable[[str], list[str]]]:
    try:
        from schema_validation import cyclonedx_errors, sarif_errors
    except ImportError:  # the test dependencies are not installed
        return {}
    return {
        "sarif": lambda text: sarif_errors(json.loads(text)),
        "cyclonedx": lambda text: cyclonedx_errors(json.loads(text)),
    }


if __name__ == "__main__":
    raise SystemExit(main())
