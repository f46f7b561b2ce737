"""Record what `npmaudit fix` and npm itself do on the test projects, for tests/test_fix_corpus.py.

Not run by the test suite (it needs node, npm 11, the network and the shared corpus). Run by hand:

    .venv/bin/python tests/oracle/record_fix.py --make-projects        # npm writes the small projects' lockfiles
    .venv/bin/python tests/oracle/record_fix.py [--only NAME ...]      # record everything else

Projects: the small ones in tests/fixtures/fix/projects/ (each shows one situation: an older safe
version in range, a parent update, a SemVer-major fix, no fix at all; their lockfiles written by
`npm install --package-lock-only`) against the real records naming their packages
(tests/fixtures/fix/advisories.jsonl, taken from the shared OSV sample), and every npm lockfile of
tests/fixtures/lockfiles/npm/ against tests/fixtures/npm_oracle/advisories/real.jsonl.

Three phases, so that every recording sees one snapshot of the registry:
1. npmaudit fixes every project (the Python API, exactly what the CLI runs) with packuments fetched
   through the shared npm-oracle's forwarding cache (the snapshot npm's own runs read, with npm's
   accept header), remembering which documents and versions each plan read and wrote.
2. One reduction of those documents for the fixture (tests/fixtures/fix/packuments.json.gz):
   prerelease versions dropped unless a project has them installed; only the versions a plan
   writes keep the fields a lockfile entry is written from (dist, bin, engines, ...); every version
   keeps its dependency lists and deprecation. Tarball URLs name the test registry host.
3. For each project, npmaudit again on the reduced documents (it must write the same bytes), then
   npm's verdict on that lockfile (`npm ls --all --package-lock-only`, `npm ci --dry-run
   --ignore-scripts`) and on the original, and `npm audit fix --package-lock-only --ignore-scripts`
   through npm-oracle followed by npmaudit's audit of what npm left (`--reuse-npm-fix` keeps the
   recorded npm runs). Override projects: npmaudit writes the overrides, the package manager
   relocks (npx), npmaudit audits its lockfile.
Everything goes to tests/fixtures/fix/expected/<project>.json.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO / "src"))

from npmaudit import semver  # noqa: E402
from npmaudit.fix.packuments import trim_for_install  # noqa: E402
from npmaudit.fix.run import FixOptions, run_fix  # noqa: E402
from npmaudit.settings import Settings  # noqa: E402

SHARED = Path(os.environ.get("NPMAUDIT_SHARED") or REPO.parent / "shared")
ORACLE = SHARED / "tools" / "npm-oracle"
ORACLE_CACHE = Path("/tmp/npmaudit-oracle-cache")
FIXTURES = REPO / "tests" / "fixtures"
FIX = FIXTURES / "fix"
PROJECTS = FIX / "projects"
CORPUS = FIXTURES / "lockfiles" / "npm"
REAL = FIXTURES / "npm_oracle" / "advisories" / "real.jsonl"
SMALL_ADVISORIES = FIX / "advisories.jsonl"
SCRATCH = Path("/tmp/npmaudit-fix-record")
TEST_HOST = "registry.npmjs.test"
WRITE_FIELDS = ("dist", "bin", "engines", "os", "cpu", "libc", "license", "funding", "hasInstallScript", "scripts")

# name -> package.json; `lock_first` is the package.json the lockfile is made with first (so the
# locked version is the old one), then the real package.json is written and npm relocks (keeping it).
SMALL_PROJECTS: dict[str, dict[str, Any]] = {
    "older-safe": {"package": {"name": "fix-older-safe", "version": "1.0.0", "dependencies": {"cryptiles": "^3.0.0"}}},
    "parent-update": {
        "lock_first": {"name": "fix-parent-update", "version": "1.0.0", "dependencies": {"mkdirp": "0.5.1"}},
        "package": {"name": "fix-parent-update", "version": "1.0.0", "dependencies": {"mkdirp": "^0.5.1"}},
    },
    "force-major": {"package": {"name": "fix-force-major", "version": "1.0.0", "dependencies": {"minimist": "~0.0.8"}}},
    "no-fix": {"package": {"name": "fix-no-fix", "version": "1.0.0", "dependencies": {"babel-traverse": "^6.26.0"}}},
}
FORCED = {"force-major"}  # projects also recorded with --force

# The override strategy, with each package manager relocking afterwards (through npx, from the
# registry): mkdirp 0.5.1 pins minimist 0.0.8, whose fix is outside mkdirp's range.
MANAGERS: dict[str, dict[str, Any]] = {
    "yarn-classic": {
        "tool": ["npx", "-y", "yarn@1.22.22"],
        "lock": ["install", "--ignore-scripts", "--no-progress", "--non-interactive"],
        "relock": ["install", "--ignore-scripts", "--no-progress", "--non-interactive"],
        "lockfile": "yarn.lock",
    },
    "yarn-berry": {
        "tool": ["npx", "-y", "@yarnpkg/cli-dist@4.5.0"],
        "lock": ["install", "--mode=update-lockfile"],
        "relock": ["install", "--mode=update-lockfile"],
        "lockfile": "yarn.lock",
    },
    "pnpm": {
        "tool": ["npx", "-y", "pnpm@9.15.0"],
        "lock": ["install", "--lockfile-only", "--ignore-scripts"],
        "relock": ["install", "--lockfile-only", "--ignore-scripts"],
        "lockfile": "pnpm-lock.yaml",
    },
    "npm": {
        "tool": ["npm"],
        "lock": ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"],
        "relock": ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"],
        "lockfile": "package-lock.json",
    },
}
# An exact version: yarn classic re-resolves a range that changed, so ^0.5.1 would lock 0.5.6.
OVERRIDE_PROJECT = {"name": "fix-override", "version": "1.0.0", "dependencies": {"mkdirp": "0.5.1"}}


def manager_registry(manager: str) -> str | None:
    """The registry a manager locked from (None for yarn berry, whose lockfile names no URL)."""
    if manager == "yarn-berry":
        return None
    spec = MANAGERS[manager]
    out = subprocess.run([*spec["tool"], "config", "get", "registry"], capture_output=True, text=True, check=True)
    return out.stdout.strip().rstrip("/") + "/"


def make_override_projects() -> None:
    for manager, spec in MANAGERS.items():
        folder = PROJECTS / f"override-{manager}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        if manager == "yarn-berry":
            (folder / ".yarnrc.yml").write_text("nodeLinker: node-modules\nenableGlobalCache: false\n")
        (folder / "package.json").write_text(json.dumps(OVERRIDE_PROJECT, indent=2) + "\n")
        subprocess.run([*spec["tool"], *spec["lock"]], cwd=folder, check=True, capture_output=True)
        for leftover in ("node_modules", ".yarn", ".pnp.cjs", ".pnp.loader.mjs", ".yarnrc.yml"):
            target = folder / leftover
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        lock = folder / spec["lockfile"]
        registry = manager_registry(manager)
        if registry is not None:
            lock.write_text(rewrite_hosts(lock.read_text(), registry))
        print(f"made {folder}")


def npm_registry() -> str:
    out = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True, check=True)
    return out.stdout.strip().rstrip("/") + "/"


def rewrite_hosts(text: str, registry: str) -> str:
    host = re.escape(registry.split("://", 1)[1].rstrip("/"))
    return re.sub(rf"https?://{host}/", f"https://{TEST_HOST}/", text)


# -- projects ----------------------------------------------------------------------------------------


def make_projects() -> None:
    registry = npm_registry()
    for name, spec in SMALL_PROJECTS.items():
        folder = PROJECTS / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for step in ("lock_first", "package"):
            if step not in spec:
                continue
            (folder / "package.json").write_text(json.dumps(spec[step], indent=2) + "\n")
            subprocess.run(
                ["npm", "install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"],
                cwd=folder,
                check=True,
                capture_output=True,
            )
        lock = folder / "package-lock.json"
        lock.write_text(rewrite_hosts(lock.read_text(), registry))
        print(f"made {folder}")
    write_small_advisories()


def project_names(lock: Path) -> set[str]:
    data = json.loads(lock.read_text())
    return {entry.get("name") or key.rsplit("node_modules/", 1)[1] for key, entry in data["packages"].items() if key}


def write_small_advisories() -> None:
    """The real records (GHSA sample, Node Security WG, malicious) naming a small project's package,
    plus the packages a fix may bring in (every package of their packuments' dependency lists is not
    knowable ahead, so the records of every name in the shared sample that a plan installs are
    covered by re-recording when a plan changes)."""
    names: set[str] = set()
    for folder in sorted(PROJECTS.iterdir()):
        names |= project_names(folder / "package-lock.json")
    with SMALL_ADVISORIES.open("w", encoding="utf-8") as out:
        for source in ("npm-ghsa", "npm-nodesecurity", "npm-malicious"):
            with gzip.open(SHARED / "data" / "osv" / f"{source}.jsonl.gz", "rt", encoding="utf-8") as records:
                for line in records:
                    record = json.loads(line)
                    if record.get("withdrawn"):
                        continue
                    affected = {
                        (a.get("package") or {}).get("name")
                        for a in record.get("affected") or ()
                        if (a.get("package") or {}).get("ecosystem") == "npm"
                    }
                    if affected & names:
                        out.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")


def _record_names(lines: list[str]) -> set[str]:
    names: set[str] = set()
    for line in lines:
        record = json.loads(line)
        if record.get("withdrawn"):
            continue
        names |= {(a.get("package") or {}).get("name") for a in record.get("affected") or ()}
    return names


def shared_record_names() -> set[str]:
    lines: list[str] = []
    for source in ("npm-ghsa", "npm-nodesecurity", "npm-malicious"):
        with gzip.open(SHARED / "data" / "osv" / f"{source}.jsonl.gz", "rt", encoding="utf-8") as records:
            lines += [line for line in records if line.strip()]
    return _record_names(lines)


def covered_names() -> set[str]:
    return _record_names([line for line in SMALL_ADVISORIES.read_text().splitlines() if line.strip()])


# -- packuments ----------------------------------------------------------------------------------------


class Recorder:
    """Packuments through npm-oracle's forwarding cache (the very snapshot npm's own runs read), trimmed
    for install, tarball hosts rewritten to the test registry's."""

    def __init__(self, oracle_url: str, registry: str, cache: dict[str, Any]) -> None:
        self.oracle_url = oracle_url
        self.registry = registry
        self.cache = cache
        self.used: set[str] = set()

    def __call__(self, name: str) -> dict[str, Any] | None:
        self.used.add(name)
        if name not in self.cache:
            import urllib.error
            import urllib.parse
            import urllib.request

            from npmaudit.registry.packuments import CORGI_ACCEPT

            url = self.oracle_url + urllib.parse.quote(name, safe="@")
            request = urllib.request.Request(url, headers={"accept": CORGI_ACCEPT})
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    document = json.loads(response.read())
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    raise
                self.cache[name] = None
                return None
            trimmed = trim_for_install(document)
            self.cache[name] = json.loads(rewrite_hosts(json.dumps(trimmed), self.registry))
        return self.cache[name]


