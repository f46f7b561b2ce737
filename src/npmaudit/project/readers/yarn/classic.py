"""yarn classic (``# yarn lockfile v1``): entries and manifests into a :class:`LockGraph`.

An entry is keyed by every descriptor that resolved to it (``"a@^1.0.0", "a@^1.2.0":``) and holds
``version``, ``resolved`` (URL with ``#sha1``), ``integrity``, ``dependencies`` and
``optionalDependencies``. An alias is keyed ``alias@npm:real@range``: the package is ``real``,
installed as ``alias``. The lockfile has no root or workspace entries: the root's dependencies come
from package.json, the members' from the package.json of each folder the ``workspaces`` globs match.
A dependency ``name@spec`` resolves to the entry keyed by exactly that descriptor; a sibling
workspace satisfies it when no entry does (yarn links those instead of locking them).
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

from npmaudit.errors import InputError
from npmaudit.project.manifest import manifest_deps
from npmaudit.project.model import DepType, SourceKind
from npmaudit.project.readers.yarn.manifest import read_manifest, workspace_folders, workspace_patterns
from npmaudit.project.readers.yarn.resolutions import Resolutions
from npmaudit.project.readers.yarn.specs import alias_target, classify, looks_like_git, split_descriptor
from npmaudit.project.readers.yarn.tree import Dep, Importer, LockGraph, LockPackage
from npmaudit.project.readers.yarn.v1_syntax import Block, parse

FORMAT = "yarn-v1"
_SHA1_HEX = re.compile(r"^[0-9a-f]{40}$")


def read_graph(text: str, lockfile: Path) -> LockGraph:
    blocks = parse(text, lockfile)
    entries = _entries(blocks, lockfile)
    directory = lockfile.parent
    root_manifest = read_manifest(directory / "package.json")
    importers = [_importer("", root_manifest)]
    complete = root_manifest is not None
    if root_manifest is not None:
        patterns = workspace_patterns(root_manifest, directory / "package.json")
        for folder in workspace_folders(directory, patterns):
            manifest_path = directory / folder / "package.json"
            importers.append(_importer(folder, read_manifest(manifest_path)))
        # A glob matching no folder means members are not here: their dependencies cannot be known.
        complete = all(workspace_folders(directory, [pattern]) for pattern in patterns if not pattern.startswith("!"))
    resolutions = Resolutions(root_manifest.get("resolutions") if root_manifest else None)  # type: ignore[arg-type]
    resolver = _Resolver(entries, importers, resolutions)
    packages: dict[str, LockPackage] = {}
    for entry_id, (keys, block) in entries.items():
        packages[entry_id] = _package(entry_id, keys, block, lockfile, resolver)
    for index, importer in enumerate(importers):
        manifest_path = directory / importer.path / "package.json"
        manifest = root_manifest if index == 0 else read_manifest(manifest_path)
        importer.deps = resolver.importer_deps(importer, manifest or {}, is_root=index == 0)
    packages.update(resolver.synthetic)
    return LockGraph(importers, packages, complete)


def _entries(blocks: Block, lockfile: Path) -> dict[str, tuple[list[str], Block]]:
    """Group the top-level keys by the entry they share: entry id (its first key) -> (keys, block)."""
    by_block: dict[int, tuple[list[str], Block]] = {}
    for key, value in blocks.items():
        line = blocks.lines[key]
        if not isinstance(value, Block):
            raise InputError(lockfile, f"entry {key!r} must be a block of fields, not a value", line)
        if not key.strip():
            raise InputError(lockfile, "empty entry key", line)
        by_block.setdefault(id(value), ([], value))[0].append(key)
    return {keys[0]: (keys, block) for keys, block in by_block.values()}


class _Resolver:
    """Finds the entry (or workspace) a ``name@spec`` dependency resolves to."""

    def __init__(
        self, entries: dict[str, tuple[list[str], Block]], importers: list[Importer], resolutions: Resolutions
    ) -> None:
        self.by_key: dict[str, str] = {}
        self.by_name: dict[str, list[str]] = {}
        for entry_id, (keys, _) in entries.items():
            for key in keys:
                self.by_key[key] = entry_id
                name = split_descriptor(key)[0]
                ids = self.by_name.setdefault(name, [])
                if entry_id not in ids:
                    ids.append(entry_id)
        self.workspaces = {importer.name: importer.id for importer in importers[1:] if importer.name}
        self.resolutions = resolutions
        self.synthetic: dict[str, LockPackage] = {}

    def target(self, parent: str, name: str, spec: str) -> str | None:
        found = self.by_key.get(f"{name}@{spec}")
        if found is not None:
            return found
        override = self.resolutions.override(parent, name, spec)
        if override is not None and (found := self.by_key.get(f"{name}@{override}")) is not None:
            return found
        if name in self.workspaces:
            return self.workspaces[name]
        if classify(spec) is SourceKind.LINK:
            # yarn classic never locks link: dependencies; keep them visible as (unmatchable) links.
            key = f"{name}@{spec}"
            self.synthetic.setdefault(key, LockPackage(key, name, "", SourceKind.LINK, resolved=spec))
            return key
        candidates = self.by_name.get(name, [])
        return candidates[0] if len(candidates) == 1 else None

    def importer_deps(self, importer: Importer, manifest: dict[str, object], *, is_root: bool) -> list[Dep]:
        deps: list[Dep] = []
        if is_root:
            for workspace_name, workspace_id in self.workspaces.items():
                path = workspace_id.removeprefix("ws:")
                deps.append(Dep(workspace_name, f"file:{path}", DepType.PROD, workspace_id))
        linked = {(dep.name, dep.target) for dep in deps}
        for name, spec, kind in manifest_deps(manifest, top=True):
            target = self.target(importer.name, name, spec)
            if (name, target) not in linked:  # npm keeps the workspace edge over a manifest entry naming it
                deps.append(Dep(name, spec, kind, target))
        return deps


def _importer(path: str, manifest: dict[str, object] | None) -> Importer:
    manifest = manifest or {}
    name = manifest.get("name")
    version = manifest.get("version")
    return Importer(
        id=f"ws:{path}",
        path=path,
        name=name if isinstance(name, str) else "",
        version=version if isinstance(version, str) else "",
    )


def _package(entry_id: str, keys: list[str], block: Block, lockfile: Path, resolver: _Resolver) -> LockPackage:
    line = block.line
    version = block.get("version")
    if version is None:
        raise InputError(lockfile, f"entry {entry_id!r} has no version", line)
    if isinstance(version, (Block, bool)):
        raise InputError(lockfile, f"entry {entry_id!r}: version must be a string", block.lines["version"])
    resolved = _string_field(block, "resolved", entry_id, lockfile)
    integrity = _string_field(block, "integrity", entry_id, lockfile)
    install_name, spec = split_descriptor(keys[0])
    alias = alias_target(spec)
    name = alias[0] if alias else install_name
    source = classify(spec)
    if resolved and source is SourceKind.REGISTRY and looks_like_git(resolved):
        source = SourceKind.GIT
    if resolved and source in (SourceKind.REGISTRY, SourceKind.TARBALL) and "#" in resolved:
        resolved, fragment = resolved.split("#", 1)
        if integrity is None and _SHA1_HEX.match(fragment):
            integrity = "sha1-" + base64.b64encode(binascii.unhexlify(fragment)).decode("ascii")
    deps: dict[str, Dep] = {}  # one edge per name; an optional listing replaces a plain one, as in npm
    for field, kind in (("dependencies", DepType.PROD), ("optionalDependencies", DepType.OPTIONAL)):
        for dep_name, dep_spec in _dependency_block(block, field, entry_id, lockfile).items():
            deps.pop(dep_name, None)
            deps[dep_name] = Dep(dep_name, dep_spec, kind, resolver.target(name, dep_name, dep_spec))
    return LockPackage(entry_id, name, str(version), source, resolved, integrity, list(deps.values()), install_name)


def _string_field(block: Block, field: str, entry_id: str, lockfile: Path) -> str | None:
    value = block.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(lockfile, f"entry {entry_id!r}: {field} must be a string", block.lines[field])
    return value


def _dependency_block(block: Block, field: str, entry_id: str, lockfile: Path) -> dict[str, str]:
    value = block.get(field)
    if value is None:
        return {}
    if not isinstance(value, Block):
        problem = f"entry {entry_id!r}: {field} must be a block of name/range pairs"
        raise InputError(lockfile, problem, block.lines[field])
    for dep_name, dep_spec in value.items():
        if isinstance(dep_spec, (Block, bool)):
            problem = f"entry {entry_id!r}: {field} {dep_name!r} must have a range"
            raise InputError(lockfile, problem, value.lines[dep_name])
    return {dep_name: str(dep_spec) for dep_name, dep_spec in value.items()}
