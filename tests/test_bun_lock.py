"""bun.lock reader: checked against bun's own installs (recorded JSON) and hand-checked fixtures."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from conftest import damaged_read
from npmaudit.errors import InputError
from npmaudit.project.model import DepType, SourceKind
from npmaudit.project.readers.bun.lockfile import classify, read, split_ident, split_tree_path, strip_jsonc

FIXTURES = Path(__file__).parent / "fixtures" / "lockfiles" / "bun"
EXPECTED = FIXTURES / "expected"

ORACLE_CASES = {
    "honojs__hono__benchmarks__routers__bun": "honojs__hono__benchmarks__routers__bun.lock",
    "elysiajs__elysia__bun": "elysiajs__elysia__bun.lock",
    "honojs__hono__bun": "honojs__hono__bun.lock",
    "edge_bun": "edge/bun.lock",
    "v0_bun": "v0/bun.lock",
}
OMITS = ("dev", "optional", "dev,optional", "peer")


def _oracle(name: str) -> dict:
    return json.loads((EXPECTED / f"{name}.json").read_text())


@pytest.mark.parametrize("name", sorted(ORACLE_CASES))
def test_installed_packages_match_bun(name: str) -> None:
    """Every folder bun installed is a node here, with bun's name and version."""
    expected = _oracle(name)
    project = read(FIXTURES / ORACLE_CASES[name])
    for location, (pkg_name, version, *link) in expected["installed"].items():
        node = project.nodes.get(location)
        assert node is not None, location
        assert node.name == pkg_name, location
        if node.source is SourceKind.REGISTRY or (node.source is SourceKind.WORKSPACE and not link):
            assert node.version == version, location
        if link and link[0].startswith("link:") and link[0] != "link:outside":
            assert node.link_target == link[0].removeprefix("link:"), location


@pytest.mark.parametrize("name", sorted(ORACLE_CASES))
def test_groups_match_bun_omit(name: str) -> None:
    """What ``bun install --omit=...`` leaves out is exactly what our groups omit."""
    expected = _oracle(name)
    project = read(FIXTURES / ORACLE_CASES[name])
    installed = set(expected["installed"])
    for omit in OMITS:
        ours = {
            loc
            for loc, node in project.nodes.items()
            if loc in installed and node.omitted_by(frozenset(omit.split(",")))
        }
        assert ours == set(expected["omitted"][omit]), omit


@pytest.mark.parametrize("name", sorted(ORACLE_CASES))
def test_entries_bun_did_not_install_are_only_unknown_platforms(name: str) -> None:
    """Nodes bun left out are entries whose cpu/os bun cannot represent ("none"), or packages that
    only such entries depend on (the wasm32 bindings' runtimes)."""
    expected = _oracle(name)
    project = read(FIXTURES / ORACLE_CASES[name])
    unknown_platform = {
        "node_modules/" + "/node_modules/".join(split_tree_path(key)) for key in expected["not_installed"]
    }
    missing = {loc for loc in project.nodes if loc and loc not in expected["installed"]}
    assert unknown_platform <= missing
    for location in missing - unknown_platform:
        dependents = project.dependents(location)
        assert dependents and all(parent in missing for parent in dependents), location


@pytest.mark.parametrize("name", sorted(ORACLE_CASES))
def test_one_node_per_entry(name: str) -> None:
    path = FIXTURES / ORACLE_CASES[name]
    lock = json.loads(strip_jsonc(path.read_text()))
    project = read(path)
    members = len(lock["workspaces"]) - 1
    assert len(project.nodes) == 1 + members + len(lock["packages"])
    assert project.lockfile_format == f"bun-v{lock['lockfileVersion']}"


