"""Record what npm 11 itself reports for every npm lockfile of the shared corpus.

This is the script that produced tests/fixtures/npm_oracle/. It is NOT run by the test suite (the
tests must pass without node, npm, network or the shared corpus); re-run it by hand to refresh the
recordings (the shared corpus folder is $NPMAUDIT_SHARED, by default the one beside the checkouts):

    .venv/bin/python tests/oracle/record_npm_oracle.py [--only STEM ...] [--skip-real-filter]
    .venv/bin/python tests/oracle/record_npm_oracle.py --reruns STEM ... [--rerun-numbers 1 2] [--rerun-tags omit-dev]
    .venv/bin/python tests/oracle/record_npm_oracle.py --color mochajs__mocha

What it does, in order:
1. Collects every package name of the 14 npm-format lockfiles (package-lock v1-v3, shrinkwrap)
   and writes the real OSV records that name one of them (GHSA sample, Node Security WG, malicious;
   withdrawn ones left out) to advisories/real.jsonl, in that file order, exactly as published:
   a record keeps its several `affected` entries for one package (one per vulnerable range).
2. Concatenates real.jsonl and the hand-written advisories/synthetic.jsonl (advisories over versions
   that really occur in those trees, so that meta-vulnerabilities, semver-major fixes, unfixable
   vulns and the severity-order quirk really happen) and runs, for every lockfile, through the
   shared npm-oracle tool (npm's own `npm audit`, with a loopback registry answering the bulk
   endpoint from those records as the public registry does, one advisory per (record, package)
   with all its ranges joined by " || ", and forwarding packument GETs upstream):
     npm audit --json            -> expected/<stem>.json
     npm audit                   -> expected/<stem>.txt     (no colour: stdout is not a TTY)
     npm audit --json --omit=dev -> expected/<stem>.omit-dev.json
   Each npm run gets a fresh npm cache so that no metavuln-calculator cache entry leaks between runs;
   the oracle's packument cache (ORACLE_CACHE) is reused by every run and by
   record_npm_findings.py, so that all recordings see the same packuments.
3. Keeps the packuments npm fetched, trimmed to the fields metavuln-calculator and
   npm-pick-manifest read, in packuments.json.gz ({name: packument | null for a 404}).
Registry host names never reach the recordings: packuments are trimmed to version metadata (no
dist/tarball URLs), and npm's audit output names no registry.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

SHARED = Path(os.environ.get("NPMAUDIT_SHARED") or Path(__file__).resolve().parents[3] / "shared")
LOCKS = SHARED / "data" / "lockfiles"
OSV = SHARED / "data" / "osv"
ORACLE = SHARED / "tools" / "npm-oracle"
NPM_FORMATS = ("package-lock-v1", "package-lock-v2", "package-lock-v3", "npm-shrinkwrap")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "npm_oracle"
SCRATCH = Path("/tmp/npmreport")
ORACLE_CACHE = Path("/tmp/npmaudit-oracle-cache")

# Fields of a packument version that npm's report reads: metavuln-calculator's dependency lookup
# (get-dep-spec.js and advisory.js) and npm-pick-manifest's ordering (deprecated, engines).
KEEP_VERSION_FIELDS = (
    "name",
    "version",
    "dependencies",
    "optionalDependencies",
    "peerDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "deprecated",
    "engines",
)


def npm_lockfiles() -> list[tuple[str, Path, Path]]:
    """(stem, lockfile, package.json) for every npm-format lockfile, sorted by stem."""
    found = []
    for fmt in NPM_FORMATS:
        for lock in sorted((LOCKS / fmt).iterdir()):
            if lock.name.endswith("__package.json"):
                continue
            base = lock.name.removesuffix("package-lock.json").removesuffix("npm-shrinkwrap.json")
            stem = base.removesuffix("__")
            found.append((stem, lock, lock.with_name(base + "package.json")))
    return sorted(found)


def lock_names(lock: Path) -> set[str]:
    data = json.loads(lock.read_text())
    names: set[str] = set()
    for key, entry in (data.get("packages") or {}).items():
        if "node_modules/" in key:
            names.add(entry.get("name") or key.rsplit("node_modules/", 1)[1])

    def walk(deps: dict) -> None:
        for name, entry in deps.items():
            names.add(name)
            version = entry.get("version", "")
            if version.startswith("npm:"):
                names.add(version[4:].rsplit("@", 1)[0])
            walk(entry.get("dependencies") or {})

    walk(data.get("dependencies") or {})
    return names


def write_real_advisories(names: set[str]) -> Path:
    out = FIXTURES / "advisories" / "real.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    kept = 0
    with out.open("w", encoding="utf-8") as fh:
        for src in ("npm-ghsa", "npm-nodesecurity", "npm-malicious"):
            with gzip.open(OSV / f"{src}.jsonl.gz", "rt", encoding="utf-8") as gz:
                for line in gz:
                    record = json.loads(line)
                    if record.get("withdrawn"):
                        continue
                    affected = {
                        (a.get("package") or {}).get("name")
                        for a in record.get("affected") or ()
                        if (a.get("package") or {}).get("ecosystem") == "npm"
                    }
                    if affected & names:
                        fh.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
                        kept += 1
    print(f"real advisories kept: {kept}", file=sys.stderr)
    return out


GET_LINE = re.compile(r'"GET (\S+) HTTP/1\.1" (\d+)')


def run_oracle(stem: str, lock: Path, package_json: Path, advisories: Path, args: list[str], tag: str) -> dict:
    # The project is laid out as the npm-lockfile oracle lays it out (npm_lock_oracle.build_project):
    # lockfile and package.json, plus a package.json in every folder entry of the lockfile
    # (workspace members, file: targets), as in a real checkout. Without them arborist finds no
    # workspaces, distrusts the lockfile's dev/optional flags and recomputes them.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from npm_lock_oracle import build_project

    project = build_project(lock, SCRATCH / "proj")
    npm_cache = SCRATCH / "npmcache" / f"{stem}.{tag}"
    if npm_cache.exists():
        shutil.rmtree(npm_cache)
    env = dict(os.environ, npm_config_cache=str(npm_cache), NO_COLOR="1")
    env.pop("NODE_ENV", None)
    cmd = [
        str(ORACLE),
        "run",
        "--advisories",
        str(advisories),
        "--cache",
        str(ORACLE_CACHE),
        "--verbose",
        "--project",
        str(project),
        "--",
        "npm",
        "audit",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    gets = list(packument_gets(proc.stderr).items())
    return {"stdout": proc.stdout, "exit": proc.returncode, "gets": gets, "stderr": proc.stderr}


def packument_gets(oracle_log: str) -> dict[str, int]:
    """{package name: HTTP status} of the GETs npm made, from npm-oracle's --verbose log."""
    return {urllib.parse.unquote(m.group(1)).lstrip("/"): int(m.group(2)) for m in GET_LINE.finditer(oracle_log)}


