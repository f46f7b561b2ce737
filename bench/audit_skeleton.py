"""What any offline audit of an npm lockfile must do, and nothing else: a reference for bench/speed.py.

    python bench/audit_skeleton.py LOCKFILE STORE

Imports the standard modules an audit needs (argument parsing, paths, SQLite, zlib, dates,
signals, JSON), loads the lockfile, makes one tuple per installed package (its location, folder
name, version, resolved URL, integrity, dev flag and dependency names), runs the store's lookup
query for those names (the rows are fetched, not inflated or parsed) and prints two counts. No
resolution, no checks, no matching, no report: the time of this process is what is left of the
offline audit once everything npmaudit itself does is taken away, so the audit can never be
cheaper than it. Only the store's schema (src/npmaudit/advisories/store_sqlite.py) is shared with
the package; nothing of npmaudit is imported.
"""

import argparse  # noqa: F401  (imported for its cost: the audit parses its command line)
import datetime  # noqa: F401  (the audit dates its data)
import json
import pathlib  # noqa: F401  (the audit's paths)
import signal  # noqa: F401  (the audit handles SIGTERM)
import sqlite3
import sys
import zlib  # noqa: F401  (the audit inflates records)

CHUNK = 500  # names per query, as the store asks


def main(lockfile: str, store: str) -> None:
    with open(lockfile, encoding="utf-8") as stream:
        packages = json.load(stream)["packages"]
    names = set()
    rows = []
    for location, entry in packages.items():
        if not location:
            continue
        name = location.rpartition("node_modules/")[2]
        names.add(name)
        rows.append(
            (
                location,
                name,
                entry.get("version"),
                entry.get("resolved"),
                entry.get("integrity"),
                entry.get("dev", False),
                tuple(entry.get("dependencies") or ()),
            )
        )
    connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    asked = sorted(names)
    found = 0
    for start in range(0, len(asked), CHUNK):
        chunk = asked[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        query = (
            "SELECT a.name, v.key, v.modified, v.record FROM affected a JOIN advisories v ON v.key = a.key "
            f"WHERE a.name IN ({marks})"
        )
        found += len(connection.execute(query, chunk).fetchall())
    connection.close()
    print(json.dumps({"packages": len(rows), "rows": found}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
