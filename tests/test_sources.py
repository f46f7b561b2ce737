"""Which sources run (flags, defaults, offline), end to end through `npmaudit audit` against the
local OSV API and registry servers: refresh patterns, fail-closed exit codes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import HANDMADE_PROD, ONLINE, isolate_environment, load_jsonl
from npmaudit.cli import main
from servers import Fault, OsvServer, RegistryServer

HANDMADE = ONLINE / "projects" / "handmade"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(HANDMADE, target)
    return target


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path, no_npm=True)  # no npm to ask for a registry: configuration only


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict | None, str]:
    code = main(["audit", *args, "--format", "json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else None), captured.err


def _unrelated_database(path: Path) -> Path:
    """A local database whose one record concerns no package of the project (an empty one is an error)."""
    record = {
        "id": "GHSA-test-unrelated",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "npm", "name": "not-in-this-project"}, "versions": ["1.0.0"]}],
    }
    path.write_text(json.dumps([record]))
    return path


def _pairs(report: dict) -> set[tuple[str, str]]:
    return {(f["name"], f["id"]) for f in report["findings"]}


def test_osv_write_policy_warn_then_offline_gate(capsys, project: Path, tmp_path: Path, online_osv_records) -> None:
    """The seed's refresh pattern: `--osv --write PATH --policy warn`, then `--compromised --db PATH`."""
    database = tmp_path / "security" / "advisories.json"
    with OsvServer(online_osv_records, page_size=5) as server:
        code, report, err = _run(
            capsys,
            str(project),
            "--osv",
            "--osv-url",
            server.url,
            "--write",
            str(database),
            "--policy",
            "warn",
            "--omit",
            "dev",
        )
    assert code == 0 and report is not None
    assert _pairs(report) == HANDMADE_PROD
    assert [s["kind"] for s in report["sources"]] == ["osv-api"]
    assert "merged 6 advisories into" in err
    written = json.loads(database.read_text())
    records = written if isinstance(written, list) else written.get("vulns", written)
    assert {r["id"] for r in records} == {i for _, i in HANDMADE_PROD}
    assert all(r.get("affected") for r in records)  # full records, not querybatch stubs
    code, report, _ = _run(capsys, str(project), "--compromised", "--db", str(database), "--omit", "dev")
    assert code == 1 and report is not None and _pairs(report) == HANDMADE_PROD


def test_osv_url_from_environment(capsys, project: Path, monkeypatch, online_osv_records) -> None:
    with OsvServer(online_osv_records) as server:
        monkeypatch.setenv("NPMAUDIT_OSV_URL", server.url)
        code, report, _ = _run(capsys, str(project), "--osv", "--omit", "dev")
        assert code == 1 and report is not None and _pairs(report) == HANDMADE_PROD
        assert server.requests_to("/v1/querybatch")


def test_osv_url_from_project_config(capsys, project: Path, online_osv_records) -> None:
    with OsvServer(online_osv_records) as server:
        (project / ".npmaudit.toml").write_text(f'osv-url = "{server.url}"\npolicy = "warn"\n')
        code, report, _ = _run(capsys, str(project), "--osv")
        assert code == 0 and report is not None and len(report["findings"]) == 12


def test_default_is_local_database_plus_osv(
    capsys, project: Path, tmp_path: Path, monkeypatch, online_osv_records
) -> None:
    database = tmp_path / "local.json"
    database.write_text(json.dumps([r for r in online_osv_records if r["id"] == "MAL-2023-1269"]))
    with OsvServer(online_osv_records) as server:
        monkeypatch.setenv("NPMAUDIT_OSV_URL", server.url)
        code, report, _ = _run(capsys, str(project), "--db", str(database), "--omit", "dev")
        assert report is not None and [s["kind"] for s in report["sources"]] == ["json-db", "osv-api"]
        assert code == 1 and _pairs(report) == HANDMADE_PROD
        assert server.requests_to("/v1/vulns/MAL-2023-1269") == []  # same `modified` locally: not fetched again
        assert server.requests_to("/v1/vulns/GHSA-xvch-5gv4-984h")


