"""Reading an input file's bytes and text, with every failure a one-line InputError.

Every reader (lockfiles, manifests, advisory databases) turns the same OS and decoding failures
into the same messages, so they live here once: a missing file, a broken link, a directory, a
device, an unreadable file, and text that is not UTF-8 (with the line of the first bad byte).
"""

from __future__ import annotations

import stat
from pathlib import Path

from npmaudit.errors import InputError


def read_bytes(path: Path, what: str = "file") -> bytes:
    """The file's bytes. ``what`` names the expected kind of file in the directory message."""
    try:
        if _is_device(path):  # /dev/zero or a terminal would be read until memory runs out
            raise InputError(path, "not a regular file")
        return path.read_bytes()
    except IsADirectoryError:
        raise InputError(path, f"is a directory, not a {what}") from None
    except FileNotFoundError:
        raise InputError(path, "broken symbolic link" if path.is_symlink() else "no such file") from None
    except OSError as error:
        raise InputError(path, f"cannot read: {error.strerror or error}") from None


def decode(path: Path, raw: bytes) -> str:
    """UTF-8 text without a leading byte order mark; else an InputError at the bad byte's line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(path, "not UTF-8 text", raw.count(b"\n", 0, error.start) + 1) from None


def read_text(path: Path, what: str = "file") -> str:
    """The file's text: :func:`read_bytes` then :func:`decode`."""
    return decode(path, read_bytes(path, what))


def _is_device(path: Path) -> bool:
    """A character or block device, or a socket. Pipes stay readable: they end when the writer does."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False  # read_bytes reports it
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode)
