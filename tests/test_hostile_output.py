"""Nothing from a file or a server reaches the terminal raw: every report format and every message.

Each case runs the real command line on real files (and real servers on 127.0.0.1) whose names,
ids, titles, URLs, zip member names and error bodies carry what a hostile lockfile, advisory or
server could put there: an OSC window-title sequence, a screen clear, cursor movement, a carriage
return, BEL, DEL, the one-byte C1 CSI, bidi overrides and isolates, a line separator, a zero-width
space, and (through JSON escapes) a lone surrogate. The contract checked for each:

* no unsafe character (control, format, separator, surrogate) in stdout or stderr but the line
  feed, and on a real terminal (a pty) none but npmaudit's own colour codes;
* the exit code is the case's own, never 70;
* every stderr line is one ``npmaudit: ...`` message (a hostile line break cannot fake another);
* JSON output parses and still holds the hostile values exactly (escaped, not lost);
* npm-text and npm-json stay byte-identical to npm for ordinary names (tests/test_cli_npm_formats.py).

The tally of the cases (inputs tried, exit-70s, raw escapes) is printed at the end of the module.
"""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
import tty
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from npmaudit.cli import main
from npmaudit.report.safe_text import neutralise, safe_json_dumps, terminal_safe
from servers.base import Fault
from servers.mirror_server import MirrorServer
from servers.osv_server import OsvServer
from servers.registry_server import RegistryServer

# What a terminal would act on. No lone surrogate here: file names cannot hold one.
HOSTILE = "\x1b]0;owned\x07\x1b[2J\x1b[1A\r\x9b31m\u202e\u2066\u2028\x7f\u200b\x1b[8m"
SURROGATE = "\ud800"  # written to JSON files as the escape "\ud800"
NAME = f"evil{HOSTILE}{SURROGATE}"
UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
SGR = re.compile(r"\x1b\[[0-9;]*m")
SRC = Path(__file__).resolve().parents[1] / "src"


def raw_escapes(text: str, *, allowed_sgr: bool = False) -> list[str]:
    """The unsafe characters of ``text`` (line feeds allowed; with ``allowed_sgr``, also whole
    ``ESC [ digits m`` colour sequences)."""
    if allowed_sgr:
        text = SGR.sub("", text)
    return [char for char in text if char != "\n" and unicodedata.category(char) in UNSAFE]


@dataclass
class Tally:
    inputs: int = 0
    exit_70: int = 0
    raw: int = 0
    cases: list[str] = field(default_factory=list)


TALLY = Tally()


@dataclass(frozen=True)
class Run:
    case: str
    code: int
    out: str
    err: str

    def where(self) -> str:
        return f"[{self.case}] exit {self.code}\nstdout: {self.out[:1500]!r}\nstderr: {self.err[:1500]!r}"


def run_cli(capsys: pytest.CaptureFixture[str], case: str, *args: str) -> Run:
    code = main(list(args))
    captured = capsys.readouterr()
    return record(Run(case, code, captured.out, captured.err))


def record(run: Run) -> Run:
    TALLY.inputs += 1
    TALLY.cases.append(run.case)
    TALLY.exit_70 += run.code == 70
    TALLY.raw += len(raw_escapes(run.out)) + len(raw_escapes(run.err))
    return run


def check_safe(run: Run, *, code: int | tuple[int, ...], json_out: bool = False) -> None:
    codes = code if isinstance(code, tuple) else (code,)
    assert run.code in codes, run.where()
    assert not raw_escapes(run.out), f"raw escapes on stdout {raw_escapes(run.out)!r}: {run.where()}"
    assert not raw_escapes(run.err), f"raw escapes on stderr {raw_escapes(run.err)!r}: {run.where()}"
    for line in run.err.splitlines():
        assert line.startswith("npmaudit: "), f"a stderr line that is not a message: {line!r}\n{run.where()}"
    if json_out:
        json.loads(run.out)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("NPMAUDIT_DB", "NPMAUDIT_POLICY", "NPMAUDIT_AUDIT_LEVEL", "NPMAUDIT_OFFLINE", "NODE_ENV"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))


# -- the hostile world: a project, its advisory database, a store --------------------------------


def hostile_record(advisory_id: str, modified: str = "2024-01-01T00:00:00Z") -> dict:
    return {
        "id": advisory_id,
        "modified": modified,
        "aliases": [f"CVE-{HOSTILE}"],
        "summary": f"title {HOSTILE}{SURROGATE}",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": NAME},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.1"}]}],
            }
        ],
        "references": [{"type": "ADVISORY", "url": f"https://advisories.test/{HOSTILE}"}],
        "database_specific": {"severity": "HIGH"},
    }


