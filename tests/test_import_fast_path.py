"""The import's fast path gives what the slow one gave: records checked without building the model
(model.index_fields) are refused and indexed exactly as Advisory.from_osv has them, JSON Lines read by
orjson are stored, keyed and refused as the standard library reads them, and lines read a megabyte at
a time keep their numbers."""

from __future__ import annotations

import copy
import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from npmaudit.advisories.mirror import import_source
from npmaudit.advisories.model import Advisory, AdvisoryFormatError, index_fields
from npmaudit.advisories.store import AdvisoryStore, export_store
from npmaudit.errors import InputError

OSV = Path(__file__).parent / "fixtures" / "osv"
SOURCES = [
    OSV / "store" / name for name in ("npm-malicious-sample.jsonl.gz", "npm-ghsa.jsonl.gz", "npm-nodesecurity.jsonl.gz")
]
SOURCES += sorted((OSV / "core").glob("*.jsonl"))


def real_records() -> list[dict[str, Any]]:
    records = []
    for source in SOURCES:
        opener = gzip.open if source.suffix == ".gz" else open
        with opener(source, "rt", encoding="utf-8") as stream:
            records += [json.loads(line) for line in stream if line.strip()]
    return records


def outcome(check: Any, record: Any) -> tuple[Any, ...]:
    try:
        fields = check(record)
    except AdvisoryFormatError as error:
        return ("refused", str(error))
    return (fields.package_names, fields.withdrawn, fields.malicious)


def damaged(record: dict[str, Any]) -> list[Any]:
    """The record with each part a checker reads broken in one way (every AdvisoryFormatError of the model)."""
    out: list[Any] = [[record], None, {**record, "id": ""}, {**record, "id": 7}, {**record, "aliases": "GHSA-x"}]
    out += [{**record, "aliases": [1]}, {**record, "affected": {}}, {**record, "affected": [1]}]
    entry = next((e for e in record.get("affected", []) if e.get("package", {}).get("ecosystem") == "npm"), None)
    if entry is None:
        return out
    changes: list[dict[str, Any]] = [
        {"package": {"ecosystem": "npm"}},
        {"package": {"ecosystem": "NPM", "name": "upper-case-ecosystem"}},
        {"package": "npm"},
        {"ranges": {}},
        {"ranges": [1]},
        {"ranges": [{"type": "SEMVER"}]},
        {"ranges": [{"type": "semver", "events": [{"introduced": "0"}]}]},
        {"ranges": [{"type": "NUGET", "events": [{"introduced": "0"}]}]},
        {"ranges": [{"type": "SEMVER", "events": []}]},
        {"ranges": [{"type": "SEMVER", "events": [{"fixed": "1.0.0"}]}]},
        {"ranges": [{"type": "SEMVER", "events": [{"introduced": "0", "fixed": "1.0.0"}]}]},
        {"ranges": [{"type": "SEMVER", "events": [{"introduced": "banana"}]}]},
        {"ranges": [{"type": "SEMVER", "events": [{"introduced": 0}]}]},
        {"ranges": [{"type": "SEMVER", "events": [{"withdrawn": "1.0.0"}]}]},
        {"ranges": [{"type": "GIT", "events": [{"introduced": "abc123"}]}]},
        {"ranges": [], "versions": "1.0.0"},
        {"ranges": [], "versions": [1]},
        {"ranges": [], "versions": [], "database_specific": {"vulnerable_versions": "<2.0.0"}},
        {"ranges": [], "versions": [], "database_specific": {"vulnerable_versions": "not a range ((("}},
        {"ranges": [], "versions": [], "database_specific": {"vulnerable_versions": 3}},
        {"database_specific": {"malicious-packages-origins": [{"source": "x"}]}},
        {"database_specific": {"type": "MALWARE"}},
    ]
    for change in changes:
        broken = copy.deepcopy(record)
        target = next(e for e in broken["affected"] if e.get("package", {}).get("ecosystem") == "npm")
        target.update(change)
        out.append(broken)
    out.append({**record, "withdrawn": "2024-01-01T00:00:00Z"})
    out.append({**record, "database_specific": {"cwe_ids": ["CWE-506"]}})
    return out


def test_index_fields_agree_with_the_model_on_every_real_record() -> None:
    records = real_records()
    assert len(records) > 500
    for record in records:
        assert outcome(index_fields, record) == outcome(Advisory.from_osv, record), record.get("id")
    malicious = sum(1 for record in records if index_fields(record).malicious)
    assert 0 < malicious < len(records)  # both kinds were compared


def test_index_fields_refuse_what_the_model_refuses_with_its_message() -> None:
    compared = refused = 0
    for record in real_records()[::25]:
        for variant in damaged(record):
            expected = outcome(Advisory.from_osv, variant)
            assert outcome(index_fields, variant) == expected, variant
            compared += 1
            refused += expected[0] == "refused"
    assert refused > 100 and compared - refused > 50


def stored(store_path: Path, tmp_path: Path) -> list[dict[str, Any]]:
    with AdvisoryStore.open(store_path) as store:
        export_store(store, tmp_path / "out.jsonl", "jsonl")
    return [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]


def import_file(store_path: Path, source: Path) -> None:
    with AdvisoryStore.open(store_path, create=True) as store:
        store.merge([import_source(source)])


HUGE = 123456789012345678901234567890  # orjson reads it as a float; the standard library as it is


