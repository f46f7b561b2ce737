"""The package.json files beside a yarn.lock: the root manifest and the workspace members' manifests.

yarn.lock does not say which packages the project itself asks for, nor (classic) which of them are
devDependencies; the manifests do. They are optional: a lockfile audited on its own still yields
every package (see yarn_tree for how entries nothing reaches are attached).
"""

from __future__ import annotations

from pathlib import Path

from npmaudit.errors import InputError
from npmaudit.project import manifest


def read_manifest(path: Path) -> dict[str, object] | None:
    """The parsed package.json at ``path``; None when there is none, InputError when it is broken."""
    data = manifest.read_manifest(path)
    if data is None:
        return None
    for key in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies", "resolutions"):
        value = data.get(key)
        if value is not None and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            raise InputError(path, f'"{key}" must map package names to version strings')
    return data


def workspace_patterns(manifest: dict[str, object], path: Path) -> list[str]:
    """The ``workspaces`` globs: a list, or ``{"packages": [...]}`` as yarn classic also accepts."""
    value = manifest.get("workspaces")
    if value is None:
        return []
    if isinstance(value, dict):
        value = value.get("packages", [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(path, '"workspaces" must be a list of folder globs')
    return value


def workspace_folders(directory: Path, patterns: list[str]) -> list[str]:
    """Folders (relative, ``/``-separated, sorted) matching the globs that hold a package.json."""
    from npmaudit.project.globs import GlobTooComplex, matching_folders  # yarn classic's workspaces only

    found: set[str] = set()
    for pattern in patterns:
        pattern = pattern.strip().rstrip("/")
        if not pattern or pattern.startswith(("!", "/")):  # absolute globs match nothing here
            continue
        try:  # minimatch's rules, as yarn's node-glob; never a regular expression built from the pattern
            matches = [directory / folder for folder in matching_folders(directory, pattern)]
        except GlobTooComplex as error:
            raise InputError(directory / "package.json", f'"workspaces": {error}') from None
        for match in matches:
            try:
                relative = match.resolve().relative_to(directory.resolve())
            except ValueError:
                continue  # outside the project
            if (match / "package.json").is_file() and "node_modules" not in relative.parts and relative.parts:
                found.add(relative.as_posix())
    excluded = {p.strip()[1:].rstrip("/") for p in patterns if p.strip().startswith("!")}
    return sorted(folder for folder in found if folder not in excluded)
