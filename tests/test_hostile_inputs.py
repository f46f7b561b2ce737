"""Hostile input through the real CLI: every case ends in under 2 seconds, with its exit code and one line.

The companion of test_malformed_inputs.py for input built to hang or exhaust the audit rather than
to break it (issue 10): servers that send a byte now and then (in their headers or their body), a
workspace glob that makes a regular expression backtrack exponentially, a bun.lock the old
tokenizer took quadratic time on, advisory ranges of 30,000 characters, YAML aliases that multiply
a lockfile, and FIFOs or devices where a file belongs. The contract for each:

* the run ends within ``LIMIT`` seconds (a SIGALRM bound fails the case instead of hanging the suite);
* the exit code is the one the failure calls for (2 input, 3 source; 0/1 when the input is valid),
  never 70, and a failure is exactly one line on stderr naming the file or the source;
* no traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, ONLINE, isolate_environment
from npmaudit.cli import main
from servers import DripServer, Fault, RegistryServer

LIMIT = 2.0
HANDMADE = ONLINE / "projects" / "handmade"
GOOD_DB = FIXTURES / "osv" / "core" / "malicious.jsonl"
HEADERS_NEVER_END = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
BODY_NEVER_ENDS = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n"
GLOB_BOMB = "*a*a*a*a*a*a*a*a*a*a*a*a*b"  # against "a" * 40 this ran 8.5 minutes


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    seconds: float


class CaseTimeout(BaseException):
    """Not an Exception: the CLI's internal-error handler must not swallow it."""


@contextmanager
def bounded(seconds: int = 15) -> Iterator[None]:
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    started = time.monotonic()
    with bounded():
        code = main(list(argv))
    seconds = time.monotonic() - started
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err, seconds)


def refused(outcome: Run, code: int, *names: str) -> None:
    """Exit ``code`` with one line on stderr naming each of ``names``, within the limit."""
    where = f"exit {outcome.code} in {outcome.seconds:.2f} s\nstderr: {outcome.err[:600]!r}"
    assert outcome.code == code, where
    assert outcome.seconds < LIMIT, where
    assert outcome.err.startswith("npmaudit: error: ") and outcome.err.count("\n") == 1, where
    assert "Traceback" not in outcome.err + outcome.out, where
    for name in names:
        assert name in outcome.err, f"the error does not name {name}: {where}"


def finished(outcome: Run) -> None:
    """A valid (if odd) input: a report, exit 0 or 1, within the limit."""
    where = f"exit {outcome.code} in {outcome.seconds:.2f} s\nstderr: {outcome.err[:600]!r}"
    assert outcome.code in (0, 1) and outcome.seconds < LIMIT, where
    assert isinstance(json.loads(outcome.out), dict), where


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_environment(monkeypatch, tmp_path, no_npm=True, chdir=True)  # no npm to ask for a registry


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(HANDMADE, target)
    return target


def audit_args(project: Path, *extra: str) -> list[str]:
    return ["audit", str(project), "--format", "json", *extra]


# -- servers that send a byte now and then --------------------------------------------------------

REGISTRY_BOTH_FAILED = "npm registry advisories: the bulk advisory endpoint failed (POST"
SLOW_SERVERS = {
    "osv-headers": (HEADERS_NEVER_END, "--osv", "OSV API: POST", "no answer within 0.5 s"),
    "osv-body": (BODY_NEVER_ENDS, "--osv", "OSV API: POST", "no whole answer within 0.5 s"),
    # the registry: the bulk endpoint, then the quick-audit fallback, each given the deadline
    "registry-headers": (HEADERS_NEVER_END, "--registry-advisories", REGISTRY_BOTH_FAILED, "no answer"),
    "registry-body": (BODY_NEVER_ENDS, "--registry-advisories", REGISTRY_BOTH_FAILED, "no whole answer"),
}


@pytest.mark.parametrize("case", sorted(SLOW_SERVERS))
def test_a_server_dripping_bytes_fails_the_run_at_the_deadline(case: str, project: Path, capsys) -> None:
    prefix, flag, source, problem = SLOW_SERVERS[case]
    drip = b"x-slow: yes\r\n" if prefix is HEADERS_NEVER_END else b" "
    with DripServer(prefix, drip) as server:
        where = ["--osv-url", server.url] if flag == "--osv" else ["--registry", server.url]
        outcome = run(capsys, *audit_args(project, flag, *where, "--timeout", "0.5"))
    refused(outcome, 3, source, problem)


def _bulk_advisory(number: int, vulnerable_versions: str) -> dict[str, Any]:
    return {
        "id": number,
        "url": "u",
        "title": "t",
        "severity": "high",
        "cwe": [],
        "cvss": {"score": 7},
        "vulnerable_versions": vulnerable_versions,
    }