def test_edge_project_sources_and_links() -> None:
    """Hand-checked against the project bun wrote the lockfile for (edge/package.json)."""
    project = read(FIXTURES / "edge" / "bun.lock")
    nodes = project.nodes
    alias = nodes["node_modules/my-ms"]
    assert (alias.name, alias.install_name, alias.version, alias.source) == (
        "ms",
        "my-ms",
        "2.0.0",
        SourceKind.REGISTRY,
    )
    canary = nodes["node_modules/ms-canary"]
    assert (canary.name, canary.version) == ("ms", "3.0.0-canary.1")
    assert nodes["node_modules/linked-pkg"].source is SourceKind.LINK
    assert nodes["node_modules/local-dir"].source is SourceKind.DIRECTORY
    assert nodes["node_modules/local-dir"].resolved == "file:local/local-dir"
    tarball = nodes["node_modules/local-tgz"]
    assert tarball.source is SourceKind.LOCAL_TARBALL and tarball.integrity and tarball.integrity.startswith("sha512-")
    # bun records no version for a tarball: the file name's (local/local-tgz-1.0.0.tgz holds 1.0.0).
    assert tarball.version == "1.0.0"
    for member, folder, version in (("ws-a", "packages/a", "1.0.0"), ("ws-b", "packages/b", "0.2.0")):
        link = nodes[f"node_modules/{member}"]
        assert (link.source, link.link_target, link.version) == (SourceKind.WORKSPACE, folder, "")
        assert (nodes[folder].source, nodes[folder].name, nodes[folder].version) == (
            SourceKind.WORKSPACE,
            member,
            version,
        )
        assert project.is_top(folder) and not project.is_top(f"node_modules/{member}")
    edges = {edge.name: edge for edge in nodes["packages/a"].edges}
    assert edges["yallist"].to == "packages/a/node_modules/yallist" and edges["yallist"].type is DepType.DEV
    assert edges["ws-b"].to == "node_modules/ws-b"
    assert edges["ms"].to == "node_modules/ms"
    root_edges = {(edge.name, edge.type): edge for edge in nodes[""].edges}
    assert root_edges[("once", DepType.PEER_OPTIONAL)].to is None
    assert root_edges[("ws-a", DepType.PROD)].to == "node_modules/ws-a"  # npm's workspace edge
    assert nodes["node_modules/debug"].edges[0].to == "node_modules/debug/node_modules/ms"
    auditable = {(node.name, node.version) for node in project.auditable()}
    assert ("ws-a", "1.0.0") not in auditable and ("local-dir", "") not in auditable
    assert ("local-tgz", "1.0.0") in auditable  # a vendored tarball is matched by name and version, as npm does
    assert not any(node.name in {"linked-pkg", "local-dir", "ws-a", "ws-b"} for node in project.auditable())


def test_hand_written_tuple_shapes() -> None:
    """Every tuple shape bun writes; expectations worked out by hand from the fixture."""
    project = read(FIXTURES / "hand" / "bun.lock")
    nodes = project.nodes
    github = nodes["node_modules/from-github"]
    assert (github.source, github.version, github.resolved) == (SourceKind.GIT, "", "github:owner/repo#abc1234")
    assert github.edges[0].to == "node_modules/ms"
    assert nodes["node_modules/from-git"].source is SourceKind.GIT
    remote = nodes["node_modules/remote-tgz"]
    assert (remote.source, remote.integrity, remote.version) == (SourceKind.TARBALL, "sha512-HHHH", "1.0.0")
    assert nodes["node_modules/buildmeta"].version == "1.0.0+build.5"
    scoped = nodes["node_modules/@scope/alias"]
    assert (scoped.name, scoped.install_name, scoped.version) == ("@real/pkg", "@scope/alias", "2.0.0-rc.1")
    assert scoped.edges[0].to == "node_modules/@scope/alias/node_modules/@real/dep"
    assert nodes["node_modules/--hiljson"].name == "--hiljson"
    assert nodes["node_modules/bundler/node_modules/inner"].in_bundle
    assert not nodes["node_modules/bundler"].in_bundle
    assert nodes["node_modules/private"].resolved == "https://npm.example.test/private/-/private-1.0.3.tgz"
    assert nodes["node_modules/ms"].resolved is None  # "" means bun's default registry
    self_ref = nodes["node_modules/hand-root"]
    assert (self_ref.source, self_ref.link_target, self_ref.name) == (SourceKind.LINK, "", "hand-root")
    maybe = [edge for edge in nodes[""].edges if edge.name == "maybe"]
    assert maybe and maybe[0].type is DepType.OPTIONAL and maybe[0].to is None
    assert self_ref.peer and not nodes["node_modules/plugin"].peer
    assert {node.name for node in project.auditable()} == {
        "--hiljson",
        "@real/pkg",
        "@real/dep",
        "buildmeta",
        "bundler",
        "inner",
        "ms",
        "plugin",
        "private",
        "remote-tgz",  # a remote tarball, matched by the version its file name gives
    }


def test_v0_workspace_entry_carries_its_dependencies() -> None:
    project = read(FIXTURES / "v0" / "bun.lock")
    assert project.lockfile_format == "bun-v0"
    assert project.nodes["node_modules/lib"].link_target == "packages/lib"
    assert [edge.to for edge in project.nodes["packages/lib"].edges] == ["node_modules/inherits"]
    assert project.nodes["node_modules/ms"].dev and not project.nodes["node_modules/inherits"].dev


