"""Stores and written files under hostile or broken file systems, with real files and processes.

* a WAL store on a read-only mount (or in a directory this user cannot write) is read, not refused;
* a full disk (a small tmpfs, or RLIMIT_FSIZE) during `db import` or `db export` is exit 2 with one
  line, and the store or target is left as it was;
* writes never go through a link or over anything but a regular file: `db export` to a device, FIFO,
  directory or link; a store path or side file that is a link (dangling or not); `--write` through a
  link; an empty file that is not a store;
* temporary files: a killed writer's is removed by the next write, a living writer's is kept, and
  SIGTERM removes the writer's own.

Mount-namespace tests (tests/mountns.py) need root; each has a variant that runs anywhere.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import mountns
from conftest import EXAMPLE
from npmaudit.cli import main
from servers.base import Fault
from servers.mirror_server import MirrorServer

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_namespace = pytest.mark.skipif(not mountns.available(), reason="needs root and unshare to mount a tmpfs")
SQLITE_WAL_MODE = b"\x02\x02"  # header bytes 18-19: read and write versions 2 = WAL


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mountns.isolate(monkeypatch, tmp_path)


cli = mountns.run_cli


def one_error_line(result: mountns.Result, *fragments: str) -> None:
    lines = result.err.splitlines()
    assert result.code == 2, result.where()
    assert len(lines) == 1 and lines[0].startswith("npmaudit: error: "), result.where()
    for fragment in fragments:
        assert fragment in lines[0], result.where()


def make_store(capsys: pytest.CaptureFixture[str], path: Path) -> Path:
    result = cli(capsys, "db", "import", str(EXAMPLE / "advisories.json"), "--db", str(path))
    assert result.code == 0, result.where()
    return path


def record_count(capsys: pytest.CaptureFixture[str], store: Path) -> int:
    result = cli(capsys, "db", "info", "--format", "json", "--db", str(store))
    assert result.code == 0, result.where()
    return int(json.loads(result.out)["records"])


def synthetic_records(path: Path, count: int = 3000) -> Path:
    """Records whose text does not compress (random ``details``): 3000 of them outgrow SQLite's page
    cache, so an import writes to the disk in the middle of its transaction, not only at COMMIT."""
    rng = random.Random(f"store-safety:{count}")
    with path.open("w", encoding="utf-8") as stream:
        for index in range(count):
            record = {
                "id": f"MAL-2099-{index}",
                "modified": "2024-01-01T00:00:00Z",
                "summary": f"Malicious code in synthetic-{index} (npm)",
                "details": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(1500)),
                "affected": [
                    {
                        "package": {"ecosystem": "npm", "name": f"synthetic-{index}"},
                        "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
                    }
                ],
            }
            stream.write(json.dumps(record) + "\n")
    return path


def npmaudit_process(*args: str, **options: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "npmaudit", *args],
        env=mountns.npmaudit_environment(Path(os.environ["NPMAUDIT_CACHE_DIR"])),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


# -- a store shared read-only ---------------------------------------------------------------------


@needs_namespace
def test_a_wal_store_on_a_read_only_mount_is_read(tmp_path: Path, capsys) -> None:
    shared = tmp_path / "shared"
    store = make_store(capsys, shared / "advisories.sqlite")
    assert store.read_bytes()[18:20] == SQLITE_WAL_MODE
    assert sorted(p.name for p in shared.iterdir()) == ["advisories.sqlite"]  # no -wal / -shm to lean on
    before = store.read_bytes()
    view = tmp_path / "view"
    view.mkdir()
    seen = view / "advisories.sqlite"
    exported = tmp_path / "exported.json"
    results, _ = mountns.run_in_namespace(
        tmp_path,
        f"mount --bind {shared} {view}\nmount -o remount,bind,ro {view}",
        [
            ["db", "info", "--db", str(seen)],
            ["audit", str(EXAMPLE), "--compromised", "--db", str(seen), "--format", "json"],
            ["db", "export", str(exported), "--db", str(seen)],
            ["db", "import", str(EXAMPLE / "advisories.json"), "--db", str(seen)],
        ],
    )
    info, audit, export, write = results
    assert info.code == 0 and "records     46" in info.out, info.where()
    assert audit.code == 1 and json.loads(audit.out)["findings"], audit.where()
    assert export.code == 0 and len(json.loads(exported.read_text())) == 46, export.where()
    one_error_line(write, str(seen), "read-only file system")  # writing is refused, clearly
    assert store.read_bytes() == before


@pytest.mark.skipif(ROOT, reason="root writes any directory whatever its mode (see the read-only mount variant)")
def test_a_wal_store_in_a_directory_this_user_cannot_write_is_read(tmp_path: Path, capsys) -> None:
    shared = tmp_path / "shared"
    store = make_store(capsys, shared / "advisories.sqlite")
    shared.chmod(0o555)
    try:
        result = cli(capsys, "audit", str(EXAMPLE), "--compromised", "--db", str(store), "--format", "json")
        assert result.code == 1 and json.loads(result.out)["findings"], result.where()
    finally:
        shared.chmod(0o755)


# -- a full disk ---------------------------------------------------------------------------------


@needs_namespace
def test_a_full_disk_during_an_import_is_an_input_error(tmp_path: Path) -> None:
    """Found by the adversarial run: SQLite rolled the transaction back itself, the second ROLLBACK
    failed ("cannot rollback - no transaction is active") and the run ended as an internal error."""
    disk = tmp_path / "disk"
    disk.mkdir()
    store = disk / "advisories.sqlite"
    many = synthetic_records(tmp_path / "many.jsonl")
    results, _ = mountns.run_in_namespace(
        tmp_path,
        f"mount -t tmpfs -o size=1m tmpfs {disk}",
        [
            ["db", "import", str(EXAMPLE / "advisories.json"), "--db", str(store)],
            ["db", "import", str(many), "--db", str(store)],
            ["db", "info", "--format", "json", "--db", str(store)],
        ],
    )
    first, full, info = results
    assert first.code == 0, first.where()
    one_error_line(full, str(store), "disk is full", "left as it was")
    assert info.code == 0 and json.loads(info.out)["records"] == 46, info.where()


def test_a_file_size_limit_during_an_import_is_an_input_error(tmp_path: Path, capsys) -> None:
    """The same failure anywhere: RLIMIT_FSIZE makes the write-ahead log's growth fail (EFBIG)."""
    store = make_store(capsys, tmp_path / "advisories.sqlite")
    many = synthetic_records(tmp_path / "many.jsonl")

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failing write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    process = npmaudit_process("db", "import", str(many), "--db", str(store), preexec_fn=limit_file_size)
    out, err = process.communicate(timeout=120)
    one_error_line(mountns.Result(process.returncode, out, err), str(store), "left as it was")
    assert record_count(capsys, store) == 46


