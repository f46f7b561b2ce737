"""The package counts add up (issue 9, item 6): every installed package (each lockfile entry but the
root, one per install location) is exactly one of audited, omitted by ``--omit``, or not checked, and
the text report and the JSON summary say the same numbers.

The expected numbers are computed here from the raw real lockfiles, independently of the readers:
``--omit dev`` leaves out the entries npm marks ``dev``; links and folders outside node_modules are
workspace members or local folders, not checked; the rest are registry packages (these projects have
no tarball, git or unreadable-version entry).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES, isolate_environment
from npmaudit.cli import main
from npmaudit.project.loader import load_project

LOCKFILES = FIXTURES / "lockfiles"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path)


def _expected(lockfile: Path, omit_dev: bool) -> dict[str, int]:
    entries = {k: v for k, v in json.loads(lockfile.read_text())["packages"].items() if k}
    omitted = {k for k, v in entries.items() if omit_dev and v.get("dev")}
    not_checked = {
        k
        for k, v in entries.items()
        if k not in omitted and (v.get("link") or not (k.startswith("node_modules/") or "/node_modules/" in k))
    }
    audited = [k for k in entries if k not in omitted and k not in not_checked]
    distinct = {(entries[k].get("name") or k.rsplit("node_modules/", 1)[-1], entries[k]["version"]) for k in audited}
    return {
        "installed": len(entries),
        "auditedInstalls": len(audited),
        "audited": len(distinct),
        "omitted": len(omitted),
        "notChecked": len(not_checked),
    }


@pytest.mark.parametrize("project", ["npm__cli", "facebook__create-react-app"])
@pytest.mark.parametrize("omit_dev", [True, False])
def test_audited_omitted_and_not_checked_add_up_to_the_installed_packages(
    project: str, omit_dev: bool, core_database: Path, capsys
):
    directory = LOCKFILES / "npm" / project
    expected = _expected(directory / "package-lock.json", omit_dev)
    omit = ["--omit", "dev"] if omit_dev else []
    args = ["audit", str(directory), "--compromised", "--db", str(core_database), "--policy", "warn", *omit]
    assert main([*args, "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert {key: summary[key] for key in expected} == expected
    assert summary["installed"] == summary["auditedInstalls"] + summary["omitted"] + summary["notChecked"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    counts = [
        f"{expected['auditedInstalls']} audited ({expected['audited']} distinct name@version)",
        *([f"{expected['omitted']} omitted (--omit dev)"] if omit_dev else []),
        f"{expected['notChecked']} not checked",
    ]
    assert lines[0].endswith(f": {expected['installed']} installed packages: {', '.join(counts)}")
    if omit_dev:
        assert f"omitted: {expected['omitted']} packages (--omit dev)" in lines
    assert any(line.startswith(f"not checked: {expected['notChecked']} packages: ") for line in lines)


@pytest.mark.parametrize(
    "lockfile",
    [
        "pnpm-v9/edge-cases/pnpm-lock.yaml",
        "yarn-v1/honojs__hono__benchmarks__jsx/yarn.lock",
        "yarn-berry/prettier__prettier__scripts__release/yarn.lock",
        "bun/edge/bun.lock",
        "npmex/hand/npm.lock",
    ],
)
def test_the_counts_add_up_in_every_format(lockfile: str, core_database: Path, capsys):
    path = LOCKFILES / lockfile
    project = load_project(path.parent, path)
    args = ["audit", str(path), "--compromised", "--db", str(core_database), "--policy", "warn"]
    for omit in (frozenset(), frozenset({"dev"}), frozenset({"dev", "optional", "peer"})):
        flags = [flag for group in sorted(omit) for flag in ("--omit", group)]
        assert main([*args, *flags, "--format", "json"]) == 0
        summary = json.loads(capsys.readouterr().out)["summary"]
        # Counted from the model, not from the summary's own arithmetic.
        installed = list(project.packages())
        omitted = [node for node in installed if node.omitted_by(omit)]
        audited = list(project.auditable(omit))
        assert summary["installed"] == len(installed) > 0
        assert summary["omitted"] == len(omitted)
        assert summary["auditedInstalls"] == len(audited)
        assert summary["audited"] == len({(node.name, node.version) for node in audited})
        assert summary["notChecked"] == len(installed) - len(omitted) - len(audited)
