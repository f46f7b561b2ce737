"""Reading a package.json beside a lockfile: parsed JSON, or a one-line InputError naming the file.

The readers that only need the manifest's content (yarn, pnpm importers, npm_ex, lockfile detection)
share this; the npm readers go through npm_locktext, whose errors also locate bad fields. Here too:
a manifest's dependencies as arborist reads them, and the root's declared dependencies for a lockfile
that records none for it.
"""

from __future__ import annotations

import json
from pathlib import Path

from npmaudit import TYPE_CHECKING, textfile
from npmaudit.errors import InputError
from npmaudit.project.model import DepType, Edge
from npmaudit.project.readers.npm.locktext import json_type

if TYPE_CHECKING:
    from typing import Any


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The package.json at ``path`` as a dict; None when there is none (a manifest is optional)."""
    if not path.exists():  # also a dangling link: no manifest, as the package managers see it
        return None
    text = textfile.read_text(path, "package.json")
    if not text.strip():
        raise InputError(path, "empty package.json")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(path, f"not valid JSON: {error.msg}", error.lineno) from None
    except RecursionError:  # json decodes nested arrays and objects recursively
        raise InputError(path, "not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InputError(path, f"the top level must be a JSON object, not {json_type(data)}", 1)
    return data


def manifest_deps(manifest: dict[str, object], *, top: bool) -> list[tuple[str, str, DepType]]:
    """A manifest's dependencies as npm's arborist loads them: one edge per name, the last kind wins.

    Arborist reads peerDependencies, then dependencies, then optionalDependencies, then (for the root
    and workspaces only) devDependencies, each replacing an earlier edge of the same name.
    """
    found: dict[str, tuple[str, DepType]] = {}
    meta = manifest.get("peerDependenciesMeta")
    meta = meta if isinstance(meta, dict) else {}
    peers = manifest.get("peerDependencies")
    if isinstance(peers, dict):
        for name, spec in peers.items():
            entry = meta.get(name)
            optional = isinstance(entry, dict) and entry.get("optional") is True
            found[name] = (str(spec), DepType.PEER_OPTIONAL if optional else DepType.PEER)
    kinds = [("dependencies", DepType.PROD), ("optionalDependencies", DepType.OPTIONAL)]
    if top:
        kinds.append(("devDependencies", DepType.DEV))
    for key, kind in kinds:
        deps = manifest.get(key)
        if isinstance(deps, dict):
            for name, spec in deps.items():
                found.pop(name, None)
                found[name] = (str(spec), kind)
    return [(name, spec, kind) for name, (spec, kind) in found.items()]


def unlocked_root_edges(directory: Path, locked: tuple[Edge, ...] = ()) -> tuple[Edge, ...]:
    """The root's edges when the lockfile records no dependency for it: ``locked`` (its edges to
    workspace members) and every dependency the package.json in ``directory`` declares, resolved to
    nothing.

    A pnpm lockfile without an importer for the root (or a bun.lock whose root lists nothing) would
    otherwise give the root no declared dependency, and a lockfile that locks nothing for a project
    that declares some would pass the empty-lock rule (:mod:`npmaudit.project.empty_lock`) and LV003
    (:mod:`npmaudit.trust.drift`) as a project that asks for nothing. The npm and yarn readers read
    the root's dependencies from package.json already.
    """
    manifest = read_manifest(directory / "package.json")
    if manifest is None:
        return locked
    named = {edge.name for edge in locked}
    declared = [Edge(name, spec, kind, None) for name, spec, kind in manifest_deps(manifest, top=True)]
    return (*locked, *(edge for edge in declared if edge.name not in named))
