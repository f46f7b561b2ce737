"""The CI formats (sarif, github, markdown, cyclonedx, junit): schema validity on every lockfile of the
fixtures, GitHub's SARIF limits on the largest real lockfile with locations on the package's line, each
format's content on the hand-checked project, several reports from one run, and `-r`."""

from __future__ import annotations

import gzip
import json
import re
import xml.etree.ElementTree as ElementTree
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ci_helpers import clean_environment, copy_handmade, handmade_database, run_cli, write_database
from conftest import FIXTURES, HANDMADE_DEV, HANDMADE_PROD
from lockfile_corpus import corpus, corpus_id, materialise
from npmaudit.advisories.local import open_local_database
from npmaudit.advisories.source import AdvisorySource
from npmaudit.auditing.run import AuditOutcome, run_audit
from npmaudit.records import replace
from npmaudit.report import FORMATS, LOCKFILE_LINES, render
from npmaudit.report.sarif import GITHUB_LIMITS, Limits, fit
from npmaudit.settings import Settings
from schema_validation import cyclonedx_errors, sarif_errors

STORE = FIXTURES / "osv" / "store"
ORACLE_ADVISORIES = FIXTURES / "npm_oracle" / "advisories"
CI_FORMATS = ("sarif", "github", "markdown", "cyclonedx", "junit")
LARGEST = FIXTURES / "lockfiles" / "npm" / "facebook__create-react-app" / "package-lock.json"


def audit(path: Path, source: AdvisorySource, cache: Path, **values: Any) -> AuditOutcome:
    settings = Settings(cache_dir=cache, local=True, lockfile_lines=True, **values)
    if path.name == "node_modules":
        return run_audit(path.parent, settings, lockfile=path, sources=[source])
    return run_audit(path, settings, sources=[source])


def line_text(file: Path, line: int, cache: dict[Path, list[str]]) -> str:
    if file not in cache:
        cache[file] = file.read_text(encoding="utf-8").splitlines()
    return cache[file][line - 1]


# -- schema validity on every lockfile of the fixtures


@pytest.fixture(scope="module")
def corpus_source(tmp_path_factory: pytest.TempPathFactory) -> AdvisorySource:
    """Malicious-package records and the synthetic advisories on common packages (ms, minimatch, debug):
    findings in most trees. The GitHub records are used on the large lockfile and the handmade project."""
    folder = tmp_path_factory.mktemp("db")
    path = write_database(folder / "corpus.jsonl", STORE / "npm-malicious-sample.jsonl.gz")
    path.write_text(path.read_text() + (ORACLE_ADVISORIES / "synthetic.jsonl").read_text())
    return open_local_database(path)


@pytest.mark.parametrize("fixture", corpus(), ids=corpus_id)
def test_sarif_and_cyclonedx_of_every_lockfile_validate(fixture: Path, corpus_source, tmp_path: Path) -> None:
    lockfile = materialise(fixture, tmp_path)
    outcome = audit(lockfile, corpus_source, tmp_path / "cache")
    sarif = json.loads(render("sarif", outcome))
    assert sarif_errors(sarif) == []
    assert len(sarif["runs"][0]["results"]) == len(outcome.result.findings)
    bom = json.loads(render("cyclonedx", outcome))
    assert cyclonedx_errors(bom) == []
    declared = {c["bom-ref"] for c in bom["components"]} | {bom["metadata"]["component"]["bom-ref"]}
    assert {d["ref"] for d in bom["dependencies"]} <= declared
    assert {ref for d in bom["dependencies"] for ref in d["dependsOn"]} <= declared
    assert {a["ref"] for v in bom.get("vulnerabilities", []) for a in v["affects"]} <= declared


def test_purls_are_the_purl_libraries_own(tmp_path: Path) -> None:
    from packageurl import PackageURL

    from npmaudit.project.loader import load_project
    from npmaudit.report.cyclonedx import purl

    project = load_project(FIXTURES / "lockfiles" / "npm" / "npm__cli" / "package-lock.json")
    nodes = [n for n in project.packages() if n.is_registry and n.version]
    assert any(n.name.startswith("@") for n in nodes) and any("-" in n.version for n in nodes)
    for node in nodes:
        scope, _, name = node.name.rpartition("/")
        expected = PackageURL(type="npm", namespace=scope or None, name=name, version=node.version).to_string()
        assert purl(node.name, node.version) == expected
    assert purl("@babel/core", "7.22.5") == "pkg:npm/%40babel/core@7.22.5"


