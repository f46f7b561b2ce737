"""yarn berry (v2+, ``__metadata``): YAML entries and manifests into a :class:`LockGraph`.

Each entry is keyed by the descriptors that resolved to it (``"a@npm:^1.0.0, a@npm:^1.2.0"``) and
names its locator in ``resolution`` (``a@npm:1.2.3``; for an alias the real name:
``string-width@npm:4.2.3`` under ``string-width-cjs@npm:string-width@^4``). Protocols:

* ``npm:`` registry; ``workspace:`` the root (``workspace:.``) and members (``workspace:packages/a``);
* ``patch:`` a patched copy of another locator. It is still that registry package, so a patch entry
  and the entry it patches are one package (one node), not two;
* ``portal:``/``link:`` links, ``file:``/``exec:`` local folders and tarballs, git and URL tarballs;
* ``catalog:`` ranges (yarn 4.10+) from .yarnrc.yml when it is beside the lockfile.

Workspace entries list a member's dependencies and devDependencies together, so a member's own
package.json is used when it is present (it tells dev from prod); otherwise the entry's list is
used, all as production dependencies. A dependency ``name@range`` is found under the descriptor
berry stores: ``name@npm:range`` for a bare range, with the root's ``resolutions`` applied, and with
berry's ``::locator=`` binding for relative specs. Every value is read as a string (BaseLoader), as
berry writes them: ``version: 1.10`` must stay "1.10".
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from npmaudit import TYPE_CHECKING, textfile
from npmaudit.errors import InputError
from npmaudit.project.manifest import manifest_deps
from npmaudit.project.model import DepType, SourceKind
from npmaudit.project.readers.lockfile_yaml import base_loader, load_documents
from npmaudit.project.readers.yaml_aliases import refuse_aliases
from npmaudit.project.readers.yarn.manifest import read_manifest
from npmaudit.project.readers.yarn.resolutions import Resolutions, with_protocol
from npmaudit.project.readers.yarn.specs import classify, patch_source, split_descriptor, strip_binding
from npmaudit.project.readers.yarn.tree import PEER_TYPES, Dep, Importer, LockGraph, LockPackage

if TYPE_CHECKING:
    from typing import Any


def load(text: str, lockfile: Path) -> tuple[str, dict[str, object]]:
    """Parse the YAML and return (lockfile_format, entries without ``__metadata``)."""
    fast = load_documents(text, single=True)  # the subset berry writes; None sends the text to PyYAML
    data = fast[0] if fast is not None else _load_with_pyyaml(text, lockfile)
    if not isinstance(data, dict):
        raise InputError(lockfile, "a yarn berry lockfile must be a mapping of entries")
    if fast is None:  # the fast path reads no anchor or alias: only PyYAML's data can share a mapping
        refuse_aliases(lockfile, text, data, base_loader())
    metadata = data.pop("__metadata", None)
    if not isinstance(metadata, dict) or not isinstance(metadata.get("version"), str):
        raise InputError(lockfile, "__metadata.version is missing", _line_of(text, "__metadata"))
    version = metadata["version"]
    if not version.isdigit():
        raise InputError(lockfile, f"__metadata.version {version!r} is not a number", _line_of(text, "__metadata"))
    return f"yarn-berry-v{version}", data


def _load_with_pyyaml(text: str, lockfile: Path) -> Any:
    """The text as PyYAML's base loader reads it, or a one-line InputError (a text the fast path declined)."""
    import yaml

    try:
        return yaml.load(text, Loader=base_loader())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join((error.problem or error.context or "unreadable").split())
        raise InputError(lockfile, f"invalid YAML: {problem}", line) from None
    except yaml.reader.ReaderError as error:  # a character YAML does not allow; it knows only the offset
        line = text.count("\n", 0, error.position) + 1
        raise InputError(lockfile, f"invalid YAML: unacceptable character #x{error.character:04x}", line) from None
    except yaml.YAMLError as error:
        raise InputError(lockfile, "invalid YAML: " + str(error).splitlines()[0]) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise InputError(lockfile, "invalid YAML: nested too deeply") from None


