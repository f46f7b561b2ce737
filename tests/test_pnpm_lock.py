"""pnpm-lock.yaml reader: hand-checked edge cases of each format and every kind of damaged input.

The expectations here were worked out by hand from the fixture files (and agree with pnpm's own
reading in tests/fixtures/lockfiles/pnpm-v*/expected/edge-cases.json, checked by
test_pnpm_lock_oracle.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import damaged_read
from npmaudit.errors import InputError
from npmaudit.project.loader import load_project
from npmaudit.project.model import DepType, Edge, SourceKind
from npmaudit.project.readers.pnpm.lockfile import read

FIXTURES = Path(__file__).parent / "fixtures" / "lockfiles"
V9_EDGE = FIXTURES / "pnpm-v9/edge-cases/pnpm-lock.yaml"
V6_EDGE = FIXTURES / "pnpm-v6/edge-cases/pnpm-lock.yaml"
V5_EDGE = FIXTURES / "pnpm-v5/edge-cases/pnpm-lock.yaml"

R, G, T, LT, D, L, W = (
    SourceKind.REGISTRY,
    SourceKind.GIT,
    SourceKind.TARBALL,
    SourceKind.LOCAL_TARBALL,
    SourceKind.DIRECTORY,
    SourceKind.LINK,
    SourceKind.WORKSPACE,
)


def _summary(path: Path) -> dict[str, tuple[str, str, SourceKind, str, frozenset[str]]]:
    project = read(path)
    return {n.location: (n.name, n.version, n.source, n.install_name, n.groups) for n in project if n.location}


def test_v9_edge_cases() -> None:
    none, dev, opt = frozenset(), frozenset({"dev"}), frozenset({"optional"})
    assert _summary(V9_EDGE) == {
        "packages/app": ("@edge/app", "1.0.0", W, "@edge/app", none),  # name and version from its package.json
        "packages/lib": ("lib", "", W, "lib", none),  # no manifest: the folder's name
        "../outside": ("linked", "", L, "linked", none),
        "node_modules/@scope/pkg": ("@scope/pkg", "1.0.0-beta.2", R, "@scope/pkg", none),
        "node_modules/ansi-regex": ("ansi-regex", "5.0.1", R, "ansi-regex", none),
        # needed by dev-only (dev) and by fsevents (optional) only: npm's devOptional
        "node_modules/both": ("both", "1.0.0", R, "both", frozenset({"devOptional"})),
        "node_modules/build-meta": ("build-meta", "1.0.0+build.5", R, "build-meta", dev),
        "node_modules/dev-only": ("dev-only", "1.0.0", R, "dev-only", dev),
        "node_modules/fsevents": ("fsevents", "2.3.3", R, "fsevents", opt),
        "node_modules/gitdep": ("gitdep", "0.5.0", G, "gitdep", none),
        "node_modules/gitrepo": ("gitrepo", "3.0.0", G, "gitrepo", none),
        "node_modules/local-dir": ("local-dir", "0.1.0", D, "local-dir", none),
        "node_modules/loose-envify": ("loose-envify", "1.4.0", R, "loose-envify", none),
        "node_modules/loose-tgz": ("loose-tgz", "1.0.0", LT, "loose-tgz", none),  # file: tarball
        "node_modules/opt-child": ("opt-child", "1.0.0", R, "opt-child", opt),
        "node_modules/patched": ("patched", "2.0.0", R, "patched", none),
        "node_modules/peer-only": ("peer-only", "1.0.0", R, "peer-only", frozenset({"peer"})),
        "node_modules/peer-user": ("peer-user", "1.0.0", R, "peer-user", none),
        # one version, two peer contexts: the root's copy is hoisted, the member's nests under it
        "node_modules/react-dom": ("react-dom", "18.2.0", R, "react-dom", none),
        "packages/app/node_modules/react-dom": ("react-dom", "18.2.0", R, "react-dom", none),
        "node_modules/react": ("react", "18.2.0", R, "react", none),
        "packages/app/node_modules/react": ("react", "17.0.2", R, "react", none),
        "node_modules/remote": ("remote", "1.2.3", T, "remote", none),
        "node_modules/scheduler": ("scheduler", "0.23.0", R, "scheduler", none),
        # `str: npm:string-width@^4.2.0`: installed under the alias, named by the real package
        "node_modules/str": ("string-width", "4.2.3", R, "str", none),
    }


def test_v9_edges_resolutions_and_manifests() -> None:
    project = read(V9_EDGE)
    root = project.root
    assert (root.name, root.version, root.source) == ("edge-root", "0.0.0", SourceKind.ROOT)
    assert Edge("str", "npm:string-width@^4.2.0", DepType.PROD, "node_modules/str") in root.edges
    assert Edge("linked", "link:../outside", DepType.PROD, "../outside") in root.edges
    assert Edge("@edge/app", "workspace:*", DepType.DEV, "packages/app") in root.edges
    assert Edge("fsevents", "^2.3.2", DepType.OPTIONAL, "node_modules/fsevents") in root.edges
    # every member is a production dependency of the project, as npm links workspaces
    assert Edge("@edge/app", "file:packages/app", DepType.PROD, "packages/app") in root.edges
    assert Edge("lib", "file:packages/lib", DepType.PROD, "packages/lib") in root.edges

    app = project.nodes["packages/app"]
    assert Edge("lib", "workspace:^", DepType.PROD, "packages/lib") in app.edges
    assert Edge("react", "^17.0.2", DepType.PROD, "packages/app/node_modules/react") in app.edges

    peer_user = project.nodes["node_modules/peer-user"]
    assert peer_user.edges == (
        Edge("peer-only", "^1.0.0", DepType.PEER, "node_modules/peer-only"),
        Edge("react", "*", DepType.PEER_OPTIONAL, "node_modules/react"),
    )
    nested_dom = project.nodes["packages/app/node_modules/react-dom"]
    assert Edge("react", "^18.2.0", DepType.PEER, "packages/app/node_modules/react") in nested_dom.edges
    scoped = project.nodes["node_modules/@scope/pkg"]
    assert scoped.edges == (Edge("str2", "npm:string-width@4.2.3", DepType.PROD, "node_modules/str"),)
    remote = project.nodes["node_modules/remote"]
    assert remote.edges == (Edge("opt-child", "1.0.0", DepType.OPTIONAL, "node_modules/opt-child"),)

    assert remote.resolved == "https://example.test/remote-1.2.3.tgz"
    assert remote.integrity == "sha512-PPPP"
    assert project.nodes["node_modules/gitrepo"].resolved == (
        "git+https://example.test/gitrepo.git#1111111111111111111111111111111111111111"
    )
    assert project.nodes["node_modules/local-dir"].resolved == "file:vendor/local-dir"
    assert project.nodes["node_modules/ansi-regex"].resolved is None  # the registry's URL is not stored

    audited = {node.location for node in project.auditable()}
    assert "packages/app" not in audited and "../outside" not in audited and "node_modules/gitdep" not in audited
    assert "node_modules/dev-only" not in {node.location for node in project.auditable(frozenset({"dev"}))}
    assert [node.location for node in project.chain("packages/app/node_modules/react")] == [
        "",
        "packages/app",
        "packages/app/node_modules/react",
    ]


def test_v6_edge_cases() -> None:
    none, dev, opt = frozenset(), frozenset({"dev"}), frozenset({"optional"})
    assert _summary(V6_EDGE) == {
        "node_modules/@types/node": ("@types/node", "20.10.3", R, "@types/node", none),
        "node_modules/ansi-regex": ("ansi-regex", "5.0.1", R, "ansi-regex", none),
        "node_modules/dev-only": ("dev-only", "1.0.0-rc.1", R, "dev-only", dev),
        "node_modules/opt": ("opt", "2.0.0", R, "opt", opt),
        "node_modules/str": ("string-width", "4.2.3", R, "str", none),
        "node_modules/ts-plugin": ("ts-plugin", "1.0.0", R, "ts-plugin", none),
        "node_modules/undici-types": ("undici-types", "5.26.5", R, "undici-types", none),
        "node_modules/yes": ("yes", "1.0.0", R, "yes", none),
        "node_modules/tgz": ("tgz", "1.0.0", T, "tgz", none),
        "node_modules/local": ("local", "0.0.1", D, "local", none),
        "node_modules/gitdep": ("gitdep", "0.5.0", G, "gitdep", none),
    }
    project = read(V6_EDGE)
    assert project.lockfile_format == "pnpm-v6"
    assert project.nodes["node_modules/ts-plugin"].edges == (
        Edge("@types/node", ">=18", DepType.PEER, "node_modules/@types/node"),
    )
    assert Edge("str", "npm:string-width@4.2.3", DepType.PROD, "node_modules/str") in (
        project.nodes["node_modules/local"].edges
    )


def test_v5_edge_cases() -> None:
    none, dev, opt = frozenset(), frozenset({"dev"}), frozenset({"optional"})
    assert _summary(V5_EDGE) == {
        "node_modules/@babel/core": ("@babel/core", "7.20.0", R, "@babel/core", none),
        "node_modules/dev-only": ("dev-only", "3.0.0-alpha.2", R, "dev-only", dev),
        "node_modules/ms": ("ms", "2.1.2", R, "ms", none),
        "node_modules/nested-dev": ("nested-dev", "1.0.0", R, "nested-dev", dev),
        "node_modules/opt": ("opt", "1.0.0", R, "opt", opt),
        "node_modules/plugin": ("plugin", "1.0.0", R, "plugin", none),
        "node_modules/alias": ("real-name", "2.0.0", R, "alias", none),
        "node_modules/gitrepo": ("gitrepo", "4.0.0", G, "gitrepo", none),
    }
    project = read(V5_EDGE)
    assert project.lockfile_format == "pnpm-v5"
    # 5.x keeps the ranges in `specifiers`
    assert Edge("alias", "npm:real-name@^2.0.0", DepType.PROD, "node_modules/alias") in project.root.edges
    assert project.nodes["node_modules/plugin"].edges == (
        Edge("@babel/core", "^7.0.0", DepType.PEER, "node_modules/@babel/core"),
    )


def test_two_documents_read_the_second() -> None:
    project = read(FIXTURES / "pnpm-v9/multi-document.yaml")
    assert {(n.location, n.name, n.version, n.groups) for n in project.packages()} == {
        ("node_modules/typescript", "typescript", "5.4.5", frozenset({"dev"})),
        ("node_modules/ts7", "typescript", "7.0.2", frozenset({"dev"})),
    }


def test_loader_reads_a_project_directory(tmp_path: Path) -> None:
    (tmp_path / "pnpm-lock.yaml").write_bytes(V5_EDGE.read_bytes())
    project = load_project(tmp_path)
    assert project.lockfile_format == "pnpm-v5"
    assert project.root.name == tmp_path.name
    assert project.directory == tmp_path


def test_several_versions_of_one_name_nest_under_their_first_dependent(tmp_path: Path) -> None:
    lockfile = tmp_path / "pnpm-lock.yaml"
    lockfile.write_text(
        "lockfileVersion: '9.0'\n"
        "importers:\n"
        "  .:\n"
        "    dependencies:\n"
        "      a: {specifier: ^1.0.0, version: 1.0.0}\n"
        "      b: {specifier: ^1.0.0, version: 1.0.0}\n"
        "packages:\n"
        "  a@1.0.0: {resolution: {integrity: sha512-A}}\n"
        "  b@1.0.0: {resolution: {integrity: sha512-B}}\n"
        "  c@1.0.0: {resolution: {integrity: sha512-C1}}\n"
        "  c@2.0.0: {resolution: {integrity: sha512-C2}}\n"
        "snapshots:\n"
        "  a@1.0.0: {dependencies: {c: 1.0.0}}\n"
        "  b@1.0.0: {dependencies: {c: 2.0.0, d: 1.0.0}}\n"
        "  c@1.0.0: {}\n"
        "  c@2.0.0: {}\n"
    )
    with pytest.raises(InputError) as caught:  # d@1.0.0 is missing: pnpm calls that a broken lockfile
        read(lockfile)
    assert caught.value.line == 14
    lockfile.write_text(lockfile.read_text().replace(", d: 1.0.0", ""))
    project = read(lockfile)
    # neither importer depends on c directly and each version has one dependent: the first reached wins
    assert project.nodes["node_modules/c"].version == "1.0.0"
    assert project.nodes["node_modules/b/node_modules/c"].version == "2.0.0"
    assert Edge("c", "2.0.0", DepType.PROD, "node_modules/b/node_modules/c") in project.nodes["node_modules/b"].edges


# --- damaged input: one-line InputError naming the file and, where there is one, the line ---------

GOOD_V9 = V9_EDGE.read_text()


def _damage(tmp_path: Path, text: str | bytes, name: str = "pnpm-lock.yaml") -> InputError:
    return damaged_read(read, tmp_path / name, text)


@pytest.mark.parametrize("text", ["", "\n\n", "   \n", "---\n"], ids=["empty", "newlines", "spaces", "bare-marker"])
def test_empty(tmp_path: Path, text: str) -> None:
    assert _damage(tmp_path, text).problem == "empty lockfile"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read(tmp_path / "pnpm-lock.yaml")
    assert caught.value.problem == "no such file"


def test_garbage_bytes(tmp_path: Path) -> None:
    error = _damage(tmp_path, b"lockfileVersion: '9.0'\n\x89PNG\xff\xfe\x00\n")
    assert error.problem == "not UTF-8 text" and error.line == 2


def test_garbage_text(tmp_path: Path) -> None:
    error = _damage(tmp_path, "this is not a lockfile at all\n")
    assert error.problem == "not a pnpm lockfile: the top level is not a mapping"


def test_json_list(tmp_path: Path) -> None:
    assert "top level is not a mapping" in _damage(tmp_path, "[1, 2, 3]\n").problem


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    text = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies: {a: [\n\npackages: {}\n"
    error = _damage(tmp_path, text)
    assert error.problem == "not valid YAML: did not find expected ',' or ']'"
    assert error.line == 6  # where the parser gave up: the last line


def test_truncated_in_the_middle_of_a_key(tmp_path: Path) -> None:
    cut = GOOD_V9.index("  react-dom@18.2.0(react@18.2.0):\n    dependencies:") + len("  react-dom@18.2.0(react@1")
    error = _damage(tmp_path, GOOD_V9[:cut])
    assert error.problem.startswith("not valid YAML")
    assert error.line == GOOD_V9[:cut].count("\n") + 1


def test_truncated_after_a_whole_entry(tmp_path: Path) -> None:
    cut = GOOD_V9.index("  react-dom@18.2.0(react@18.2.0):\n    dependencies:")
    error = _damage(tmp_path, GOOD_V9[:cut])
    # the rest of the snapshots are gone: the root's first dependency pointing at one of them is
    # `str` (string-width@4.2.3 sorts after react-dom); pnpm calls that a broken lockfile
    assert error.problem == (
        "importers['.'].dependencies['str']: str resolves to 'string-width@4.2.3', which has no entry in snapshots"
    )
    assert error.line == GOOD_V9.count("\n", 0, GOOD_V9.index("      str:\n")) + 1


def test_truncated_mid_flow_mapping(tmp_path: Path) -> None:
    cut = GOOD_V9.index("resolution: {integrity: sha512-BBBB}") + len("resolution: {integrity: sha5")
    error = _damage(tmp_path, GOOD_V9[:cut])
    assert error.problem.startswith("not valid YAML")
    assert error.line == GOOD_V9[:cut].count("\n") + 1


def test_truncated_before_snapshots(tmp_path: Path) -> None:
    error = _damage(tmp_path, GOOD_V9[: GOOD_V9.index("snapshots:")])
    assert "has no entry in snapshots" in error.problem
    assert error.line == GOOD_V9.count("\n", 0, GOOD_V9.index("      '@scope/pkg':")) + 1


@pytest.mark.parametrize(
    ("old", "new", "problem", "line_of"),
    [
        ("lockfileVersion: '9.0'", "lockfileVersion: '10.0'", "unsupported lockfileVersion '10.0'", "lockfileVersion"),
        (
            "lockfileVersion: '9.0'",
            "lockfileVersion: [9]",
            "lockfileVersion is not a version number",
            "lockfileVersion",
        ),
        ("lockfileVersion: '9.0'", "lockfileVersion: 4.0", "unsupported lockfileVersion '4.0'", "lockfileVersion"),
        ("lockfileVersion: '9.0'\n", "", "no lockfileVersion: not a pnpm lockfile", None),
        ("\nimporters:\n", "\nimporters: 5\nold:\n", "importers: expected a mapping, found '5'", "importers: 5"),
        (
            "  packages/lib: {}",
            "  packages/lib: yes",
            "importers['packages/lib']: expected a mapping, found 'yes'",
            "  packages/lib: yes",
        ),
        (
            "      fsevents:\n        specifier: ^2.3.2\n        version: 2.3.3",
            "      fsevents:\n        specifier: ^2.3.2",
            "importers['.'].optionalDependencies['fsevents'].version: expected a version string, found nothing",
            "      fsevents:",
        ),
        (
            "        specifier: ^2.3.2\n",
            "        specifier: [^2.3.2]\n",
            "importers['.'].optionalDependencies['fsevents'].specifier: specifier is not a string",
            "        specifier: [^2.3.2]",
        ),
        (
            "  ansi-regex@5.0.1:\n    resolution: {integrity: sha512-BBBB}",
            "  ansi-regex@5.0.1:\n    resolution: sha512-BBBB",
            "packages['ansi-regex@5.0.1'].resolution: expected a mapping, found 'sha512-BBBB'",
            "    resolution: sha512-BBBB",
        ),
        (
            "  ansi-regex@5.0.1:\n    resolution: {integrity: sha512-BBBB}",
            "  ansi-regex@5.0.1:\n    resolution: {}",
            "packages['ansi-regex@5.0.1'].resolution: resolution has neither integrity, tarball nor type",
            "    resolution: {}",
        ),
        (
            "resolution: {directory: vendor/local-dir, type: directory}",
            "resolution: {directory: vendor/local-dir, type: svn}",
            "packages['local-dir@file:vendor/local-dir'].resolution.type: unknown resolution type 'svn'",
            "resolution: {directory: vendor/local-dir, type: svn}",
        ),
        (
            "resolution: {commit: 1111111111111111111111111111111111111111, repo: ",
            "resolution: {repo: ",
            "'].resolution.commit: expected a commit string, found nothing",
            "resolution: {repo: 'https://example.test/gitrepo.git', type: git}",
        ),
        (
            "  string-width@4.2.3:\n    dependencies:\n      ansi-regex: 5.0.1",
            "  string-width@4.2.3:\n    dependencies:\n      ansi-regex: {version: 5.0.1}",
            "snapshots['string-width@4.2.3'].dependencies['ansi-regex']: expected a version string, found a mapping",
            "      ansi-regex: {version: 5.0.1}",
        ),
        (
            "  string-width@4.2.3:\n    dependencies:\n      ansi-regex: 5.0.1",
            "  string-width@4.2.3:\n    dependencies: [ansi-regex]",
            "snapshots['string-width@4.2.3'].dependencies: expected a mapping, found a list",
            "    dependencies: [ansi-regex]",
        ),
        (
            "  string-width@4.2.3:\n    dependencies:\n      ansi-regex: 5.0.1",
            "  string-width@4.2.3:\n    dependencies:\n      ansi-regex: 5.0.2",
            "snapshots['string-width@4.2.3'].dependencies['ansi-regex']: ansi-regex resolves to 'ansi-regex@5.0.2', "
            "which has no entry in snapshots",
            "      ansi-regex: 5.0.2",
        ),
        (
            "  scheduler@0.23.0:\n    resolution: {integrity: sha512-QQQQ}\n",
            "",
            "snapshots['scheduler@0.23.0']: no entry 'scheduler@0.23.0' in packages",
            "  scheduler@0.23.0:\n    dependencies:",
        ),
    ],
    ids=[
        "future-version",
        "version-list",
        "old-version",
        "no-version",
        "importers-list",
        "importer-scalar",
        "dep-without-version",
        "specifier-list",
        "resolution-scalar",
        "resolution-empty",
        "resolution-type",
        "git-without-commit",
        "dep-as-mapping",
        "dependencies-list",
        "dangling-reference",
        "snapshot-without-package",
    ],
)
def test_wrong_types_and_inconsistencies(tmp_path: Path, old: str, new: str, problem: str, line_of: str | None) -> None:
    assert old in GOOD_V9
    damaged = GOOD_V9.replace(old, new, 1)
    error = _damage(tmp_path, damaged)
    assert problem in error.problem
    if line_of is None:
        assert error.line is None
    else:
        assert error.line == damaged.count("\n", 0, damaged.index(line_of)) + 1


def test_v5_key_without_a_name(tmp_path: Path) -> None:
    damaged = V5_EDGE.read_text().replace("    name: gitrepo\n", "")
    error = _damage(tmp_path, damaged)
    assert "cannot tell the package name" in error.problem
    assert error.line == damaged.count("\n", 0, damaged.index("  example.test/gitrepo/2222")) + 1


def test_three_documents(tmp_path: Path) -> None:
    text = "lockfileVersion: '9.0'\n---\nlockfileVersion: '9.0'\n---\nlockfileVersion: '9.0'\n"
    assert "found 3" in _damage(tmp_path, text).problem


def test_broken_manifest_beside_the_lockfile(tmp_path: Path) -> None:
    (tmp_path / "pnpm-lock.yaml").write_text(V5_EDGE.read_text())
    (tmp_path / "package.json").write_text('{"name": "x",\n  "version": }\n')
    with pytest.raises(InputError) as caught:
        read(tmp_path / "pnpm-lock.yaml")
    assert caught.value.path == str(tmp_path / "package.json")
    assert caught.value.line == 2
