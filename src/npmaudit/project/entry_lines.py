"""Where each package's entry starts in its lockfile: the line a CI annotation points at.

The readers parse lockfiles into the package model and keep no line numbers (most go through a JSON or
YAML parser that has none). Reports that need a location (SARIF, workflow annotations, JUnit) ask for it
as an analysis of their format; only then is the lockfile text scanned once more, here, with one
light line scan per format that recognises entry keys and nothing else. A run whose formats need no
location never pays for it.

What an entry's key is, per format:

- npm lockfiles v2/v3 and the hidden lockfile: ``"packages"`` keys are the node's location;
- npm lockfile v1: nested ``"dependencies"`` objects, one level per ``node_modules/`` segment;
- npm_ex's ``npm.lock``: ``"packages"`` keys are package names;
- bun.lock: a one-line ``"key": ["name@version", ...]`` entry;
- yarn v1 and berry: a header line (``"a@^1", "a@^1.2":``) followed by the entry's ``version``;
- pnpm 5/6/9: the keys of the ``packages:`` section (``/a/1.0.0``, ``/a@1.0.0(peer)``, ``a@1.0.0``);
- an installed ``node_modules`` tree: the package's own ``package.json``.

Formats without install paths (yarn, pnpm, bun, npm_ex) give each distinct name@version one entry, so
a node is found by its name and version there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from npmaudit.project.model import Node, Project
from npmaudit.records import record_class
from npmaudit.textfile import read_text


@record_class(frozen=True, slots=True)
class EntryPlace:
    """A package's entry: the file (the lockfile, or a package.json in node_modules) and its 1-based line."""

    file: Path
    line: int


def entry_places(project: Project, locations: Iterable[str]) -> dict[str, EntryPlace]:
    """The entry of each node at ``locations``; a node whose entry cannot be found is left out."""
    wanted = [project.nodes[location] for location in dict.fromkeys(locations) if location in project.nodes]
    if not wanted:
        return {}
    kind = project.lockfile_format
    if kind == "node-modules":
        return _installed_manifests(project, wanted)
    text = read_text(project.lockfile, "lockfile")
    if kind.startswith(("package-lock-v1", "npm-shrinkwrap-v1")):
        paths = _json_object_keys(text)
        return _places(project, wanted, lambda node: paths.get(_v1_key_path(node.location)))
    if kind.startswith(("package-lock-", "npm-shrinkwrap-", "hidden-lockfile")):
        keys = _installed_keys(text)
        return _places(project, wanted, lambda node: keys.get(node.location))
    if kind == "npm-ex":
        paths = _json_object_keys(text)
        return _places(project, wanted, lambda node: paths.get(("packages", node.install_name or node.name)))
    scanners = {"bun": _bun_entries, "yarn-v1": _yarn_classic_entries, "yarn-berry": _yarn_berry_entries}
    scanner = next((scan for prefix, scan in scanners.items() if kind.startswith(prefix)), None)
    if scanner is None and kind.startswith("pnpm-v"):
        scanner = _pnpm_v5_entries if kind == "pnpm-v5" else _pnpm_entries
    if scanner is None:
        return {}
    by_name = scanner(text)
    return _places(project, wanted, lambda node: by_name.get((node.name, node.version)))


def _places(project: Project, nodes: list[Node], line_of: Callable[[Node], int | None]) -> dict[str, EntryPlace]:
    places = {}
    for node in nodes:
        line = line_of(node)
        if line is not None:
            places[node.location] = EntryPlace(project.lockfile, line)
    return places


# -- JSON lockfiles: keys whose value is an object, by their path of keys

# Every pattern here starts with the newline before the line it matches: the regex engine then jumps
# from newline to newline (a Python loop over the lines of a 2 MB lockfile, or a `^` tried at every
# character, would cost as much as the audit). `_lines_of` puts a newline before the first line.
# A line opening an object under a key:
_OBJECT_KEY = re.compile(r'\n([ \t]*)"((?:[^"\\\n]|\\.)*)"[ \t]*:[ \t]*\{')