def read_graph(text: str, lockfile: Path) -> tuple[str, LockGraph]:
    lockfile_format, data = load(text, lockfile)
    entries = _Entries(data, text, lockfile)
    directory = lockfile.parent
    root_manifest = read_manifest(directory / "package.json")
    resolutions = Resolutions(root_manifest.get("resolutions") if root_manifest else None)  # type: ignore[arg-type]
    entries.resolutions = resolutions
    entries.overridden = resolutions.names()
    entries.catalogs = _catalogs(directory / ".yarnrc.yml")
    importers: list[Importer] = []
    packages: dict[str, LockPackage] = {}
    split = entries.split
    for resolution, (keys, entry) in entries.by_resolution.items():
        name, reference = split[resolution]
        if reference.startswith("workspace:"):
            importers.append(entries.importer(resolution, name, reference, entry, directory, root_manifest))
        elif resolution not in entries.patch_of:
            packages[resolution] = entries.package(resolution, keys, entry, name, reference)
    for resolution, base in entries.patch_of.items():
        keys, entry = entries.by_resolution[resolution]
        _merge_patch(packages[base], entries.package(resolution, keys, entry, *split[resolution]))
    importers.sort(key=lambda importer: (importer.path != "", importer.path))
    complete = True
    if not importers or importers[0].path != "":
        importers.insert(0, entries.importer("", "", "workspace:.", {}, directory, root_manifest))
        complete = root_manifest is not None
    entries.link_workspaces(importers, packages)
    return lockfile_format, LockGraph(importers, packages, complete)


def _merge_patch(base: LockPackage, patched: LockPackage) -> None:
    """A patch entry is the same package: its dependencies join the base entry's."""
    names = {dep.name for dep in base.deps}
    base.deps.extend(dep for dep in patched.deps if dep.name not in names)


