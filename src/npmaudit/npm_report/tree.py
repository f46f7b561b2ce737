"""The view of a project npm's AuditReport works on: arborist's inventory, edgesIn, isTop.

npmaudit's :class:`~npmaudit.project.model.Project` stores outgoing edges; npm's report walks
incoming ones and asks arborist questions (is this node a top — root, workspace folder or any
folder outside node_modules —, is it a link or the target of one, which top does it live under).
This module answers them once, from locations alone, the way arborist derives them from paths.
"""

from __future__ import annotations

from npmaudit.project import npm_tree
from npmaudit.project.model import Node, Project, SourceKind
from npmaudit.project.npm_tree import is_top, top_of
from npmaudit.records import field, record_class


@record_class(eq=False)
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


@record_class
class AuditTree:
    project: Project
    nodes: list[TreeNode]
    by_location: dict[str, TreeNode]
    by_name: dict[str, list[TreeNode]]
    link_targets: frozenset[str]

    def is_project_root_or_workspace(self, location: str) -> bool:
        found = self.by_location.get(location)
        return found is not None and (found.is_root or found.is_workspace)


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
            is_top=is_root or is_top(location),
            is_workspace=(not is_root and node.source is SourceKind.WORKSPACE and node.link_target is None),
            top=top_of(location),
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
    return AuditTree(project, nodes, by_location, by_name, npm_tree.link_targets(project.nodes.values()))


def should_audit(tree: AuditTree, node: TreeNode, omit: frozenset[str]) -> bool:
    """npm 11's ``AuditReport.shouldAudit`` (the rule the bulk payload follows too)."""
    return npm_tree.should_audit(tree.project, node.node, omit, tree.link_targets)
