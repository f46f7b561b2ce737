"""Replacing a file whole: the new content appears at once, a failure leaves the old file and no litter."""

from __future__ import annotations

from pathlib import Path

import pytest

from npmaudit.atomicfile import atomic_replace


def test_replaces_text_and_bytes(tmp_path: Path) -> None:
    target = tmp_path / "db.json"
    target.write_text("old")
    with atomic_replace(target) as stream:
        stream.write("new é")
        assert target.read_text() == "old"  # nothing visible until the block ends
    assert target.read_text(encoding="utf-8") == "new é"
    with atomic_replace(target, "wb") as stream:
        stream.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert [p.name for p in tmp_path.iterdir()] == ["db.json"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "db.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_replace(target) as stream:
        stream.write("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["db.json"]
