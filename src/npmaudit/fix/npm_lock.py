"""Rewriting an npm lockfile (v1, v2, v3, shrinkwrap) after a fix, the way npm writes it.

npm serialises a lockfile with ``json-stringify-nice``: in every object, scalars before objects,
the keys ``name, version, lockfileVersion, resolved, integrity, requires, packages,
dependencies`` first in that order, the others by ``localeCompare('en')``; the file's own
indentation and line ending are kept, with a trailing newline. Unchanged entries are left exactly
as they are (a lockfile npm wrote is already in that order, so its bytes do not move); changed and
new entries are built in that order and inserted where npm would put them, so a diff shows only
the entries the fix changed.

Entries are written from the registry manifest as arborist's ``Shrinkwrap.metaFromNode`` writes
them (``version``, ``resolved`` = dist.tarball, ``integrity``, ``dependencies`` and the other
package fields, the dev/optional/devOptional/peer flags); the legacy ``dependencies`` tree of
v1 and v2 as its ``#buildLegacyLockfile`` does (``version``, ``resolved``, ``integrity``, flags,
``requires``, nested ``dependencies``).
"""

from __future__ import annotations

import base64
import copy
import functools
import itertools
import json
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from npmaudit.errors import InputError
from npmaudit.fix.tree import Tree, TreeNode, install_name, under_node_modules
from npmaudit.npm_report.collation import collation_key
from npmaudit.project.model import DepType
from npmaudit.project.readers.npm.locktext import json_type, load_json
from npmaudit.records import record_class

PREFERRED_KEYS = ("name", "version", "lockfileVersion", "resolved", "integrity", "requires", "packages", "dependencies")
PACKAGE_FIELDS = (
    "dependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "optionalDependencies",
    "funding",
    "engines",
    "os",
    "cpu",
    "libc",
    "license",
    "bin",
    "deprecated",
)
INSTALL_SCRIPTS = ("preinstall", "install", "postinstall")
DEPENDENCY_FIELDS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
Flags = tuple[bool, bool, bool, bool]  # dev, optional, devOptional, peer


# -- npm's key order -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _key_rank(key: str) -> tuple[int, int, Any]:
    if key in PREFERRED_KEYS:
        return (0, PREFERRED_KEYS.index(key), ())
    return (1, 0, collation_key(key))


def _order(item: tuple[str, Any]) -> tuple[bool, int, int, Any]:
    key, value = item
    return (isinstance(value, dict), *_key_rank(key))


