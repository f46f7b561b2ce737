"""The npm lockfile reader on small hand-written projects, one behaviour each.

Every expectation here was worked out by hand from npm's rules and then confirmed by loading the
same project with npm 11.19.1's arborist (tests/oracle/npm_lock_dump.js), except for the source
kinds and the hidden lockfile, which npm does not model the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from npmaudit.project.loader import load_project
from npmaudit.project.model import DepType, Edge, Project, SourceKind
from npmaudit.project.readers.npm.lockfile import read

REG = "https://registry.npmjs.test"


def tarball(name: str, version: str) -> str:
    return f"{REG}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def write(
    folder: Path, lock: dict[str, Any], package: dict[str, Any] | None = None, name: str = "package-lock.json"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(lock, indent=2), encoding="utf-8")
    if package is not None:
        (folder / "package.json").write_text(json.dumps(package, indent=2), encoding="utf-8")
    return path


# -- v2/v3 ----------------------------------------------------------------------------------------

ROOT_V3 = {
    "name": "app",
    "version": "1.0.0",
    "workspaces": ["packages/*"],
    "dependencies": {
        "a": "^1.0.0",
        "sw": "npm:string-width@^4.2.0",
        "g": "github:u/g",
        "t": "https://example.test/t.tgz",
        "loc": "file:vendor/loc",
        "vt": "file:vendor/vt-1.0.0.tgz",
        "bun": "^1.0.0",
        "priv": "^1.0.0",
    },
    "devDependencies": {"d": "^1.0.0"},
    "optionalDependencies": {"gone": "^1.0.0"},
}
LOCK_V3 = {
    "name": "app",
    "version": "1.0.0",
    "lockfileVersion": 3,
    "requires": True,
    "packages": {
        "": ROOT_V3,
        "node_modules/a": {
            "version": "1.0.0",
            "resolved": tarball("a", "1.0.0"),
            "integrity": "sha512-a",
            "dependencies": {"b": "^2.0.0", "c": "^1.0.0"},
            "peerDependencies": {"p": "^1.0.0", "q": "^1.0.0"},
            "peerDependenciesMeta": {"q": {"optional": True}},
        },
        "node_modules/a/node_modules/b": {"version": "2.0.0", "resolved": tarball("b", "2.0.0")},
        "node_modules/b": {"version": "1.0.0", "resolved": tarball("b", "1.0.0")},
        "node_modules/c": {"version": "1.0.0", "resolved": tarball("c", "1.0.0"), "dependencies": {"b": "^1.0.0"}},
        "node_modules/p": {"version": "1.0.0", "resolved": tarball("p", "1.0.0"), "peer": True},
        "node_modules/d": {
            "version": "1.0.0",
            "resolved": tarball("d", "1.0.0"),
            "dev": True,
            "devDependencies": {"c": "^1.0.0"},
        },
        "node_modules/sw": {"name": "string-width", "version": "4.2.3", "resolved": tarball("string-width", "4.2.3")},
        "node_modules/g": {"version": "0.1.0", "resolved": "git+ssh://git@github.com/u/g.git#0123456789abcdef"},
        "node_modules/t": {"version": "3.0.0", "resolved": "https://example.test/t.tgz"},
        "node_modules/loc": {"resolved": "vendor/loc", "link": True},
        "vendor/loc": {"name": "loc", "version": "0.0.1"},
        "node_modules/vt": {"version": "1.0.0", "resolved": "file:vendor/vt-1.0.0.tgz"},
        "node_modules/bun": {
            "version": "1.0.0",
            "resolved": tarball("bun", "1.0.0"),
            "bundleDependencies": ["inner"],
            "dependencies": {"inner": "^1.0.0"},
        },
        "node_modules/bun/node_modules/inner": {"version": "1.2.0", "inBundle": True},
        "node_modules/priv": {
            "version": "1.0.0",
            "resolved": "https://npm.example.test/api/npm/npm-remote/priv/-/priv-1.0.0.tgz",
        },
        "node_modules/w": {"resolved": "packages/w", "link": True},
        "packages/w": {
            "name": "w",
            "version": "0.0.0",
            "dependencies": {"b": "^1.0.0"},
            "devDependencies": {"c": "^1.0.0"},
        },
    },
}


def v3_project(tmp_path: Path) -> Project:
    return read(write(tmp_path / "app", LOCK_V3, ROOT_V3))


def test_alias_keeps_install_name_and_resolves_the_real_name(tmp_path: Path) -> None:
    project = v3_project(tmp_path)
    alias = project.nodes["node_modules/sw"]
    assert (alias.name, alias.install_name, alias.version, alias.source) == (
        "string-width",
        "sw",
        "4.2.3",
        SourceKind.REGISTRY,
    )
    assert Edge("sw", "npm:string-width@^4.2.0", DepType.PROD, "node_modules/sw") in project.root.edges


def test_source_kind_of_each_origin(tmp_path: Path) -> None:
    nodes = v3_project(tmp_path).nodes
    kinds = {location: node.source for location, node in nodes.items()}
    assert kinds == {
        "": SourceKind.ROOT,
        "node_modules/a": SourceKind.REGISTRY,
        "node_modules/a/node_modules/b": SourceKind.REGISTRY,
        "node_modules/b": SourceKind.REGISTRY,
        "node_modules/c": SourceKind.REGISTRY,
        "node_modules/p": SourceKind.REGISTRY,
        "node_modules/d": SourceKind.REGISTRY,
        "node_modules/sw": SourceKind.REGISTRY,
        "node_modules/g": SourceKind.GIT,
        "node_modules/t": SourceKind.TARBALL,
        "node_modules/loc": SourceKind.LINK,
        "vendor/loc": SourceKind.DIRECTORY,
        "node_modules/vt": SourceKind.LOCAL_TARBALL,  # a vendored file: tarball
        "node_modules/bun": SourceKind.REGISTRY,
        "node_modules/bun/node_modules/inner": SourceKind.REGISTRY,  # bundled: no resolved of its own
        "node_modules/priv": SourceKind.REGISTRY,  # a private registry's tarball URL
        "node_modules/w": SourceKind.WORKSPACE,
        "packages/w": SourceKind.WORKSPACE,
    }


def test_links_and_workspaces_are_never_auditable(tmp_path: Path) -> None:
    """A workspace or a local folder sharing a name with a registry package is not that package;
    tarballs (remote or vendored) are published packages, matched by name and version as npm does."""
    project = v3_project(tmp_path)
    link = project.nodes["node_modules/w"]
    assert (link.name, link.version, link.link_target) == ("w", "", "packages/w")
    assert project.nodes["node_modules/loc"].link_target == "vendor/loc"
    auditable = {node.location for node in project.auditable()}
    assert auditable == {
        "node_modules/a",
        "node_modules/a/node_modules/b",
        "node_modules/b",
        "node_modules/c",
        "node_modules/p",
        "node_modules/d",
        "node_modules/sw",
        "node_modules/bun",
        "node_modules/bun/node_modules/inner",
        "node_modules/priv",
        "node_modules/t",
        "node_modules/vt",
    }
    assert "node_modules/d" not in {n.location for n in project.auditable(frozenset({"dev"}))}


def test_edges_resolve_by_walking_up_node_modules(tmp_path: Path) -> None:
    nodes = v3_project(tmp_path).nodes
    edges_a = {edge.name: edge for edge in nodes["node_modules/a"].edges}
    assert edges_a["b"] == Edge("b", "^2.0.0", DepType.PROD, "node_modules/a/node_modules/b")  # nested wins
    assert edges_a["c"].to == "node_modules/c"
    assert edges_a["p"] == Edge("p", "^1.0.0", DepType.PEER, "node_modules/p")
    assert edges_a["q"] == Edge("q", "^1.0.0", DepType.PEER_OPTIONAL, None)  # not installed
    assert {e.name: e.to for e in nodes["node_modules/c"].edges} == {"b": "node_modules/b"}
    # a workspace member resolves through the root's node_modules
    assert {e.name: (e.type, e.to) for e in nodes["packages/w"].edges} == {
        "b": (DepType.PROD, "node_modules/b"),
        "c": (DepType.DEV, "node_modules/c"),
    }
    root = {e.name: e for e in nodes[""].edges}
    assert root["w"] == Edge("w", "file:packages/w", DepType.PROD, "node_modules/w")
    assert root["gone"] == Edge("gone", "^1.0.0", DepType.OPTIONAL, None)
    assert root["d"].type is DepType.DEV


def test_dev_dependencies_of_packages_below_the_top_are_ignored(tmp_path: Path) -> None:
    """npm loads devDependencies only for the root and workspace folders."""
    nodes = v3_project(tmp_path).nodes
    assert nodes["node_modules/d"].edges == ()


def test_stored_flags_are_used_when_the_root_is_unchanged(tmp_path: Path) -> None:
    nodes = v3_project(tmp_path).nodes
    assert nodes["node_modules/d"].groups == frozenset({"dev"})
    assert nodes["node_modules/p"].groups == frozenset({"peer"})
    assert nodes["node_modules/b"].groups == frozenset()
    assert nodes["node_modules/bun/node_modules/inner"].in_bundle


def test_flags_are_recomputed_when_package_json_changed(tmp_path: Path) -> None:
    """The lockfile says d is dev, but package.json now needs it in production: npm recomputes."""
    package = {**ROOT_V3, "dependencies": {**ROOT_V3["dependencies"], "d": "^1.0.0"}, "devDependencies": {}}
    nodes = read(write(tmp_path / "app", LOCK_V3, package)).nodes
    assert nodes["node_modules/d"].groups == frozenset()
    assert nodes["node_modules/p"].groups == frozenset({"peer"})  # only reached through a's peer edge
    # c is only reached from a (prod) and w (dev): prod wins
    assert nodes["node_modules/c"].groups == frozenset()


def test_without_package_json_the_lockfile_root_entry_is_the_root(tmp_path: Path) -> None:
    project = read(write(tmp_path / "app", LOCK_V3))
    assert project.root.name == "app"
    assert {e.name for e in project.root.edges} == {*ROOT_V3["dependencies"], "d", "gone", "w"}
    assert project.nodes["node_modules/d"].dev


def test_workspace_package_json_on_disk_wins_over_the_lockfile_entry(tmp_path: Path) -> None:
    """npm reads link targets' package.json from disk: a bumped workspace shows its new version."""
    path = write(tmp_path / "app", LOCK_V3, ROOT_V3)
    member = tmp_path / "app" / "packages" / "w"
    member.mkdir(parents=True)
    (member / "package.json").write_text(json.dumps({"name": "w", "version": "0.2.0"}), encoding="utf-8")
    nodes = read(path).nodes
    assert nodes["packages/w"].version == "0.2.0"
    assert nodes["packages/w"].edges == ()