def write_project(directory: Path, name: str = NAME) -> Path:
    directory.mkdir(parents=True)
    lock = {
        "name": "p",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": True,
        "packages": {
            "": {"name": "p", "version": "1.0.0", "dependencies": {name: "^1.0.0"}},
            f"node_modules/{name}": {
                "version": "1.0.0",
                "resolved": f"https://registry.npmjs.test/evil/-/evil-1.0.0.tgz#{HOSTILE}",
                "integrity": "sha512-AAAA",
            },
        },
    }
    # ensure_ascii: the lone surrogate travels as the JSON escape "\ud800", as a hostile file would hold it
    (directory / "package-lock.json").write_text(json.dumps(lock, ensure_ascii=True))
    manifest = {"name": "p", "version": "1.0.0", "dependencies": {name: "^1.0.0"}}
    (directory / "package.json").write_text(json.dumps(manifest, ensure_ascii=True))
    return directory


@dataclass(frozen=True)
class World:
    root: Path
    project: Path
    database: Path


@pytest.fixture
def world(tmp_path: Path) -> World:
    root = tmp_path / f"root{HOSTILE}"
    project = write_project(root / f"proj{HOSTILE}")
    (project / "yarn.lock").write_text("")  # "also present, not read: <path>"
    database = tmp_path / f"db{HOSTILE}.jsonl"
    records = [hostile_record(f"GHSA-{HOSTILE}"), hostile_record(f"MAL-{HOSTILE}-future", "2999-01-01T00:00:00Z")]
    database.write_text("".join(json.dumps(r, ensure_ascii=True) + "\n" for r in records))
    return World(root, project, database)


# -- the audit formats and their messages ----------------------------------------------------------


def test_text_report_and_its_messages(world: World, tmp_path: Path, capsys) -> None:
    write = tmp_path / f"w{HOSTILE}.json"
    run = run_cli(
        capsys, "text", "audit", str(world.project), "--compromised", "--db", str(world.database), "--write", str(write)
    )
    check_safe(run, code=1)
    assert neutralise(NAME) in run.out and neutralise(f"title {HOSTILE}{SURROGATE}") in run.out
    assert neutralise(str(world.project)) in run.out  # the lockfile path in the header
    messages = run.err.splitlines()
    assert any("also present, not read" in line for line in messages), run.where()
    assert any("refused 1 record" in line and neutralise(f"MAL-{HOSTILE}-future") in line for line in messages)
    assert any(line.startswith("npmaudit: merged 1 advisories into") for line in messages), run.where()
    assert json.loads(write.read_text())[0]["summary"] == f"title {HOSTILE}{SURROGATE}"  # the file keeps the value


def test_json_report_escapes_and_keeps_every_value(world: World, capsys) -> None:
    run = run_cli(
        capsys, "json", "audit", str(world.project), "--compromised", "--db", str(world.database), "--format", "json"
    )
    check_safe(run, code=1, json_out=True)
    document = json.loads(run.out)
    finding = document["findings"][0]
    assert finding["name"] == NAME and finding["id"] == f"GHSA-{HOSTILE}"
    assert finding["summary"] == f"title {HOSTILE}{SURROGATE}" and finding["aliases"] == [f"CVE-{HOSTILE}"]
    assert document["project"]["directory"] == str(world.project)
    assert "\\u202e" in run.out and "\\u009b" in run.out and "\\ud800" in run.out


