"""Find advisories by id or alias in the local advisory database (the SQLite store or a JSON database).

The store keys each record by its id, so an id is found without reading anything else: its row
names the packages it affects, and the store's own lookup by name returns the parsed record (with
any other record that shares the id as an alias). An id that is only someone's alias (a CVE that
a GHSA record lists) needs every record read once; that slower path runs only for such ids.
An id found nowhere is an error naming the database: a query must never answer "nobody has it"
about an advisory it could not read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from npmaudit.advisories.jsondb import JsonDatabase
from npmaudit.advisories.local import open_local_database
from npmaudit.advisories.model import Advisory, AdvisoryFormatError
from npmaudit.advisories.record_times import RefusedRecord
from npmaudit.advisories.store import AdvisoryStore
from npmaudit.errors import InputError


def find_advisories(
    database: Path,
    ids: Sequence[str],
    *,
    is_default: bool = False,
    max_db_age: float | None = None,
    messages: list[str] | None = None,
) -> dict[str, list[Advisory]]:
    """Every record whose id or alias is one of ``ids``, by asked id. Missing ids raise InputError.

    The database's age is checked as ``audit`` checks it: older than ``max_db_age`` days is a
    :class:`~npmaudit.errors.SourceError` (an old copy of an advisory may lack the versions added
    since); older than a week is a note appended to ``messages``."""
    from npmaudit.auditing.freshness import check_freshness

    source = open_local_database(database, is_default=is_default)
    try:
        notes = check_freshness([source.info()], max_db_age)
    except BaseException:
        if isinstance(source, AdvisoryStore):
            source.close()
        raise
    if messages is not None:
        messages.extend(notes)
    if isinstance(source, AdvisoryStore):
        try:
            found = _from_store(source, ids)
        finally:
            source.close()
    elif isinstance(source, JsonDatabase):  # read once when it was opened: the records an audit uses
        found = _collect(ids, source.advisories())
    else:  # open_local_database opens nothing else
        raise TypeError(f"unexpected advisory source {type(source).__name__}")
    missing = [advisory_id for advisory_id in ids if not found.get(advisory_id)]
    if missing:
        refused = source.refused if isinstance(source, JsonDatabase) else ()  # the store keeps no refused record
        raise InputError(database, _not_found(missing[0], refused))
    return found


def _not_found(advisory_id: str, refused_records: Sequence[RefusedRecord]) -> str:
    """Why ``advisory_id`` cannot be answered: absent, or present but refused when the database was read
    (a record dated in the future), which the user must hear about rather than "not in this database"."""
    refused = [item for item in refused_records if item.key == advisory_id]
    if refused:
        return (
            f"advisory {advisory_id} is in this advisory database but was refused ({refused[0].reason}), "
            "so no query can be answered from it: correct or remove the record"
        )
    return f"advisory {advisory_id} is not in this advisory database (by id or alias)"


def _from_store(store: AdvisoryStore, ids: Sequence[str]) -> dict[str, list[Advisory]]:
    names = _names_by_key(store.path, ids)
    found: dict[str, list[Advisory]] = {}
    if names:
        by_name = store.lookup(sorted(names))
        found = _collect(ids, (a for records in by_name.values() for a in records))
    aliases_only = [advisory_id for advisory_id in ids if not found.get(advisory_id)]
    if aliases_only:
        for advisory_id, records in _collect(aliases_only, _parsed(store.path, store.iter_records())).items():
            found.setdefault(advisory_id, []).extend(records)
    return found


def _names_by_key(path: Path, ids: Sequence[str]) -> set[str]:
    """The package names of the records stored under these ids (the store's ``advisories.names``)."""
    try:
        connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise InputError(path, f"cannot open the advisory store: {error}") from None
    try:
        marks = ",".join("?" * len(ids))
        rows = connection.execute(f"SELECT names FROM advisories WHERE key IN ({marks})", list(ids)).fetchall()
    except sqlite3.Error as error:
        raise InputError(path, f"advisory store: {error}") from None
    finally:
        connection.close()
    return {name for (names,) in rows if names for name in str(names).split("\n") if name}


def _parsed(path: Path, records: Iterable[object]) -> Iterable[Advisory]:
    for index, record in enumerate(records):
        try:
            yield Advisory.from_osv(record)
        except AdvisoryFormatError as error:
            raise InputError(path, f"advisory #{index + 1}: {error}") from None


def _collect(ids: Sequence[str], advisories: Iterable[Advisory]) -> dict[str, list[Advisory]]:
    wanted = set(ids)
    found: dict[str, list[Advisory]] = {}
    seen: set[tuple[str, str]] = set()
    for advisory in advisories:
        for advisory_id in advisory.ids & wanted:
            if (advisory_id, advisory.id + advisory.modified) in seen:
                continue  # a record listed under several of its package names
            seen.add((advisory_id, advisory.id + advisory.modified))
            found.setdefault(advisory_id, []).append(advisory)
    return found


def finder(database: Path, *, is_default: bool = False, max_db_age: float | None = None) -> Finder:
    """A :data:`~npmaudit.inventory.spec.AdvisoryFinder` over ``database``; what it has to say about
    the database (its age) is in :attr:`Finder.messages` once it was used."""
    return Finder(database, is_default, max_db_age)


class Finder:
    def __init__(self, database: Path, is_default: bool, max_db_age: float | None) -> None:
        self.database = database
        self.is_default = is_default
        self.max_db_age = max_db_age
        self.messages: list[str] = []

    def __call__(self, ids: Sequence[str]) -> Mapping[str, Sequence[Advisory]]:
        return find_advisories(
            self.database, ids, is_default=self.is_default, max_db_age=self.max_db_age, messages=self.messages
        )