def test_dev_optional_is_read_from_the_lockfile(tmp_path: Path) -> None:
    lock = {
        "lockfileVersion": 3,
        "requires": True,
        "packages": {
            "": {"name": "x", "devDependencies": {"a": "1.0.0"}, "optionalDependencies": {"b": "1.0.0"}},
            "node_modules/a": {"version": "1.0.0", "dev": True, "dependencies": {"s": "1.0.0"}},
            "node_modules/b": {"version": "1.0.0", "optional": True, "dependencies": {"s": "1.0.0"}},
            "node_modules/s": {"version": "1.0.0", "devOptional": True},
        },
    }
    nodes = read(write(tmp_path / "x", lock)).nodes
    assert nodes["node_modules/s"].groups == frozenset({"devOptional"})
    assert nodes["node_modules/a"].groups == frozenset({"dev"})
    assert nodes["node_modules/b"].groups == frozenset({"optional"})


# -- v1 -------------------------------------------------------------------------------------------

LOCK_V1 = {
    "name": "old",
    "version": "1.0.0",
    "lockfileVersion": 1,
    "requires": True,
    "dependencies": {
        "a": {
            "version": "1.0.0",
            "resolved": tarball("a", "1.0.0"),
            "integrity": "sha512-a",
            "requires": {"b": "^2.0.0", "c": "^1.0.0"},
            "dependencies": {"b": {"version": "2.0.0", "resolved": tarball("b", "2.0.0"), "integrity": "sha512-b2"}},
        },
        "b": {"version": "1.0.0", "resolved": tarball("b", "1.0.0"), "integrity": "sha512-b1", "dev": True},
        "c": {"version": "1.0.0", "resolved": tarball("c", "1.0.0"), "integrity": "sha512-c"},
        "sw": {
            "version": "npm:string-width@4.2.3",
            "resolved": tarball("string-width", "4.2.3"),
            "integrity": "sha512-sw",
        },
        "g": {
            "version": "git+ssh://git@github.com/u/g.git#0123456789abcdef",
            "from": "github:u/g",
            "requires": {"c": "^1.0.0"},
        },
        "t": {"version": "https://example.test/dl/t-3.1.0.tgz", "integrity": "sha512-t"},
        "loc": {
            "version": "file:vendor/loc",
            "requires": {"c": "^1.0.0"},
            "dependencies": {"c": {"version": "1.1.0", "resolved": tarball("c", "1.1.0"), "integrity": "sha512-c11"}},
        },
        "d": {
            "version": "1.0.0",
            "resolved": tarball("d", "1.0.0"),
            "integrity": "sha512-d",
            "dev": True,
            "requires": {"b": "^1.0.0", "inner": "^1.0.0"},
            "dependencies": {"inner": {"version": "1.2.0", "bundled": True}},
        },
    },
}
PACKAGE_V1 = {
    "name": "old",
    "version": "1.0.0",
    "dependencies": {
        "a": "^1.0.0",
        "sw": "npm:string-width@^4.2.0",
        "g": "github:u/g",
        "t": "https://example.test/dl/t-3.1.0.tgz",
        "loc": "file:vendor/loc",
        "c": "^1.0.0",
    },
    "devDependencies": {"d": "^1.0.0"},
}