def test_default_without_local_database_is_osv_only(capsys, project: Path, monkeypatch, online_osv_records) -> None:
    with OsvServer(online_osv_records) as server:
        monkeypatch.setenv("NPMAUDIT_OSV_URL", server.url)
        code, report, _ = _run(capsys, str(project), "--omit", "dev")
        assert report is not None and [s["kind"] for s in report["sources"]] == ["osv-api"]
        assert code == 1 and _pairs(report) == HANDMADE_PROD


@pytest.mark.parametrize("how", ["flag", "env", "config"])
def test_offline_uses_the_local_database_only(capsys, project: Path, tmp_path: Path, monkeypatch, how) -> None:
    database = _unrelated_database(tmp_path / "local.json")
    monkeypatch.setenv("NPMAUDIT_OSV_URL", "http://127.0.0.1:9/")  # would fail if it were asked
    args = [str(project), "--db", str(database)]
    if how == "flag":
        args.append("--offline")
    elif how == "env":
        monkeypatch.setenv("NPMAUDIT_OFFLINE", "1")
    else:
        (project / ".npmaudit.toml").write_text("offline = true\n")
    code, report, _ = _run(capsys, *args)
    assert code == 0 and report is not None and [s["kind"] for s in report["sources"]] == ["json-db"]


def test_offline_without_local_database_is_an_error(capsys, project: Path, tmp_path: Path) -> None:
    code, report, err = _run(capsys, str(project), "--offline", "--db", str(tmp_path / "none.json"))
    assert code == 2 and report is None
    assert "offline audit needs a local advisory database" in err and "none.json" in err


def test_offline_with_an_online_flag_is_a_usage_error(capsys, project: Path) -> None:
    code, _, err = _run(capsys, str(project), "--offline", "--osv")
    assert code == 2 and "cannot be combined with --osv" in err


def test_flags_combine(capsys, project: Path, tmp_path: Path, online_osv_records) -> None:
    database = _unrelated_database(tmp_path / "local.json")
    nsp = load_jsonl(ONLINE / "nsp-original.jsonl.gz")
    with OsvServer(online_osv_records) as osv, RegistryServer.from_nsp(nsp) as registry:
        code, report, _ = _run(
            capsys,
            str(project),
            "--compromised",
            "--db",
            str(database),
            "--osv",
            "--osv-url",
            osv.url,
            "--registry-advisories",
            "--registry",
            registry.url,
            "--policy",
            "warn",
        )
    assert code == 0 and report is not None
    assert [s["kind"] for s in report["sources"]] == ["json-db", "osv-api", "npm-registry"]
    pairs = _pairs(report)
    assert ("marked", "NPM-101") in pairs and ("lodash", "NPM-516") in pairs and pairs >= HANDMADE_PROD


def test_registry_advisories_with_registry_from_npmrc(capsys, project: Path) -> None:
    nsp = load_jsonl(ONLINE / "nsp-original.jsonl.gz")
    with RegistryServer.from_nsp(nsp, token="t0k") as registry:
        (project / ".npmrc").write_text(f"registry={registry.url}\n//127.0.0.1:{registry.port}/:_authToken=t0k\n")
        code, report, _ = _run(capsys, str(project), "--registry-advisories")
    assert code == 1 and report is not None
    assert _pairs(report) == {("lodash", "NPM-516"), ("marked", "NPM-101")}


def test_registry_advisories_without_any_registry_is_a_clear_error(capsys, project: Path) -> None:
    code, _, err = _run(capsys, str(project), "--registry-advisories")
    assert code == 2 and "no npm registry configured" in err


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_osv_exits_3_with_one_line(capsys, project: Path) -> None:
    port = _closed_port()
    code, report, err = _run(capsys, str(project), "--osv", "--osv-url", f"http://127.0.0.1:{port}/")
    assert code == 3 and report is None
    assert err == f"npmaudit: error: OSV API: POST http://127.0.0.1:{port}/v1/querybatch: connection refused\n"


