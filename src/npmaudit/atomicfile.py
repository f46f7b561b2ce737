"""Replacing a file whole: readers (and a crash) see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

NEW_FILE_MODE = 0o666  # less the process umask, as for any file a program creates


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
    handle, temporary = _create_beside(path)
    try:
        with os.fdopen(handle, mode, encoding=None if "b" in mode else "utf-8") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _create_beside(path: Path) -> tuple[int, str]:
    while True:
        temporary = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, NEW_FILE_MODE)
        except FileExistsError:
            continue  # 48 random bits: a clash is all but impossible, and harmless
        try:
            os.fchmod(handle, stat.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(handle)
            os.unlink(temporary)
            raise
        return handle, temporary