def test_v1_entries_become_npms_tree(tmp_path: Path) -> None:
    project = read(write(tmp_path / "old", LOCK_V1, PACKAGE_V1))
    assert project.lockfile_format == "package-lock-v1"
    summary = {location: (node.name, node.version, node.source) for location, node in project.nodes.items()}
    assert summary == {
        "": ("old", "1.0.0", SourceKind.ROOT),
        "node_modules/a": ("a", "1.0.0", SourceKind.REGISTRY),
        "node_modules/a/node_modules/b": ("b", "2.0.0", SourceKind.REGISTRY),
        "node_modules/b": ("b", "1.0.0", SourceKind.REGISTRY),
        "node_modules/c": ("c", "1.0.0", SourceKind.REGISTRY),
        "node_modules/sw": ("string-width", "4.2.3", SourceKind.REGISTRY),
        "node_modules/g": ("g", "", SourceKind.GIT),  # v1 records no version for git packages
        "node_modules/t": ("t", "3.1.0", SourceKind.TARBALL),  # from the tarball's file name
        "node_modules/loc": ("loc", "", SourceKind.LINK),
        "vendor/loc": ("loc", "", SourceKind.DIRECTORY),
        "vendor/loc/node_modules/c": ("c", "1.1.0", SourceKind.REGISTRY),  # nested under the link's target
        "node_modules/d": ("d", "1.0.0", SourceKind.REGISTRY),
        "node_modules/d/node_modules/inner": ("inner", "1.2.0", SourceKind.REGISTRY),
    }
    assert project.nodes["node_modules/d/node_modules/inner"].in_bundle
    assert project.nodes["node_modules/loc"].link_target == "vendor/loc"