# -- SARIF on the largest real lockfile


@pytest.fixture(scope="module")
def largest_sarif(tmp_path_factory: pytest.TempPathFactory) -> tuple[AuditOutcome, dict[str, Any], str]:
    folder = tmp_path_factory.mktemp("largest")
    path = write_database(
        folder / "all.jsonl",
        STORE / "npm-ghsa.jsonl.gz",
        STORE / "npm-nodesecurity.jsonl.gz",
        STORE / "npm-malicious-sample.jsonl.gz",
    )
    path.write_text(
        path.read_text() + "".join((ORACLE_ADVISORIES / n).read_text() for n in ("real.jsonl", "synthetic.jsonl"))
    )
    outcome = audit(LARGEST, open_local_database(path), folder / "cache")
    text = render("sarif", outcome)
    return outcome, json.loads(text), text


def test_a_sarif_of_the_largest_lockfile_is_within_githubs_limits(largest_sarif) -> None:
    outcome, log, text = largest_sarif
    assert len(outcome.result.findings) > 50
    assert sarif_errors(log) == []
    assert len(gzip.compress(text.encode())) <= GITHUB_LIMITS.gzip_bytes
    assert len(log["runs"]) <= 20
    run = log["runs"][0]
    assert len(run["results"]) == len(outcome.result.findings) <= GITHUB_LIMITS.results_per_run
    rules = run["tool"]["driver"]["rules"]
    assert len(rules) == len({f.id for f in outcome.result.findings}) <= GITHUB_LIMITS.rules_per_run
    assert len({rule["id"] for rule in rules}) == len(rules)  # one rule per advisory
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert len(result["locations"]) == 1 and len(result.get("relatedLocations", [])) <= 1000
        assert 0.0 <= float(rules[result["ruleIndex"]]["properties"]["security-severity"]) <= 10.0
    assert all(len(rule["properties"]["tags"]) <= 20 for rule in rules)


def test_sarif_locations_point_at_the_lines_naming_the_package(largest_sarif) -> None:
    outcome, log, _ = largest_sarif
    lines: dict[Path, list[str]] = {}
    results = log["runs"][0]["results"]
    assert results
    for result in results:
        name = result["properties"]["package"]
        for location in [*result["locations"], *result.get("relatedLocations", [])]:
            physical = location["physicalLocation"]
            file = Path(physical["artifactLocation"]["uri"])
            assert file.resolve() == outcome.result.project.lockfile.resolve()  # relative to the checkout
            text = line_text(file, physical["region"]["startLine"], lines)
            # The line opens the entry of one of the package's install locations: `"<location>": {`,
            # whose last folder is the package's name (or an alias's folder name).
            assert text.rstrip().endswith("{"), text
            key = text.strip().split('"')[1]
            assert key in result["properties"]["installPaths"]
            node = outcome.result.project.nodes[key]
            assert node.name == name and key.endswith(f"node_modules/{node.install_name}")


def test_sarif_keeps_the_most_severe_results_within_smaller_limits(largest_sarif) -> None:
    outcome, full, _ = largest_sarif
    log = fit([outcome], [], Limits(results_per_run=10))
    results = log["runs"][0]["results"]
    assert len(results) == 10
    kept = [
        (
            r["properties"]["malicious"],
            float(log["runs"][0]["tool"]["driver"]["rules"][r["ruleIndex"]]["properties"]["security-severity"]),
        )
        for r in results
    ]
    assert kept == sorted(kept, key=lambda k: (not k[0], -k[1]))
    dropped = len(full["runs"][0]["results"]) - 10
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any(n["message"]["text"].startswith(f"{dropped} least severe results left out") for n in notes)
    assert sarif_errors(log) == []
    small = fit([outcome], [], Limits(gzip_bytes=20_000))
    assert len(gzip.compress(json.dumps(small, indent=1).encode())) <= 20_000
    assert 0 < len(small["runs"][0]["results"]) < len(full["runs"][0]["results"])


# -- each format on the handmade project


@pytest.fixture
def handmade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    clean_environment(monkeypatch, tmp_path / "cache")
    return copy_handmade(tmp_path), handmade_database(tmp_path / "advisories.jsonl")


IGNORE_LODASH = (
    '[[ignore]]\nid = "CVE-2021-23337"\nreason = "REASON-lodash-templates"\nexpires = 2099-06-30\n'
    'justification = "code_not_reachable"\n\n'
    '[[ignore]]\nid = "GHSA-x5pg-88wf-qq4p"\nreason = "REASON-marked-build"\n'
)


