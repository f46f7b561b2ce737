#!/usr/bin/env python3
"""Record npm's own reading of every npm-format lockfile as the oracle for tests/test_npm_lock*.py.

A tool, not part of the test run (needs node + npm 11). For each lockfile under
``<data>/{package-lock-v1,package-lock-v2,package-lock-v3,npm-shrinkwrap}`` it

1. builds a scratch project ``<scratch>/<prefix>/<prefix>/`` (the folder is named like the fixture
   folder so that a root without a ``name`` gets the same folder-derived name) holding the lockfile
   under its real name and the ``<prefix>__package.json`` beside it as ``package.json``;
2. for v2/v3 lockfiles, writes a ``package.json`` into every folder entry of ``packages`` (keys with
   no ``node_modules/``: workspace members, ``file:`` link targets) made from that entry, because
   arborist maps workspaces and reads link targets from disk, as it would in a real checkout.
   v1 lockfiles carry no manifest for their ``file:`` targets, so none is written for them;
3. runs ``npm_lock_dump.js`` (arborist ``loadVirtual``) and stores its output as
   ``tests/fixtures/lockfiles/npm/expected/<prefix>.json.gz``;
4. with ``--copy``, also copies the lockfile and package.json into
   ``tests/fixtures/lockfiles/npm/<prefix>/``.

Usage: npm_lock_oracle.py --data /work/shared/data/lockfiles [--scratch /tmp/npmlock/work] [--copy]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures" / "lockfiles" / "npm"
FOLDERS = ("package-lock-v1", "package-lock-v2", "package-lock-v3", "npm-shrinkwrap")
LOCK_ONLY_KEYS = {"resolved", "integrity", "link", "dev", "optional", "devOptional", "peer", "extraneous", "inBundle"}
# Any registry host that is not one of the corpus' .test stand-ins must not be recorded.
REAL_HOST = re.compile(r"registry\.(?:npmjs|yarnpkg)\.(?!test\b)[a-z]+")


def lockfiles(data: Path) -> list[Path]:
    found = []
    for folder in FOLDERS:
        for path in sorted((data / folder).glob("*.json")):
            if not path.name.endswith("__package.json"):
                found.append(path)
    return found


def split_name(path: Path) -> tuple[str, str]:
    """``<prefix>__package-lock.json`` -> (prefix, package-lock.json)."""
    for name in ("package-lock.json", "npm-shrinkwrap.json"):
        if path.name.endswith("__" + name):
            return path.name[: -len(name) - 2], name
    raise SystemExit(f"unexpected lockfile name {path.name}")


def build_project(lock: Path, scratch: Path) -> Path:
    prefix, lockname = split_name(lock)
    base = scratch / prefix
    if base.exists():
        shutil.rmtree(base)
    project = base / prefix
    project.mkdir(parents=True)
    shutil.copyfile(lock, project / lockname)
    shutil.copyfile(lock.with_name(prefix + "__package.json"), project / "package.json")
    data = json.loads(lock.read_text(encoding="utf-8"))
    for key, entry in (data.get("packages") or {}).items():
        if not key or "node_modules/" in key or entry.get("link"):
            continue
        manifest = {k: v for k, v in entry.items() if k not in LOCK_ONLY_KEYS}
        manifest.setdefault("name", key.rsplit("/", 1)[-1])
        folder = (project / key).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return project


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/npmlock/work"))
    parser.add_argument("--copy", action="store_true")
    args = parser.parse_args()
    (FIXTURES / "expected").mkdir(parents=True, exist_ok=True)
    for lock in lockfiles(args.data):
        prefix, lockname = split_name(lock)
        project = build_project(lock, args.scratch)
        out = subprocess.run(
            ["node", str(HERE / "npm_lock_dump.js"), str(project)], capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            print(f"{prefix}: arborist failed: {out.stderr}", file=sys.stderr)
            return 1
        if REAL_HOST.search(out.stdout):
            print(f"{prefix}: oracle output names a real registry host; not recorded", file=sys.stderr)
            return 1
        dump = json.loads(out.stdout)
        dump["lockfile"] = lockname
        target = FIXTURES / "expected" / f"{prefix}.json.gz"
        with gzip.open(target, "wt", encoding="utf-8") as handle:
            json.dump(dump, handle, separators=(",", ":"), sort_keys=True)
        if args.copy:
            folder = FIXTURES / prefix
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(lock, folder / lockname)
            shutil.copyfile(lock.with_name(prefix + "__package.json"), folder / "package.json")
        print(f"{prefix}: {len(dump['nodes'])} nodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
