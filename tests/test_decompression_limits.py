"""Decompression bombs: a small gzip or zip advisory file that expands past the max-decompressed ceiling is
an input error naming the file (exit 2), never a MemoryError; within the ceiling, data reads as before."""

from __future__ import annotations

import gzip
import io
import json
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from conftest import EXAMPLE, isolate_environment
from npmaudit.cli import main
from npmaudit.decompress import gunzip
from npmaudit.errors import InputError
from servers.mirror_server import MirrorServer

MiB = 1 << 20


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path, chdir=True)


def _zeros_gzip(size: int) -> bytes:
    """``size`` bytes of JSON-ish padding, gzipped: a few kilobytes on disk."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as stream:
        chunk = b" " * MiB
        for _ in range(size // MiB):
            stream.write(chunk)
    return out.getvalue()


def _records() -> list[dict]:
    return json.loads((EXAMPLE / "advisories.json").read_text())


def test_gunzip_stops_at_the_ceiling_and_reads_within_it() -> None:
    data = json.dumps(_records()).encode()
    assert gunzip(gzip.compress(data) + gzip.compress(b" "), "x", len(data) + 1) == data + b" "  # two members
    with pytest.raises(InputError, match="decompresses to more than 1 MiB"):
        gunzip(_zeros_gzip(8 * MiB), "bomb.json.gz", MiB)
    with pytest.raises(zlib.error):
        gunzip(gzip.compress(data)[:-12], "cut.json.gz", 10 * MiB)


def test_a_gzip_bomb_as_database_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    bomb = tmp_path / "advisories.json.gz"
    bomb.write_bytes(_zeros_gzip(64 * MiB))
    assert bomb.stat().st_size < 200_000
    monkeypatch.setenv("NPMAUDIT_MAX_DECOMPRESSED", "16")
    started = time.monotonic()
    code = main(["audit", str(EXAMPLE), "--compromised", "--db", str(bomb)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and time.monotonic() - started < 2
    assert str(bomb) in err and "more than 16 MiB" in err
    code = main(["db", "import", str(bomb), "--db", str(tmp_path / "store.sqlite")])
    err = capsys.readouterr().err
    assert code == 2 and "more than 16 MiB" in err and not (tmp_path / "store.sqlite").exists()


def test_a_zip_bomb_import_is_refused_whatever_its_members_declare(tmp_path: Path, capsys) -> None:
    bomb = tmp_path / "all.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in _records()[:4]:
            archive.writestr(f"{record['id']}.json", json.dumps(record) + " " * (4 * MiB))
    (tmp_path / ".npmaudit.toml").write_text("max-decompressed = 10\n")
    code = main(["db", "import", str(bomb), "--db", str(tmp_path / "store.sqlite")])
    err = capsys.readouterr().err
    assert code == 2 and "more than 10 MiB" in err and err.count("\n") == 1


def test_a_mirror_zip_bomb_fails_the_update(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    records = _records()
    with MirrorServer(records) as server:
        bomb = io.BytesIO()
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
            for record in records:
                archive.writestr(f"{record['id']}.json", json.dumps(record) + " " * (2 * MiB))
        server._files["/npm/all.zip"] = bomb.getvalue()
        monkeypatch.setenv("NPMAUDIT_MAX_DECOMPRESSED", "32")
        store = tmp_path / "store.sqlite"
        code = main(["db", "update", "--mirror", server.mirror_url, "--db", str(store)])
        err = capsys.readouterr().err
        assert code in (2, 3) and "more than 32 MiB" in err and not store.exists()
        monkeypatch.setenv("NPMAUDIT_MAX_DECOMPRESSED", "512")
        code = main(["db", "update", "--mirror", server.mirror_url, "--db", str(store)])
        capsys.readouterr()
        assert code == 0 and store.exists()


def test_bad_limits_are_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("NPMAUDIT_MAX_DECOMPRESSED", "0")
    code = main(["audit", str(EXAMPLE), "--compromised", "--db", str(EXAMPLE / "advisories.json")])
    assert code == 2 and "max-decompressed must be a number of MiB of at least 1" in capsys.readouterr().err