def run_format(capsys, project: Path, database: Path, fmt: str, *extra: str) -> tuple[int, str, str]:
    return run_cli(capsys, "audit", str(project), "--compromised", "--db", str(database), "--format", fmt, *extra)


@pytest.mark.parametrize("fmt", [f.name for f in FORMATS if not f.name.startswith("npm-")])
def test_ignored_findings_are_shown_in_every_format_with_reason_and_expiry(handmade, capsys, fmt) -> None:
    project, database = handmade
    (project / ".npmaudit.toml").write_text(IGNORE_LODASH)
    code, out, _err = run_format(capsys, project, database, fmt)
    assert code == 1  # the other findings still count
    assert "REASON-lodash-templates" in out and "REASON-marked-build" in out
    assert "2099-06-30" in out
    if fmt == "json":
        finding = next(f for f in json.loads(out)["findings"] if f["id"] == "GHSA-35jh-r3h4-6jhm")
        assert finding["ignored"]["reason"] == "REASON-lodash-templates"
    elif fmt == "sarif":
        result = next(r for r in json.loads(out)["runs"][0]["results"] if r["ruleId"] == "GHSA-35jh-r3h4-6jhm")
        assert result["suppressions"] == [
            {"kind": "external", "status": "accepted", "justification": "REASON-lodash-templates"}
        ]
    elif fmt == "cyclonedx":
        vulnerability = next(v for v in json.loads(out)["vulnerabilities"] if v["id"] == "GHSA-35jh-r3h4-6jhm")
        assert vulnerability["analysis"]["state"] == "not_affected"
        assert vulnerability["analysis"]["justification"] == "code_not_reachable"
        marked = next(v for v in json.loads(out)["vulnerabilities"] if v["id"] == "GHSA-x5pg-88wf-qq4p")
        assert marked["analysis"]["justification"] == "protected_by_mitigating_control"
    elif fmt == "github":
        notices = [line for line in out.splitlines() if "REASON" in line]
        assert len(notices) == 2 and all(line.startswith("::notice ") for line in notices)
    elif fmt == "junit":
        case = ElementTree.fromstring(out).find(".//testcase[@name='lodash@4.17.15']")
        assert case is not None and "REASON-lodash-templates" in case.findtext("system-out", "")


def test_sarif_of_the_handmade_project(handmade, capsys) -> None:
    project, database = handmade
    (project / ".npmaudit.toml").write_text(IGNORE_LODASH)
    _code, out, _ = run_format(capsys, project, database, "sarif")
    log = json.loads(out)
    assert sarif_errors(log) == []
    run = log["runs"][0]
    assert {(r["properties"]["package"], r["ruleId"]) for r in run["results"]} == HANDMADE_PROD | HANDMADE_DEV
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    malicious = next(r for r in run["results"] if r["ruleId"] == "MAL-2023-1269")
    assert malicious["level"] == "error"
    assert rules["MAL-2023-1269"]["properties"]["security-severity"] == "10.0"
    assert malicious["locations"][0]["physicalLocation"]["region"] == {"startLine": 32}  # "node_modules/policycms": {
    assert rules["GHSA-xvch-5gv4-984h"]["properties"]["security-severity"] == "9.8"  # its CVSS 3.1 base score
    assert run["properties"]["npmaudit/sources"][0]["databaseAgeDays"] > 0
    again = json.loads(run_format(capsys, project, database, "sarif")[1])["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in again] == [r["partialFingerprints"] for r in run["results"]]


def test_github_annotations_errors_first_at_the_lockfile_line(handmade, capsys) -> None:
    project, database = handmade
    (project / ".npmaudit.toml").write_text(IGNORE_LODASH)
    _code, out, _ = run_format(capsys, project, database, "github", "--audit-level", "high")
    lines = out.splitlines()
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)
    assert len(lines) == len(HANDMADE_PROD | HANDMADE_DEV) + 1  # one per finding and the summary
    assert lines[0].startswith(
        f"::error file={project}/package-lock.json,line=32,title=MALICIOUS package policycms@1.0.1%3A MAL-2023-1269::"
    )
    kinds = [line.split(" ", 1)[0] for line in lines]
    assert kinds == sorted(kinds, key=["::error", "::warning", "::notice"].index)
    moderate = next(line for line in lines if "GHSA-vh95-rmgr-6w4m" in line)  # minimist, moderate: below high
    assert moderate.startswith("::warning ") and "line=28," in moderate and "below the audit level high" in moderate
    assert lines[-1].startswith("::notice title=npmaudit summary::FAILED: 12 findings in 1 project(s)")
    assert "records; newest record modified" in lines[-1] and "days old" in lines[-1]


