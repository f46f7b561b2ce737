"""An exclusive lock on a directory, for writers that replace or create a file inside it.

The lock is taken on the directory itself (``flock`` on a descriptor of the directory), so nothing
is left beside the user's file: a side ``NAME.lock`` file would stay in the project for ever, and
removing it after use breaks the lock (a writer waiting on the removed file and one that creates
a new file would both go ahead). Every process that can write into the directory can open it, so
two users sharing a project database still exclude each other, which a lock kept in each user's
own cache directory would not. Writers of different files in one directory wait for each other;
their writes are short. The kernel releases the lock when its holder dies.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from npmaudit.errors import InputError


@contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    try:
        handle = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise InputError(directory, f"cannot lock the directory: {error.strerror or error}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing the last descriptor releases the lock
