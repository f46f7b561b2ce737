"""Ignore rules from where teams keep them: ``[[ignore]]`` tables of ``.npmaudit.toml``, audit-ci's
allowlist (``audit-ci.json`` / ``.jsonc``), better-npm-audit's ``.nsprc``, and ``--ignore ID``.

Every malformed entry is an error naming the file (and the entry's line where it can be told): an
ignore that silently does not apply, or silently applies forever, is worse than none. audit-ci and
better-npm-audit semantics are kept where they differ from ours (see ``docs/ci.md``): their records
need ``active: true`` (audit-ci) or default to active (.nsprc); their expiry is a JavaScript date or
epoch milliseconds; audit-ci's paths use ``*`` as "any text".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from npmaudit import TYPE_CHECKING, semver
from npmaudit.auditing.ignores import JUSTIFICATIONS, PATH_STYLE_AUDIT_CI, IgnoreRule
from npmaudit.config import IGNORE_KEYS
from npmaudit.errors import InputError
from npmaudit.textfile import read_text

if TYPE_CHECKING:
    from typing import Any

COMMAND_LINE_REASON = "given on the command line"


# -- .npmaudit.toml [[ignore]] tables


def rules_from_tables(path: Path, entries: Any) -> tuple[IgnoreRule, ...]:
    """The ``ignore`` array of a TOML file (``[[ignore]]`` tables), each validated, with its line."""
    if not isinstance(entries, list):
        raise InputError(path, "'ignore' must be an array of tables: [[ignore]] with id, reason (and expires)")
    lines = _entry_lines(path, entries)
    rules = []
    for index, entry in enumerate(entries):
        line = lines[index]
        if not isinstance(entry, dict):
            raise InputError(
                path, "each ignore must be a table with an id and a reason ([[ignore]] id = ..., reason = ...)", line
            )
        rules.append(_table_rule(path, entry, line))
    return tuple(rules)


def _table_rule(path: Path, entry: Mapping[str, Any], line: int | None) -> IgnoreRule:
    import difflib

    for key in entry:
        if key not in IGNORE_KEYS:
            close = difflib.get_close_matches(key, IGNORE_KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(IGNORE_KEYS)})"
            raise InputError(path, f"ignore: unknown key '{key}'{hint}", line)
    identifier = _text(path, entry, "id", line, required=True)
    reason = _text(path, entry, "reason", line, required=True)
    expires = entry.get("expires")
    if expires is not None and not isinstance(expires, date):
        raise InputError(
            path, f"ignore {identifier}: 'expires' must be a TOML date such as 2026-03-31 (no quotes)", line
        )
    version = _text(path, entry, "version", line)
    if version is not None and semver.valid_range(version, loose=True) is None:
        raise InputError(path, f"ignore {identifier}: 'version' is not a version or range: {version!r}", line)
    paths = entry.get("paths", [])
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not all(isinstance(p, str) and p.strip() for p in paths):
        raise InputError(path, f"ignore {identifier}: 'paths' must be a list of paths such as \"a>b>c\"", line)
    justification = _text(path, entry, "justification", line)
    if justification is not None and justification not in JUSTIFICATIONS:
        raise InputError(path, f"ignore {identifier}: 'justification' must be one of {', '.join(JUSTIFICATIONS)}", line)
    return IgnoreRule(
        id=identifier,
        reason=reason or "",
        origin=str(path),
        line=line,
        expires=expires,
        package=_text(path, entry, "package", line),
        version=version,
        paths=tuple(p.strip() for p in paths),
        justification=justification,
    )


def _text(path: Path, entry: Mapping[str, Any], key: str, line: int | None, *, required: bool = False) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        what = f"ignore {entry.get('id')}" if isinstance(entry.get("id"), str) and key != "id" else "ignore"
        raise InputError(path, f"{what}: '{key}' must be a non-empty string", line)
    return value.strip()


_TABLE_HEADER = re.compile(r"^\s*\[\[\s*ignore\s*\]\]")


def _entry_lines(path: Path, entries: list[Any]) -> list[int | None]:
    """Each entry's line: its ``[[ignore]]`` header, else (inline tables) the line naming its id."""
    try:
        text = read_text(path, "configuration file").splitlines()
    except InputError:
        return [None] * len(entries)
    headers = [number for number, line in enumerate(text, 1) if _TABLE_HEADER.match(line)]
    if len(headers) == len(entries):
        return list(headers)
    lines: list[int | None] = []
    start = 0
    for entry in entries:
        identifier = entry.get("id") if isinstance(entry, dict) else None
        found = None
        if isinstance(identifier, str):
            for number in range(start, len(text)):
                if identifier in text[number]:
                    found, start = number + 1, number + 1
                    break
        lines.append(found)
    return lines


