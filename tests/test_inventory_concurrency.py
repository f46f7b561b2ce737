"""Real processes against one inventory, on both backends: 8 adding different projects (and all of
them replacing one shared project back and forth) while 8 query, all starting at once on an
inventory that does not exist yet. Nothing is lost, nothing fails, and no reader ever sees half of
a project: every answer about a project is its whole package set, old or new."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES
from inventory_corpus import LOCKFILES
from npmaudit.cli import main
from npmaudit.inventory.ingest import read_entry
from servers.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[1]
ADDERS = QUERIERS = 8
PROJECTS_PER_ADDER = 3
QUERIES_PER_QUERIER = 12
# Small real projects of several formats, so that 16 processes fit in a few seconds on two cores.
TEMPLATES = [
    LOCKFILES / "npm" / "honojs__hono__benchmarks__query-param",
    LOCKFILES / "npm" / "socketio__socket.io__packages__engine.io__examples__latency",
    LOCKFILES / "yarn-v1" / "honojs__hono__benchmarks__jsx",
    LOCKFILES / "npmex" / "engineio-latency",
    LOCKFILES / "yarn-berry" / "prettier__prettier__scripts__release",
]
SHOP = FIXTURES / "inventory" / "shop"

# Each child waits for the same start time, so they really run at once.
CHILD = """
import contextlib, io, json, os, sys, time
time.sleep(max(0.0, float(os.environ["GO"]) - time.time()))
from npmaudit.cli import main
task = json.loads(sys.argv[1])

def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return [code, out.getvalue(), err.getvalue()]

results = []
if task["kind"] == "add":
    for argv in task["commands"]:
        results.append(run(argv))
else:
    deadline = time.time() + 120
    while len(results) < task["queries"] and time.time() < deadline:
        code, out, err = run(task["command"])
        if code == 2 and not results and ("no inventory here yet" in err or "no project in this inventory" in err):
            time.sleep(0.05)  # the adders have not created it yet
            continue
        results.append([code, out, err])
with open(task["output"], "w") as stream:
    json.dump(results, stream)
