"""Time npmaudit's yarn.lock reader on every real yarn.lock in the shared corpus (median of 5 runs).

The corpus names files ``<project>__yarn.lock`` beside ``<project>__package.json``; each pair is copied
into a temporary project folder so the reader sees them as yarn would (yarn.lock + package.json).
Usage: python bench/parse_yarn.py [corpus-dir]   (default /work/shared/data/lockfiles)
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from npmaudit.project.readers.yarn.lockfile import read

DEFAULT = Path("/work/shared/data/lockfiles")


def main() -> int:
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    locks = sorted(p for folder in ("yarn-v1", "yarn-berry") for p in (corpus / folder).glob("*yarn.lock"))
    if not locks:
        print(f"skipped: no yarn.lock files under {corpus}")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        for lock in locks:
            project = Path(scratch) / lock.name.removesuffix("yarn.lock").rstrip("_")
            project.mkdir()
            shutil.copy(lock, project / "yarn.lock")
            manifest = lock.with_name(lock.name.removesuffix("yarn.lock") + "package.json")
            if manifest.exists():
                shutil.copy(manifest, project / "package.json")
            times = []
            for _ in range(5):
                start = time.perf_counter()
                result = read(project / "yarn.lock")
                times.append(time.perf_counter() - start)
            size = (project / "yarn.lock").stat().st_size / 1024
            print(
                f"{lock.parent.name:10} {project.name:48} {size:7.0f} KB {len(result.nodes):6} nodes "
                f"{statistics.median(times) * 1000:8.1f} ms  ({result.lockfile_format})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
