"""The "why" chains of the reports (issue 9, item 6): a workspace shows once (not its link and then its
folder), an alias keeps the name it is installed under, and a cut list of chains says how many more.

Real lockfiles from tests/fixtures/lockfiles and real records from tests/fixtures/osv/core, plus one
hand-written workspace project that reproduces the issue's example.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from conftest import FIXTURES, isolate_environment
from npmaudit.cli import main
from npmaudit.project.loader import load_project
from npmaudit.project.model import Project
from npmaudit.report.common import step_label

LOCKFILES = FIXTURES / "lockfiles"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path)


def _labels(project: Project, location: str) -> list[str]:
    return [step_label(step) for step in project.why(location)]


def _project(relative: str) -> Project:
    lockfile = LOCKFILES / relative
    return load_project(lockfile.parent, lockfile)


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    """npm 11's layout for a workspace ``@acme/web`` (linked at node_modules/@acme/web) that depends
    on ``"old-lodash": "npm:lodash@4.17.4"``."""
    root = tmp_path / "acme"
    (root / "packages" / "web").mkdir(parents=True)
    (root / "package.json").write_text(json.dumps({"name": "acme", "version": "1.0.0", "workspaces": ["packages/web"]}))
    web = {"name": "@acme/web", "version": "2.1.0", "dependencies": {"old-lodash": "npm:lodash@4.17.4"}}
    (root / "packages" / "web" / "package.json").write_text(json.dumps(web))
    lock = {
        "name": "acme",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": True,
        "packages": {
            "": {"name": "acme", "version": "1.0.0", "workspaces": ["packages/web"]},
            "node_modules/@acme/web": {"resolved": "packages/web", "link": True},
            "node_modules/old-lodash": {
                "name": "lodash",
                "version": "4.17.4",
                "resolved": "https://registry.npmjs.test/lodash/-/lodash-4.17.4.tgz",
            },
            "packages/web": web,
        },
    }
    (root / "package-lock.json").write_text(json.dumps(lock))
    return root


def test_a_workspace_shows_once_and_an_alias_keeps_its_name(acme: Path, core_database: Path, capsys):
    assert main(["audit", str(acme), "--compromised", "--db", str(core_database)]) == 1
    out = capsys.readouterr().out
    assert "  installed at: node_modules/old-lodash\n" in out
    assert "  why: acme > @acme/web@2.1.0 > old-lodash (lodash@4.17.4)\n" in out
    main(["audit", str(acme), "--compromised", "--db", str(core_database), "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert {f["id"] for f in findings} == {"GHSA-jf85-cpcp-j695", "GHSA-p6mc-m468-83gw"}
    for finding in findings:
        assert finding["paths"] == ["node_modules/old-lodash"]
        assert finding["chains"] == [["acme", "@acme/web@2.1.0", "old-lodash (lodash@4.17.4)"]]


@pytest.mark.parametrize(
    ("lockfile", "location", "expected"),
    [
        # npm workspaces: root > link > workspace folder > dependency, the link folded into its folder.
        (
            "npm/npm__cli/package-lock.json",
            "node_modules/@npmcli/metavuln-calculator",
            ["npm", "@npmcli/arborist@8.0.0", "@npmcli/metavuln-calculator@8.0.0"],
        ),
        # the link itself, when asked for: it ends the chain, and is not replaced by its folder
        ("npm/npm__cli/package-lock.json", "node_modules/@npmcli/arborist", ["npm", "@npmcli/arborist"]),
        # an alias installed by npm (`string-width-cjs: npm:string-width@^4.2.0`)
        (
            "npm/npm__cli/package-lock.json",
            "node_modules/string-width-cjs",
            ["npm", "glob@10.4.5", "jackspeak@3.4.3", "@isaacs/cliui@8.0.2", "string-width-cjs (string-width@4.2.3)"],
        ),
        # a `file:` folder linked into node_modules (npm v1 lockfile)
        ("npm/atom__atom/package-lock.json", "packages/about", ["atom", "about"]),
        # the same in pnpm and bun
        ("pnpm-v9/edge-cases/pnpm-lock.yaml", "node_modules/str", ["edge-root", "str (string-width@4.2.3)"]),
        ("bun/hand/bun.lock", "node_modules/@scope/alias", ["hand-root", "@scope/alias (@real/pkg@2.0.0-rc.1)"]),
    ],
)
def test_chains_in_real_lockfiles(lockfile: str, location: str, expected: list[str]):
    assert _labels(_project(lockfile), location) == expected


@pytest.mark.parametrize(
    "lockfile",
    [
        "npm/npm__cli/package-lock.json",
        "npm/facebook__create-react-app/package-lock.json",
        "npm/socketio__socket.io/package-lock.json",
        "npm/atom__atom/package-lock.json",
        "npm/mochajs__mocha/package-lock.json",
        "bun/edge/bun.lock",
        "bun/v0/bun.lock",
    ],
)
def test_no_chain_names_a_package_and_then_its_own_link(lockfile: str):
    # Before, 1,140 chains of create-react-app read "... > cra-docs > cra-docs@... > ...".
    project = _project(lockfile)
    for node in project.packages():
        labels = _labels(project, node.location)[1:]  # the root may share a workspace's name (socket.io)
        for before, after in pairwise(labels):
            assert not after.startswith(before + "@"), (node.location, labels)
        assert project.why(node.location) is project.why(node.location)  # computed once per project


def test_a_cut_chain_list_says_how_many_more(core_database: Path, capsys):
    # create-react-app installs semver 7.3.5 at 28 places; GHSA-c2qf-rxjj-qqgw covers 7.0.0 to 7.5.2.
    project = LOCKFILES / "npm" / "facebook__create-react-app"
    main(["audit", str(project), "--compromised", "--db", str(core_database)])
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("semver@7.3.5  moderate")
    block = lines[start : lines.index("", start)]
    installed = next(line for line in block if line.startswith("  installed at: "))
    assert installed.endswith(" (+23 more)") and installed.count(", ") == 4
    why = [line for line in block if line.startswith("  why: ")]
    assert len(why) == 6
    assert why[-1] == "  why: +23 more, one per install path (--format json lists every one)"
    assert all(line.endswith(" > semver@7.3.5") for line in why[:5])
    main(["audit", str(project), "--compromised", "--db", str(core_database), "--format", "json"])
    finding = next(
        f for f in json.loads(capsys.readouterr().out)["findings"] if f["name"] == "semver" and f["version"] == "7.3.5"
    )
    assert len(finding["paths"]) == len(finding["chains"]) == 28
    assert all(chain[-1] == "semver@7.3.5" and chain[0] == "facebook__create-react-app" for chain in finding["chains"])
