"""Every way a local database could end in "no findings" without having been looked at ends non-zero
with one line instead: a failed `db update` (a real mirror on 127.0.0.1 that refuses, errors, serves a
corrupt or empty archive), a failed or killed `db import`, an empty or never-filled store, an empty JSON
database, a stale database of each kind, and records dated in the far future ("poisoned")."""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import EXAMPLE, HANDMADE_PROD, ONLINE, isolate_environment, load_jsonl
from npmaudit.advisories.jsondb import merge_into_json_database, write_json_database
from npmaudit.advisories.mirror import import_source, update_from_mirror
from npmaudit.advisories.store import AdvisoryStore, ImportSource, filling_store, write_records
from npmaudit.cli import main
from servers import Fault, OsvServer
from servers.mirror_server import MirrorServer

ROOT = Path(__file__).resolve().parents[1]
POISON = "9999-12-31T23:59:59Z"
MINIMIST_ID = "GHSA-xvch-5gv4-984h"  # minimist 0.0.10 (the example) and 1.2.0 (handmade) are inside it


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh user: no store yet in its cache directory, no network but 127.0.0.1."""
    isolate_environment(monkeypatch, tmp_path, chdir=True)
    return tmp_path / "cache" / "advisories.sqlite"


@pytest.fixture(scope="module")
def example_records() -> list[dict]:
    return json.loads((EXAMPLE / "advisories.json").read_text())


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def assert_audit_refuses_the_missing_store(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(project), "--compromised"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "npmaudit db update" in one_line(captured.err)


# -- a failed update or import creates nothing and changes nothing ------------------------------


@pytest.mark.parametrize("failure", ["refused", "http-500", "corrupt-zip", "cut-zip", "bad-record", "empty-mirror"])
def test_a_failed_update_on_a_fresh_home_creates_no_store(
    failure: str, home: Path, example_project: Path, example_records: list[dict], capsys
):
    records = copy.deepcopy(example_records)
    if failure == "bad-record":
        records[5]["affected"] = "not a list"
    with MirrorServer([] if failure == "empty-mirror" else records) as mirror:
        url = f"http://127.0.0.1:{closed_port()}/npm" if failure == "refused" else mirror.mirror_url
        if failure == "http-500":
            mirror.add_fault(Fault("/npm/all.zip", "status", 500))
        elif failure == "corrupt-zip":
            mirror.add_fault(Fault("/npm/all.zip", "body", body=b"PK\x03\x04" + b"\x00" * 200))
        elif failure == "cut-zip":
            mirror.add_fault(Fault("/npm/all.zip", "drop"))
        assert main(["db", "update", "--mirror", url]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert one_line(captured.err).startswith(f"npmaudit: error: {url}")
    assert not home.exists()
    assert leftovers(home.parent) == []  # no temporary store, no half-downloaded archive
    assert_audit_refuses_the_missing_store(example_project, capsys)


def test_a_failed_update_leaves_a_filled_store_exactly_as_it_was(home: Path, example_records: list[dict], capsys):
    assert main(["db", "import", str(EXAMPLE / "advisories.json")]) == 0
    assert main(["db", "info", "--format", "json"]) == 0
    capsys.readouterr()
    before = home.read_bytes()
    with MirrorServer(example_records) as mirror:
        mirror.add_fault(Fault("/npm/all.zip", "body", body=b"PK\x03\x04 cut short"))
        assert main(["db", "update", "--mirror", mirror.mirror_url]) == 3
    assert "damaged zip archive" in one_line(capsys.readouterr().err)
    assert main(["db", "info", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["synced"] is None and info["records"] == len(example_records)
    with AdvisoryStore.open(home) as store:
        store.fold_wal()
    assert home.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("notes.txt", "these are not advisories\n", "invalid JSON"),
        ("empty.json", "[]", "no advisory records: nothing to import"),
        ("wrapped.json", '{"vulns": []}', "no advisory records: nothing to import"),
        (
            "poisoned.json",
            json.dumps([{"id": "MAL-0000-1", "modified": POISON, "affected": []}]),
            "no record could be imported",
        ),
    ],
)
def test_a_failed_import_on_a_fresh_home_creates_no_store(
    name: str, content: str, problem: str, home: Path, tmp_path: Path, example_project: Path, capsys
):
    source = tmp_path / name
    source.write_text(content)
    assert main(["db", "import", str(source)]) == 2
    assert problem in one_line(capsys.readouterr().err)
    assert not home.exists() and leftovers(home.parent) == []
    assert_audit_refuses_the_missing_store(example_project, capsys)


KILLED_IMPORT = """
import sys, time
from pathlib import Path
from npmaudit.advisories.mirror import import_source
from npmaudit.advisories.store import filling_store