def test_v1_requires_become_edges_resolved_from_their_location(tmp_path: Path) -> None:
    nodes = read(write(tmp_path / "old", LOCK_V1, PACKAGE_V1)).nodes
    assert {e.name: e.to for e in nodes["node_modules/a"].edges} == {
        "b": "node_modules/a/node_modules/b",
        "c": "node_modules/c",
    }
    assert {e.name: e.to for e in nodes["vendor/loc"].edges} == {"c": "vendor/loc/node_modules/c"}
    # the root's edges come from package.json: v1 records none for the root
    root = {e.name: e.type for e in nodes[""].edges}
    assert root["d"] is DepType.DEV and root["a"] is DepType.PROD


def test_v1_flags_are_recomputed_when_the_root_has_dev_dependencies(tmp_path: Path) -> None:
    """v1 records no devDependencies for the root, so npm never trusts its flags then.

    b is flagged dev in the lockfile but a (prod) does not reach it: only d (dev) does.
    """
    nodes = read(write(tmp_path / "old", LOCK_V1, PACKAGE_V1)).nodes
    assert nodes["node_modules/b"].dev
    assert nodes["node_modules/d"].dev
    assert nodes["node_modules/d/node_modules/inner"].dev
    assert not nodes["node_modules/c"].dev
    assert not nodes["vendor/loc/node_modules/c"].dev


