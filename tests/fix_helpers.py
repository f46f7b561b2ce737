"""What the fix suites share: the packuments recorded for tests/fixtures/fix (their sources are in
tests/fixtures/fix/SOURCE.md), a registry on 127.0.0.1 serving them, and an environment with no
npmaudit setting from the caller's."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES
from servers.registry_server import RegistryServer

PACKUMENTS = FIXTURES / "fix" / "packuments.json.gz"


def recorded_documents() -> dict[str, Any]:
    """The recording as stored: a name the registry did not have maps to None."""
    with gzip.open(PACKUMENTS, "rt", encoding="utf-8") as stream:
        documents: dict[str, Any] = json.load(stream)
    return documents


def recorded_packuments() -> dict[str, Any]:
    """The packuments the registry had, by name."""
    return {name: doc for name, doc in recorded_documents().items() if doc is not None}


@contextmanager
def recorded_registry() -> Iterator[RegistryServer]:
    with RegistryServer(packuments=recorded_packuments()) as server:
        yield server


def isolate_fix_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache and none of the caller's npmaudit settings; ``tmp_path`` back."""
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("NPMAUDIT_POLICY", "NPMAUDIT_AUDIT_LEVEL", "NPMAUDIT_DB", "NODE_ENV", "NPMAUDIT_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path
