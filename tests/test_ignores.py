"""Ignores, through the command line and the core: alias matching, expiry on a fixed clock, stale
ignores, path scopes, malicious packages, the exit code, audit-ci's allowlist and better-npm-audit's
.nsprc, `npmaudit ignore list`, and `-r`.

The project is the handmade one (lodash 4.17.15, minimist 1.2.0, the malicious policycms 1.0.1, dev
marked 0.3.5) audited against real GitHub and OpenSSF records; its findings are hand-checked in
conftest.HANDMADE_PROD / HANDMADE_DEV.
"""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ci_helpers import clean_environment, copy_handmade, handmade_database, json_findings, run_cli
from conftest import HANDMADE_DEV, HANDMADE_PROD
from npmaudit.auditing.ignore_files import rules_from_file, rules_from_tables
from npmaudit.auditing.run import run_audit
from npmaudit.cli import main
from npmaudit.settings import Settings

ALL_FINDINGS = HANDMADE_PROD | HANDMADE_DEV


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    clean_environment(monkeypatch, tmp_path / "cache")
    return copy_handmade(tmp_path)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return handmade_database(tmp_path / "advisories.jsonl")


def audit_json(capsys: pytest.CaptureFixture[str], project: Path, database: Path, *extra: str) -> tuple[int, dict, str]:
    code, out, err = run_cli(
        capsys, "audit", str(project), "--compromised", "--db", str(database), "--format", "json", *extra
    )
    return code, json_findings(out), err


def ignore_lines(err: str) -> list[str]:
    """What stderr says about ignores (the database's age is said there too)."""
    return [line for line in err.splitlines() if ": ignore " in line]


def ignored_ids(findings: dict) -> set[tuple[str, str]]:
    return {key for key, finding in findings.items() if finding["ignored"] is not None}


def write_config(project: Path, text: str) -> Path:
    path = project / ".npmaudit.toml"
    path.write_text(text, encoding="utf-8")
    return path


def ignore_everything(project: Path, reason: str = "accepted") -> str:
    """[[ignore]] tables for every handmade finding; the malicious one by its exact package and version."""
    tables = []
    for name, advisory in sorted(ALL_FINDINGS):
        scope = 'package = "policycms"\nversion = "1.0.1"\n' if name == "policycms" else ""
        tables.append(f'[[ignore]]\nid = "{advisory}"\n{scope}reason = "{reason}"\n')
    return "\n".join(tables)


def test_an_alias_of_the_advisory_hides_it(project, database, capsys) -> None:
    # CVE-2021-23337 is an alias of GHSA-35jh-r3h4-6jhm (lodash command injection); case does not matter.
    code, findings, err = audit_json(capsys, project, database, "--ignore", "cve-2021-23337")
    assert ignored_ids(findings) == {("lodash", "GHSA-35jh-r3h4-6jhm")}
    assert findings[("lodash", "GHSA-35jh-r3h4-6jhm")]["ignored"]["reason"] == "given on the command line"
    assert "stale" not in err
    assert code == 1  # the other findings still count


@pytest.mark.parametrize("command", [["audit"], ["ignore", "list"]])
def test_an_empty_ignore_id_is_a_usage_error(project, database, capsys, command) -> None:
    # `--ignore "$ID"` with the variable unset ignored nothing and said nothing: never a quiet no-op.
    with pytest.raises(SystemExit) as stop:
        main([*command, str(project), "--db", str(database), "--compromised", "--ignore", " "])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "argument --ignore: an empty advisory id" in err and len(err.strip().splitlines()) == 1


def test_a_toml_ignore_names_its_reason_expiry_and_line(project, database, capsys) -> None:
    config = write_config(
        project,
        'policy = "error"\n\n[[ignore]]\nid = "GHSA-xvch-5gv4-984h"\nreason = "minimist only parses our own flags"\n'
        "expires = 2099-12-31\n",
    )
    _code, findings, _ = audit_json(capsys, project, database)
    assert findings[("minimist", "GHSA-xvch-5gv4-984h")]["ignored"] == {
        "reason": "minimist only parses our own flags",
        "expires": "2099-12-31",
        "origin": str(config),
        "line": 3,
        "rule": "GHSA-xvch-5gv4-984h",
    }


