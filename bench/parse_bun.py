"""Time the bun.lock reader on every real bun.lock in the shared corpus (median of 5 runs)."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from npmaudit.project.readers.bun.lockfile import read

CORPUS = Path("/work/shared/data/lockfiles/bun")


def main() -> int:
    if not CORPUS.is_dir():
        print(f"skipped: {CORPUS} is absent")
        return 0
    for lockfile in sorted(CORPUS.glob("*bun.lock")):
        timings = []
        for _ in range(5):
            start = time.perf_counter()
            project = read(lockfile)
            timings.append(time.perf_counter() - start)
        print(f"{lockfile.name}: {len(project.nodes)} nodes, median {statistics.median(timings) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
