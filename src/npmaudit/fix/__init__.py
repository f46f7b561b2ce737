"""``npmaudit fix``: plan remediations, apply them to the lockfile in memory, prove them by a re-audit.

Entry point: :func:`npmaudit.fix.run.run_fix` (a :class:`~npmaudit.fix.model.FixResult`).
Strategies: :mod:`npmaudit.fix.inplace` (npm lockfiles, written by :mod:`npmaudit.fix.npm_lock`)
and :mod:`npmaudit.fix.overrides` (every format's override field).
"""
