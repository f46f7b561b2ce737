"""Record the real npm CLI against `npmaudit serve` (tests/fixtures/serve/, SOURCE.md there).

NOT run by the test suite (it needs node, npm, the network and the shared corpus); run it by hand:

    .venv/bin/python tests/oracle/record_serve_oracle.py --old-npm /tmp/oldnpm [--only STEM ...]

``--old-npm DIR`` holds npm 6, 8 and 10 installed from the npm registry into a temporary folder
(``npm install --prefix DIR/6 npm@6``, likewise 8 and 10); they are run as DIR/<n>/node_modules/.bin/npm.

What it does:
1. Builds a store from the advisories npm-oracle's recordings use (tests/fixtures/npm_oracle/advisories:
   real.jsonl then synthetic.jsonl) and starts `npmaudit serve` on loopback with `--upstream` set to
   npm-oracle's forwarder of the registry npm is configured with (`npm config get registry`), over the
   packument cache the npm-oracle recordings used: packuments and keys come from that registry, and
   both recordings see the same packuments.
2. Puts a recording front on loopback before it: every POST npm makes is kept (path, the decompressed
   body, serve's answer) and passed on; GETs are passed on. In "refuse-bulk" mode the front answers the
   bulk endpoint 503, which is what makes npm 8 and 10 fall back to the quick-audit endpoint.
3. For every npm lockfile of the corpus (laid out as record_npm_oracle.py lays it out):
   - npm 11 `npm audit --json` through serve -> npm11/<stem>.json, and the bulk request and answer
     -> npm11/<stem>.bulk.json.gz;
   - the same through npm-oracle on the same advisories (the reference) -> compared here, the result
     in comparison.json (the reference documents are tests/fixtures/npm_oracle/expected);
   - npm 10 and npm 8 (bulk refused: quick audit) and npm 6 (its `/audits` endpoint; only lockfiles
     with a v1 `dependencies` tree, which is all npm 6 reads) -> npm<n>/<stem>.json and the request
     and answer -> npm<n>/<stem>.quick.json.gz.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from record_npm_oracle import ORACLE, ORACLE_CACHE, SCRATCH, npm_lockfiles, run_oracle  # noqa: E402

REPO = HERE.parents[1]
ADVISORIES = REPO / "tests" / "fixtures" / "npm_oracle" / "advisories"
OUT = REPO / "tests" / "fixtures" / "serve"
BULK = "/-/npm/v1/security/advisories/bulk"
OLD_NPMS = ("10", "8", "6")


class Front:
    """A loopback proxy before serve that records POSTs and can refuse the bulk endpoint."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.refuse_bulk = False
        self.posts: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _pass(self, method: str, body: bytes | None) -> tuple[int, str, bytes]:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(owner.target + self.path, data=body, headers=headers, method=method)
                try:
                    with urllib.request.urlopen(request, timeout=120) as answer:
                        return answer.status, answer.headers.get("content-type", ""), answer.read()
                except urllib.error.HTTPError as error:
                    return error.code, error.headers.get("content-type", ""), error.read()

            def _reply(self, status: int, ctype: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", ctype or "application/octet-stream")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._reply(*self._pass("GET", None))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                plain = gzip.decompress(raw) if self.headers.get("content-encoding") == "gzip" else raw
                if owner.refuse_bulk and self.path.split("?")[0] == BULK:
                    owner.posts.append({"path": self.path, "refused": True})
                    self._reply(503, "application/json", b'{"error":"bulk refused by the recorder"}')
                    return
                status, ctype, body = self._pass("POST", raw)
                owner.posts.append(
                    {"path": self.path, "status": status, "request": json.loads(plain), "answer": json.loads(body)}
                )
                self._reply(status, ctype, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"


def start_serve(store: Path, upstream: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "npmaudit", "serve", "--db", str(store), "--port", "0", "--upstream", upstream],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    url = line.split("listening on ", 1)[1].split(" ", 1)[0]
    threading.Thread(target=lambda: [None for _ in proc.stderr or ()], daemon=True).start()  # drain the log
    return proc, url


def run_npm(npm: str, project: Path, registry: str, tag: str, **config: str) -> dict[str, Any]:
    cache = Path(tempfile.mkdtemp(prefix=f"npmcache-{tag}-"))
    env = dict(
        os.environ,
        **{f"npm_config_{key}": value for key, value in config.items()},
        npm_config_cache=str(cache),
        npm_config_audit="true",
        npm_config_update_notifier="false",
        npm_config_fund="false",
        NO_COLOR="1",
    )
    env.pop("NODE_ENV", None)
    proc = subprocess.run(
        [npm, "audit", "--json", "--registry", registry], cwd=project, env=env, capture_output=True, text=True
    )
    shutil.rmtree(cache, ignore_errors=True)
    return {"stdout": proc.stdout, "exit": proc.returncode, "stderr": proc.stderr}


def summary(document: dict[str, Any]) -> dict[str, Any]:
    """What the comparison is about: each vulnerable package's range and via (advisory sources,
    package names), from an auditReportVersion 2 document; npm 6's report by module name."""
    if "vulnerabilities" in document:
        return {
            name: {
                "range": vuln["range"],
                "via": sorted(str(v["source"]) if isinstance(v, dict) else v for v in vuln["via"]),
            }
            for name, vuln in document["vulnerabilities"].items()
        }
    return {a["module_name"]: {"ids": sorted({str(a["id"])})} for a in document.get("advisories", {}).values()}


def save_gz(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(document, sort_keys=True, separators=(",", ":")).encode(), mtime=0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--old-npm", type=Path, default=None)
    ap.add_argument("--skip-oracle", action="store_true")
    opts = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from npm_lock_oracle import build_project

    work = SCRATCH / "serve"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    store = work / "store.sqlite"
    combined = work / "combined.jsonl"
    combined.write_text((ADVISORIES / "real.jsonl").read_text() + (ADVISORIES / "synthetic.jsonl").read_text())
    subprocess.run([sys.executable, "-m", "npmaudit", "db", "import", "--db", str(store), str(combined)], check=True)
    # The upstream is npm-oracle's forwarder of the registry npm is configured with, over its
    # packument cache: serve's GETs then reach the configured registry through --upstream, and both
    # recordings see the same packuments (a package published between two runs cannot differ them).
    oracle = subprocess.Popen(
        [str(ORACLE), "serve", "--advisories", str(combined), "--cache", str(ORACLE_CACHE)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert oracle.stdout is not None
    upstream = oracle.stdout.readline().rsplit(" at ", 1)[1].strip()
    serve, serve_url = start_serve(store, upstream)
    front = Front(serve_url)
    versions = {"11": subprocess.run(["npm", "--version"], capture_output=True, text=True).stdout.strip()}
    for old in OLD_NPMS:
        if opts.old_npm:
            npm = str(opts.old_npm / old / "node_modules" / ".bin" / "npm")
            versions[old] = subprocess.run([npm, "--version"], capture_output=True, text=True).stdout.strip()
    comparison_path = OUT / "comparison.json"
    comparison = json.loads(comparison_path.read_text()) if comparison_path.exists() else {}
    comparison["_tools"] = {
        "npm": versions,
        "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
    }
    try:
        for stem, lock, _package_json in npm_lockfiles():
            if opts.only and stem not in opts.only:
                continue
            project = build_project(lock, work / "proj")
            entry: dict[str, Any] = {}
            front.refuse_bulk = False
            front.posts.clear()
            ours = run_npm("npm", project, front.url, "11")
            (OUT / "npm11").mkdir(parents=True, exist_ok=True)
            (OUT / "npm11" / f"{stem}.json").write_text(ours["stdout"])
            posts = [p for p in front.posts if p["path"].startswith(BULK)]
            save_gz(OUT / "npm11" / f"{stem}.bulk.json.gz", posts)
            serve_summary = summary(json.loads(ours["stdout"]))
            entry["npm11"] = {"exit": ours["exit"], "vulnerabilities": len(serve_summary)}
            if not opts.skip_oracle:
                reference = run_oracle(stem, lock, _package_json, combined, ["--json"], "serve-ref")
                ref_summary = summary(json.loads(reference["stdout"]))
                entry["npm11"]["same_as_npm_oracle"] = ref_summary == serve_summary
                if ref_summary != serve_summary:
                    entry["npm11"]["differences"] = {
                        name: {"serve": serve_summary.get(name), "npm-oracle": ref_summary.get(name)}
                        for name in sorted(set(ref_summary) | set(serve_summary))
                        if ref_summary.get(name) != serve_summary.get(name)
                    }
            if opts.old_npm:
                lock_doc = json.loads(lock.read_text())
                for old in OLD_NPMS:
                    if old == "6" and not lock_doc.get("dependencies"):
                        continue  # npm 6 reads only a v1 `dependencies` tree (v3 lockfiles have none)
                    npm = str(opts.old_npm / old / "node_modules" / ".bin" / "npm")
                    front.refuse_bulk = True
                    front.posts.clear()
                    # npm 9-10 commit the tree as lockfile v3, which has no `dependencies`: their quick
                    # request then holds only the root's requirements. lockfile-version=2 makes them
                    # send the tree (npm 8 keeps the lockfile's own version, so it needs it for v3).
                    extra = {} if old == "6" else {"lockfile_version": "2"}
                    result = run_npm(npm, project, front.url, old, **extra)
                    (OUT / f"npm{old}").mkdir(parents=True, exist_ok=True)
                    (OUT / f"npm{old}" / f"{stem}.json").write_text(result["stdout"])
                    quick = [p for p in front.posts if "/security/audits" in p["path"]]
                    save_gz(OUT / f"npm{old}" / f"{stem}.quick.json.gz", quick)
                    try:
                        old_summary = summary(json.loads(result["stdout"]))
                    except ValueError:
                        old_summary = None
                    if old_summary is not None:
                        # The same npm through the bulk endpoint is the reference: npm 10's report is
                        # not npm 11's. npm 6 has no bulk request and lists advisories by module: it
                        # is compared with npm 11's packages an advisory names directly (a numeric via).
                        if old == "6":
                            wanted = {n for n, v in serve_summary.items() if any(x.isdigit() for x in v["via"])}
                        else:
                            front.refuse_bulk = False
                            bulk_run = run_npm(npm, project, front.url, f"{old}-bulk", **extra)
                            (OUT / f"npm{old}" / f"{stem}.bulk-run.json").write_text(bulk_run["stdout"])
                            wanted = set(summary(json.loads(bulk_run["stdout"])))
                        entry[f"npm{old}_quick_same_vulnerable_as_reference"] = set(old_summary) == wanted
                        if set(old_summary) != wanted:
                            entry[f"npm{old}_only"] = sorted(set(old_summary) - wanted)
                            entry[f"reference_only_vs_npm{old}"] = sorted(wanted - set(old_summary))
                    entry[f"npm{old}"] = {
                        "exit": result["exit"],
                        "endpoints": [p["path"] for p in front.posts],
                        "vulnerable": sorted(old_summary) if old_summary is not None else None,
                        "error": None if old_summary is not None else result["stderr"][-500:],
                    }
            comparison[stem] = entry
            comparison_path.write_text(json.dumps(comparison, indent=2, sort_keys=True) + "\n")
            print(stem, json.dumps(entry)[:400], file=sys.stderr, flush=True)
    finally:
        front.server.shutdown()
        serve.terminate()
        serve.wait(timeout=30)
        oracle.terminate()
    comparison_path.write_text(json.dumps(comparison, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
