"""``json.dumps(value, indent=2, ensure_ascii=False)``, the same text written faster.

The standard library's compiled encoder ignores ``indent``: an indented document goes through its
pure-Python encoder, a generator that yields every token on its own. This writer walks the value
once, appends whole lines, and joins a list of strings (a path, a chain) in one go, with the
standard library's own string writer (``json.encoder.encode_basestring``, compiled) and its rules for
every other value (numbers by ``int.__repr__`` / ``float.__repr__``, ``NaN`` and ``Infinity``, keys
that are numbers, booleans or null). A value it does not write as the standard library would (any
other type, a reference cycle, nesting beyond the recursion limit) makes :func:`indented` return
None: the caller then asks the standard library, whose text or error stands.
tests/test_report_json_encoder.py checks the two agree on every report of the corpus, on every code
point and on a sweep of numbers.
"""

from __future__ import annotations

from json.encoder import encode_basestring

from npmaudit import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

_float_repr = float.__repr__
_int_repr = int.__repr__
_INFINITY = float("inf")


class _NotPlain(Exception):
    """A value the standard library writes through ``default`` or refuses: it decides."""


def indented(value: Any) -> str | None:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, or None when the standard library must write it."""
    out: list[str] = []
    try:
        _write(value, "", out)
    except (_NotPlain, RecursionError):
        return None
    return "".join(out)


def _float_text(number: float) -> str:
    if number != number:
        return "NaN"
    if number == _INFINITY:
        return "Infinity"
    if number == -_INFINITY:
        return "-Infinity"
    return _float_repr(number)


def _key_text(key: object) -> str:
    """A dict key as the standard library writes it (before quoting)."""
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float_text(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return _int_repr(key)
    raise _NotPlain


def _leaf(value: object) -> str | None:
    """The text of a value that is not a container, in the standard library's order of checks;
    None for a list, tuple or dict."""
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return _int_repr(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, list | tuple | dict):
        return None
    raise _NotPlain


def _write(value: Any, indent: str, out: list[str]) -> None:
    leaf = _leaf(value)
    if leaf is not None:
        out.append(leaf)
    elif not value:
        out.append("{}" if isinstance(value, dict) else "[]")
    elif isinstance(value, dict):
        inner = indent + "  "
        separator = "{\n" + inner
        for key, item in value.items():
            out.append(separator + encode_basestring(_key_text(key)) + ": ")
            separator = ",\n" + inner
            text = _leaf(item)
            if text is None:
                _write(item, inner, out)
            else:
                out.append(text)
        out.append("\n" + indent + "}")
    else:
        inner = indent + "  "
        separator = ",\n" + inner
        if all(type(item) is str for item in value):  # a path, a chain, a list of ids: one join
            out.append("[\n" + inner + separator.join(map(encode_basestring, value)) + "\n" + indent + "]")
            return
        out.append("[\n" + inner)
        first = True
        for item in value:
            if not first:
                out.append(separator)
            first = False
            text = _leaf(item)
            if text is None:
                _write(item, inner, out)
            else:
                out.append(text)
        out.append("\n" + indent + "]")
