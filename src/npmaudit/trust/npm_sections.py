"""npm lockfile v2's two halves (LV002): ``packages`` (what npm 7+ installs) against the legacy
``dependencies`` tree (what npm 6 and some scanners read). A payload hidden in one half is invisible to
tools reading the other, so every package location must agree on version, resolved and integrity."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any


def section_differences(text: str) -> Iterator[tuple[str, str]]:
    """(location, problem) for each disagreement; nothing for a lockfile with only one half."""
    try:
        data = json.loads(text)
    except ValueError:
        return
    packages = data.get("packages") if isinstance(data, dict) else None
    legacy = data.get("dependencies") if isinstance(data, dict) else None
    if not isinstance(packages, dict) or not isinstance(legacy, dict):
        return
    flat: dict[str, Mapping[str, Any]] = {}
    _flatten(legacy, "", flat)
    for location, entry in packages.items():
        if not location.startswith("node_modules/") and "/node_modules/" not in location:
            continue
        if not isinstance(entry, dict):
            continue
        old = flat.pop(location, None)
        if entry.get("link"):
            continue  # npm 6 wrote the link as "version": "file:<target>"; its children are under the target
        if old is None:
            if not location.startswith("node_modules/"):
                continue  # a workspace member's own node_modules: npm 6's tree has no such place
            yield location, "in packages but not in the legacy dependencies section"
            continue
        yield from _compare(location, entry, old)
    for location in sorted(flat):
        yield location, "in the legacy dependencies section but not in packages"


def _flatten(dependencies: Mapping[str, Any], parent: str, out: dict[str, Mapping[str, Any]]) -> None:
    for name, entry in dependencies.items():
        if not isinstance(entry, dict):
            continue
        location = f"{parent}/node_modules/{name}" if parent else f"node_modules/{name}"
        out[location] = entry
        nested = entry.get("dependencies")
        if isinstance(nested, dict):
            version = str(entry.get("version") or "")
            # a workspace or folder link: npm 7 installs its own dependencies under the folder itself
            below = version[len("file:") :].rstrip("/") if version.startswith("file:") else location
            _flatten(nested, below, out)


def _compare(location: str, new: Mapping[str, Any], old: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    old_version = str(old.get("version") or "")
    version = str(new.get("version") or "")
    if old_version.startswith("npm:"):
        body = old_version[4:]
        at = body.rfind("@")
        if body[:at] != new.get("name"):
            yield location, f"packages installs {new.get('name') or location}, dependencies says {old_version}"
        old_version = body[at + 1 :]
    if ":" in old_version or "/" in old_version:  # git, file: and URL entries keep the spec as version
        if new.get("resolved") and old_version != new.get("resolved") and not old.get("resolved"):
            yield location, f"packages resolves {new.get('resolved')}, dependencies says {old_version}"
        return
    if version and old_version and version != old_version:
        yield location, f"version {version} in packages, {old_version} in dependencies"
    for field in ("resolved", "integrity"):
        a, b = new.get(field), old.get(field)
        if a and b and a != b:
            yield location, f"{field} differs: {a} in packages, {b} in dependencies"
        elif a and not b and field == "integrity" and not old.get("bundled"):
            yield location, f"integrity {a} in packages, none in dependencies"
