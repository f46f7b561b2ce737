"""What ``npm ls --all`` and ``npm ci`` would object to in a tree, checked without npm.

* :func:`tree_problems`: every dependency edge that resolves to nothing (``missing``) or to a
  version its spec does not accept (``invalid``), as npm ls reports them; optional edges may be
  missing. A fix compares the count before and after: it must never add one.
* :func:`manifest_disagreements`: the root's declared dependencies (package.json) that the lockfile
  does not satisfy, as ``npm ci`` refuses them ("Missing: ... from lock file", "Invalid: lock
  file's ... does not satisfy ..."). Fixing a lockfile that disagrees with its package.json would
  fix the wrong tree: it is an input error.
"""

from __future__ import annotations

from npmaudit.fix.tree import registry_spec, spec_allows
from npmaudit.project.model import DepType, Edge, Node, Project

_MAY_BE_MISSING = (DepType.OPTIONAL, DepType.PEER_OPTIONAL)


def edge_problem(project: Project, node: Node, edge: Edge) -> str | None:
    if edge.to is None:
        if edge.type in _MAY_BE_MISSING or (edge.type is DepType.DEV and not project.is_top(node.location)):
            return None
        return "missing"
    target = project.nodes.get(edge.to)
    if target is None or target.link_target is not None or not target.is_registry:
        return None  # links, git and tarballs are judged by npm on their own terms
    if registry_spec(edge.spec) is None:
        return None
    return None if spec_allows(edge.spec, target.name, target.version) else "invalid"


def tree_problems(project: Project) -> list[str]:
    """``missing``/``invalid`` lines, one per bad edge: ``<from> -> name@spec: problem``."""
    found = []
    for node in project.nodes.values():
        if node.link_target is not None:
            continue
        for edge in node.edges:
            problem = edge_problem(project, node, edge)
            if problem is not None:
                found.append(f"{node.location or '(root)'} -> {edge.name}@{edge.spec}: {problem}")
    return found


def manifest_disagreements(project: Project) -> list[str]:
    root = project.root
    found = []
    for edge in root.edges:
        problem = edge_problem(project, root, edge)
        if problem == "missing":
            found.append(f"{edge.name}@{edge.spec} is missing from the lockfile")
        elif problem == "invalid" and edge.to is not None:
            locked = project.nodes[edge.to]
            found.append(f"the lockfile's {locked.name}@{locked.version} does not satisfy {edge.name}@{edge.spec}")
    return found