def settings_with(config: Path, database: Path, cache: Path, now: datetime, **values: object) -> Settings:
    rules = rules_from_tables(config, tomllib.loads(config.read_text())["ignore"])
    return Settings(cache_dir=cache, local=True, db=database, ignores=rules, now=now, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expires", "before", "after"),
    [
        # A date: the ignore applies up to the end of the day before, and stops at 00:00 UTC that day.
        ("2026-03-31", datetime(2026, 3, 30, 23, 59, 59, tzinfo=UTC), datetime(2026, 3, 31, 0, 0, tzinfo=UTC)),
        # A time with an offset: that moment exactly.
        (
            "2026-03-31T12:00:00+02:00",
            datetime(2026, 3, 31, 9, 59, tzinfo=UTC),
            datetime(2026, 3, 31, 10, 0, tzinfo=UTC),
        ),
    ],
)
def test_expiry_is_judged_on_the_clock_given(project, database, tmp_path, expires, before, after) -> None:
    config = write_config(
        project, f'# accepted risks\n\n[[ignore]]\nid = "GHSA-35jh-r3h4-6jhm"\nreason = "r"\nexpires = {expires}\n'
    )
    lodash = ("lodash", "GHSA-35jh-r3h4-6jhm")

    early = run_audit(project, settings_with(config, database, tmp_path / "cache", before))
    assert {(f.name, f.id) for f in early.verdict.ignored} == {lodash}
    assert lodash not in {(f.name, f.id) for f in early.verdict.failing}
    assert not any("expired" in message for message in early.messages)

    late = run_audit(project, settings_with(config, database, tmp_path / "cache", after))
    assert late.verdict.ignored == ()
    assert lodash in {(f.name, f.id) for f in late.verdict.failing}
    expired = [m for m in late.messages if "expired" in m]
    assert expired == [
        f"{config}:3: ignore GHSA-35jh-r3h4-6jhm expired on {expires}: it no longer applies; its findings count "
        "again: lodash@4.17.15 GHSA-35jh-r3h4-6jhm"
    ]


def test_a_stale_ignore_warns_and_fails_only_when_strict(project, database, capsys, monkeypatch) -> None:
    config = write_config(
        project,
        ignore_everything(project) + '\n[[ignore]]\nid = "GHSA-aaaa-bbbb-cccc"\nreason = "fixed long ago"\n',
    )
    stale_line = config.read_text().splitlines().index('id = "GHSA-aaaa-bbbb-cccc"')  # the header is above it
    code, findings, err = audit_json(capsys, project, database)
    assert ignored_ids(findings) == ALL_FINDINGS
    assert code == 0
    assert f"{config}:{stale_line}: ignore GHSA-aaaa-bbbb-cccc hides no finding (stale)" in err

    code, _, err = audit_json(capsys, project, database, "--strict-ignores")
    assert code == 1
    assert "--strict-ignores fails the run" in err

    monkeypatch.setenv("NPMAUDIT_STRICT_IGNORES", "1")
    assert audit_json(capsys, project, database)[0] == 1
    monkeypatch.delenv("NPMAUDIT_STRICT_IGNORES")
    config.write_text("strict-ignores = true\n" + config.read_text())
    assert audit_json(capsys, project, database)[0] == 1
    # Under policy warn the run passes whatever the ignores.
    assert audit_json(capsys, project, database, "--policy", "warn")[0] == 0


def test_ignored_findings_do_not_count_for_the_exit_code(project, database, capsys) -> None:
    assert audit_json(capsys, project, database)[0] == 1
    write_config(project, ignore_everything(project))
    code, findings, err = audit_json(capsys, project, database)
    assert code == 0
    assert set(findings) == ALL_FINDINGS  # still reported, every one of them
    assert ignore_lines(err) == []
    summary = json.loads(
        run_cli(capsys, "audit", str(project), "--compromised", "--db", str(database), "--format", "json")[1]
    )["summary"]
    assert (summary["failing"], summary["ignored"], summary["findings"]) == (0, len(ALL_FINDINGS), len(ALL_FINDINGS))


