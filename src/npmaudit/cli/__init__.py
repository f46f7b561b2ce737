"""The command line: the only place that prints to the terminal or decides the process exit code.

Subcommands live in their own modules, each with ``register(subparsers)``; a module sets
``run=<function(args) -> int>`` as the parser default. Only the module of the subcommand named on
the command line is imported and registered: the others get a bare parser carrying the line
``npmaudit --help`` lists (:data:`SUBCOMMANDS`), so the top-level help and usage errors need no
subcommand module at all. Heavy modules are imported inside the ``run`` functions.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import signal
import sys
from collections.abc import Collection, Sequence

from npmaudit import TYPE_CHECKING, __version__
from npmaudit.errors import EXIT_INPUT, NpmauditError

if TYPE_CHECKING:
    from typing import Any

# name -> (module, the line `npmaudit --help` lists), in the order it lists them. Each module's
# ``register`` passes ``summary(name)`` as its parser's help, so the two never differ.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("npmaudit.cli.audit_cmd", "audit a project's dependencies"),
    "db": ("npmaudit.cli.db_cmd", "manage the local advisory store (import, export, info, update)"),
    "verify": (
        "npmaudit.cli.verify_cmd",
        "check a lockfile offline: hosts, https, integrity, URL names, sources, drift, node_modules",
    ),
    "signatures": (
        "npmaudit.cli.signatures_cmd",
        "verify registry signatures and provenance attestations of a lockfile's packages",
    ),
    "serve": (
        "npmaudit.cli.serve_cmd",
        "serve the advisory store as npm's audit endpoints and the OSV API (needs npmaudit[serve])",
    ),
    "ignore": ("npmaudit.cli.ignore_cmd", "inspect ignores (accepted findings)"),
    "query": ("npmaudit.cli.query_cmd", "find which projects install a package, version, range or advisory"),
    "inventory": ("npmaudit.cli.inventory_cmd", "record many projects and answer fleet-wide queries"),
    "fix": (
        "npmaudit.cli.fix_cmd",
        "fix vulnerable dependencies (lockfile in place, or overrides), proven by a re-audit",
    ),
}

EXIT_INTERNAL = 70
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # 141, as a shell reports a tool the closed pipe stopped

# The cyclic garbage collector for a command-line run. Reading a lockfile allocates hundreds of
# thousands of long-lived containers (the parsed document, the package model) and almost no cyclic
# garbage (a few hundred objects per project); with the default thresholds the collector walks the
# growing heap again and again and took 31-56% of the CPU on YAML lockfiles. A 100,000-package
# lockfile allocates about 1.5 M such objects, and the YAML reader's table of what each distinct line
# says adds up to a million more while the document is read (2.0-2.5 M live at once for pnpm): at a
# young generation of 250,000 they were walked six times (0.4 s of 3.9 s for yarn berry, none at
# 20,000 packages, so the time grew 6x for 5x the packages), and at 2 M pnpm's still met one
# collection (0.4 s). At 4 M a single audit of that size runs none, and a larger one or a long ``-r``
# run still collects now and then, so its memory stays bounded.
GC_THRESHOLDS = (4_000_000, 20, 20)


_tuned = False  # tune_gc() set this process up: it runs one command of ours
_untuned_thresholds = gc.get_threshold()  # the interpreter's own, for a command that does not end soon


def tune_gc() -> None:
    """Set the collector up for one short command: what is loaded so far (the imported modules)
    is never garbage, so it is frozen out of every collection, and collections are made rare."""
    global _tuned
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    _tuned = True


def runs_long() -> None:
    """Called by a command that does not end soon (``serve``): a server's requests leave cyclic
    garbage (frames, exceptions, event-loop callbacks) that rare collections would let pile up, so
    it runs with the interpreter's own thresholds. What is frozen (the imports) stays frozen."""
    if _tuned:
        gc.set_threshold(*_untuned_thresholds)


def freeze_imports() -> None:
    """Called by a command once it has imported what it runs with. In a process :func:`tune_gc`
    set up, those modules are never garbage either: frozen too, the run's collections and the
    interpreter's last one walk only what the run itself allocates (a few ms of an offline audit).
    Another program's interpreter (tests, the Python API) is left alone: a freeze would keep its
    garbage for good."""
    if _tuned:
        gc.freeze()


_skip_exit_collection = False  # the command closed what it opened: the exit collection has nothing to do


def skip_exit_collection() -> None:
    """Called by a command that closed every resource it opened (the advisory store above all).
    In a process :func:`tune_gc` set up, the process then ends without the interpreter's
    finalization (:func:`_exit_at_once`): its last collection would walk the run's whole heap (the
    package graph, the advisories: ~10 ms of an offline audit) only to find nothing to finalize,
    and its module teardown would free that heap object by object."""
    global _skip_exit_collection
    _skip_exit_collection = _tuned


