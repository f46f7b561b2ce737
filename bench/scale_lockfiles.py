"""Large lockfiles made from real ones, for the growth figures of bench/speed.py (20k and 100k packages).

    .venv/bin/python bench/scale_lockfiles.py --out /tmp/npmaudit-scale [--sizes 20000 100000]

Each format starts from one real lockfile of the shared corpus and adds renamed copies of its
published packages until the target count is reached, as make-scale-corpus does for advisories: copy
``k`` renames every package ``name`` to ``name-s<k>`` (a scope stays: ``@a/b-s<k>``) wherever the
lockfile names it (install paths, keys, dependency maps, aliases, patches; a pnpm peer suffix keeps
naming copy 0, so keys grow by a few characters only). The root depends on one package per copy
(``npmaudit-scale-copy-s<k>``), which depends on what the real root depends on, so the root's own
list stays the size of a real one. Copy 0 is the real lockfile, untouched: its findings stay the real
ones, and the copies name no real package. Workspaces, links and local folders are not copied.
Formats: ``npm`` (package-lock v3, from create-react-app), ``pnpm`` (v9, from lexical), ``berry``
(yarn berry, from jest). Files are written once and reused (their name holds the size).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from npmaudit.project.readers.lockfile_yaml import load_documents

SOURCES = {
    "npm": ("package-lock-v2", "facebook__create-react-app", "package-lock.json"),
    "pnpm": ("pnpm-v9", "facebook__lexical", "pnpm-lock.yaml"),
    "berry": ("yarn-berry", "jestjs__jest", "yarn.lock"),
}
DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared"
# Each copy hangs under one package of its own that depends on what the real root depends on, so the
# root's own dependency list stays the size a real one has.
HOLDER = "npmaudit-scale-copy"


def renamed(name: str, copy: int) -> str:
    return f"{name}-s{copy}"


# -- npm -------------------------------------------------------------------------------------------

_DEP_FIELDS = ("dependencies", "optionalDependencies", "peerDependencies", "devDependencies")


def _npm(document: dict[str, Any], copies: int) -> dict[str, Any]:
    packages: dict[str, Any] = document["packages"]
    published = {
        location: entry
        for location, entry in packages.items()
        if location.startswith("node_modules/") and not entry.get("link")
    }
    names = {location.rsplit("node_modules/", 1)[-1] for location in published}
    out = dict(packages)
    root = json.loads(json.dumps(packages[""]))
    for copy in range(1, copies):

        def rename(name: str, copy: int = copy) -> str:
            return renamed(name, copy) if name in names else name

        for location, entry in published.items():
            parts = location.split("node_modules/")
            new_location = "node_modules/".join(
                [parts[0]] + [rename(part.rstrip("/")) + ("/" if part.endswith("/") else "") for part in parts[1:]]
            )
            copied = dict(entry)
            if "name" in copied:
                copied["name"] = rename(copied["name"])
            for field in _DEP_FIELDS:
                if field in copied:
                    copied[field] = {rename(dep): _npm_spec(spec, rename) for dep, spec in copied[field].items()}
            out[new_location] = copied
        holder = renamed(HOLDER, copy)
        holder_deps = {
            rename(dep): _npm_spec(spec, rename)
            for field in ("dependencies", "devDependencies", "optionalDependencies")
            for dep, spec in packages[""].get(field, {}).items()
            if dep in names and f"node_modules/{dep}" in published
        }
        out[f"node_modules/{holder}"] = {
            "version": "1.0.0",
            "resolved": f"https://registry.npmjs.test/{holder}/-/{holder}-1.0.0.tgz",
            "integrity": "sha512-" + "A" * 86 + "==",
            "dependencies": holder_deps,
        }
        root.setdefault("dependencies", {})[holder] = "1.0.0"
    out[""] = root
    return {"name": document.get("name", "scaled"), "lockfileVersion": 3, "requires": True, "packages": out}


def _npm_spec(spec: str, rename: Callable[[str], str]) -> str:
    if spec.startswith("npm:"):
        target, _, version = spec[4:].rpartition("@")
        if target:
            return f"npm:{rename(target)}@{version}"
    return spec


# -- pnpm 9 ----------------------------------------------------------------------------------------

_PNPM_LEADING = re.compile(r"^((?:@[^/@()]+/)?[^/@()]+)@")


def _pnpm(document: dict[str, Any], copies: int) -> dict[str, Any]:
    packages: dict[str, Any] = document.get("packages") or {}
    snapshots: dict[str, Any] = document.get("snapshots") or {}
    names = {m.group(1) for key in packages if (m := _PNPM_LEADING.match(key))}
    out_packages = dict(packages)
    out_snapshots = dict(snapshots)
    importers = json.loads(json.dumps(document["importers"]))
    root = importers["."]
    for copy in range(1, copies):

        def rename_id(text: str, copy: int = copy) -> str:
            # Only the leading name: a peer suffix "(react@18.2.0)" keeps naming copy 0's package, so
            # keys grow by a few characters only (pnpm's longest are close to YAML's 1024 limit).
            match = _PNPM_LEADING.match(text)
            if match is None or match.group(1) not in names:
                return text
            return renamed(match.group(1), copy) + text[match.end(1) :]

        def rename(name: str, copy: int = copy) -> str:
            return renamed(name, copy) if name in names else name

        for key, entry in packages.items():
            out_packages[rename_id(key)] = entry
        for key, entry in snapshots.items():
            copied = dict(entry or {})
            for field in ("dependencies", "optionalDependencies"):
                if isinstance(copied.get(field), dict):
                    deps = copied[field].items()
                    copied[field] = {rename(dep): _pnpm_version(version, rename_id) for dep, version in deps}
            out_snapshots[rename_id(key)] = copied
        holder = renamed(HOLDER, copy)
        holder_deps = {}
        for field in ("dependencies", "devDependencies", "optionalDependencies"):
            for dep, spec in (document["importers"]["."].get(field) or {}).items():
                version = spec.get("version", "") if isinstance(spec, dict) else ""
                if dep in names and not version.startswith(("link:", "file:")):
                    holder_deps[rename(dep)] = _pnpm_version(version, rename_id)
        out_packages[f"{holder}@1.0.0"] = {"resolution": {"integrity": "sha512-" + "A" * 86 + "=="}}
        out_snapshots[f"{holder}@1.0.0"] = {"dependencies": holder_deps}
        root.setdefault("dependencies", {})[holder] = {"specifier": "1.0.0", "version": "1.0.0"}
    return {**document, "importers": importers, "packages": out_packages, "snapshots": out_snapshots}


def _pnpm_version(version: str, rename_id: Callable[[str], str]) -> str:
    """A dependency's version: ``1.2.3(peer@1)`` stays; an alias's ``real@1.2.3`` gets the copy's name."""
    return rename_id(version) if _PNPM_LEADING.match(version) else version