def test_dev_dependency_that_is_also_a_required_peer_stays_production() -> None:
    """elysia lists file-type as devDependency and peerDependency: bun keeps it under --omit=dev
    (recorded oracle), where npm's one-edge-per-name rule would call it dev."""
    project = read(FIXTURES / "elysiajs__elysia__bun.lock")
    assert not project.nodes["node_modules/file-type"].dev
    assert project.nodes["node_modules/typescript"].dev  # dev + *optional* peer: dev, as bun omits it


def test_jsonc_stripper_keeps_strings_and_lines() -> None:
    text = '{\n  "a": "x // not a comment, ]", // comment\n  /* block\n  */ "b": [1, 2,],\n}\n'
    stripped = strip_jsonc(text)
    assert json.loads(stripped) == {"a": "x // not a comment, ]", "b": [1, 2]}
    assert stripped.count("\n") == text.count("\n") and len(stripped) == len(text)
    escaped = '{"k": "quote \\" // still string",}'
    assert json.loads(strip_jsonc(escaped)) == {"k": 'quote " // still string'}


def test_helpers() -> None:
    assert split_tree_path("@a/b/c/@d/e") == ["@a/b", "c", "@d/e"]
    assert split_tree_path("a//b") is None and split_tree_path("@a") is None and split_tree_path("") is None
    assert split_ident("@s/n@1.0.0") == ("@s/n", "1.0.0")
    assert split_ident("x@npm:y") == ("x", "npm:y") and split_ident("noversion") is None
    assert classify("1.2.3") is SourceKind.REGISTRY
    assert classify("workspace:packages/x") is SourceKind.WORKSPACE
    assert classify("link:x") is SourceKind.LINK
    assert classify("file:../x") is SourceKind.DIRECTORY
    assert classify("./x-1.0.0.tgz") is SourceKind.LOCAL_TARBALL
    assert classify("file:vendor/x-1.0.0.tgz") is SourceKind.LOCAL_TARBALL
    assert classify("https://example.test/x.tgz") is SourceKind.TARBALL
    assert classify("git+ssh://git@example.test/x.git#abc") is SourceKind.GIT
    assert classify("github:o/r#abc") is SourceKind.GIT
    assert classify("root:") is None


# -- damaged input: one InputError naming the file and, where there is one, the line -------------

VALID = (FIXTURES / "edge" / "bun.lock").read_text()


def _damaged(tmp_path: Path, text: str | bytes) -> InputError:
    return damaged_read(read, tmp_path / "bun.lock", text)


def test_empty_file(tmp_path: Path) -> None:
    assert "empty" in _damaged(tmp_path, "  \n").problem


def test_garbage(tmp_path: Path) -> None:
    error = _damaged(tmp_path, "lockfileVersion = 1\n")
    assert error.line == 1 and "not valid JSON" in error.problem


def test_truncated(tmp_path: Path) -> None:
    lines = VALID.splitlines(keepends=True)
    error = _damaged(tmp_path, "".join(lines[:60]))
    assert error.line is not None and error.line >= 60


def test_not_utf8(tmp_path: Path) -> None:
    error = _damaged(tmp_path, VALID.encode().replace(b'"debug"', b'"d\xffbug"', 1))
    assert error.line == VALID[: VALID.index('"debug"')].count("\n") + 1


def test_top_level_not_object(tmp_path: Path) -> None:
    assert "not an object" in _damaged(tmp_path, "[1, 2]").problem


def test_unsupported_version(tmp_path: Path) -> None:
    error = _damaged(tmp_path, VALID.replace('"lockfileVersion": 2', '"lockfileVersion": 9'))
    assert error.line == 2 and "unsupported lockfileVersion 9" in error.problem


def test_version_wrong_type(tmp_path: Path) -> None:
    assert (
        "must be a number"
        in _damaged(tmp_path, VALID.replace('"lockfileVersion": 2', '"lockfileVersion": "2"')).problem
    )


def test_missing_workspaces(tmp_path: Path) -> None:
    assert "workspaces" in _damaged(tmp_path, '{"lockfileVersion": 1, "packages": {}}').problem


def test_packages_wrong_type(tmp_path: Path) -> None:
    text = '{\n"lockfileVersion": 1,\n"workspaces": {"": {}},\n"packages": []\n}'
    error = _damaged(tmp_path, text)
    assert error.line == 4 and "packages must be an object" in error.problem


def test_entry_not_array(tmp_path: Path) -> None:
    text = '{"lockfileVersion": 1, "workspaces": {"": {}},\n "packages": {\n  "ms": {"version": "2.1.3"}}}'
    error = _damaged(tmp_path, text)
    assert error.line == 3 and "non-empty array" in error.problem


