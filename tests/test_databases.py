"""The seed's local database in every shape it comes in, its failures, and merging (newest wins)."""

from __future__ import annotations

import gzip
import json
import multiprocessing
from pathlib import Path

import pytest

from conftest import FIXTURES, load_jsonl
from npmaudit.advisories.jsondb import JsonDatabase, merge_into_json_database
from npmaudit.advisories.records import iter_records
from npmaudit.errors import InputError
from npmaudit.project.model import PackageRef

MALICIOUS = FIXTURES / "osv" / "core" / "malicious.jsonl"


@pytest.fixture
def records() -> list[dict]:
    return load_jsonl(MALICIOUS)


def _ids(path: Path) -> list[str]:
    return [record["id"] for record in iter_records(path)]


def test_every_accepted_shape_gives_the_same_records(tmp_path: Path, records: list[dict]):
    expected = [record["id"] for record in records]
    shapes = {
        "array.json": json.dumps(records),
        "vulns.json": json.dumps({"vulns": records}),
        "advisories.json": json.dumps({"advisories": records}),
        "lines.jsonl": "\n".join(json.dumps(r) for r in records) + "\n",
        "pretty-array.json": json.dumps(records, indent=2),
    }
    for name, text in shapes.items():
        (tmp_path / name).write_text(text)
        assert _ids(tmp_path / name) == expected, name
        gz = tmp_path / (name + ".gz")
        gz.write_bytes(gzip.compress(text.encode()))
        assert _ids(gz) == expected, gz.name


def test_a_single_record_file_and_a_directory_tree(tmp_path: Path, records: list[dict]):
    single = tmp_path / "one.json"
    single.write_text(json.dumps(records[0]))
    assert _ids(single) == [records[0]["id"]]
    tree = tmp_path / "osv" / "malicious" / "npm"
    for record in records:
        folder = tree / record["affected"][0]["package"]["name"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{record['id']}.json").write_text(json.dumps(record, indent=2))
    (tmp_path / "osv" / ".git").mkdir()
    (tmp_path / "osv" / ".git" / "ignored.json").write_text("not json")
    assert sorted(_ids(tmp_path / "osv")) == sorted(r["id"] for r in records)


@pytest.mark.parametrize(
    ("content", "problem", "line"),
    [
        ("", "empty file", None),
        ("   \n\n", "empty file", None),
        ('[{"id": "MAL-1"},', "invalid JSON", 1),
        ('[\n  {"id": "MAL-1"}\n  {"id": "MAL-2"}\n]', "invalid JSON", 3),
        ("not json at all", "invalid JSON", 1),
        ('{"id": "A"}\n{"id": "B"\n', "invalid JSON line", 2),
        ('{"id": "A"}\n[1]\n', "each JSON line must be one advisory object", 2),
        ("42", "top level is a int", None),
        ('{"name": "x"}', "not an advisory database", None),
        ('{"vulns": {}}', "'vulns' must be a list", None),
        ('["MAL-1"]', "advisory #1 is a str", None),
    ],
)
def test_malformed_databases_name_the_file_and_problem(tmp_path: Path, content: str, problem: str, line: int | None):
    path = tmp_path / "db.json"
    path.write_text(content)
    with pytest.raises(InputError) as caught:
        list(iter_records(path))
    assert problem in str(caught.value)
    assert str(path) in str(caught.value)
    assert caught.value.line == line
    assert "\n" not in str(caught.value)


def test_damaged_gzip_and_binary_garbage(tmp_path: Path):
    truncated = tmp_path / "db.json.gz"
    truncated.write_bytes(gzip.compress(b'[{"id": "MAL-1"}]' * 100)[:30])
    with pytest.raises(InputError, match="damaged gzip"):
        list(iter_records(truncated))
    binary = tmp_path / "db.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="not UTF-8"):
        list(iter_records(binary))


def test_a_missing_database_is_an_error_not_an_empty_one(tmp_path: Path):
    with pytest.raises(InputError, match="not found"):
        JsonDatabase(tmp_path / "missing.json")


def test_a_malformed_record_names_its_position(tmp_path: Path):
    path = tmp_path / "db.json"
    path.write_text(json.dumps([{"id": "MAL-1"}, {"summary": "no id"}]))
    with pytest.raises(InputError, match=r"advisory #2: an advisory has no string 'id'"):
        JsonDatabase(path)


def test_the_database_answers_by_package_name(records: list[dict]):
    database = JsonDatabase(MALICIOUS)
    found = database.advisories_for([PackageRef("fsevents", "1.2.10"), PackageRef("not-there", "1.0.0")])
    assert list(found) == ["fsevents"]
    assert [a.id for a in found["fsevents"]] == ["MAL-2023-462"]
    info = database.info()
    assert info.records == len(records)
    assert info.newest_modified == max(r["modified"] for r in records)


def _record(advisory_id: str, modified: str, summary: str) -> dict:
    return {"id": advisory_id, "modified": modified, "summary": summary, "affected": []}


def test_merge_keeps_the_newest_modified_and_writes_sorted(tmp_path: Path):
    path = tmp_path / "sub" / "db.json"
    first = merge_into_json_database(
        path, [_record("MAL-2", "2024-01-01T00:00:00Z", "old"), _record("MAL-1", "2024-01-01T00:00:00Z", "one")]
    )
    assert (first.added, first.updated, first.total) == (2, 0, 2)
    second = merge_into_json_database(
        path, [_record("MAL-2", "2025-01-01T00:00:00Z", "new"), _record("MAL-1", "2023-01-01T00:00:00Z", "stale")]
    )
    assert (second.added, second.updated, second.total) == (0, 1, 2)
    written = json.loads(path.read_text())
    assert [r["id"] for r in written] == ["MAL-1", "MAL-2"]
    assert {r["id"]: r["summary"] for r in written} == {"MAL-1": "one", "MAL-2": "new"}
    assert path.read_text().endswith("]\n")
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_merge_into_a_corrupt_database_fails_and_leaves_it_alone(tmp_path: Path):
    path = tmp_path / "db.json"
    path.write_text("[{")
    with pytest.raises(InputError):
        merge_into_json_database(path, [_record("MAL-1", "2024-01-01T00:00:00Z", "x")])
    assert path.read_text() == "[{"


def _writer(path: str, start: int) -> None:
    for n in range(start, start + 20):
        merge_into_json_database(Path(path), [_record(f"MAL-{n:04d}", "2024-01-01T00:00:00Z", str(n))])


def test_concurrent_writers_lose_no_record(tmp_path: Path):
    path = tmp_path / "db.json"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(path), 100 * k)) for k in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert len(json.loads(path.read_text())) == 80
