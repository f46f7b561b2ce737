"""One audit run, start to end, as a value: what the CLI (or any caller) then prints and exits with."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from npmaudit.audit.engine import AuditResult, audit
from npmaudit.audit.policy import Verdict, judge
from npmaudit.config import ProjectConfig
from npmaudit.project.loader import detect_lockfile, load_project


@dataclass(frozen=True)
class AuditOptions:
    path: Path
    lockfile: Path | None
    omit: frozenset[str]
    policy: str
    level: str


@dataclass(frozen=True)
class AuditOutcome:
    result: AuditResult
    verdict: Verdict
    options: AuditOptions
    messages: list[str] = field(default_factory=list)  # for stderr, in order


def run_audit(options: AuditOptions, args: argparse.Namespace, config: ProjectConfig) -> AuditOutcome:
    """Read the project, query the selected sources, match, write back what was asked, judge."""
    from npmaudit.audit.writeback import apply_writes
    from npmaudit.sources import select_sources

    messages = []
    lockfile = options.lockfile
    if lockfile is None and options.path.is_dir():
        detection = detect_lockfile(options.path)
        lockfile = detection.lockfile
        if detection.others:
            others = ", ".join(str(p) for p in detection.others)
            messages.append(f"read {lockfile} ({detection.reason}); also present, not read: {others}")
    project = load_project(options.path, lockfile)
    sources = select_sources(args, config)
    result = audit(project, sources, options.omit)
    messages.extend(apply_writes(args, config, result))
    verdict = judge(result.findings, options.policy, options.level)
    return AuditOutcome(result, verdict, options, messages)
