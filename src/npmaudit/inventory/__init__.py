"""Incident response at fleet scale: "which of our projects contain this package, and where?".

* :mod:`.spec` reads a query (``name``, ``name@version``, ``name@range``, an advisory id).
* :mod:`.packages` turns a :class:`~npmaudit.project.model.Project` into the rows a query needs
  (name, version, install path, group, source kind, the chain from the root).
* :mod:`.files` answers a query over lockfiles on disk (``npmaudit query``), no inventory needed.
* :mod:`.store` keeps many projects' package sets in an inventory database (SQLite or
  PostgreSQL, one schema: :mod:`.schema`) and answers the same queries from it.
* :mod:`.reevaluate` matches every inventoried project against the advisory database and tells
  which projects became affected or clean since the last run.

Everything here takes values and returns values; ``npmaudit.cli.query_cmd`` and
``npmaudit.cli.inventory_cmd`` print.
"""
