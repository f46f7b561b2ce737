"""Real yarn.lock files read by npmaudit against yarn's own reading of them.

Each fixture project (tests/fixtures/lockfiles/yarn-*/<project>/) holds a real yarn.lock (gzipped
when large), its package.json, and expected.json: what yarn installed from that lockfile (every
platform, scripts off) with npm's arborist's dependency group for each ``name@version``, recorded by
tests/oracle/yarn_oracle.py. The reader must find exactly the packages yarn installs, in the same
groups. Entries yarn keeps in the lockfile but does not install (stale ones) must come out
extraneous: reached from nothing.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections import deque
from pathlib import Path

import pytest

from npmaudit.project.model import Node, Project
from npmaudit.project.readers.yarn.lockfile import read

FIXTURES = Path(__file__).parent / "fixtures" / "lockfiles"
PROJECTS = sorted(path.parent for path in FIXTURES.glob("yarn-*/*/expected.json"))


def materialise(project: Path, tmp_path: Path) -> Path:
    """Copy a fixture project to tmp_path with its lockfile uncompressed; return the yarn.lock path."""
    target = tmp_path / project.name
    target.mkdir()
    shutil.copy(project / "package.json", target / "package.json")
    packed = project / "yarn.lock.gz"
    if packed.exists():
        (target / "yarn.lock").write_bytes(gzip.decompress(packed.read_bytes()))
    else:
        shutil.copy(project / "yarn.lock", target / "yarn.lock")
    return target / "yarn.lock"


def reachable(project: Project) -> set[str]:
    seen = {""}
    queue = deque([""])
    while queue:
        node = project.nodes[queue.popleft()]
        targets = [edge.to for edge in node.edges] + [node.link_target]
        for target in targets:
            if target is not None and target not in seen and target in project.nodes:
                seen.add(target)
                queue.append(target)
    return seen


def label(node: Node) -> str:
    if node.dev and node.optional:
        return "dev+optional"
    if node.dev:
        return "dev"
    if node.optional:
        return "optional"
    return "devOptional" if node.dev_optional else "prod"


def fold(labels: list[str]) -> str:
    """The groups of a package installed as several copies, as ``--omit`` sees it.

    ``--omit dev`` leaves the package out only when it leaves every copy out; so for each omit choice
    the package is omitted when all its copies are.
    """
    dev = all("dev" in label.split("+") for label in labels)
    optional = all("optional" in label.split("+") for label in labels)
    both = all(label != "prod" for label in labels)
    if dev and optional:
        return "dev+optional"
    if dev:
        return "dev"
    if optional:
        return "optional"
    return "devOptional" if both else "prod"


def our_reading(project: Project) -> dict[str, str]:
    live = reachable(project)
    labels: dict[str, list[str]] = {}
    for node in project.packages():
        if node.location in live and node.link_target is None and node.source.value not in ("workspace", "link"):
            labels.setdefault(f"{node.name}@{node.version}", []).append(label(node))
    return {key: fold(value) for key, value in labels.items()}


@pytest.mark.parametrize("project_dir", PROJECTS, ids=[f"{p.parent.name}/{p.name}" for p in PROJECTS])
def test_packages_and_groups_match_yarn(project_dir: Path, tmp_path: Path) -> None:
    recorded = json.loads((project_dir / "expected.json").read_text())["packages"]
    expected = {key: fold(copies) for key, copies in recorded.items()}
    ours = our_reading(read(materialise(project_dir, tmp_path)))
    assert sorted(set(ours) - set(expected)) == [], "packages yarn does not install"
    assert sorted(set(expected) - set(ours)) == [], "packages yarn installs that we miss"
    known = json.loads((project_dir / "expected.json").read_text()).get("known_differences", {})
    wrong = {key: (ours[key], group) for key, group in expected.items() if ours[key] != group}
    assert sorted(wrong) == sorted(known), "(ours, yarn+npm) groups differ beyond the explained differences"
