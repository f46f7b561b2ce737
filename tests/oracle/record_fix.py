"""Record what `npmaudit fix` and npm itself do on the test projects, for tests/test_fix_corpus.py.

Not run by the test suite (it needs node, npm 11, the network and the shared corpus). Run by hand:

    .venv/bin/python tests/oracle/record_fix.py --make-projects        # npm writes the small projects' lockfiles
    .venv/bin/python tests/oracle/record_fix.py [--only NAME ...]      # record everything else

Projects: the small ones in tests/fixtures/fix/projects/ (each shows one situation: an older safe
version in range, a parent update, a SemVer-major fix, no fix at all; their lockfiles written by
`npm install --package-lock-only`) against the real records naming their packages
(tests/fixtures/fix/advisories.jsonl, taken from the shared OSV sample), and every npm lockfile of
tests/fixtures/lockfiles/npm/ against tests/fixtures/npm_oracle/advisories/real.jsonl.

For each project, in scratch copies:
1. `npmaudit fix` (the Python API, exactly what the CLI runs) against the registry npm is
   configured with, through a recording packument provider; then again with the packuments
   reduced for the fixture (below), which must give the same lockfile byte for byte. The output's
   sha256, figures and time are kept.
2. npm's verdict on that fixed lockfile: `npm ls --all --package-lock-only` and
   `npm ci --dry-run --ignore-scripts` (exit codes, problem lines), and the same on the original
   lockfile as a baseline.
3. `npm audit fix --package-lock-only --ignore-scripts` through the shared npm-oracle (npm's own
   fix against the same advisories, packuments forwarded from the registry), then npmaudit's audit
   of the lockfile npm left: which vulnerable packages npm fixed and which remain.
Everything goes to tests/fixtures/fix/expected/<name>.json; the packuments npmaudit read go to
tests/fixtures/fix/packuments.json.gz, reduced: prerelease versions dropped (except those a project
has installed); only the versions a plan writes keep the fields a lockfile entry is written from
(dist, bin, engines, ...); every version keeps its dependency lists and deprecation. Tarball URLs
name the test registry host (registry.npmjs.test), as the fixture lockfiles do.
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
    """Packuments from the real registry, trimmed for install and with tarball hosts rewritten."""

    def __init__(self, registry: str, cache: dict[str, Any]) -> None:
        self.registry = registry
        self.cache = cache
        self.used: set[str] = set()

    def __call__(self, name: str) -> dict[str, Any] | None:
        self.used.add(name)
        if name not in self.cache:
            import urllib.error
            import urllib.parse
            import urllib.request

            url = self.registry + urllib.parse.quote(name, safe="@")
            request = urllib.request.Request(url, headers={"accept": "application/vnd.npm.install-v1+json"})
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
        if file.is_file() and file.suffix == ".json":
            shutil.copy(file, target / file.name)
    return target


def settings_for(project: Path, advisories: Path) -> Settings:
    return Settings(cache_dir=SCRATCH / "cache", local=True, db=advisories, project_dir=project.resolve())


def npmaudit_fix(project: Path, advisories: Path, packuments: Any, force: bool) -> tuple[Any, float]:
    started = time.monotonic()
    result = run_fix(project, settings_for(project, advisories), FixOptions(force=force, packuments=packuments))
    return result, time.monotonic() - started


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
    problems = sorted({line.strip() for line in ls.stderr.splitlines() if re.search(r"missing:|invalid:", line)})
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
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800, check=False)
    return {"exit": run.returncode, "seconds": round(time.monotonic() - started, 1)}


def vulnerable(folder: Path, advisories: Path) -> set[str]:
    from npmaudit.auditing.run import run_audit

    outcome = run_audit(folder, settings_for(folder, advisories))
    return {f"{f.name}@{f.version}" for f in outcome.result.findings}


def record(
    name: str, source: Path, advisories: Path, registry: str, cache: dict[str, Any], force: bool
) -> dict[str, Any]:
    tag = f"{name}.force" if force else name
    ours = copy_project(source, SCRATCH / tag / "npmaudit")
    recorder = Recorder(registry, cache)
    first, seconds = npmaudit_fix(ours, advisories, recorder, force)
    first_text = lockfile_of(ours).read_text()
    written = {(c.name, c.new) for c in first.changes if c.new}
    installed = {
        (entry.get("name") or key.rsplit("node_modules/", 1)[-1], entry.get("version"))
        for key, entry in json.loads(lockfile_of(source).read_text()).get("packages", {}).items()
        if key
    }
    reduced = {}
    for used in sorted(recorder.used):
        keep = {v for n, v in installed if n == used and v}
        reduced[used] = reduce(cache.get(used), keep, {v for n, v in written if n == used and v})
    again_folder = copy_project(source, SCRATCH / tag / "reduced")
    again, seconds_again = npmaudit_fix(again_folder, advisories, Fixed(reduced), force)
    again_text = lockfile_of(again_folder).read_text()
    if again_text != first_text:
        raise SystemExit(f"{tag}: the reduced packuments give another lockfile; widen reduce()")
    if advisories == SMALL_ADVISORIES:
        missing = (project_names(lockfile_of(ours)) & shared_record_names()) - covered_names()
        if missing:
            raise SystemExit(f"{tag}: the fix installs {sorted(missing)}, whose records are not in {advisories.name}")
    verdict = npm_verdict(ours)
    baseline = npm_verdict(copy_project(source, SCRATCH / tag / "baseline"))
    theirs = copy_project(source, SCRATCH / tag / "npm")
    npm_fix = npm_audit_fix(theirs, advisories, force)
    before = vulnerable(source, advisories)
    after_npm = vulnerable(theirs, advisories)
    after_ours = {f"{r.name}@{r.version}" for r in again.remaining}
    names = lambda found: {item.rsplit("@", 1)[0] for item in found}  # noqa: E731
    expected = {
        "project": name,
        "force": force,
        "advisories": str(advisories.relative_to(REPO)),
        "npmaudit": {
            "lockfileSha256": hashlib.sha256(again_text.encode()).hexdigest(),
            "vulnerableBefore": len(names(before)),
            "vulnerableAfter": len(names(after_ours)),
            "remaining": sorted(after_ours),
            "changes": len(again.changes),
            "manifestChanges": [c.to_json() for c in again.manifest_changes],
            "exitCode": again.exit_code,
            "seconds": round(seconds_again, 1),
            "secondsOnline": round(seconds, 1),
        },
        "npmVerdict": verdict,
        "npmVerdictOriginal": baseline,
        "npmAuditFix": {
            **npm_fix,
            "vulnerableAfter": len(names(after_npm)),
            "remaining": sorted(after_npm),
            "fixed": sorted(names(before) - names(after_npm)),
            "versionsReplaced": sorted(before - after_npm),
        },
        "tools": {"npm": subprocess.run(["npm", "--version"], capture_output=True, text=True).stdout.strip()},
    }
    for used, document in reduced.items():
        previous = PACKUMENTS.get(used)
        PACKUMENTS[used] = merge(previous, document)
    return expected


def record_override(
    manager: str, source: Path, advisories: Path, registry: str, cache: dict[str, Any]
) -> dict[str, Any]:
    """npmaudit writes the overrides; the package manager relocks (from the registry); npmaudit audits
    what it locked."""
    tag = f"override-{manager}"
    spec = MANAGERS[manager]
    ours = copy_project(source, SCRATCH / tag / "npmaudit")
    recorder = Recorder(registry, cache)
    started = time.monotonic()
    result = run_fix(ours, settings_for(ours, advisories), FixOptions(strategy="override", packuments=recorder))
    seconds = time.monotonic() - started
    relocked = SCRATCH / tag / "relock"
    shutil.rmtree(relocked, ignore_errors=True)
    shutil.copytree(ours, relocked)
    lock = relocked / spec["lockfile"]
    real_host = manager_registry(manager)
    if real_host is not None:
        lock.write_text(re.sub(rf"https://{re.escape(TEST_HOST)}/", real_host, lock.read_text()))
    relock = subprocess.run([*spec["tool"], *spec["relock"]], cwd=relocked, capture_output=True, text=True, check=False)
    after = vulnerable(relocked, advisories) if relock.returncode == 0 else set()
    for used in sorted(recorder.used):
        PACKUMENTS[used] = merge(PACKUMENTS.get(used), reduce(cache.get(used), set(), set()))
    names = {item.rsplit("@", 1)[0] for item in after}
    return {
        "project": tag,
        "advisories": str(advisories.relative_to(REPO)),
        "npmaudit": {
            "files": {Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in result.written},
            "manifestChanges": [c.to_json() for c in result.manifest_changes],
            "vulnerableBefore": result.vulnerable_before,
            "predictedAfter": result.vulnerable_after,
            "relockCommand": result.next_command,
            "seconds": round(seconds, 1),
        },
        "relock": {
            "command": " ".join([*spec["tool"], *spec["relock"]]),
            "exit": relock.returncode,
            "errors": [line for line in relock.stderr.splitlines() if "rror" in line][:5],
            "vulnerableAfter": len(names),
            "remaining": sorted(after),
        },
    }


def merge(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    """Two reductions of one packument: every version either kept, with the fuller manifest."""
    if a is None or b is None:
        return a or b
    versions = dict(a["versions"])
    for version, manifest in b["versions"].items():
        if version not in versions or len(manifest) > len(versions[version]):
            versions[version] = manifest
    return {"name": a["name"], "dist-tags": {**a["dist-tags"], **b["dist-tags"]}, "versions": versions}


PACKUMENTS: dict[str, Any] = {}
PACKUMENTS_FILE = FIX / "packuments.json.gz"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--make-projects", action="store_true")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    if args.make_projects:
        make_projects()
        make_override_projects()
        write_small_advisories()
        return 0
    registry = npm_registry()
    if PACKUMENTS_FILE.is_file():
        PACKUMENTS.update(json.loads(gzip.decompress(PACKUMENTS_FILE.read_bytes())))
    cache: dict[str, Any] = {}
    jobs = [(f.name, f, SMALL_ADVISORIES) for f in sorted(PROJECTS.iterdir()) if not f.name.startswith("override-")]
    jobs += [(f.name, f, REAL) for f in sorted(CORPUS.iterdir()) if (f / "package.json").is_file()]
    (FIX / "expected").mkdir(parents=True, exist_ok=True)
    for name, folder, advisories in jobs:
        if args.only and name not in args.only:
            continue
        for force in (False, True) if name in FORCED else (False,):
            expected = record(name, folder, advisories, registry, cache, force)
            out = FIX / "expected" / f"{name}{'.force' if force else ''}.json"
            out.write_text(json.dumps(expected, indent=2) + "\n")
            ours, npm = expected["npmaudit"], expected["npmAuditFix"]
            print(
                f"{out.name}: before {ours['vulnerableBefore']}, npmaudit {ours['vulnerableAfter']} "
                f"({ours['seconds']} s), npm {npm['vulnerableAfter']} ({npm['seconds']} s); npm ls "
                f"{expected['npmVerdict']['lsExit']}, npm ci {expected['npmVerdict']['ciDryRunExit']}",
                flush=True,
            )
            PACKUMENTS_FILE.write_bytes(
                gzip.compress(json.dumps(PACKUMENTS, sort_keys=True, separators=(",", ":")).encode(), mtime=0)
            )
    for manager in MANAGERS:
        name = f"override-{manager}"
        if args.only and name not in args.only:
            continue
        expected = record_override(manager, PROJECTS / name, SMALL_ADVISORIES, registry, cache)
        (FIX / "expected" / f"{name}.json").write_text(json.dumps(expected, indent=2) + "\n")
        print(
            f"{name}: before {expected['npmaudit']['vulnerableBefore']}, predicted "
            f"{expected['npmaudit']['predictedAfter']}, relock exit {expected['relock']['exit']}, after relock "
            f"{expected['relock']['vulnerableAfter']}",
            flush=True,
        )
        PACKUMENTS_FILE.write_bytes(
            gzip.compress(json.dumps(PACKUMENTS, sort_keys=True, separators=(",", ":")).encode(), mtime=0)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