def test_a_malicious_package_is_hidden_only_by_its_exact_package_and_version(project, database, capsys) -> None:
    malicious = ("policycms", "MAL-2023-1269")
    for scope in ("", 'package = "policycms"\n', 'package = "policycms"\nversion = "^1.0.0"\n'):
        config = write_config(project, f'[[ignore]]\nid = "MAL-2023-1269"\n{scope}reason = "we trust it"\n')
        code, findings, err = audit_json(capsys, project, database)
        assert findings[malicious]["ignored"] is None, scope
        assert (
            f"{config}:1: ignore MAL-2023-1269{' (package policycms' if scope else ''}" in err
            and "cannot hide the malicious package policycms@1.0.1 MAL-2023-1269" in err
        ), err
        assert code == 1
    write_config(project, '[[ignore]]\nid = "MAL-2023-1269"\npackage = "policycms"\nversion = "1.0.1"\nreason = "r"\n')
    findings = audit_json(capsys, project, database)[1]
    assert findings[malicious]["ignored"]["reason"] == "r"


def two_path_project(tmp_path: Path) -> Path:
    """lodash 4.17.15 installed twice, under a and under b (both registry packages): two dependency paths."""
    project = tmp_path / "two-paths"
    project.mkdir()
    manifest = {"name": "two-paths", "version": "1.0.0", "dependencies": {"a": "1.0.0", "b": "1.0.0"}}
    (project / "package.json").write_text(json.dumps(manifest))
    registry = "https://registry.npmjs.test"
    packages = {
        "": manifest,
        "node_modules/a": {
            "version": "1.0.0",
            "resolved": f"{registry}/a/-/a-1.0.0.tgz",
            "dependencies": {"lodash": "4.17.15"},
        },
        "node_modules/a/node_modules/lodash": {
            "version": "4.17.15",
            "resolved": f"{registry}/lodash/-/lodash-4.17.15.tgz",
        },
        "node_modules/b": {
            "version": "1.0.0",
            "resolved": f"{registry}/b/-/b-1.0.0.tgz",
            "dependencies": {"lodash": "4.17.15"},
        },
        "node_modules/b/node_modules/lodash": {
            "version": "4.17.15",
            "resolved": f"{registry}/lodash/-/lodash-4.17.15.tgz",
        },
    }
    lock = {"name": "two-paths", "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": packages}
    (project / "package-lock.json").write_text(json.dumps(lock, indent=2))
    return project


@pytest.mark.parametrize(
    ("paths", "hidden", "warning"),
    [
        (
            '["a>lodash"]',
            False,
            "covers 1 of 2 paths of lodash@4.17.15 GHSA-35jh-r3h4-6jhm; it still counts (not covered: b>lodash)",
        ),
        ('["a>lodash", "b>*"]', True, None),
        ('["**>lodash"]', True, None),
        ('["c>lodash"]', False, "hides no finding (stale)"),
    ],
)
def test_a_path_scope_hides_a_finding_only_when_it_covers_every_path(
    tmp_path, database, capsys, monkeypatch, paths, hidden, warning
) -> None:
    clean_environment(monkeypatch, tmp_path / "cache")
    project = two_path_project(tmp_path)
    write_config(
        project, f'[[ignore]]\nid = "GHSA-35jh-r3h4-6jhm"\nreason = "only our own templates"\npaths = {paths}\n'
    )
    code, findings, err = audit_json(capsys, project, database)
    assert (findings[("lodash", "GHSA-35jh-r3h4-6jhm")]["ignored"] is not None) is hidden
    assert findings[("lodash", "GHSA-35jh-r3h4-6jhm")]["paths"] == [
        "node_modules/a/node_modules/lodash",
        "node_modules/b/node_modules/lodash",
    ]
    if warning:
        assert warning in err
    else:
        assert ignore_lines(err) == []
    assert code == 1  # the other lodash advisories count


