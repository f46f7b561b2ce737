"""Write back what an audit matched: ``--write PATH`` merges into a project-local JSON database,
``--write-cache`` into the shared SQLite store in the user cache directory (the seed's refresh
pattern: what an online audit learned is there for the next offline one)."""

from __future__ import annotations

from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.auditing.engine import AuditResult
from npmaudit.settings import Settings

if TYPE_CHECKING:
    from typing import Any


def matched_records(result: AuditResult) -> list[dict[str, Any]]:
    """The full original records of every advisory that matched (all ids of each group)."""
    records: dict[tuple[str, str], dict[str, Any]] = {}
    for finding in result.findings:
        for advisory in finding.records:
            if advisory.record:
                records[(advisory.id, advisory.modified)] = dict(advisory.record)
    return list(records.values())


def apply_writes(settings: Settings, result: AuditResult) -> list[str]:
    """Perform the requested write-backs; returns the messages to show on stderr."""
    messages: list[str] = []
    if settings.write is None and not settings.write_cache:
        return messages  # nothing asked: no record is gathered
    records = matched_records(result)
    if settings.write is not None and not records and not settings.write.exists():
        # An empty database would fail every later audit that reads it (it holds nothing to check).
        messages.append(f"no advisory matched: {settings.write} was not created (it would hold no records)")
    elif settings.write is not None:
        from npmaudit.advisories.jsondb import merge_into_json_database  # only for --write

        merged = merge_into_json_database(settings.write, records)
        messages.extend(merged.messages())
        messages.append(
            f"merged {merged.added + merged.updated} advisories into {merged.path} "
            f"({merged.added} added, {merged.updated} updated, {merged.total} total)"
        )
    if settings.write_cache:
        messages.append(write_cache(settings.default_store, records))
    return messages


def write_cache(path: Path, records: list[dict[str, Any]]) -> str:
    from npmaudit.advisories.store import write_records

    merged = write_records(path, records, location="audit --write-cache")
    return (
        f"merged {merged.added + merged.changed} advisories into {path} "
        f"({merged.added} added, {merged.changed} updated, {merged.total} total)"
    )
