"""Which advisory sources an audit uses, from flags, environment and the project config."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from npmaudit.advisories.source import AdvisorySource
from npmaudit.config import ProjectConfig, default_database_path


def local_database_path(args: argparse.Namespace, config: ProjectConfig) -> Path:
    """``--db`` > ``NPMAUDIT_DB`` > the project config's ``db`` > the shared cache."""
    if getattr(args, "db", None):
        return Path(args.db).expanduser()
    env = os.environ.get("NPMAUDIT_DB")
    if env:
        return Path(env).expanduser()
    configured = config.path_value("db")
    if configured is not None:
        return configured
    return default_database_path()


def select_sources(args: argparse.Namespace, config: ProjectConfig) -> list[AdvisorySource]:
    from npmaudit.advisories.local import open_local_database

    return [open_local_database(local_database_path(args, config))]
