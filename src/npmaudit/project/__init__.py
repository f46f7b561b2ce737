"""The package model shared by every lockfile format, and the readers that fill it."""

from npmaudit.project.model import DepType, Edge, Node, PackageRef, Project, SourceKind

__all__ = ["DepType", "Edge", "Node", "PackageRef", "Project", "SourceKind"]