def test_audit_ci_allowlist_is_read(project, database, capsys) -> None:
    allowlist = project / "audit-ci.jsonc"
    allowlist.write_text(
        """{
  // audit-ci v7 configuration
  "$schema": "https://example.test/audit-ci.schema.json",
  "low": true,
  "allowlist": [
    "GHSA-35jh-r3h4-6jhm", /* an advisory record */
    {"minimist": {"active": true, "notes": "only parses our own flags", "expiry": "2099-01-01"}},
    {"GHSA-p6mc-m468-83gw|lodash": {"active": true, "notes": "path record"}},
    {"*|marked": {"active": true}},
    {"GHSA-29mw-wpgm-hmr9": {"notes": "not active: audit-ci needs active: true"}},
  ],
}
"""
    )
    code, findings, _err = audit_json(capsys, project, database, "--ignore-from", str(allowlist))
    marked = {key for key in HANDMADE_DEV}
    assert (
        ignored_ids(findings)
        == {
            ("lodash", "GHSA-35jh-r3h4-6jhm"),
            ("lodash", "GHSA-p6mc-m468-83gw"),
            ("minimist", "GHSA-vh95-rmgr-6w4m"),
            ("minimist", "GHSA-xvch-5gv4-984h"),
        }
        | marked
    )
    assert findings[("minimist", "GHSA-xvch-5gv4-984h")]["ignored"]["reason"] == "only parses our own flags"
    assert findings[("minimist", "GHSA-xvch-5gv4-984h")]["ignored"]["expires"] == "2099-01-01T00:00:00+00:00"
    assert findings[("lodash", "GHSA-29mw-wpgm-hmr9")]["ignored"] is None
    assert code == 1


def test_nsprc_is_read(project, database, capsys) -> None:
    nsprc = project / ".nsprc"
    nsprc.write_text(
        json.dumps(
            {
                "GHSA-35jh-r3h4-6jhm": {"active": True, "notes": "templates are ours", "expiry": 4102444800000},
                "https://github.com/advisories/GHSA-p6mc-m468-83gw": "a plain string is the notes",
                "CVE-2021-44906": {"notes": "active by default; matches minimist's GHSA by alias"},
                "GHSA-29mw-wpgm-hmr9": {"active": False},
                "1523": {"notes": "an old numeric npm advisory id"},
                "GHSA-vh95-rmgr-6w4m": {"expiry": "Wed, 01 Jan 2020 00:00:00 GMT"},
            }
        )
    )
    code, findings, err = audit_json(capsys, project, database, "--ignore-from", str(nsprc))
    assert ignored_ids(findings) == {
        ("lodash", "GHSA-35jh-r3h4-6jhm"),
        ("lodash", "GHSA-p6mc-m468-83gw"),
        ("minimist", "GHSA-xvch-5gv4-984h"),
    }
    assert findings[("lodash", "GHSA-p6mc-m468-83gw")]["ignored"]["reason"] == "a plain string is the notes"
    assert f"{nsprc}: ignore 1523 hides no finding (stale)" in err
    assert f"{nsprc}: ignore GHSA-vh95-rmgr-6w4m expired on 2020-01-01T00:00:00+00:00" in err
    assert code == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[ignore]]\nid = "GHSA-35jh-r3h4-6jhm"\n',
            ":1: ignore GHSA-35jh-r3h4-6jhm: 'reason' must be a non-empty string",
        ),
        (
            '\n[[ignore]]\nid = "GHSA-35jh-r3h4-6jhm"\nreason = "r"\nexpires = "2026-03-31"\n',
            ":2: ignore GHSA-35jh-r3h4-6jhm: 'expires' must be a TOML date",
        ),
        (
            '[[ignore]]\nid = "X"\nreason = "r"\nversion = "not a range!"\n',
            ":1: ignore X: 'version' is not a version or range",
        ),
        (
            '[[ignore]]\nid = "X"\nreason = "r"\nuntil = 2026-01-01\n',
            ": [[ignore]] X: unknown key 'until' (known keys: id, reason, expires",
        ),
        ('ignore = ["GHSA-35jh-r3h4-6jhm"]\n', ": 'ignore' must be [[ignore]] tables, each with an id and a reason"),
    ],
)
def test_a_malformed_ignore_is_an_input_error_naming_its_line(project, database, capsys, text, message) -> None:
    config = write_config(project, text)
    code, out, err = run_cli(capsys, "audit", str(project), "--compromised", "--db", str(database))
    assert code == 2
    assert err.startswith(f"npmaudit: error: {config}{message}"), err
    assert out == ""


