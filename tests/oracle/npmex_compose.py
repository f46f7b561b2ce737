"""Compose an npm_ex ``npm.lock`` from a real package-lock.json, with npm's own groups as the oracle.

There is no real npm.lock in the shared corpus (npm_ex's users are Elixir projects), so the
fixtures under tests/fixtures/lockfiles/npmex/ are built from real npm lockfiles by this script:

    python tests/oracle/npmex_compose.py PACKAGE_LOCK PACKAGE_JSON OUT_DIR

It keeps what npm_ex records: one entry per name for the packages installed at the top of
node_modules (npm_ex does not record nested copies), with ``version``, ``integrity``,
``tarball`` (the package-lock's ``resolved``), ``dependencies`` (the package's dependencies,
optional ones included, as registry metadata lists them), ``optional_dependencies`` and
``has_install_script``, written the way npm_ex writes (keys sorted, 2-space indent, trailing
newline). package-lock v1 files give ``requires`` (optional ones included) and no optional
split; the optional names are then those the package-lock flags optional that the entry requires.

The oracle file ``expected.json`` holds, for every recorded name, npm's own flags from the same
package-lock (``dev``, ``optional``, ``devOptional``): what npm decided for that install.
OUT_DIR receives npm.lock, package.json (copied) and expected.json.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path


def _top_entries(lock: dict) -> dict[str, dict]:
    if "packages" in lock:
        entries = {}
        for location, entry in lock["packages"].items():
            if location.startswith("node_modules/") and "/node_modules/" not in location[len("node_modules/") :]:
                if entry.get("link"):
                    continue
                entries[location[len("node_modules/") :]] = {
                    "version": entry["version"],
                    "integrity": entry.get("integrity", ""),
                    "tarball": entry.get("resolved", ""),
                    "dependencies": {**entry.get("dependencies", {}), **entry.get("optionalDependencies", {})},
                    "optional_dependencies": entry.get("optionalDependencies", {}),
                    "has_install_script": bool(entry.get("hasInstallScript")),
                    "_flags": {flag: bool(entry.get(flag)) for flag in ("dev", "optional", "devOptional")},
                }
        return entries
    entries = {}
    optional_names = {name for name, entry in lock["dependencies"].items() if entry.get("optional")}
    for name, entry in lock["dependencies"].items():
        requires = entry.get("requires", {})
        entries[name] = {
            "version": entry["version"],
            "integrity": entry.get("integrity", ""),
            "tarball": entry.get("resolved", ""),
            "dependencies": requires,
            "optional_dependencies": {dep: spec for dep, spec in requires.items() if dep in optional_names},
            "has_install_script": False,
            "_flags": {"dev": bool(entry.get("dev")), "optional": bool(entry.get("optional")), "devOptional": False},
        }
    return entries


def main() -> None:
    package_lock, package_json, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    entries = _top_entries(json.loads(package_lock.read_text()))
    expected = {name: entry.pop("_flags") for name, entry in sorted(entries.items())}
    npm_lock = {
        "lockfileVersion": 1,
        "packages": entries,
        "policy": {
            "allow_registry_redirects": False,
            "allowed_registries": ["https://registry.npmjs.test"],
            "block_exotic_subdeps": True,
            "exotic_deps": [],
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "npm.lock").write_text(json.dumps(npm_lock, indent=2, sort_keys=True) + "\n")
    shutil.copy(package_json, out / "package.json")
    oracle = {"oracle": f"npm's dev/optional/devOptional flags in {package_lock.name}", "flags": expected}
    (out / "expected.json").write_text(json.dumps(oracle, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
