"""Record npm 11's own `npm audit --json` for every npm lockfile of the shared corpus, for the
foundation's matching-fidelity test (tests/test_npm_findings.py). Not run by the test suite.

    .venv/bin/python tests/oracle/record_npm_findings.py

Input advisories: the real records naming packages of these trees plus the hand-written synthetic
ones (tests/fixtures/npm_oracle/advisories), with each record's `affected` entries for one package
merged into one entry. The merge changes nothing in OSV terms (entries and ranges are a union), but
npm-oracle turns each entry into its own npm advisory under the record's one numeric id, and npm
memoises advisories by id, so without it npm would only ever test a record's first range for a
package (the public registry serves one advisory with the whole range). The merged input is kept
beside the recordings (advisories.jsonl.gz); npm's raw outputs are kept gzipped.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

SHARED = Path("/work/shared")
LOCKS = SHARED / "data" / "lockfiles"
ORACLE = SHARED / "tools" / "npm-oracle"
HERE = Path(__file__).resolve().parents[1] / "fixtures"
OUT = HERE / "npm_findings"
SCRATCH = Path("/tmp/npmaudit-findings")
NPM_FORMATS = ("package-lock-v1", "package-lock-v2", "package-lock-v3", "npm-shrinkwrap")


def merged(record: dict) -> dict:
    entries: dict[str, dict] = {}
    order = []
    for entry in record.get("affected", []):
        package = entry.get("package") or {}
        key = f"{package.get('ecosystem')}:{package.get('name')}"
        if key not in entries:
            entries[key] = {"package": package, "ranges": [], "versions": []}
            order.append(key)
        entries[key]["ranges"].extend(entry.get("ranges", []))
        entries[key]["versions"].extend(v for v in entry.get("versions", []) if v not in entries[key]["versions"])
        if entry.get("database_specific"):
            entries[key]["database_specific"] = entry["database_specific"]
    result = dict(record)
    result["affected"] = []
    for key in order:
        entry = {k: v for k, v in entries[key].items() if v}
        result["affected"].append(entry)
    return result


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    records = []
    for name in ("real.jsonl", "synthetic.jsonl"):
        for line in (HERE / "npm_oracle" / "advisories" / name).read_text().splitlines():
            if line.strip():
                records.append(merged(json.loads(line)))
    SCRATCH.mkdir(parents=True, exist_ok=True)
    advisories = SCRATCH / "advisories.jsonl"
    advisories.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
    with gzip.open(OUT / "advisories.jsonl.gz", "wt", encoding="utf-8") as stream:
        stream.write(advisories.read_text())
    for folder in NPM_FORMATS:
        for lock in sorted((LOCKS / folder).iterdir()):
            if lock.name.endswith("package.json"):
                continue
            stem, _, filename = lock.name.rpartition("__")
            project = SCRATCH / "projects" / stem
            shutil.rmtree(project, ignore_errors=True)
            project.mkdir(parents=True)
            shutil.copy(lock, project / filename)
            shutil.copy(lock.parent / f"{stem}__package.json", project / "package.json")
            command = [
                sys.executable,
                str(ORACLE),
                "run",
                "--advisories",
                str(advisories),
                "--cache",
                str(SCRATCH / "cache"),
                "--project",
                str(project),
                "--",
                "npm",
                "audit",
                "--json",
            ]
            done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
            document = json.loads(done.stdout)
            with gzip.open(OUT / f"{stem}.json.gz", "wt", encoding="utf-8") as stream:
                json.dump({"lockfile": f"{folder}/{lock.name}", "npmExit": done.returncode, "report": document}, stream)
            print(stem, done.returncode, len(document.get("vulnerabilities", {})), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
