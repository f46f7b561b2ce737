"""A fast reader for the YAML that pnpm and yarn berry write into their lockfiles.

PyYAML's loader (even libyaml's) costs more than everything else a YAML lockfile audit does. Both
package managers write a small, regular subset of YAML: block mappings indented with spaces, keys
plain or quoted, scalars on one line (plain, ``'single'`` or ``"double"`` without escapes), block
sequences of scalars (pnpm's ``transitivePeerDependencies``), and one-line flow collections of
scalars (pnpm's ``resolution: {integrity: ...}``, ``engines: {node: '>=18'}``, ``cpu: [x64]``,
``specifiers: {}``). This module reads exactly that subset, line by line, into the same data as
PyYAML's ``BaseLoader`` (every scalar a string, an empty value ``""``, a repeated key's last value
winning at its first position).

Anything outside the subset makes :func:`load_documents` return None, and the caller loads the text
with PyYAML instead: multi-line scalars, escapes, anchors and aliases (``&``/``*``, refused by the
PyYAML path), tags, block scalars, nested flow collections, tabs, odd indentation, complex keys,
comments after content, any character YAML forbids. So the fast path never has to reproduce an
error message or a corner of YAML: every malformed or unusual file takes PyYAML's path and gets
PyYAML's answer (tests/test_lockfile_yaml.py compares both on every lockfile of the test corpus
and on mutations of them).
"""

from __future__ import annotations

from npmaudit import TYPE_CHECKING
from npmaudit.lazy_pattern import LazyPattern

if TYPE_CHECKING:
    from typing import Any

    _Said = tuple[int, int, str, Any]  # what _line returns