def test_github_escapes_what_could_start_a_workflow_command(tmp_path, capsys, monkeypatch) -> None:
    clean_environment(monkeypatch, tmp_path / "cache")
    odd = tmp_path / "dir,with:odd%chars"
    odd.mkdir()
    project = copy_handmade(odd)
    records = [json.loads(line) for line in handmade_database(tmp_path / "db.jsonl").read_text().splitlines()]
    for record in records:
        if record["id"] == "GHSA-35jh-r3h4-6jhm":  # an advisory text is written by strangers
            record["summary"] = "Command Injection\r\n::error file=x::injected%0A::error::again"
    (tmp_path / "db.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    _code, out, _ = run_format(capsys, project, tmp_path / "db.jsonl", "github")
    lines = out.splitlines()
    assert len(lines) == len(HANDMADE_PROD | HANDMADE_DEV) + 1
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)
    assert "dir%2Cwith%3Aodd%25chars/handmade/package-lock.json" in lines[0]
    lodash = next(line for line in lines if "GHSA-35jh" in line)
    assert "::error file=x::injected%250A" not in lodash.split("::", 2)[1]  # only in the escaped message part
    assert "%250A" in lodash


def test_github_appends_the_markdown_summary_to_the_step_summary_file(handmade, capsys, monkeypatch, tmp_path) -> None:
    project, database = handmade
    summary = tmp_path / "step_summary.md"
    summary.write_text("# an earlier step's summary\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    _code, out, _ = run_format(capsys, project, database, "github")
    text = summary.read_text()
    assert text.startswith("# an earlier step's summary\n<!-- npmaudit -->\n## npmaudit: ❌ failed")
    assert "<!-- npmaudit -->" not in out and out.startswith("::error ")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    summary.unlink()
    run_format(capsys, project, database, "github")
    assert not summary.exists()


def test_markdown_puts_malicious_first_then_severity_and_fits_a_comment(handmade, capsys) -> None:
    from npmaudit.report import markdown

    project, database = handmade
    _code, out, _ = run_format(capsys, project, database, "markdown")
    assert out.startswith("<!-- npmaudit -->\n## npmaudit: ❌ failed — **1 malicious package**, 12 findings")
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| |")]
    assert rows[0].startswith("| ☠️ | **MALICIOUS** | `policycms@1.0.1` | MAL-2023-1269 | remove it |")
    ranks = {"critical": 4, "high": 3, "moderate": 2, "low": 1}
    severities = [ranks[row.split(" | ")[1]] for row in rows[1:]]
    assert severities == sorted(severities, reverse=True) and severities[0] == 4
    assert out.count("<details><summary>") == len(rows)
    assert "package-lock.json:28 |" in rows[1]  # minimist's entry line
    assert "Sources: json-db" in out and "days old" in out
    outcome = run_audit(project, Settings(cache_dir=project / "cache", local=True, db=database))
    short = markdown._fit([outcome], [], False, 3000)
    assert len(short) <= 3000 and "more findings left out to fit a comment" in short


def test_cyclonedx_sbom_of_the_handmade_project(handmade, capsys) -> None:
    project, database = handmade
    (project / ".npmaudit.toml").write_text(IGNORE_LODASH)
    _code, out, _ = run_format(capsys, project, database, "cyclonedx")
    bom = json.loads(out)
    assert cyclonedx_errors(bom) == []
    components = {c["name"]: c for c in bom["components"]}
    assert components["lodash"]["purl"] == "pkg:npm/lodash@4.17.15" and components["lodash"]["scope"] == "required"
    assert components["marked"]["scope"] == "excluded"
    assert {"name": "cdx:npm:package:development", "value": "true"} in components["marked"]["properties"]
    root = bom["metadata"]["component"]
    assert (root["name"], root["type"]) == ("handmade", "application")
    graph = {d["ref"]: d["dependsOn"] for d in bom["dependencies"]}
    assert graph[root["bom-ref"]] == ["lodash@4.17.15", "marked@0.3.5", "minimist@1.2.0", "policycms@1.0.1"]
    vulnerabilities = {(v["affects"][0]["ref"], v["id"]): v for v in bom["vulnerabilities"]}
    assert {(ref.split("@")[0], i) for ref, i in vulnerabilities} == HANDMADE_PROD | HANDMADE_DEV
    malicious = vulnerabilities[("policycms@1.0.1", "MAL-2023-1269")]
    assert malicious["analysis"]["state"] == "exploitable" and malicious["ratings"][0]["severity"] == "critical"
    minimist = vulnerabilities[("minimist@1.2.0", "GHSA-xvch-5gv4-984h")]
    assert minimist["ratings"][0] == {
        "severity": "critical",
        "score": 9.8,
        "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "method": "CVSSv31",
    }
    assert minimist["analysis"] == {"state": "exploitable", "response": ["update"]}
    assert {"name": "npmaudit:source", "value": bom["metadata"]["properties"][0]["value"]} in bom["metadata"][
        "properties"
    ]
    assert "days old" in bom["metadata"]["properties"][0]["value"]


def test_junit_has_a_case_per_package_failing_at_the_level(handmade, capsys) -> None:
    project, database = handmade
    (project / ".npmaudit.toml").write_text(
        '[[ignore]]\nid = "GHSA-29mw-wpgm-hmr9"\nreason = "r"\n'
        + "".join(f'[[ignore]]\nid = "{i}"\nreason = "dev only"\n' for _, i in sorted(HANDMADE_DEV))
    )
    _code, out, _ = run_format(capsys, project, database, "junit", "--audit-level", "critical")
    root = ElementTree.fromstring(out)
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == f"{project}/package-lock.json"
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {"lodash@4.17.15", "marked@0.3.5", "minimist@1.2.0", "policycms@1.0.1"}
    failing = {name for name, case in cases.items() if case.find("failure") is not None}
    assert failing == {"minimist@1.2.0", "policycms@1.0.1"}  # critical, and the malicious one
    assert "GHSA-xvch-5gv4-984h" in cases["minimist@1.2.0"].findtext("failure", "")
    assert cases["minimist@1.2.0"].get("line") == "28"
    assert cases["marked@0.3.5"].find("skipped") is not None  # every finding on it is ignored
    assert "dev only" in cases["marked@0.3.5"].find("skipped").get("message", "")
    assert "GHSA-35jh-r3h4-6jhm" in cases["lodash@4.17.15"].findtext("system-out", "")  # high: below critical
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "1")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert "days old" in properties["npmaudit.source"] and float(properties["npmaudit.database-age-days"]) > 0


