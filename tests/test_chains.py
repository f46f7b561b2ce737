"""Dependency chains ("why is it here") come from one pass over the graph (Project._chain_parents),
and are the chains the definition gives: for each node, the breadth-first search from the node
through its dependents in sorted order that stops at the root (one search per node, as chains were
computed before). Compared on every node of real lockfiles of every format under tests/fixtures."""

from __future__ import annotations

import shutil
from collections import deque
from pathlib import Path

import pytest

from conftest import FIXTURES
from npmaudit.project.loader import load_project
from npmaudit.project.model import Edge, Node, Project, SourceKind

LOCKFILES = FIXTURES / "lockfiles"
PROJECTS = [
    LOCKFILES / "npm" / "facebook__create-react-app" / "package-lock.json",
    LOCKFILES / "npm" / "netlify__cli" / "package-lock.json",
    LOCKFILES / "pnpm-v9" / "vuejs__core__pnpm-lock.yaml",
    LOCKFILES / "pnpm-v9" / "edge-cases" / "pnpm-lock.yaml",
    LOCKFILES / "pnpm-v6" / "vuejs__vue__pnpm-lock.yaml",
    LOCKFILES / "yarn-berry" / "prettier__prettier__scripts__release" / "yarn.lock",
    LOCKFILES / "yarn-v1" / "honojs__hono__benchmarks__jsx" / "yarn.lock",
    LOCKFILES / "bun" / "honojs__hono__bun.lock",
]


def _one_search(project: Project, location: str) -> tuple[Node, ...]:
    """The definition: a breadth-first search from ``location`` through sorted dependents."""
    previous: dict[str, str | None] = {location: None}
    queue = deque([location])
    while queue:
        current = queue.popleft()
        if current == "":
            break
        for parent in sorted(project.dependents(current)):
            if parent not in previous:
                previous[parent] = current
                queue.append(parent)
    if "" not in previous:
        return (project.nodes[location],)
    chain = []
    step: str | None = ""
    while step is not None:
        chain.append(project.nodes[step])
        step = previous[step]
    return tuple(chain)


@pytest.mark.parametrize("lockfile", PROJECTS, ids=lambda p: str(p.relative_to(LOCKFILES)))
def test_every_chain_is_the_one_a_search_from_its_node_finds(lockfile: Path, tmp_path: Path) -> None:
    # Saved under the name its package manager writes (fixtures carry a "<repository>__" prefix).
    prefix, _, name = lockfile.name.rpartition("__")
    shutil.copy(lockfile, tmp_path / name)
    manifest = lockfile.with_name(f"{prefix}__package.json" if prefix else "package.json")
    if manifest.is_file():
        shutil.copy(manifest, tmp_path / "package.json")
    project = load_project(tmp_path)
    assert len(project.nodes) > 5
    for location in project.nodes:
        assert project.chain(location) == _one_search(project, location), location


def _node(location: str, *targets: str, link: str | None = None) -> Node:
    edges = tuple(Edge(t.rsplit("/", 1)[-1], "*", "prod", t) for t in targets)  # type: ignore[arg-type]
    source = SourceKind.ROOT if location == "" else SourceKind.REGISTRY
    return Node(location, location.rsplit("/", 1)[-1] or "root", "1.0.0", source, edges=edges, link_target=link)


def test_ties_go_to_the_smallest_locations_read_from_the_node_back() -> None:
    """Two shortest chains to d (via b and via a): the one whose dependents, read from d back to the
    root, are smallest comes first: d's smallest dependent at the right distance, then its own."""
    nodes = {
        "": _node("", "node_modules/x", "node_modules/y", "node_modules/u"),
        "node_modules/x": _node("node_modules/x", "node_modules/b"),
        "node_modules/y": _node("node_modules/y", "node_modules/a"),
        "node_modules/a": _node("node_modules/a", "node_modules/d"),
        "node_modules/b": _node("node_modules/b", "node_modules/d"),
        "node_modules/d": _node("node_modules/d"),
        "node_modules/u": _node("node_modules/u", "node_modules/v"),
        "node_modules/v": _node("node_modules/v", "node_modules/d"),  # as short, but v > a
        "node_modules/lone": _node("node_modules/lone", "node_modules/d"),  # nothing leads to it
    }
    project = Project(Path("."), Path("package-lock.json"), "test", nodes)
    chain = [node.location for node in project.chain("node_modules/d")]
    assert chain == ["", "node_modules/y", "node_modules/a", "node_modules/d"]
    assert [n.location for n in project.chain("node_modules/lone")] == ["node_modules/lone"]
    assert [n.location for n in project.chain("")] == [""]
    for location in nodes:
        assert project.chain(location) == _one_search(project, location)