def test_an_advisory_range_of_30000_characters_is_judged_in_linear_time(project: Path, capsys) -> None:
    """The registry's vulnerable_versions is a stranger's text: `[v=\\s]*` on 30,000 `v` took 25 s."""
    answer = {"minimist": [_bulk_advisory(2, "= " * 15_000 + "1.2.0")]}  # node-semver: the range 1.2.0
    with RegistryServer(answer) as registry:
        outcome = run(capsys, *audit_args(project, "--registry-advisories", "--registry", registry.url))
    finished(outcome)
    assert {(f["name"], f["id"]) for f in json.loads(outcome.out)["findings"]} == {("minimist", "NPM-2")}


def test_an_invalid_advisory_range_of_30000_characters_is_refused_in_linear_time(project: Path, capsys) -> None:
    with RegistryServer({"lodash": [_bulk_advisory(1, "v" * 30_000)]}) as registry:
        outcome = run(capsys, *audit_args(project, "--registry-advisories", "--registry", registry.url))
    refused(outcome, 3, "npm registry advisories:", "is not a node-semver range")


# -- lockfiles built to make a parser work without end ----------------------------------------


def _npm_project(directory: Path, workspaces: list[str], folders: list[str]) -> Path:
    directory.mkdir(parents=True)
    packages: dict[str, Any] = {"": {"name": "root", "version": "1.0.0", "workspaces": workspaces}}
    for folder in folders:
        packages[folder] = {"name": f"w{len(packages)}", "version": "1.0.0"}
    lock = {"name": "root", "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": packages}
    (directory / "package-lock.json").write_text(json.dumps(lock, indent=2))
    return directory


def test_a_backtracking_workspace_glob_is_matched_in_linear_time(tmp_path: Path, capsys) -> None:
    project = _npm_project(tmp_path / "p", [GLOB_BOMB, "packages/*"], ["a" * 40, "packages/x"])
    finished(run(capsys, *audit_args(project, "--compromised", "--db", str(GOOD_DB))))


def test_a_yarn_workspace_glob_that_backtracks_is_matched_in_linear_time(tmp_path: Path, capsys) -> None:
    project = tmp_path / "p"
    (project / ("a" * 40)).mkdir(parents=True)
    (project / ("a" * 40) / "package.json").write_text('{"name": "member", "version": "1.0.0"}')
    (project / "package.json").write_text(json.dumps({"name": "root", "private": True, "workspaces": [GLOB_BOMB]}))
    (project / "yarn.lock").write_text(
        "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n"
    )
    finished(run(capsys, *audit_args(project, "--compromised", "--db", str(GOOD_DB))))


def test_workspace_globs_times_folders_past_the_budget_are_refused_at_once(tmp_path: Path, capsys) -> None:
    patterns = [f"p{i}/*x" for i in range(1000)]
    project = _npm_project(tmp_path / "p", patterns, [f"p{i}/ax" for i in range(1000)])
    refused(run(capsys, *audit_args(project, "--compromised", "--db", str(GOOD_DB))), 2, "package-lock.json:", "glob")


BUN_HOSTILE: dict[str, Callable[[], str]] = {
    # Each unclosed quote or comment made the old tokenizer rescan to the end of the line or file.
    "unclosed-quotes": lambda: '{"lockfileVersion": 1, "x": ' + '"\\' * 60_000 + "\n}",
    "unclosed-block-comments": lambda: '{"lockfileVersion": 1, "x": 1' + "/*" * 60_000 + "}",
    "commas-before-blanks": lambda: '{"lockfileVersion": 1, "x": [1' + ", " * 60_000 + "x]}",
}


@pytest.mark.parametrize("shape", sorted(BUN_HOSTILE))
def test_a_hostile_bun_lock_is_refused_in_linear_time(shape: str, tmp_path: Path, capsys) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "bun.lock").write_text(BUN_HOSTILE[shape]())
    refused(run(capsys, *audit_args(project, "--compromised", "--db", str(GOOD_DB))), 2, "bun.lock:")


def _alias_chain(levels: int = 9) -> list[str]:
    """Anchored mappings, each holding the previous one ten times: 10^levels entries in a few lines."""
    lines = ["l0: &l0 {specifier: 1.0.0, version: 1.0.0}"]
    for level in range(1, levels):
        body = ", ".join(f"k{i}: *l{level - 1}" for i in range(10))
        lines.append(f"l{level}: &l{level} {{{body}}}")
    return lines


def test_yaml_aliases_in_a_pnpm_lockfile_are_refused_with_their_line(tmp_path: Path, capsys) -> None:
    project = tmp_path / "p"
    project.mkdir()
    chain = _alias_chain()
    lines = ["lockfileVersion: '9.0'", *chain, "importers:", "  .:", "    dependencies:", "      lodash: *l8"]
    (project / "pnpm-lock.yaml").write_text("\n".join(lines) + "\n")
    outcome = run(capsys, *audit_args(project, "--compromised", "--db", str(GOOD_DB)))
    refused(outcome, 2, "pnpm-lock.yaml:3:", "aliases are not allowed")  # line 3: the first *l0