def _lines_of(pattern: re.Pattern[str], text: str) -> Iterator[tuple[int, re.Match[str]]]:
    """Each match of ``pattern`` (which starts with a newline) with the 1-based line it matched on."""
    padded = "\n" + text
    line, counted = 0, 0
    for match in pattern.finditer(padded):
        line += padded.count("\n", counted, match.start() + 1)
        counted = match.start() + 1
        yield line, match


def _key(raw: str) -> str:
    return json.loads(f'"{raw}"') if "\\" in raw else raw


def _installed_keys(text: str) -> dict[str, int]:
    """npm v2/v3: the line of each ``"...node_modules/...": {`` key (the first, in the "packages" section).

    ``node_modules/`` occurs in a v2/v3 lockfile only inside those keys, so ``str.find`` jumps from
    one entry to the next (a regex tried at every line start costs as much as parsing the JSON).
    """
    found: dict[str, int] = {}
    line, counted, position = 1, 0, text.find("node_modules/")
    while position != -1:
        start = text.rfind('"', 0, position)
        end = text.find('"', position)
        newline = text.rfind("\n", 0, position)
        if start > newline and end != -1 and _OPENS_OBJECT.match(text, end + 1):
            line += text.count("\n", counted, start)
            counted = start
            found.setdefault(_key(text[start + 1 : end]), line)
        position = text.find("node_modules/", max(end, position + 1)) if end != -1 else -1
    return found


_OPENS_OBJECT = re.compile(r"[ \t]*:[ \t]*\{")


def _json_object_keys(text: str) -> dict[tuple[str, ...], int]:
    """Every ``"key": {`` that starts a line, by its path of enclosing keys (pretty-printed JSON).

    Indentation alone tells nesting: a key closes every open key indented as far or further. A lockfile
    squeezed onto one line has only its top-level key found; its nodes are then left without a line.
    npm writes ``"key": {`` exactly, which ``str.find`` reaches from one to the next; other spacing
    goes through the regex.
    """
    found: dict[tuple[str, ...], int] = {}
    stack: list[tuple[int, tuple[str, ...]]] = []  # (indent, the key path up to this key)
    for line, indent, raw in _object_keys_npm(text) if '": {' in text else _object_keys_any(text):
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = (*stack[-1][1], _key(raw)) if stack else (_key(raw),)
        stack.append((indent, path))
        found.setdefault(path, line)
    return found


def _object_keys_npm(text: str) -> Iterator[tuple[int, int, str]]:
    """(line, indentation, raw key) of each line ``<spaces>"key": {``."""
    line, counted, position = 1, 0, text.find('": {')
    while position != -1:
        line_start = text.rfind("\n", 0, position) + 1
        head = text[line_start:position]
        stripped = head.lstrip(" \t")
        if stripped.startswith('"') and '"' not in stripped[1:].replace('\\"', ""):
            line += text.count("\n", counted, line_start)
            counted = line_start
            yield line, len(head) - len(stripped), stripped[1:]
        position = text.find('": {', position + 4)


def _object_keys_any(text: str) -> Iterator[tuple[int, int, str]]:
    for line, match in _lines_of(_OBJECT_KEY, text):
        yield line, len(match.group(1)), match.group(2)


def _v1_key_path(location: str) -> tuple[str, ...]:
    """npm v1 nests each ``node_modules/`` level in a ``"dependencies"`` object."""
    path: list[str] = []
    for name in location.split("node_modules/")[1:]:
        path.extend(("dependencies", name.rstrip("/")))
    return tuple(path)


# -- bun.lock


_BUN_ENTRY = re.compile(r'\n[ \t]*"(?:[^"\\\n]|\\.)*"[ \t]*:[ \t]*\[[ \t]*"((?:[^"\\\n]|\\.)*)"')


def _bun_entries(text: str) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for line, match in _lines_of(_BUN_ENTRY, text):
        name_version = _split_name(_key(match.group(1)))
        if name_version is not None:
            found.setdefault(name_version, line)
    return found


def _split_name(ident: str) -> tuple[str, str] | None:
    """``@s/n@1.0.0`` -> (``@s/n``, ``1.0.0``)."""
    at = ident.find("@", 1)
    if at <= 0:
        return None
    return ident[:at], ident[at + 1 :]


# -- yarn


