"""Real processes against one store and one JSON database: concurrent `db import`, `audit
--write-cache` and `--write` lose no record and corrupt nothing; an import killed with SIGKILL in
the middle of its transaction leaves the store exactly as it was, and a writer waiting behind it
then proceeds."""

from __future__ import annotations

import copy
import gzip
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from npmaudit.advisories.jsondb import merge_records, write_json_database
from npmaudit.advisories.mirror import import_source
from npmaudit.advisories.store import AdvisoryStore, export_store, write_records

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "osv" / "store"
EXAMPLE = ROOT / "examples" / "engine-io-latency"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and fcntl locks")

# Each child waits for the same start time, so they really run at once.
PRELUDE = "import os, sys, time; time.sleep(max(0.0, float(os.environ['GO']) - time.time()))\n"
CLI = PRELUDE + "from npmaudit.cli import main\nsys.exit(main(sys.argv[1:]))\n"
JSON_WRITER = PRELUDE + (
    "import json\nfrom pathlib import Path\nfrom npmaudit.advisories.jsondb import merge_into_json_database\n"
    "merge_into_json_database(Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()))\n"
)


def raw(name: str) -> list[dict]:
    with gzip.open(FIXTURES / name, "rt", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def child_env(tmp_path: Path, start: float) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GO=str(start),
        NPMAUDIT_CACHE_DIR=str(tmp_path / "cache"),
        PYTHONPATH=str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", ""),
    )
    for name in ("NPMAUDIT_DB", "NPMAUDIT_POLICY", "NPMAUDIT_AUDIT_LEVEL", "NPMAUDIT_MAX_DB_AGE", "NODE_ENV"):
        env.pop(name, None)
    return env


def exported(path: Path, tmp_path: Path) -> str:
    out = tmp_path / "export-check.json"
    with AdvisoryStore.open(path) as store:
        export_store(store, out)
    return out.read_text()


def reference(records: list[dict], tmp_path: Path) -> str:
    out = tmp_path / "reference-check.json"
    write_json_database(out, records)
    return out.read_text()


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def test_concurrent_imports_write_cache_and_write_lose_nothing(tmp_path: Path):
    records = raw("npm-malicious-sample.jsonl.gz") + raw("npm-ghsa.jsonl.gz") + raw("npm-nodesecurity.jsonl.gz")
    chunks = [records[i::4] for i in range(4)]
    import_files = []
    for index, chunk in enumerate(chunks):
        path = tmp_path / f"chunk{index}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in chunk))
        import_files.append(path)
    # The JSON writers each bring their own records; the audits bring the records they matched.
    json_parts = [records[i::30][:20] for i in range(3)]
    json_files = []
    for index, part in enumerate(json_parts):
        path = tmp_path / f"part{index}.json"
        path.write_text(json.dumps(part))
        json_files.append(path)
    project = tmp_path / "project"
    project.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(EXAMPLE / name, project / name)
    shared_json = tmp_path / "project-advisories.json"

    start = time.time() + 3.0
    env = child_env(tmp_path, start)
    commands = [[sys.executable, "-c", CLI, "db", "import", str(f)] for f in import_files]
    audit = ["audit", str(project), "--compromised", "--db", str(EXAMPLE / "advisories.json"), "--policy", "warn"]
    commands += [[sys.executable, "-c", CLI, *audit, "--write-cache", "--write", str(shared_json)] for _ in range(2)]
    commands += [[sys.executable, "-c", JSON_WRITER, str(shared_json), str(f)] for f in json_files]
    children = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in commands]
    results = [(child.wait(timeout=120), child.stderr.read().decode()) for child in children]  # type: ignore[union-attr]
    for child in children:
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]
    assert [code for code, _ in results] == [0] * len(commands), results

    # The oracle for the merged content: the JSON database's own merge (newest 'modified' wins).
    example = json.loads((EXAMPLE / "advisories.json").read_text())
    audit_code = subprocess.run(
        [sys.executable, "-c", CLI, *audit, "--format", "json"], env=child_env(tmp_path, 0), capture_output=True
    )
    report = json.loads(audit_code.stdout)
    matched_ids = {f["id"] for f in report["findings"]} | {a for f in report["findings"] for a in f["aliases"]}
    matched = [r for r in example if r["id"] in matched_ids]
    assert matched

    store = tmp_path / "cache" / "advisories.sqlite"
    expected_store, _, _ = merge_records([], [*records, *matched])
    assert integrity(store) == "ok"
    assert exported(store, tmp_path) == reference(list(expected_store.values()), tmp_path)

    expected_json, _, _ = merge_records([], [*matched, *(r for part in json_parts for r in part)])
    assert json.loads(shared_json.read_text()) == json.loads(reference(list(expected_json.values()), tmp_path))