@needs_namespace
def test_a_full_disk_during_an_export_leaves_nothing(tmp_path: Path, capsys) -> None:
    store = tmp_path / "advisories.sqlite"
    assert main(["db", "import", str(synthetic_records(tmp_path / "many.jsonl")), "--db", str(store)]) == 0
    capsys.readouterr()
    disk = tmp_path / "disk"
    disk.mkdir()
    target = disk / "export.json"
    results, listing = mountns.run_in_namespace(
        tmp_path,
        f"mount -t tmpfs -o size=256k tmpfs {disk}\nprintf old > {target}",
        [["db", "export", str(target), "--db", str(store)]],
        after=f"ls -A {disk}; cat {target}",
    )
    one_error_line(results[0], str(target), "No space left")
    assert listing.split() == ["export.json", "old"], listing  # no temporary file, the old content kept


# -- writes never follow links, never replace what is not a regular file ---------------------------


def _make_target(kind: str, target: Path) -> None:
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "char-device":
        os.mknod(target, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # what /dev/full is, in the test's own folder
    elif kind == "directory":
        target.mkdir()
    elif kind == "link-to-a-file":
        (target.parent / "elsewhere.json").write_text("precious")
        target.symlink_to("elsewhere.json")
    else:
        target.symlink_to("missing/elsewhere.json")


@pytest.mark.parametrize("kind", ["char-device", "fifo", "directory", "link-to-a-file", "dangling-link"])
def test_db_export_refuses_targets_that_are_not_regular_files(kind: str, tmp_path: Path, capsys) -> None:
    """`db export /dev/full` as root replaced the device with a regular file and exited 0."""
    if kind == "char-device" and not ROOT:
        pytest.skip("creating a device node needs root")
    store = make_store(capsys, tmp_path / "store" / "advisories.sqlite")
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "export.json"
    _make_target(kind, target)
    before = os.lstat(target)
    one_error_line(cli(capsys, "db", "export", str(target), "--db", str(store)), str(target))
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["export.json", *(["elsewhere.json"] if kind == "link-to-a-file" else [])]
    )  # no temporary file left, nothing created through the link
    if kind == "link-to-a-file":
        assert (folder / "elsewhere.json").read_text() == "precious"