# -- --ignore ID


def rules_from_flags(identifiers: Sequence[str]) -> tuple[IgnoreRule, ...]:
    rules = []
    for identifier in identifiers:
        for part in identifier.split(","):
            if part.strip():
                rules.append(IgnoreRule(id=part.strip(), reason=COMMAND_LINE_REASON, origin="--ignore"))
    return tuple(rules)


# -- --ignore-from PATH: audit-ci, .nsprc, or another npmaudit TOML file


def rules_from_file(path: Path) -> tuple[IgnoreRule, ...]:
    """Read ignores from audit-ci's config, a .nsprc, or a TOML file with ``[[ignore]]`` tables."""
    if path.suffix == ".toml":
        import tomllib

        try:
            data = tomllib.loads(read_text(path, "ignore file"))
        except tomllib.TOMLDecodeError as error:
            raise InputError(path, f"invalid TOML: {error}") from None
        if "ignore" not in data:
            raise InputError(path, "no [[ignore]] tables in this file")
        return rules_from_tables(path, data["ignore"])
    data = _load_jsonc(path)
    if not isinstance(data, dict):
        raise InputError(path, "expected a JSON object: audit-ci's config (with an 'allowlist') or a .nsprc")
    if "allowlist" in data:
        return _audit_ci_rules(path, data["allowlist"])
    if path.name.startswith("audit-ci"):
        raise InputError(path, "no 'allowlist' in this audit-ci config")
    return _nsprc_rules(path, data)


def _audit_ci_rules(path: Path, allowlist: Any) -> tuple[IgnoreRule, ...]:
    """audit-ci's allowlist: strings, or ``{"<id>": {active, notes, expiry}}`` records.

    An id with ``>`` or ``|`` is a path record (``GHSA-x|a>b>c``, ``*`` any text); one starting with
    GHSA an advisory; anything else a module (every advisory of that package). audit-ci rejects the
    old numeric npm advisory ids, and so does this reader.
    """
    if not isinstance(allowlist, list):
        raise InputError(path, "'allowlist' must be an array")
    rules = []
    seen: set[str] = set()
    for item in allowlist:
        if isinstance(item, str):
            key, record = item, None
        elif isinstance(item, dict) and len(item) == 1:
            key, record = next(iter(item.items()))
        else:
            raise InputError(path, f"allowlist: expected a string or a one-key object, not {json.dumps(item)[:80]}")
        if key in seen:
            continue  # audit-ci keeps the first of duplicate ids
        seen.add(key)
        if re.fullmatch(r"\d+", key.strip()):
            raise InputError(path, f"allowlist: {key} is an old numeric npm advisory id; use its GHSA id")
        notes, expires = _record(path, key, record, active_default=False) if record is not None else (None, None)
        if record is not None and notes is _INACTIVE:
            continue
        reason = notes if isinstance(notes, str) and notes else f"allowlisted in {path.name}"
        if ">" in key or "|" in key:
            advisory, _, template = key.partition("|") if "|" in key else ("*", "", key)
            rules.append(
                IgnoreRule(
                    id=None if advisory.strip() in ("", "*") else advisory.strip(),
                    reason=reason,
                    origin=str(path),
                    expires=expires,
                    paths=(template.strip(),),
                    path_style=PATH_STYLE_AUDIT_CI,
                )
            )
        elif key.upper().startswith("GHSA"):
            rules.append(IgnoreRule(id=key.strip(), reason=reason, origin=str(path), expires=expires))
        else:
            rules.append(IgnoreRule(id=None, reason=reason, origin=str(path), expires=expires, package=key.strip()))
    return tuple(rules)


