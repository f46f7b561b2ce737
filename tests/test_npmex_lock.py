"""npm_ex npm.lock reader: groups against npm's own flags for the same install, hand-checked shapes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from npmaudit.errors import InputError
from npmaudit.project.model import DepType, SourceKind
from npmaudit.project.readers.npmex.lockfile import classify_tarball, read

FIXTURES = Path(__file__).parent / "fixtures" / "lockfiles" / "npmex"


@pytest.mark.parametrize("name", ["hono-query-param", "engineio-latency"])
def test_groups_match_npm(name: str) -> None:
    """Composed from a real package-lock (tests/oracle/npmex_compose.py); the flags npm wrote in that
    package-lock for each top-level package are the oracle."""
    folder = FIXTURES / name
    expected = json.loads((folder / "expected.json").read_text())["flags"]
    project = read(folder / "npm.lock")
    assert project.lockfile_format == "npm-ex"
    assert {node.install_name for node in project.packages()} == set(expected)
    for package, flags in expected.items():
        node = project.nodes[f"node_modules/{package}"]
        assert (node.dev, node.optional, node.dev_optional) == (flags["dev"], flags["optional"], flags["devOptional"])
        assert node.source is SourceKind.REGISTRY and node.name == package


def test_versions_and_integrity_come_from_the_entry() -> None:
    lock = json.loads((FIXTURES / "hono-query-param" / "npm.lock").read_text())
    project = read(FIXTURES / "hono-query-param" / "npm.lock")
    for name, entry in lock["packages"].items():
        node = project.nodes[f"node_modules/{name}"]
        assert (node.version, node.integrity, node.resolved) == (entry["version"], entry["integrity"], entry["tarball"])


def test_without_package_json_everything_is_production() -> None:
    project = read(FIXTURES / "hand" / "npm.lock")
    assert not (FIXTURES / "hand" / "package.json").exists()
    assert all(not node.groups for node in project)
    assert project.root.edges == ()


def test_hand_written_sources_and_names() -> None:
    nodes = read(FIXTURES / "hand" / "npm.lock").nodes
    assert nodes["node_modules/@acme/widget"].name == "@acme/widget"
    alias = nodes["node_modules/my-ms"]
    assert (alias.name, alias.install_name, alias.version) == ("ms", "my-ms", "2.0.0")
    assert nodes["node_modules/from-git"].source is SourceKind.GIT
    assert nodes["node_modules/local-thing"].source is SourceKind.DIRECTORY
    assert nodes["node_modules/remote"].source is SourceKind.TARBALL
    assert nodes["node_modules/tiny-dep"].version == "2.3.1-beta.2"
    # ^2.3.1-beta.1 admits the prerelease of the same tuple; old-lib's ^1.0.0 copy was nested, unrecorded
    assert nodes["node_modules/@acme/widget"].edges[0].to == "node_modules/tiny-dep"
    assert nodes["node_modules/old-lib"].edges[0].to is None
    # a name in dependencies and optional_dependencies is optional
    (edge,) = nodes["node_modules/tiny-dep"].edges
    assert edge.type is DepType.OPTIONAL and edge.to == "node_modules/fsevents-like"


def test_with_package_json_groups_hand_checked(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "hand" / "npm.lock", tmp_path / "npm.lock")
    manifest = {
        "name": "elixir-app-assets",
        "dependencies": {
            "@acme/widget": "^1.4.0",
            "my-ms": "npm:ms@^2.0.0",
            "from-git": "git+https://git.example.test/owner/from-git.git",
            "local-thing": "file:../vendor/local-thing",
        },
        "devDependencies": {"old-lib": "0.1.0", "remote": "https://files.example.test/downloads/remote-3.0.0.tar.gz"},
        "peerDependencies": {"fsevents-like": "*"},
        "peerDependenciesMeta": {"fsevents-like": {"optional": True}},
    }
    (tmp_path / "package.json").write_text(json.dumps(manifest))
    project = read(tmp_path / "npm.lock")
    groups = {node.install_name: set(node.groups) for node in project.packages()}
    assert groups == {
        "@acme/widget": set(),
        "tiny-dep": set(),
        "my-ms": set(),
        "from-git": set(),
        "local-thing": set(),
        "old-lib": {"dev"},
        "remote": {"dev"},
        "fsevents-like": {"optional"},
    }
    assert project.root.name == "elixir-app-assets"
    assert [node.name for node in project.chain("node_modules/fsevents-like")] == [
        "elixir-app-assets",
        "fsevents-like",
    ]
    assert {node.name for node in project.auditable(frozenset({"dev"}))} == {
        "@acme/widget",
        "tiny-dep",
        "ms",
        "fsevents-like",
    }


def test_dev_wins_over_prod_in_package_json(tmp_path: Path) -> None:
    """npm keeps one edge per name and devDependencies are read last (checked with npm 11)."""
    shutil.copy(FIXTURES / "hand" / "npm.lock", tmp_path / "npm.lock")
    manifest = {"dependencies": {"remote": "*"}, "devDependencies": {"remote": "*"}}
    (tmp_path / "package.json").write_text(json.dumps(manifest))
    assert read(tmp_path / "npm.lock").nodes["node_modules/remote"].dev


def test_classify_tarball() -> None:
    assert classify_tarball("") == (SourceKind.REGISTRY, None)
    assert classify_tarball("https://registry.npmjs.test/@a/b/-/b-1.0.0.tgz") == (SourceKind.REGISTRY, "@a/b")
    assert classify_tarball("https://mirror.example.test/npm/@a%2fb/-/b-1.0.0.tgz") == (SourceKind.REGISTRY, "@a/b")
    assert classify_tarball("https://files.example.test/x.tgz") == (SourceKind.TARBALL, None)
    assert classify_tarball("github:o/r#abc")[0] is SourceKind.GIT
    assert classify_tarball("/abs/x.tgz")[0] is SourceKind.LOCAL_TARBALL
    assert classify_tarball("file:../vendor/local-thing")[0] is SourceKind.DIRECTORY


# -- damaged input ---------------------------------------------------------------------------------

VALID = (FIXTURES / "hand" / "npm.lock").read_text()


def _damaged(tmp_path: Path, text: str, manifest: str | None = None) -> InputError:
    (tmp_path / "npm.lock").write_text(text)
    if manifest is not None:
        (tmp_path / "package.json").write_text(manifest)
    with pytest.raises(InputError) as caught:
        read(tmp_path / "npm.lock")
    assert "\n" not in str(caught.value)
    return caught.value


def test_empty(tmp_path: Path) -> None:
    error = _damaged(tmp_path, "")
    assert "empty" in error.problem and error.path.endswith("npm.lock")


def test_garbage(tmp_path: Path) -> None:
    assert _damaged(tmp_path, "packages:\n  - x\n").line == 1


def test_truncated(tmp_path: Path) -> None:
    error = _damaged(tmp_path, "\n".join(VALID.splitlines()[:30]))
    assert error.line is not None and error.line >= 30 and "not valid JSON" in error.problem


def test_top_level_wrong_type(tmp_path: Path) -> None:
    assert "not an object" in _damaged(tmp_path, "[]").problem


def test_packages_wrong_type(tmp_path: Path) -> None:
    error = _damaged(tmp_path, '{\n  "lockfileVersion": 1,\n  "packages": []\n}\n')
    assert error.line == 3 and "packages must be an object" in error.problem


def test_unsupported_version(tmp_path: Path) -> None:
    error = _damaged(tmp_path, VALID.replace('"lockfileVersion": 1', '"lockfileVersion": 2'))
    assert error.line == 2 and "unsupported lockfileVersion" in error.problem


def test_entry_without_version(tmp_path: Path) -> None:
    error = _damaged(tmp_path, VALID.replace('"version": "0.9.0"', '"version": ""'))
    assert "'from-git': no version" in error.problem
    assert error.line == VALID[: VALID.index('"from-git": {')].count("\n") + 1


def test_entry_wrong_types(tmp_path: Path) -> None:
    assert "must be an object" in _damaged(tmp_path, '{"packages": {"a": ["1.0.0"]}}').problem
    text = '{"packages": {"a": {"version": "1.0.0", "dependencies": ["b"]}}}'
    assert "dependencies must map" in _damaged(tmp_path, text).problem
    text = '{"packages": {"a": {"version": "1.0.0", "tarball": 5}}}'
    assert "tarball must be a string" in _damaged(tmp_path, text).problem
    text = '{"packages": {"a": {"version": "1.0.0", "has_install_script": "yes"}}}'
    assert "has_install_script" in _damaged(tmp_path, text).problem
    assert "not a package name" in _damaged(tmp_path, '{"packages": {"../x": {"version": "1.0.0"}}}').problem


def test_broken_package_json_is_named(tmp_path: Path) -> None:
    error = _damaged(tmp_path, VALID, manifest='{\n  "dependencies": {\n')
    assert error.path.endswith("package.json") and error.line is not None
    error = _damaged(tmp_path, VALID, manifest='{\n  "devDependencies": ["old-lib"]\n}')
    assert error.path.endswith("package.json") and error.line == 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read(tmp_path / "npm.lock")
