"""npm's tree rules, derived from install locations: one view shared by the npm lockfile reader, the
registry bulk payload and npm's report (docs/npm-audit.md).

arborist decides from paths alone whether a node is a *top* (the root, or a folder outside any
``node_modules``), which top a node lives under, and whether npm 11 audits it (``shouldAudit``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from npmaudit.project.model import Node, Project, SourceKind

# A location has a parent package exactly when it ends in node_modules/<name> (scoped or not).
UNDER_NODE_MODULES = re.compile(r"(?:^|/)node_modules/(?:@[^/]+/)?[^/]+$")


def is_top(location: str) -> bool:
    """A node with no parent package: the root and folders outside node_modules (arborist's isTop)."""
    return location == "" or not UNDER_NODE_MODULES.search(location)


def top_of(location: str) -> str:
    """arborist's ``node.top``: the top whose node_modules (at any depth) holds the location."""
    while UNDER_NODE_MODULES.search(location):
        location = UNDER_NODE_MODULES.sub("", location)
    return location


def link_targets(nodes: Iterable[Node]) -> frozenset[str]:
    """Locations some link points at (npm 11 never audits them: they are the project's own folders)."""
    return frozenset(node.link_target for node in nodes if node.link_target is not None)


def should_audit(project: Project, node: Node, omit: frozenset[str], targets: frozenset[str]) -> bool:
    """npm 11's ``shouldAudit``: versioned, not the root, not a link nor a link's target nor a
    workspace member, and not omitted — where nodes under a top that is neither the root nor a
    workspace (inside a linked project) are never omitted. ``targets``: :func:`link_targets`."""
    if node.is_root or not node.version:
        return False
    if node.link_target is not None or node.source is SourceKind.LINK or node.location in targets:
        return False
    if node.source is SourceKind.WORKSPACE:  # a workspace member is a link target in npm's tree
        return False
    if not omit:
        return True
    top = project.nodes.get(top_of(node.location))
    if top is None or not (top.is_root or top.source is SourceKind.WORKSPACE):
        return True
    return not node.omitted_by(omit)