def test_a_dangling_link_at_the_store_path_creates_nothing(tmp_path: Path, capsys, monkeypatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "advisories.sqlite"
    link.symlink_to(elsewhere / "advisories.sqlite")
    one_error_line(cli(capsys, "db", "import", str(EXAMPLE / "advisories.json"), "--db", str(link)), "symbolic link")
    # --write-cache writes the shared store: a link planted there is refused the same way
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "advisories.sqlite").symlink_to(elsewhere / "cached.sqlite")
    database = tmp_path / "db.json"
    database.write_text((EXAMPLE / "advisories.json").read_text())
    result = cli(capsys, "audit", str(EXAMPLE), "--compromised", "--db", str(database), "--write-cache")
    assert result.code == 2 and "symbolic link" in result.err, result.where()
    assert list(elsewhere.iterdir()) == [] and link.is_symlink() and (cache / "advisories.sqlite").is_symlink()


def test_a_link_to_a_store_is_not_written_through(tmp_path: Path, capsys) -> None:
    store = make_store(capsys, tmp_path / "real.sqlite")
    before = store.read_bytes()
    link = tmp_path / "link.sqlite"
    link.symlink_to(store)
    more = synthetic_records(tmp_path / "more.jsonl", count=3)
    one_error_line(cli(capsys, "db", "import", str(more), "--db", str(link)), str(link), "symbolic link")
    assert store.read_bytes() == before and link.is_symlink()
    result = cli(capsys, "db", "info", "--db", str(link))  # reading through a link is fine
    assert result.code == 0, result.where()


@pytest.mark.parametrize("side", ["-shm", "-wal"])
def test_a_store_side_file_that_is_a_link_is_refused(side: str, tmp_path: Path, capsys) -> None:
    store = make_store(capsys, tmp_path / "advisories.sqlite")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    Path(f"{store}{side}").symlink_to(victim)
    result = cli(capsys, "audit", str(EXAMPLE), "--compromised", "--db", str(store))
    one_error_line(result, str(store), f"advisories.sqlite{side} beside the store is a symbolic link")
    assert victim.read_text() == "precious"


def test_write_through_a_link_copies_nothing(tmp_path: Path, capsys) -> None:
    """--write w.json, w.json a link to another database: its records were merged into a new file
    that replaced the link (a copy of what it pointed to, in the project)."""
    other = tmp_path / "other"
    other.mkdir()
    theirs = other / "theirs.json"
    theirs.write_text(json.dumps([{"id": "MAL-0000-1", "modified": "2024-01-01T00:00:00Z", "affected": []}]))
    before = theirs.read_bytes()
    project = tmp_path / "project"
    project.mkdir()
    for name in ("package.json", "package-lock.json"):
        (project / name).write_bytes((EXAMPLE / name).read_bytes())
    write = project / "advisories.json"
    write.symlink_to(theirs)
    database = tmp_path / "db.json"
    database.write_text((EXAMPLE / "advisories.json").read_text())
    result = cli(capsys, "audit", str(project), "--compromised", "--db", str(database), "--write", str(write))
    assert result.code == 2 and f"{write}: is a symbolic link" in result.err, result.where()
    assert write.is_symlink() and theirs.read_bytes() == before
    assert sorted(p.name for p in project.iterdir()) == ["advisories.json", "package-lock.json", "package.json"]