# An entry's header (unindented, ending with a colon) or one of its indented version/resolution fields.
_YARN_LINE = re.compile(
    r"""\n(?:(?P<header>[^\s#][^\n]*?):[ \t]*$|[ \t]+(?P<field>version|resolution):?[ \t]+["']?(?P<value>[^"'\s]+))""",
    re.MULTILINE,
)


def _yarn_entries_raw(text: str) -> list[tuple[int, str, dict[str, str]]]:
    """(header line, header, its first version and resolution fields) for every top-level entry."""
    entries: list[tuple[int, str, dict[str, str]]] = []
    for line, match in _lines_of(_YARN_LINE, text):
        header = match.group("header")
        if header is not None:
            entries.append((line, header, {}))
        elif entries:
            entries[-1][2].setdefault(match.group("field"), match.group("value"))
    return entries


def _yarn_classic_entries(text: str) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for number, header, fields in _yarn_entries_raw(text):
        version = fields.get("version")
        if version is None:
            continue
        for spec in header.split(","):
            spec = spec.strip().strip('"')
            name_range = _split_name(spec)
            if name_range is None:
                continue
            name, spec_range = name_range
            found.setdefault((name, version), number)
            if spec_range.startswith("npm:"):  # an alias: the real package is named in the range
                real = _split_name(spec_range[4:])
                found.setdefault((real[0] if real else spec_range[4:], version), number)
    return found


def _yarn_berry_entries(text: str) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for number, header, fields in _yarn_entries_raw(text):
        version, resolution = fields.get("version"), fields.get("resolution")
        if version is None or resolution is None or header.startswith("__metadata"):
            continue
        name_rest = _split_name(resolution)
        if name_rest is None:
            continue
        name, source = name_rest
        found.setdefault((name, version), number)
        if source.startswith("npm:"):  # the reader takes the registry version from the resolution
            found.setdefault((name, source[4:]), number)
    return found


# -- pnpm


_PNPM_SECTION = re.compile(r"\npackages:[ \t]*$", re.MULTILINE)
_TOP_LEVEL = re.compile(r"\n[^\s#]")
_PNPM_KEY = re.compile(r"\n  ([^\s#][^\n]*?):[ \t]*$", re.MULTILINE)


def _pnpm_package_keys(text: str) -> list[tuple[int, str]]:
    """(line, key) of every entry of each top-level ``packages:`` section (a multi-document lockfile has
    several), quotes and leading ``/`` removed."""
    keys: list[tuple[int, str]] = []
    for section_line, section in _lines_of(_PNPM_SECTION, text):
        # The match starts at the newline put before the text: that offset is where "packages:" starts in it.
        start = section.start()
        end_match = _TOP_LEVEL.search(text, start + len("packages:"))
        body = text[start : end_match.start() if end_match is not None else len(text)]
        keys.extend(
            (section_line + line - 1, match.group(1).strip().strip("'\"").lstrip("/"))
            for line, match in _lines_of(_PNPM_KEY, body)
        )
    return keys


def _pnpm_entries(text: str) -> dict[tuple[str, str], int]:
    """pnpm 6 and 9: ``name@version`` keys, peers in parentheses after the version."""
    found: dict[tuple[str, str], int] = {}
    for number, key in _pnpm_package_keys(text):
        name_version = _split_name(key.split("(", 1)[0])
        if name_version is not None:
            found.setdefault(name_version, number)
    return found


def _pnpm_v5_entries(text: str) -> dict[tuple[str, str], int]:
    """pnpm 5: ``name/version`` keys, peers after an underscore (a version never holds one)."""
    found: dict[tuple[str, str], int] = {}
    for number, key in _pnpm_package_keys(text):
        name, _, version = key.rpartition("/")
        if name and version:
            found.setdefault((name, version.split("_", 1)[0]), number)
    return found


# -- an installed node_modules tree


def _installed_manifests(project: Project, nodes: list[Node]) -> dict[str, EntryPlace]:
    """Each package's own package.json, at its ``"version"`` line when there is one."""
    places = {}
    for node in nodes:
        manifest = project.directory / node.location / "package.json"
        try:
            lines = manifest.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        line = next((i for i, text in enumerate(lines, 1) if text.lstrip().startswith('"version"')), 1)
        places[node.location] = EntryPlace(manifest, line)
    return places
