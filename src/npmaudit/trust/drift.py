"""package.json against the lock (LV003): what ``npm ci`` refuses as "not in sync".

For the root and every workspace member, each declared dependency must resolve to a locked entry that
satisfies its spec, with arborist's rule (``depValid``: ``*`` takes anything, else node-semver with
``loose``). Aliases (``npm:real@range``) must lock ``real``. Optional and peer dependencies may be absent.
Specs that name no registry version (git, URLs, paths, dist-tags) are not judged here: their source
checks (LV051, LV052, LV017) cover them, and a tag cannot be resolved offline.
"""

from __future__ import annotations

from collections.abc import Iterator

from npmaudit import semver
from npmaudit.project.model import DepType, Edge, Node, Project, SourceKind
from npmaudit.project.readers.npm.spec import SpecType, alias_target, spec_type

_MAY_BE_ABSENT = frozenset({DepType.OPTIONAL, DepType.PEER, DepType.PEER_OPTIONAL})


def unsatisfied(project: Project) -> Iterator[tuple[Node, Edge, str]]:
    """(top node, edge, problem) for every declared dependency the lock does not satisfy."""
    for top in project.nodes.values():
        if not project.is_top(top.location):
            continue
        for edge in top.edges:
            problem = _problem(project, edge)
            if problem is not None:
                yield top, edge, problem


def _unlisted_workspaces(project: Project) -> bool:
    """yarn v1 does not lock workspace members: read without its checkout, a dependency on one looks
    missing. Such a project's missing dependencies cannot be judged from the lockfile."""
    if not project.lockfile_format.startswith("yarn-v1"):
        return False
    from npmaudit.project.manifest import read_manifest

    try:
        manifest = read_manifest(project.directory / "package.json")
    except Exception:  # the reader already judged the manifest; here it only decides what can be known
        return False
    return bool(manifest and manifest.get("workspaces"))


def _problem(project: Project, edge: Edge) -> str | None:
    spec = edge.spec.strip()
    if spec.startswith(("workspace:", "link:", "portal:", "patch:", "catalog:")):
        return None  # yarn/pnpm protocols that name no registry version
    try:
        kind = spec_type(spec) if spec else SpecType.RANGE
    except ValueError:
        return None
    wanted_name = edge.name
    if kind is SpecType.ALIAS and semver.valid_range(spec[len("npm:") :], loose=True) is not None:
        spec, kind = spec[len("npm:") :], SpecType.RANGE  # yarn berry's npm: protocol with a bare range
    if kind is SpecType.ALIAS:
        wanted_name, spec = alias_target(spec)
        kind = SpecType.RANGE
    if kind not in (SpecType.RANGE, SpecType.VERSION):
        return None
    if edge.to is None:
        if edge.type in _MAY_BE_ABSENT or _unlisted_workspaces(project):
            return None
        return f"{edge.name}@{edge.spec} is missing from the lockfile"
    node = project.nodes.get(edge.to)
    if node is None:
        return f"{edge.name}@{edge.spec} resolves to {edge.to}, which the lockfile lacks"
    while node.link_target is not None and node.link_target in project.nodes and node.link_target != node.location:
        node = project.nodes[node.link_target]
    if node.source in (
        SourceKind.WORKSPACE,
        SourceKind.ROOT,
        SourceKind.LINK,
        SourceKind.DIRECTORY,
        SourceKind.LOCAL_TARBALL,
    ):
        return None  # a local package satisfies its spec by being the folder asked for
    if node.name != wanted_name:
        return f"{edge.name}@{edge.spec} is locked as {node.name}@{node.version}"
    if spec in ("", "*", "latest") or not node.version:
        return None
    if semver.valid_range(spec, loose=True) is None:
        return None  # a dist-tag: cannot be resolved offline
    if not semver.satisfies(node.version, spec, loose=True):
        return f"{edge.name}@{edge.spec} is locked at {node.version}, which does not satisfy it"
    return None