@pytest.mark.parametrize(
    "fault",
    [
        Fault("/v1/querybatch", "status", status=503, times=0),
        Fault("/v1/querybatch", "body", body=b"not json"),
        Fault("/v1/querybatch", "body", body=b'{"results":"nope"}'),
        Fault("/v1/vulns/", "status", status=500, times=0),
        Fault("/v1/querybatch", "delay", seconds=1.0, times=0),
    ],
    ids=["http-503", "invalid-json", "shape", "hydration-500", "timeout"],
)
def test_osv_faults_exit_3_even_under_policy_warn(capsys, project: Path, online_osv_records, fault: Fault) -> None:
    with OsvServer(online_osv_records) as server:
        server.add_fault(fault)
        code, report, err = _run(
            capsys, str(project), "--osv", "--osv-url", server.url, "--policy", "warn", "--timeout", "0.3"
        )
    assert code == 3 and report is None
    assert err.startswith("npmaudit: error: OSV API: ") and err.count("\n") == 1


def test_registry_failure_exits_3(capsys, project: Path) -> None:
    with RegistryServer() as registry:
        registry.add_fault(Fault("/", "status", status=500, body=b'{"error":"boom"}', times=0))
        code, _, err = _run(capsys, str(project), "--registry-advisories", "--registry", registry.url)
    # Both the bulk endpoint and the quick-audit fallback failed (the fallback: tests/test_serve_client.py).
    assert code == 3 and err.startswith("npmaudit: error: npm registry advisories: the bulk advisory endpoint failed")
    assert "HTTP 500 from POST" in err and "so did the quick-audit fallback" in err


def test_bad_timeout_is_a_usage_error(capsys, project: Path, monkeypatch) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["audit", str(project), "--osv", "--timeout", "0"])
    assert caught.value.code == 2 and "must be more than 0 seconds" in capsys.readouterr().err
    monkeypatch.setenv("NPMAUDIT_TIMEOUT", "soon")
    code, _, err = _run(capsys, str(project), "--osv", "--osv-url", "http://127.0.0.1:9/")
    assert code == 2 and "NPMAUDIT_TIMEOUT: not a number" in err