# -- yarn berry ------------------------------------------------------------------------------------

_BERRY_NAME = re.compile(r"(^|[\s,:])((?:@[^/@\s,:]+/)?[^/@\s,:%#]+)@")


def _berry(document: dict[str, Any], copies: int) -> dict[str, Any]:
    entries = {key: entry for key, entry in document.items() if key != "__metadata"}
    copied_keys = [key for key, entry in entries.items() if "@workspace:" not in str(entry.get("resolution", ""))]
    names = {m.group(2) for key in copied_keys for m in _BERRY_NAME.finditer(key)}
    out = dict(document)
    root_key = next(key for key, entry in entries.items() if str(entry.get("resolution", "")).endswith("@workspace:."))
    root = json.loads(json.dumps(entries[root_key]))
    for copy in range(1, copies):

        def rename_text(text: str, copy: int = copy) -> str:
            return _BERRY_NAME.sub(
                lambda m: m.group(1) + (renamed(m.group(2), copy) if m.group(2) in names else m.group(2)) + "@", text
            )

        def rename(name: str, copy: int = copy) -> str:
            return renamed(name, copy) if name in names else name

        for key in copied_keys:
            entry = dict(entries[key])
            entry["resolution"] = rename_text(entry["resolution"])
            for field in ("dependencies", "peerDependencies"):
                if isinstance(entry.get(field), dict):
                    entry[field] = {rename(dep): rename_text(spec) for dep, spec in entry[field].items()}
            for field in ("dependenciesMeta", "peerDependenciesMeta"):
                if isinstance(entry.get(field), dict):
                    entry[field] = {rename_text(dep + "@").removesuffix("@"): v for dep, v in entry[field].items()}
            out[rename_text(key)] = entry
        holder = renamed(HOLDER, copy)
        holder_deps = {
            rename(dep): rename_text(spec)
            for dep, spec in (entries[root_key].get("dependencies") or {}).items()
            if dep in names and not spec.startswith("workspace:")
        }
        out[f"{holder}@npm:1.0.0"] = {
            "version": "1.0.0",
            "resolution": f"{holder}@npm:1.0.0",
            "dependencies": holder_deps,
            "checksum": "10/" + "0" * 128,
            "languageName": "node",
            "linkType": "hard",
        }
        root.setdefault("dependencies", {})[holder] = "npm:1.0.0"
    out[root_key] = root
    return out