"""


def _shared_versions(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "shared-a", tmp_path / "shared-b"
    shutil.copytree(SHOP, first)
    shutil.copytree(SHOP, second)
    lockfile = second / "package-lock.json"
    data = json.loads(lockfile.read_text())
    data["packages"]["node_modules/ms"]["version"] = "2.1.3"
    data["packages"]["node_modules/debug"]["version"] = "4.3.5"
    lockfile.write_text(json.dumps(data))
    return first, second


def _installs(document: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    return {
        project["location"]: {(match["path"], match["version"]) for match in project["matches"]}
        for project in document["projects"]
    }


def _race(tmp_path: Path, inventory: str) -> None:
    shared = _shared_versions(tmp_path)
    names = Counter(
        node.name for template in TEMPLATES for node in read_entry(template).packages.rows if node.node != 0
    )
    asked = sorted({"ms", "debug", *(name for name, _ in names.most_common(4))})
    expected: dict[str, tuple[int, set[tuple[str, str]]]] = {}
    tasks = []
    for adder in range(ADDERS):
        commands = []
        for index in range(PROJECTS_PER_ADDER):
            template = TEMPLATES[(adder * PROJECTS_PER_ADDER + index) % len(TEMPLATES)]
            location = f"fleet/{adder}/{index}"
            commands.append(["inventory", "add", str(template), "--location", location, "--inventory", inventory])
            commands.append(
                ["inventory", "add", str(shared[(adder + index) % 2]), "--location", "shared", "--inventory", inventory]
            )
            entry = read_entry(template)
            rows = entry.packages.rows
            wanted = {(r.location, r.version) for r in rows if r.name in asked and r.source == "registry"}
            expected[location] = (len(rows) - 1, wanted)
        tasks.append({"kind": "add", "commands": commands, "output": str(tmp_path / f"add-{adder}.json")})
    query = ["inventory", "query", *asked, "--inventory", inventory, "--format", "json"]
    for querier in range(QUERIERS):
        tasks.append(
            {
                "kind": "query",
                "command": query,
                "queries": QUERIES_PER_QUERIER,
                "output": str(tmp_path / f"q-{querier}.json"),
            }
        )
    env = dict(os.environ)
    env.update(
        GO=str(time.time() + 2.0),
        NPMAUDIT_CACHE_DIR=str(tmp_path / "cache"),
        PYTHONPATH=str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", ""),
    )
    env.pop("NPMAUDIT_INVENTORY", None)
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(task)], env=env, stderr=subprocess.PIPE, text=True)
        for task in tasks
    ]
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err

    for adder in range(ADDERS):
        for code, out, err in json.loads((tmp_path / f"add-{adder}.json").read_text()):
            assert (code, err) == (0, ""), err
            assert out.startswith(("added: ", "replaced: ", "unchanged: "))
    share_a = _installs_of_shared(shared[0], asked)
    share_b = _installs_of_shared(shared[1], asked)
    answered = 0
    seen: set[int] = set()
    for querier in range(QUERIERS):
        results = json.loads((tmp_path / f"q-{querier}.json").read_text())
        assert len(results) == QUERIES_PER_QUERIER
        for code, out, err in results:
            assert code in (0, 1) and err == "", err
            seen.add(json.loads(out)["summary"]["projectsScanned"])
            for location, installs in _installs(json.loads(out)).items():
                if location == "shared":
                    assert installs in (share_a, share_b)  # one whole version of the shared project
                else:
                    assert installs == expected[location][1]  # never half a project
                answered += 1
    assert answered > 0
    assert len(seen) > 1, "the readers ran while the adders were adding"

    code = main(["inventory", "list", "--inventory", inventory, "--format", "json"])
    assert code == 0


def _installs_of_shared(path: Path, asked: list[str]) -> set[tuple[str, str]]:
    rows = read_entry(path).packages.rows
    return {(r.location, r.version) for r in rows if r.name in asked and r.source == "registry"}


def _listed(capsys: pytest.CaptureFixture[str], inventory: str) -> dict[str, int]:
    capsys.readouterr()
    assert main(["inventory", "list", "--inventory", inventory, "--format", "json"]) == 0
    return {p["location"]: p["packages"] for p in json.loads(capsys.readouterr().out)["projects"]}


def _expected_counts() -> dict[str, int]:
    counts = {}
    for adder in range(ADDERS):
        for index in range(PROJECTS_PER_ADDER):
            template = TEMPLATES[(adder * PROJECTS_PER_ADDER + index) % len(TEMPLATES)]
            counts[f"fleet/{adder}/{index}"] = len(read_entry(template).packages.rows) - 1
    counts["shared"] = 10
    return counts


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")
def test_8_adders_and_8_readers_on_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory = str(tmp_path / "inventory.sqlite")
    _race(tmp_path, inventory)
    assert _listed(capsys, inventory) == _expected_counts()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")
def test_8_adders_and_8_readers_on_postgresql(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    postgres_url: str,  # noqa: F811
) -> None:
    _race(tmp_path, postgres_url)
    assert _listed(capsys, postgres_url) == _expected_counts()


# Every child opens (and so creates) a fresh inventory per round, all at the same instant: the
# switch of a new file to WAL is where two processes used to deadlock and one failed at once with
# "database is locked" (about one round in ten on two cores), however long the busy timeout.
CREATOR = """
import json, os, sys, time
from pathlib import Path
from npmaudit.errors import InputError
from npmaudit.inventory.backends import SqliteBackend
folder, rounds, go = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
failures = []
for number in range(rounds):
    time.sleep(max(0.0, go + number * 0.15 - time.time()))
    try:
        backend = SqliteBackend(folder / f"round-{number}.sqlite", create=True)
        with backend.transaction(write=True):
            backend.execute("SELECT COUNT(*) FROM projects")
        backend.close()
    except InputError as error:
        failures.append(f"round {number}: {error}")
print(json.dumps(failures))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")
def test_processes_creating_one_sqlite_inventory_at_once_all_succeed(tmp_path: Path) -> None:
    rounds = 20
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    go = str(time.time() + 1.5)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CREATOR, str(tmp_path), str(rounds), go],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    failures = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        failures += json.loads(out)
    assert failures == []
    assert sorted(p.name for p in tmp_path.glob("round-*.sqlite")) == sorted(f"round-{n}.sqlite" for n in range(rounds))
