from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ONLINE = FIXTURES / "osv" / "online"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "engine-io-latency"


def load_jsonl(path: Path) -> list[dict]:
    """The records of a JSON Lines file, gunzipped when its name ends in .gz."""
    with (gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")) as stream:
        return [json.loads(line) for line in stream if line.strip()]


@pytest.fixture
def example_project(tmp_path: Path) -> Path:
    """A private copy of the bundled example, so config files and writes stay in the test's folder."""
    target = tmp_path / "project"
    target.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(EXAMPLE / name, target / name)
    return target


@pytest.fixture(scope="module")
def online_osv_records() -> list[dict]:
    """The real GHSA records and malicious-package sample the local OSV API server answers from."""
    return load_jsonl(ONLINE / "npm-ghsa.jsonl.gz") + load_jsonl(ONLINE / "npm-malicious-sample.jsonl.gz")


@pytest.fixture(scope="session")
def core_records() -> dict[str, dict]:
    records = {}
    for name in ("ghsa", "malicious", "nodesecurity"):
        for record in load_jsonl(FIXTURES / "osv" / "core" / f"{name}.jsonl"):
            records[record["id"]] = record
    return records