def test_a_huge_integer_is_kept_as_written(tmp_path: Path) -> None:
    records = real_records()[:3]
    records[1] = {**records[1], "database_specific": {"score": HUGE, "negative": -(2**70)}}
    source = tmp_path / "huge.jsonl"
    source.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
    store_path = tmp_path / "store.sqlite"
    import_file(store_path, source)
    kept = {record["id"]: record for record in stored(store_path, tmp_path)}
    assert kept[records[1]["id"]]["database_specific"] == {"score": HUGE, "negative": -(2**70)}
    assert isinstance(kept[records[1]["id"]]["database_specific"]["score"], int)


def test_a_record_without_an_id_is_keyed_by_the_standard_librarys_values(tmp_path: Path) -> None:
    """A record with no id is refused; its key (a hash of its values) names it when a far-future time
    refuses it first: the same hash as the standard library's reading of it gives."""
    from npmaudit.advisories.jsondb import record_key

    nameless = {"modified": "9999-01-01T00:00:00Z", "affected": [], "database_specific": {"n": HUGE}}
    source = tmp_path / "nameless.jsonl"
    good = real_records()[0]
    source.write_text(json.dumps(good) + "\n" + json.dumps(nameless) + "\n")
    with AdvisoryStore.open(tmp_path / "store.sqlite", create=True) as store:
        result = store.merge([import_source(source)])
    assert [refused.key for refused in result.sources[0].refused] == [record_key(nameless)]


def test_a_refused_record_is_named_with_the_standard_librarys_values(tmp_path: Path) -> None:
    record = copy.deepcopy(real_records()[0])
    entry = next(e for e in record["affected"] if e["package"]["ecosystem"] == "npm")
    entry["ranges"] = [{"type": "SEMVER", "events": [{"introduced": HUGE}]}]
    source = tmp_path / "bad.jsonl"
    source.write_text(json.dumps(real_records()[1]) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(InputError) as caught:
        import_file(tmp_path / "store.sqlite", source)
    assert caught.value.line == 2
    assert f"must be a version string, not {HUGE}" in str(caught.value)  # not 1.2345678901234568e+29


def test_lines_longer_than_a_read_keep_their_numbers(tmp_path: Path) -> None:
    """Lines are split from megabyte reads: a record spanning several reads is whole, and the line
    of a bad record after it is counted as the file has it (blank lines included)."""
    records = real_records()[:4]
    padded = {**records[1], "details": "x" * 3_000_000}  # three reads long
    lines = [json.dumps(records[0]), "", json.dumps(padded), "   ", json.dumps(records[2]), json.dumps(records[3])]
    source = tmp_path / "long.jsonl.gz"
    with gzip.open(source, "wt", encoding="utf-8") as stream:
        stream.write("\n".join(lines))  # no newline after the last line
    store_path = tmp_path / "store.sqlite"
    import_file(store_path, source)
    assert {r["id"]: r for r in stored(store_path, tmp_path)}[padded["id"]] == padded
    assert len(stored(store_path, tmp_path)) == 4
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines[:5], '{"id": "X-1", "affected": [', lines[5]]) + "\n")
    with pytest.raises(InputError) as caught:
        import_file(tmp_path / "other.sqlite", bad)
    assert caught.value.line == 6 and "invalid JSON line" in str(caught.value)


def test_records_are_deflated_with_a_small_window_and_read_back_by_any_inflater(tmp_path: Path) -> None:
    """The stored blobs are plain zlib streams with the store's dictionary: one made with default
    settings (an older npmaudit's reader) reads them, and they say a 4 KB window."""
    import sqlite3

    source = OSV / "core" / "ghsa.jsonl"
    store_path = tmp_path / "store.sqlite"
    import_file(store_path, source)
    with sqlite3.connect(store_path) as db:
        (zdict,) = db.execute("SELECT value FROM meta WHERE key = 'zdict'").fetchone()
        blobs = db.execute("SELECT key, record FROM advisories").fetchall()
    texts = {json.loads(line)["id"]: line.strip() for line in source.read_text().splitlines() if line.strip()}
    assert len(blobs) == len(texts)
    for key, blob in blobs:
        assert blob[0] >> 4 == 12 - 8  # CINFO: log2(window) - 8
        inflater = zlib.decompressobj(zdict=zdict)
        assert inflater.decompress(blob) + inflater.flush() == texts[key].encode()


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(("depth", "imported"), [(700, True), (1010, False)])
def test_nesting_is_read_as_the_standard_library_reads_it(tmp_path: Path, depth: int, imported: bool) -> None:
    """orjson follows 1,024 levels, the standard library's recursion fewer: a record nested deeper than
    the standard library reads (and so than the store could read back) is refused as it always was,
    naming its line; one it reads is imported and read back."""
    record = {**real_records()[0], "database_specific": {"deep": "DEEP"}}
    text = json.dumps(record).replace('"DEEP"', "[" * depth + "]" * depth)  # json.dumps would recurse too
    source = tmp_path / "deep.jsonl"
    source.write_text(json.dumps(real_records()[1]) + "\n" + text + "\n")
    store_path = tmp_path / "store.sqlite"
    if imported:
        import_file(store_path, source)
        with AdvisoryStore.open(store_path) as store:
            assert store.record(record["id"]) == {**record, "database_specific": {"deep": nested(depth)}}
    else:
        with pytest.raises(InputError, match="nested too deeply") as caught:
            import_file(store_path, source)
        assert caught.value.line == 2
