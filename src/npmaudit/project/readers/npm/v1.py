"""Lockfile v1 (nested ``dependencies``) -> v2-shaped ``packages`` entries, the way npm migrates it.

This follows arborist's shrinkwrap.js (``#loadAll``, ``#metaFromLock``, ``#fixDependencies``), so
what comes out is what npm itself builds its tree from:

- an entry whose ``version`` is a ``file:`` folder becomes a link to that folder, and the folder
  gets an entry of its own (without a version: v1 does not record it); dependencies nested under
  such an entry live under the folder;
- ``version: "npm:real@1.2.3"`` is an alias of ``real``; git versions carry no package version;
  remote and local tarballs get the version their file name implies, when it implies one;
- ``requires`` become dependency edges: ``optionalDependencies`` when the dependency is flagged
  optional and the dependent is not, ``devDependencies`` when it is flagged dev and the dependent
  is not (npm ignores those below top level), ``dependencies`` otherwise;
- the root entry takes its dependency lists from the package.json beside the lockfile, since v1
  records none for the root.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.errors import InputError
from npmaudit.project.readers.npm.locktext import LockText, json_type
from npmaudit.project.readers.npm.spec import REGISTRY_TYPES, SpecType, alias_target, spec_type, version_from_tarball

if TYPE_CHECKING:
    from typing import Any

# The package.json fields arborist copies into the migrated root entry (pkgMetaKeys, the ones
# that matter for the tree). devDependencies is not among them in npm either.
ROOT_KEYS = (
    "version",
    "dependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "optionalDependencies",
    "workspaces",
)


def migrate(
    source: LockText, data: Mapping[str, Any], manifest: Mapping[str, Any] | None, directory: Path
) -> dict[str, dict[str, Any]]:
    """The v2-style ``packages`` map for a v1 lockfile's ``data``."""
    migration = _Migration(source, directory)
    migration.load_all("", None, data, ())
    migration.fix_dependencies(manifest or {})
    return migration.packages