def progress(task, done, total):
    print("progress", done, flush=True)
    time.sleep(3600)  # hold the unfinished first fill until the test kills us

with filling_store(Path(sys.argv[1])) as store:
    store.merge([import_source(Path(sys.argv[2]))], progress=progress)
"""


def test_a_killed_first_import_leaves_no_store_and_the_next_import_cleans_up(
    home: Path, tmp_path: Path, example_records: list[dict], capsys
):
    many = []
    for copy_number in range(120):  # enough records to reach the first progress report (5000)
        for record in example_records:
            clone = copy.deepcopy(record)
            clone["id"] = f"{record['id']}-copy{copy_number}"
            many.append(clone)
    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps(r) + "\n" for r in many))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_IMPORT, str(home), str(big)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().startswith("progress 5000")  # type: ignore[union-attr]
        assert not home.exists()  # mid-fill: nothing an audit could open
        assert any(".filling-" in name for name in leftovers(home.parent))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()  # type: ignore[union-attr]
    assert not home.exists()
    assert main(["db", "import", str(EXAMPLE / "advisories.json")]) == 0
    capsys.readouterr()
    assert leftovers(home.parent) == ["advisories.sqlite"]  # the killed fill's temporary files are gone
    with AdvisoryStore.open(home) as store:
        assert store.stats().records == len(example_records)


# -- auditing against nothing -------------------------------------------------------------------


def test_an_empty_store_is_an_error_for_every_kind_of_run(home: Path, example_project: Path, capsys):
    # What a failed `db update` of an earlier version left behind: a store that was never filled.
    AdvisoryStore.open(home, create=True).close()
    for args in (["--compromised"], ["--offline"], ["--compromised", "--format", "json"]):
        assert main(["audit", str(example_project), *args]) == 2
        captured = capsys.readouterr()
        line = one_line(captured.err)
        assert captured.out == "" and "empty advisory store" in line and "`npmaudit db update`" in line
    # A failed update keeps it as it was: still no database.
    assert main(["db", "update", "--mirror", f"http://127.0.0.1:{closed_port()}/npm"]) == 3
    assert "connection refused" in one_line(capsys.readouterr().err).lower()  # the mirror goes through HttpClient
    assert main(["audit", str(example_project), "--compromised"]) == 2
    assert "empty advisory store" in one_line(capsys.readouterr().err)
    assert main(["db", "info"]) == 0
    assert "updated     never: not a database" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "content"),
    [("array.json", "[]"), ("wrapped.json", '{"vulns": []}'), ("poisoned.json", None), ("lines.jsonl", None)],
)
def test_a_json_database_without_records_is_an_error(
    name: str, content: str | None, tmp_path: Path, example_project: Path, capsys
):
    database = tmp_path / name
    if name == "poisoned.json":  # every record refused: nothing left to audit against
        database.write_text(json.dumps([{"id": "MAL-0000-1", "modified": POISON, "affected": []}]))
    elif name == "lines.jsonl":
        database.write_text("\n\n")
    else:
        database.write_text(content or "")
    assert main(["audit", str(example_project), "--compromised", "--db", str(database)]) == 2
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert captured.out == "" and line.startswith(f"npmaudit: error: {database}")
    if name != "lines.jsonl":
        assert "holds no advisory records" in line and "npmaudit db update" in line


# -- one definition of age, for every kind of local source ---------------------------------------


def dated(records: list[dict], days_ago: float) -> list[dict]:
    """The records, shifted so that the newest was modified ``days_ago`` days before now."""
    newest = max(datetime.fromisoformat(r["modified"].replace("Z", "+00:00")) for r in records)
    shift = datetime.now(UTC) - timedelta(days=days_ago) - newest
    moved = copy.deepcopy(records)
    for record in moved:
        record["modified"] = stamp(datetime.fromisoformat(record["modified"].replace("Z", "+00:00")) + shift)
    return moved


def test_a_store_synced_from_a_mirror_is_as_old_as_its_last_sync(
    home: Path, example_project: Path, example_records: list[dict], capsys
):
    year_old = dated(example_records, 365)
    with MirrorServer(year_old) as mirror:
        ten_days_ago = stamp(datetime.now(UTC) - timedelta(days=10))
        with filling_store(home) as store:
            update_from_mirror(store, mirror.mirror_url, now=ten_days_ago)
        assert main(["audit", str(example_project), "--compromised", "--max-db-age", "7"]) == 3
        line = one_line(capsys.readouterr().err)
        assert f"is 10.0 days old (last synced {ten_days_ago})" in line and "npmaudit db update" in line
        # Without --max-db-age: the findings, and a warning that the store is more than a week old.
        assert main(["audit", str(example_project), "--compromised"]) == 1
        assert "10.0 days old (last synced" in one_line(capsys.readouterr().err)
        # Synchronised just now: current, however old its newest record is.
        assert main(["db", "update", "--mirror", mirror.mirror_url]) == 0
        capsys.readouterr()
        assert main(["audit", str(example_project), "--compromised", "--max-db-age", "1", "--format", "json"]) == 1
        captured = capsys.readouterr()
    assert captured.err == ""
    (source,) = json.loads(captured.out)["sources"]
    assert source["dataAge"]["basis"] == "last-sync" and source["dataAge"]["days"] < 0.01
    assert source["newestModified"] == max(r["modified"] for r in year_old)
    assert main(["audit", str(example_project), "--compromised"]) == 1
    text = capsys.readouterr().out
    assert re.search(r"source: sqlite .* \(46 records; last synced \S+, 0\.0 days old; newest record modified", text)
    assert main(["db", "info"]) == 0
    info = capsys.readouterr().out
    assert "synced      20" in info and "age         0.0 days (last synced" in info
    assert f"newest      {max(r['modified'] for r in year_old)}" in info


def test_an_imported_store_is_as_old_as_the_file_it_came_from(
    home: Path, tmp_path: Path, example_project: Path, example_records: list[dict], capsys
):
    database = tmp_path / "forty-days.json"
    write_json_database(database, dated(example_records, 40))
    assert main(["db", "import", str(database)]) == 0  # imported just now: still forty days old
    capsys.readouterr()
    ages = []
    for db in ([], ["--db", str(database)]):
        assert main(["audit", str(example_project), "--compromised", "--max-db-age", "30", *db]) == 3
        line = one_line(capsys.readouterr().err)
        ages.append(re.search(r"is ([\d.]+) days old \(newest record modified", line).group(1))  # type: ignore[union-attr]
    assert ages == ["40.0", "40.0"]
    # Without --max-db-age, both warn, and the reports say the same age.
    for db in ([], ["--db", str(database)]):
        assert main(["audit", str(example_project), "--compromised", "--format", "json", *db]) == 1
        captured = capsys.readouterr()
        assert "40.0 days old (newest record modified" in one_line(captured.err)
        (source,) = json.loads(captured.out)["sources"]
        assert source["dataAge"]["basis"] == "newest-modified" and round(source["dataAge"]["days"], 1) == 40.0


# -- poisoned timestamps --------------------------------------------------------------------------


def poisoned_copy(record: dict) -> dict:
    clone = copy.deepcopy(record)
    clone.update(modified=POISON, withdrawn=POISON, summary="withdrawn (forged)")
    return clone


def summaries(capsys, project: Path, *args: str) -> dict[str, str]:
    assert main(["audit", str(project), "--compromised", "--format", "json", *args]) == 1
    return {f["id"]: f["summary"] for f in json.loads(capsys.readouterr().out)["findings"]}


def test_a_poisoned_record_is_refused_and_the_genuine_one_wins(
    home: Path, tmp_path: Path, example_project: Path, example_records: list[dict], capsys
):
    assert main(["db", "import", str(EXAMPLE / "advisories.json")]) == 0
    genuine = next(r for r in example_records if r["id"] == MINIMIST_ID)
    poisoned = tmp_path / "poisoned.json"
    poisoned.write_text(json.dumps([poisoned_copy(genuine)]))
    capsys.readouterr()
    assert main(["db", "import", str(poisoned)]) == 0
    captured = capsys.readouterr()
    assert f"{poisoned.resolve()}: refused 1 record with an impossible time" in one_line(captured.err)
    assert f"{MINIMIST_ID} ('modified' {POISON} is more than a day in the future)" in captured.err
    assert "1 records, 0 added, 0 updated" in captured.out
    assert MINIMIST_ID in summaries(capsys, example_project)  # still matches
    newer = copy.deepcopy(genuine)
    newer.update(modified="2026-01-01T00:00:00Z", summary="the genuine newer record")
    newer_file = tmp_path / "genuine.json"
    newer_file.write_text(json.dumps([newer]))
    assert main(["db", "import", str(newer_file)]) == 0
    assert "1 records, 0 added, 1 updated" in capsys.readouterr().out
    assert summaries(capsys, example_project)[MINIMIST_ID] == "the genuine newer record"


def test_a_store_written_before_the_rule_gives_way_to_the_genuine_record(
    home: Path, example_project: Path, example_records: list[dict], capsys
):
    write_records(home, example_records, location="seed", kind="file")
    genuine = next(r for r in example_records if r["id"] == MINIMIST_ID)
    with AdvisoryStore.open(home, create=True) as store:  # as an earlier version stored it
        store.merge([ImportSource("old", "file", [(poisoned_copy(genuine), None, 1)])], now="9999-12-31T00:00:00Z")
    assert MINIMIST_ID not in summaries(capsys, example_project)  # hidden by the forged withdrawal
    result = write_records(home, [genuine], location="refresh", kind="file")
    assert (result.added, result.changed) == (0, 1)
    assert MINIMIST_ID in summaries(capsys, example_project)


def test_a_poisoned_local_copy_does_not_beat_the_live_osv_answer(
    tmp_path: Path, online_osv_records, monkeypatch: pytest.MonkeyPatch, capsys
):
    (tmp_path / "no-npm").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "no-npm"))  # the registry comes from configuration only
    project = tmp_path / "handmade"
    project.mkdir()
    for name in ("package.json", "package-lock.json"):
        (project / name).write_bytes((ONLINE / "projects" / "handmade" / name).read_bytes())
    genuine = next(r for r in online_osv_records if r["id"] == MINIMIST_ID)
    unrelated = next(r for r in load_jsonl(ONLINE / "npm-ghsa.jsonl.gz") if r["id"] != MINIMIST_ID)
    database = tmp_path / "project-db.json"
    database.write_text(json.dumps([poisoned_copy(genuine), unrelated]))
    with OsvServer(online_osv_records) as osv:
        code = main(["audit", str(project), "--db", str(database), "--osv-url", osv.url, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 1
    pairs = {(f["name"], f["id"]) for f in json.loads(captured.out)["findings"]}
    assert ("minimist", MINIMIST_ID) in pairs and pairs >= HANDMADE_PROD
    assert f"refused 1 record with an impossible time, kept out of the database: {MINIMIST_ID}" in captured.err


def test_a_far_future_record_does_not_make_a_json_database_fresh(
    tmp_path: Path, example_project: Path, example_records: list[dict], capsys
):
    database = tmp_path / "db.json"
    database.write_text(json.dumps([*example_records, {"id": "GHSA-zzzz-zzzz-zzzz", "modified": POISON}]))
    assert main(["audit", str(example_project), "--compromised", "--db", str(database), "--max-db-age", "1"]) == 3
    line = one_line(capsys.readouterr().err)
    assert "days old (newest record modified 2025-11-04T16:42:14Z), older than --max-db-age 1" in line
    # Without a limit: the findings, the refused record named, and the age warning.
    assert main(["audit", str(example_project), "--compromised", "--db", str(database)]) == 1
    refused, stale = capsys.readouterr().err.strip().splitlines()
    assert "refused 1 record" in refused and f"GHSA-zzzz-zzzz-zzzz ('modified' {POISON}" in refused
    assert "days old (newest record modified 2025-11-04T16:42:14Z)" in stale


def test_writing_back_replaces_a_poisoned_project_copy(tmp_path: Path, example_records: list[dict]):
    genuine = next(r for r in example_records if r["id"] == MINIMIST_ID)
    database = tmp_path / "project-db.json"
    database.write_text(json.dumps([poisoned_copy(genuine)]))
    result = merge_into_json_database(database, [genuine, poisoned_copy(example_records[0])])
    assert (result.added, result.updated) == (0, 1)
    assert [r.key for r in result.refused] == [example_records[0]["id"]]
    assert json.loads(database.read_text()) == [genuine]


# -- --write: nothing left beside the database, and the usual file mode ----------------------------


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_write_leaves_no_lock_file_and_creates_the_database_with_the_umask(
    umask: int, mode: int, tmp_path: Path, example_project: Path, capsys
):
    target = example_project / "security" / "advisories.json"
    previous = os.umask(umask)
    try:
        code = main(
            [
                "audit",
                str(example_project),
                "--compromised",
                "--db",
                str(EXAMPLE / "advisories.json"),
                "--write",
                str(target),
            ]
        )
    finally:
        os.umask(previous)
    assert code == 1 and "merged" in capsys.readouterr().err
    assert leftovers(target.parent) == ["advisories.json"]
    assert target.stat().st_mode & 0o777 == mode
    # Rewriting keeps the mode someone chose.
    target.chmod(0o640)
    merge_into_json_database(target, [{"id": "GHSA-test-new", "modified": "2026-01-01T00:00:00Z", "affected": []}])
    assert target.stat().st_mode & 0o777 == 0o640 and leftovers(target.parent) == ["advisories.json"]


# -- progress -----------------------------------------------------------------------------------------


def test_update_reports_progress_with_totals(home: Path, example_records: list[dict]):
    calls: list[tuple[str, int, int | None]] = []
    with MirrorServer(example_records) as mirror, filling_store(home) as store:
        update_from_mirror(
            store, mirror.mirror_url, progress=lambda task, done, total: calls.append((task, done, total))
        )
        archive_size = len(mirror.file("/npm/all.zip") or b"")
    downloads = [c for c in calls if c[0].startswith("downloading ")]
    imports = [c for c in calls if c[0].startswith("importing ")]
    assert downloads[-1][1:] == (archive_size, archive_size)
    assert imports[-1][1:] == (len(example_records), len(example_records))
    # A local import knows no total in advance, and says when it is done.
    calls.clear()
    with filling_store(home) as store:
        store.merge([import_source(EXAMPLE / "advisories.json")], progress=lambda *c: calls.append(c))
    assert calls[-1][1:] == (len(example_records), len(example_records))


PTY_UPDATE = """
import os, pty, sys
from npmaudit.cli import main
controller, terminal = pty.openpty()
os.dup2(terminal, 2)
code = main(["db", "update", "--mirror", sys.argv[1]])
sys.stderr.flush()
os.close(terminal)
os.close(2)
seen = b""
while True:
    try:
        chunk = os.read(controller, 65536)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
print("RESULT", code, repr(seen.decode()))
"""


@pytest.mark.parametrize("no_color", [False, True])
def test_update_shows_progress_on_a_terminal_unless_no_color(
    no_color: bool, tmp_path: Path, example_records: list[dict]
):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if no_color:
        env["NO_COLOR"] = "1"
    with MirrorServer(example_records) as mirror:
        completed = subprocess.run(
            [sys.executable, "-c", PTY_UPDATE, mirror.mirror_url], env=env, capture_output=True, text=True, timeout=60
        )
    _, code, shown = completed.stdout.splitlines()[-1].split(" ", 2)
    assert code == "0", completed.stderr
    if no_color:
        assert "npmaudit: downloading" not in shown
    else:
        assert "npmaudit: downloading" in shown and "npmaudit: importing" in shown
        assert shown.rstrip("'\n").endswith("\\x1b[2K")  # the line is cleared when the work ends
