"""`npmaudit db import / export / info / update` and the audit's store options (--write-cache,
--max-db-age) end to end through the command line, on real records and the bundled example."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import EXAMPLE, load_jsonl
from npmaudit.advisories.jsondb import write_json_database
from npmaudit.advisories.source import SourceInfo
from npmaudit.auditing.freshness import age_days, check_freshness
from npmaudit.cli import main
from npmaudit.errors import SourceError

FIXTURES = Path(__file__).parent / "fixtures" / "osv" / "store"
SOURCES = [FIXTURES / n for n in ("npm-malicious-sample.jsonl.gz", "npm-ghsa.jsonl.gz", "npm-nodesecurity.jsonl.gz")]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in (
        "NPMAUDIT_POLICY",
        "NPMAUDIT_AUDIT_LEVEL",
        "NPMAUDIT_DB",
        "NODE_ENV",
        "NO_COLOR",
        "NPMAUDIT_MIRROR_URL",
        "NPMAUDIT_MAX_DB_AGE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "cache" / "advisories.sqlite"


def test_import_info_export_round_trip(environment: Path, tmp_path: Path, capsys):
    assert main(["db", "import", *map(str, SOURCES)]) == 0
    out = capsys.readouterr().out
    records = [r for path in SOURCES for r in load_jsonl(path)]
    assert f"{environment}: {len(records):,} records" in out
    assert main(["db", "info", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["records"] == len(records)
    assert info["withdrawn"] == sum(1 for r in records if r.get("withdrawn"))
    assert info["newestModified"] == max(r["modified"] for r in records)
    assert {s["location"] for s in info["sources"]} == {str(p.resolve()) for p in SOURCES}
    assert all(s["updated"] == info["updated"] for s in info["sources"])
    assert main(["db", "info"]) == 0
    text = capsys.readouterr().out
    assert f"records     {len(records):,}:" in text and "updated     " in text and "sources" in text

    target = tmp_path / "out" / "compromised_packages.json"
    assert main(["db", "export", str(target)]) == 0
    reference = tmp_path / "reference.json"
    write_json_database(reference, records)
    assert target.read_text() == reference.read_text()
    assert main(["db", "export", str(tmp_path / "out.jsonl"), "--format", "jsonl"]) == 0
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == len(records)


def test_db_path_from_flag_env_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    flag_store = tmp_path / "flag.sqlite"
    assert main(["db", "import", str(SOURCES[1]), "--db", str(flag_store)]) == 0
    assert flag_store.exists()
    monkeypatch.setenv("NPMAUDIT_DB", str(tmp_path / "env.sqlite"))
    assert main(["db", "import", str(SOURCES[2])]) == 0
    assert (tmp_path / "env.sqlite").exists()
    monkeypatch.delenv("NPMAUDIT_DB")
    (tmp_path / ".npmaudit.toml").write_text('db = "configured.sqlite"\n')
    assert main(["db", "import", str(SOURCES[2])]) == 0
    assert (tmp_path / "configured.sqlite").exists()
    capsys.readouterr()


def test_missing_store_and_json_path_errors(environment: Path, tmp_path: Path, capsys):
    assert main(["db", "info"]) == 2
    err = capsys.readouterr().err
    assert str(environment) in err and "npmaudit db update" in err
    assert main(["db", "info", "--db", str(EXAMPLE / "advisories.json")]) == 2
    assert "not a SQLite store" in capsys.readouterr().err
    assert main(["db", "import", str(tmp_path / "nothing.json")]) == 2
    assert "nothing.json: no such file" in capsys.readouterr().err
    assert not environment.exists()  # a failed import creates no store
    assert main(["db"]) == 2


def test_audit_uses_the_default_store_and_reports_its_age(environment: Path, example_project: Path, capsys):
    assert main(["db", "import", str(EXAMPLE / "advisories.json")]) == 0
    capsys.readouterr()
    code = main(["audit", str(example_project), "--compromised", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["sources"][0]["kind"] == "sqlite"
    assert report["sources"][0]["location"] == str(environment)
    updated = datetime.fromisoformat(report["sources"][0]["updated"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - updated).total_seconds()) < 120
    # Same findings as the JSON database it was imported from.
    main(["audit", str(example_project), "--compromised", "--format", "json", "--db", str(EXAMPLE / "advisories.json")])
    from_json = json.loads(capsys.readouterr().out)
    assert [(f["name"], f["version"], f["id"]) for f in report["findings"]] == [
        (f["name"], f["version"], f["id"]) for f in from_json["findings"]
    ]


def dated_copy(tmp_path: Path, days_ago: float) -> Path:
    """The example database with its newest record modified ``days_ago`` days before now."""
    records = json.loads((EXAMPLE / "advisories.json").read_text())
    newest = max(records, key=lambda r: r["modified"])
    newest["modified"] = (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path / f"advisories-{days_ago:g}-days.json"
    write_json_database(path, records)
    return path


def test_max_db_age_fails_closed_on_a_stale_store(environment: Path, example_project: Path, tmp_path: Path, capsys):
    # Imported today, but its newest record is ten days old: the store is ten days old, as the file is.
    database = dated_copy(tmp_path, 10)
    assert main(["db", "import", str(database)]) == 0
    capsys.readouterr()
    assert main(["audit", str(example_project), "--compromised", "--max-db-age", "7"]) == 3
    captured = capsys.readouterr()
    assert "10.0 days old (newest record modified " in captured.err and captured.out == ""
    assert main(["audit", str(example_project), "--compromised", "--db", str(database), "--max-db-age", "7"]) == 3
    assert "10.0 days old (newest record modified " in capsys.readouterr().err
    assert main(["audit", str(example_project), "--compromised", "--max-db-age", "11", "--policy", "warn"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["audit", str(example_project), "--compromised", "--max-db-age", "-1"])
    assert exited.value.code == 2
    assert "argument --max-db-age: expected a number of days >= 0, not '-1'" in capsys.readouterr().err


def test_max_db_age_from_env_and_config(environment: Path, example_project: Path, monkeypatch, capsys):
    assert main(["db", "import", str(EXAMPLE / "advisories.json")]) == 0
    with sqlite3.connect(environment) as db:
        db.execute("UPDATE meta SET value = '2020-01-01T00:00:00Z' WHERE key = 'updated'")
    monkeypatch.setenv("NPMAUDIT_MAX_DB_AGE", "30")
    assert main(["audit", str(example_project), "--compromised"]) == 3
    monkeypatch.delenv("NPMAUDIT_MAX_DB_AGE")
    (example_project / ".npmaudit.toml").write_text("max-db-age = 30\n")
    assert main(["audit", str(example_project), "--compromised"]) == 3
    (example_project / ".npmaudit.toml").unlink()
    assert main(["audit", str(example_project), "--compromised", "--policy", "warn"]) == 0


def test_freshness_rules():
    now = datetime(2026, 1, 10, tzinfo=UTC)
    synced = SourceInfo(
        "sqlite", "s", 1, "2025-01-01T00:00:00Z", {"updated": "2026-01-09T00:00:00Z", "synced": "2026-01-09T00:00:00Z"}
    )
    imported = SourceInfo("sqlite", "i", 1, "2026-01-01T00:00:00Z", {"updated": "2026-01-09T12:00:00Z"})
    json_db = SourceInfo("json-db", "j", 1, "2026-01-01T00:00:00Z")
    online = SourceInfo("osv-api", "https://api")
    # Synchronised from a mirror: the last sync; imported or read from a file: the newest record.
    assert age_days(synced, now) == 1.0 and age_days(imported, now) == 9.0 and age_days(json_db, now) == 9.0
    assert age_days(online, now) is None
    assert check_freshness([synced, online], 1.0, now) == []
    assert check_freshness([synced], None, now) == []
    with pytest.raises(SourceError, match=r"9\.0 days old \(newest record modified 2026-01-01T00:00:00Z\)"):
        check_freshness([synced, json_db], 5, now)
    with pytest.raises(SourceError, match=r"9\.0 days old"):
        check_freshness([imported], 5, now)
    with pytest.raises(SourceError, match="age is unknown"):
        check_freshness([SourceInfo("json-db", "empty.json", 0)], 5, now)
    # Older than a week without --max-db-age: a warning, not an error; a limit replaces the warning.
    (warning,) = check_freshness([synced, json_db], None, now)
    assert warning.startswith("j: the advisory database is 9.0 days old (newest record modified")
    assert check_freshness([json_db], 10, now) == []
    # A time more than a day ahead cannot be true: it tells no age.
    future = SourceInfo("json-db", "f", 1, "2026-01-12T00:00:00Z")
    assert age_days(future, now) is None and age_days(SourceInfo("json-db", "g", 1, "2026-01-10T23:00:00Z"), now) == 0
    with pytest.raises(SourceError, match="age is unknown"):
        check_freshness([future], 1, now)


def test_write_cache_merges_matched_records_into_the_shared_store(environment: Path, example_project: Path, capsys):
    code = main(
        [
            "audit",
            str(example_project),
            "--compromised",
            "--db",
            str(EXAMPLE / "advisories.json"),
            "--write-cache",
            "--format",
            "json",
        ]
    )
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 1 and f"into {environment}" in captured.err
    matched = {r["id"] for f in report["findings"] for r in [f, *({"id": a} for a in f.get("aliases", []))]}
    assert main(["db", "export", str(environment.parent / "out.json")]) == 0
    cached = {r["id"] for r in json.loads((environment.parent / "out.json").read_text())}
    assert {f["id"] for f in report["findings"]} <= cached <= matched
    # The cache alone is not a database (it holds only what matched before): auditing against it fails.
    capsys.readouterr()
    assert main(["audit", str(example_project), "--compromised", "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "never filled" in captured.err and "npmaudit db update" in captured.err
    assert main(["db", "info", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["updated"] is None and info["filled"] is False  # write-cache does not fill the store
    assert [s["kind"] for s in info["sources"]] == ["write-cache"]
    # Once filled, it gives the same findings as the database they came from.
    assert main(["db", "import", str(EXAMPLE / "advisories.json")]) == 0
    capsys.readouterr()
    main(["audit", str(example_project), "--compromised", "--format", "json"])
    again = json.loads(capsys.readouterr().out)
    assert [(f["name"], f["version"], f["id"]) for f in again["findings"]] == [
        (f["name"], f["version"], f["id"]) for f in report["findings"]
    ]


def test_update_through_the_cli_from_a_file_mirror(environment: Path, tmp_path: Path, capsys):
    import zipfile

    records = load_jsonl(SOURCES[1])
    mirror = tmp_path / "mirror" / "npm"
    mirror.mkdir(parents=True)
    with zipfile.ZipFile(mirror / "all.zip", "w") as bundle:
        for record in records:
            bundle.writestr(f"{record['id']}.json", json.dumps(record))
    listing = sorted(((r["modified"], r["id"]) for r in records), reverse=True)
    (mirror / "modified_id.csv").write_text("".join(f"{m},{i}\n" for m, i in listing))
    assert main(["db", "update", "--mirror", mirror.as_uri()]) == 0
    assert f"all.zip: {len(records):,} added" in capsys.readouterr().out
    assert main(["db", "update", "--mirror", mirror.as_uri()]) == 0
    assert "0 changed records: 0 added, 0 updated" in capsys.readouterr().out
