"""Every failure ends with its own exit code and one line: 2 for input, 3 for a source, never 70 (an
internal error) for what a file, a server or the machine did. Each case below was an exit 70 or a
multi-line message in the adversarial run of issue 10; real servers on 127.0.0.1, real files, and
real processes under real resource limits.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import mountns
from conftest import EXAMPLE
from servers.base import Fault
from servers.mirror_server import MirrorServer
from servers.osv_server import OsvServer
from servers.registry_server import RegistryServer

NESTED = b"[" * 200_000 + b"]" * 200_000  # far deeper than Python's json recursion allows


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mountns.isolate(monkeypatch, tmp_path)


cli = mountns.run_cli


def one_line(result: mountns.Result, code: int, *fragments: str) -> None:
    lines = result.err.splitlines()
    assert result.code == code, result.where()
    assert len(lines) == 1 and lines[0].startswith("npmaudit: error: "), result.where()
    for fragment in fragments:
        assert fragment in lines[0], result.where()


# -- servers -----------------------------------------------------------------------------------------


def test_deeply_nested_json_from_the_osv_api_is_a_source_error(capsys) -> None:
    with OsvServer([]) as server:
        server.add_fault(Fault("/v1/querybatch", "body", body=NESTED, times=0))
        result = cli(capsys, "audit", str(EXAMPLE), "--osv", "--osv-url", server.url)
    one_line(result, 3, "OSV", "nested too deeply")


def test_deeply_nested_json_from_the_registry_is_a_source_error(capsys) -> None:
    with RegistryServer() as server:
        server.add_fault(Fault("/-/npm/v1/security", "body", body=NESTED, times=0))
        result = cli(capsys, "audit", str(EXAMPLE), "--registry-advisories", "--registry", server.url)
    one_line(result, 3, "nested too deeply")


def test_deeply_nested_record_from_a_mirror_is_a_source_error(tmp_path: Path, capsys) -> None:
    records = json.loads((EXAMPLE / "advisories.json").read_text())
    store = tmp_path / "advisories.sqlite"
    with MirrorServer(records) as mirror:
        assert cli(capsys, "db", "update", "--mirror", mirror.mirror_url, "--db", str(store)).code == 0
        changed = {**records[0], "modified": "2030-01-01T00:00:00Z"}
        mirror.publish([changed, *records[1:]])
        mirror.add_fault(Fault(f"/npm/{changed['id']}.json", "body", body=NESTED, times=0))
        result = cli(capsys, "db", "update", "--mirror", mirror.mirror_url, "--db", str(store))  # a delta
    one_line(result, 3, f"{changed['id']}.json", "nested too deeply")


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_loop_is_one_line(status: int, tmp_path: Path, capsys) -> None:
    with MirrorServer([]) as mirror:
        loop = Fault("/npm/modified_id.csv", "status", status=status, headers={"location": "/npm/modified_id.csv"})
        loop.times = 0
        mirror.add_fault(loop)
        result = cli(capsys, "db", "update", "--mirror", mirror.mirror_url, "--db", str(tmp_path / "s.sqlite"))
    one_line(result, 3, "modified_id.csv")
    assert not (tmp_path / "s.sqlite").exists()


# -- the machine -----------------------------------------------------------------------------------


@pytest.mark.skipif(not mountns.available(), reason="needs root and unshare to mount a read-only cache")
def test_npm_json_with_a_read_only_packument_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    database = tmp_path / "db.json"
    database.write_text((EXAMPLE / "advisories.json").read_text())
    with RegistryServer() as registry:
        args = ["audit", str(EXAMPLE), "--compromised", "--db", str(database), "--registry", registry.url]
        results, _ = mountns.run_in_namespace(
            tmp_path, f"mount -t tmpfs -o ro,size=64k tmpfs {cache}", [[*args, "--format", "npm-json"]]
        )
    one_line(results[0], 2, str(cache), "cannot write the packument cache", "Read-only file system")


def test_npm_json_with_a_cache_directory_that_is_a_file(tmp_path: Path, capsys, monkeypatch) -> None:
    """The same failure for any user: the cache directory cannot be created."""
    blocker = tmp_path / "cache-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(blocker))
    database = tmp_path / "db.json"
    database.write_text((EXAMPLE / "advisories.json").read_text())
    with RegistryServer() as registry:
        args = ["audit", str(EXAMPLE), "--compromised", "--db", str(database), "--registry", registry.url]
        result = cli(capsys, *args, "--format", "npm-json")
    one_line(result, 2, "cannot write the packument cache")


@pytest.fixture(scope="module")
def gzip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """768 MiB of zeros in well under 1 MB of gzip."""
    path = tmp_path_factory.mktemp("bomb") / "advisories.jsonl.gz"
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    chunk = bytes(1 << 24)
    with path.open("wb") as stream:
        for _ in range(48):
            stream.write(packer.compress(chunk))
        stream.write(packer.flush())
    return path


@pytest.mark.parametrize("command", ["audit", "import"])
def test_an_input_too_large_for_memory_is_an_input_error(command: str, gzip_bomb: Path, tmp_path: Path) -> None:
    """Under a 512 MiB address-space limit the decompressed database cannot be held: one line and
    exit 2 (a reader's own size limit, or the MemoryError backstop), never an internal error."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))

    if command == "audit":
        args = ["audit", str(EXAMPLE), "--compromised", "--db", str(gzip_bomb)]
    else:
        args = ["db", "import", str(gzip_bomb), "--db", str(tmp_path / "s.sqlite")]
    completed = subprocess.run(
        [sys.executable, "-m", "npmaudit", *args],
        env=mountns.npmaudit_environment(tmp_path / "cache"),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_memory,
    )
    one_line(mountns.Result(completed.returncode, completed.stdout, completed.stderr), 2)
    assert not (tmp_path / "s.sqlite").exists()


def test_an_npmrc_that_is_a_device_is_refused_unread(tmp_path: Path, capsys) -> None:
    """`.npmrc` -> /dev/zero was read until memory ran out."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("package.json", "package-lock.json"):
        (project / name).write_bytes((EXAMPLE / name).read_bytes())
    (project / ".npmrc").symlink_to(os.devnull if not Path("/dev/zero").exists() else "/dev/zero")
    database = tmp_path / "db.json"
    database.write_text((EXAMPLE / "advisories.json").read_text())
    result = cli(capsys, "audit", str(project), "--compromised", "--db", str(database))
    one_line(result, 2, ".npmrc", "not a regular file")
