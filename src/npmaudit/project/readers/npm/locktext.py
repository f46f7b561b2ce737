"""Parse an npm lockfile's JSON and turn what is wrong with it into InputErrors with a line number.

Python's json module does not keep positions, so a problem found after parsing is located by
searching the text for the offending key; that is only done when an error is raised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from npmaudit import TYPE_CHECKING, textfile
from npmaudit.errors import InputError
from npmaudit.lazy_pattern import LazyPattern
from npmaudit.records import record_class

if TYPE_CHECKING:
    from typing import Any

_CONFLICT = LazyPattern(r"^(?:<{7}|>{7})(?: |$)", re.MULTILINE)


@record_class(frozen=True)
class LockText:
    path: Path
    text: str

    def error(self, problem: str, key: str | None = None, after: int = 0) -> InputError:
        """An InputError for ``problem``, at the line of ``"key":`` (searched from offset ``after``)."""
        line = None
        if key is not None:
            position = self.find_key(key, after)
            if position >= 0:
                line = self.text.count("\n", 0, position) + 1
        return InputError(self.path, problem, line)

    def find_key(self, key: str, after: int = 0) -> int:
        """Offset of ``"key"`` used as an object key at or after ``after``, or -1."""
        pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
        match = pattern.search(self.text, after)
        return match.start() if match else -1


def load_json(path: Path) -> tuple[LockText, Any]:
    """Read and parse ``path``; every failure is an InputError naming the file (and line)."""
    text = textfile.read_text(path, "lockfile")
    source = LockText(path, text)
    if not text.strip():
        raise InputError(path, "empty file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        conflict = _CONFLICT.search(text)
        if conflict:
            line = text.count("\n", 0, conflict.start()) + 1
            raise InputError(path, "unresolved git merge conflict markers", line) from None
        end = len(text.rstrip())
        # json only reports an unterminated string when it met the end of the file first (a
        # newline inside a string is an "invalid control character" error instead).
        if error.pos >= end or error.msg.startswith("Unterminated string"):
            last_line = text.count("\n", 0, end) + 1
            raise InputError(path, "truncated JSON: the file ends before the document does", last_line) from None
        raise InputError(path, f"malformed JSON: {error.msg}", error.lineno) from None
    except RecursionError:
        raise InputError(path, "JSON nested too deeply") from None
    return source, data


DEP_FIELDS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")


def load_manifest(path: Path) -> tuple[LockText, dict[str, Any]]:
    """A package.json as npm's readers need it: an object whose name and version are strings and
    whose dependency groups map names to strings (each error at the offending field's line)."""
    source, data = load_json(path)
    if not isinstance(data, dict):
        raise InputError(path, f"the top level must be a JSON object, not {json_type(data)}", 1)
    label = "package.json"
    string_field(source, data, "name", label, "name")
    string_field(source, data, "version", label, "version")
    for field in DEP_FIELDS:
        spec_map(source, data, field, label, field)
    return source, data


# In these checks ``key`` names the entry in the message and ``anchor`` is the JSON key whose line
# the error points at (the entry's own key unless given).


def object_field(
    source: LockText, owner: Mapping[str, Any], field: str, key: str | None = None, anchor: str | None = None
) -> dict[str, Any]:
    """``owner[field]`` as an object (absent or null -> {}), or an InputError."""
    value = owner.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        owner_label = "" if key is None else f" of {label(key)}"
        raise source.error(f'"{field}"{owner_label} must be an object, not {json_type(value)}', anchor or key or field)
    return value


def string_field(
    source: LockText, owner: Mapping[str, Any], field: str, key: str, anchor: str | None = None
) -> str | None:
    value = owner.get(field)
    if value is None or isinstance(value, str):
        return value
    raise source.error(f'"{field}" of {label(key)} must be a string, not {json_type(value)}', anchor or key)


def spec_map(
    source: LockText, owner: Mapping[str, Any], field: str, key: str, anchor: str | None = None
) -> dict[str, str]:
    """A dependency map (``{"name": "spec"}``) of entry ``key``, checked."""
    value = object_field(source, owner, field, key, anchor)
    for name, spec in value.items():
        if not isinstance(spec, str):
            raise source.error(
                f'"{field}.{name}" of {label(key)} must be a string, not {json_type(spec)}', anchor or key
            )
    return value


def label(key: str) -> str:
    """How a package entry is named in messages."""
    return "the root entry" if key == "" else f'"{key}"'


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
