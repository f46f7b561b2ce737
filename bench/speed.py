"""Every figure of issue 17 ("fast everywhere"), side by side, in one run: ratios against the goals.

    .venv/bin/python bench/speed.py [--work /tmp/npmaudit-speed] [--shared ../shared] [--runs 5]
                                    [--only npm-json yaml growth recursive startup store] [--latency 0.02]
                                    [--baseline OTHER/.venv/bin/npmaudit]

Sections (each prints its ratios and the goal; the machine's load average is printed at the start
and the end, since a shared machine makes every wall time noisy: CPU times are given beside them):

* ``npm-json``  ``--format npm-json`` on create-react-app with the recorded advisories (real and
  synthetic OSV records of tests/fixtures/npm_oracle): npmaudit with a warm packument cache (fresh
  within the registry's max-age), with a warm cache the registry does not let it trust (every
  packument revalidated), and cold; npm 11 (``npm audit --json`` through the shared npm-oracle
  tool, its own cache warm) as the peer. Both get the same packuments from one registry on
  127.0.0.1 that answers as the public one does (ETag, ``Cache-Control: public, max-age=300``)
  after ``--latency`` seconds per request. Goals: warm >= 3x, cold >= 2x faster than npm warm.
* ``yaml``      in-process audit time per node of jest (yarn berry) and lexical (pnpm 9) against
  create-react-app (npm). Goal: within 2x.
* ``growth``    20k and 100k-package lockfiles of npm, pnpm 9 and yarn berry made from the real
  ones (bench/scale_lockfiles.py), audited as whole processes. Goals: 100k/20k <= 5.5x for every
  format; pnpm and berry 100k within 3x of npm 100k. Beside each growth, the growth of a parser in
  C alone over the same two lockfiles (json.loads, libyaml; collector off): what this machine's
  caches and memory make of five times the data for work that is linear by construction.
* ``recursive`` ``audit -r`` over 200 projects (every real lockfile of the corpus, then copies of
  the small ones). Goals: peak RSS <= 1.5x a single audit of the largest; CPU <= 20 ms per project.
* ``startup``   ``--help`` against ``python -c pass``; the offline create-react-app audit against
  ``python -c "import json; json.load(open(lockfile))"``. Goals: 3x and 2.5x. Beside them, the
  audit's skeleton (bench/audit_skeleton.py: the standard modules an audit needs, the parse, one
  tuple per package and the store's lookup query, nothing of npmaudit's own), which tells how much
  of the offline audit is npmaudit's own work and how much the goal leaves it. The commands run in
  turn, round after round; ``--baseline PATH`` adds another installation's ``npmaudit`` (the main
  checkout's, say) to the rounds, for before/after figures from one run.
* ``store``     215k-record store (shared/tools/make-scale-corpus): ``db export --format json`` now
  against the standard library's indenting encoder (the export before; bytes compared), and
  ``db import`` now against the import before issue 17 (the package at ``BEFORE_IMPORT``, run from a
  copy: a compressor made per record, every record modelled, the standard library's JSON parser).
  Goals: export >= 3x, import >= 1.5x.

Every child process gets byte-code compiled once into the work directory, as an installed package
has it (PYTHONDONTWRITEBYTECODE would make each one compile every module again).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
ORACLE = FIXTURES / "npm_oracle"
NPMAUDIT = Path(sys.executable).parent / "npmaudit"
REAL_NAMES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock")
SECTIONS = ("npm-json", "yaml", "growth", "recursive", "startup", "store")

sys.path.insert(0, str(ROOT / "tests"))  # the test suite's registry server
sys.path.insert(0, str(ROOT / "tests" / "oracle"))  # the recorders' project layout
sys.path.insert(0, str(ROOT / "bench"))


class Run:
    """One child process: wall seconds, CPU seconds (user + system, its own children included), stdout."""

    def __init__(self, wall: float, cpu: float, stdout: bytes) -> None:
        self.wall, self.cpu, self.stdout = wall, cpu, stdout


def run(command: Sequence[str], *, env: dict[str, str], cwd: Path | None = None, ok: Sequence[int] = (0, 1)) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    child = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = child.communicate()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if child.returncode not in ok:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{stderr.decode(errors='replace')[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, stdout)


def peak_rss(command: Sequence[str], *, env: dict[str, str]) -> int:
    """The peak RSS (MB) of one process, measured by a fresh interpreter so earlier children don't count."""
    probe = (
        "import os, subprocess, sys\n"
        "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "_, status, usage = os.wait4(child.pid, 0)\n"
        "print(usage.ru_maxrss // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *command], env=env, capture_output=True, check=True)
    return int(out.stdout)


def repeated(command: Sequence[str], runs: int, *, env: dict[str, str], warm: bool = True, **kw: Any) -> list[Run]:
    if warm:
        run(command, env=env, **kw)
    return [run(command, env=env, **kw) for _ in range(runs)]


def med(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(ratio: float, goal: float, *, at_most: bool = False) -> str:
    met = ratio <= goal if at_most else ratio >= goal
    return f"{'met' if met else 'NOT met'} (goal {'<=' if at_most else '>='} {goal:g}x)"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def corpus_project(shared: Path, folder: str, stem: str, name: str, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    source = shared / "data" / "lockfiles" / folder
    shutil.copy(source / f"{stem}__{name}", target / name)
    manifest = source / f"{stem}__package.json"
    if manifest.is_file():
        shutil.copy(manifest, target / "package.json")
    return target


# -- npm-json online -------------------------------------------------------------------------------


def npm_json(args: argparse.Namespace, env: dict[str, str]) -> None:
    from servers.registry_server import RegistryServer

    work: Path = args.work / "npm-json"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    lines: list[str] = []
    for name in ("real.jsonl", "synthetic.jsonl"):
        lines += [x for x in (ORACLE / "advisories" / name).read_text().splitlines() if x.strip()]
    advisories = work / "advisories.jsonl"
    advisories.write_text("\n".join(lines) + "\n")
    # Laid out as the recordings were (tests/oracle): the lockfile, package.json, and a package.json
    # in every workspace folder, without which npm distrusts the lockfile's dev/optional flags.
    from npm_lock_oracle import build_project

    lockfile = args.shared / "data" / "lockfiles" / "package-lock-v2" / "facebook__create-react-app__package-lock.json"
    project = build_project(lockfile, work / "project")
    with gzip.open(ORACLE / "packuments.json.gz", "rt", encoding="utf-8") as stream:
        packuments = {name: doc for name, doc in json.load(stream).items() if doc is not None}
    with RegistryServer(packuments=packuments, latency=args.latency, cache_control="public, max-age=300") as registry:
        base = dict(env, npm_config_registry=registry.url)
        ours = [str(NPMAUDIT), "audit", str(project), "--format", "npm-json", "--compromised", "--db", str(advisories)]
        warm_env = dict(base, NPMAUDIT_CACHE_DIR=str(work / "cache-warm"))
        run(ours, env=warm_env)  # fills the cache
        before = len(registry.requests)
        warm = [run(ours, env=warm_env) for _ in range(args.runs)]
        warm_requests = (len(registry.requests) - before) / args.runs
        missing = (
            sum(
                1
                for request in registry.requests[before:]
                if unquote(request.path.rsplit("/", 1)[-1]) not in packuments
            )
            / args.runs
        )
        registry.cache_control = None  # now the registry says nothing: every use revalidates (304s)
        before = len(registry.requests)
        revalidated = [run(ours, env=warm_env) for _ in range(args.runs)]
        revalidate_requests = (len(registry.requests) - before) / args.runs
        registry.cache_control = "public, max-age=300"
        cold = []
        for index in range(args.runs):
            cold_env = dict(base, NPMAUDIT_CACHE_DIR=str(work / f"cache-cold-{index}"))
            before = len(registry.requests)
            cold.append(run(ours, env=cold_env))
        cold_requests = len(registry.requests) - before
        ours_doc = json.loads(warm[-1].stdout)
        oracle = args.shared / "tools" / "npm-oracle"
        if shutil.which("npm") is None or not oracle.exists():
            print("npm-json: npm or npm-oracle missing: npm's figures skipped")
            npm_runs: list[Run] = []
        else:
            npm_env = dict(base, npm_config_cache=str(work / "npm-cache"), npm_config_update_notifier="false")
            npm_cmd = [str(oracle), "run", "--advisories", str(advisories), "--project", str(project)]
            npm_cmd += ["--", "npm", "audit", "--json"]
            npm_runs = repeated(npm_cmd, args.runs, env=npm_env)
    print(
        f"npm-json (create-react-app, {len(lines)} advisories, registry latency {args.latency * 1000:.0f} ms/request)"
    )
    rows = [
        (
            "npmaudit, warm (fresh within max-age)",
            warm,
            f"{warm_requests:.0f} requests, {missing:.0f} of them for names the recording lacks (404, never fresh)",
        ),
        ("npmaudit, warm (all revalidated)", revalidated, f"{revalidate_requests:.0f} conditional requests"),
        ("npmaudit, cold", cold, f"{cold_requests} requests"),
    ]
    if npm_runs:
        rows.append(("npm 11 audit --json (npm-oracle), warm", npm_runs, "its cache warm"))
    for label, runs, note in rows:
        wall, cpu = med([r.wall for r in runs]), med([r.cpu for r in runs])
        print(f"  {label:42} wall {wall:6.2f} s  CPU {cpu:5.2f} s  ({note})")
    if npm_runs:
        npm_wall = med([r.wall for r in npm_runs])
        npm_doc = json.loads(npm_runs[-1].stdout)
        (work / "npm.json").write_bytes(npm_runs[-1].stdout)
        (work / "npmaudit.json").write_bytes(warm[-1].stdout)
        same = npm_doc["vulnerabilities"].keys() == ours_doc["vulnerabilities"].keys()
        same_counts = npm_doc["metadata"] == ours_doc["metadata"]
        # npm's own runs can disagree among themselves (its fixAvailable comes from an ideal tree built
        # against the registry as it answers that run), so ours is compared with each of them.
        npm_docs = [json.loads(r.stdout) for r in npm_runs]
        identical = sum(doc == ours_doc for doc in npm_docs)
        distinct = len({json.dumps(doc, sort_keys=True) for doc in npm_docs})
        print(
            f"  same vulnerable packages as npm: {same}; same counts: {same_counts}; identical documents: {identical}"
            f" of {len(npm_docs)} npm runs (npm's runs gave {distinct} distinct documents; ours and npm's last kept"
            f" in {work})"
        )
        goals = (("warm", warm, 3.0), ("warm, all revalidated", revalidated, 3.0), ("cold", cold, 2.0))
        for label, runs, goal in goals:
            ratio = npm_wall / med([r.wall for r in runs])
            print(f"  npm warm / npmaudit {label}: {ratio:.1f}x  {verdict(ratio, goal)}")


# -- YAML per node ---------------------------------------------------------------------------------

PER_NODE_CHILD = """
import json, sys, time
from dataclasses import replace
from pathlib import Path
import npmaudit.cli
from npmaudit.auditing.run import open_sources, run_audit
from npmaudit.report import render
from npmaudit.settings import Settings
npmaudit.cli.tune_gc()
settings = replace(Settings.for_library(), local=True, db=Path(sys.argv[1]), offline=True)
sources = open_sources(settings)
out = {}
for folder in sys.argv[3:]:
    times = []
    for _ in range(int(sys.argv[2])):
        start = time.process_time()
        outcome = run_audit(Path(folder), settings, sources=sources)
        render("json", outcome)
        times.append(time.process_time() - start)
    out[folder] = (sorted(times)[len(times) // 2], len(outcome.result.project.nodes))
print(json.dumps(out))
"""


def per_node(args: argparse.Namespace, env: dict[str, str], store: Path) -> None:
    work = args.work / "per-node"
    projects = {
        "create-react-app (npm)": corpus_project(
            args.shared, "package-lock-v2", "facebook__create-react-app", "package-lock.json", work / "cra"
        ),
        "lexical (pnpm 9)": corpus_project(
            args.shared, "pnpm-v9", "facebook__lexical", "pnpm-lock.yaml", work / "lexical"
        ),
        "jest (yarn berry)": corpus_project(args.shared, "yarn-berry", "jestjs__jest", "yarn.lock", work / "jest"),
    }
    command = [sys.executable, "-c", PER_NODE_CHILD, str(store), str(max(5, args.runs * 2))]
    result = json.loads(run([*command, *map(str, projects.values())], env=env).stdout)
    figures = {label: result[str(folder)] for label, folder in projects.items()}
    print("yaml: audit per node, in-process CPU (read, match, JSON report; median)")
    base = figures["create-react-app (npm)"][0] / figures["create-react-app (npm)"][1]
    for label, (seconds, nodes) in figures.items():
        each = seconds / nodes
        ratio = each / base
        goal = "" if label.startswith("create") else f"  {ratio:.2f}x of npm's  {verdict(ratio, 2.0, at_most=True)}"
        print(f"  {label:24} {nodes:5} nodes  {seconds * 1000:6.1f} ms  {each * 1e6:6.1f} us/node{goal}")


# -- growth ----------------------------------------------------------------------------------------


def growth(args: argparse.Namespace, env: dict[str, str], store: Path) -> None:
    from scale_lockfiles import generate

    out = args.work / "scale"
    attempts = max(5, args.runs // 2 + 1)  # the ratios sit near their goal: five rounds at least
    print(
        f"growth: whole `npmaudit audit --compromised --format json` processes (CPU, median of {attempts}; "
        "the two sizes of a format run in turn, so a burst of load on the shared machine hits both)"
    )
    cpu: dict[tuple[str, int], float] = {}
    for fmt in ("npm", "pnpm", "berry"):
        commands: dict[int, list[str]] = {}
        for size in (20_000, 100_000):
            started = time.perf_counter()
            project = generate(fmt, size, out, args.shared)
            made = time.perf_counter() - started
            if made > 1:
                print(f"  ({fmt} {size:,}: lockfile made in {made:.0f} s)")
            commands[size] = [
                str(NPMAUDIT),
                "audit",
                str(project),
                "--db",
                str(store),
                "--compromised",
                "--format",
                "json",
            ]
        taken: dict[int, list[Run]] = {size: [] for size in commands}
        for _ in range(attempts):
            for size, command in commands.items():
                taken[size].append(run(command, env=env))
        for size, runs in taken.items():
            cpu[fmt, size] = med([r.cpu for r in runs])
            wall = med([r.wall for r in runs])
            print(f"  {fmt:6} {size:>7,}: CPU {cpu[fmt, size]:6.2f} s  wall {wall:6.2f} s")
    floors = reference_growth(out, attempts, env)
    for fmt in ("npm", "pnpm", "berry"):
        ratio = cpu[fmt, 100_000] / cpu[fmt, 20_000]
        print(f"  {fmt:6} 100k / 20k: {ratio:.2f}x  {verdict(ratio, 5.5, at_most=True)}  ({floors[fmt]})")
    for fmt in ("pnpm", "berry"):
        ratio = cpu[fmt, 100_000] / cpu["npm", 100_000]
        print(f"  {fmt:6} 100k / npm 100k: {ratio:.2f}x  {verdict(ratio, 3.0, at_most=True)}")


# What a parser in C takes for each lockfile, in a fresh process with the collector off (CPU of the
# parse alone): a workload linear by construction, so its growth from 20k to 100k packages is what
# this machine's caches and memory make of 5x the data. Printed beside the growth goal, whose verdict
# it does not change.
REFERENCE_PARSE = """
import gc, sys, time
gc.disable()
path, kind = sys.argv[1], sys.argv[2]
if kind == "json":
    import json
    data = open(path, "rb").read()
    started = time.process_time()
    json.loads(data)
else:
    import yaml
    data = open(path, encoding="utf-8").read()
    started = time.process_time()
    yaml.load(data, Loader=yaml.CBaseLoader)
print(time.process_time() - started)
"""
REFERENCE_FILES = {
    "npm": ("package-lock.json", "json"),
    "pnpm": ("pnpm-lock.yaml", "yaml"),
    "berry": ("yarn.lock", "yaml"),
}


def reference_growth(out: Path, attempts: int, env: dict[str, str]) -> dict[str, str]:
    """Per format, the 100k / 20k ratio of :data:`REFERENCE_PARSE` over the same lockfiles, as text."""
    import yaml

    said = {}
    for fmt, (name, kind) in REFERENCE_FILES.items():
        if kind == "yaml" and not getattr(yaml, "__with_libyaml__", False):
            said[fmt] = "reference not measured: PyYAML without libyaml"
            continue
        times: dict[int, list[float]] = {20_000: [], 100_000: []}
        for _ in range(attempts):
            for size, taken in times.items():
                path = out / f"{fmt}-{size}" / name
                child = run([sys.executable, "-c", REFERENCE_PARSE, str(path), kind], env=env)
                taken.append(float(child.stdout))
        ratio = med(times[100_000]) / med(times[20_000])
        parser = "json.loads" if kind == "json" else "libyaml"
        said[fmt] = f"reference: {parser} alone, collector off, grows {ratio:.2f}x"
    return said


# -- -r over 200 projects --------------------------------------------------------------------------


def fleet(shared: Path, root: Path, size: int = 200) -> list[Path]:
    if root.is_dir():
        return sorted(p for p in root.iterdir() if p.is_dir())
    corpus = shared / "data" / "lockfiles"
    found = []
    for lockfile in sorted(corpus.glob("*/*")):
        stem, _, name = lockfile.name.rpartition("__")
        if name in REAL_NAMES:
            found.append((lockfile.parent.name, stem, name, lockfile.stat().st_size))
    small = [entry for entry in found if entry[3] < 150_000]
    chosen = found + [small[index % len(small)] for index in range(size - len(found))]
    projects = []
    for index, (folder, stem, name, _) in enumerate(chosen):
        projects.append(corpus_project(shared, folder, stem, name, root / f"p{index:03d}-{stem[:40]}"))
    return projects


def recursive(args: argparse.Namespace, env: dict[str, str], store: Path) -> None:
    root = args.work / "fleet"
    projects = fleet(args.shared, root)
    print(f"recursive: audit -r over {len(projects)} projects (each real lockfile of the corpus, then small ones)")
    single = [str(NPMAUDIT), "audit", "--db", str(store), "--compromised", "--format", "json"]
    from npmaudit.project.loader import load_project

    largest = max(projects[:45], key=lambda p: len(load_project(p).nodes))
    single_rss = max(peak_rss([*single, str(largest)], env=env) for _ in range(3))
    every_rss = {}
    for p in projects[:39]:
        every_rss[p.name] = peak_rss([*single, str(p)], env=env)
    biggest = max(every_rss.values())
    print(
        f"  single audit of the largest ({largest.name}, {len(load_project(largest).nodes)} nodes): "
        f"peak RSS {single_rss} MB (the most of any single audit: {biggest} MB)"
    )
    for fmt in ("json", "text"):
        command = [str(NPMAUDIT), "audit", "-r", str(root), "--db", str(store), "--compromised", "--format", fmt]
        runs = repeated(command, max(1, args.runs // 2), env=env)
        rss = max(peak_rss(command, env=env) for _ in range(2))
        cpu = med([r.cpu for r in runs])
        per_project = cpu / len(projects) * 1000
        met = "met" if per_project <= 20 else "NOT met"
        print(
            f"  -r --format {fmt:4}: CPU {cpu:.2f} s = {per_project:.1f} ms/project ({met}: goal <= 20 ms); "
            f"peak RSS {rss} MB = {rss / single_rss:.2f}x the largest  {verdict(rss / single_rss, 1.5, at_most=True)}"
        )


# -- startup ---------------------------------------------------------------------------------------


def startup(args: argparse.Namespace, env: dict[str, str], store: Path) -> None:
    project = corpus_project(
        args.shared, "package-lock-v2", "facebook__create-react-app", "package-lock.json", args.work / "startup-cra"
    )
    lockfile = project / "package-lock.json"
    runs = max(11, args.runs * 3)
    audit = ["audit", str(project), "--db", str(store), "--compromised", "--format=json"]
    commands: dict[str, list[str]] = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "npmaudit --help": [str(NPMAUDIT), "--help"],
        "json.load(lockfile)": [sys.executable, "-c", f"import json; json.load(open({str(lockfile)!r}))"],
        "offline audit": [str(NPMAUDIT), *audit],
        # Imports, parse and store query alone (bench/audit_skeleton.py): what the audit cannot go below.
        "audit skeleton": [sys.executable, str(ROOT / "bench" / "audit_skeleton.py"), str(lockfile), str(store)],
    }
    if args.baseline is not None:  # another installation (e.g. the main checkout's), measured alongside
        commands["baseline --help"] = [str(args.baseline), "--help"]
        commands["baseline offline audit"] = [str(args.baseline), *audit]
    for command in commands.values():
        run(command, env=env)  # warm: byte-code compiled, files in the page cache
    taken: dict[str, list[Run]] = {label: [] for label in commands}
    for _ in range(runs):  # round-robin, so a burst of load on the shared machine hits every command alike
        for label, command in commands.items():
            taken[label].append(run(command, env=env))
    figures = {label: (med([r.wall for r in rs]), med([r.cpu for r in rs])) for label, rs in taken.items()}
    print(f"startup (median of {runs}, commands interleaved; CPU = user + system)")
    for label, (wall, cpu) in figures.items():
        print(f"  {label:24} wall {wall * 1000:6.1f} ms  CPU {cpu * 1000:6.1f} ms")
    pairs = [("npmaudit --help", "python -c pass", 3.0), ("offline audit", "json.load(lockfile)", 2.5)]
    if args.baseline is not None:
        pairs += [("baseline --help", "python -c pass", 3.0), ("baseline offline audit", "json.load(lockfile)", 2.5)]
    for what, floor, goal in pairs:
        wall = figures[what][0] / figures[floor][0]
        cpu = figures[what][1] / max(figures[floor][1], 1e-3)
        print(f"  {what} / {floor}: wall {wall:.1f}x  {verdict(wall, goal, at_most=True)}; CPU {cpu:.1f}x")
    skeleton, floor_wall, audit_wall = (
        figures["audit skeleton"][0],
        figures["json.load(lockfile)"][0],
        figures["offline audit"][0],
    )
    print(
        f"  audit skeleton / json.load(lockfile): wall {skeleton / floor_wall:.2f}x (no goal: the part of the offline "
        f"audit that is not npmaudit's own work); npmaudit's own work: {1000 * (audit_wall - skeleton):.1f} ms, "
        f"{1000 * max(0.0, 2.5 * floor_wall - skeleton):.1f} ms allowed by the 2.5x goal"
    )


# -- store -----------------------------------------------------------------------------------------

OLD_EXPORT = """
import json, sys
from pathlib import Path
from npmaudit.advisories.store import AdvisoryStore
import npmaudit.cli
npmaudit.cli.tune_gc()
with AdvisoryStore.open(Path(sys.argv[1])) as store, open(sys.argv[2], "w", encoding="utf-8") as stream:
    count = 0
    for record in store.iter_records():
        text = json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False)
        stream.write(("[\\n" if count == 0 else ",\\n") + "  " + text.replace("\\n", "\\n  "))
        count += 1
    stream.write("\\n]\\n" if count else "[]\\n")
"""

# The import as it was before issue 17's work (the parent of the commit that prepared one compressor):
# the package of that commit, run from a copy, so every later change to the import path is measured.
BEFORE_IMPORT = "7939bd6ac25a5afc1c4a94d0265904a4bfae1cae"
OLD_IMPORT = """
import sys
sys.path.insert(0, sys.argv.pop(1))
from npmaudit.cli import run
sys.argv = ["npmaudit", *sys.argv[1:]]
run()
"""


def package_at(commit: str, target: Path) -> Path:
    """``src/`` of the package as it was at ``commit`` (from this checkout's history), unpacked under ``target``."""
    import io
    import tarfile

    if not (target / "npmaudit" / "__init__.py").is_file():
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "src/npmaudit"], capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as bundle:
            for member in bundle.getmembers():
                member.name = member.name.removeprefix("src/")
            bundle.extractall(target, filter="data")
    return target


def store_figures(args: argparse.Namespace, env: dict[str, str], corpus: Path) -> None:
    work = args.work / "store-figures"
    work.mkdir(parents=True, exist_ok=True)
    print("store (215k records)")
    before = package_at(BEFORE_IMPORT, work / "import-before")
    imports: dict[str, list[float]] = {"now": [], "before": []}
    walls: dict[str, list[float]] = {"now": [], "before": []}
    for attempt in range(max(1, args.runs // 2)):
        for label in ("before", "now") if attempt % 2 else ("now", "before"):
            target = work / f"import-{label}.sqlite"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            command = ["db", "import", str(corpus), "--db", str(target)]
            if label == "now":
                taken = run([str(NPMAUDIT), *command], env=env, ok=(0,))
            else:
                taken = run([sys.executable, "-c", OLD_IMPORT, str(before), *command], env=env, ok=(0,))
            imports[label].append(taken.cpu)
            walls[label].append(taken.wall)
    for label in ("before", "now"):
        print(f"  db import ({label:6}): wall {med(walls[label]):5.1f} s  CPU {med(imports[label]):5.1f} s")
    ratio = med(imports["before"]) / med(imports["now"])
    wall_ratio = med(walls["before"]) / med(walls["now"])
    print(f"  db import before / now (CPU): {ratio:.2f}x (wall {wall_ratio:.2f}x)  {verdict(ratio, 1.5)}")
    source = work / "import-now.sqlite"
    new = work / "export-now.json"
    old = work / "export-before.json"
    now_run = run([str(NPMAUDIT), "db", "export", str(new), "--db", str(source)], env=env, ok=(0,))
    old_run = run([sys.executable, "-c", OLD_EXPORT, str(source), str(old)], env=env, ok=(0,))
    identical = _same_file(new, old)
    size = new.stat().st_size / 1e6
    print(f"  db export now:    wall {now_run.wall:5.1f} s  CPU {now_run.cpu:5.1f} s  ({size:.0f} MB)")
    print(f"  db export before: wall {old_run.wall:5.1f} s  CPU {old_run.cpu:5.1f} s  (standard library encoder)")
    ratio = old_run.cpu / now_run.cpu
    walls = old_run.wall / now_run.wall
    print(f"  db export before / now (CPU): {ratio:.1f}x (wall {walls:.1f}x)  {verdict(ratio, 3.0)}")
    print(f"  same bytes as before: {identical}")
    new.unlink()
    old.unlink()


def _same_file(a: Path, b: Path) -> bool:
    with a.open("rb") as x, b.open("rb") as y:
        while True:
            left, right = x.read(1 << 20), y.read(1 << 20)
            if left != right:
                return False
            if not left:
                return True


# -- driver ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "npmaudit-speed")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the local registry waits per request")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument(
        "--baseline", type=Path, help="startup: another npmaudit executable to time alongside (before/after)"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(args.work / "pycache"), NPMAUDIT_CACHE_DIR=str(args.work / "cache"))
    for name in ("PYTHONDONTWRITEBYTECODE", "NPMAUDIT_DB", "NPMAUDIT_OFFLINE", "NPMAUDIT_POLICY", "NO_COLOR"):
        env.pop(name, None)
    python = sys.version.split()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load()} (1, 5, 15 min) at start; python {python}")
    if not args.shared.is_dir():
        print(f"{args.shared} is absent: nothing to measure")
        return 0
    corpus = args.work / "corpus-215k.jsonl.gz"
    store = args.work / "store.sqlite"
    needs_store = set(args.only) & {"yaml", "growth", "recursive", "startup", "store"}
    if needs_store and not store.exists():
        if not corpus.exists():
            make = [sys.executable, str(args.shared / "tools" / "make-scale-corpus"), "--out", str(corpus)]
            run(make, env=env, ok=(0,))
        run([str(NPMAUDIT), "db", "import", str(corpus), "--db", str(store)], env=env, ok=(0,))
    run([str(NPMAUDIT), "--help"], env=env, ok=(0,))  # byte-code compiled once
    steps: dict[str, Callable[[], None]] = {
        "npm-json": lambda: npm_json(args, env),
        "yaml": lambda: per_node(args, env, store),
        "growth": lambda: growth(args, env, store),
        "recursive": lambda: recursive(args, env, store),
        "startup": lambda: startup(args, env, store),
        "store": lambda: store_figures(args, env, corpus),
    }
    for name in SECTIONS:
        if name in args.only:
            started = time.perf_counter()
            steps[name]()
            print(f"  ({time.perf_counter() - started:.0f} s; load average now {load()})")
    print(f"load average at the end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