# -- report files and -r


def test_several_reports_from_one_run_are_written_atomically(handmade, capsys, tmp_path) -> None:
    project, database = handmade
    out_dir = tmp_path / "reports"
    out_dir.mkdir()
    code, out, _err = run_format(
        capsys,
        project,
        database,
        "sarif",
        "--output",
        str(out_dir / "npmaudit.sarif"),
        "--report",
        f"junit={out_dir / 'junit.xml'}",
        "--report",
        f"cyclonedx={out_dir / 'bom.cdx.json'}",
        "--report",
        f"markdown={out_dir / 'comment.md'}",
    )
    assert code == 1 and out == ""
    assert sorted(p.name for p in out_dir.iterdir()) == ["bom.cdx.json", "comment.md", "junit.xml", "npmaudit.sarif"]
    assert sarif_errors(json.loads((out_dir / "npmaudit.sarif").read_text())) == []
    assert cyclonedx_errors(json.loads((out_dir / "bom.cdx.json").read_text())) == []
    assert ElementTree.parse(out_dir / "junit.xml").getroot().tag == "testsuites"
    # Without --output the --format report still goes to stdout.
    code, out, _ = run_format(capsys, project, database, "text", "--report", f"sarif={out_dir / 'again.sarif'}")
    assert "policycms@1.0.1" in out and (out_dir / "again.sarif").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--output", "{tmp}/missing/x.sarif"], "cannot write the report: no such directory"),
        (["--output", "{tmp}/x.sarif", "--report", "junit={tmp}/x.sarif"], "two reports would be written to"),
        (["--report", "nosuch={tmp}/x"], "unknown format 'nosuch'"),
        (["--report", "sarif"], "expected FORMAT=PATH"),
        (["--report", "json=-"], "stdout takes the --format report; --report writes files"),  # not a file "-"
        (["--output", "-"], "the report goes to stdout without --output"),
    ],
)
def test_report_file_mistakes_are_usage_errors(handmade, capsys, tmp_path, args, message) -> None:
    project, database = handmade
    try:
        code, out, err = run_format(capsys, project, database, "sarif", *(a.format(tmp=tmp_path) for a in args))
    except SystemExit as stop:  # argparse refuses a malformed --report before the run
        captured = capsys.readouterr()
        code, out, err = int(stop.code or 0), captured.out, captured.err
    assert code == 2 and message in err and out == ""


