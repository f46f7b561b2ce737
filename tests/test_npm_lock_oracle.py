"""The npm lockfile reader against npm itself, on every real npm-format lockfile of the corpus.

The expectations are arborist's own reading (``loadVirtual``, what ``npm ls`` and ``npm audit``
use) of each lockfile with its package.json, recorded by tests/oracle/npm_lock_oracle.py with
npm 11.19.1 into tests/fixtures/lockfiles/npm/expected/. See that folder's SOURCE.md.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from npmaudit.project.model import Project
from npmaudit.project.readers.npm.lockfile import read

FIXTURES = Path(__file__).parent / "fixtures" / "lockfiles" / "npm"
CASES = sorted(path.name.removesuffix(".json.gz") for path in (FIXTURES / "expected").glob("*.json.gz"))


@cache
def expected(prefix: str) -> dict[str, Any]:
    with gzip.open(FIXTURES / "expected" / f"{prefix}.json.gz", "rt", encoding="utf-8") as handle:
        return json.load(handle)


@cache
def project(prefix: str) -> Project:
    return read(FIXTURES / prefix / expected(prefix)["lockfile"])


def test_every_npm_lockfile_of_the_corpus_is_compared() -> None:
    # 3 v1, 3 v2, 6 v3 package-locks and 2 shrinkwraps (one v1, one v2): see SOURCE.md.
    assert len(CASES) == 14
    formats = {project(prefix).lockfile_format for prefix in CASES}
    assert formats == {
        "package-lock-v1",
        "package-lock-v2",
        "package-lock-v3",
        "npm-shrinkwrap-v1",
        "npm-shrinkwrap-v2",
    }


@pytest.mark.parametrize("prefix", CASES)
def test_format_name_follows_the_lockfile_version_npm_read(prefix: str) -> None:
    want = expected(prefix)
    stem = want["lockfile"].removesuffix(".json")
    assert project(prefix).lockfile_format == f"{stem}-v{want['lockfileVersion']}"


@pytest.mark.parametrize("prefix", CASES)
def test_same_locations_as_npm(prefix: str) -> None:
    assert set(project(prefix).nodes) == {node["location"] for node in expected(prefix)["nodes"]}


@pytest.mark.parametrize("prefix", CASES)
def test_names_versions_and_groups_equal_npm(prefix: str) -> None:
    ours = project(prefix).nodes
    differences = []
    for node in expected(prefix)["nodes"]:
        mine = ours.get(node["location"])
        if mine is None:
            continue  # reported by test_same_locations_as_npm
        # A link has no version of its own in our model (never matched); npm shows its target's.
        version = ours[mine.link_target].version if mine.link_target is not None else mine.version
        if mine.link_target is not None:
            assert mine.version == ""
        got = (
            mine.name,
            version,
            mine.dev,
            mine.optional,
            mine.dev_optional,
            mine.peer,
            mine.link_target,
            mine.in_bundle,
        )
        want = (
            node["name"],
            node["version"],
            node["dev"],
            node["optional"],
            node["devOptional"],
            node["peer"],
            node["target"],
            node["inBundle"],
        )
        if got != want:
            differences.append((node["location"], got, want))
    assert differences == []


@pytest.mark.parametrize("prefix", CASES)
def test_edges_equal_npm(prefix: str) -> None:
    ours = project(prefix).nodes
    differences = []
    for node in expected(prefix)["nodes"]:
        mine = ours.get(node["location"])
        if mine is None:
            continue
        got = sorted([edge.name, edge.spec, edge.type.value, edge.to] for edge in mine.edges)
        want = sorted(node["edges"])
        if got != want:
            differences.append((node["location"], got, want))
    assert differences == []


@pytest.mark.parametrize("prefix", CASES)
def test_only_packages_npm_would_fetch_from_a_registry_are_auditable(prefix: str) -> None:
    """Links and their folders are never auditable; the rest have a registry-like origin."""
    current = project(prefix)
    linked = {node.link_target for node in current if node.link_target is not None}
    for node in current.auditable():
        assert node.link_target is None and node.location not in linked
        assert "node_modules/" in node.location
        assert node.resolved is None or ("/-/" in node.resolved and node.resolved.endswith(".tgz"))