def test_unreadable_allowlists_are_input_errors(tmp_path) -> None:
    from npmaudit.errors import InputError

    numeric = tmp_path / "audit-ci.json"
    numeric.write_text('{"allowlist": [1523, "1523"]}')
    with pytest.raises(InputError, match="expected a string or a one-key object"):
        rules_from_file(numeric)
    numeric.write_text('{"allowlist": ["1523"]}')
    with pytest.raises(InputError, match="old numeric npm advisory id; use its GHSA id"):
        rules_from_file(numeric)
    nsprc = tmp_path / ".nsprc"
    nsprc.write_text('{"GHSA-35jh-r3h4-6jhm": {"expiry": "someday"}}')
    with pytest.raises(InputError, match="cannot read the expiry"):
        rules_from_file(nsprc)
    nsprc.write_text('{"GHSA-35jh-r3h4-6jhm": ')
    with pytest.raises(InputError, match=r"\.nsprc:1: invalid JSON"):
        rules_from_file(nsprc)


def test_ignore_list_shows_every_entry_with_its_state(project, database, capsys) -> None:
    config = write_config(
        project,
        '[[ignore]]\nid = "CVE-2021-23337"\nreason = "templates are ours"\nexpires = 2099-01-01\n\n'
        '[[ignore]]\nid = "GHSA-xvch-5gv4-984h"\nreason = "was accepted"\nexpires = 2020-01-01\n\n'
        '[[ignore]]\nid = "GHSA-aaaa-bbbb-cccc"\nreason = "nothing left"\n',
    )
    code, out, _err = run_cli(capsys, "ignore", "list", str(project), "--compromised", "--db", str(database))
    assert code == 0
    assert out.splitlines() == [
        f"active   CVE-2021-23337  [{config}:1, expires 2099-01-01]",
        "         reason: templates are ours",
        "         hides: lodash@4.17.15 GHSA-35jh-r3h4-6jhm",
        f"expired  GHSA-xvch-5gv4-984h  [{config}:6, expires 2020-01-01]",
        "         reason: was accepted",
        "         no longer hides: minimist@1.2.0 GHSA-xvch-5gv4-984h",
        f"stale    GHSA-aaaa-bbbb-cccc  [{config}:11]",
        "         reason: nothing left",
        "1 active, 1 expired, 1 stale",
    ]
    code, out, _ = run_cli(
        capsys, "ignore", "list", str(project), "--compromised", "--db", str(database), "--format", "json"
    )
    states = json.loads(out)
    assert [(s["id"], s["state"], s["line"]) for s in states] == [
        ("CVE-2021-23337", "active", 1),
        ("GHSA-xvch-5gv4-984h", "expired", 6),
        ("GHSA-aaaa-bbbb-cccc", "stale", 11),
    ]
    assert states[0]["expires"] == "2099-01-01" and states[0]["hides"] == ["lodash@4.17.15 GHSA-35jh-r3h4-6jhm"]


def test_a_recursive_scan_judges_stale_ignores_over_every_project(tmp_path, database, capsys, monkeypatch) -> None:
    clean_environment(monkeypatch, tmp_path / "cache")
    root = tmp_path / "tree"
    root.mkdir()
    copy_handmade(root)
    two_path_project(root)
    # minimist is in handmade only: the ignore is used in one project, and so is not stale for the scan.
    write_config(
        root,
        '[[ignore]]\nid = "GHSA-xvch-5gv4-984h"\nreason = "r"\n\n'
        '[[ignore]]\nid = "GHSA-aaaa-bbbb-cccc"\nreason = "r"\n',
    )
    code, out, err = run_cli(
        capsys, "audit", str(root), "-r", "--compromised", "--db", str(database), "--format", "json", "--strict-ignores"
    )
    assert "GHSA-xvch-5gv4-984h" not in err
    assert err.count("GHSA-aaaa-bbbb-cccc hides no finding (stale)") == 1
    assert code == 1
    projects = json.loads(out)["projects"]
    minimist = [f for p in projects for f in p["findings"] if f["id"] == "GHSA-xvch-5gv4-984h"]
    assert len(minimist) == 1 and minimist[0]["ignored"] is not None