_ADVISORY_URL = re.compile(r"/advisories/((?:GHSA|CVE)-[\w-]+)", re.IGNORECASE)


def _nsprc_rules(path: Path, data: Mapping[str, Any]) -> tuple[IgnoreRule, ...]:
    """better-npm-audit's exceptions: ``{"<id>": {active, notes, expiry} | "<notes>"}``; active by default.

    Keys may be GHSA or CVE ids, advisory URLs, or old numeric npm advisory ids (kept: they match no
    current record, so they are reported stale rather than dropped unseen).
    """
    rules = []
    for key, record in data.items():
        identifier = key.strip()
        url = _ADVISORY_URL.search(identifier)
        if url is not None:
            identifier = url.group(1)
        notes: str | None = record if isinstance(record, str) else None
        expires: datetime | None = None
        if not isinstance(record, str):
            notes, expires = _record(path, key, record, active_default=True)
            if notes is _INACTIVE:
                continue
        reason = notes if isinstance(notes, str) and notes else f"excepted in {path.name}"
        rules.append(IgnoreRule(id=identifier, reason=reason, origin=str(path), expires=expires))
    return tuple(rules)


_INACTIVE = "\0inactive"


def _record(path: Path, key: str, record: Any, *, active_default: bool) -> tuple[str | None, datetime | None]:
    """(notes, expiry) of an NSP-style record; notes is ``_INACTIVE`` for a record switched off."""
    if not isinstance(record, dict):
        raise InputError(path, f"{key}: expected an object with active, notes, expiry")
    active = record.get("active", active_default)
    if active is not True:
        return _INACTIVE, None
    notes = record.get("notes")
    expiry = record.get("expiry")
    return (notes if isinstance(notes, str) else None), (None if expiry is None else _js_date(path, key, expiry))


def _js_date(path: Path, key: str, value: Any) -> datetime:
    """An expiry as JavaScript's Date takes it: epoch milliseconds, an ISO date or time, or an RFC 2822 date."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            pass
        from email.utils import parsedate_to_datetime  # here: the email package (and socket) is 5 ms of imports

        try:
            moment = parsedate_to_datetime(text)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except (TypeError, ValueError):
            pass
    # audit-ci disables a record whose expiry it cannot read; an error says so instead of hiding it.
    raise InputError(path, f"{key}: cannot read the expiry {json.dumps(value)} (use a date such as 2026-03-31)")


def _load_jsonc(path: Path) -> Any:
    """JSON with comments and trailing commas (audit-ci.jsonc); plain JSON passes through unchanged."""
    text = read_text(path, "ignore file")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return json.loads(_strip_jsonc(text))
    except json.JSONDecodeError as error:
        raise InputError(path, f"invalid JSON: {error.msg}", error.lineno) from None


_JSONC_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|//[^\n]*|/\*.*?\*/', re.DOTALL)
_JSONC_TRAILING_COMMA = re.compile(r'"(?:[^"\\]|\\.)*"|,(?=\s*[}\]])')


def _strip_jsonc(text: str) -> str:
    """Comments out (their newlines kept, so error lines stay right), then commas before a closing bracket."""

    def uncomment(match: re.Match[str]) -> str:
        token = match.group(0)
        return token if token.startswith('"') else re.sub(r"[^\n]", " ", token)

    def drop_comma(match: re.Match[str]) -> str:
        token = match.group(0)
        return token if token.startswith('"') else ""

    return _JSONC_TRAILING_COMMA.sub(drop_comma, _JSONC_COMMENT.sub(uncomment, text))