KILL_CHILD = """
import json, sys, time
from pathlib import Path
from npmaudit.advisories.mirror import import_source
from npmaudit.advisories.store import AdvisoryStore

def progress(task, done, total):
    print("progress", done, flush=True)
    time.sleep(3600)  # hold the open transaction until the test kills us

with AdvisoryStore.open(Path(sys.argv[1]), create=True) as store:
    store.merge([import_source(Path(sys.argv[2]))], progress=progress)
"""

WAITING_WRITER = """
import json, sys
from pathlib import Path
from npmaudit.advisories.store import write_records
print("started", flush=True)
result = write_records(Path(sys.argv[1]), [json.loads(Path(sys.argv[2]).read_text())], location="waiting")
print(result.added, flush=True)
"""


def scaled_copies(records: list[dict], count: int) -> list[dict]:
    """Renamed copies (new ids and package names), as the project's scale-corpus tool makes them."""
    copies = []
    k = 0
    while len(copies) < count:
        k += 1
        for record in records:
            clone = copy.deepcopy(record)
            clone["id"] = f"{record['id']}-S{k}"
            clone["aliases"] = []
            for entry in clone.get("affected", []):
                entry["package"]["name"] = f"{entry['package']['name']}-s{k}"
            copies.append(clone)
    return copies[:count]


def test_sigkill_in_the_middle_of_an_import_leaves_the_store_as_before(tmp_path: Path):
    store = tmp_path / "store.sqlite"
    base = raw("npm-ghsa.jsonl.gz")
    write_records(store, base, kind="file", location="base")
    with AdvisoryStore.open(store) as opened:
        before_stats = opened.stats()
    before = exported(store, tmp_path)
    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps(r) + "\n" for r in scaled_copies(raw("npm-malicious-sample.jsonl.gz"), 12000)))
    newcomer = scaled_copies(raw("npm-nodesecurity.jsonl.gz")[:1], 1)[0]
    newcomer_file = tmp_path / "newcomer.json"
    newcomer_file.write_text(json.dumps(newcomer))

    wal = tmp_path / "store.sqlite-wal"
    wal_before = wal.stat().st_size if wal.exists() else 0
    env = child_env(tmp_path, 0)
    importer = subprocess.Popen(
        [sys.executable, "-c", KILL_CHILD, str(store), str(big)], env=env, stdout=subprocess.PIPE, text=True
    )
    writer = None
    try:
        line = importer.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("progress 5000"), line
        # Mid-transaction: rows that did not fit SQLite's page cache are already in the WAL,
        # uncommitted (the file did not exist before: the last close checkpoints and removes it).
        assert wal_before == 0
        assert (tmp_path / "store.sqlite-wal").stat().st_size > 100_000
        # Readers are not blocked by the open write transaction, and see the committed state.
        with AdvisoryStore.open(store) as reader:
            assert reader.stats().records == len(base)
        # A second writer waits for the lock instead of failing.
        writer = subprocess.Popen(
            [sys.executable, "-c", WAITING_WRITER, str(store), str(newcomer_file)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout.readline().strip() == "started"  # type: ignore[union-attr]
        time.sleep(1.0)
        assert writer.poll() is None  # still waiting behind the importer
    finally:
        os.kill(importer.pid, signal.SIGKILL)
        importer.wait(timeout=30)
        importer.stdout.close()  # type: ignore[union-attr]
    assert importer.returncode == -signal.SIGKILL
    assert writer is not None
    out, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0 and out.strip() == "1"

    assert integrity(store) == "ok"
    expected, _, _ = merge_records([], [*base, newcomer])
    assert exported(store, tmp_path) == reference(list(expected.values()), tmp_path)
    with AdvisoryStore.open(store) as opened:
        after_stats = opened.stats()
        assert after_stats.records == before_stats.records + 1
        assert after_stats.updated == before_stats.updated  # the killed import never happened
        # And the store takes the same import again, whole.
        result = opened.merge([import_source(big)])
    assert result.added == 12000
    assert before != exported(store, tmp_path)
