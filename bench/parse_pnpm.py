"""Time the pnpm-lock.yaml reader on every real pnpm lockfile in the shared corpus (median of 5 runs).

Also prints how much of it is YAML loading alone (PyYAML's C loader when available), the floor
any reader built on PyYAML pays.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import yaml

from npmaudit.project.readers.pnpm.lockfile import read

CORPUS = Path("/work/shared/data/lockfiles")
FOLDERS = ("pnpm-v5", "pnpm-v6", "pnpm-v9")
LOADER = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


def _median(action: object, runs: int = 5) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> int:
    if not CORPUS.is_dir():
        print(f"skipped: {CORPUS} is absent")
        return 0
    print(f"YAML loader: {LOADER.__name__}")
    for folder in FOLDERS:
        for lockfile in sorted((CORPUS / folder).glob("*pnpm-lock.yaml")):
            project = read(lockfile)
            total = _median(lambda path=lockfile: read(path))
            text = lockfile.read_text()
            loading = _median(lambda text=text: list(yaml.load_all(text, Loader=LOADER)))
            size = lockfile.stat().st_size / 1024
            print(
                f"{folder}/{lockfile.name}: {size:.0f} KiB, {len(project.nodes)} nodes, "
                f"median {total * 1000:.1f} ms (YAML alone {loading * 1000:.1f} ms)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