def trim_packument(doc: dict) -> dict:
    versions = {}
    for version, manifest in (doc.get("versions") or {}).items():
        versions[version] = {k: manifest[k] for k in KEEP_VERSION_FIELDS if k in manifest}
    return {"name": doc.get("name"), "dist-tags": doc.get("dist-tags") or {}, "versions": versions}


def hide_registry(text: str) -> str:
    """Rewrite the configured registry's host (it occurs in tarball-URL dependency specs of some
    packuments) to the placeholder host the shared lockfiles use; the spec stays a remote-tarball
    spec either way, so npm's treatment of it does not change."""
    configured = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True).stdout
    host = urllib.parse.urlsplit(configured.strip()).hostname
    return text.replace(host, "registry.npmjs.test") if host else text


def collect_packuments(wanted: dict[str, int]) -> dict[str, dict | None]:
    """Trimmed packuments by name, from the oracle's cache (None for a 404)."""
    by_name: dict[str, dict] = {}
    for body in ORACLE_CACHE.iterdir():
        if body.suffix == ".meta":
            continue
        status, _ctype = json.loads(body.with_suffix(".meta").read_text())
        if status != 200:
            continue
        try:
            doc = json.loads(body.read_bytes())
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("versions"), dict) and doc.get("name") in wanted:
            by_name[doc["name"]] = trim_packument(doc)
    result: dict[str, dict | None] = {}
    for name, status in sorted(wanted.items()):
        if name in by_name:
            result[name] = by_name[name]
        elif status == 404:
            result[name] = None
        else:
            raise SystemExit(f"packument for {name} (status {status}) not found in the oracle cache")
    return result


RUNS = (
    ("json", ["--json"], ".json"),
    ("text", [], ".txt"),
    ("omit-dev", ["--json", "--omit=dev"], ".omit-dev.json"),
)


def record_color(stems: list[str]) -> int:
    """npm's detail report with ANSI colours, for the renderer's colour test."""
    locks = {stem: (lock, pj) for stem, lock, pj in npm_lockfiles()}
    combined = SCRATCH / "combined.jsonl"
    combined.write_text(
        (FIXTURES / "advisories" / "real.jsonl").read_text() + (FIXTURES / "advisories" / "synthetic.jsonl").read_text()
    )
    for stem in stems:
        lock, package_json = locks[stem]
        result = run_oracle(stem, lock, package_json, combined, ["--color=always"], "color")
        (FIXTURES / "expected" / f"{stem}.color.txt").write_text(result["stdout"], encoding="utf-8")
    return 0