def canonical(value: Any) -> Any:
    """``value`` with every object's keys in npm's order (json-stringify-nice)."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in sorted(value.items(), key=_order)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def _code_point_order(item: tuple[str, Any]) -> tuple[bool, int, int, Any]:
    key, value = item
    if key in PREFERRED_KEYS:
        return (isinstance(value, dict), 0, PREFERRED_KEYS.index(key), ())
    return (isinstance(value, dict), 1, 0, key)


def insert_in_order(mapping: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """``mapping`` with ``key`` set: in place when present, else where the mapping's own order puts
    it (npm's, or the code-point order of lockfiles npm 6 wrote; at the end when it has neither).
    The other keys keep their order."""
    if key in mapping:
        mapping[key] = value
        return mapping
    items = list(mapping.items())
    order = next((o for o in (_order, _code_point_order) if _is_sorted(items, o)), None)
    if order is None:
        mapping[key] = value
        return mapping
    rank = order((key, value))
    at = next((i for i, item in enumerate(items) if order(item) > rank), len(items))
    items.insert(at, (key, value))
    return dict(items)


def _is_sorted(items: list[tuple[str, Any]], order: Any) -> bool:
    ranks = [order(item) for item in items]
    return all(a <= b for a, b in itertools.pairwise(ranks))


# -- the file --------------------------------------------------------------------------------------


@record_class
class NpmLockFile:
    path: Path
    text: str
    data: dict[str, Any]
    version: int
    indent: str
    newline: str

    @classmethod
    def load(cls, path: Path) -> NpmLockFile:
        source, data = load_json(path)
        if not isinstance(data, dict):
            raise InputError(path, f"the top level must be a JSON object, not {json_type(data)}", 1)
        version = data.get("lockfileVersion")
        if version not in (1, 2, 3) or isinstance(version, bool):
            raise InputError(path, f"unsupported lockfileVersion {json.dumps(version)} (npmaudit fixes 1, 2 and 3)")
        return cls(path, source.text, data, int(version), detect_indent(source.text), detect_newline(source.text))

    def dumps(self, data: Mapping[str, Any]) -> str:
        return dump_json(data, self.indent, self.newline)


def detect_indent(text: str) -> str:
    """The indentation of the first indented line (npm keeps a file's own)."""
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            return line[: len(line) - len(stripped)]
    return "  "


def detect_newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def dump_json(data: Mapping[str, Any], indent: str, newline: str) -> str:
    text = json.dumps(data, indent=indent, ensure_ascii=False) + "\n"
    return text.replace("\n", newline) if newline != "\n" else text


# -- entries ---------------------------------------------------------------------------------------


def integrity_of(dist: Mapping[str, Any]) -> str | None:
    integrity = dist.get("integrity")
    if isinstance(integrity, str) and integrity:
        return integrity
    shasum = dist.get("shasum")
    if isinstance(shasum, str) and len(shasum) == 40:
        try:
            return "sha1-" + base64.b64encode(bytes.fromhex(shasum)).decode()
        except ValueError:
            return None
    return None


def normal_bin(name: str, value: Any) -> dict[str, str] | None:
    """npm-normalize-package-bin: a string names the package's own command; paths lose ``./``."""
    if isinstance(value, str):
        value = {name.rsplit("/", 1)[-1]: value}
    if not isinstance(value, dict):
        return None
    result = {}
    for command, target in value.items():
        if not isinstance(command, str) or not isinstance(target, str):
            continue
        command = posixpath.basename(command.replace("\\", "/"))
        clean = posixpath.normpath("/" + target.replace("\\", "/")).lstrip("/")
        if command and clean and command not in (".", ".."):
            result[command] = clean
    return result or None


def package_fields(node: TreeNode) -> dict[str, Any]:
    """What metaFromNode takes from the manifest (empty objects and false values left out)."""
    manifest = node.manifest or {}
    fields: dict[str, Any] = {}
    for key in PACKAGE_FIELDS:
        value = manifest.get(key)
        if key == "license" and isinstance(value, dict):
            value = value.get("type")
        if key == "bin":
            value = normal_bin(node.name, value)
        if not value or (isinstance(value, dict | list) and not value):
            continue
        fields[key] = value
    optional = fields.get("optionalDependencies")
    if isinstance(optional, dict) and isinstance(fields.get("dependencies"), dict):
        prod = {k: v for k, v in fields["dependencies"].items() if k not in optional}
        if prod:
            fields["dependencies"] = prod
        else:
            del fields["dependencies"]
    scripts = manifest.get("scripts")
    runs_scripts = isinstance(scripts, dict) and any(k in scripts for k in INSTALL_SCRIPTS)
    if manifest.get("hasInstallScript") or runs_scripts:
        fields["hasInstallScript"] = True
    return fields


def package_entry(node: TreeNode, flags: Flags) -> dict[str, Any]:
    """A ``packages`` entry for a changed or added registry node."""
    manifest = node.manifest or {}
    entry: dict[str, Any] = {}
    if node.name != install_name(node.location):
        entry["name"] = node.name
    entry["version"] = node.version
    entry.update(_fetched_from(manifest))
    entry.update(package_fields(node))
    entry = _set_flags(entry, flags, devoptional_key=True)
    return _canonical_object(entry)


def _dist(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    dist = manifest.get("dist")
    return dist if isinstance(dist, dict) else {}


def _fetched_from(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """``resolved`` and ``integrity`` from the manifest's ``dist``, where it has them."""
    dist = _dist(manifest)
    fields: dict[str, Any] = {}
    if isinstance(dist.get("tarball"), str):
        fields["resolved"] = dist["tarball"]
    integrity = integrity_of(dist)
    if integrity:
        fields["integrity"] = integrity
    return fields


def _canonical_object(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: canonical(v) for k, v in sorted(entry.items(), key=_order)}


def _set_flags(entry: dict[str, Any], flags: Flags, *, devoptional_key: bool) -> dict[str, Any]:
    dev, optional, dev_optional, peer = flags
    if not devoptional_key and dev_optional:
        dev = optional = True
    wanted = {"dev": dev, "optional": optional, "peer": peer}
    if devoptional_key:
        wanted["devOptional"] = dev_optional and not dev and not optional
    result = entry
    for key, on in wanted.items():
        if on and not result.get(key):
            result = insert_in_order(result, key, True)
        elif not on and key in result:
            del result[key]
    return result


def legacy_entry(node: TreeNode, flags: Flags, children: Any, *, devoptional_key: bool) -> dict[str, Any]:
    """A v1/v2 ``dependencies`` entry for a changed or added registry node."""
    manifest = node.manifest or {}
    entry: dict[str, Any] = {}
    alias = node.name != install_name(node.location)
    entry["version"] = f"npm:{node.name}@{node.version}" if alias else node.version
    entry.update(_fetched_from(manifest))
    dev, optional, dev_optional, peer = flags
    if peer and devoptional_key:
        entry["peer"] = True
    if dev_optional and not dev and not optional:
        if devoptional_key:
            entry["devOptional"] = True
        else:
            entry["dev"] = entry["optional"] = True
    if dev:
        entry["dev"] = True
    if optional:
        entry["optional"] = True
    requires = {d.name: d.spec for d in node.deps if d.type not in (DepType.PEER, DepType.PEER_OPTIONAL)}
    if requires:
        entry["requires"] = requires
    if children:
        entry["dependencies"] = children
    return _canonical_object(entry)


# -- applying a plan -------------------------------------------------------------------------------


@record_class(frozen=True)
class TreeDiff:
    removed: list[str]
    added: list[str]
    changed: list[str]
    reflagged: list[str]


def diff_trees(
    before: Tree, after: Tree, flags_before: Mapping[str, Flags], flags_after: Mapping[str, Flags]
) -> TreeDiff:
    removed = [loc for loc in before.nodes if loc not in after.nodes]
    added = [loc for loc in after.nodes if loc not in before.nodes]
    changed = []
    reflagged = []
    for location, node in after.nodes.items():
        old = before.nodes.get(location)
        if old is None:
            continue
        if node.manifest is not None and (old.version != node.version or old.name != node.name):
            changed.append(location)
        elif flags_before.get(location) != flags_after.get(location) and location:
            reflagged.append(location)
    return TreeDiff(removed, added, changed, reflagged)


@record_class(frozen=True)
class RangeEdit:
    """A dependency range rewritten in a top node (root or workspace) and its manifest."""

    top: str
    name: str
    new: str


def apply_to_lock(
    lock: NpmLockFile, after: Tree, diff: TreeDiff, flags_after: Mapping[str, Flags], edits: list[RangeEdit]
) -> str:
    """The new lockfile text."""
    data = copy.deepcopy(lock.data)
    if "packages" in data and isinstance(data["packages"], dict):
        data["packages"] = _apply_packages(data["packages"], after, diff, flags_after, edits)
    if lock.version < 3 and isinstance(data.get("dependencies"), dict):
        links = {
            node.link_target: install_name(loc)
            for loc, node in after.nodes.items()
            if node.link_target is not None and loc.startswith("node_modules/") and loc.count("node_modules/") == 1
        }
        legacy = _Legacy(data, links, devoptional_key=lock.version >= 2)
        for location in sorted(diff.removed, key=len, reverse=True):
            legacy.remove(location)
        for location in sorted(diff.changed + diff.added, key=lambda loc: (loc.count("node_modules/"), loc)):
            node = after.nodes[location]
            legacy.put(location, node, flags_after[location])
        for location in diff.reflagged:
            legacy.reflag(location, flags_after[location])
    return lock.dumps(data)


def _apply_packages(
    packages: dict[str, Any], after: Tree, diff: TreeDiff, flags: Mapping[str, Flags], edits: list[RangeEdit]
) -> dict[str, Any]:
    for location in diff.removed:
        packages.pop(location, None)
    for location in diff.changed:
        packages[location] = package_entry(after.nodes[location], flags[location])
    for location in diff.added:
        packages = insert_in_order(packages, location, package_entry(after.nodes[location], flags[location]))
    for location in diff.reflagged:
        entry = packages.get(location)
        if isinstance(entry, dict) and not entry.get("link"):
            packages[location] = _set_flags(entry, flags[location], devoptional_key=True)
    for edit in edits:
        entry = packages.get(edit.top)
        if isinstance(entry, dict):
            packages[edit.top] = set_range(entry, edit.name, edit.new)
    return packages


def set_range(manifest: dict[str, Any], name: str, spec: str) -> dict[str, Any]:
    """Rewrite ``name``'s range in whichever dependency list of a manifest declares it."""
    for field in DEPENDENCY_FIELDS:
        specs = manifest.get(field)
        if isinstance(specs, dict) and name in specs:
            specs[name] = spec
    return manifest


class _Legacy:
    """The nested ``dependencies`` tree of lockfile v1/v2, addressed by install location."""

    def __init__(self, data: dict[str, Any], links: Mapping[str, str], *, devoptional_key: bool) -> None:
        self.data = data
        self.links = links
        self.devoptional_key = devoptional_key

    def _path(self, location: str) -> list[str] | None:
        if location.startswith("node_modules/"):
            prefix: list[str] = []
            rest = location[len("node_modules/") :]
        else:
            cut = location.find("/node_modules/")
            if cut < 0 or location[:cut] not in self.links:
                return None
            prefix = [self.links[location[:cut]]]
            rest = location[cut + len("/node_modules/") :]
        return prefix + rest.split("/node_modules/")

    def _holder(self, path: list[str], create: bool) -> dict[str, Any] | None:
        """The ``dependencies`` object that holds the last name of ``path``."""
        current: dict[str, Any] = self.data
        for name in path[:-1]:
            deps = current.get("dependencies")
            if not isinstance(deps, dict) or not isinstance(deps.get(name), dict):
                return None
            current = deps[name]
        deps = current.get("dependencies")
        if not isinstance(deps, dict):
            if not create:
                return None
            current_sorted = insert_in_order(current, "dependencies", {})
            current.clear()
            current.update(current_sorted)
            deps = current["dependencies"]
        return current

    def remove(self, location: str) -> None:
        path = self._path(location)
        holder = self._holder(path, create=False) if path else None
        if holder is None or path is None:
            return
        holder["dependencies"].pop(path[-1], None)
        if not holder["dependencies"] and holder is not self.data:
            del holder["dependencies"]

    def put(self, location: str, node: TreeNode, flags: Flags) -> None:
        path = self._path(location)
        holder = self._holder(path, create=True) if path else None
        if holder is None or path is None:
            return
        deps = holder["dependencies"]
        existing = deps.get(path[-1])
        children = existing.get("dependencies") if isinstance(existing, dict) else None
        entry = legacy_entry(node, flags, children, devoptional_key=self.devoptional_key)
        holder["dependencies"] = insert_in_order(deps, path[-1], entry)

    def reflag(self, location: str, flags: Flags) -> None:
        path = self._path(location)
        holder = self._holder(path, create=False) if path else None
        if holder is None or path is None:
            return
        entry = holder["dependencies"].get(path[-1])
        if isinstance(entry, dict) and not str(entry.get("version", "")).startswith("file:"):
            holder["dependencies"][path[-1]] = _set_flags(entry, flags, devoptional_key=self.devoptional_key)


def top_manifest_path(project_dir: Path, top: str) -> Path:
    return project_dir / top / "package.json" if top else project_dir / "package.json"


def is_project_folder(location: str) -> bool:
    return location == "" or not under_node_modules(location)
