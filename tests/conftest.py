from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from npmaudit.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures"
ONLINE = FIXTURES / "osv" / "online"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "engine-io-latency"

# The findings of osv/online/projects/handmade, hand-checked from the records' ranges: lodash
# 4.17.15 is inside GHSA-p6mc (<4.17.20), GHSA-29mw (>=4.0.0 <4.17.21) and GHSA-35jh (<4.17.21),
# outside the four others; minimist 1.2.0 is inside GHSA-xvch (>=1.0.0 <1.2.6) and GHSA-vh95
# (>=1.0.0 <1.2.3); policycms 1.0.1 is listed in MAL-2023-1269; dev marked 0.3.5 is below
# 0.3.6/0.3.7/0.3.9/0.3.17/4.0.10 in six GHSA records.
HANDMADE_PROD = {
    ("lodash", "GHSA-29mw-wpgm-hmr9"),
    ("lodash", "GHSA-35jh-r3h4-6jhm"),
    ("lodash", "GHSA-p6mc-m468-83gw"),
    ("minimist", "GHSA-vh95-rmgr-6w4m"),
    ("minimist", "GHSA-xvch-5gv4-984h"),
    ("policycms", "MAL-2023-1269"),
}
HANDMADE_DEV = {
    ("marked", "GHSA-5v2h-r2cx-5xgj"),
    ("marked", "GHSA-7px7-7xjx-hxm8"),
    ("marked", "GHSA-p9wx-2529-fp83"),
    ("marked", "GHSA-rrrm-qjm4-v8hf"),
    ("marked", "GHSA-vfvf-mqq8-rwqc"),
    ("marked", "GHSA-x5pg-88wf-qq4p"),
}


def load_jsonl(path: Path) -> list[dict]:
    """The records of a JSON Lines file, gunzipped when its name ends in .gz."""
    with gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def damaged_read(read: Callable[[Path], object], path: Path, content: str | bytes) -> InputError:
    """Write ``content`` to ``path`` and read it: the reader must refuse it with one InputError
    whose one-line message starts with the file's name."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(InputError) as caught:
        read(path)
    error = caught.value
    assert error.path == str(path)
    assert str(error).startswith(str(path))
    assert "\n" not in str(error)
    return error


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


def isolate_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, no_npm: bool = False, chdir: bool = False
) -> None:
    """No setting from the caller's environment may change a test's outcome: npmaudit's and npm's own
    variables removed, a private cache and home, no retries; ``no_npm``: no npm on PATH to ask for a
    registry; ``chdir``: run inside the test's folder (no config file above it)."""
    for name in list(os.environ):
        if name.startswith(("NPMAUDIT_", "npm_config_", "NPM_CONFIG_")) or name in ("NODE_ENV", "NO_COLOR"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NPMAUDIT_RETRIES", "0")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if no_npm:
        empty = tmp_path / "empty-bin"
        empty.mkdir(exist_ok=True)
        monkeypatch.setenv("PATH", str(empty))
    if chdir:
        monkeypatch.chdir(tmp_path)


@pytest.fixture
def core_database(tmp_path: Path, core_records: dict[str, dict]) -> Path:
    """Every core record (real GHSA, malicious and Node Security advisories) as a JSON Lines database."""
    path = tmp_path / "core.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in core_records.values()))
    return path


@pytest.fixture(autouse=True)
def _clock_held_still(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every in-process run of a test reads one moment (npmaudit/clock.py): the data's age is
    reported to 0.001 day, and two runs compared byte for byte a second apart would otherwise
    differ whenever they fell on either side of a step (about one run in a hundred)."""
    from npmaudit import clock

    moment = clock.utc_now()
    monkeypatch.setattr(clock, "utc_now", lambda: moment)
