"""The export writer (advisories/export_json.py) writes what the standard library writes, byte for
byte: on real OSV records, on every code point, and on the records orjson would write differently
(non-integer numbers, NaN, huge integers, lone surrogates, deep nesting), which fall back; and a whole
``db export`` of a real store equals the seed writer's document of the same records."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from conftest import FIXTURES
from npmaudit.advisories import export_json
from npmaudit.advisories.jsondb import encodable_json, write_json_database
from npmaudit.advisories.store import AdvisoryStore, ImportSource, export_store


def _stdlib_indented(text: str) -> str:
    return encodable_json(json.loads(text), indent=2, sort_keys=True)


def _stdlib_compact(text: str) -> str:
    return encodable_json(json.loads(text), sort_keys=True, separators=(",", ":"))


def _real_lines(folders: tuple[str, ...] = ("core", "store", "online")) -> list[str]:
    lines = []
    for path in sorted(p for folder in folders for p in (FIXTURES / "osv" / folder).rglob("*.jsonl*")):
        data = path.read_bytes()
        text = (gzip.decompress(data) if path.suffix == ".gz" else data).decode()
        lines += [line for line in text.splitlines() if line.strip()]
    return lines


def test_real_records_are_written_as_the_standard_library_writes_them() -> None:
    lines = _real_lines()
    assert len(lines) > 1000
    fast = 0
    for line in lines:
        record, can = export_json.parse(line)
        fast += can
        assert export_json.indented(record, can) == _stdlib_indented(line)
        assert export_json.compact(record, can) == _stdlib_compact(line)
    assert fast == len(lines)  # every real record takes the compiled writer


def test_every_code_point_in_keys_and_values() -> None:
    points = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    for start in range(0, len(points), 2000):
        piece = points[start : start + 2000]
        text = json.dumps({piece: [piece, {"k": piece, "e": {}, "l": []}]})
        record, fast = export_json.parse(text)
        assert fast
        assert export_json.indented(record, fast) == _stdlib_indented(text)
        assert export_json.compact(record, fast) == _stdlib_compact(text)


def test_numbers_are_written_as_the_standard_library_writes_them() -> None:
    rng = random.Random(17)
    numbers = [i / 10 for i in range(1001)] + [i / 100 for i in range(-2000, 2001)]
    numbers += [rng.uniform(-1e6, 1e6) for _ in range(20000)] + [rng.random() for _ in range(20000)]
    numbers += [10.0**k for k in range(-8, 22)] + [-0.0, 0.0001, 0.00009, 123456789012345.6, 2**53 + 0.0]
    numbers += [rng.randint(-(2**70), 2**70) for _ in range(200)]
    for start in range(0, len(numbers), 500):
        text = json.dumps({"scores": numbers[start : start + 500]})
        record, fast = export_json.parse(text)
        assert export_json.indented(record, fast) == _stdlib_indented(text)
        assert export_json.compact(record, fast) == _stdlib_compact(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"score": 1e-7}',
        '{"score": 7.5, "n": [1.0, 100000000000000000000.0]}',
        '{"x": NaN, "y": Infinity, "z": -Infinity}',
        '{"big": 18446744073709551616, "neg": -9223372036854775809}',
        '{"surrogate": "\\ud800", "\\udfff": 1}',
        '{"deep": ' + "[" * 300 + "]" * 300 + "}",
        '{"empty": {}, "list": [], "nested": [[], [{}], {"a": []}], "t": true, "f": false, "n": null}',
    ],
)
def test_what_orjson_writes_differently_is_written_by_the_standard_library(text: str) -> None:
    record, fast = export_json.parse(text)
    assert export_json.indented(record, fast) == _stdlib_indented(text)
    assert export_json.compact(record, fast) == _stdlib_compact(text)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_an_export_equals_the_seed_writers_document(tmp_path: Path, fmt: str) -> None:
    lines = _real_lines(("core", "store"))
    records = {json.loads(line)["id"]: json.loads(line) for line in lines}
    # A number Python writes with an exponent: that record takes the standard library's writer.
    first = next(iter(records.values()))
    records["NPMAUDIT-FLOAT-1"] = {**first, "id": "NPMAUDIT-FLOAT-1", "database_specific": {"score": 1e-7}}
    items = [(record, None, index) for index, record in enumerate(records.values())]
    store_path = tmp_path / "store.sqlite"
    with AdvisoryStore.open(store_path, create=True) as store:
        store.merge([ImportSource("fixtures", "file", items)])
        exported = tmp_path / f"export.{fmt}"
        count = export_store(store, exported, fmt)
    ordered = [records[key] for key in sorted(records)]
    assert count == len(ordered)
    if fmt == "json":
        seed = tmp_path / "seed.json"
        write_json_database(seed, ordered)
        assert exported.read_bytes() == seed.read_bytes()
    else:
        expected = "".join(_stdlib_compact(json.dumps(record)) + "\n" for record in ordered)
        assert exported.read_text(encoding="utf-8") == expected
