"""Replacing a file whole: readers (and a crash) see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_replace(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """A stream on a temporary file beside ``path``, renamed over ``path`` when the block ends.

    The temporary file sits in the same directory so the rename stays on one file system (and so
    is atomic); it is flushed to disk first so a crash after the rename cannot leave an empty file.
    When the block raises, the temporary file is removed and ``path`` is left as it was.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
