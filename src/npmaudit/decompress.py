"""Decompression with a ceiling: a small gzip or zip file must not expand into all the memory there is.

A 4 MB gzip stream can hold 4 GiB of zeros; an advisory database or archive from a stranger is read
through these functions, which stop at ``max_bytes`` of output with a one-line :class:`InputError`
(exit 2) naming the file, instead of ending in a MemoryError. The ceiling is a setting
(``max-decompressed``, in MiB; ``npmaudit.settings.DEFAULT_MAX_DECOMPRESSED``).
"""

from __future__ import annotations

import zlib
from typing import IO

from npmaudit.errors import InputError

CHUNK = 1 << 20


def _too_large(origin: object, max_bytes: int) -> InputError:
    return InputError(
        origin,
        f"decompresses to more than {max_bytes >> 20} MiB (the max-decompressed limit; raise it with "
        "NPMAUDIT_MAX_DECOMPRESSED or `max-decompressed` in .npmaudit.toml if this data is genuine)",
    )


def gunzip(data: bytes, origin: object, max_bytes: int) -> bytes:
    """``gzip.decompress`` that stops at ``max_bytes`` (concatenated members included)."""
    out = bytearray()
    rest = data
    while rest:
        engine = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while True:
            out += engine.decompress(rest, max_bytes + 1 - len(out))
            if len(out) > max_bytes:
                raise _too_large(origin, max_bytes)
            rest = engine.unconsumed_tail
            if engine.eof or not rest:
                break
        if not engine.eof:
            raise zlib.error("compressed data ended before the end-of-stream marker")
        rest = engine.unused_data.lstrip(b"\x00")  # gzip allows padding between members
    return bytes(out)


def read_bounded(stream: IO[bytes], origin: object, max_bytes: int, ceiling: int | None = None) -> bytes:
    """All of a decompressing stream (a zip member, a gzip file), refusing more than ``max_bytes``
    (what is left of the ``ceiling`` that the message names, when several streams share one)."""
    out = bytearray()
    while True:
        chunk = stream.read(min(CHUNK, max_bytes + 1 - len(out)))
        if not chunk:
            return bytes(out)
        out += chunk
        if len(out) > max_bytes:
            raise _too_large(origin, ceiling if ceiling is not None else max_bytes)


class BoundedReader:
    """A binary stream over a decompressing stream that raises once ``max_bytes`` have come out of it."""

    def __init__(self, stream: IO[bytes], origin: object, max_bytes: int) -> None:
        self.stream = stream
        self.origin = origin
        self.max_bytes = max_bytes
        self.count = 0

    def _counted(self, data: bytes) -> bytes:
        self.count += len(data)
        if self.count > self.max_bytes:
            raise _too_large(self.origin, self.max_bytes)
        return data

    def read(self, size: int = -1) -> bytes:
        return self._counted(self.stream.read(size))

    def readline(self, size: int = -1) -> bytes:
        return self._counted(self.stream.readline(size))

    def __iter__(self) -> BoundedReader:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> BoundedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
