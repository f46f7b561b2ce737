"""Lockfile entry lines (npmaudit.project.entry_lines) on every lockfile of the fixtures: each registry
package is found, at a line that names it, in every lockfile format npmaudit reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockfile_corpus import corpus, corpus_id, load_fixture
from npmaudit.project.entry_lines import entry_places
from npmaudit.project.model import Project

CORPUS = corpus()


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Project]:
    folder = tmp_path_factory.mktemp("corpus")
    return {path: load_fixture(path, folder) for path in CORPUS}


def test_the_corpus_covers_every_lockfile_format(projects: dict[Path, Project]) -> None:
    kinds = {project.lockfile_format for project in projects.values()}
    assert {"package-lock-v1", "package-lock-v2", "package-lock-v3", "npm-shrinkwrap-v1", "npm-ex"} <= kinds
    assert {"pnpm-v5", "pnpm-v6", "pnpm-v9", "yarn-v1", "yarn-berry-v10", "bun-v1", "node-modules"} <= kinds


@pytest.mark.parametrize("fixture", CORPUS, ids=corpus_id)
def test_every_registry_package_is_located_at_a_line_naming_it(fixture: Path, projects: dict[Path, Project]) -> None:
    project = projects[fixture]
    nodes = [node for node in project.packages() if node.is_registry and node.version]
    assert nodes
    places = entry_places(project, [node.location for node in nodes])
    texts: dict[Path, list[str]] = {}
    for node in nodes:
        place = places.get(node.location)
        assert place is not None, f"{node.location} ({node.name}@{node.version}) not located"
        if place.file not in texts:
            texts[place.file] = place.file.read_text(encoding="utf-8").splitlines()
        line = texts[place.file][place.line - 1]
        if project.lockfile_format == "node-modules":
            assert node.version in line  # the package.json's "version" line
        else:
            assert node.name in line or node.install_name in line, f"{node.location}: line {place.line} is {line!r}"
        if project.lockfile_format.startswith(("bun", "pnpm-v6", "pnpm-v9")):
            assert node.version in line  # the entry key names the version too


def test_nodes_not_asked_for_are_not_located(projects: dict[Path, Project]) -> None:
    project = projects[CORPUS[0]]
    assert entry_places(project, []) == {}
    assert entry_places(project, ["node_modules/no-such-package"]) == {}
