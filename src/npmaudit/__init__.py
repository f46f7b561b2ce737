"""npmaudit: audit npm-ecosystem projects for vulnerable and malicious dependencies.

The public API is what ``__all__`` lists (see ``npmaudit.api`` and the README's "Python API"):
:func:`audit_project` for the common case, and the pieces under it — read a project
(:func:`load_project`), open advisories (:func:`open_database`), match (:func:`audit`), judge
(:func:`judge`), render (:func:`render`). Across many projects: :func:`query` (lockfiles on disk)
and :func:`open_inventory` (an inventory database: add, remove, list, query, re-evaluate); and
:func:`fix_project`. Every other module is internal and may change.
Names are loaded on first use, so importing the package costs nothing the command line does not need.
"""

from __future__ import annotations

import importlib

# Not typing.TYPE_CHECKING: importing typing is a tenth of `npmaudit --help` (mypy treats any
# constant of this name as true).
TYPE_CHECKING = False

__version__ = "0.1.0"

_EXPORTS = {
    "audit_project": "npmaudit.api",
    "AuditReport": "npmaudit.api",
    "SOURCE_NAMES": "npmaudit.api",
    "load_project": "npmaudit.api",
    "open_database": "npmaudit.api",
    "audit": "npmaudit.api",
    "judge": "npmaudit.api",
    "render": "npmaudit.api",
    "query": "npmaudit.api",
    "open_inventory": "npmaudit.api",
    "Inventory": "npmaudit.api",
    "fix_project": "npmaudit.api",
    "QueryResult": "npmaudit.inventory.results",
    "AddReport": "npmaudit.inventory.ingest",
    "ProjectRecord": "npmaudit.inventory.store",
    "AuditRun": "npmaudit.inventory.reevaluate",
    "FixResult": "npmaudit.fix.model",
    "Settings": "npmaudit.settings",
    "Project": "npmaudit.project.model",
    "Node": "npmaudit.project.model",
    "Finding": "npmaudit.auditing.engine",
    "AuditResult": "npmaudit.auditing.engine",
    "Verdict": "npmaudit.auditing.policy",
    "Advisory": "npmaudit.advisories.model",
    "Severity": "npmaudit.advisories.model",
    "AdvisorySource": "npmaudit.advisories.source",
    "SourceInfo": "npmaudit.advisories.source",
    "NpmauditError": "npmaudit.errors",
    "InputError": "npmaudit.errors",
    "SourceError": "npmaudit.errors",
    "UsageError": "npmaudit.errors",
}

__all__ = [
    "SOURCE_NAMES",
    "AddReport",
    "Advisory",
    "AdvisorySource",
    "AuditReport",
    "AuditResult",
    "AuditRun",
    "Finding",
    "FixResult",
    "InputError",
    "Inventory",
    "Node",
    "NpmauditError",
    "Project",
    "ProjectRecord",
    "QueryResult",
    "Settings",
    "Severity",
    "SourceError",
    "SourceInfo",
    "UsageError",
    "Verdict",
    "__version__",
    "audit",
    "audit_project",
    "fix_project",
    "judge",
    "load_project",
    "open_database",
    "open_inventory",
    "query",
    "render",
]

if TYPE_CHECKING:
    from typing import Any

    from npmaudit.advisories.model import Advisory, Severity
    from npmaudit.advisories.source import AdvisorySource, SourceInfo
    from npmaudit.api import (
        SOURCE_NAMES,
        AuditReport,
        Inventory,
        audit,
        audit_project,
        fix_project,
        judge,
        load_project,
        open_database,
        open_inventory,
        query,
        render,
    )
    from npmaudit.auditing.engine import AuditResult, Finding
    from npmaudit.auditing.policy import Verdict
    from npmaudit.errors import InputError, NpmauditError, SourceError, UsageError
    from npmaudit.fix.model import FixResult
    from npmaudit.inventory.ingest import AddReport
    from npmaudit.inventory.reevaluate import AuditRun
    from npmaudit.inventory.results import QueryResult
    from npmaudit.inventory.store import ProjectRecord
    from npmaudit.project.model import Node, Project
    from npmaudit.settings import Settings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'npmaudit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
