"""Amplifying lockfiles: a vulnerable copy under every link of a long chain must not make the JSON report
grow with the square of the lockfile (chains are capped and the cut is stated; every path is listed)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

DEPTH = 1500


def _chain_lockfile(directory: Path, depth: int) -> None:
    """p0 > p1 > ... > p<depth-1>, each holding its own copy of minimist@0.0.8 (a real vulnerable version)."""
    packages: dict[str, dict] = {"": {"name": "amplify", "version": "1.0.0", "dependencies": {"p0": "1.0.0"}}}
    location = ""
    for level in range(depth):
        location = f"{location}node_modules/p{level}"
        deps = {"minimist": "0.0.8"}
        if level + 1 < depth:
            deps[f"p{level + 1}"] = "1.0.0"
        packages[location] = {"version": "1.0.0", "dependencies": deps}
        packages[f"{location}/node_modules/minimist"] = {"version": "0.0.8"}
        location += "/"
    document = {"name": "amplify", "version": "1.0.0", "lockfileVersion": 3, "packages": packages}
    (directory / "package-lock.json").write_text(json.dumps(document))
    (directory / "package.json").write_text(
        json.dumps({"name": "amplify", "version": "1.0.0", "dependencies": {"p0": "1.0.0"}})
    )


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_a_vulnerable_copy_under_every_link_stays_linear(tmp_path: Path) -> None:
    _chain_lockfile(tmp_path, DEPTH)
    record = {
        "id": "GHSA-vh95-rmgr-6w4m",
        "modified": "2024-01-01T00:00:00Z",
        "summary": "Prototype Pollution in minimist",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "minimist"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.2.1"}]}],
            }
        ],
    }
    database = tmp_path / "db.json"
    database.write_text(json.dumps([record]))
    command = [sys.executable, "-m", "npmaudit", "audit", str(tmp_path), "--compromised", "--db", str(database)]
    completed = subprocess.run(
        [*command, "--format", "json", "--policy", "warn"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,  # 1 GiB of address space: the uncapped report needed far more
        env={"NPMAUDIT_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    (finding,) = document["findings"]
    assert len(finding["paths"]) == DEPTH  # every install path is still listed
    assert len(finding["chains"]) == 100 and finding["chainsOmitted"] == DEPTH - 100
    # Linear in the lockfile: the uncapped chains alone would hold DEPTH * DEPTH / 2 labels (over 1.1 million).
    assert sum(len(chain) for chain in finding["chains"]) <= 100 * (DEPTH + 1)
    assert len(completed.stdout) < 20 * len((tmp_path / "package-lock.json").read_text())
