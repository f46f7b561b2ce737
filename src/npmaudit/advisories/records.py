"""Reading raw OSV records from every file shape people keep them in.

Accepted: a JSON array of records (the seed's ``compromised_packages.json``), an object with a
``vulns`` or ``advisories`` list (an OSV API answer), a single record, JSON Lines, any of these
gzipped, and a directory tree of ``.json`` records (a checkout of ossf/malicious-packages).
Anything else is an :class:`InputError` naming the file and, where known, the line: a database we
cannot read must stop the audit, never look like an empty one.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path

from npmaudit import TYPE_CHECKING, textfile
from npmaudit.decompress import gunzip
from npmaudit.errors import InputError
from npmaudit.settings import DEFAULT_MAX_DECOMPRESSED

if TYPE_CHECKING:
    from typing import Any

GZIP_MAGIC = b"\x1f\x8b"
# Python's json parser recurses per nesting level: a few thousand levels exhaust the stack.
NESTED_TOO_DEEPLY = "invalid JSON: nested too deeply"


def read_text(path: Path, max_bytes: int = DEFAULT_MAX_DECOMPRESSED) -> str:
    """The file's text, gunzipped when it is gzip data (whatever its name), at most ``max_bytes`` of it."""
    raw = textfile.read_bytes(path)
    if raw.startswith(GZIP_MAGIC):
        try:
            raw = gunzip(raw, path, max_bytes)
        except (OSError, EOFError, zlib.error) as error:
            raise InputError(path, f"damaged gzip data: {error}") from None
    return textfile.decode(path, raw)


def iter_records(path: Path, max_bytes: int = DEFAULT_MAX_DECOMPRESSED) -> Iterator[dict[str, Any]]:
    """Every raw record in a database file or directory, in file order."""
    if path.is_dir():
        yield from _iter_directory(path, max_bytes)
        return
    yield from records_from_text(path, read_text(path, max_bytes))


def _iter_directory(directory: Path, max_bytes: int) -> Iterator[dict[str, Any]]:
    # Every *.json entry that is not a folder is a record: a broken or looping symbolic link is
    # reported by read_text rather than skipped, so no record goes missing without a word.
    files = sorted(p for p in directory.rglob("*.json") if not p.is_dir() and not _hidden(p, directory))
    if not files:
        # An audit against no record at all would pass everything: most likely the wrong folder.
        raise InputError(directory, "no advisory records here (a directory database holds *.json OSV records)")
    for file in files:
        text = read_text(file, max_bytes)
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(file, f"invalid JSON: {error.msg}", error.lineno) from None
        except RecursionError:
            raise InputError(file, NESTED_TOO_DEEPLY) from None
        if not isinstance(record, dict):
            raise InputError(file, "an advisory file must hold one JSON object")
        yield record


def _hidden(file: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in file.relative_to(root).parts)


def records_from_text(path: Path, text: str) -> list[dict[str, Any]]:
    """Parse the text of a database file of any accepted shape."""
    stripped = text.strip()
    if not stripped:
        raise InputError(path, "empty file: not an advisory database")
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError as error:
        if stripped.startswith("{") and error.msg == "Extra data":
            return _json_lines(path, text)
        raise InputError(path, f"invalid JSON: {error.msg}", _line_of(text, error)) from None
    except RecursionError:
        raise InputError(path, NESTED_TOO_DEEPLY) from None
    return _records_of_document(path, document)


def _line_of(text: str, error: json.JSONDecodeError) -> int:
    leading = text[: len(text) - len(text.lstrip())]
    return error.lineno + leading.count("\n")


def _records_of_document(path: Path, document: Any) -> list[dict[str, Any]]:
    if isinstance(document, list):
        records = document
    elif isinstance(document, dict):
        for key in ("vulns", "advisories"):
            if key in document:
                records = document[key]
                if not isinstance(records, list):
                    raise InputError(path, f"'{key}' must be a list of advisories")
                break
        else:
            if "id" not in document:
                raise InputError(
                    path,
                    "not an advisory database: expected a list of OSV records, an object with "
                    "'vulns' or 'advisories', one OSV record, or JSON Lines",
                )
            records = [document]
    else:
        raise InputError(path, f"not an advisory database: the top level is a {type(document).__name__}")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputError(path, f"advisory #{index + 1} is a {type(record).__name__}, not an object")
    return records


def _json_lines(path: Path, text: str) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(path, f"invalid JSON line: {error.msg}", number) from None
        except RecursionError:
            raise InputError(path, NESTED_TOO_DEEPLY, number) from None
        if not isinstance(record, dict):
            raise InputError(path, "each JSON line must be one advisory object", number)
        records.append(record)
    return records
