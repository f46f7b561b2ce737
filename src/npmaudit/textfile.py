"""Reading an input file's bytes and text, with every failure a one-line InputError.

Every reader (lockfiles, manifests, advisory databases, configuration) turns the same OS and
decoding failures into the same messages, so they live here once: a missing file, a broken
link, a directory, an unreadable file, and text that is not UTF-8 (with the line of the first
bad byte).

Only regular files are read. A FIFO without a writer blocks the open for ever, ``/dev/zero`` or
a terminal are read until memory runs out, a socket cannot be read at all: each is refused as
"not a regular file". The file is opened without blocking and checked on the open descriptor, so
neither a FIFO nor a file swapped for one between a check and the open can hang the run.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
from pathlib import Path

from npmaudit.errors import InputError

NOT_REGULAR = "not a regular file"
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def open_binary(path: Path, what: str = "file") -> io.FileIO:
    """The regular file at ``path``, open for reading. ``what`` names the expected kind of file
    in the directory message."""
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except IsADirectoryError:
        raise InputError(path, f"is a directory, not a {what}") from None
    except FileNotFoundError:
        raise InputError(path, "broken symbolic link" if path.is_symlink() else "no such file") from None
    except OSError as error:
        raise InputError(path, f"cannot read: {error.strerror or error}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(path, f"is a directory, not a {what}")
        if not stat.S_ISREG(mode):
            raise InputError(path, NOT_REGULAR)
        with contextlib.suppress(OSError):  # reads of a regular file never block; keep the default anyway
            os.set_blocking(descriptor, True)
        return io.FileIO(descriptor, "rb", closefd=True)
    except BaseException:
        os.close(descriptor)
        raise


def read_bytes(path: Path, what: str = "file") -> bytes:
    """The file's bytes. ``what`` names the expected kind of file in the directory message."""
    with open_binary(path, what) as stream:
        try:
            return stream.readall()
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


def refuse_special(path: Path) -> None:
    """An InputError when ``path`` exists and is neither a regular file nor a directory (a FIFO,
    a device, a socket): for paths handed to code that opens them itself (SQLite, zip, gzip)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # missing or unreadable: the caller's own open reports it
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputError(path, NOT_REGULAR)
