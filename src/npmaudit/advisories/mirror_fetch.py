"""Reading an OSV mirror's files: over HTTP(S) through :class:`npmaudit.http.HttpClient`, or from a
``file://`` directory.

Over HTTP every request has a total deadline (connect, headers and the whole body), so a mirror
that sends a byte now and then fails the update (exit 3) instead of hanging it; answers held in
memory (``modified_id.csv``, one record) are capped by the client's size limit, ``all.zip`` is
streamed to disk with a deadline of its own. A ``file://`` mirror must hold regular files: a FIFO
or a device under a mirror file's name is refused before it is opened.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from npmaudit import textfile
from npmaudit.errors import InputError, SourceError
from npmaudit.http import HttpClient, HttpError, HttpSettings, Sink
from npmaudit.npmrc import redact_url
from npmaudit.progress import Progress
from npmaudit.records import record_class

# The deadline of one small file (modified_id.csv, one record) and of the whole all.zip download
# (about 100 MB for npm: 30 minutes allows a link as slow as ~60 KB/s).
FILE_TIMEOUT = 60.0
ARCHIVE_TIMEOUT = 1800.0
CHUNK = 1 << 20


@record_class(frozen=True)
class MirrorTimeouts:
    file: float = FILE_TIMEOUT
    archive: float = ARCHIVE_TIMEOUT


class MirrorTransport:
    """Fetches a mirror's files; use as a context manager (it keeps connections open)."""

    def __init__(self, timeouts: MirrorTimeouts | None = None) -> None:
        self.timeouts = timeouts or MirrorTimeouts()
        # No retries, as before: a failed fetch fails the update, which changes nothing.
        self._client = HttpClient("OSV mirror", HttpSettings(timeout=self.timeouts.file, retries=0))

    def __enter__(self) -> MirrorTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def fetch(self, location: str) -> bytes:
        """A small file's bytes."""
        path = _local_path(location)
        if path is None:
            with _named_by(location):
                return self._client.request("GET", location).body
        with _open_regular(location, path) as stream:
            return stream.read()

    def download(self, location: str, sink: Sink, progress: Progress) -> None:
        """A large file into ``sink``, reporting its bytes as they come (of the announced total)."""
        task = f"downloading {redact_url(location)} (bytes)"
        path = _local_path(location)
        if path is None:
            with _named_by(location):
                done = self._client.download(
                    location,
                    sink,
                    timeout=self.timeouts.archive,
                    on_body=lambda done, total: progress(task, done, total),
                )
            progress(task, done, done)  # the end, for a renderer that could not tell it
            return
        with _open_regular(location, path) as stream:
            total = os.fstat(stream.fileno()).st_size
            done = 0
            while chunk := stream.read(CHUNK):
                sink.write(chunk)
                done += len(chunk)
                progress(task, done, total)


@contextlib.contextmanager
def _named_by(location: str) -> Iterator[None]:
    """A failed request as ``<file URL>: <reason>``, as every mirror failure reads."""
    try:
        yield
    except HttpError as error:
        shown = redact_url(location)
        reason = error.reason.removeprefix(f"GET {shown}: ").replace(f" from GET {shown}", "")
        raise SourceError(shown, reason) from None


def _local_path(location: str) -> Path | None:
    parts = urlsplit(location)
    if parts.scheme != "file":
        return None
    return Path(url2pathname(parts.path))


def _open_regular(location: str, path: Path) -> io.FileIO:
    """Open a local mirror file, refusing what is not a regular file (a FIFO would block for ever);
    a file the mirror lacks is the mirror's failure (exit 3), as over HTTP."""
    try:
        return textfile.open_binary(path)
    except InputError as error:
        raise SourceError(location, error.problem) from None
