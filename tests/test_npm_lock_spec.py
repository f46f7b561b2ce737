"""Spec classification, registry tarball shape and workspace globs, each against npm's own code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npmaudit.project.readers.npm.spec import (
    REGISTRY_TYPES,
    SpecType,
    alias_target,
    is_registry_tarball,
    spec_type,
    version_from_tarball,
)
from npmaudit.project.readers.npm.workspaces import map_workspaces

FIXTURES = Path(__file__).parent / "fixtures" / "lockfiles" / "npm"
NPA = json.loads((FIXTURES / "npa-spec-types.json").read_text(encoding="utf-8"))
WORKSPACES = json.loads((FIXTURES / "map-workspaces.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("spec", "npa_type"), sorted(NPA.items()))
def test_spec_type_equals_npm_package_arg(spec: str, npa_type: str) -> None:
    assert spec_type(spec).value == npa_type


def test_the_npa_table_covers_every_type() -> None:
    assert {SpecType(value) for value in NPA.values()} == set(SpecType)


def test_registry_types_are_the_ones_npa_fetches_from_a_registry() -> None:
    assert frozenset({SpecType.VERSION, SpecType.RANGE, SpecType.TAG, SpecType.ALIAS}) == REGISTRY_TYPES


@pytest.mark.parametrize(
    ("spec", "target"),
    [
        ("npm:string-width@4.2.3", ("string-width", "4.2.3")),
        ("npm:@types/node@^20", ("@types/node", "^20")),
        ("npm:lodash", ("lodash", "")),
        ("npm:@s/x", ("@s/x", "")),
    ],
)
def test_alias_target(spec: str, target: tuple[str, str]) -> None:
    assert alias_target(spec) == target


@pytest.mark.parametrize(
    ("url", "registry"),
    [
        ("https://registry.npmjs.test/lodash/-/lodash-4.17.21.tgz", True),
        ("http://registry.npmjs.test/@babel/core/-/core-7.0.0.tgz", True),
        ("https://npm.example.test/api/npm/npm-remote/@s%2fx/-/x-1.0.0.tgz", True),
        ("https://registry.npmjs.test/esprima-fb/-/esprima-fb-3001.0001.0000-dev-harmony-fb.tgz", True),
        ("https://example.test/t-1.0.0.tgz", False),
        ("https://codeload.github.com/u/r/tar.gz/0123abc", False),
        ("https://gitlab.com/u/r/-/archive/v1/r-v1.tar.gz", False),
        ("https://example.test/other/-/lodash-4.17.21.tgz", False),  # file name is not the package's
        ("git+ssh://git@github.com/u/r.git#abc", False),
        ("file:vendor/x-1.0.0.tgz", False),
    ],
)
def test_registry_tarball_shape(url: str, registry: bool) -> None:
    assert is_registry_tarball(url) is registry


@pytest.mark.parametrize(
    ("name", "tarball", "found"),
    [
        # confirmed with arborist's version-from-tgz.js (npm 11.19.1)
        ("t", "https://example.test/dl/t-3.1.0.tgz", ("t", "3.1.0")),
        ("x", "https://registry.npmjs.test/@s/real/-/real-1.0.0-beta.2.tgz", ("@s/real", "1.0.0-beta.2")),
        ("x", "/abs/vendor/x-2.0.0.tgz", ("x", "2.0.0")),
        ("x", "https://example.test/dl/x-latest.tgz", None),
        ("x", "https://example.test/dl/x-1.0.0.tar.gz", None),
    ],
)
def test_version_from_tarball(name: str, tarball: str, found: tuple[str, str] | None) -> None:
    assert version_from_tarball(name, tarball) == found


@pytest.mark.parametrize("case", WORKSPACES["cases"], ids=lambda case: json.dumps(case["workspaces"]))
def test_workspace_globs_equal_npm_map_workspaces(case: dict) -> None:
    keys = [key for key in WORKSPACES["keys"] if key]
    found = map_workspaces(case["workspaces"], keys, lambda folder: folder)
    assert sorted(found.values()) == case["folders"]
