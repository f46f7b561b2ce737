"""Record yarn's own reading of a yarn.lock fixture as the expectation npmaudit's reader is tested against.

Not part of the test run (it needs node, npm, yarn and the network). For one fixture project
(a folder with yarn.lock and package.json) it:

1. copies the project to a scratch folder and lets yarn install it there, scripts disabled, for every
   platform (classic ``--frozen-lockfile --ignore-platform``; berry with ``nodeLinker: node-modules``
   and every os/cpu in ``supportedArchitectures``), from the registry given on the command line;
2. reads the installed tree with npm's arborist (yarn_installed_dump.js) for npm's dependency groups;
3. writes, per ``name@version`` installed, the groups of each installed copy (prod, dev, optional,
   dev+optional or devOptional); the test folds the copies together as ``--omit`` would.

Berry workspace members whose package.json is not in the fixture are given one made from their lock
entry (all dependencies as production), which is what npmaudit assumes for them too.

Usage: python yarn_oracle.py <fixture-dir> <expected.json> --registry <registry-url>
       [--yarn1 path/to/yarn.js] [--berry path/to/yarn.js]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CACHE = Path(tempfile.gettempdir()) / "yarn-oracle-cache"  # outside the repository, reused between runs
TEST_HOSTS = ("https://registry.yarnpkg.test/", "https://registry.npmjs.test/", "http://registry.npmjs.test/")
OSES = ["current", "darwin", "linux", "win32", "openharmony", "freebsd", "openbsd", "netbsd", "android", "aix", "sunos"]
CPUS = ["current", "x64", "arm64", "ia32", "arm", "ppc64", "s390x", "mips64el", "riscv64", "loong64", "wasm32"]


def label(node: dict) -> str:
    """npm's groups of one installed copy: prod, dev, optional, dev+optional or devOptional."""
    if node["dev"] and node["optional"]:
        return "dev+optional"
    if node["dev"]:
        return "dev"
    if node["optional"]:
        return "optional"
    return "devOptional" if node["devOptional"] else "prod"


def run(command: list[str], **kwargs: object) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"failed: {' '.join(command)}")


def stub_local_folders(work: Path) -> None:
    """``file:`` folders the fixture does not carry get a bare package.json (their lock entry has no deps)."""
    manifest = json.loads((work / "package.json").read_text())
    for group in ("dependencies", "devDependencies", "optionalDependencies"):
        for name, spec in (manifest.get(group) or {}).items():
            if spec.startswith("file:") and not spec.endswith((".tgz", ".tar.gz")):
                folder = work / spec.removeprefix("file:")
                if not (folder / "package.json").exists():
                    folder.mkdir(parents=True, exist_ok=True)
                    (folder / "package.json").write_text(json.dumps({"name": name, "version": "0.0.0"}))


def install_classic(work: Path, registry: str, yarn: str) -> str:
    lock = work / "yarn.lock"
    text = lock.read_text()
    for host in TEST_HOSTS:
        text = text.replace(host, registry.rstrip("/") + "/")
    lock.write_text(text)
    stub_local_folders(work)
    env = dict(os.environ, YARN_CACHE_FOLDER=str(CACHE / "classic"))
    run(
        [
            "node",
            yarn,
            "install",
            "--frozen-lockfile",
            "--ignore-scripts",
            "--ignore-engines",
            "--ignore-platform",
            "--non-interactive",
            "--no-progress",
        ],
        cwd=work,
        env=env,
    )
    version = subprocess.run(["node", yarn, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return f"yarn {version} install --frozen-lockfile --ignore-scripts --ignore-platform"


def install_berry(work: Path, registry: str, yarn: str) -> str:
    data = yaml.load((work / "yarn.lock").read_text(), Loader=yaml.CBaseLoader)
    made = 0
    members = set()
    for entry in data.values():
        resolution = entry.get("resolution", "") if isinstance(entry, dict) else ""
        if "@workspace:" in resolution[1:]:
            members.add(resolution[0] + resolution[1:].partition("@")[0])
    for entry in data.values():
        resolution = entry.get("resolution", "") if isinstance(entry, dict) else ""
        name, _, reference = resolution[1:].partition("@")
        name = resolution[0] + name if resolution else ""
        if not reference.startswith("workspace:") or reference == "workspace:.":
            continue
        folder = work / reference.removeprefix("workspace:")
        if (folder / "package.json").exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        # Ranges on sibling members relied on the members' real versions; link them explicitly instead.
        deps = {dep: "workspace:*" if dep in members else spec for dep, spec in entry.get("dependencies", {}).items()}
        manifest = {"name": name, "version": "0.0.0", "dependencies": deps}
        (folder / "package.json").write_text(json.dumps(manifest, indent=2))
        made += 1
    (work / ".yarnrc.yml").write_text(
        yaml.safe_dump(
            {
                "nodeLinker": "node-modules",
                "npmRegistryServer": registry.rstrip("/"),
                "enableScripts": False,
                "enableGlobalCache": False,
                "enableTelemetry": False,
                "checksumBehavior": "update",
                "cacheFolder": str(CACHE / "berry"),
                "supportedArchitectures": {"os": OSES, "cpu": CPUS, "libc": ["current", "glibc", "musl"]},
            }
        )
    )
    package = json.loads((work / "package.json").read_text())
    package.pop("packageManager", None)
    (work / "package.json").write_text(json.dumps(package, indent=2))
    env = dict(os.environ, YARN_IGNORE_PATH="1", COREPACK_ENABLE_STRICT="0", YARN_ENABLE_IMMUTABLE_INSTALLS="0")
    run(["node", yarn, "install", "--mode=skip-build"], cwd=work, env=env)
    version = subprocess.run(
        ["node", yarn, "--version"], cwd=work, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    note = f"; {made} workspace package.json files made from their lock entries" if made else ""
    return f"yarn {version} install --mode=skip-build, nodeLinker node-modules, all platforms{note}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("fixture", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--yarn1")
    parser.add_argument("--berry")
    args = parser.parse_args()
    berry = re.search(r"^__metadata:", (args.fixture / "yarn.lock").read_text(), re.MULTILINE) is not None
    scratch = Path(tempfile.mkdtemp(prefix="yarn-oracle-"))
    work = scratch / "project"
    shutil.copytree(args.fixture, work, ignore=shutil.ignore_patterns("expected*"))
    how = install_berry(work, args.registry, args.berry) if berry else install_classic(work, args.registry, args.yarn1)
    dump = subprocess.run(
        ["node", str(HERE / "yarn_installed_dump.js"), str(work)], capture_output=True, text=True, check=True
    )
    npm_version = subprocess.run(["npm", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    labels: dict[str, list[str]] = {}
    for node in json.loads(dump.stdout):
        if node["workspace"] or (node["extraneous"] and node["location"].startswith("node_modules/.yarn-state")):
            continue
        labels.setdefault(f"{node['name']}@{node['version']}", []).append(label(node))
    expected = {
        "oracle": f"{how}; groups by npm {npm_version} arborist loadActual (calcDepFlags) on the installed tree",
        "packages": {key: sorted(value) for key, value in sorted(labels.items())},
    }
    text = json.dumps(expected, indent=1, sort_keys=True) + "\n"
    host = re.sub(r"^https?://", "", args.registry).split("/")[0]
    if host in text:
        print("refusing to write: the output names the real registry host", file=sys.stderr)
        return 1
    args.output.write_text(text)
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"{args.output}: {len(expected['packages'])} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
