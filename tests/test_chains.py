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
from lockfile_corpus import corpus, corpus_id, load_fixture
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


def _two_pass_parents(project: Project) -> dict[str, str]:
    """The chain parents as they were computed before the one-pass walk: every node's depth by a
    breadth-first search from the root, then a second pass over every node keeping, for each
    target one step deeper, the smallest dependent location."""
    depth: dict[str, int] = {"": 0}
    frontier = [""]
    level = 0
    while frontier:
        level += 1
        following: list[str] = []
        for location in frontier:
            node = project.nodes.get(location)
            if node is None:
                continue
            for target in [*(edge.to for edge in node.edges), node.link_target]:
                if target is not None and target not in depth:
                    depth[target] = level
                    following.append(target)
        frontier = following
    parents: dict[str, str] = {}
    for node in project.nodes.values():
        closer = depth.get(node.location)
        if closer is None:
            continue
        for target in [*(edge.to for edge in node.edges), node.link_target]:
            if target is not None and depth.get(target) == closer + 1:
                current = parents.get(target)
                if current is None or node.location < current:
                    parents[target] = node.location
    return parents


@pytest.mark.parametrize("path", corpus(), ids=corpus_id)
def test_one_pass_parents_are_the_two_pass_ones_on_the_whole_corpus(path: Path, tmp_path: Path) -> None:
    """The one-pass walk (Project._chain_parents) gives every node of every corpus project the very
    parent the former depth-then-dependents passes gave (so every chain is unchanged)."""
    project = load_fixture(path, tmp_path)
    assert project._chain_parents() == _two_pass_parents(project)