def test_every_ci_format_reports_a_recursive_scan_in_one_document(tmp_path, capsys, monkeypatch) -> None:
    clean_environment(monkeypatch, tmp_path / "cache")
    root = tmp_path / "tree"
    root.mkdir()
    copy_handmade(root)
    other = root / "service"
    other.mkdir()
    materialise(FIXTURES / "lockfiles" / "yarn-v1" / "honojs__hono__benchmarks__jsx" / "yarn.lock", other)
    for name in ("yarn.lock", "package.json"):
        (other / name).write_bytes(
            (FIXTURES / "lockfiles" / "yarn-v1" / "honojs__hono__benchmarks__jsx" / name).read_bytes()
        )
    database = handmade_database(tmp_path / "db.jsonl")
    lockfiles = {f"{root}/handmade/package-lock.json", f"{root}/service/yarn.lock"}
    outputs = {}
    for fmt in CI_FORMATS:
        code, out, err = run_cli(
            capsys, "audit", str(root), "-r", "--compromised", "--db", str(database), "--format", fmt
        )
        assert code == 1, err
        outputs[fmt] = out
    sarif = json.loads(outputs["sarif"])
    assert sarif_errors(sarif) == [] and len(sarif["runs"]) == 1
    assert set(sarif["runs"][0]["properties"]["npmaudit/lockfiles"]) == lockfiles
    bom = json.loads(outputs["cyclonedx"])
    assert cyclonedx_errors(bom) == []
    projects = [c for c in bom["components"] if c["type"] == "application"]
    assert len(projects) == 2
    assert {p["value"] for p in bom["metadata"]["properties"] if p["name"] == "npmaudit:lockfile"} == lockfiles
    suites = ElementTree.fromstring(outputs["junit"]).findall("testsuite")
    assert {s.get("name") for s in suites} == lockfiles
    for fmt in ("github", "markdown"):
        assert f"{root}/handmade/package-lock.json" in outputs[fmt].replace("\\_", "_")
    for fmt, text in outputs.items():
        assert "days old" in text or "databaseAgeDays" in text, fmt


def test_lockfile_lines_are_computed_only_for_formats_that_need_them(handmade) -> None:
    needing = {f.name for f in FORMATS if LOCKFILE_LINES in f.analyses}
    assert needing == {"sarif", "github", "markdown", "junit"}
    project, database = handmade
    without = run_audit(project, Settings(cache_dir=project / "c", local=True, db=database))
    assert without.places is None
    located = run_audit(project, Settings(cache_dir=project / "c", local=True, db=database, lockfile_lines=True))
    assert located.places is not None and located.places["node_modules/lodash"].line == 19


def test_every_report_gives_the_datas_age_at_the_runs_moment(handmade) -> None:
    """One clock per run: the outcome holds the moment the audit judged at, and every format
    reports the database's age at that moment, however late and however often it renders."""
    project, database = handmade
    outcome = run_audit(project, Settings(cache_dir=project / "c", local=True, db=database, lockfile_lines=True))
    moment = outcome.settings.now
    assert moment is not None  # fixed by the run, not left to each renderer's clock
    later = replace(outcome, settings=replace(outcome.settings, now=moment + timedelta(days=10)))
    days = json.loads(render("json", outcome))["sources"][0]["dataAge"]["days"]
    assert json.loads(render("json", later))["sources"][0]["dataAge"]["days"] == pytest.approx(days + 10, abs=0.002)
    shown = re.search(r"([\d.]+) days old", render("text", outcome))
    shown_later = re.search(r"([\d.]+) days old", render("text", later))
    assert shown and shown_later and float(shown_later[1]) == pytest.approx(float(shown[1]) + 10, abs=0.1)
    for fmt in CI_FORMATS:
        assert _without_serial(render(fmt, outcome)) == _without_serial(render(fmt, outcome)), fmt
        assert _without_serial(render(fmt, later)) != _without_serial(render(fmt, outcome)), fmt


def _without_serial(text: str) -> str:
    """A BOM's serial number is new on every rendering, as CycloneDX asks of each BOM."""
    return re.sub(r'"serialNumber": "urn:uuid:[0-9a-f-]+"', '"serialNumber": ""', text)
