"""`db update` against a real HTTP server on 127.0.0.1 serving an OSV mirror (all.zip,
modified_id.csv, <id>.json) built from real records: a first full update, then a second state of
the mirror that changes, adds and withdraws records, fetched as a delta."""

from __future__ import annotations

import argparse
import copy
import gzip
import io
import json
import os
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from npmaudit.advisories.jsondb import write_json_database
from npmaudit.advisories.mirror import (
    _is_newer,
    parse_modified_csv,
    update_from_mirror,
)
from npmaudit.advisories.mirror_fetch import MirrorTimeouts
from npmaudit.advisories.store import AdvisoryStore, export_store
from npmaudit.cli.settings import resolve_settings
from npmaudit.config import ProjectConfig
from npmaudit.errors import SourceError
from npmaudit.settings import DEFAULT_MIRROR_URL
from servers import DripServer

FIXTURES = Path(__file__).parent / "fixtures" / "osv" / "store"


def raw(name: str) -> list[dict]:
    with gzip.open(FIXTURES / name, "rt", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


class Mirror:
    """An OSV ecosystem directory served over HTTP, with a request log and injectable failures."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.fail: dict[str, int] = {}  # path -> HTTP status to answer instead
        self.lock = threading.Lock()

    def publish(self, records: list[dict]) -> None:
        files: dict[str, bytes] = {}
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            for record in records:
                text = json.dumps(record, indent=2)
                bundle.writestr(f"{record['id']}.json", text)
                files[f"/npm/{record['id']}.json"] = text.encode()
        files["/npm/all.zip"] = archive.getvalue()
        listing = sorted(((r["modified"], r["id"]) for r in records), reverse=True)
        files["/npm/modified_id.csv"] = "".join(f"{m},{i}\n" for m, i in listing).encode()
        with self.lock:
            self.files = files

    def paths(self) -> list[str]:
        with self.lock:
            requested, self.requests = self.requests, []
        return requested


@pytest.fixture
def mirror() -> Iterator[tuple[Mirror, str]]:
    state = Mirror()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = unquote(self.path)
            with state.lock:
                state.requests.append(path)
                body = state.files.get(path)
                status = state.fail.get(path)
            if status is None and body is None:
                status = 404
            if status is not None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/npm"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return raw("npm-ghsa.jsonl.gz") + raw("npm-malicious-sample.jsonl.gz")


def second_state(first: list[dict], extra: list[dict]) -> tuple[list[dict], set[str]]:
    """The mirror an hour later: 3 records changed, the extra ones added, 2 withdrawn."""
    later = "2026-01-01T00:00:00Z"
    state = [copy.deepcopy(r) for r in first]
    active = [r for r in state if not r.get("withdrawn")]
    changed = active[:3]
    for record in changed:
        record["modified"] = later
        record["summary"] = "changed: " + record.get("summary", "")
    withdrawn = active[10:12]
    for record in withdrawn:
        record["modified"] = later
        record["withdrawn"] = later
    state.extend(extra)
    return state, {r["id"] for r in (*changed, *withdrawn, *extra)}


def exported(store: AdvisoryStore, tmp_path: Path) -> str:
    out = tmp_path / "export.json"
    export_store(store, out)
    return out.read_text()


def reference(records: list[dict], tmp_path: Path) -> str:
    out = tmp_path / "reference.json"
    write_json_database(out, records)
    return out.read_text()


def test_first_update_downloads_all_zip_then_only_changed_records(mirror, records, tmp_path: Path):
    server, url = mirror
    first, extra = records[:-5], records[-5:]
    server.publish(first)
    with AdvisoryStore.open(tmp_path / "store.sqlite", create=True) as store:
        update = update_from_mirror(store, url)
        assert update.mode == "full" and update.result.added == len(first)
        assert server.paths() == ["/npm/modified_id.csv", "/npm/all.zip"]
        assert exported(store, tmp_path) == reference(first, tmp_path)

        second, touched = second_state(first, extra)
        server.publish(second)
        update = update_from_mirror(store, url)
        assert update.mode == "delta"
        requested = server.paths()
        assert requested[0] == "/npm/modified_id.csv" and "/npm/all.zip" not in requested
        assert sorted(requested[1:]) == sorted(f"/npm/{i}.json" for i in touched)
        assert (update.result.added, update.result.changed) == (5, 5)
        assert exported(store, tmp_path) == reference(second, tmp_path)
        stats = store.stats()
        assert stats.withdrawn == sum(1 for r in second if r.get("withdrawn"))
        assert [s.location for s in stats.sources] == [url]
        assert stats.sources[0].state["mode"] == "delta"
        assert stats.sources[0].state["newestListed"] == "2026-01-01T00:00:00Z"

        # Nothing new: only the listing is read, and the store's update time still moves on.
        update = update_from_mirror(store, url)
        assert server.paths() == ["/npm/modified_id.csv"]
        assert (update.mode, update.fetched, update.result.added, update.result.changed) == ("delta", 0, 0, 0)


def test_a_failed_fetch_changes_nothing(mirror, records, tmp_path: Path):
    server, url = mirror
    first = records[:100]
    server.publish(first)
    with AdvisoryStore.open(tmp_path / "store.sqlite", create=True) as store:
        update_from_mirror(store, url)
        before = exported(store, tmp_path)
        second, touched = second_state(first, records[100:104])
        server.publish(second)
        server.fail[f"/npm/{sorted(touched)[0]}.json"] = 500
        with pytest.raises(SourceError, match="HTTP 500"):
            update_from_mirror(store, url)
        assert exported(store, tmp_path) == before
        server.fail.clear()
        update_from_mirror(store, url)
        assert exported(store, tmp_path) == reference(second, tmp_path)


@pytest.mark.parametrize(
    ("path", "status", "problem"),
    [("/npm/modified_id.csv", 503, "HTTP 503"), ("/npm/all.zip", 404, "HTTP 404")],
)
def test_an_unreachable_mirror_is_a_source_error(mirror, records, tmp_path: Path, path, status, problem):
    server, url = mirror
    server.publish(records[:10])
    server.fail[path] = status
    with AdvisoryStore.open(tmp_path / "store.sqlite", create=True) as store:
        with pytest.raises(SourceError, match=problem):
            update_from_mirror(store, url)
        assert store.stats().records == 0
    assert not list(tmp_path.glob(".all.*"))  # the partial download is removed


def test_a_damaged_archive_is_the_mirrors_fault(mirror, records, tmp_path: Path):
    server, url = mirror
    server.publish(records[:10])
    server.files["/npm/all.zip"] = server.files["/npm/all.zip"][:200]
    with AdvisoryStore.open(tmp_path / "store.sqlite", create=True) as store, pytest.raises(SourceError):
        update_from_mirror(store, url)


def test_no_server_is_a_source_error(tmp_path: Path):
    with AdvisoryStore.open(tmp_path / "store.sqlite", create=True) as store, pytest.raises(SourceError):
        update_from_mirror(store, "http://127.0.0.1:9/npm")


def test_modified_id_csv_parsing():
    data = b"2026-01-01T00:00:00Z,GHSA-aaaa\n2024-06-04T12:34:56.123456Z,MAL-2024-1\n\n"
    assert parse_modified_csv("u", data) == [
        ("2026-01-01T00:00:00Z", "GHSA-aaaa"),
        ("2024-06-04T12:34:56.123456Z", "MAL-2024-1"),
    ]
    assert parse_modified_csv("u", b"modified,id\n2024-01-01T00:00:00Z,X-1\n") == [("2024-01-01T00:00:00Z", "X-1")]
    with pytest.raises(SourceError, match="line 2"):
        parse_modified_csv("u", b"2024-01-01T00:00:00Z,X-1\nnot a line\n")


def test_listing_precision_never_causes_refetch_loops():
    # A listing rounded to the second does not make the record it lists look newer.
    assert not _is_newer("2023-11-08T04:08:35Z", "2023-11-08T04:08:35.918577Z")
    assert _is_newer("2023-11-08T04:08:36Z", "2023-11-08T04:08:35.918577Z")
    assert _is_newer("2023-11-08T04:08:35.9Z", "2023-11-08T04:08:35.1Z")
    assert not _is_newer("2023-11-08T04:08:35Z", "2023-11-08T04:08:35Z")
    assert _is_newer("2023-11-08T04:08:35Z", None)


def test_mirror_url_precedence(tmp_path: Path):
    config = ProjectConfig(tmp_path / ".npmaudit.toml", {"mirror-url": "https://config.example/npm/"})
    env = {"NPMAUDIT_MIRROR_URL": "https://env.example/npm"}

    def mirror_url(flag: str | None, config: ProjectConfig, env: dict[str, str]) -> str:
        return resolve_settings(argparse.Namespace(mirror=flag), env, config).mirror_url

    assert mirror_url("https://flag.example/npm", config, env) == "https://flag.example/npm"
    assert mirror_url(None, config, env) == "https://env.example/npm"
    assert mirror_url(None, config, {}) == "https://config.example/npm"
    assert mirror_url(None, ProjectConfig(None), {}) == DEFAULT_MIRROR_URL


# --- a hostile mirror: every request has a total deadline, and a file:// mirror holds regular files ---

LISTING = b"2024-01-01T00:00:00Z,GHSA-aaaa\n"
CSV_ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(LISTING), LISTING)
ENDLESS_BODY = b"HTTP/1.1 200 OK\r\ncontent-length: 100000000\r\n\r\n"


def test_a_mirror_dripping_its_listing_fails_at_the_deadline(tmp_path: Path):
    with DripServer(b"HTTP/1.1 200 OK\r\n", b"x-slow: yes\r\n") as server:
        started = time.monotonic()
        with AdvisoryStore.open(tmp_path / "store.sqlite", create=True) as store:
            with pytest.raises(SourceError) as caught:
                update_from_mirror(store, server.url + "npm", timeouts=MirrorTimeouts(file=0.5))
            assert store.stats().records == 0
    assert time.monotonic() - started < 1.5
    assert str(caught.value) == f"{server.url}npm/modified_id.csv: no answer within 0.5 s"
    assert caught.value.exit_code == 3


def test_a_mirror_dripping_all_zip_fails_at_the_archive_deadline(tmp_path: Path):
    """The listing comes whole; all.zip, on the same kept-alive connection, a byte at a time."""
    with DripServer(ENDLESS_BODY, b"PK\x03\x04", answer_first=CSV_ANSWER) as server:
        started = time.monotonic()
        with AdvisoryStore.open(tmp_path / "store.sqlite", create=True) as store:
            with pytest.raises(SourceError, match=r"npm/all.zip: no whole answer within 0.4 s$"):
                update_from_mirror(store, server.url + "npm", timeouts=MirrorTimeouts(file=5, archive=0.4))
            assert store.stats().records == 0
        assert server.connections == 1
    assert time.monotonic() - started < 1.5
    assert not list(tmp_path.glob(".all.*"))  # the partial download is removed


@pytest.mark.parametrize("name", ["modified_id.csv", "all.zip"])
def test_a_fifo_in_a_file_mirror_is_refused_not_read(tmp_path: Path, name: str):
    directory = tmp_path / "mirror" / "npm"
    directory.mkdir(parents=True)
    (directory / "modified_id.csv").write_text("2024-01-01T00:00:00Z,GHSA-aaaa\n")
    (directory / name).unlink(missing_ok=True)
    os.mkfifo(directory / name)  # no writer: opening it for reading would block for ever
    started = time.monotonic()
    with (
        AdvisoryStore.open(tmp_path / "store.sqlite", create=True) as store,
        pytest.raises(SourceError, match=rf"{name}: not a regular file$"),
    ):
        update_from_mirror(store, directory.as_uri())
    assert time.monotonic() - started < 1.5