EPILOG = """\
exit codes:
  0  passed (no findings at or above the failure level, or policy warn/off)
  1  findings at or above the failure level under policy error
  2  usage or input error (bad flags; missing, unreadable or malformed lockfile or database)
  3  an advisory source could not be queried, or the database is older than --max-db-age
 70  internal error (a bug: please report it; NPMAUDIT_DEBUG=1 shows the traceback)
141  the output's reader closed the pipe early (`npmaudit ... | head`): the verdict was not delivered
"""


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors, which is our input-error code too; keep its message
    on one line and prefixed like every other error."""

    _checking_an_argument = False

    def error(self, message: str) -> None:  # type: ignore[override]
        from npmaudit.cli.output import safe_message

        self.exit(EXIT_INPUT, f"{self.prog}: error: {safe_message(message)} (see --help)\n")

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        self._checking_an_argument = True
        try:
            return super().add_argument(*args, **kwargs)
        finally:
            self._checking_an_argument = False

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse builds a formatter in every add_argument only to check the metavar against
        # nargs; a formatter given no width asks the terminal for one (and imports shutil, with
        # bz2 and lzma): a few ms per run for a check the width plays no part in.
        if self._checking_an_argument:
            return self.formatter_class(prog=self.prog, width=80)  # type: ignore[call-arg]  # every HelpFormatter takes it
        return super()._get_formatter()


def summary(command: str) -> str:
    """The line ``npmaudit --help`` lists for ``command``."""
    return SUBCOMMANDS[command][1]


def named_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option (the top level takes no
    option with a value), or None."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(commands: Collection[str] | None = None, *, others: bool = True) -> argparse.ArgumentParser:
    """The parser, with the full parsers of ``commands`` (every subcommand when None) and, with
    ``others``, a bare one carrying only its summary for each other subcommand (what the top-level
    help lists and a usage error names as the choices)."""
    parser = _Parser(
        prog="npmaudit",
        description="Audit npm-ecosystem projects for vulnerable and malicious dependencies.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"npmaudit {__version__}")
    # prog given: argparse would format a usage line (a terminal query, shutil, three patterns) only
    # to find the program's name in it, which is all a usage without positionals holds.
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, prog=parser.prog)
    for command, (module_name, help_line) in SUBCOMMANDS.items():
        if commands is None or command in commands:
            importlib.import_module(module_name).register(subparsers)
        elif others:
            # Never parses (the command line names another subcommand): no -h of its own to build.
            subparsers.add_parser(command, help=help_line, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    command = named_command(argv)
    # A command line that starts with a subcommand's name can show neither the top-level help nor
    # the list of choices, so the other subcommands are left out (most of the parser's cost).
    others = command not in SUBCOMMANDS or argv[0] != command
    parser = build_parser(commands=() if command is None else (command,), others=others)
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_INPUT
    from npmaudit.cli import output

    try:
        return int(args.run(args))
    except NpmauditError as error:
        output.error(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        output.say("interrupted")
        return 130
    except MemoryError:
        # Whatever was being read is unwound by now, so there is memory to say so. Readers refuse
        # oversized input with their own message; this is the backstop for one that could not.
        output.error(
            "out of memory: an input (a file or a server's answer) is too large to process with the memory available"
        )
        return EXIT_INPUT
    except BrokenPipeError:
        # The reader went away (`npmaudit ... | head`): nothing more can be said, and the verdict was
        # not delivered, so the run must not pass (`set -o pipefail` would read 0 as "no findings").
        # 128 + SIGPIPE is what a shell reports for any tool the closed pipe stopped.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as error:  # a bug: one line by default, the traceback on request
        from npmaudit.cli.settings import debug_enabled

        if debug_enabled():
            raise
        output.say(f"internal error: {type(error).__name__}: {error}")
        return EXIT_INTERNAL


def run() -> None:
    """Console-script entry point (the process is ours: the collector is tuned for it)."""
    signal.signal(signal.SIGTERM, _terminated)
    tune_gc()
    code = main()
    if _skip_exit_collection:
        _exit_at_once(code)
    sys.exit(code)


def _exit_at_once(code: int) -> None:
    """End a process whose command closed everything it opened without the interpreter's
    finalization: tearing down every module and freeing the run's heap object by object is a few
    ms of an offline audit (5 of ~95 measured) spent on memory the process is about to give back.

    What finalization does that matters is done here: the exit handlers run and both standard
    streams are flushed. When a thread is still running (it must be waited for) or a flush fails
    (the interpreter's own exit then reports it as before), the ordinary exit is taken instead."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return
    import atexit

    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None without a console (pythonw)
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM (a CI job cancelled, `timeout`) unwinds like an interrupt: transactions roll back and
    temporary files are removed on the way out, which a default SIGTERM death would leave behind."""
    raise SystemExit(128 + signum)