def test_entry_wrong_types(tmp_path: Path) -> None:
    base = '{"lockfileVersion": 1, "workspaces": {"": {}},\n "packages": {\n\n  %s}}'
    error = _damaged(tmp_path, base % '"ms": ["ms@2.1.3", "", ["x"], "sha512-x"]')
    assert error.line == 4 and "'ms': element 3 must be an object" in error.problem
    assert "registry" in _damaged(tmp_path, base % '"ms": ["ms@2.1.3", 5, {}, "sha512-x"]').problem
    assert "first element" in _damaged(tmp_path, base % '"ms": [42]').problem
    assert "integrity" in _damaged(tmp_path, base % '"ms": ["ms@2.1.3", "", {}, null]').problem


def test_entry_version_that_is_not_semver_is_kept_for_the_audit_to_name(tmp_path: Path) -> None:
    """The reader keeps it; the audit then names it as not checked (tests/test_unchecked.py)."""
    path = tmp_path / "bun.lock"
    path.write_text(VALID.replace('"is-odd@3.0.1"', '"is-odd@3.0"', 1))
    node = read(path).nodes["node_modules/is-odd"]
    assert (node.version, node.source) == ("3.0", SourceKind.REGISTRY)


def test_entry_missing_integrity(tmp_path: Path) -> None:
    text = '{"lockfileVersion": 1, "workspaces": {"": {}},\n "packages": {\n  "ms": ["ms@2.1.3", "", {}]}}'
    error = _damaged(tmp_path, text)
    assert error.line == 3 and "missing integrity" in error.problem


def test_entry_empty_and_unnamed(tmp_path: Path) -> None:
    base = '{"lockfileVersion": 1, "workspaces": {"": {}},\n "packages": {\n  %s}}'
    assert _damaged(tmp_path, base % '"ms": []').line == 3
    assert "invalid package resolution" in _damaged(tmp_path, base % '"ms": ["ms"]').problem
    assert "invalid package path" in _damaged(tmp_path, base % '"a//b": ["b@1.0.0", "", {}, ""]').problem


def test_dependency_group_wrong_type(tmp_path: Path) -> None:
    error = _damaged(
        tmp_path, VALID.replace('{ "dependencies": { "is-number": "^6.0.0" } }', '{ "dependencies": ["is-number"] }')
    )
    assert "dependencies of 'is-odd'" in error.problem


def test_unknown_workspace(tmp_path: Path) -> None:
    error = _damaged(tmp_path, VALID.replace('"ws-a@workspace:packages/a"', '"ws-a@workspace:packages/zz"'))
    assert "unknown workspace" in error.problem and error.line is not None


def test_workspace_without_name(tmp_path: Path) -> None:
    error = _damaged(tmp_path, VALID.replace('"name": "ws-a",', "", 1))
    assert "has no name" in error.problem and error.line == VALID[: VALID.index('"packages/a"')].count("\n") + 1


def test_duplicate_package_path(tmp_path: Path) -> None:
    duplicate = '    "ms": ["ms@2.1.3", "", {}, "sha512-x"],\n'
    text = VALID.replace('    "yallist": [', duplicate + '    "yallist": [', 1)
    error = _damaged(tmp_path, text)
    assert "duplicate package path 'ms'" in error.problem
    assert error.line == text[: text.index(duplicate)].count("\n") + 1


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read(tmp_path / "bun.lock")


# The expression strip_jsonc replaced (quadratic on unclosed quotes and comments), kept as the
# reference its linear scan must agree with, but with atomic comments in the trailing-comma
# look-ahead: backtracking into them made the old one blank the comma of `1, // see [docs]`.
_REFERENCE_TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/|,(?=(?:\s|(?>//[^\n]*)|(?>/\*.*?\*/))*[}\]])',
    re.DOTALL,
)


def _reference_strip(text: str) -> str:
    def blank(match: re.Match[str]) -> str:
        token = match.group(0)
        return token if token.startswith('"') else re.sub(r"[^\n]", " ", token)

    return _REFERENCE_TOKEN.sub(blank, text)


def test_jsonc_stripper_equals_the_expression_it_replaced_on_random_text() -> None:
    pieces = ['"', "\\", "\n", "/", "*", ",", "}", "]", "{", "[", " ", "a", "//", "/*", "*/", '\\"', ",}", "\t"]
    rng = random.Random(20240611)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 24)))
        assert strip_jsonc(text) == _reference_strip(text), repr(text)
    for path in sorted(FIXTURES.glob("*.lock")):
        text = path.read_text()
        assert strip_jsonc(text) == _reference_strip(text), path.name


def test_a_comment_holding_a_bracket_does_not_make_the_comma_before_it_trailing() -> None:
    text = '{"a": 1, // see [docs]\n "b": {"c": 2, /* } */ "d": 3}}'
    assert json.loads(strip_jsonc(text)) == {"a": 1, "b": {"c": 2, "d": 3}}
