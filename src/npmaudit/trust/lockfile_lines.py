"""Where each package entry sits in its lockfile's text, so every finding names a line.

The readers keep no positions (``json`` and PyYAML do not give them cheaply), so this is a separate,
read-only pass over the text, one small locator per format. A locator that cannot find an entry
answers None and the finding names the lockfile alone: a missing line never hides a finding.

Yarn berry's ``checksum`` is read here too: the package model keeps no integrity for berry entries.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable

from npmaudit.project.model import Node, Project
from npmaudit.records import field, record_class

# A lockfile field as each format spells it, by the model's name for it.
_FIELD_NAMES = {
    "resolved": ('"resolved"', "resolved", "resolution:", '"tarball"', "tarball:"),
    "integrity": ('"integrity"', "integrity", "checksum:", '"sha512-'),
    "version": ('"version"', "version"),
}


@record_class
class LineIndex:
    text: str
    starts: dict[str, int] = field(default_factory=dict)  # location -> offset of the entry
    berry_checksums: dict[tuple[str, str], str] = field(default_factory=dict)
    berry_conditional: set[tuple[str, str]] = field(default_factory=set)
    """Berry entries restricted to other platforms (``conditions:``): yarn fetches them, and records
    their checksum, only on a matching machine."""
    _newlines: list[int] = field(default_factory=list)
    _sorted_starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._newlines = [m.start() for m in re.finditer("\n", self.text)]

    def line_at(self, offset: int) -> int:
        return bisect_right(self._newlines, offset - 1) + 1

    def entry_line(self, node: Node) -> int | None:
        offset = self.starts.get(node.location)
        return self.line_at(offset) if offset is not None else None

    def field_line(self, node: Node, name: str) -> int | None:
        """The line of the entry's ``name`` field (resolved, integrity, version), else the entry's line."""
        start = self.starts.get(node.location)
        if start is None:
            return None
        if not self._sorted_starts:
            self._sorted_starts = sorted(set(self.starts.values()))
        following = [s for s in self._sorted_starts[bisect_right(self._sorted_starts, start) :][:1]]
        end = following[0] if following else len(self.text)
        best: int | None = None
        for spelling in _FIELD_NAMES.get(name, ()):
            found = self.text.find(spelling, start + 1, end)
            if found >= 0 and (best is None or found < best):
                best = found
        return self.line_at(best if best is not None else start)


def index_lockfile(project: Project, text: str) -> LineIndex:
    index = LineIndex(text)
    kind = project.lockfile_format
    nodes = [node for node in project.packages()]
    if kind.startswith(("package-lock", "npm-shrinkwrap", "hidden-lockfile")):
        _npm(index, nodes)
    elif kind.startswith("yarn"):
        _yarn(index, nodes, berry=kind.startswith("yarn-berry"))
    elif kind.startswith("pnpm"):
        _pnpm(index, nodes)
    elif kind.startswith("bun"):
        _search(index, nodes, lambda n: (f'["{n.name}@{n.version}"', f'"{n.install_name or n.name}": ['))
    elif kind == "npm-ex":
        _search(index, nodes, lambda n: (json.dumps(n.install_name or n.name) + ": {", json.dumps(n.name) + ": {"))
    return index


def _npm(index: LineIndex, nodes: Iterable[Node]) -> None:
    text = index.text
    objects: dict[tuple[str, ...], int] | None = None
    packages_at = text.find('"packages"')
    for node in nodes:
        if packages_at >= 0:
            found = text.find(json.dumps(node.location) + ":", packages_at)
            if found < 0:
                found = _key(text, json.dumps(node.location), packages_at)
            if found >= 0:
                index.starts[node.location] = found
                continue
        # lockfile v1: nested "dependencies" objects, one key per folder name
        if objects is None:
            objects = _object_paths(text)
        path = tuple(part for segment in _segments(node.location) for part in ("dependencies", segment))
        if path in objects:
            index.starts[node.location] = objects[path]


_JSON_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:)?|[{}\[\]]')


def _object_paths(text: str) -> dict[tuple[str, ...], int]:
    """Offset of every JSON object value's key, by key path (``("dependencies", "a")``): one scan of the
    text, since json keeps no positions."""
    found: dict[tuple[str, ...], int] = {}
    stack: list[str | None] = []  # the key of each open container (None for arrays and the top)
    pending: tuple[str, int] | None = None
    for token in _JSON_TOKEN.finditer(text):
        char = token.group(0)[0]
        if char == '"':
            pending = (json.loads(f'"{token.group(1)}"'), token.start()) if token.group(2) else None
        elif char in "{[":
            key = pending[0] if pending is not None else None
            if char == "{" and pending is not None and None not in stack[1:]:
                found[(*tuple(k for k in stack[1:] if k is not None), pending[0])] = pending[1]
            stack.append(key)
            pending = None
        else:
            if stack:
                stack.pop()
            pending = None
    return found


def _segments(location: str) -> list[str]:
    parts = location.split("/node_modules/")
    parts[0] = parts[0].removeprefix("node_modules/")
    return parts


def _key(text: str, quoted: str, after: int) -> int:
    match = re.compile(re.escape(quoted) + r"\s*:").search(text, after)
    return match.start() if match else -1


_YARN_HEADER = re.compile(r'^(?![ #])("?)(.+?):\s*$', re.MULTILINE)
_YARN_VERSION = re.compile(r'^ {2}version:? "?([^"\s]+)"?\s*$', re.MULTILINE)
_YARN_CHECKSUM = re.compile(r"^ {2}checksum: ([^\s]+)\s*$", re.MULTILINE)
_BERRY_RESOLUTION = re.compile(r'^ {2}resolution: "?(.+?)"?\s*$', re.MULTILINE)


def _yarn(index: LineIndex, nodes: Iterable[Node], berry: bool) -> None:
    text = index.text
    headers = list(_YARN_HEADER.finditer(text))
    by_key: dict[tuple[str, str], int] = {}
    for i, header in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        version = _YARN_VERSION.search(text, header.end(), end)
        if version is None:
            continue
        keys = []
        for descriptor in header.group(2).split(","):
            name = _descriptor_name(descriptor.strip().strip('"'))
            if name:
                keys.append((name, version.group(1)))
        if berry:
            resolution = _BERRY_RESOLUTION.search(text, header.end(), end)
            if resolution is not None and "@npm:" in resolution.group(1):
                name, _, resolved_version = resolution.group(1).rpartition("@npm:")
                keys.append((name, resolved_version))
            checksum = _YARN_CHECKSUM.search(text, header.end(), end)
            if text.find("\n  conditions:", header.end(), end) >= 0:
                index.berry_conditional.update(keys)
            for key in keys:
                if checksum:
                    index.berry_checksums.setdefault(key, checksum.group(1))
        for key in keys:
            by_key.setdefault(key, header.start())
    for node in nodes:
        for name in (node.install_name or node.name, node.name):
            offset = by_key.get((name, node.version))
            if offset is not None:
                index.starts[node.location] = offset
                break


def _descriptor_name(descriptor: str) -> str:
    at = descriptor.find("@", 1)
    return descriptor[:at] if at > 0 else ""


_PNPM_KEY = re.compile(r"""^ {2}['"]?(/?[^\s'":]+?)['"]?:\s*$""", re.MULTILINE)


def _pnpm(index: LineIndex, nodes: Iterable[Node]) -> None:
    """Package keys are ``/name/1.0.0`` (v5), ``/name@1.0.0`` (v6) or ``name@1.0.0`` (v9), with peer
    suffixes (``_peer@1``, ``(peer@1)``); one scan of the ``packages:`` section indexes them."""
    text = index.text
    start = text.find("\npackages:")
    if start < 0:
        return
    end = text.find("\nsnapshots:", start)
    by_key: dict[tuple[str, str], int] = {}
    for match in _PNPM_KEY.finditer(text, start, end if end > 0 else len(text)):
        parsed = _pnpm_key(match.group(1))
        if parsed is not None:
            by_key.setdefault(parsed, match.start())
    for node in nodes:
        offset = by_key.get((node.name, node.version))
        if offset is not None:
            index.starts[node.location] = offset


def _pnpm_key(key: str) -> tuple[str, str] | None:
    key = key.lstrip("/").split("(", 1)[0]
    at = key.find("@", 1)
    if at > 0 and "/" not in key[at:]:
        name, version = key[:at], key[at + 1 :]
    else:
        name, _, version = key.rpartition("/")
    version = version.split("_", 1)[0]
    return (name, version) if name and version else None


def _search(index: LineIndex, nodes: Iterable[Node], needles: Callable[[Node], tuple[str, ...]]) -> None:
    for node in nodes:
        for needle in needles(node):
            found = index.text.find(needle)
            if found >= 0:
                index.starts[node.location] = found
                break