def test_recursive_scan_section_headers_and_failures(world: World, capsys) -> None:
    broken = world.root / f"broken{HOSTILE}"
    broken.mkdir()
    (broken / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": ')
    for fmt in ("text", "json"):
        args = ["audit", str(world.root), "-r", "--compromised", "--db", str(world.database), "--format", fmt]
        run = run_cli(capsys, f"recursive-{fmt}", *args)
        check_safe(run, code=2, json_out=fmt == "json")
        assert [line for line in run.err.splitlines() if line.startswith("npmaudit: error: ")], run.where()
        if fmt == "text":
            assert f"== {neutralise(str(world.project))} ==" in run.out
            assert f"== {neutralise(str(broken))} ==" in run.out


# A registry cannot serve a name holding a lone surrogate (its URL cannot carry one): the npm
# formats' package is named with the other characters only; the titles keep the surrogate.
REGISTRY_NAME = f"evil{HOSTILE}"


@pytest.fixture
def registry() -> Iterator[RegistryServer]:
    versions = {v: {"name": REGISTRY_NAME, "version": v, "dependencies": {}} for v in ("1.0.0", "1.0.1")}
    packument = {"name": REGISTRY_NAME, "dist-tags": {"latest": "1.0.1"}, "versions": versions}
    with RegistryServer(packuments={REGISTRY_NAME: packument}) as server:
        yield server


@pytest.mark.parametrize("fmt", ["npm-text", "npm-json"])
def test_npm_formats(fmt: str, tmp_path: Path, registry: RegistryServer, capsys) -> None:
    project = write_project(tmp_path / f"proj{HOSTILE}", REGISTRY_NAME)
    record_ = hostile_record(f"GHSA-{HOSTILE}")
    record_["affected"][0]["package"]["name"] = REGISTRY_NAME
    database = tmp_path / "db.json"
    database.write_text(json.dumps([record_], ensure_ascii=True))
    args = ["audit", str(project), "--compromised", "--db", str(database), "--registry", registry.url]
    run = run_cli(capsys, fmt, *args, "--format", fmt)
    check_safe(run, code=1, json_out=fmt == "npm-json")
    assert registry.requests_to("/evil"), "the packument was fetched"
    if fmt == "npm-json":
        document = json.loads(run.out)
        assert list(document["vulnerabilities"]) == [REGISTRY_NAME]
        assert document["vulnerabilities"][REGISTRY_NAME]["via"][0]["title"] == f"title {HOSTILE}{SURROGATE}"
    else:
        assert f"{neutralise(REGISTRY_NAME)}  1.0.0\nSeverity: high\n" in run.out, run.where()
        assert f"title {neutralise(HOSTILE + SURROGATE)} - https://" in run.out, run.where()


def test_usage_error_echoing_an_argument(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "--format", f"x{HOSTILE}"])
    captured = capsys.readouterr()
    run = record(Run("argparse", int(exit_info.value.code or 0), captured.out, captured.err))
    assert run.code == 2 and not raw_escapes(run.err) and len(run.err.splitlines()) == 1, run.where()


# -- servers: error bodies are shown, never obeyed -------------------------------------------------

SERVER_BODY = f'{{"message": "denied {HOSTILE}\\nnpmaudit: passed, nothing found"}}'.encode()


def test_osv_error_body(world: World, capsys) -> None:
    with OsvServer([]) as server:
        server.add_fault(Fault("/v1/querybatch", "status", status=400, body=SERVER_BODY, times=0))
        run = run_cli(capsys, "osv-400", "audit", str(world.project), "--osv", "--osv-url", server.url)
    check_safe(run, code=3)
    assert len(run.err.splitlines()) == 1 and "denied" in run.err, run.where()


def test_registry_bulk_error_body(world: World, capsys) -> None:
    with RegistryServer() as server:
        server.add_fault(Fault("/-/npm/v1/security", "status", status=400, body=SERVER_BODY, times=0))
        run = run_cli(
            capsys, "bulk-400", "audit", str(world.project), "--registry-advisories", "--registry", server.url
        )
    check_safe(run, code=3)
    assert len(run.err.splitlines()) == 1 and "denied" in run.err, run.where()


def hostile_zip(member: str, content: bytes) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(member, content)
    return archive.getvalue()


def test_mirror_zip_member_name(tmp_path: Path, capsys) -> None:
    record_ = hostile_record("MAL-2024-1")
    with MirrorServer([record_]) as server:
        server.add_fault(Fault("/npm/all.zip", "body", body=hostile_zip(f"MAL-{HOSTILE}.json", b"{"), times=0))
        run = run_cli(
            capsys, "mirror-zip", "db", "update", "--mirror", server.mirror_url, "--db", str(tmp_path / "s.sqlite")
        )
    check_safe(run, code=3)
    assert neutralise(f"MAL-{HOSTILE}.json") in run.err, run.where()


# -- db commands: source names, member names, the export message ---------------------------------


