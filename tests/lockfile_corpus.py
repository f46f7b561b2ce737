"""Every lockfile (and installed node_modules tree) among the test fixtures, as a project to audit.

Fixtures stored under another name (``<repo>__pnpm-lock.yaml``, ``<repo>__bun.lock``) or gzipped
(``yarn.lock.gz``) are copied into a folder of their own under their real name, with their
package.json beside them when the fixture has one; the others are used where they are.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

from conftest import FIXTURES
from npmaudit.project.loader import LOCKFILE_KINDS, load_project
from npmaudit.project.model import Project

LOCKFILE_NAMES = {Path(kind.filename).name for kind in LOCKFILE_KINDS if kind.filename != "node_modules"}
PREFIXED = ("pnpm-lock.yaml", "bun.lock")


def corpus() -> list[Path]:
    """The fixture files (and node_modules folders) that hold one project's tree each, sorted."""
    found = []
    for path in sorted((FIXTURES / "lockfiles").rglob("*")):
        if not path.is_file():
            continue
        name = path.name.removesuffix(".gz")
        if name in LOCKFILE_NAMES or name.endswith(tuple(f"__{real}" for real in PREFIXED)):
            found.append(path)
    found.extend(
        sorted(p / "node_modules" for p in (FIXTURES / "node_modules").iterdir() if (p / "node_modules").is_dir())
    )
    found.extend(sorted((FIXTURES / "osv" / "online" / "projects").glob("*/package-lock.json")))
    return found


def corpus_id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


def materialise(path: Path, tmp_path: Path) -> Path:
    """The lockfile to read for a corpus entry: the fixture itself, or a copy under its real name."""
    name = path.name
    if name.endswith(".gz"):
        target = tmp_path / path.parent.name
        target.mkdir(parents=True, exist_ok=True)
        if (path.parent / "package.json").exists():
            shutil.copy(path.parent / "package.json", target / "package.json")
        lockfile = target / name[:-3]
        lockfile.write_bytes(gzip.decompress(path.read_bytes()))
        return lockfile
    for real in PREFIXED:
        if name.endswith(f"__{real}"):
            stem = name[: -len(real)]
            target = tmp_path / stem.rstrip("_")
            target.mkdir(parents=True, exist_ok=True)
            manifest = path.parent / f"{stem}package.json"
            if manifest.exists():
                shutil.copy(manifest, target / "package.json")
            shutil.copy(path, target / real)
            return target / real
    return path


def load_fixture(path: Path, tmp_path: Path) -> Project:
    """Read a corpus entry (an installed tree is read as the project's node_modules)."""
    lockfile = materialise(path, tmp_path)
    return load_project(lockfile.parent, lockfile) if lockfile.name == "node_modules" else load_project(lockfile)


def cli_target(path: Path, tmp_path: Path) -> list[str]:
    """The `npmaudit audit` arguments that read a corpus entry."""
    lockfile = materialise(path, tmp_path)
    if lockfile.name == "node_modules":
        return [str(lockfile.parent), "--lockfile", str(lockfile)]
    return [str(lockfile)]