class _Migration:
    def __init__(self, source: LockText, directory: Path) -> None:
        self.source = source
        self.directory = directory
        self.packages: dict[str, dict[str, Any]] = {}

    def load_all(self, location: str, name: str | None, lock: Mapping[str, Any], trail: tuple[str, ...]) -> None:
        meta = self.meta_from_lock(location, name, lock, trail)
        if meta.get("link"):
            location = meta["resolved"]  # nested dependencies of a link live under its target
        children = lock.get("dependencies")
        if children is None:
            return
        if not isinstance(children, dict):
            raise self.error(f'"dependencies" of "{name}" must be an object, not {json_type(children)}', trail)
        for child, child_lock in children.items():
            if not isinstance(child_lock, dict):
                raise self.error(
                    f'dependency "{child}" must be an object, not {json_type(child_lock)}', (*trail, child)
                )
            child_location = f"{location}/node_modules/{child}" if location else f"node_modules/{child}"
            self.load_all(child_location, child, child_lock, (*trail, child))

    def error(self, problem: str, trail: tuple[str, ...]) -> InputError:
        """An InputError at the entry reached through ``trail`` (names from the top level down)."""
        position = 0
        for name in trail:
            found = self.source.find_key(name, position)
            if found < 0:
                break
            position = found
        return self.source.error(problem, trail[-1] if trail else "lockfileVersion", position)

    def meta_from_lock(
        self, location: str, name: str | None, lock: Mapping[str, Any], trail: tuple[str, ...]
    ) -> dict[str, Any]:
        key = name or "the root"
        for field in ("version", "resolved", "integrity", "from"):
            if lock.get(field) is not None and not isinstance(lock[field], str):
                raise self.error(f'"{field}" of "{key}" must be a string, not {json_type(lock[field])}', trail)
        requires = lock.get("requires")
        if requires is not None and not isinstance(requires, (dict, bool)):
            raise self.error(f'"requires" of "{key}" must be an object, not {json_type(requires)}', trail)
        if isinstance(requires, dict):
            for dep, spec in requires.items():
                if not isinstance(spec, str):
                    raise self.error(f'"requires.{dep}" of "{key}" must be a string, not {json_type(spec)}', trail)

        kind, spec = self.spec_from_lock(lock)
        if kind is SpecType.DIRECTORY:
            target = self.relative(spec)
            self.packages[location] = {"link": True, "resolved": target}
            if target not in self.packages:
                self.meta_from_lock(target, name, {**lock, "version": None}, trail)
            return self.packages[location]

        meta: dict[str, Any] = {}
        if isinstance(requires, dict):
            meta["requires"] = requires
        if lock.get("optional"):
            meta["optional"] = True
        if lock.get("dev"):
            meta["dev"] = True
        if location == "" and isinstance(lock.get("name"), str):
            meta["name"] = lock["name"]
        version = lock.get("version")
        resolved = lock.get("resolved")
        if lock.get("integrity"):
            meta["integrity"] = lock["integrity"]
        if version and not lock.get("integrity"):
            if kind is SpecType.GIT:
                meta["resolved"] = spec
                self.packages[location] = meta
                return meta
            if kind in REGISTRY_TYPES:
                meta["version"] = version
        if resolved or kind not in REGISTRY_TYPES:
            if kind in REGISTRY_TYPES:
                if resolved:
                    meta["resolved"] = resolved
            elif kind is SpecType.FILE:
                meta["resolved"] = "file:" + self.relative(spec)
            else:
                meta["resolved"] = spec
        if not meta.get("version"):
            if kind in (SpecType.FILE, SpecType.REMOTE):
                guess = version_from_tarball(name or "", _strip_file(spec))
                if guess is None and meta.get("resolved"):
                    guess = version_from_tarball(name or "", _strip_file(meta["resolved"]))
                if guess is not None:
                    meta["version"] = guess[1]
                    if guess[0] != name:
                        meta["name"] = guess[0]
            elif kind is SpecType.ALIAS:
                meta["name"], meta["version"] = alias_target(spec)
            elif kind is SpecType.VERSION:
                meta["version"] = spec.lstrip("v= ")
            elif kind in (SpecType.RANGE, SpecType.TAG) and version:
                # A registry entry whose version is not one ("latest", "1.0"): npm drops it and never
                # audits the package; it is kept so the audit names it as not checked.
                meta["version"] = version
        if lock.get("bundled"):
            meta["inBundle"] = True
        self.packages[location] = meta
        return meta

    @staticmethod
    def spec_from_lock(lock: Mapping[str, Any]) -> tuple[SpecType, str]:
        """The spec npm reads an entry as (spec-from-lock.js): version, else from, else resolved."""
        version = lock.get("version") or ""
        if version:
            kind = spec_type(version)
            if lock.get("integrity") or kind is SpecType.GIT:
                return kind, version
        origin = lock.get("from")
        if origin:
            kind = spec_type(origin)
            if kind in REGISTRY_TYPES and version:
                return spec_type(version), version
            if not lock.get("resolved"):
                return kind, origin
        if lock.get("resolved"):
            return spec_type(lock["resolved"]), lock["resolved"]
        return spec_type(version), version

    def relative(self, spec: str) -> str:
        """A file: spec's path as a location relative to the project (arborist's relpath)."""
        path = _strip_file(spec)
        if path.startswith("~/"):
            path = os.path.expanduser(path)
        if os.path.isabs(path):
            return Path(os.path.relpath(path, self.directory)).as_posix()
        normal = posixpath.normpath(path)
        return "" if normal == "." else normal

    def fix_dependencies(self, manifest: Mapping[str, Any]) -> None:
        root = self.packages.setdefault("", {})
        for field in ROOT_KEYS:
            value = manifest.get(field)
            if value and (not isinstance(value, dict) or value):
                root[field] = value
        for location, meta in self.packages.items():
            requires = meta.get("requires")
            if not location or not requires:
                continue
            for dep, spec in requires.items():
                target = self.resolve_meta(location, dep)
                group = "dependencies"
                if target is not None and target.get("optional") and not meta.get("optional"):
                    group = "optionalDependencies"
                elif target is not None and target.get("dev") and not meta.get("dev"):
                    group = "devDependencies"
                meta.setdefault(group, {})[dep] = spec
            del meta["requires"]

    def resolve_meta(self, location: str, name: str) -> dict[str, Any] | None:
        path = location
        while True:
            check = f"{path}/node_modules/{name}" if path else f"node_modules/{name}"
            if check in self.packages:
                return self.packages[check]
            if not path:
                return None
            path = path.rsplit("/", 1)[0] if "/" in path else ""


def _strip_file(spec: str) -> str:
    return spec[len("file:") :] if spec.startswith("file:") else spec
