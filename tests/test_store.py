"""The SQLite advisory store on real OSV records: import from every shape, merge semantics,
export in the seed's format, lookups, audits that agree with the JSON database, and errors."""

from __future__ import annotations

import copy
import gzip
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from npmaudit.advisories.jsondb import JsonDatabase, write_json_database
from npmaudit.advisories.local import open_local_database
from npmaudit.advisories.mirror import import_source
from npmaudit.advisories.model import Advisory
from npmaudit.advisories.store import AdvisoryStore, export_store, modified_key, write_records
from npmaudit.auditing.engine import audit
from npmaudit.errors import InputError
from npmaudit.project.loader import load_project
from npmaudit.project.model import PackageRef

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "osv" / "store"
SOURCES = ("npm-malicious-sample.jsonl.gz", "npm-ghsa.jsonl.gz", "npm-nodesecurity.jsonl.gz")
EXAMPLE = ROOT / "examples" / "engine-io-latency"
CRA = Path(__file__).parent / "fixtures" / "lockfiles" / "npm" / "facebook__create-react-app"


def raw(name: str) -> list[dict]:
    with gzip.open(FIXTURES / name, "rt", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [record for name in SOURCES for record in raw(name)]


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "advisories.sqlite"


def import_files(path: Path, *files: Path, now: str | None = None):
    with AdvisoryStore.open(path, create=True) as store:
        return store.merge([import_source(f) for f in files], now=now)


def export_text(path: Path, tmp_path: Path, fmt: str = "json") -> str:
    out = tmp_path / f"export.{fmt}"
    with AdvisoryStore.open(path) as store:
        export_store(store, out, fmt)
    return out.read_text()


def npm_names(record: dict) -> set[str]:
    return {
        a["package"]["name"]
        for a in record.get("affected", [])
        if a.get("package", {}).get("ecosystem", "").lower() == "npm"
    }


def test_import_holds_each_record_once_with_counts(store_path: Path, records: list[dict]):
    result = import_files(store_path, *(FIXTURES / n for n in SOURCES))
    ids = {r["id"] for r in records}
    assert len(ids) == len(records)  # the three files share no id
    assert result.total == len(ids) and result.added == len(ids) and result.changed == 0
    with AdvisoryStore.open(store_path) as store:
        stats = store.stats()
        info = store.info()
    withdrawn = [r for r in records if r.get("withdrawn")]
    active = [r for r in records if not r.get("withdrawn")]
    malicious = [r for r in active if Advisory.from_osv(r).malicious]
    assert len(withdrawn) == 20  # SOURCE.md: the sample's 20 withdrawn records
    assert (stats.records, stats.withdrawn) == (len(records), 20)
    assert stats.malicious == len(malicious) and stats.malicious >= sum(r["id"].startswith("MAL-") for r in active)
    assert stats.vulnerabilities == len(active) - len(malicious)
    assert stats.packages == len(set().union(*(npm_names(r) for r in active)))
    assert stats.newest_modified == max(modified_key(r) for r in records)
    assert [s.location for s in stats.sources] == sorted(str((FIXTURES / n).resolve()) for n in SOURCES)
    assert info.kind == "sqlite" and info.records == len(records)
    assert info.newest_modified == stats.newest_modified
    assert info.details["updated"] == stats.updated


def test_export_is_the_seed_format_byte_for_byte(store_path: Path, records: list[dict], tmp_path: Path):
    import_files(store_path, *(FIXTURES / n for n in SOURCES))
    reference = tmp_path / "reference.json"
    write_json_database(reference, records)  # the JSON database's own writer is the oracle
    assert export_text(store_path, tmp_path, "json") == reference.read_text()
    lines = export_text(store_path, tmp_path, "jsonl").splitlines()
    assert [json.loads(line) for line in lines] == sorted(records, key=lambda r: r["id"])


def test_empty_store_exports_an_empty_array(store_path: Path, tmp_path: Path):
    AdvisoryStore.open(store_path, create=True).close()
    reference = tmp_path / "reference.json"
    write_json_database(reference, [])
    assert export_text(store_path, tmp_path) == reference.read_text()


def test_reimport_of_unchanged_data_changes_nothing(store_path: Path, tmp_path: Path):
    files = [FIXTURES / n for n in SOURCES]
    import_files(store_path, *files)
    before = export_text(store_path, tmp_path)
    again = import_files(store_path, *files)
    assert (again.added, again.changed) == (0, 0)
    assert export_text(store_path, tmp_path) == before


def _variant(record: dict, modified: str, **changes) -> dict:
    clone = copy.deepcopy(record)
    clone["modified"] = modified
    clone.update(changes)
    return clone


def test_newest_modified_wins_whatever_the_order(store_path: Path, records: list[dict], tmp_path: Path):
    original = next(r for r in records if r["id"] == "GHSA-xvch-5gv4-984h")  # minimist
    older = _variant(original, "2001-01-01T00:00:00Z", summary="older")
    newer = _variant(original, "2026-01-01T00:00:00Z", summary="newer")
    same = _variant(original, original["modified"], summary="same time, other text")
    write_records(store_path, [original])
    result = write_records(store_path, [older, same], location="test")
    assert (result.added, result.changed) == (0, 0)
    result = write_records(store_path, [newer], location="test")
    assert (result.added, result.changed) == (0, 1)
    result = write_records(store_path, [original, older], location="test")
    assert (result.added, result.changed) == (0, 0)
    with AdvisoryStore.open(store_path) as store:
        found = store.advisories_for([PackageRef("minimist", "0.0.10")])
    assert [a.summary for a in found["minimist"]] == ["newer"]
    # Within one import too: the later, older duplicate does not undo the newer one.
    other = tmp_path / "other.sqlite"
    write_records(other, [newer, older])
    with AdvisoryStore.open(other) as store:
        assert [a.summary for a in store.lookup(["minimist"])["minimist"]] == ["newer"]


def test_reindexes_names_when_a_record_changes_its_packages(store_path: Path, records: list[dict]):
    original = next(r for r in records if r["id"] == "GHSA-xvch-5gv4-984h")
    moved = _variant(original, "2026-01-01T00:00:00Z")
    moved["affected"] = copy.deepcopy(original["affected"])
    for entry in moved["affected"]:
        entry["package"]["name"] = "minimist-renamed"
    write_records(store_path, [original])
    write_records(store_path, [moved])
    with AdvisoryStore.open(store_path) as store:
        assert store.lookup(["minimist"]) == {}
        assert [a.id for a in store.lookup(["minimist-renamed"])["minimist-renamed"]] == [original["id"]]


def test_withdrawn_record_is_kept_and_stops_matching(store_path: Path, tmp_path: Path):
    import_files(store_path, EXAMPLE / "advisories.json")
    project = load_project(EXAMPLE, None)
    with AdvisoryStore.open(store_path) as store:
        before = {(f.name, f.version, f.id) for f in audit(project, [store]).findings}
    # Hand-checked in test_cli: minimist 0.0.10 is inside GHSA-xvch-5gv4-984h.
    assert ("minimist", "0.0.10", "GHSA-xvch-5gv4-984h") in before
    example_records = json.loads((EXAMPLE / "advisories.json").read_text())
    original = next(r for r in example_records if r["id"] == "GHSA-xvch-5gv4-984h")
    withdrawn = _variant(original, "2026-01-01T00:00:00Z", withdrawn="2026-01-01T00:00:00Z")
    write_records(store_path, [withdrawn], location="test", kind="file")
    with AdvisoryStore.open(store_path) as store:
        after = {(f.name, f.version, f.id) for f in audit(project, [store]).findings}
        assert store.stats().withdrawn == 1
        kept = store.lookup(["minimist"])["minimist"]
    assert after == before - {("minimist", "0.0.10", "GHSA-xvch-5gv4-984h")}
    assert [a.withdrawn for a in kept if a.id == "GHSA-xvch-5gv4-984h"] == ["2026-01-01T00:00:00Z"]
    exported = json.loads(export_text(store_path, tmp_path))
    assert next(r for r in exported if r["id"] == "GHSA-xvch-5gv4-984h")["withdrawn"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize("lockfile_dir", [EXAMPLE, CRA], ids=["engine-io-latency", "create-react-app"])
def test_audit_against_the_store_equals_the_json_database(store_path: Path, tmp_path: Path, records, lockfile_dir):
    database = tmp_path / "db.json"
    write_json_database(database, records)
    import_files(store_path, database)
    project = load_project(lockfile_dir, None)
    with AdvisoryStore.open(store_path) as store:
        from_store = audit(project, [store])
    from_json = audit(project, [JsonDatabase(database)])

    def key(result):
        return [(f.name, f.version, f.id, f.aliases, f.fixed_in, f.locations) for f in result.findings]

    assert key(from_store) == key(from_json)
    assert from_json.findings  # the comparison means something: both find real advisories


def test_lookup_lists_a_record_under_each_of_its_names(store_path: Path, records: list[dict]):
    several = [r for r in records if len(npm_names(r)) > 1]
    assert several
    write_records(store_path, several)
    with AdvisoryStore.open(store_path) as store:
        for record in several:
            found = store.lookup(sorted(npm_names(record)))
            for name in npm_names(record):
                assert record["id"] in {a.id for a in found[name]}


# -- every input shape -------------------------------------------------------------------------


def _shapes(tmp_path: Path, records: list[dict]) -> dict[str, Path]:
    shapes = {}
    shapes["array"] = tmp_path / "array.json"
    shapes["array"].write_text(json.dumps(records, indent=2))
    shapes["vulns"] = tmp_path / "vulns.json"
    shapes["vulns"].write_text(json.dumps({"vulns": records}))
    shapes["jsonl"] = tmp_path / "lines.jsonl"
    shapes["jsonl"].write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    shapes["jsonl-gz"] = tmp_path / "lines.jsonl.gz"
    shapes["jsonl-gz"].write_bytes(gzip.compress(shapes["jsonl"].read_bytes()))
    shapes["array-gz-unnamed"] = tmp_path / "array.data"
    shapes["array-gz-unnamed"].write_bytes(gzip.compress(shapes["array"].read_bytes()))
    directory = tmp_path / "dir"
    for record in records:
        target = directory / record["id"][:3] / f"{record['id']}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(record, indent=2))
    shapes["directory"] = directory
    shapes["zip"] = tmp_path / "all.zip"
    with zipfile.ZipFile(shapes["zip"], "w", zipfile.ZIP_DEFLATED) as bundle:
        for record in records:
            bundle.writestr(f"{record['id']}.json", json.dumps(record, indent=2))
    return shapes


@pytest.mark.parametrize(
    "shape", ["array", "vulns", "jsonl", "jsonl-gz", "array-gz-unnamed", "directory", "zip", "single"]
)
def test_every_database_shape_imports_the_same_records(tmp_path: Path, records: list[dict], shape: str):
    subset = records[::7]
    if shape == "single":
        source = tmp_path / "one.json"
        source.write_text(json.dumps(subset[0], indent=2))
        subset = subset[:1]
    else:
        source = _shapes(tmp_path, subset)[shape]
    store_path = tmp_path / "store.sqlite"
    import_files(store_path, source)
    reference = tmp_path / "reference.json"
    write_json_database(reference, subset)
    assert export_text(store_path, tmp_path) == reference.read_text()


def test_another_store_imports_like_any_source(store_path: Path, tmp_path: Path, records: list[dict]):
    other = tmp_path / "ci-cache.sqlite"
    import_files(other, FIXTURES / SOURCES[1])
    import_files(store_path, FIXTURES / SOURCES[2], other)
    reference = tmp_path / "reference.json"
    write_json_database(reference, raw(SOURCES[1]) + raw(SOURCES[2]))
    assert export_text(store_path, tmp_path) == reference.read_text()
    with AdvisoryStore.open(store_path) as store:
        assert {s.kind for s in store.stats().sources} == {"file", "store"}


def test_jsonl_keeps_the_original_text_of_each_record(store_path: Path, records: list[dict], tmp_path: Path):
    source = tmp_path / "lines.jsonl"
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records[:50]) + "\n")
    import_files(store_path, source)
    with AdvisoryStore.open(store_path) as store:
        assert list(store.iter_records()) == sorted(records[:50], key=lambda r: r["id"])


