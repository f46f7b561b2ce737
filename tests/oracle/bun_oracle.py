"""Record bun's own reading of a bun.lock as the oracle for tests/test_bun_lock.py.

Not run by the test suite (it needs bun and the network). Usage:

    python tests/oracle/bun_oracle.py BUN_BINARY LOCKFILE OUT.json [--project DIR] [--not-frozen]

bun is the npm package ``bun`` (its platform binary ``@oven/bun-linux-x64``), installed outside the
repository. For each lockfile the script builds a scratch project in a temporary folder whose
package.json is the lockfile's own root workspace entry (dependencies, devDependencies,
optionalDependencies, peerDependencies, optionalPeers, overrides), because a lockfile copied from a
repository may be older than the package.json beside it and ``--frozen-lockfile`` refuses that.
With ``--project DIR`` (the hand-made edge-case project with workspaces and local packages) the
folder is copied instead, node_modules excluded. ``--not-frozen`` drops ``--frozen-lockfile``: bun
1.4.5 refuses a lockfileVersion 0 file with a workspace under it ("failed to resolve"), and
without it migrates the file to version 1 with the same packages.
It then runs ``bun install --frozen-lockfile --ignore-scripts --os=* --cpu=*`` (every platform's
optional packages) five times: with nothing omitted, ``--omit=dev``, ``--omit=optional``,
``--omit=dev --omit=optional`` and ``--omit=peer``, always with ``--linker=hoisted`` (npm's layout),
and walks each resulting node_modules tree (reading every package.json: name and version, nested
node_modules, scoped folders; a symlink into the project is a workspace member, recorded with
``link:<folder>`` and walked at that folder; one outside it with ``link:outside``).

The JSON written holds the installed location -> [name, version] of the full install and, per omit
setting, the locations that install left out. Lock entries bun cannot install anywhere (their
``cpu``/``os`` is ``"none"``: an architecture bun does not know) are listed under
``not_installed`` with their key, so a test can tell them from a misreading.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

OMITS = {
    "dev": ["--omit=dev"],
    "optional": ["--omit=optional"],
    "dev,optional": ["--omit=dev", "--omit=optional"],
    "peer": ["--omit=peer"],
}


def _loose_json(text: str) -> dict:
    """bun.lock has trailing commas; its real files have no comments and no commas inside strings
    that precede a closing bracket, so a regex is enough for this one-off script."""
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", text))


def _manifest(lock: dict) -> dict:
    root = lock["workspaces"][""]
    manifest: dict = {"name": root.get("name", "bun-oracle-root")}
    for group in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
        if group in root:
            manifest[group] = root[group]
    if root.get("optionalPeers"):
        manifest["peerDependenciesMeta"] = {name: {"optional": True} for name in root["optionalPeers"]}
    if lock.get("overrides"):
        manifest["overrides"] = lock["overrides"]
    return manifest


def _walk(node_modules: Path, prefix: str, out: dict[str, list], project: Path) -> None:
    if not node_modules.is_dir():
        return
    for entry in sorted(os.listdir(node_modules)):
        if entry.startswith("."):
            continue
        path = node_modules / entry
        if entry.startswith("@") and not path.is_symlink():
            for sub in sorted(os.listdir(path)):
                _visit(path / sub, f"{prefix}{entry}/{sub}", out, project)
        else:
            _visit(path, prefix + entry, out, project)


def _visit(path: Path, location: str, out: dict[str, list], project: Path) -> None:
    """Record one installed folder; a symlink into the project (a workspace member) is recorded as
    a link and its target folder is walked under its own project-relative path, as npm names it."""
    manifest = path / "package.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text())
        out[location] = [data.get("name"), data.get("version")]
    if path.is_symlink():
        target = path.resolve()
        if target.is_relative_to(project) and "node_modules" not in target.relative_to(project).parts:
            relative = target.relative_to(project).as_posix()
            out[location] = [*out.get(location, [None, None])[:2], f"link:{relative}"]
            if relative not in out:
                _visit(target, relative, out, project)
            return
        if location in out:
            out[location] = [*out[location][:2], "link:outside"]
        return
    _walk(path / "node_modules", location + "/node_modules/", out, project)


def _install(
    bun: str, lockfile: Path, manifest: dict | None, source: Path | None, extra: list[str], frozen: bool = True
) -> dict:
    with tempfile.TemporaryDirectory(prefix="bun-oracle-") as scratch:
        project = Path(scratch).resolve() / "project"
        if source is not None:
            shutil.copytree(source, project, ignore=shutil.ignore_patterns("node_modules"))
        else:
            project.mkdir()
            (project / "package.json").write_text(json.dumps(manifest, indent=2))
        shutil.copy(lockfile, project / "bun.lock")
        subprocess.run(
            [
                bun,
                "install",
                *(["--frozen-lockfile"] if frozen else []),
                "--ignore-scripts",
                "--linker=hoisted",
                "--os=*",
                "--cpu=*",
                "--no-progress",
                *extra,
            ],
            cwd=project,
            check=True,
            capture_output=True,
        )
        found: dict[str, list] = {}
        _walk(project / "node_modules", "node_modules/", found, project)
        return found


def main() -> None:
    bun, lockfile, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    source = Path(sys.argv[5]).resolve() if len(sys.argv) > 5 and sys.argv[4] == "--project" else None
    frozen = "--not-frozen" not in sys.argv
    lock = _loose_json(lockfile.read_text())
    manifest = None if source else _manifest(lock)
    version = subprocess.run([bun, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    full = _install(bun, lockfile, manifest, source, [], frozen)
    omitted = {}
    for name, flags in OMITS.items():
        kept = _install(bun, lockfile, manifest, source, flags, frozen)
        omitted[name] = sorted(set(full) - set(kept))
    not_installed = sorted(
        key
        for key, value in lock["packages"].items()
        if len(value) > 2 and isinstance(value[2], dict) and ("none" in (value[2].get("cpu"), value[2].get("os")))
    )
    result = {
        "oracle": f"bun {version}: bun install {'--frozen-lockfile ' if frozen else ''}--ignore-scripts"
        " --linker=hoisted --os=* --cpu=* [--omit=...]",
        "lockfile": lockfile.name,
        "installed": dict(sorted(full.items())),
        "omitted": omitted,
        "not_installed": not_installed,
    }
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