def start_oracle(advisories: Path) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [str(ORACLE), "serve", "--advisories", str(advisories), "--cache", str(ORACLE_CACHE)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    return server, line.rsplit(" at ", 1)[1].strip()


def reduce(document: dict[str, Any] | None, keep_prerelease: set[str], written: set[str]) -> dict[str, Any] | None:
    if document is None:
        return None
    versions = {}
    for version, manifest in document["versions"].items():
        if semver.prerelease(version) and version not in keep_prerelease:
            continue
        if version not in written:
            manifest = {k: v for k, v in manifest.items() if k not in WRITE_FIELDS}
        versions[version] = manifest
    tags = {tag: v for tag, v in document.get("dist-tags", {}).items() if v in versions}
    return {"name": document["name"], "dist-tags": tags, "versions": versions}


class Fixed:
    def __init__(self, documents: Mapping[str, Any]) -> None:
        self.documents = documents

    def __call__(self, name: str) -> dict[str, Any] | None:
        return self.documents.get(name)


# -- runs ----------------------------------------------------------------------------------------


def copy_project(source: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for file in source.iterdir():
        if file.is_file() and not file.name.endswith(".md"):
            shutil.copy(file, target / file.name)
    return target


WORKSPACE_FIELDS = (
    "name",
    "version",
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "bin",
    "engines",
    "license",
)


def with_workspaces(folder: Path) -> Path:
    """npm needs the workspace folders on disk (without them it prunes their dependencies): the corpus
    keeps only the root package.json, so each workspace's package.json is written back from what the
    lockfile recorded of it (npm copies these fields from it)."""
    data = json.loads(lockfile_of(folder).read_text())
    for location, entry in (data.get("packages") or {}).items():
        if not location or "node_modules/" in location or entry.get("link") or location.startswith(".."):
            continue
        manifest = {key: entry[key] for key in WORKSPACE_FIELDS if key in entry}
        (folder / location).mkdir(parents=True, exist_ok=True)
        target = folder / location / "package.json"
        if not target.exists():
            target.write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def settings_for(project: Path, advisories: Path) -> Settings:
    return Settings(cache_dir=SCRATCH / "cache", local=True, db=advisories, project_dir=project.resolve())


def lockfile_of(folder: Path) -> Path:
    for name in ("npm-shrinkwrap.json", "package-lock.json"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(folder)


def npm_verdict(folder: Path) -> dict[str, Any]:
    env = dict(os.environ, npm_config_cache=str(SCRATCH / "npmcache"), NO_COLOR="1", npm_config_update_notifier="false")
    ls = subprocess.run(
        ["npm", "ls", "--all", "--package-lock-only"], cwd=folder, capture_output=True, text=True, env=env, check=False
    )
    problems = sorted(
        {
            line.strip().replace(str(folder), ".")
            for line in ls.stderr.splitlines()
            if re.search(r"missing:|invalid:", line)
        }
    )
    try:
        ci = subprocess.run(
            ["npm", "ci", "--dry-run", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=folder,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        ci_exit: int | None = ci.returncode
        ci_error = [line for line in ci.stderr.splitlines() if "npm error" in line][:5]
    except subprocess.TimeoutExpired:
        ci_exit, ci_error = None, ["timed out after 300 s"]
    return {"lsExit": ls.returncode, "lsProblems": problems[:20], "ciDryRunExit": ci_exit, "ciErrors": ci_error}


def npm_audit_fix(folder: Path, advisories: Path, force: bool) -> dict[str, Any]:
    env = dict(os.environ, npm_config_cache=str(SCRATCH / "npmcache-fix"), NO_COLOR="1")
    command = [
        str(ORACLE),
        "run",
        "--advisories",
        str(advisories),
        "--cache",
        str(ORACLE_CACHE),
        "--project",
        str(folder),
    ]
    command += ["--", "npm", "audit", "fix", "--package-lock-only", "--ignore-scripts"] + (["--force"] if force else [])
    started = time.monotonic()
    try:
        run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
        code: int | None = run.returncode
        errors = [line for line in run.stderr.splitlines() if line.startswith("npm error")][:8]
    except subprocess.TimeoutExpired:
        code = None  # atom: npm retries every unreachable git dependency of its v1 lockfile
        errors = ["timed out after 900 s"]
    return {"exit": code, "errors": errors, "seconds": round(time.monotonic() - started, 1)}


def vulnerable(folder: Path, advisories: Path) -> set[str]:
    from npmaudit.auditing.run import run_audit

    outcome = run_audit(folder, settings_for(folder, advisories))
    return {f"{f.name}@{f.version}" for f in outcome.result.findings}


@dataclass
class Job:
    name: str
    source: Path
    advisories: Path
    force: bool = False
    override: str | None = None  # the package manager, for the override projects

    @property
    def tag(self) -> str:
        if self.override:
            return f"override-{self.override}"
        return f"{self.name}.force" if self.force else self.name


@dataclass
class FirstRun:
    """Phase 1: npmaudit on the full packuments, to learn which ones the fixture must keep."""

    text: str
    used: set[str]
    written: set[tuple[str, str]]
    installed: set[tuple[str, str]]


def options_for(job: Job, packuments: Any) -> FixOptions:
    return FixOptions(force=job.force, strategy="override" if job.override else None, packuments=packuments)


def first_run(job: Job, oracle_url: str, registry: str, cache: dict[str, Any]) -> FirstRun:
    folder = copy_project(job.source, SCRATCH / job.tag / "first")
    recorder = Recorder(oracle_url, registry, cache)
    result = run_fix(folder, settings_for(folder, job.advisories), options_for(job, recorder))
    written = {(c.name, c.new) for c in result.changes if c.new}
    lock = lockfile_of(folder) if not job.override else folder / "package.json"
    installed: set[tuple[str, str]] = set()
    if job.override is None:
        installed = {
            (entry.get("name") or key.rsplit("node_modules/", 1)[-1], entry.get("version"))
            for key, entry in json.loads(lockfile_of(job.source).read_text()).get("packages", {}).items()
            if key
        }
    return FirstRun(lock.read_text(), recorder.used, written, installed)


def build_packuments(firsts: list[FirstRun], cache: dict[str, Any]) -> dict[str, Any]:
    """Phase 2: one reduction for every plan: prereleases only when some project has them installed,
    the fields a lockfile entry is written from only for versions some plan writes."""
    used = set().union(*(f.used for f in firsts))
    documents = {}
    for name in sorted(used):
        keep = {v for f in firsts for n, v in f.installed if n == name and v}
        written = {v for f in firsts for n, v in f.written if n == name and v}
        documents[name] = reduce(cache.get(name), keep, written)
    return documents


def lockfile_of_job(job: Job, folder: Path) -> Path:
    return folder / "package.json" if job.override else lockfile_of(folder)


def record(job: Job, first: FirstRun, documents: dict[str, Any], reuse_npm: bool) -> dict[str, Any]:
    """Phase 3: npmaudit on the fixture's packuments (must equal phase 1), then npm's verdicts."""
    if job.override:
        return record_override(job, first, documents)
    folder = copy_project(job.source, SCRATCH / job.tag / "npmaudit")
    started = time.monotonic()
    result = run_fix(folder, settings_for(folder, job.advisories), options_for(job, Fixed(documents)))
    seconds = time.monotonic() - started
    text = lockfile_of(folder).read_text()
    if text != first.text:
        raise SystemExit(f"{job.tag}: the fixture's packuments give another lockfile; widen reduce()")
    if job.advisories == SMALL_ADVISORIES:
        missing = (project_names(lockfile_of(folder)) & shared_record_names()) - covered_names()
        if missing:
            raise SystemExit(f"{job.tag}: the fix installs {sorted(missing)}, not covered by {job.advisories.name}")
    verdict = npm_verdict(with_workspaces(copy_project(folder, SCRATCH / job.tag / "judged")))
    previous_file = FIX / "expected" / f"{job.tag}.json"
    previous = json.loads(previous_file.read_text()) if previous_file.is_file() else None
    before = vulnerable(job.source, job.advisories)
    names = lambda found: {item.rsplit("@", 1)[0] for item in found}  # noqa: E731
    if reuse_npm and previous is not None:
        baseline, npm_fix = previous["npmVerdictOriginal"], previous["npmAuditFix"]
    else:
        baseline = npm_verdict(with_workspaces(copy_project(job.source, SCRATCH / job.tag / "baseline")))
        theirs = with_workspaces(copy_project(job.source, SCRATCH / job.tag / "npm"))
        run = npm_audit_fix(theirs, job.advisories, job.force)
        after_npm = vulnerable(theirs, job.advisories)
        npm_fix = {
            **run,
            "vulnerableAfter": len(names(after_npm)),
            "remaining": sorted(after_npm),
            "fixed": sorted(names(before) - names(after_npm)),
            "versionsReplaced": sorted(before - after_npm),
        }
    after_ours = {f"{r.name}@{r.version}" for r in result.remaining}
    return {
        "project": job.name,
        "force": job.force,
        "advisories": str(job.advisories.relative_to(REPO)),
        "npmaudit": {
            "lockfileSha256": hashlib.sha256(text.encode()).hexdigest(),
            "vulnerableBefore": len(names(before)),
            "vulnerableAfter": len(names(after_ours)),
            "remaining": sorted(after_ours),
            "changes": len(result.changes),
            "manifestChanges": [c.to_json() for c in result.manifest_changes],
            "exitCode": result.exit_code,
            "seconds": round(seconds, 2),
        },
        "npmVerdict": verdict,
        "npmVerdictOriginal": baseline,
        "npmAuditFix": npm_fix,
        "tools": {"npm": subprocess.run(["npm", "--version"], capture_output=True, text=True).stdout.strip()},
    }


def record_override(job: Job, first: FirstRun, documents: dict[str, Any]) -> dict[str, Any]:
    """npmaudit writes the overrides; the package manager relocks (from the registry); npmaudit audits
    what it locked."""
    manager = job.override or ""
    spec = MANAGERS[manager]
    ours = copy_project(job.source, SCRATCH / job.tag / "npmaudit")
    started = time.monotonic()
    result = run_fix(ours, settings_for(ours, job.advisories), options_for(job, Fixed(documents)))
    seconds = time.monotonic() - started
    if (ours / "package.json").read_text() != first.text:
        raise SystemExit(f"{job.tag}: the fixture's packuments give another package.json")
    relocked = SCRATCH / job.tag / "relock"
    shutil.rmtree(relocked, ignore_errors=True)
    shutil.copytree(ours, relocked)
    lock = relocked / spec["lockfile"]
    real_host = manager_registry(manager)
    if real_host is not None:
        lock.write_text(re.sub(rf"https://{re.escape(TEST_HOST)}/", real_host, lock.read_text()))
    relock = subprocess.run([*spec["tool"], *spec["relock"]], cwd=relocked, capture_output=True, text=True, check=False)
    after = vulnerable(relocked, job.advisories) if relock.returncode == 0 else set()
    names = {item.rsplit("@", 1)[0] for item in after}
    return {
        "project": job.tag,
        "advisories": str(job.advisories.relative_to(REPO)),
        "npmaudit": {
            "files": {Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in result.written},
            "manifestChanges": [c.to_json() for c in result.manifest_changes],
            "vulnerableBefore": result.vulnerable_before,
            "predictedAfter": result.vulnerable_after,
            "relockCommand": result.next_command,
            "seconds": round(seconds, 2),
        },
        "relock": {
            "command": " ".join([*spec["tool"], *spec["relock"]]),
            "exit": relock.returncode,
            "errors": [line for line in relock.stderr.splitlines() if "rror" in line][:5],
            "vulnerableAfter": len(names),
            "remaining": sorted(after),
        },
    }


PACKUMENTS_FILE = FIX / "packuments.json.gz"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--make-projects", action="store_true")
    parser.add_argument("--only", nargs="*", help="phase 3 for these tags only (phases 1 and 2 always run for all)")
    parser.add_argument("--reuse-npm-fix", action="store_true", help="keep the recorded npm audit fix runs")
    args = parser.parse_args()
    if args.make_projects:
        make_projects()
        make_override_projects()
        write_small_advisories()
        return 0
    registry = npm_registry()
    jobs = [
        Job(f.name, f, SMALL_ADVISORIES, force)
        for f in sorted(PROJECTS.iterdir())
        if not f.name.startswith("override-")
        for force in ((False, True) if f.name in FORCED else (False,))
    ]
    jobs += [Job(f.name, f, REAL) for f in sorted(CORPUS.iterdir()) if (f / "package.json").is_file()]
    jobs += [Job(f"override-{m}", PROJECTS / f"override-{m}", SMALL_ADVISORIES, override=m) for m in MANAGERS]
    cache: dict[str, Any] = {}
    firsts = {}
    for advisories in (SMALL_ADVISORIES, REAL):
        server, oracle_url = start_oracle(advisories)
        try:
            for job in jobs:
                if job.advisories == advisories:
                    firsts[job.tag] = first_run(job, oracle_url, registry, cache)
        finally:
            server.terminate()
    documents = build_packuments(list(firsts.values()), cache)
    PACKUMENTS_FILE.write_bytes(
        gzip.compress(json.dumps(documents, sort_keys=True, separators=(",", ":")).encode(), mtime=0)
    )
    (FIX / "expected").mkdir(parents=True, exist_ok=True)
    for job in jobs:
        out = FIX / "expected" / f"{job.tag}.json"
        if args.only and job.tag not in args.only:
            recorded = json.loads(out.read_text()) if out.is_file() else {}
            digest = hashlib.sha256(firsts[job.tag].text.encode()).hexdigest()
            if job.override is None and recorded.get("npmaudit", {}).get("lockfileSha256") != digest:
                raise SystemExit(f"{job.tag}: its fixed lockfile changed; include it in --only")
            continue
        expected = record(job, firsts[job.tag], documents, args.reuse_npm_fix)
        out.write_text(json.dumps(expected, indent=2) + "\n")
        print(f"{job.tag}: {json.dumps(expected['npmaudit'])[:300]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
