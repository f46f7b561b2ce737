"""Replacing a file whole: readers (and a crash) see the old file or the new one, never half of one.

Writes never go through a symbolic link and never replace anything but a regular file: a link at
the target (dangling or not) or a device, FIFO, socket or directory there is refused with an
:class:`~npmaudit.errors.InputError`. Renaming over ``/dev/full`` would replace the device with a
file; following a link planted in a project would write, or copy records, where the link points.

Temporary files (:func:`scratch_file`) are created exclusively (never through a planted link) and
hold an exclusive ``flock`` while they live. A process killed with SIGKILL cannot remove its
temporary file, so every new one first removes the abandoned ones of the same name: a temporary
whose lock can be taken has no living writer (the kernel releases a dead process's locks).
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from npmaudit.errors import InputError

NEW_FILE_MODE = 0o666  # less the process umask, as for any file a program creates
_TOKEN_HEX = 12  # 48 random bits per temporary name


def check_writable_target(path: Path) -> None:
    """An :class:`InputError` unless ``path`` is absent or a regular file that is not a link."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise InputError(path, f"cannot write: {error.strerror or error}") from None
    if stat.S_ISLNK(mode):
        raise InputError(path, "is a symbolic link: npmaudit never writes through or over a link (name its target)")
    if stat.S_ISDIR(mode):
        raise InputError(path, "is a directory, not a file to write")
    if not stat.S_ISREG(mode):
        raise InputError(path, "not a regular file (a device, FIFO or socket): npmaudit only replaces regular files")


@contextmanager
def atomic_replace(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """A stream on a temporary file beside ``path``, renamed over ``path`` when the block ends.

    The temporary file sits in the same directory so the rename stays on one file system (and so
    is atomic); it is flushed to disk first so a crash after the rename cannot leave an empty file.
    When the block raises, the temporary file is removed and ``path`` is left as it was.

    The new file gets the mode of the file it replaces, or, for a new one, 0666 less the process
    umask (0644 under the usual 022), as if it had been written in place: ``mkstemp``'s 0600 would
    hide a project's database from its other users.
    """
    check_writable_target(path)
    with scratch_file(path.parent, path.name) as (handle, temporary):
        with suppress(FileNotFoundError):
            os.fchmod(handle, stat.S_IMODE(os.lstat(path).st_mode))
        with os.fdopen(os.dup(handle), mode, encoding=None if "b" in mode else "utf-8") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        check_writable_target(path)  # a link or device put there meanwhile is not replaced either
        os.replace(temporary, path)


@contextmanager
def scratch_file(directory: Path, stem: str) -> Iterator[tuple[int, Path]]:
    """A new, empty, locked temporary file ``directory/.<stem>.<random>.tmp`` as (descriptor, path),
    removed when the block ends unless the block renamed it away. Abandoned ones of the same stem
    (their writer was killed) are removed first."""
    remove_abandoned(directory, stem)
    handle, temporary = _create_locked(directory, stem)
    try:
        yield handle, temporary
    finally:
        os.close(handle)
        with suppress(FileNotFoundError):
            os.unlink(temporary)


def _create_locked(directory: Path, stem: str) -> tuple[int, Path]:
    import secrets  # here: it loads OpenSSL's hashes, a few ms of every run that never writes a file

    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    while True:
        temporary = directory / f".{stem}.{secrets.token_hex(_TOKEN_HEX // 2)}.tmp"
        try:
            handle = os.open(temporary, flags, NEW_FILE_MODE)
        except FileExistsError:
            continue  # 48 random bits: a clash is all but impossible, and harmless
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            # A cleaner may have taken it for abandoned between the open and the lock: then it is
            # gone from the directory, and a fresh one is made.
            if _same_file(handle, temporary):
                return handle, temporary
        except BaseException:
            os.close(handle)
            with suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        os.close(handle)


def remove_abandoned(directory: Path, stem: str) -> int:
    """Remove the temporary files of ``stem`` in ``directory`` that no living process holds; the
    number removed. Anything unexpected (not a regular file, unreadable) is left alone."""
    pattern = re.compile(rf"\.{re.escape(stem)}\.[0-9a-f]{{{_TOKEN_HEX}}}\.tmp")
    removed = 0
    try:
        names = [entry.name for entry in os.scandir(directory) if pattern.fullmatch(entry.name)]
    except OSError:
        return 0
    for name in names:
        candidate = directory / name
        try:
            handle = os.open(candidate, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(handle).st_mode):
                continue
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a living writer holds it
            if _same_file(handle, candidate):
                os.unlink(candidate)
                removed += 1
        except OSError:
            continue
        finally:
            os.close(handle)
    return removed


def _same_file(handle: int, path: Path) -> bool:
    try:
        named = os.lstat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(handle)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)