def test_write_into_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "advisories.json"
    os.mkfifo(fifo)
    database = tmp_path / "db.json"
    database.write_text((EXAMPLE / "advisories.json").read_text())
    # In a process of its own, so a regression (reading the FIFO) fails here instead of hanging the suite.
    process = npmaudit_process("audit", str(EXAMPLE), "--compromised", "--db", str(database), "--write", str(fifo))
    try:
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    result = mountns.Result(process.wait(), out, err)
    assert result.code == 2 and "not a regular file" in result.err, result.where()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_an_empty_file_is_not_turned_into_a_store(tmp_path: Path, capsys) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"")
    one_error_line(cli(capsys, "db", "import", str(EXAMPLE / "advisories.json"), "--db", str(notes)), "an empty file")
    assert notes.read_bytes() == b""
    with pytest.raises(sqlite3.DatabaseError):  # still nobody's database
        sqlite3.connect(f"file:{notes}?mode=ro", uri=True).execute("SELECT * FROM advisories")


# -- temporary files -----------------------------------------------------------------------------

HOLD_TEMPORARY = """
import sys, time
from pathlib import Path
from npmaudit.atomicfile import atomic_replace, scratch_file
target = Path(sys.argv[1])
if sys.argv[2] == "replace":
    with atomic_replace(target) as stream:
        stream.write("x" * 1_000_000)
        stream.flush()
        print("ready", flush=True)
        time.sleep(600)
else:
    with scratch_file(target.parent, target.name) as (handle, path):
        print("ready", flush=True)
        time.sleep(600)
"""


def temporaries(folder: Path, stem: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(f".{stem}.") and p.name.endswith(".tmp"))


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(30)


def hold_temporary(processes: list[subprocess.Popen[str]], target: Path, how: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_TEMPORARY, str(target), how],
        env=mountns.npmaudit_environment(target.parent / "cache"),
        stdout=subprocess.PIPE,
        text=True,
    )
    processes.append(process)
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def test_a_killed_exports_temporary_is_removed_by_the_next_write(tmp_path: Path, capsys, holder) -> None:
    store = make_store(capsys, tmp_path / "advisories.sqlite")
    target = tmp_path / "export.json"
    writer = hold_temporary(holder, target, "replace")
    writer.kill()
    writer.wait(30)
    (left,) = temporaries(tmp_path, "export.json")
    assert left.stat().st_size >= 1_000_000  # a full-size leftover, as a killed export leaves
    assert cli(capsys, "db", "export", str(target), "--db", str(store)).code == 0
    assert temporaries(tmp_path, "export.json") == [] and len(json.loads(target.read_text())) == 46


def test_a_living_writers_temporary_is_kept(tmp_path: Path, capsys, holder) -> None:
    store = make_store(capsys, tmp_path / "advisories.sqlite")
    target = tmp_path / "export.json"
    writer = hold_temporary(holder, target, "replace")
    (held,) = temporaries(tmp_path, "export.json")
    assert cli(capsys, "db", "export", str(target), "--db", str(store)).code == 0
    assert held.exists(), "another process's temporary file was removed while it was being written"
    writer.kill()
    writer.wait(30)
    assert cli(capsys, "db", "export", str(target), "--db", str(store)).code == 0
    assert not held.exists()


def test_a_killed_updates_archive_is_removed_by_the_next_update(tmp_path: Path, capsys, holder) -> None:
    store = tmp_path / "advisories.sqlite"
    writer = hold_temporary(holder, store.with_name("all.zip"), "scratch")
    writer.kill()
    writer.wait(30)
    assert len(temporaries(tmp_path, "all.zip")) == 1
    records = json.loads((EXAMPLE / "advisories.json").read_text())
    with MirrorServer(records) as mirror:
        result = cli(capsys, "db", "update", "--mirror", mirror.mirror_url, "--db", str(store))
    assert result.code == 0, result.where()
    assert temporaries(tmp_path, "all.zip") == []


def test_sigterm_during_an_update_removes_its_download(tmp_path: Path) -> None:
    store = tmp_path / "advisories.sqlite"
    records = json.loads((EXAMPLE / "advisories.json").read_text())
    with MirrorServer(records) as mirror:
        mirror.add_fault(Fault("/npm/all.zip", "delay", seconds=30))
        process = npmaudit_process("db", "update", "--mirror", mirror.mirror_url, "--db", str(store))
        deadline = time.monotonic() + 30
        while not temporaries(tmp_path, "all.zip"):
            assert time.monotonic() < deadline and process.poll() is None, "the download never started"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM
    assert temporaries(tmp_path, "all.zip") == [] and not store.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
