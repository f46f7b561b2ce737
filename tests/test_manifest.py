"""The shared package.json reader: optional, but never silently wrong when present."""

from __future__ import annotations

from pathlib import Path

import pytest

from npmaudit.errors import InputError
from npmaudit.project.manifest import read_manifest


def _problem(path: Path, content: bytes) -> tuple[str, int | None]:
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read_manifest(path)
    assert caught.value.path == str(path)
    return caught.value.problem, caught.value.line


def test_missing_or_dangling_is_no_manifest(tmp_path: Path) -> None:
    assert read_manifest(tmp_path / "package.json") is None
    (tmp_path / "link.json").symlink_to(tmp_path / "gone.json")
    assert read_manifest(tmp_path / "link.json") is None


def test_content_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "package.json"
    path.write_bytes(b'\xef\xbb\xbf{"name": "a", "packageManager": "pnpm@9.1.0"}')
    assert read_manifest(path) == {"name": "a", "packageManager": "pnpm@9.1.0"}


def test_broken_manifests(tmp_path: Path) -> None:
    path = tmp_path / "package.json"
    assert _problem(path, b" \n") == ("empty package.json", None)
    assert _problem(path, b'{"name": "a",\n  "version": }\n') == ("not valid JSON: Expecting value", 2)
    assert _problem(path, b"[1]") == ("the top level must be a JSON object, not an array", 1)
    assert _problem(path, b"[" * 100_000 + b"]" * 100_000) == ("not valid JSON: nested too deeply", None)
    assert _problem(path, b'{"name": "\xff"}') == ("not UTF-8 text", 1)