def record_reruns(stems: list[str], numbers: list[int], tags: list[str]) -> int:
    """More npm runs per stem, same inputs: npm resolves metavuln calculations in network order,
    so some documents differ from run to run (tests/test_npm_report.py relies on these)."""
    locks = {stem: (lock, pj) for stem, lock, pj in npm_lockfiles()}
    combined = SCRATCH / "combined.jsonl"
    combined.write_text(
        (FIXTURES / "advisories" / "real.jsonl").read_text() + (FIXTURES / "advisories" / "synthetic.jsonl").read_text()
    )
    out = FIXTURES / "expected" / "reruns"
    out.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        lock, package_json = locks[stem]
        for run in numbers:
            for tag, args, suffix in (RUNS[0], RUNS[2]):
                if tag not in tags:
                    continue
                result = run_oracle(stem, lock, package_json, combined, args, f"{tag}.rerun{run}")
                (out / f"{stem}.run{run}{suffix}.gz").write_bytes(gzip.compress(result["stdout"].encode(), mtime=0))
                print(f"{stem} {tag} rerun {run}: exit {result['exit']}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--skip-real-filter", action="store_true")
    ap.add_argument(
        "--reruns",
        nargs="*",
        default=None,
        help="only run `npm audit --json` (and --omit=dev) again for these stems, "
        "into expected/reruns/ (evidence of npm's own run-to-run differences)",
    )
    ap.add_argument("--rerun-numbers", nargs="*", type=int, default=[1, 2], help="run numbers to record (1 2)")
    ap.add_argument("--rerun-tags", nargs="*", default=["json", "omit-dev"], help="which runs to repeat")
    ap.add_argument(
        "--color",
        nargs="*",
        default=None,
        help="only record `npm audit --color=always` for these stems (expected/<stem>.color.txt)",
    )
    opts = ap.parse_args(argv)
    if opts.color is not None:
        return record_color(opts.color)
    if opts.reruns is not None:
        return record_reruns(opts.reruns, opts.rerun_numbers, opts.rerun_tags)
    locks = npm_lockfiles()
    if opts.skip_real_filter:
        real = FIXTURES / "advisories" / "real.jsonl"
    else:
        names: set[str] = set()
        for _stem, lock, _pj in locks:
            names |= lock_names(lock)
        real = write_real_advisories(names)
    synthetic = FIXTURES / "advisories" / "synthetic.jsonl"
    SCRATCH.mkdir(parents=True, exist_ok=True)
    combined = SCRATCH / "combined.jsonl"
    combined.write_text(real.read_text() + (synthetic.read_text() if synthetic.exists() else ""))
    expected = FIXTURES / "expected"
    expected.mkdir(parents=True, exist_ok=True)
    meta_path = FIXTURES / "runs.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    meta["_tools"] = {
        "npm": subprocess.run(["npm", "--version"], capture_output=True, text=True).stdout.strip(),
        "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
    }
    packument_status: dict[str, int] = {}
    pk_path = FIXTURES / "packuments.json.gz"
    old_packuments = json.loads(gzip.decompress(pk_path.read_bytes())) if pk_path.exists() else {}
    for stem, lock, package_json in locks:
        if opts.only and stem not in opts.only:
            continue
        for tag, args, suffix in RUNS:
            result = run_oracle(stem, lock, package_json, combined, args, tag)
            (expected / f"{stem}{suffix}").write_text(result["stdout"], encoding="utf-8")
            meta.setdefault(stem, {})[tag] = {"args": ["npm", "audit", *args], "exit": result["exit"]}
            for name, status in result["gets"]:
                packument_status[name] = status
            print(f"{stem} {tag}: exit {result['exit']}, {len(result['gets'])} GETs", file=sys.stderr)
            if tag == "json" and not result["stdout"].lstrip().startswith("{"):
                print(result["stderr"][-2000:], file=sys.stderr)
    packuments = dict(old_packuments)
    packuments.update(collect_packuments(packument_status))
    data = hide_registry(json.dumps(packuments, sort_keys=True, separators=(",", ":"))).encode()
    pk_path.write_bytes(gzip.compress(data, mtime=0))
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    print(f"packuments: {len(packuments)} ({len(data)} bytes raw, {pk_path.stat().st_size} gz)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