# Characters YAML does not allow in a stream (PyYAML's Reader refuses them), a BOM, tabs, and line
# breaks other than "\n": any of them sends the whole text to PyYAML. This and the flow patterns are
# compiled on first use (a few ms at import): an ASCII pnpm or berry lockfile may need none of them.
_UNUSUAL = LazyPattern("[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
# The same test for an ASCII text (nearly every lockfile), made by bytes.translate: a tenth of the
# regex's cost, which was a sixth of the whole read. What is left after deleting these is unusual.
_USUAL_ASCII = b"\n" + bytes(range(0x20, 0x7F))

# A plain scalar may not start with an indicator; "-", "?" and ":" may start one when a non-space
# follows ("-1", ":x"), but no lockfile needs that, so they are left to PyYAML too.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")

# One entry of a one-line flow collection: a quoted scalar (no escapes) or a plain one made of
# characters no YAML processor reads differently inside a flow ("a b", "^1 || >=2", "https://x"),
# followed by the separator. ":" inside a plain flow scalar only when a character other than a
# space, an indicator or the end follows (PyYAML and libyaml disagree on the rest).
_FLOW_SCALAR = (
    r"""(?:'(?:[^']|'')*'|"[^"\\]*"|"""
    r"""[^\s'"{}\[\],#&*!|>%@`?:-](?:[^{}\[\],:?#\s]|:(?=[^\s{}\[\],?:])|[ ](?=[^\s#:])|(?<=\S)\#)*)"""
)
# The flow mapping pnpm writes for nearly every package, ``{integrity: sha512-...}`` or
# ``{node: '>=18'}``: one pair, a plain key ([A-Za-z][A-Za-z0-9_-]{0,64}), a value single-quoted
# without quotes inside or plain from characters that mean nothing in a flow
# ([A-Za-z0-9_.+/=][A-Za-z0-9_.+/=-]*). Read by _one_pair; every other flow takes the loop. The
# character sets are for bytes.translate: an ASCII text made only of them translates to b"".
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_KEY_BYTES = (_LETTERS + "0123456789_-").encode("ascii")
_PLAIN_BYTES = (_LETTERS + "0123456789_.+/=-").encode("ascii")
_FLOW_ITEM = LazyPattern(rf"[ ]*({_FLOW_SCALAR})[ ]*(,|$)")
_FLOW_PAIR = LazyPattern(rf"[ ]*({_FLOW_SCALAR}):[ ]+({_FLOW_SCALAR})[ ]*(,|$)")

# PyYAML and libyaml refuse an implicit key whose ':' is more than 1024 characters after its start
# (quotes included); a file with a key near that is left to them.
_MAX_KEY = 1020
# Nesting deeper than any lockfile: left to PyYAML, which says "nested too deeply" in its own way.
_MAX_DEPTH = 64
_NO_LIMIT = 1 << 30


class _Unsupported(Exception):
    """The text leaves the subset: the caller loads it with PyYAML."""


def load_documents(text: str, *, single: bool = False) -> list[dict[str, Any]] | None:
    """The text's YAML documents (each a mapping), or None when the text is outside the subset.

    ``---`` alone on a line separates documents (pnpm 11 writes two); with ``single`` a separator
    is outside the subset (yarn berry writes one document and PyYAML refuses more).
    """
    if "\r" in text:
        if "\r" in text.replace("\r\n", ""):
            return None
        text = text.replace("\r\n", "\n")
    if text.isascii():
        if text.encode("ascii").translate(None, _USUAL_ASCII):
            return None
    elif _UNUSUAL.search(text) is not None:
        return None
    try:
        return _Parser(text, single=single).documents()
    except _Unsupported:
        return None


def base_loader() -> Any:
    """PyYAML's base loader (libyaml's when PyYAML was built with it: several times faster).

    PyYAML is imported here, by the readers' fallback paths only: a lockfile the fast path reads
    never pays for the import (a tenth of a pnpm audit in a fresh process)."""
    import yaml

    return getattr(yaml, "CBaseLoader", yaml.BaseLoader)


def _unquote_single(value: str) -> str:
    return value[1:-1].replace("''", "'")


def _flow_scalar(token: str) -> str:
    first = token[0]
    if first == "'":
        return _unquote_single(token)
    if first == '"':
        return token[1:-1]
    return token


def _flow(value: str) -> dict[str, str] | list[str]:
    """A one-line flow mapping or sequence of scalars (``value`` starts with ``{`` or ``[``)."""
    one_pair = _one_pair(value) if value[0] == "{" else None
    if one_pair is not None:
        return one_pair
    closing = "}" if value[0] == "{" else "]"
    if value[-1] != closing:
        raise _Unsupported  # continued on the next line, or followed by something
    inner = value[1:-1]
    if value[0] == "{":
        mapping: dict[str, str] = {}
        if not inner.strip(" "):
            return mapping
        position, end = 0, len(inner)
        while position < end:
            match = _FLOW_PAIR.match(inner, position)
            if match is None or (match.group(3) == "," and match.end() == end) or len(match.group(1)) > _MAX_KEY:
                raise _Unsupported  # not a pair of scalars, a trailing comma, a key PyYAML refuses
            mapping[_flow_scalar(match.group(1))] = _flow_scalar(match.group(2))
            position = match.end()
        return mapping
    items: list[str] = []
    if not inner.strip(" "):
        return items
    position, end = 0, len(inner)
    while position < end:
        match = _FLOW_ITEM.match(inner, position)
        if match is None or (match.group(2) == "," and match.end() == end):
            raise _Unsupported
        items.append(_flow_scalar(match.group(1)))
        position = match.end()
    return items


def _one_pair(flow: str) -> dict[str, str] | None:
    """The mapping of a one-pair flow (pnpm's ``{integrity: sha512-...}``, ``{node: '>=18'}``), read
    with string methods (a regex walked the 90 characters of every integrity one by one); None for
    any other text, which the caller reads the general way."""
    colon = flow.find(": ")
    if colon < 2 or colon > 66 or flow[-1] != "}":
        return None
    key = flow[1:colon]
    value = flow[colon + 2 : -1]
    if not value:
        return None
    if key != "integrity" and (key[0] not in _LETTERS or not key.isascii() or key.encode().translate(None, _KEY_BYTES)):
        return None
    if value[0] == "'":
        if len(value) < 2 or value[-1] != "'" or "'" in value[1:-1]:
            return None
        return {key: value[1:-1]}
    if value[0] == "-" or not value.isascii() or value.encode().translate(None, _PLAIN_BYTES):
        return None
    return {key: value}


def _value(rest: str) -> Any:
    """A scalar or flow collection written after ``key: `` or ``- `` (``rest`` is stripped, not empty)."""
    first = rest[0]
    if first == '"':
        if len(rest) < 2 or rest[-1] != '"' or rest.find('"', 1) != len(rest) - 1 or "\\" in rest:
            raise _Unsupported  # an escape, or text after the closing quote, or a multi-line string
        return rest[1:-1]
    if first == "'":
        if len(rest) < 2 or rest[-1] != "'" or "'" in rest[1:-1].replace("''", ""):
            raise _Unsupported
        return _unquote_single(rest)
    if first == "{" or first == "[":
        return _flow(rest)
    if first in _INDICATORS or ": " in rest or " #" in rest or rest[-1] == ":":
        raise _Unsupported
    return rest


def _key(content: str) -> tuple[str, str]:
    """(key, what follows ``key:`` stripped) of a block mapping entry."""
    first = content[0]
    if first == '"' or first == "'":
        if first == '"':
            close = content.find('"', 1)
            key = content[1:close] if close > 0 else "\\"
        else:
            close = 1
            while True:
                close = content.find("'", close)
                if close < 0 or content[close + 1 : close + 2] != "'":
                    break
                close += 2
            key = content[1:close].replace("''", "'") if close > 0 else "\\"
        if ("\\" in key and first == '"') or close < 0:
            raise _Unsupported
        after = content[close + 1 :]
        if after == ":":
            return key, ""
        if after[:2] != ": ":
            raise _Unsupported
        return key, after[2:].strip(" ")
    colon = content.find(": ")
    if colon < 0:
        if content[-1] != ":":
            raise _Unsupported  # a scalar where an entry should be
        key, rest = content[:-1], ""
    else:
        key, rest = content[:colon], content[colon + 2 :].strip(" ")
    if not key or first in _INDICATORS or key[-1] == " " or " #" in key:
        raise _Unsupported
    return key, rest


# What one line says, whatever surrounds it: (indent, kind, key, value). Kinds: a comment or a
# line of spaces; an entry with a scalar (value: the string); an entry opening a block (value
# None); an entry with a flow collection (value: the collection of strings, copied where the line
# is placed, so that no two entries share one mutable collection); a sequence item with a scalar;
# one with a flow collection.
_SKIP, _SCALAR, _OPENS, _FLOW, _ITEM, _ITEM_FLOW = -1, 0, 1, 2, 3, 4
_SKIPPED: _Said = (0, _SKIP, "", None)


def _line(line: str) -> _Said:
    """What a non-empty line says, or _Unsupported when no context would make it part of the subset.

    A line can also be refused by where it stands (indentation, an item among entries): that is
    for the caller, which sees the lines around it."""
    content = line.lstrip(" ")
    if not content or content[0] == "#":
        return _SKIPPED
    indent = len(line) - len(content)
    if content[-1] == " ":
        content = content.rstrip(" ")
    first = content[0]
    if first not in _INDICATORS:
        # A plain key (the commonest line): read first; its value is read below, as a quoted key's is.
        # What precedes the value (key, colon, spaces) is measured only when it can be too long.
        key, colon, rest = content.partition(": ")
        if not colon:
            if content[-1] != ":":
                raise _Unsupported  # a scalar where an entry should be
            key = content[:-1]
            if len(content) > _MAX_KEY or key[-1] == " " or " #" in key:
                raise _Unsupported
            return indent, _OPENS, key, None
        # The text after ": " ends with a character other than a space (stripped above): never empty.
        if rest[0] == " ":
            rest = rest.lstrip(" ")
            if len(content) - len(rest) > _MAX_KEY:
                raise _Unsupported
        elif len(key) + 2 > _MAX_KEY:
            raise _Unsupported
        if key[-1] == " " or " #" in key:
            raise _Unsupported
    elif first == "-" and (len(content) == 1 or content[1] == " "):
        rest = content[2:].lstrip(" ")
        if not rest:
            raise _Unsupported  # "-" alone: a nested block item
        value = _value(rest)
        return indent, _ITEM if value.__class__ is str else _ITEM_FLOW, "", value
    elif first == "'" or first == '"':
        # A quoted key (pnpm's '@scope/name@1.0.0', berry's "name@npm:^1"), read inline when nothing
        # is inside its quotes that _key would have to look at: the same result.
        close = content.find(first, 1)
        if close == len(content) - 2 and content[-1] == ":" and (first == "'" or "\\" not in content):
            # The usual entry key, opening its block: what the general reading below would say.
            if close + 2 > _MAX_KEY:
                raise _Unsupported
            return indent, _OPENS, content[1:close], None
        key = content[1:close]
        after = content[close + 1 : close + 3]
        if close < 0 or (first == '"' and "\\" in key) or (after != ": " and content[close + 1 :] != ":"):
            key, rest = _key(content)  # a doubled quote, an escape, or not an entry: _key decides
        else:
            rest = content[close + 3 :].lstrip(" ") if after == ": " else ""
        if len(content) - len(rest) > _MAX_KEY:
            raise _Unsupported  # the key with its quotes, colon and spaces
    else:
        raise _Unsupported  # no plain key starts with an indicator
    if not rest:
        return indent, _OPENS, key, None
    first = rest[0]
    if first == '"' and rest.find('"', 1) == len(rest) - 1 and "\\" not in rest:
        return indent, _SCALAR, key, rest[1:-1]  # yarn berry's usual value, as _value reads it
    if first in _INDICATORS:
        if first == "{":
            if rest == "{}":  # pnpm 9's package without metadata, ``name@1.0.0: {}``
                return indent, _FLOW, key, {}
            value = _one_pair(rest)
            if value is not None:
                return indent, _FLOW, key, value
        value = _value(rest)
        return indent, _SCALAR if value.__class__ is str else _FLOW, key, value
    if ": " in rest or " #" in rest or rest[-1] == ":":
        raise _Unsupported
    return indent, _SCALAR, key, rest


class _Parser:
    def __init__(self, text: str, *, single: bool) -> None:
        self.lines = text.split("\n")
        self.single = single
        # Whether some line starts with "---" or "...": only then are the lines searched for one.
        self.markers = text.startswith(("---", "...")) or "\n---" in text or "\n..." in text

    def documents(self) -> list[dict[str, Any]]:
        parts: list[tuple[int, int]] = []
        start = 0
        for number, line in enumerate(self.lines if self.markers else ()):
            if line.startswith(("---", "...")):
                if line != "---" or self.single:
                    raise _Unsupported
                parts.append((start, number))
                start = number + 1
        parts.append((start, len(self.lines)))
        documents = []
        for index, (first, stop) in enumerate(parts):
            # Only comments may stand before the first "---"; any other empty document is PyYAML's.
            document = self._document(first, stop, required=index > 0)
            if document is not None:
                documents.append(document)
        if not documents:
            raise _Unsupported
        return documents

    def _document(self, start: int, stop: int, *, required: bool) -> dict[str, Any] | None:
        """One block mapping at column 0 from lines[start:stop]; None for a part with only comments
        before the first ``---`` (any other empty document is left to PyYAML).

        The loop is the whole cost of the module. What a line says on its own (indent, key, value)
        depends on its text alone, and half the lines of a lockfile repeat one before them
        (``  languageName: node``, ``      react: 19.2.5``): each distinct line is read once by
        :func:`_line`, and this loop only places what it says into the open containers."""
        root: dict[str, Any] = {}
        # Open containers, innermost last: (indent, container, is_sequence).
        stack: list[tuple[int, Any, bool]] = [(0, root, False)]
        top_indent, is_sequence = 0, False
        container: Any = root
        pending: str | None = None  # a "key:" of the innermost mapping, waiting for its block
        pending_indent = 0
        scalar_limit = _NO_LIMIT  # after a scalar entry, no line may be indented deeper than it
        # Blank lines (pnpm and berry put one between entries) say nothing; each distinct other line
        # is read once, and the loop takes what each line says from that table.
        lines = list(filter(None, self.lines[start:stop]))
        said = {line: _line(line) for line in dict.fromkeys(lines)}
        for indent, kind, key, value in map(said.__getitem__, lines):
            if kind == _SCALAR and indent == top_indent and pending is None and not is_sequence:
                # The usual line: one more entry of the open mapping. None of the tests below can
                # apply to it (scalar_limit is never below top_indent, so it cannot be exceeded).
                container[key] = value
                scalar_limit = indent
                continue
            if kind == _SKIP:
                continue
            if indent > scalar_limit:
                raise _Unsupported  # a scalar continued on the next line
            is_item = kind >= _ITEM
            if pending is not None:
                if indent > pending_indent or (is_item and indent == pending_indent):
                    if len(stack) > _MAX_DEPTH:
                        raise _Unsupported
                    child: Any = [] if is_item else {}
                    container[pending] = child
                    top_indent, container, is_sequence = indent, child, is_item
                    stack.append((indent, child, is_item))
                else:
                    container[pending] = ""
                pending = None
            if indent != top_indent or (is_sequence and not is_item):
                while indent < top_indent or (is_sequence and indent == top_indent and not is_item):
                    if is_sequence and indent == top_indent and stack[-2][0] != indent:
                        raise _Unsupported  # a sequence's own indent left by a non-item line
                    stack.pop()
                    top_indent, container, is_sequence = stack[-1]
                if indent != top_indent:
                    raise _Unsupported
            if kind == _SCALAR:  # after the loop above, an entry's container is a mapping
                container[key] = value
                scalar_limit = indent
            elif kind == _OPENS:
                pending, pending_indent = key, indent
                scalar_limit = _NO_LIMIT
            elif is_item:
                if not is_sequence:
                    raise _Unsupported  # a sequence where the mapping's entries are
                container.append(value if kind == _ITEM else value.copy())
                scalar_limit = indent
            else:  # a flow collection of strings: copied for every line, so no two entries share one
                container[key] = value.copy()
                scalar_limit = indent
        if pending is not None:
            container[pending] = ""
        # The first line that is not a comment puts an entry into the root (or the text is refused).
        if not root:
            if required:
                raise _Unsupported
            return None
        return root
