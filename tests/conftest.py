from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def core_records() -> dict[str, dict]:
    records = {}
    for name in ("ghsa", "malicious", "nodesecurity"):
        for record in load_jsonl(FIXTURES / "osv" / "core" / f"{name}.jsonl"):
            records[record["id"]] = record
    return records
