"""Record npm 11's own `npm audit --json` for every npm lockfile of the shared corpus, for the
matching-fidelity test (tests/test_npm_findings.py), and npm's json and text reports for the small
multi-entry project (tests/fixtures/npm_findings/multi_entry, for tests/test_cli_npm_formats.py).
Not run by the test suite (it needs node, npm 11, the network and the shared corpus).

    .venv/bin/python tests/oracle/record_npm_findings.py [--only STEM ...]
    .venv/bin/python tests/oracle/record_npm_findings.py --multi-entry
    .venv/bin/python tests/oracle/record_npm_findings.py --bulk-answers

Input advisories: the OSV records exactly as published, several `affected` entries per package
included (GitHub exports one entry per vulnerable range): the real records naming a package of
these lockfiles (tests/fixtures/npm_oracle/advisories/real.jsonl, written by record_npm_oracle.py)
followed by the hand-written synthetic ones (synthetic.jsonl beside it). npm-oracle serves them as
the registry's bulk endpoint does: one advisory per (record, package), all of that record's ranges
and versions for the package joined by " || ". The input is kept beside the recordings
(advisories.jsonl.gz); npm's raw outputs are kept gzipped. `--bulk-answers` keeps what npm-oracle
serves for every package name of that input (bulk_answers.json.gz, the answer of its `convert`
command), so that tests can compare npmaudit's conversion with it field for field.

Every npm run gets a fresh npm cache; the oracle's packument cache (--cache) is shared with
record_npm_oracle.py and reused across runs, so all recordings see the same packuments. The shared
corpus folder is $NPMAUDIT_SHARED (see record_npm_oracle.py).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import record_npm_oracle as oracle

HERE = Path(__file__).resolve().parents[1] / "fixtures"
OUT = HERE / "npm_findings"
MULTI_ENTRY = OUT / "multi_entry"
# The two real records whose several `affected` entries for one package the old per-entry
# conversion cut down to the first (y18n@4.0.0 and debug@2.6.8 were then missed).
MULTI_ENTRY_IDS = ("GHSA-c4w7-xm78-47vh", "GHSA-9vvw-cc9w-f27h")
SCRATCH = Path("/tmp/npmaudit-findings")


def raw_records() -> list[str]:
    lines: list[str] = []
    for name in ("real.jsonl", "synthetic.jsonl"):
        text = (HERE / "npm_oracle" / "advisories" / name).read_text(encoding="utf-8")
        lines += [line for line in text.splitlines() if line.strip()]
    return lines


def run_npm(advisories: Path, project: Path, tag: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    npm_cache = SCRATCH / "npmcache" / tag
    shutil.rmtree(npm_cache, ignore_errors=True)
    env = dict(os.environ, npm_config_cache=str(npm_cache), NO_COLOR="1")
    env.pop("NODE_ENV", None)
    command = [
        str(oracle.ORACLE),
        "run",
        "--advisories",
        str(advisories),
        "--cache",
        str(oracle.ORACLE_CACHE),
        "--verbose",
        "--project",
        str(project),
        "--",
        "npm",
        "audit",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)


def record_corpus(only: list[str] | None) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    advisories = SCRATCH / "advisories.jsonl"
    advisories.write_text("".join(line + "\n" for line in raw_records()), encoding="utf-8")
    (OUT / "advisories.jsonl.gz").write_bytes(gzip.compress(advisories.read_bytes(), mtime=0))
    for stem, lock, package_json in oracle.npm_lockfiles():
        if only and stem not in only:
            continue
        project = SCRATCH / "projects" / stem
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir(parents=True)
        shutil.copy(lock, project / lock.name.rpartition("__")[2])
        shutil.copy(package_json, project / "package.json")
        done = run_npm(advisories, project, stem, ["--json"])
        document = json.loads(done.stdout)
        folder = lock.parent.name
        recording = {"lockfile": f"{folder}/{lock.name}", "npmExit": done.returncode, "report": document}
        data = json.dumps(recording, separators=(",", ":")).encode()
        (OUT / f"{stem}.json.gz").write_bytes(gzip.compress(data, mtime=0))
        print(stem, done.returncode, len(document.get("vulnerabilities", {})), flush=True)
    return 0


def record_multi_entry() -> int:
    """npm's json and text reports for multi_entry/ (debug@2.6.8, y18n@4.0.0) against the two
    multi-entry records, and the packuments npm fetched for them."""
    records = [line for line in raw_records() if json.loads(line)["id"] in MULTI_ENTRY_IDS]
    assert len(records) == len(MULTI_ENTRY_IDS), "a multi-entry record is missing from real.jsonl"
    (MULTI_ENTRY / "advisories.jsonl").write_text("".join(line + "\n" for line in records), encoding="utf-8")
    project = SCRATCH / "projects" / "multi_entry"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(MULTI_ENTRY / name, project / name)
    statuses: dict[str, int] = {}
    exits = {}
    for tag, args, filename in (("json", ["--json"], "npm-audit.json"), ("text", [], "npm-audit.txt")):
        done = run_npm(MULTI_ENTRY / "advisories.jsonl", project, f"multi_entry.{tag}", args)
        (MULTI_ENTRY / filename).write_text(done.stdout, encoding="utf-8")
        exits[tag] = done.returncode
        statuses.update(oracle.packument_gets(done.stderr))
        print("multi_entry", tag, done.returncode, flush=True)
    packuments = oracle.collect_packuments(statuses)
    data = oracle.hide_registry(json.dumps(packuments, sort_keys=True, separators=(",", ":"))).encode()
    (MULTI_ENTRY / "packuments.json.gz").write_bytes(gzip.compress(data, mtime=0))
    (MULTI_ENTRY / "runs.json").write_text(json.dumps(exits, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


def record_bulk_answers() -> int:
    """npm-oracle's bulk answer for every package name the recorded advisories name."""
    from importlib.machinery import SourceFileLoader

    tool = SourceFileLoader("npm_oracle_tool", str(oracle.ORACLE)).load_module()
    answers = tool.load_index(str(OUT / "advisories.jsonl.gz"))
    data = json.dumps(answers, separators=(",", ":"), ensure_ascii=False).encode()
    (OUT / "bulk_answers.json.gz").write_bytes(gzip.compress(data, mtime=0))
    print("bulk answers:", len(answers), "names,", sum(map(len, answers.values())), "advisories", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=None, help="record only these lockfile stems")
    parser.add_argument("--multi-entry", action="store_true", help="record only the multi_entry project")
    parser.add_argument("--bulk-answers", action="store_true", help="only keep npm-oracle's bulk answers")
    options = parser.parse_args(argv)
    if options.bulk_answers:
        return record_bulk_answers()
    return record_multi_entry() if options.multi_entry else record_corpus(options.only)


if __name__ == "__main__":
    sys.exit(main())
