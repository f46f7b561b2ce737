"""The shared input-file reader: each OS or decoding failure is one InputError naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from npmaudit.errors import InputError
from npmaudit.textfile import read_bytes, read_text


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