def test_help_documents_the_defaults(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "With none: the local database when it exists, plus OSV online unless --offline" in out
    assert "offline without a local database is an error" in out


def test_a_store_only_write_cache_filled_is_a_cache_not_a_database(
    capsys, project: Path, tmp_path: Path, monkeypatch, online_osv_records
) -> None:
    """`--write-cache` creates the shared store with only what matched: a later default run still asks OSV
    (the cache is no database to pass on), and asking for it alone is an error with the hint."""
    with OsvServer(online_osv_records) as server:
        monkeypatch.setenv("NPMAUDIT_OSV_URL", server.url)
        code, report, _ = _run(capsys, str(project), "--osv", "--write-cache", "--omit", "dev")
        assert code == 1 and report is not None and _pairs(report) == HANDMADE_PROD
        assert (tmp_path / "cache" / "advisories.sqlite").is_file()
        code, report, err = _run(capsys, str(project), "--omit", "dev")
        assert code == 1 and report is not None and _pairs(report) == HANDMADE_PROD
        assert [s["kind"] for s in report["sources"]] == ["osv-api"]
    code, report, err = _run(capsys, str(project), "--compromised")
    assert code == 2 and report is None
    assert "never filled" in err and "npmaudit db update" in err and err.count("\n") == 1


def test_write_with_nothing_matched_creates_no_empty_database(capsys, project: Path, tmp_path: Path) -> None:
    database = tmp_path / "security" / "advisories.json"
    with OsvServer([]) as server:
        code, report, err = _run(capsys, str(project), "--osv", "--osv-url", server.url, "--write", str(database))
    assert code == 0 and report is not None and report["findings"] == []
    assert not database.exists()
    assert f"no advisory matched: {database} was not created" in err


def test_default_run_without_network_suggests_offline(capsys, project: Path, tmp_path: Path, monkeypatch) -> None:
    """A full local database and no network: the default run fails closed on OSV, and says how to go offline."""
    database = tmp_path / "local.json"
    database.write_text(json.dumps(load_jsonl(ONLINE / "npm-ghsa.jsonl.gz")))
    monkeypatch.setenv("NPMAUDIT_OSV_URL", f"http://127.0.0.1:{_closed_port()}/")
    code, report, err = _run(capsys, str(project), "--db", str(database))
    assert code == 3 and report is None and err.count("\n") == 1
    assert "connection refused" in err and "pass --offline or --compromised" in err
    code, report, _ = _run(capsys, str(project), "--db", str(database), "--offline", "--policy", "warn")
    assert code == 0 and report is not None and report["findings"]


# -- the shared store is opened once per run --------------------------------------------------------

_STORE_OPENS: list[str] | None = None  # the databases SQLite connected to, while a test records them


def _record_sqlite_connects(event: str, args: tuple[object, ...]) -> None:
    if event == "sqlite3.connect" and _STORE_OPENS is not None:
        _STORE_OPENS.append(str(args[0]))


sys.addaudithook(_record_sqlite_connects)  # CPython's own audit event for every sqlite3.connect


@contextlib.contextmanager
def _sqlite_connects() -> Iterator[list[str]]:
    global _STORE_OPENS
    _STORE_OPENS = []
    try:
        yield _STORE_OPENS
    finally:
        _STORE_OPENS = None


@pytest.mark.parametrize("flags", [[], ["--registry-advisories"]])
def test_a_run_opens_the_filled_shared_store_once(
    capsys, project: Path, tmp_path: Path, monkeypatch, online_osv_records, flags: list[str]
) -> None:
    """The default run decides whether to use the shared store by looking into it, and then uses that
    very connection (before: opened once to look and once to use); so does the registry source, whose
    cross-check store is looked into first."""
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in online_osv_records))
    assert main(["db", "import", str(records)]) == 0
    store = tmp_path / "cache" / "advisories.sqlite"
    assert store.is_file()
    capsys.readouterr()
    with OsvServer(online_osv_records) as osv, RegistryServer() as registry:
        monkeypatch.setenv("NPMAUDIT_OSV_URL", osv.url)
        with _sqlite_connects() as opens:
            code, report, err = _run(capsys, str(project), "--omit", "dev", *flags, "--registry", registry.url)
    assert report is not None, err
    kinds = [s["kind"] for s in report["sources"]]
    assert kinds == (["sqlite", "osv-api"] if not flags else ["npm-registry"]), kinds
    assert code == 1 if not flags else code == 0, err
    assert len([database for database in opens if store.name in database]) == 1, opens


@pytest.mark.parametrize("kind", ["fifo", "directory", "broken-link"])
def test_a_shared_store_that_is_not_a_regular_file_is_refused_not_left_out(
    capsys, project: Path, tmp_path: Path, monkeypatch, online_osv_records, kind: str
) -> None:
    """Something at the shared store's path is the store the default run would use: one that cannot
    be a store fails the run (exit 2) naming it, instead of a run that silently asks OSV alone."""
    store = tmp_path / "cache" / "advisories.sqlite"
    store.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(store)
    elif kind == "directory":
        store.mkdir()
    else:
        store.symlink_to(tmp_path / "gone.sqlite")
    with OsvServer(online_osv_records) as server:
        monkeypatch.setenv("NPMAUDIT_OSV_URL", server.url)
        code, report, err = _run(capsys, str(project), "--omit", "dev")
    assert code == 2 and report is None and err.count("\n") == 1, err
    assert str(store) in err, err