def test_db_import_info_export(world: World, tmp_path: Path, capsys) -> None:
    store = tmp_path / "s.sqlite"
    run = run_cli(capsys, "db-import", "db", "import", str(world.database), "--db", str(store))
    check_safe(run, code=0)
    assert neutralise(str(world.database)) in run.out and "refused 1 record" in run.err
    info = run_cli(capsys, "db-info", "db", "info", "--db", str(store))
    check_safe(info, code=0)
    assert neutralise(str(world.database)) in info.out
    info_json = run_cli(capsys, "db-info-json", "db", "info", "--format", "json", "--db", str(store))
    check_safe(info_json, code=0, json_out=True)
    assert json.loads(info_json.out)["sources"][0]["location"] == str(world.database)
    target = tmp_path / f"export{HOSTILE}.json"
    exported = run_cli(capsys, "db-export", "db", "export", str(target), "--db", str(store))
    check_safe(exported, code=0)
    assert json.loads(target.read_text())[0]["id"] == f"GHSA-{HOSTILE}"  # the file keeps the value


def test_db_import_of_a_zip_with_a_hostile_member(tmp_path: Path, capsys) -> None:
    archive = tmp_path / "all.zip"
    archive.write_bytes(hostile_zip(f"GHSA-{HOSTILE}.json", b'{"id": 5'))
    run = run_cli(capsys, "import-zip", "db", "import", str(archive), "--db", str(tmp_path / "s.sqlite"))
    check_safe(run, code=2)
    assert neutralise(f"GHSA-{HOSTILE}.json") in run.err, run.where()


# -- on a real terminal ------------------------------------------------------------------------------


def test_on_a_terminal_only_npmaudit_colours_remain(world: World, tmp_path: Path) -> None:
    """stdout is a pty (so the text report is coloured): what reaches it holds no escape sequence but
    npmaudit's own colour codes, and the hostile names are visible as text."""
    controller, terminal = os.openpty()
    tty.setraw(terminal)  # no "\n" -> "\r\n" translation: every byte read is the program's
    environment = {**os.environ, "PYTHONPATH": str(SRC), "NPMAUDIT_CACHE_DIR": str(tmp_path / "cache")}
    environment.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "npmaudit", "audit", str(world.project), "--compromised", "--db", str(world.database)],
        stdout=terminal,
        stderr=subprocess.PIPE,
        env=environment,
    )
    os.close(terminal)
    chunks = []
    while True:
        ready, _, _ = select.select([controller], [], [], 30)
        assert ready, "no output within 30 s"
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the program closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    err = process.stderr.read().decode() if process.stderr else ""
    process.wait(30)
    out = b"".join(chunks).decode()
    run = record(Run("pty", process.returncode, SGR.sub("", out), err))
    assert run.code == 1, run.where()
    assert SGR.search(out), "the report was not coloured: stdout was no terminal"
    assert not raw_escapes(out, allowed_sgr=True), f"{raw_escapes(out, allowed_sgr=True)!r}\n{run.where()}"
    assert not raw_escapes(err), run.where()
    assert neutralise(NAME) in run.out


# -- the neutraliser's forms -------------------------------------------------------------------------


def test_json_escapes_keep_the_document_valid_and_equal() -> None:
    value = {NAME: [HOSTILE, "\U000e0041 tag", "ordinary é ✓ 😀"]}
    text = safe_json_dumps(value)
    assert json.loads(text) == value and not raw_escapes(text)
    assert "ordinary é ✓ 😀" in text  # printable non-ASCII stays readable
    assert "\\udb40\\udc41" in text  # beyond the BMP: a surrogate pair, as JSON writes it
    plain = {"name": "lodash", "versions": ["1.0.0"]}
    assert safe_json_dumps(plain) == json.dumps(plain, indent=2, ensure_ascii=False)


def test_terminal_guard_keeps_lines_and_own_colours_only() -> None:
    report = f"\x1b[1;31mhigh\x1b[0m {HOSTILE}\nnext line\n"
    coloured = terminal_safe(report, keep_colour=True)
    assert coloured.startswith("\x1b[1;31mhigh\x1b[0m ") and coloured.endswith("\nnext line\n")
    assert not raw_escapes(coloured, allowed_sgr=True)
    # The hostile part's own SGR-looking "ESC[8m" (conceal) stays: colour codes are all a report may
    # keep, and renderers neutralise their text first, so none of them comes from a file.
    assert not raw_escapes(terminal_safe(report))
    assert terminal_safe("ordinary é\n") == "ordinary é\n"


def test_tally(request: pytest.FixtureRequest) -> None:
    """The counts every case above added to (each case also checks its own)."""
    line = f"hostile output: {TALLY.inputs} inputs tried, {TALLY.exit_70} exit-70s, {TALLY.raw} raw escapes"
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n{line}")
    assert TALLY.exit_70 == 0 and TALLY.raw == 0
