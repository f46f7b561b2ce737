"""A folder of real projects in every lockfile format, built from tests/fixtures/lockfiles.

Each project gets its own directory holding its lockfile under the name its package manager
writes (gzipped fixtures are unpacked) and its package.json when the fixture has one: npm
package-lock v1/v2/v3 and shrinkwraps, pnpm v5/v6/v9, yarn classic and berry, bun (text lockfile
v0/v1/v2), npm_ex's npm.lock. The sources and licences are in each fixture folder's SOURCE.md.
Used by the query/inventory agreement tests and by bench/inventory.py.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

LOCKFILES = Path(__file__).parent / "fixtures" / "lockfiles"
LOCKFILE_NAMES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock", "npm.lock")


def _copy_project(source: Path, target: Path) -> None:
    """A fixture project folder (lockfile, package.json, workspace folders), gzipped lockfiles unpacked."""
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.name == "expected.json":
            continue
        if item.is_dir():
            shutil.copytree(item, target / item.name, symlinks=True)
        elif item.name.endswith(".gz") and item.name[:-3] in LOCKFILE_NAMES:
            (target / item.name[:-3]).write_bytes(gzip.decompress(item.read_bytes()))
        else:
            shutil.copy2(item, target / item.name)


def build_corpus(root: Path) -> list[Path]:
    """Copy every fixture project under ``root``; the project directories, sorted."""
    projects: list[Path] = []
    for family in sorted(path for path in LOCKFILES.iterdir() if path.is_dir()):
        for entry in sorted(family.iterdir()):
            target = root / family.name / entry.name.replace("@", "_at_")
            if entry.is_dir() and any(
                (entry / name).exists() or (entry / f"{name}.gz").exists() for name in LOCKFILE_NAMES
            ):
                _copy_project(entry, target)
                projects.append(target)
            elif entry.is_file() and entry.name.endswith(("__pnpm-lock.yaml", "__bun.lock")):
                # "owner__repo__pnpm-lock.yaml" beside "owner__repo__package.json"
                stem, _, lockfile = entry.name.rpartition("__")
                target = root / family.name / stem.replace("@", "_at_")
                target.mkdir(parents=True)
                shutil.copy2(entry, target / lockfile)
                manifest = entry.with_name(f"{stem}__package.json")
                if manifest.exists():
                    shutil.copy2(manifest, target / "package.json")
                projects.append(target)
    return sorted(projects)


@contextlib.contextmanager
def corpus_environment(tmp: Path) -> Iterator[None]:
    """No npmaudit setting from the caller's environment, a private cache: for module-scoped
    fixtures, where pytest's function-scoped monkeypatch cannot be used."""
    import pytest

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NPMAUDIT_CACHE_DIR", str(tmp / "cache"))
        for name in ("NPMAUDIT_DB", "NPMAUDIT_INVENTORY", "NPMAUDIT_POLICY", "NPMAUDIT_AUDIT_LEVEL", "NODE_ENV"):
            patch.delenv(name, raising=False)
        yield


def cli(*argv: str) -> tuple[int, str, str]:
    """``npmaudit ARGV`` in this process: (exit code, stdout, stderr), captured without capsys."""
    from npmaudit.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()