# -- YAML out --------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z0-9_./^~][A-Za-z0-9_./^~+=<>@()-]*")


def _scalar(value: str) -> str:
    if _PLAIN.fullmatch(value) and value not in ("true", "false", "null", "yes", "no", "on", "off", "~"):
        return value
    return "'" + value.replace("'", "''") + "'"


def dump_yaml(document: dict[str, Any], *, blank_between: bool, header: str = "") -> str:
    lines = [header] if header else []

    def emit(value: Any, indent: int) -> None:
        pad = " " * indent
        for key, item in value.items():
            if isinstance(item, dict):
                if item:
                    lines.append(f"{pad}{_scalar(key)}:")
                    emit(item, indent + 2)
                else:
                    lines.append(f"{pad}{_scalar(key)}: {{}}")
            elif isinstance(item, list):
                if item:
                    lines.append(f"{pad}{_scalar(key)}:")
                    lines.extend(f"{pad}  - {_scalar(str(x))}" for x in item)
                else:
                    lines.append(f"{pad}{_scalar(key)}: []")
            else:
                lines.append(f"{pad}{_scalar(key)}: {_scalar(str(item))}")
            if indent == 0 and blank_between:
                lines.append("")

    emit(document, 0)
    return "\n".join(lines) + "\n"


# -- driver ----------------------------------------------------------------------------------------


def count_packages(fmt: str, text: str) -> int:
    if fmt == "npm":
        return sum(1 for location in json.loads(text)["packages"] if location)
    documents = load_documents(text)
    assert documents is not None
    document = documents[-1]
    if fmt == "pnpm":
        return len(document.get("packages") or {})
    return len(document) - 1


def generate(fmt: str, target: int, out: Path, shared: Path = DEFAULT_SHARED) -> Path:
    """The project folder holding a ``fmt`` lockfile of about ``target`` packages (made once)."""
    folder, stem, name = SOURCES[fmt]
    project = out / f"{fmt}-{target}"
    lockfile = project / name
    if lockfile.is_file():
        return project
    source = shared / "data" / "lockfiles" / folder / f"{stem}__{name}"
    text = source.read_text(encoding="utf-8")
    copies = max(1, math.ceil(target / count_packages(fmt, text)))
    if fmt == "npm":
        scaled = json.dumps(_npm(json.loads(text), copies), indent=2) + "\n"
    else:
        documents = load_documents(text)
        assert documents is not None, f"{source} left the fast YAML path"
        if fmt == "pnpm":
            scaled = dump_yaml(_pnpm(documents[-1], copies), blank_between=True)
        else:
            header = '# This file is generated by running "yarn install" inside your project.\n'
            scaled = dump_yaml(_berry(documents[0], copies), blank_between=True, header=header)
    project.mkdir(parents=True, exist_ok=True)
    partial = lockfile.with_name(lockfile.name + ".partial")
    partial.write_text(scaled, encoding="utf-8")
    partial.replace(lockfile)
    return project


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/npmaudit-scale"))
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    ap.add_argument("--formats", nargs="+", default=list(SOURCES))
    args = ap.parse_args()
    from npmaudit.project.loader import load_project

    for fmt in args.formats:
        for size in args.sizes:
            project = generate(fmt, size, args.out, args.shared)
            print(f"{fmt} {size}: {project} ({len(load_project(project).nodes)} nodes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
