"""What a PostgreSQL add writes, seen from the server: a changed add rewrites exactly the rows that
changed, not their descendants (the others keep the row version the first add wrote), and interning pairs in a statement
of its own leaves the connection's later commits durable."""

from __future__ import annotations

import psycopg

from npmaudit.inventory.ingest import read_entry
from npmaudit.inventory.packages import PackageSet
from npmaudit.inventory.store import Inventory
from npmaudit.records import replace
from servers.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)
from test_inventory_storage import SHOP


def row_versions(inventory: Inventory) -> dict[int, tuple[str, str]]:
    """Each stored node's transaction id (xmin, which a rewrite changes) and physical place."""
    return {
        node: (str(xmin), str(ctid))
        for node, xmin, ctid in inventory.backend.execute("SELECT node, xmin::text, ctid::text FROM packages")
    }


def test_a_changed_add_rewrites_only_the_rows_that_changed(postgres_url: str) -> None:  # noqa: F811
    """The shop's mocha moves to a new version: its row (new package id) and the root's (which
    lists the package ids of the project's parents) are deleted and copied again; mocha's
    descendants, whose chains name its slot in that list and not its version, and every other row
    keep the row version the first add wrote."""
    before = read_entry(SHOP, location="shop")
    rows = tuple(replace(row, version="10.2.1") if row.name == "mocha" else row for row in before.packages.rows)
    after = replace(before, packages=PackageSet(before.packages.lockfile_format, rows))
    moved = {row.node for row in rows if row.name == "mocha"}
    assert {row.node for row in rows if row.parent in moved}  # mocha has descendants, left alone
    moved.add(0)  # the root's row: its list of parents holds mocha's package id
    with Inventory.open(postgres_url, create=True) as inventory:
        assert inventory.add(before).status == "added"
        first = row_versions(inventory)
        assert inventory.add(after).status == "replaced"
        second = row_versions(inventory)
    assert first.keys() == second.keys() == {row.node for row in rows}
    assert {node for node in first if first[node] != second[node]} == moved


def test_interning_on_its_own_leaves_later_commits_durable(postgres_url: str) -> None:  # noqa: F811
    """The interning statement turns the log flush off for its own commit only: the session's
    setting is unchanged after it, inside a write transaction it is never turned off, and the pairs
    it committed are visible to another connection at once."""
    with Inventory.open(postgres_url, create=True) as inventory:
        db = inventory.backend
        first = db.intern([("left-pad", "1.3.0"), ("debug", "4.3.4")])
        assert db.execute("SHOW synchronous_commit") == [("on",)]
        with db.transaction(write=True):
            db.intern([("ms", "2.1.2")], in_transaction=True)
            assert db.execute("SHOW synchronous_commit") == [("on",)]
        with psycopg.connect(postgres_url, autocommit=True) as other:
            seen = dict(
                ((name, version), identifier)
                for identifier, name, version in other.execute("SELECT id, name, version FROM package_versions")
            )
    assert {pair: seen[pair] for pair in first} == first and ("ms", "2.1.2") in seen
