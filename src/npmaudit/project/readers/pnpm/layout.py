"""npm-shaped install locations for a lockfile that has none (pnpm keeps packages in a virtual store).

Reports and ``Project.chain`` read locations the way npm writes them, so every package gets one:

1. The graph is walked breadth-first from the importers (the root first, then the workspace members
   in the lockfile's order), each one's dependencies in lockfile order; entries no importer reaches
   are walked afterwards, in key order. The walk fixes, for every entry, its *first dependent* and the
   name that dependent uses for it.
2. Each entry gets a folder name: its real name when some dependent requires it by that name,
   otherwise the first alias it is required under (``"x": "npm:real@1"`` installs at ``x``).
3. Entries sharing a folder name compete for ``node_modules/<folder>``. The winner is the one the root
   importer depends on directly under that name, else the one the first workspace member depends on,
   else the one with the most dependents (ties: the first reached). A folder name with a single entry
   is simply hoisted.
4. Every other entry nests under its first dependent, with the name that dependent uses:
   ``<dependent location>/node_modules/<name>`` (``packages/app/node_modules/x`` under a workspace
   member). Should that place be taken (possible only through aliases), the entry goes to pnpm's
   own, always unique, virtual-store path ``node_modules/.pnpm/<key>/node_modules/<name>``.

The result is stable for a given lockfile: it depends only on the lockfile's contents and order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

# (name the dependent uses, key of the entry it resolves to)
Requirement = tuple[str, str]


def synthesise_locations(
    importers: Sequence[tuple[str, Sequence[Requirement]]],
    entries: Mapping[str, tuple[str, Sequence[Requirement]]],
    taken: Iterable[str] = (),
) -> dict[str, str]:
    """Map each entry key to a location.

    ``importers`` are (location, requirements) in priority order, the root (``""``) first;
    ``entries`` maps a key to (real package name, requirements); ``taken`` are locations already
    used by other nodes (importers, links).
    """
    order, first_dependent, names_used, dependents = _walk(importers, entries)
    folder = {}
    for key in order:
        used = names_used.get(key, [])
        real = entries[key][0]
        folder[key] = real if real in used or not used else used[0]
    hoisted = _choose_hoisted(importers, order, folder, dependents)

    occupied = set(taken)
    occupied.update(f"node_modules/{name}" for name in hoisted)
    location: dict[str, str] = {}
    for key in order:
        name = folder[key]
        if hoisted[name] == key:
            location[key] = f"node_modules/{name}"
            continue
        candidate = None
        if key in first_dependent:
            parent, used_name = first_dependent[key]
            parent_location = parent[1] if parent[0] == "importer" else location[parent[1]]
            prefix = f"{parent_location}/" if parent_location else ""
            candidate = f"{prefix}node_modules/{used_name}"
        else:
            used_name = name
        if candidate is None or candidate in occupied:
            candidate = f"node_modules/.pnpm/{key}/node_modules/{used_name}"
        occupied.add(candidate)
        location[key] = candidate
    return location


def _walk(
    importers: Sequence[tuple[str, Sequence[Requirement]]],
    entries: Mapping[str, tuple[str, Sequence[Requirement]]],
) -> tuple[list[str], dict[str, tuple[tuple[str, str], str]], dict[str, list[str]], dict[str, set[tuple[str, str]]]]:
    """The breadth-first walk: ``order`` is also its queue (a key is queued exactly when it is
    first reached, and taken in that order), ``dependents`` each key's distinct dependents."""
    order: list[str] = []
    seen: set[str] = set()
    first_dependent: dict[str, tuple[tuple[str, str], str]] = {}
    names_used: dict[str, list[str]] = {}
    dependents: dict[str, set[tuple[str, str]]] = {}
    walked = 0

    def reach(parent: tuple[str, str], requirements: Sequence[Requirement]) -> None:
        for name, key in requirements:
            used = names_used.get(key)
            if used is None:  # the first dependent: both are made together, and the key is seen then
                names_used[key] = [name]
                dependents[key] = {parent}
                if key not in seen:  # unless the walk of unreached entries put it there
                    seen.add(key)
                    first_dependent[key] = (parent, name)
                    order.append(key)
            else:
                if name not in used:
                    used.append(name)
                dependents[key].add(parent)

    def drain() -> None:
        nonlocal walked
        while walked < len(order):
            key = order[walked]
            walked += 1
            reach(("entry", key), entries[key][1])

    for importer_location, requirements in importers:
        reach(("importer", importer_location), requirements)
    drain()
    for key in sorted(entries):
        if key not in seen:
            seen.add(key)
            order.append(key)
            drain()
    return order, first_dependent, names_used, dependents


def _choose_hoisted(
    importers: Sequence[tuple[str, Sequence[Requirement]]],
    order: list[str],
    folder: Mapping[str, str],
    dependents: Mapping[str, set[tuple[str, str]]],
) -> dict[str, str]:
    """The entry that takes ``node_modules/<folder>`` for each folder name."""
    hoisted: dict[str, str] = {}
    for _, requirements in importers:
        for name, key in requirements:
            if folder[key] == name and name not in hoisted:
                hoisted[name] = key
    chosen_by_importer = set(hoisted)
    for key in order:
        name = folder[key]
        current = hoisted.get(name)
        # The first entry of a name takes it; a later one (``current`` was reached before it, in this
        # walk of ``order``) only with more dependents, unless an importer chose: a tie keeps the first.
        if current is None or (
            name not in chosen_by_importer and len(dependents.get(key, ())) > len(dependents.get(current, ()))
        ):
            hoisted[name] = key
    return hoisted
