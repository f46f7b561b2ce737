"""A ``-r`` scan keeps what its report needs, not every project's graph (auditing/run.py,
Project.released), and decodes each advisory record of the store once per run (AdvisoryStore.lookup):
its report is the one the projects' full audits give, byte for byte.

Projects are real lockfiles of tests/fixtures (npm, pnpm 9, yarn berry, bun); the advisories are the
real records of tests/fixtures/osv/core, imported into a real SQLite store.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import FIXTURES
from npmaudit.advisories.store import AdvisoryStore, ImportSource, write_records
from npmaudit.auditing.run import RecursiveOutcome, open_sources, run_audit, run_recursive
from npmaudit.errors import InputError
from npmaudit.project.loader import load_project
from npmaudit.report import render_recursive
from npmaudit.settings import Settings

LOCKFILES = FIXTURES / "lockfiles"
PROJECTS = {
    "boilerplate": (LOCKFILES / "npm" / "react-boilerplate__react-boilerplate", "package-lock.json"),
    "cra": (LOCKFILES / "npm" / "facebook__create-react-app", "package-lock.json"),
    "apps/vue": (LOCKFILES / "pnpm-v9" / "vuejs__core__pnpm-lock.yaml", "pnpm-lock.yaml"),
    "apps/release": (LOCKFILES / "yarn-berry" / "prettier__prettier__scripts__release", "yarn.lock"),
    "tools/hono": (LOCKFILES / "bun" / "honojs__hono__bun.lock", "bun.lock"),
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "fleet"
    for folder, (source, name) in PROJECTS.items():
        target = root / folder
        target.mkdir(parents=True)
        shutil.copy(source / name if source.is_dir() else source, target / name)
        manifest = source / "package.json" if source.is_dir() else None
        if manifest is not None and manifest.is_file():
            shutil.copy(manifest, target / "package.json")
    return root


@pytest.fixture
def store(tmp_path: Path, core_records: dict[str, dict]) -> Path:
    path = tmp_path / "store.sqlite"
    items = [(record, None, index) for index, record in enumerate(core_records.values())]
    with AdvisoryStore.open(path, create=True) as opened:
        opened.merge([ImportSource("core", "file", items)])
    return path


def _settings(store: Path, tmp_path: Path) -> Settings:
    return replace(Settings.for_library(cache_dir=tmp_path / "cache"), local=True, db=store, offline=True)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_scan_renders_as_the_projects_audited_one_by_one(tree: Path, store: Path, tmp_path: Path, fmt: str) -> None:
    settings = _settings(store, tmp_path)
    scan = run_recursive(tree, settings)
    assert len(scan.outcomes) == len(PROJECTS) and sum(len(o.result.findings) for o in scan.outcomes) > 50
    # The same projects, each audited alone against freshly opened sources, every graph kept whole.
    alone = [run_audit(o.result.project.directory, settings, sources=open_sources(settings)) for o in scan.outcomes]
    full = RecursiveOutcome(scan.root, alone, [], settings, scan.source_messages)
    assert render_recursive(fmt, scan) == render_recursive(fmt, full)
    for kept, whole in zip(scan.outcomes, alone, strict=True):
        assert len(kept.result.project.nodes) == len(whole.result.project.nodes)
        assert type(kept.result.project.nodes) is not type(whole.result.project.nodes)  # released


def test_a_report_of_every_package_reads_the_same_from_kept_and_released_graphs(
    tree: Path, store: Path, tmp_path: Path
) -> None:
    """CycloneDX lists every installed package: the CLI keeps the graphs for it (its format states
    the whole-tree analysis); a released scan reads each lockfile again and writes the same."""
    settings = _settings(store, tmp_path)
    kept = run_recursive(tree, settings, keep_graphs=True)
    released = run_recursive(tree, settings)
    assert all(type(o.result.project.nodes) is dict for o in kept.outcomes)
    assert _without_run_identity(render_recursive("cyclonedx", released)) == _without_run_identity(
        render_recursive("cyclonedx", kept)
    )


def _without_run_identity(text: str) -> dict[str, object]:
    """The document less what differs from run to run (its serial number and time)."""
    document = json.loads(text)
    document.pop("serialNumber", None)
    document.get("metadata", {}).pop("timestamp", None)
    return document


def test_a_released_project_reads_its_lockfile_again_for_anything_else(tree: Path, store: Path, tmp_path: Path) -> None:
    scan = run_recursive(tree, _settings(store, tmp_path))
    outcome = next(o for o in scan.outcomes if o.result.project.directory.name == "boilerplate")
    released = outcome.result.project
    whole = load_project(released.directory)
    finding_node = outcome.result.findings[0].nodes[0]
    assert released.why(finding_node.location) == whole.why(finding_node.location)
    assert dict(released.nodes) == dict(whole.nodes)  # iterating reads the lockfile again
    assert all(released.chain(location) == whole.chain(location) for location in list(whole.nodes)[:200])

    changed = next(o for o in scan.outcomes if o.result.project.directory.name == "cra").result.project
    lockfile = changed.lockfile
    document = json.loads(lockfile.read_text())
    document["packages"].pop(next(loc for loc in document["packages"] if loc.startswith("node_modules/")))
    lockfile.write_text(json.dumps(document))
    with pytest.raises(InputError, match="changed while the scan was running"):
        list(changed.nodes)


def test_the_store_decodes_a_record_once_per_modified(store: Path, core_records: dict[str, dict]) -> None:
    record = core_records["MAL-2023-462"]  # fsevents
    with AdvisoryStore.open(store) as opened:
        first = opened.lookup(["fsevents"])["fsevents"]
        again = opened.lookup(["fsevents", "lodash"])["fsevents"]
        assert [a.id for a in first] == [a.id for a in again] and all(x is y for x, y in zip(first, again, strict=True))
        newer = {**record, "modified": "2026-01-01T00:00:00Z", "summary": "a newer revision"}
        write_records(store, [newer])
        updated = {a.id: a for a in opened.lookup(["fsevents"])["fsevents"]}
        assert updated["MAL-2023-462"].summary == "a newer revision"
        latest = opened.lookup(["fsevents"])["fsevents"]
        assert all(a is b for a, b in zip(first, latest, strict=True) if a.id != record["id"])


def _whole_document(scan: RecursiveOutcome) -> str:
    """The recursive JSON report as it was written before it was assembled project by project: the
    whole document built as one tree, then dumped."""
    from npmaudit import __version__
    from npmaudit.report.common import malicious_packages
    from npmaudit.report.json_report import SCHEMA_VERSION, document, malicious_json
    from npmaudit.report.safe_text import safe_json_dumps

    holding = []
    for outcome in scan.outcomes:
        malicious = malicious_packages(outcome.result.findings)
        if malicious:
            directory = str(outcome.result.project.directory)
            holding.append({"directory": directory, "packages": [malicious_json(p) for p in malicious]})
    failed = [str(o.result.project.directory) for o in scan.outcomes if not o.verdict.passed]
    summary = {
        "projectsScanned": len(scan.outcomes) + len(scan.failures),
        "projectsAudited": len(scan.outcomes),
        "projectsNotAudited": len(scan.failures),
        "projectsFailingPolicy": len(failed),
        "failingPolicy": failed,
        "notAudited": [str(failure.directory) for failure in scan.failures],
        "projectsWithMalicious": len(holding),
        "malicious": holding,
        "findings": sum(len(outcome.result.findings) for outcome in scan.outcomes),
    }
    data = {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": "npmaudit", "version": __version__},
        "root": str(scan.root),
        "exitCode": scan.exit_code,
        "projects": [document(outcome) for outcome in scan.outcomes],
        "errors": [
            {"directory": str(f.directory), "error": str(f.error), "exitCode": f.error.exit_code} for f in scan.failures
        ],
        "summary": summary,
    }
    return safe_json_dumps(data) + "\n"


@pytest.mark.parametrize("audited", [5, 1, 0])
def test_the_json_report_assembled_project_by_project_is_the_whole_documents_text(
    tree: Path, store: Path, tmp_path: Path, audited: int
) -> None:
    """Byte for byte, with a project that failed, escaped characters (a bidi override, a quote) and the
    frame's own key in a directory name, and with one project or none audited."""
    odd = tree.rename(tmp_path / 'fleet \u202e "projects": [],')
    for folder, (_, name) in list(PROJECTS.items())[audited:]:
        (odd / folder / name).write_text("{ not a lockfile")
    (odd / "broken").mkdir()
    (odd / "broken" / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": [')
    scan = run_recursive(odd, _settings(store, tmp_path))
    assert len(scan.outcomes) == audited and len(scan.failures) == len(PROJECTS) - audited + 1
    text = render_recursive("json", scan)
    assert text == _whole_document(scan)
    assert json.loads(text)["root"] == str(odd)


def test_a_scan_that_hands_each_project_to_a_writer_keeps_none_and_judges_alike(
    tree: Path, store: Path, tmp_path: Path
) -> None:
    """The JSON document written project by project is the one of the kept outcomes; the scan keeps no
    outcome (reading them is an error, never an empty list), and its exit code and messages are the same."""
    from npmaudit.auditing.run import HandedOver
    from npmaudit.report.json_report import recursive_writer

    (tree / "broken").mkdir()
    (tree / "broken" / "package-lock.json").write_text("{")
    settings = _settings(store, tmp_path)
    kept = run_recursive(tree, settings)
    writer = recursive_writer()
    handed = run_recursive(tree, settings, on_audited=writer.add)
    assert isinstance(handed.outcomes, HandedOver)
    with pytest.raises(RuntimeError, match="not kept"):
        len(handed.outcomes)
    with pytest.raises(RuntimeError, match="not kept"):
        list(handed.outcomes)
    assert writer.render(handed) == render_recursive("json", kept) == _whole_document(kept)
    assert handed.exit_code == kept.exit_code == 2  # the broken project outranks the findings
    assert handed.messages == kept.messages and len(handed.failures) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_text_scan_is_written_project_by_project_unless_it_goes_to_a_colour_terminal(
    tree: Path, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written project by project, the text scan keeps no project's findings, and says what the
    whole-scan rendering says, byte for byte; a colour terminal gets the coloured whole-scan
    rendering (the writer keeps uncoloured text)."""
    import argparse

    from npmaudit.cli import main
    from npmaudit.cli.report_output import plan_reports

    expected = render_recursive("text", run_recursive(tree, _settings(store, tmp_path)))
    common = ["audit", "-r", str(tree), "--db", str(store), "--compromised", "--format", "text"]
    assert main(common) == 1
    assert capsys.readouterr().out == expected
    assert "MALICIOUS" in expected and expected.count("\n== ") >= 2  # the scan has sections to compare
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stdout", _Terminal())
    plan = plan_reports(argparse.Namespace(format="text", output=None, report=None))
    assert plan.recursive_writer() is None
    assert plan_reports(argparse.Namespace(format="json", output=None, report=None)).recursive_writer() is not None


def test_the_cli_writes_the_scan_project_by_project_only_when_one_format_is_the_one_report(
    tree: Path, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from npmaudit.cli import main
    from npmaudit.cli.report_output import plan_reports

    def plan(fmt: str, *reports: tuple[str, Path]) -> object:
        return plan_reports(argparse.Namespace(format=fmt, output=None, report=list(reports) or None))

    assert plan("json").recursive_writer() is not None  # type: ignore[attr-defined]
    assert plan("json", ("json", tmp_path / "b.json")).recursive_writer() is not None  # type: ignore[attr-defined]
    assert plan("json", ("sarif", tmp_path / "a.sarif")).recursive_writer() is None  # type: ignore[attr-defined]
    assert plan("text").recursive_writer() is not None  # type: ignore[attr-defined]
    assert plan("text", ("json", tmp_path / "c.json")).recursive_writer() is None  # type: ignore[attr-defined]

    expected = render_recursive("json", run_recursive(tree, _settings(store, tmp_path)))
    out = tmp_path / "scan.json"
    common = ["audit", "-r", str(tree), "--db", str(store), "--compromised", "--format", "json"]
    assert main([*common]) == 1
    assert capsys.readouterr().out == expected
    assert main([*common, "--output", str(out), "--report", f"json={tmp_path / 'copy.json'}"]) == 1
    assert out.read_text() == expected == (tmp_path / "copy.json").read_text()
