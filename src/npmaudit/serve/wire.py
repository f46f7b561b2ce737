"""The ASGI plumbing the endpoints share: reading a bounded body, decoding it, answering JSON.

Every way a request can be wrong ends in :class:`ClientError` (a 4xx with a one-line JSON error),
never in an exception that would reach the server as a 500: a body over the size limit (by its
``Content-Length`` before it is read, or while it streams in, or once a gzip body is inflated), an
unknown ``Content-Encoding``, a body that is not UTF-8 JSON, or JSON nested too deep for Python's
parser.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from npmaudit.records import field, record_class

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_TYPE = "application/json"
GZIP_MAGIC = b"\x1f\x8b"


class ClientError(Exception):
    """A request the server will not answer: ``status`` (4xx) and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Disconnected(Exception):
    """The client went away before its request body was complete."""


@record_class(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: Mapping[str, str] = field(default_factory=dict)


def json_answer(document: Any, status: int = 200) -> Answer:
    return Answer(status, json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def headers_of(scope: Scope) -> dict[str, str]:
    """Request headers, names lower-cased (ASGI gives them so), values decoded as latin-1."""
    found: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        found[raw_name.decode("latin-1").lower()] = raw_value.decode("latin-1")
    return found


async def read_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    """The request body, refused (413) past ``limit`` bytes before more is read."""
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ClientError(400, "invalid Content-Length")
        if int(declared) > limit:
            raise ClientError(413, f"request body of {int(declared):,} bytes is larger than the limit of {limit:,}")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ClientError(413, f"request body larger than the limit of {limit:,} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def decode_body(raw: bytes, headers: Mapping[str, str], limit: int) -> bytes:
    """The body as sent, inflated when ``Content-Encoding: gzip`` (npm gzips its audit payloads)."""
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise ClientError(415, f"unsupported Content-Encoding {encoding!r} (gzip or none)")
    if not raw.startswith(GZIP_MAGIC):
        raise ClientError(400, "Content-Encoding is gzip but the body is not gzip data")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error as error:
        raise ClientError(400, f"the gzip body cannot be decompressed: {error}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise ClientError(413, f"decompressed request body larger than the limit of {limit:,} bytes")
    if not inflater.eof:
        raise ClientError(400, "the gzip body is truncated")
    return data


def parse_json(data: bytes) -> Any:
    """The JSON document of a body; 400 for anything that is not one."""
    if not data.strip():
        raise ClientError(400, "empty request body: a JSON document was expected")
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise ClientError(400, "the request body is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ClientError(400, f"invalid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise ClientError(400, "invalid JSON: nested too deep") from None
    except ValueError as error:  # e.g. a number too long to convert
        raise ClientError(400, f"invalid JSON: {error}") from None


async def send_answer(send: Send, answer: Answer, *, head: bool = False) -> None:
    raw_headers = [
        (b"content-type", answer.content_type.encode("latin-1")),
        (b"content-length", str(len(answer.body)).encode("ascii")),
    ]
    for name, value in answer.headers.items():
        raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": answer.status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": b"" if head else answer.body})