class _Entries:
    def __init__(self, data: dict[str, object], text: str, lockfile: Path) -> None:
        self.text = text
        self.lockfile = lockfile
        self.by_resolution: dict[str, tuple[list[str], dict[str, object]]] = {}
        self.by_key: dict[str, str] = {}
        self.by_unbound_key: dict[str, str] = {}
        self.by_name: dict[str, list[str]] = {}
        self.raw_key: dict[str, str] = {}
        self.resolutions = Resolutions(None)
        self.overridden: frozenset[str] = frozenset()  # the names resolutions has a rule for
        self.catalogs: dict[str, dict[str, str]] = {}
        self.bound: dict[str, str] = {}  # a parent's locator -> the binding berry writes after its relative specs
        by_resolution, by_key, by_unbound_key = self.by_resolution, self.by_key, self.by_unbound_key
        by_name, raw_key = self.by_name, self.raw_key
        for key, entry in data.items():
            if not isinstance(entry, dict):
                raise InputError(lockfile, f"entry {key!r} must be a mapping of fields", _line_of(text, key))
            resolution = entry.get("resolution")
            if not isinstance(resolution, str) or resolution.find("@", 1) < 0:
                raise InputError(lockfile, f"entry {key!r} has no valid resolution", _line_of(text, key))
            key = str(key)
            # Most keys hold one descriptor: split, strip_binding and split_descriptor are inlined.
            keys = [descriptor.strip() for descriptor in key.split(", ")] if ", " in key else [key.strip()]
            raw_key.setdefault(resolution, key)
            held = by_resolution.get(resolution)
            if held is None:
                held = by_resolution[resolution] = ([], entry)
            held[0].extend(keys)
            for descriptor in keys:
                by_key[descriptor] = resolution
                cut = descriptor.find("::")
                by_unbound_key.setdefault(descriptor if cut < 0 else descriptor[:cut], resolution)
                at = descriptor.find("@", 1)
                name = descriptor if at <= 0 else descriptor[:at]
                ids = by_name.get(name)
                if ids is None:
                    by_name[name] = [resolution]
                elif resolution not in ids:
                    ids.append(resolution)
        # A patch entry and the entry it patches are one package; the id used is the base's.
        self.patch_of: dict[str, str] = {}
        # The entries that are workspaces; every lookup of target() ends at one of by_resolution's keys.
        self.workspaces: set[str] = set()
        # Each locator's name and reference, split once for this loop and read_graph's.
        self.split: dict[str, tuple[str, str]] = {}
        for resolution in self.by_resolution:
            name_and_reference = self.split[resolution] = split_descriptor(resolution)
            reference = name_and_reference[1]
            if reference.startswith("patch:"):
                base = self._patch_base(resolution)
                if base is not None:
                    self.patch_of[resolution] = base
            elif reference.startswith("workspace:"):
                self.workspaces.add(resolution)
        self.canonical = {resolution: self.patch_of.get(resolution, resolution) for resolution in self.by_resolution}

    def _patch_base(self, resolution: str) -> str | None:
        _name, reference = split_descriptor(resolution)
        if not reference.startswith("patch:"):
            return None
        inner_name, inner = split_descriptor(patch_source(reference))
        for candidate in (f"{inner_name}@{inner}", f"{inner_name}@{with_protocol(inner)}"):
            if candidate in self.by_resolution and candidate != resolution:
                return self._patch_base(candidate) or candidate
        return None

    def package(
        self, resolution: str, keys: list[str], entry: dict[str, object], name: str, reference: str
    ) -> LockPackage:
        """The package of the entry whose locator ``resolution`` splits into ``name`` and ``reference``."""
        version = entry.get("version")
        if not isinstance(version, str):
            raise InputError(self.lockfile, f"entry {keys[0]!r}: version must be a string", self._line(keys))
        if reference.startswith("npm:"):  # nearly every entry: what classify and alias_target say of it
            source, resolved = SourceKind.REGISTRY, None
            if "@" not in reference[5:]:  # not an alias (npm:real@1.0.0)
                # The locator is what yarn fetches; a hand-edited lock can carry a stale ``version`` beside it.
                version = reference[4:]
        else:
            source = classify(reference)
            if reference.startswith("patch:"):
                reference = split_descriptor(patch_source(reference))[1]
            resolved = None if source is SourceKind.REGISTRY else strip_binding(reference)
        install_name = split_descriptor(keys[0])[0]
        package = LockPackage(self.canonical[resolution], name, version, source, resolved, install_name=install_name)
        package.deps = self._deps(name, resolution, keys, entry, top=False)
        return package

    def importer(
        self,
        resolution: str,
        name: str,
        reference: str,
        entry: dict[str, object],
        directory: Path,
        root_manifest: dict[str, object] | None,
    ) -> Importer:
        folder = reference.removeprefix("workspace:").strip("/")
        path = "" if folder in (".", "") else folder
        manifest = root_manifest if path == "" else read_manifest(directory / path / "package.json")
        version = entry.get("version")
        if manifest is not None and isinstance(manifest.get("version"), str):
            version = manifest["version"]
        importer = Importer(f"ws:{path}", path, name, version if isinstance(version, str) else "")
        if manifest is not None:
            importer.deps = [
                Dep(dep_name, spec, kind, self.target(resolution or name, name, dep_name, spec))
                for dep_name, spec, kind in manifest_deps(manifest, top=True)
            ]
        else:
            importer.deps = self._deps(name, resolution, [resolution], entry, top=True)
        return importer

    def link_workspaces(self, importers: list[Importer], packages: dict[str, LockPackage]) -> None:
        """Point dependencies on workspaces at their importer, and give the root npm's workspace edges.

        npm's root depends on every member through a workspace edge that no manifest entry of the
        same name replaces; those edges make the members (and what they need) production.
        """
        ids = {importer.id for importer in importers}
        holders: list[Importer | LockPackage] = [*importers, *packages.values()]
        for holder in holders:
            for dep in holder.deps:
                if dep.target is not None and dep.target.startswith("ws-ref:"):
                    dep.target = self._workspace_id(dep.target.removeprefix("ws-ref:"), ids)
        root = importers[0]
        members = [importer for importer in importers[1:] if importer.name]
        edges = [Dep(member.name, f"file:{member.path}", DepType.PROD, member.id) for member in members]
        linked = {(dep.name, dep.target) for dep in edges}
        own = [dep for dep in root.deps if (dep.name, dep.target) not in linked]
        root.deps = edges + own

    def _workspace_id(self, resolution: str, ids: set[str]) -> str | None:
        reference = split_descriptor(resolution)[1].removeprefix("workspace:").strip("/")
        candidate = "ws:" + ("" if reference in (".", "") else reference)
        return candidate if candidate in ids else None

    def _deps(self, name: str, resolution: str, keys: list[str], entry: dict[str, object], *, top: bool) -> list[Dep]:
        get = entry.get
        if get("peerDependencies") is None and get("peerDependenciesMeta") is None and get("dependenciesMeta") is None:
            # Most entries: dependencies alone, each one edge of its own kind (what manifest_deps
            # makes of them), found without building a manifest.
            dependencies = get("dependencies")
            if dependencies is None:
                return []
            if dependencies.__class__ is dict:
                found = self._plain_deps(name, resolution, dependencies)
                if found is not None:
                    return found
        manifest: dict[str, object] = {}
        for field in ("dependencies", "peerDependencies"):
            value = entry.get(field)
            if value is None:
                continue
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                problem = f"entry {keys[0]!r}: {field} must map names to ranges"
                raise InputError(self.lockfile, problem, self._line(keys))
            manifest[field] = value
        meta = entry.get("dependenciesMeta")
        optional = set()
        if isinstance(meta, dict):
            for dep_name, flags in meta.items():
                if isinstance(flags, dict) and flags.get("optional") == "true":
                    optional.add(split_descriptor(dep_name)[0])
        peer_meta = entry.get("peerDependenciesMeta")
        if isinstance(peer_meta, dict):
            manifest["peerDependenciesMeta"] = {
                dep_name: {"optional": isinstance(flags, dict) and flags.get("optional") == "true"}
                for dep_name, flags in peer_meta.items()
            }
        deps = []
        for dep_name, spec, kind in manifest_deps(manifest, top=False):
            if kind is DepType.PROD and dep_name in optional:
                kind = DepType.OPTIONAL
            peer = kind in PEER_TYPES
            target = None if peer else self.target(resolution, name, dep_name, spec)
            deps.append(Dep(dep_name, spec, kind, target))
        return deps

    def _plain_deps(self, name: str, resolution: str, dependencies: dict[str, Any]) -> list[Dep] | None:
        """Production edges for a mapping of names to ranges; None when some range is not a string
        (the caller's general path names the problem). The usual lookup of :meth:`target`, a key of
        the lockfile as written leading to a package, is made inline."""
        by_key, canonical, overridden, workspaces = self.by_key, self.canonical, self.overridden, self.workspaces
        deps = []
        for dep_name, spec in dependencies.items():
            if spec.__class__ is not str:
                return None
            found = None
            if dep_name not in overridden and not spec.startswith("catalog:"):
                found = by_key.get(f"{dep_name}@{spec}")
            if found is not None and found not in workspaces:
                target: str | None = canonical[found]
            else:
                target = self.target(resolution, name, dep_name, spec)
            deps.append(Dep(dep_name, spec, DepType.PROD, target))
        return deps

    def target(self, parent_locator: str, parent_name: str, name: str, spec: str) -> str | None:
        """The entry id (or ``ws-ref:<resolution>`` of a workspace) that ``name@spec`` resolves to."""
        if spec.startswith("catalog:"):
            # yarn 4.10+ catalogs: the range lives in .yarnrc.yml; without it the name alone must decide.
            spec = self.catalogs.get(spec[len("catalog:") :] or "default", {}).get(name, spec)
        override = self.resolutions.override(parent_name, name, spec) if name in self.overridden else None
        # Nearly every dependency is a key of the lockfile as written: the first lookup of the search
        # below, made alone.
        found = self.by_key.get(f"{name}@{spec}") if override is None else None
        if found is None:
            found = self._search(parent_locator, name, spec, override)
        if found is None:
            candidates = self.by_name.get(name, [])
            if len(candidates) == 1:
                found = candidates[0]
        if found is None:
            return None
        if found in self.workspaces:
            return f"ws-ref:{found}"
        return self.canonical[found]

    def _search(self, parent_locator: str, name: str, spec: str, override: str | None) -> str | None:
        """The entry ``name@spec`` is written under: the override first, then the spec as written,
        each also with berry's default protocol, bound to the parent's locator or unbound."""
        specs = []
        if override is not None:
            specs += [override, with_protocol(override)]
        specs += [spec, with_protocol(spec)]
        if spec.startswith(("./", "../")):
            specs.append(f"file:{spec}")
        bound = self.bound.get(parent_locator)
        if bound is None:  # a workspace's locator is quoted once, not once per dependency and candidate
            bound = self.bound[parent_locator] = "::locator=" + quote(parent_locator, safe="")
        for candidate in specs:
            descriptor = f"{name}@{candidate}"
            found = self.by_key.get(descriptor) or self.by_key.get(descriptor + bound)
            if found is None:
                found = self.by_unbound_key.get(strip_binding(descriptor))
            if found is not None:
                return found
        return None

    def _line(self, keys: list[str]) -> int | None:
        resolution = self.by_key.get(keys[0])
        return _line_of(self.text, self.raw_key.get(resolution, keys[0]) if resolution else keys[0])


def _catalogs(path: Path) -> dict[str, dict[str, str]]:
    """``catalog`` (the default) and ``catalogs`` from .yarnrc.yml; unreadable or absent means none."""
    try:
        text = textfile.read_text(path)  # a FIFO is refused, never read
    except InputError:
        return {}
    import yaml  # only when the project has a .yarnrc.yml

    try:
        rc = yaml.load(text, Loader=base_loader())
    except yaml.YAMLError:
        return {}
    if not isinstance(rc, dict):
        return {}
    found = {}
    if isinstance(rc.get("catalog"), dict):
        found["default"] = rc["catalog"]
    named = rc.get("catalogs")
    if isinstance(named, dict):
        found.update({key: value for key, value in named.items() if isinstance(value, dict)})
    return found


def _line_of(text: str, key: str) -> int | None:
    """The line an entry key is written on (only computed for error messages)."""
    for form in (f'\n"{key}":', f"\n{key}:", f'"{key}":', f"{key}:"):
        at = text.find(form)
        if at >= 0:
            return text.count("\n", 0, at + (1 if form.startswith("\n") else 0)) + 1
    return None
