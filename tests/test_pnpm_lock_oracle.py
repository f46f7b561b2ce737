"""pnpm-lock.yaml reader against pnpm's own reading of real lockfiles (5.3 to 9.0).

The expectations in tests/fixtures/lockfiles/pnpm-v*/expected/ were produced by pnpm's own
lockfile libraries (reader + the install filter behind ``--prod`` / ``--no-optional``), see
pnpm-v9/pnpm-oracle.js and the SOURCE.md files. For every lockfile the set of (name, version) pairs
and the dev / optional groups must be pnpm's exactly.
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

from npmaudit.project.model import DepType, Project, SourceKind
from npmaudit.project.readers.pnpm.lockfile import read

FIXTURES = Path(__file__).parent / "fixtures" / "lockfiles"
SHARED = Path("/work/shared/data/lockfiles")
NOT_PACKAGES = (SourceKind.ROOT, SourceKind.WORKSPACE, SourceKind.LINK)


def _cases() -> list[tuple[str, Path, Path]]:
    cases = []
    for folder in ("pnpm-v5", "pnpm-v6", "pnpm-v9"):
        for expected in sorted((FIXTURES / folder / "expected").glob("*.json")):
            lockfile = json.loads(expected.read_text())["lockfile"]
            local = FIXTURES / folder / lockfile
            shared = SHARED / folder / lockfile
            cases.append((folder, expected, local if local.exists() else shared))
    return cases


CASES = _cases()


@cache
def _read(lockfile: Path) -> Project:
    return read(lockfile)


def _package_groups(project: Project) -> dict[tuple[str, str | None], tuple[bool, bool]]:
    """Per (name, version): dev when every node of it is dev, optional when every node is optional."""
    groups: dict[tuple[str, str | None], list[bool]] = defaultdict(lambda: [True, True])
    for node in project.packages():
        if node.source in NOT_PACKAGES:
            continue
        flags = groups[(node.name, node.version or None)]
        flags[0] &= node.dev
        flags[1] &= node.optional
    return {key: (dev, optional) for key, (dev, optional) in groups.items()}


@pytest.mark.parametrize(("folder", "expected", "lockfile"), CASES, ids=[case[1].stem for case in CASES])
def test_packages_and_groups_equal_pnpms_reading(folder: str, expected: Path, lockfile: Path) -> None:
    if not lockfile.exists():
        pytest.skip(f"{lockfile} not available (only the shared corpus has it)")
    oracle = json.loads(expected.read_text())
    project = _read(lockfile)

    assert project.lockfile_format == folder
    want = {(name, version): (dev, optional) for name, version, dev, optional in oracle["packages"]}
    got = _package_groups(project)
    assert sorted(set(want) - set(got)) == []
    assert sorted(set(got) - set(want)) == []
    wrong = {key: (got[key], want[key]) for key in want if got[key] != want[key]}
    assert wrong == {}

    tops = (SourceKind.ROOT, SourceKind.WORKSPACE)
    importers = sorted(node.location or "." for node in project if node.source in tops)
    assert importers == sorted(oracle["importers"])


def test_the_corpus_is_covered() -> None:
    """Every real pnpm lockfile in the shared corpus has an expectation (when the corpus is here)."""
    if not SHARED.exists():
        pytest.skip("shared corpus not available")
    real = {path.name for folder in ("pnpm-v5", "pnpm-v6", "pnpm-v9") for path in (SHARED / folder).glob("*.yaml")}
    covered = {json.loads(expected.read_text())["lockfile"] for _, expected, _ in CASES}
    assert real <= covered
    assert len(real) == 12


@pytest.mark.parametrize(("folder", "expected", "lockfile"), CASES, ids=[case[1].stem for case in CASES])
def test_every_edge_leads_to_a_node_of_the_required_package(folder: str, expected: Path, lockfile: Path) -> None:
    if not lockfile.exists():
        pytest.skip(f"{lockfile} not available")
    project = _read(lockfile)
    for node in project:
        for edge in node.edges:
            assert edge.to in project.nodes, (node.location, edge)
            target = project.nodes[edge.to]
            # An alias says so in its spec (npm:real@...); a peer keeps the range the package declares.
            aliased = edge.spec.startswith("npm:") or edge.type in (DepType.PEER, DepType.PEER_OPTIONAL)
            if target.source is SourceKind.REGISTRY and not aliased:
                assert target.name == edge.name, (node.location, edge)
            if edge.spec.startswith("npm:"):
                assert edge.spec.startswith(f"npm:{target.name}@"), (node.location, edge)
    locations = [node.location for node in project]
    assert len(locations) == len(set(locations))


@pytest.mark.parametrize(
    "lockfile",
    [FIXTURES / "pnpm-v6/vuejs__vue__pnpm-lock.yaml", FIXTURES / "pnpm-v9/vuejs__core__pnpm-lock.yaml"],
    ids=["vue-v6", "core-v9"],
)
def test_workspace_members_are_never_audited_as_registry_packages(lockfile: Path) -> None:
    project = _read(lockfile)
    oracle_name = {"pnpm-v6": "vuejs__vue__pnpm-lock.json", "pnpm-v9": "vuejs__core__pnpm-lock.json"}
    importers = json.loads((lockfile.parent / "expected" / oracle_name[lockfile.parent.name]).read_text())["importers"]
    for importer in importers:
        node = project.nodes["" if importer == "." else importer]
        assert node.source is (SourceKind.ROOT if importer == "." else SourceKind.WORKSPACE)
    audited = {node.location for node in project.auditable()}
    assert not audited & {("" if importer == "." else importer) for importer in importers}
    assert all(location.startswith("node_modules/") or "/node_modules/" in location for location in audited)


def test_the_env_document_of_a_two_document_lockfile_is_not_the_project() -> None:
    """typescript-eslint's file starts with pnpm 11's env lockfile (pnpm itself as a dependency)."""
    project = _read(FIXTURES / "pnpm-v9/typescript-eslint__typescript-eslint__pnpm-lock.yaml")
    assert not [node for node in project if node.name.startswith("@pnpm/exe") or node.name == "pnpm"]
    aliases = {(node.install_name, node.name, node.version) for node in project if node.install_name != node.name}
    # The root's devDependency `typescript-7: npm:typescript@7.0.2`-style aliases resolve to the real name.
    assert any(name == "typescript" and version.startswith("7.") for _, name, version in aliases)
