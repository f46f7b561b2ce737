"""A lockfile that locks nothing for a project that declares dependencies is not that project's.

An audit, a query or an inventory entry of it would read no package and answer "no findings",
"no install matches" or "0 packages": a pass that never looked at the dependencies package.json
names (a lockfile committed before the first install, or emptied by a bad merge).
:func:`npmaudit.project.loader.load_project` applies this rule to every project it reads (only
`verify` opts out: its LV003 lists what such a lockfile lacks). The check runs only when the
lockfile holds no installed package, so it costs an ordinary read nothing; which declared
dependencies count is :mod:`npmaudit.trust.drift`'s rule (optional and peer dependencies may be
absent).
"""

from __future__ import annotations

from npmaudit.errors import InputError
from npmaudit.project.model import Project


def refuse_an_empty_lock(project: Project) -> None:
    """An :class:`InputError` when the lockfile installs nothing but a declared dependency is missing."""
    if len(project.nodes) > 1:  # the root is always there: anything more is an installed package
        return
    from npmaudit.trust.drift import unsatisfied

    missing = list(dict.fromkeys(f"{edge.name}@{edge.spec}" for _, edge, _ in unsatisfied(project)))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InputError(
            project.lockfile,
            f"locks no package, but package.json declares {shown}: nothing there to audit or query "
            "(install to update the lockfile; `npmaudit verify` lists what is out of sync)",
        )
