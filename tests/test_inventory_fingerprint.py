"""A package set's fingerprint (what tells a changed project from an unchanged one) and its UTF-8
check, taken in one pass over the set's columns: every stored column counts, a text moved across
the boundary between two columns or two rows is a change, and a lone surrogate is seen."""

from __future__ import annotations

import pytest

from npmaudit.inventory.ingest import read_entry
from npmaudit.inventory.packages import PackageRow, PackageSet
from npmaudit.records import replace
from test_inventory_storage import SHOP


def shop() -> PackageSet:
    return read_entry(SHOP, location="shop").packages


def test_the_same_rows_read_twice_have_the_same_fingerprint() -> None:
    first, second = shop(), shop()
    assert first.rows == second.rows and first is not second
    assert first.fingerprint == second.fingerprint and len(first.fingerprint) == 64
    assert first.is_utf8


@pytest.mark.parametrize(
    "change",
    [
        {"version": "9.9.9"},
        {"location": "node_modules/elsewhere"},
        {"source": "tarball"},
        {"flags": 15},
        {"parent": None},
    ],
    ids=["version", "location", "source", "flags", "parent"],
)
def test_each_stored_column_changes_the_fingerprint(change: dict[str, object]) -> None:
    packages = shop()
    rows = list(packages.rows)
    rows[1] = replace(rows[1], **change)  # type: ignore[arg-type]
    assert rows[1] != packages.rows[1]
    assert PackageSet(packages.lockfile_format, tuple(rows)).fingerprint != packages.fingerprint


def test_the_lockfile_format_changes_the_fingerprint() -> None:
    packages = shop()
    assert PackageSet("yarn-berry", packages.rows).fingerprint != packages.fingerprint


def test_text_moved_across_a_boundary_is_a_change() -> None:
    """Columns are hashed joined: each text's length is hashed too, so "ab" + "c" is not "a" + "bc"."""

    def one(name: str, version: str, second: str) -> PackageSet:
        rows = (
            PackageRow(0, "app", "", "", "directory", 0, None),
            PackageRow(1, name, version, f"node_modules/{name}", "registry", 0, 0),
            PackageRow(2, second, "1.0.0", f"node_modules/{second}", "registry", 0, 0),
        )
        return PackageSet("npm-v3", rows)

    assert one("ab", "1.0.0", "c").fingerprint != one("a", "1.0.0", "bc").fingerprint
    assert one("ab", "1.0.0", "c").fingerprint == one("ab", "1.0.0", "c").fingerprint


def test_a_lone_surrogate_is_not_utf8_and_still_fingerprinted() -> None:
    packages = shop()
    rows = list(packages.rows)
    rows[1] = replace(rows[1], name="\ud800evil")
    hostile = PackageSet(packages.lockfile_format, tuple(rows))
    assert not hostile.is_utf8
    assert len(hostile.fingerprint) == 64 and hostile.fingerprint != packages.fingerprint