# -- errors ------------------------------------------------------------------------------------


def test_a_bad_line_names_the_file_and_line_and_imports_nothing(store_path: Path, records, tmp_path: Path):
    import_files(store_path, FIXTURES / SOURCES[1])
    before = export_text(store_path, tmp_path)
    bad = tmp_path / "bad.jsonl"
    lines = [json.dumps(r) for r in records[:5]]
    lines.insert(3, '{"id": "X-1", "affected": [')
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as caught:
        import_files(store_path, FIXTURES / SOURCES[2], bad)
    assert caught.value.path == str(bad.resolve()) and caught.value.line == 4
    assert "invalid JSON line" in str(caught.value)
    assert export_text(store_path, tmp_path) == before  # the first source was rolled back too


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"modified": "2020-01-01T00:00:00Z", "affected": []}, "no string 'id'"),
        ({"id": "X-2", "affected": {"package": "x"}}, "'affected' must be a list"),
    ],
)
def test_a_malformed_record_is_an_input_error(store_path: Path, tmp_path: Path, record: dict, problem: str):
    source = tmp_path / "bad.jsonl"
    source.write_text(json.dumps({"id": "OK-1", "modified": "2020-01-01T00:00:00Z"}) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(InputError, match=problem) as caught:
        import_files(store_path, source)
    assert caught.value.line == 2


def test_another_sqlite_database_is_not_a_store(tmp_path: Path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    for create in (False, True):
        with pytest.raises(InputError, match="not an npmaudit advisory store"):
            AdvisoryStore.open(other, create=create)
    with pytest.raises(InputError, match="not an npmaudit advisory store"):
        open_local_database(other)


def test_a_store_from_a_newer_version_is_refused(store_path: Path):
    AdvisoryStore.open(store_path, create=True).close()
    with sqlite3.connect(store_path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(InputError, match="schema 99 is newer"):
        open_local_database(store_path)


def test_a_damaged_store_is_an_input_error_not_a_traceback(store_path: Path):
    import_files(store_path, FIXTURES / SOURCES[1])
    with sqlite3.connect(store_path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(store_path.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)  # every page after the header page
    store_path.write_bytes(bytes(data))
    with pytest.raises(InputError):
        store = open_local_database(store_path)
        store.advisories_for([PackageRef("minimist", "1.2.0")])


@pytest.mark.parametrize("seed", range(150))
def test_random_damage_is_an_input_error_never_a_crash(tmp_path: Path, seed: int, damaged_store_bytes: bytes):
    import random

    rng = random.Random(seed)
    data = bytearray(damaged_store_bytes)
    for _ in range(rng.choice([1, 5, 50, 500])):
        data[rng.randrange(len(data))] = rng.randrange(256)
    path = tmp_path / "damaged.sqlite"
    path.write_bytes(bytes(data))
    try:
        source = open_local_database(path)
        source.info()
        source.advisories_for([PackageRef(n, "1.0.0") for n in ("minimist", "qs", "ws", "semver", "undici")])
        assert isinstance(source, AdvisoryStore)
        source.stats()
        export_store(source, tmp_path / "out.json")
    except InputError as error:
        assert str(path) in str(error)


@pytest.fixture(scope="module")
def damaged_store_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small real store, checkpointed into one file, to be damaged."""
    path = tmp_path_factory.mktemp("damage") / "store.sqlite"
    import_files(path, FIXTURES / SOURCES[1])
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.read_bytes()


def test_an_empty_file_named_like_a_store_is_refused(tmp_path: Path):
    empty = tmp_path / "advisories.sqlite"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty database"):
        open_local_database(empty)
    # ...and `create` turns it into a store (a creation that was killed before its first write),
    # which is still no database until an import fills it.
    AdvisoryStore.open(empty, create=True).close()
    with pytest.raises(InputError, match=r"empty advisory store \(no import or update ever completed\)"):
        open_local_database(empty)
    write_records(empty, json.loads((EXAMPLE / "advisories.json").read_text()), location="test", kind="file")
    assert isinstance(open_local_database(empty), AdvisoryStore)


def test_missing_default_store_says_how_to_create_it(tmp_path: Path):
    with pytest.raises(InputError, match="npmaudit db update"):
        open_local_database(tmp_path / "cache" / "advisories.sqlite", is_default=True)
    with pytest.raises(InputError, match="advisory database not found"):
        open_local_database(tmp_path / "elsewhere.sqlite")


def test_json_databases_still_open_as_json(tmp_path: Path):
    source = open_local_database(EXAMPLE / "advisories.json")
    assert isinstance(source, JsonDatabase)


def test_store_is_in_wal_mode_with_schema_version(store_path: Path):
    AdvisoryStore.open(store_path, create=True).close()
    with sqlite3.connect(store_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1


def test_write_cache_merges_do_not_refresh_the_store_age(store_path: Path, records: list[dict]):
    import_files(store_path, FIXTURES / SOURCES[2], now="2026-01-01T00:00:00Z")
    newer = _variant(records[0], "2026-01-01T00:00:00Z")
    write_records(store_path, [newer], location="audit --write-cache")
    with AdvisoryStore.open(store_path) as store:
        assert store.info().details["updated"] == "2026-01-01T00:00:00Z"
        assert "audit --write-cache" in {s.location for s in store.stats().sources}