def test_v1_recomputation_corrects_a_wrong_stored_flag(tmp_path: Path) -> None:
    lock = json.loads(json.dumps(LOCK_V1))
    lock["dependencies"]["c"]["dev"] = True  # wrong: a and the root need c in production
    nodes = read(write(tmp_path / "old", lock, PACKAGE_V1)).nodes
    assert not nodes["node_modules/c"].dev


def test_ancient_v1_keeps_its_stored_flags(tmp_path: Path) -> None:
    """A v1 lockfile without "requires": true (npm 5.0) is too damaged to check: npm keeps its flags."""
    lock = json.loads(json.dumps(LOCK_V1))
    del lock["requires"]
    lock["dependencies"]["c"]["dev"] = True
    nodes = read(write(tmp_path / "old", lock, PACKAGE_V1)).nodes
    assert nodes["node_modules/c"].dev


def test_v1_without_package_json_has_a_root_without_edges(tmp_path: Path) -> None:
    project = read(write(tmp_path / "old", LOCK_V1))
    assert project.root.edges == ()
    assert project.nodes["node_modules/b"].dev  # stored flags kept: nothing to compare with


# -- names, formats, hidden lockfile ---------------------------------------------------------------


def test_format_names(tmp_path: Path) -> None:
    v2 = {"lockfileVersion": 2, "requires": True, "packages": {"": {}}, "dependencies": {}}
    assert read(write(tmp_path / "a", v2, name="npm-shrinkwrap.json")).lockfile_format == "npm-shrinkwrap-v2"
    assert read(write(tmp_path / "b", v2)).lockfile_format == "package-lock-v2"
    v1 = {"lockfileVersion": 1, "requires": True, "dependencies": {}}
    assert read(write(tmp_path / "c", v1, name="npm-shrinkwrap.json")).lockfile_format == "npm-shrinkwrap-v1"


def test_shrinkwrap_wins_over_package_lock_through_the_loader(tmp_path: Path) -> None:
    v3 = {"lockfileVersion": 3, "requires": True, "packages": {"": {"name": "x"}}}
    write(tmp_path / "x", v3)
    write(tmp_path / "x", v3, name="npm-shrinkwrap.json")
    assert load_project(tmp_path / "x").lockfile_format == "npm-shrinkwrap-v3"


def test_hidden_lockfile_recomputes_flags_from_package_json(tmp_path: Path) -> None:
    packages = {k: v for k, v in LOCK_V3["packages"].items() if k}
    hidden = {"name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": packages}
    stale = json.loads(json.dumps(hidden))
    stale["packages"]["node_modules/b"]["dev"] = True  # wrong: the root needs b through a... and w
    path = write(tmp_path / "app", stale, ROOT_V3, name="node_modules/.package-lock.json")
    project = read(path)
    assert project.lockfile_format == "hidden-lockfile"
    assert project.directory == tmp_path / "app"
    assert project.root.name == "app"
    assert not project.nodes["node_modules/b"].dev
    assert project.nodes["node_modules/d"].dev
    assert project.nodes["packages/w"].source is SourceKind.WORKSPACE


def test_hidden_lockfile_is_found_by_the_loader_when_there_is_no_lockfile(tmp_path: Path) -> None:
    packages = {k: v for k, v in LOCK_V3["packages"].items() if k}
    write(
        tmp_path / "app",
        {"lockfileVersion": 3, "requires": True, "packages": packages},
        ROOT_V3,
        name="node_modules/.package-lock.json",
    )
    project = load_project(tmp_path / "app")
    assert project.lockfile_format == "hidden-lockfile"
    assert project.nodes["node_modules/sw"].name == "string-width"


def test_root_name_falls_back_to_the_folder_name(tmp_path: Path) -> None:
    lock = {"lockfileVersion": 3, "requires": True, "packages": {"": {}}}
    assert read(write(tmp_path / "@scope" / "proj", lock)).root.name == "@scope/proj"
