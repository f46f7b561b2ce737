"""The public Python API: the README's example runs as written and agrees with the command line."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest

import npmaudit
from npmaudit.cli import main

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "engine-io-latency"


def _readme_example(index: int = 0) -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    examples = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(examples) > index, "the README's Python API section lacks an example"
    return str(examples[index])


def test_public_names() -> None:
    expected = {"audit_project", "AuditReport", "load_project", "open_database", "audit", "judge", "render"}
    assert expected <= set(npmaudit.__all__)
    for name in npmaudit.__all__:
        assert getattr(npmaudit, name) is not None
    with pytest.raises(AttributeError):
        _ = npmaudit.no_such_name  # type: ignore[attr-defined]


def test_readme_example_runs_and_matches_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    old = Path.cwd()
    os.chdir(ROOT)
    try:
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(_readme_example(), "README.md", "exec"), {})
    finally:
        os.chdir(old)
    lines = output.getvalue().splitlines()
    assert lines[-1] == "exit code at level high: 1"
    from_python = {tuple(line.split()[:3]) for line in lines[:-1]}
    code = main(["audit", str(EXAMPLE), "--compromised", "--db", str(EXAMPLE / "advisories.json"), "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    from_cli = {(f["name"], f["version"], f["id"]) for f in document["findings"]}
    assert from_python == from_cli and len(from_cli) == 18


def test_pieces_compose_like_audit_project(tmp_path: Path) -> None:
    project = npmaudit.load_project(EXAMPLE)
    source = npmaudit.open_database(EXAMPLE / "advisories.json")
    result = npmaudit.audit(project, [source], omit=["dev"])
    whole = npmaudit.audit_project(EXAMPLE, db=EXAMPLE / "advisories.json", sources=("local",), omit=["dev"])
    assert [(f.name, f.version, f.id) for f in result.findings] == [(f.name, f.version, f.id) for f in whole.findings]
    verdict = npmaudit.judge(result.findings, "error", "critical")
    assert verdict.exit_code == (1 if any(f.severity.value == "critical" for f in result.findings) else 0)
    assert npmaudit.judge(result.findings, "warn", "low").exit_code == 0
    rendered = json.loads(npmaudit.render(whole, "json"))
    assert rendered["summary"] and len(rendered["findings"]) == len(whole.findings)


def test_errors_carry_exit_codes(tmp_path: Path) -> None:
    with pytest.raises(npmaudit.InputError) as caught:
        npmaudit.audit_project(EXAMPLE, db=tmp_path / "missing.json", sources=("local",))
    assert caught.value.exit_code == 2 and "missing.json" in str(caught.value)
    with pytest.raises(npmaudit.UsageError):
        npmaudit.audit_project(EXAMPLE, sources=("nope",))


def test_readme_inventory_example_runs_and_matches_the_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(_readme_example(1), "README.md", "exec"), {})
    *hits, change = output.getvalue().splitlines()

    database = str(tmp_path / "examples" / "engine-io-latency" / "advisories.json")
    inventory = ("--inventory", str(tmp_path / "fleet.sqlite"), "--format", "json")
    code = main(["inventory", "query", "debug@<3", *inventory])
    answer = json.loads(capsys.readouterr().out)
    assert code == 1
    assert hits == [f"{m['name']}@{m['version']} {' > '.join(m['chain'])}" for m in answer["projects"][0]["matches"]]
    assert len(hits) == 5 and all(hit.startswith("debug@2.") for hit in hits)
    # The example's run was the first: every finding is new. The CLI's run after it finds the same
    # findings and no change.
    code = main(["inventory", "audit", "--db", database, *inventory])
    run = json.loads(capsys.readouterr().out)
    (project,) = run["projects"]
    assert code == 1 and run["changes"] == [] and run["previousRun"] is not None
    assert change == f"newly-affected {project['location']} {len(project['findings'])} new findings"
