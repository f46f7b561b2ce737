"""Time reading every real lockfile of the shared corpus, every format, through the loader (median of 5).

Each lockfile is copied with its package.json under the names its package manager writes, so that
detection and the readers see a project as it is on disk. Prints one line per file and a total.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from npmaudit.project.loader import load_project

CORPUS = Path("/work/shared/data/lockfiles")
REAL_NAMES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock")


def _projects(scratch: Path) -> list[tuple[str, Path]]:
    projects = []
    for lockfile in sorted(CORPUS.glob("*/*")):
        stem, _, name = lockfile.name.rpartition("__")
        if name not in REAL_NAMES:
            continue
        target = scratch / lockfile.parent.name / stem
        target.mkdir(parents=True)
        shutil.copy(lockfile, target / name)
        manifest = lockfile.with_name(f"{stem}__package.json")
        if manifest.is_file():
            shutil.copy(manifest, target / "package.json")
        projects.append((f"{lockfile.parent.name}/{stem}", target))
    return projects


def main() -> int:
    if not CORPUS.is_dir():
        print(f"skipped: {CORPUS} is absent")
        return 0
    total = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for label, directory in _projects(Path(scratch)):
            nodes = len(load_project(directory).nodes)
            timings = []
            for _ in range(5):
                start = time.perf_counter()
                load_project(directory)
                timings.append(time.perf_counter() - start)
            median = statistics.median(timings)
            total += median
            print(f"{label}: {nodes} nodes, median {median * 1000:.1f} ms")
    print(f"all lockfiles: {total:.2f} s (sum of medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
