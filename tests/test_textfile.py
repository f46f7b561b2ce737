"""The shared input-file reader: each OS or decoding failure is one InputError naming the file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from npmaudit.errors import InputError
from npmaudit.textfile import read_bytes, read_text, refuse_special


def test_text_without_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b"\xef\xbb\xbf{}\n")
    assert read_text(path) == "{}\n"


def test_bad_byte_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b'{\n\n  "x": "\xff"\n}\n')
    with pytest.raises(InputError) as caught:
        read_text(path)
    assert (caught.value.path, caught.value.problem, caught.value.line) == (str(path), "not UTF-8 text", 3)


def test_missing_broken_link_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no such file$"):
        read_text(tmp_path / "absent")
    (tmp_path / "link").symlink_to(tmp_path / "absent")
    with pytest.raises(InputError, match=r"broken symbolic link$"):
        read_text(tmp_path / "link")
    with pytest.raises(InputError, match=r"is a directory, not a lockfile$"):
        read_text(tmp_path, "lockfile")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_device_is_refused_before_reading() -> None:
    with pytest.raises(InputError, match=r"not a regular file$"):
        read_bytes(Path("/dev/zero"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_without_a_writer_is_refused_at_once(tmp_path: Path) -> None:
    """Opening a FIFO for reading blocks until a writer comes: the open must not block, and the
    FIFO is refused on its descriptor."""
    fifo = tmp_path / "package.json"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(InputError, match=r"package.json: not a regular file$"):
        read_text(fifo, "package.json")
    with pytest.raises(InputError, match=r"not a regular file$"):
        refuse_special(fifo)
    assert time.monotonic() - started < 1.5


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null here")
def test_an_empty_device_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("/dev/null")
    with pytest.raises(InputError, match=r"link: not a regular file$"):
        read_bytes(tmp_path / "link")
    refuse_special(tmp_path)  # a directory and a missing path are left to the caller
    refuse_special(tmp_path / "absent")
