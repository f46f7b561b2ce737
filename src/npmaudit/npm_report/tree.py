"""The view of a project npm's AuditReport works on: arborist's inventory, edgesIn, isTop.

npmaudit's :class:`~npmaudit.project.model.Project` stores outgoing edges; npm's report walks
incoming ones and asks arborist questions (is this node a top — root, workspace folder or any
folder outside node_modules —, is it a link or the target of one, which top does it live under).
This module answers them once, from locations alone, the way arborist derives them from paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from npmaudit.project.model import Node, Project, SourceKind

# A location has a parent node exactly when it ends in node_modules/<name> (scoped or not).
_HAS_PARENT = re.compile(r"(?:^|/)node_modules/(?:@[^/]+/)?[^/]+$")


@dataclass(eq=False)
class TreeNode:
    """One inventory node; compared by identity, as arborist's Set members are."""

    node: Node
    location: str
    package_name: str
    version: str
    is_root: bool
    is_link: bool
    is_top: bool
    is_workspace: bool
    has_links_in: bool = False
    top: str = ""
    edges_in: list[tuple[TreeNode, str]] = field(default_factory=list)


@dataclass
class AuditTree:
    nodes: list[TreeNode]
    by_location: dict[str, TreeNode]
    by_name: dict[str, list[TreeNode]]

    def is_project_root_or_workspace(self, location: str) -> bool:
        found = self.by_location.get(location)
        return found is not None and (found.is_root or found.is_workspace)


def _top_of(location: str) -> str:
    while _HAS_PARENT.search(location):
        location = _HAS_PARENT.sub("", location)
    return location


def build_tree(project: Project) -> AuditTree:
    nodes: list[TreeNode] = []
    by_location: dict[str, TreeNode] = {}
    for location, node in project.nodes.items():
        is_root = node.is_root or location == ""
        tree_node = TreeNode(
            node=node,
            location=location,
            package_name=node.name,
            version=node.version,
            is_root=is_root,
            is_link=node.link_target is not None,
            is_top=is_root or not _HAS_PARENT.search(location),
            is_workspace=(not is_root and node.source is SourceKind.WORKSPACE and node.link_target is None),
            top=_top_of(location),
        )
        nodes.append(tree_node)
        by_location[location] = tree_node
    for tree_node in nodes:
        target = tree_node.node.link_target
        if target is not None and target in by_location:
            by_location[target].has_links_in = True
    for tree_node in nodes:
        for edge in tree_node.node.edges:
            if edge.to is not None and edge.to in by_location:
                by_location[edge.to].edges_in.append((tree_node, edge.spec))
    by_name: dict[str, list[TreeNode]] = {}
    for tree_node in nodes:
        by_name.setdefault(tree_node.package_name, []).append(tree_node)
    return AuditTree(nodes, by_location, by_name)


def should_audit(tree: AuditTree, node: TreeNode, omit: frozenset[str]) -> bool:
    """npm 11's ``AuditReport.shouldAudit``: versioned, not the root, not a link or a link's target,
    and not omitted — where nodes under a top that is neither the root nor a workspace (a linked
    project) are never omitted."""
    if not node.version or node.is_root or node.is_link or node.has_links_in:
        return False
    if not omit:
        return True
    if not tree.is_project_root_or_workspace(node.top):
        return True
    return not node.node.omitted_by(omit)