def test_a_date_expiry_is_a_date_not_a_time() -> None:
    from npmaudit.auditing.ignores import IgnoreRule

    rule = IgnoreRule(id="X", reason="r", origin="t", expires=date(2026, 3, 31))
    assert not rule.expired(datetime(2026, 3, 30, 23, 0, tzinfo=UTC))
    assert rule.expired(datetime(2026, 3, 31, 1, 0, tzinfo=UTC))
    # The moment is taken in UTC: 2026-03-31 01:00 in UTC+02:00 is still the 30th in UTC.
    from datetime import timedelta, timezone

    assert not rule.expired(datetime(2026, 3, 31, 1, 0, tzinfo=timezone(timedelta(hours=2))))


def test_npm_formats_keep_npms_report_and_do_not_count_ignored_findings(tmp_path, capsys, monkeypatch) -> None:
    """npm-json stays byte for byte npm's report; its exit code (npm's rule, meta-vulnerabilities
    included) leaves out what the ignores hide, and the dependents only vulnerable through it."""
    import gzip
    import shutil

    from conftest import FIXTURES
    from servers.registry_server import RegistryServer

    clean_environment(monkeypatch, tmp_path / "cache")
    oracle = FIXTURES / "npm_oracle"
    project = tmp_path / "project"
    shutil.copytree(
        FIXTURES / "lockfiles" / "npm" / "socketio__socket.io__packages__engine.io__examples__latency", project
    )
    database = tmp_path / "advisories.jsonl"
    database.write_text("".join((oracle / "advisories" / n).read_text() for n in ("real.jsonl", "synthetic.jsonl")))
    with gzip.open(oracle / "packuments.json.gz", "rt", encoding="utf-8") as stream:
        packuments = {name: doc for name, doc in json.load(stream).items() if doc is not None}
    with RegistryServer(packuments=packuments) as registry:
        args = ["audit", str(project), "--compromised", "--db", str(database), "--registry", registry.url]
        code, npm_report, _ = run_cli(capsys, *args, "--format", "npm-json")
        assert code == 1 and json.loads(npm_report)["metadata"]["vulnerabilities"]["total"] > 0
        findings = json.loads(run_cli(capsys, *args, "--format", "json")[1])["findings"]
        tables = [
            f'[[ignore]]\nid = "{f["id"]}"\npackage = "{f["name"]}"\nversion = "{f["version"]}"\nreason = "r"\n'
            for f in findings
        ]
        write_config(project, "\n".join(tables))
        code, out, err = run_cli(capsys, *args, "--format", "npm-json")
        assert out == npm_report  # npm's own report, unchanged
        assert code == 0, err
        # Ignore all but minimist's advisory, which npm's report lists: it (and its dependents) fail the run again.
        write_config(project, "\n".join(t for t in tables if "GHSA-vh95-rmgr-6w4m" not in t))
        assert run_cli(capsys, *args, "--format", "npm-json")[0] == 1


def test_the_python_api_judges_without_the_ignored_findings(project, database, tmp_path) -> None:
    import npmaudit
    from npmaudit.auditing.ignore_files import rules_from_flags

    settings = Settings(cache_dir=tmp_path / "c", ignores=rules_from_flags(["GHSA-xvch-5gv4-984h"]))
    report = npmaudit.audit_project(project, db=database, sources=("local",), settings=settings)
    verdict = report.verdict(policy="error", level="critical")
    # At critical: minimist's GHSA-xvch (ignored) and the malicious policycms (which it cannot hide).
    assert {(f.name, f.id) for f in verdict.failing} == {("policycms", "MAL-2023-1269")}
    assert {(f.name, f.id) for f in verdict.ignored} == {("minimist", "GHSA-xvch-5gv4-984h")}
    assert verdict.exit_code == 1