def test_yaml_aliases_in_a_yarn_berry_lockfile_are_refused_with_their_line(tmp_path: Path, capsys) -> None:
    project = tmp_path / "p"
    project.mkdir()
    lines = ["__metadata:", "  version: 8", "  cacheKey: 10", "", *_alias_chain()]
    (project / "yarn.lock").write_text("\n".join(lines) + "\n")
    (project / "package.json").write_text('{"name": "root", "version": "1.0.0"}')
    outcome = run(capsys, *audit_args(project, "--compromised", "--db", str(GOOD_DB)))
    refused(outcome, 2, "yarn.lock:6:", "aliases are not allowed")


# -- FIFOs and devices where a file belongs -------------------------------------------------------

fifos = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


@fifos
def test_a_fifo_as_package_json_is_refused(project: Path, capsys) -> None:
    (project / "package.json").unlink()
    os.mkfifo(project / "package.json")
    outcome = run(capsys, *audit_args(project, "--compromised", "--db", str(GOOD_DB)))
    refused(outcome, 2, "package.json: not a regular file")


@fifos
@pytest.mark.parametrize("kind", ["fifo", "zero-device"])
def test_a_fifo_or_dev_zero_as_npmrc_is_refused(kind: str, project: Path, capsys) -> None:
    npmrc = project / ".npmrc"
    if kind == "fifo":
        os.mkfifo(npmrc)
    else:
        npmrc.symlink_to("/dev/zero")
    with RegistryServer() as registry:
        outcome = run(capsys, *audit_args(project, "--registry-advisories", "--registry", registry.url))
    refused(outcome, 2, ".npmrc: cannot read npm config: not a regular file")


@fifos
def test_a_fifo_as_the_database_is_refused(project: Path, tmp_path: Path, capsys) -> None:
    os.mkfifo(tmp_path / "advisories.jsonl")
    outcome = run(capsys, *audit_args(project, "--compromised", "--db", str(tmp_path / "advisories.jsonl")))
    refused(outcome, 2, "advisories.jsonl: not a regular file")


@fifos
def test_a_fifo_as_an_import_source_is_refused(tmp_path: Path, capsys) -> None:
    os.mkfifo(tmp_path / "records.jsonl")
    outcome = run(capsys, "db", "import", str(tmp_path / "records.jsonl"), "--db", str(tmp_path / "store.sqlite"))
    refused(outcome, 2, "records.jsonl: not a regular file")


@fifos
def test_a_fifo_as_the_project_config_is_refused_not_skipped(project: Path, capsys) -> None:
    """Skipping it would run with the defaults: a `policy = "error"` the user wrote would be lost."""
    os.mkfifo(project / ".npmaudit.toml")
    outcome = run(capsys, *audit_args(project, "--compromised", "--db", str(GOOD_DB), "--policy", "warn"))
    refused(outcome, 2, ".npmaudit.toml: not a regular file")


@pytest.mark.parametrize("kind", ["directory", "broken-link", "zero-device"])
def test_any_project_config_that_is_not_a_regular_file_is_refused(kind: str, project: Path, capsys) -> None:
    config = project / ".npmaudit.toml"
    if kind == "directory":
        config.mkdir()
    elif kind == "broken-link":
        config.symlink_to(project / "gone.toml")
    else:
        config.symlink_to("/dev/zero")
    expected = {"directory": "is a directory", "broken-link": "broken symbolic link", "zero-device": "not a regular"}
    outcome = run(capsys, *audit_args(project, "--compromised", "--db", str(GOOD_DB), "--policy", "warn"))
    refused(outcome, 2, f".npmaudit.toml: {expected[kind]}")


@fifos
def test_a_fifo_as_the_cafile_is_refused(project: Path, tmp_path: Path, capsys) -> None:
    os.mkfifo(tmp_path / "ca.pem")
    (project / ".npmrc").write_text(f"cafile={tmp_path / 'ca.pem'}\n")
    with RegistryServer() as registry:
        registry.add_fault(Fault("/", "status", status=500, times=0))
        outcome = run(capsys, *audit_args(project, "--registry-advisories", "--registry", registry.url))
    refused(outcome, 2, "ca.pem: cannot read cafile: not a regular file")


@fifos
def test_a_fifo_as_an_installed_package_json_is_reported_not_read(project: Path) -> None:
    """`npmaudit verify` reads node_modules/*/package.json: a FIFO there is unreadable, at once."""
    from npmaudit.project.loader import load_project
    from npmaudit.trust.installed import compare_installed

    for name in ("lodash", "marked", "minimist", "policycms"):
        (project / "node_modules" / name).mkdir(parents=True)
    os.mkfifo(project / "node_modules" / "lodash" / "package.json")
    started = time.monotonic()
    with bounded():
        done, problems = compare_installed(load_project(project))
    assert time.monotonic() - started < LIMIT
    assert done == "compared" and ("node_modules/lodash", "unreadable package.json (not a regular file)") in problems
