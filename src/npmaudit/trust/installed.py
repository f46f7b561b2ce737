"""node_modules against the lock (LV060), when the project has one installed: npm_ex's ``mix npm.verify``,
with versions and names compared (not only names) and never a pass on a tree nobody looked at.

npm lockfiles record install locations, so every location is compared (missing, another version, another
package). Other formats place packages their own way (pnpm's virtual store, yarn's hoisting): there the
direct dependencies of the root are compared at ``node_modules/<name>``. Optional packages may be absent
(platform-specific builds); anything installed at the top level that the lock does not know is extraneous.
"""

from __future__ import annotations

import json
from pathlib import Path

from npmaudit import textfile
from npmaudit.errors import InputError
from npmaudit.project.model import Node, Project, SourceKind

_NPM_FORMATS = ("package-lock", "npm-shrinkwrap", "hidden-lockfile")


def compare_installed(project: Project) -> tuple[str, list[tuple[str, str]]]:
    """(what was done, [(location, problem)])."""
    root = project.directory / "node_modules"
    if project.lockfile_format == "node-modules":
        return "not compared (the installed tree is what was read)", []
    if not root.is_dir():
        return "absent", []
    problems: list[tuple[str, str]] = []
    if project.lockfile_format.startswith(_NPM_FORMATS):
        nodes = [n for n in project.packages() if n.location.startswith("node_modules/")]
        known = {n.location for n in nodes}
    else:
        nodes = []
        for edge in project.root.edges:
            if edge.to is not None and edge.to in project.nodes:
                target = project.nodes[edge.to]
                nodes.append(target if target.location == f"node_modules/{edge.name}" else _at(target, edge.name))
        known = {f"node_modules/{n.install_name or n.name}" for n in nodes} | {
            f"node_modules/{n.install_name or n.name}" for n in project.packages()
        }
    for node in nodes:
        problem = _check(project.directory, node)
        if problem is not None:
            problems.append((node.location, problem))
    for location in _top_level(root):
        if location not in known:
            problems.append((location, "installed but not in the lockfile (extraneous)"))
    return "compared", problems


def _at(node: Node, name: str) -> Node:
    from npmaudit.records import replace

    return replace(node, location=f"node_modules/{name}", install_name=name)


def _check(directory: Path, node: Node) -> str | None:
    manifest = directory / node.location / "package.json"
    if node.source is SourceKind.LINK or node.link_target is not None:
        return None if (directory / node.location).exists() else "not installed (a link the lock records)"
    try:
        data = json.loads(textfile.read_bytes(manifest))  # a FIFO or a device is refused, never read
    except InputError as error:
        if error.problem in ("no such file", "broken symbolic link"):
            if node.optional or node.dev_optional:
                return None
            return f"not installed: the lock has {node.name}@{node.version}"
        return f"unreadable package.json ({error.problem})"
    except ValueError as error:
        return f"unreadable package.json ({type(error).__name__})"
    if not isinstance(data, dict):
        return "unreadable package.json (not an object)"
    name, version = data.get("name"), data.get("version")
    if name is not None and name != node.name:
        return f"installed {name}@{version}, the lock has {node.name}@{node.version}"
    if node.version and version != node.version:
        return f"installed version {version}, the lock has {node.version}"
    return None


def _top_level(root: Path) -> list[str]:
    found: list[str] = []
    for child in sorted(root.iterdir()):
        if child.name.startswith("."):
            continue
        if child.name.startswith("@") and child.is_dir():
            found.extend(
                f"node_modules/{child.name}/{c.name}" for c in sorted(child.iterdir()) if not c.name.startswith(".")
            )
        else:
            found.append(f"node_modules/{child.name}")
    return found
