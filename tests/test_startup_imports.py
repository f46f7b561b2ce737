"""Start-up cost: ``npmaudit --help`` and an offline audit import only what they use (issue 17).

Each command runs in a fresh interpreter (this test process has imported everything), which then
lists ``sys.modules``: a module imported at the top of a file where a function would do shows up
here, whatever the machine's speed. The top-level help is built without any subcommand module, so
it is also compared with the help of a parser that registers every subcommand.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from ci_helpers import SETTING_VARIABLES
from conftest import FIXTURES
from inventory_corpus import build_corpus
from npmaudit import __version__
from npmaudit.cli import SUBCOMMANDS, build_parser, main
from npmaudit.errors import InputError

CREATE_REACT_APP = FIXTURES / "lockfiles" / "npm" / "facebook__create-react-app"
MOCHA = FIXTURES / "lockfiles" / "npm" / "mochajs__mocha"
GITHUB_ADVISORIES = FIXTURES / "osv" / "store" / "npm-ghsa.jsonl.gz"

# Runs the command line in-process (argparse ends --help with SystemExit), then writes the exit code
# and the names of the loaded modules to argv[1].
LIST_MODULES = """
import sys
from npmaudit.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exit:
    code = exit.code
modules = sorted(sys.modules)
import json
with open(sys.argv[1], "w", encoding="utf-8") as stream:
    json.dump({"code": code, "modules": modules}, stream)
"""

# Neither the help nor an offline audit talks to a network, reads YAML, serves, signs or hashes.
NEVER_AT_START = (
    "yaml",
    "http.client",
    "ssl",
    "socket",
    "urllib3",
    "email",
    "subprocess",
    "hashlib",
    "secrets",
    "psycopg",
    "uvicorn",
    "sigstore",
    "cryptography",
    "npmaudit.http",
    "npmaudit.registry",
    "npmaudit.npm_report",
    "npmaudit.serve",
    "npmaudit.inventory",
    "npmaudit.trust",
    "npmaudit.fix",
)

# The top-level help needs argparse and the table of subcommands, nothing that models or reads.
NOT_FOR_HELP = ("dataclasses", "json", "pathlib", "datetime", "sqlite3", "npmaudit.report", "npmaudit.settings")

# An offline audit of an npm lockfile against a SQLite store: no other reader, no config file.
NOT_FOR_OFFLINE_AUDIT = (
    "tomllib",
    "dataclasses",  # value classes are npmaudit.records: building dataclasses costs ~15 ms per run
    "inspect",  # imported by dataclasses, with ast, dis and tokenize
    "npmaudit.project.readers.yarn",
    "npmaudit.project.readers.pnpm",
    "npmaudit.project.readers.bun",
    "npmaudit.project.readers.npmex",
    "npmaudit.advisories.osv_api",
    "npmaudit.advisories.mirror",
    "platformdirs",  # Linux's user directories are the XDG ones (npmaudit.cli.user_dirs)
    "tempfile",
    "shutil",  # node and npm are looked up by npmaudit.npmrc.which
    "bz2",
    "lzma",
    "unicodedata",  # only text beyond printable ASCII, or a POSIX class in a workspace glob, needs it
    "npmaudit.advisories.jsondb",  # the store's import and `--write` only
    "npmaudit.advisories.records",
    "npmaudit.advisories.dirlock",  # creating the store
    "npmaudit.atomicfile",  # writing files
    "npmaudit.decompress",
    "npmaudit.auditing.writeback",  # --write, --write-cache
    "npmaudit.auditing.ignore_files",  # ignores configured somewhere
    "typing",  # ~2 ms: annotations are never evaluated; npmaudit.runtime_typing has what runs
)


def loaded_modules(args: list[str], tmp_path: Path, *, cache: str = "NPMAUDIT_CACHE_DIR") -> tuple[int, set[str]]:
    """The exit code and modules of a run; ``cache`` names the variable that places its cache."""
    listing = tmp_path / "modules.json"
    env = {name: value for name, value in os.environ.items() if name not in SETTING_VARIABLES}
    env.pop("XDG_CACHE_HOME", None)
    env[cache] = str(tmp_path / "cache")
    completed = subprocess.run(
        [sys.executable, "-c", LIST_MODULES, str(listing), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listing.exists(), completed.stderr
    outcome = json.loads(listing.read_text())
    return outcome["code"], set(outcome["modules"])


def offenders(modules: set[str], forbidden: Iterable[str]) -> list[str]:
    """The loaded modules that are, or live under, a forbidden name."""
    return sorted(m for m in modules for name in forbidden if m == name or m.startswith(name + "."))


def subcommand_modules(but: str | None = None) -> list[str]:
    return [module for command, (module, _) in SUBCOMMANDS.items() if command != but]


def test_the_help_imports_no_subcommand_and_nothing_heavy(tmp_path: Path) -> None:
    code, modules = loaded_modules(["--help"], tmp_path)
    assert code == 0
    assert "argparse" in modules  # the help was built: the listing is of a run that did the work
    assert offenders(modules, [*NEVER_AT_START, *NOT_FOR_HELP, *subcommand_modules()]) == []


@pytest.mark.parametrize("command", ["audit", "db", "verify", "serve"])
def test_a_subcommand_imports_no_other_subcommand(command: str, tmp_path: Path) -> None:
    code, modules = loaded_modules([command, "--help"], tmp_path)
    assert code == 0
    assert SUBCOMMANDS[command][0] in modules
    assert offenders(modules, subcommand_modules(but=command)) == []


@pytest.mark.parametrize("cache", ["NPMAUDIT_CACHE_DIR", "XDG_CACHE_HOME"])
def test_an_offline_audit_imports_only_what_it_uses(cache: str, tmp_path: Path) -> None:
    # XDG_CACHE_HOME: a user's run, its cache found the platform's way, not through npmaudit's variable
    store = tmp_path / "store.sqlite"
    assert main(["db", "import", str(GITHUB_ADVISORIES), "--db", str(store)]) == 0
    args = ["audit", str(CREATE_REACT_APP), "--db", str(store), "--compromised", "--format=json"]
    code, modules = loaded_modules(args, tmp_path, cache=cache)
    assert code == 1  # findings: the lockfile was read and matched against the store
    assert {"sqlite3", "npmaudit.project.readers.npm.lockfile", "npmaudit.report.json_report"} <= modules
    assert offenders(modules, [*NEVER_AT_START, *NOT_FOR_OFFLINE_AUDIT, *subcommand_modules(but="audit")]) == []


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_recursive_scan_loads_no_compiled_writer_and_no_typing(fmt: str, tmp_path: Path) -> None:
    """``-r`` over projects of several formats: each project's document is written by the package's
    own JSON writer (orjson, with the dataclasses, inspect and uuid it imports, was 1.6 MB of the
    scan's peak memory for no time saved), and the readers of every format leave typing unloaded."""
    store = tmp_path / "store.sqlite"
    assert main(["db", "import", str(GITHUB_ADVISORIES), "--db", str(store)]) == 0
    folder = tmp_path / "projects"
    build_corpus(folder)  # every real lockfile of the fixtures, in every format
    args = ["audit", "-r", str(folder), "--db", str(store), "--compromised", f"--format={fmt}", "--allow-unchecked"]
    code, modules = loaded_modules(args, tmp_path)
    assert code in (0, 1)
    readers = ("npm.lockfile", "pnpm.lockfile", "yarn.berry", "yarn.classic", "bun.lockfile")
    assert {f"npmaudit.project.readers.{reader}" for reader in readers} <= modules
    assert offenders(modules, ["orjson", "dataclasses", "inspect", "typing", "yaml"]) == []


def test_an_audit_of_a_project_without_workspaces_matches_no_glob(tmp_path: Path) -> None:
    """The glob matcher is for the ``workspaces`` patterns: a project that declares none (mocha)
    does not load it, while create-react-app's (``packages/*``) does, above."""
    store = tmp_path / "store.sqlite"
    assert main(["db", "import", str(GITHUB_ADVISORIES), "--db", str(store)]) == 0
    args = ["audit", str(MOCHA), "--db", str(store), "--compromised", "--format=json"]
    code, modules = loaded_modules(args, tmp_path)
    assert code in (0, 1)  # audited: a verdict, not an error
    assert "npmaudit.project.readers.npm.workspaces" in modules  # the reader asked for the members
    assert offenders(modules, ["npmaudit.project.globs", *NOT_FOR_OFFLINE_AUDIT]) == []
    _, with_workspaces = loaded_modules([*args[:1], str(CREATE_REACT_APP), *args[2:]], tmp_path)
    assert "npmaudit.project.globs" in with_workspaces


def test_the_top_level_help_is_the_help_of_every_subcommand_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    full = build_parser()  # every subcommand module imported and registered
    bare = build_parser(commands=())
    assert bare.format_help() == full.format_help()
    assert all(f"\n    {command}" in full.format_help() for command in SUBCOMMANDS)


@pytest.mark.parametrize("argv", [["--help"], ["--help", "audit"], ["-h", "db", "import"], ["--version", "audit"]])
def test_the_top_level_help_lists_every_subcommand_whatever_follows(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a command line that starts with a subcommand leaves the others out of its parser: one
    that starts with an option can still ask for the top-level help (or the version)."""
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert out == (build_parser().format_help() if argv[0] != "--version" else f"npmaudit {__version__}\n")


def test_a_usage_error_names_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["audti", "."])
    assert exit.value.code == 2
    choices = ", ".join(f"'{command}'" for command in SUBCOMMANDS)
    assert f"invalid choice: 'audti' (choose from {choices})" in capsys.readouterr().err


@pytest.mark.parametrize("command", list(SUBCOMMANDS))
def test_a_subcommand_help_is_the_same_registered_alone(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    helps = []
    for parser in (build_parser(), build_parser(commands=(command,)), build_parser(commands=(command,), others=False)):
        with pytest.raises(SystemExit) as exit:
            parser.parse_args([command, "--help"])
        assert exit.value.code == 0
        helps.append(capsys.readouterr().out)
    with pytest.raises(SystemExit):
        main([command, "--help"])  # the command line's own parser: the other subcommands left out
    helps.append(capsys.readouterr().out)
    assert helps[0] == helps[1] == helps[2] == helps[3]
    assert helps[0].startswith(f"usage: npmaudit {command} ")


def test_an_audit_run_as_a_process_leaves_nothing_beside_the_store(tmp_path: Path) -> None:
    """The console entry point (``python -m npmaudit`` runs it) ends with the store closed: no
    ``-wal`` or ``-shm`` file stays beside it, which is what skipping the exit collection did."""
    store = tmp_path / "store.sqlite"
    assert main(["db", "import", str(GITHUB_ADVISORIES), "--db", str(store)]) == 0
    env = {name: value for name, value in os.environ.items() if name not in SETTING_VARIABLES}
    env["NPMAUDIT_CACHE_DIR"] = str(tmp_path / "cache")
    args = ["audit", str(CREATE_REACT_APP), "--db", str(store), "--compromised", "--format=json"]
    completed = subprocess.run(
        [sys.executable, "-m", "npmaudit", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 1, completed.stderr  # findings: the store was read
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("store")) == ["store.sqlite"]


def test_a_command_run_in_process_freezes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the console entry point tunes the collector: a caller's interpreter (this one) keeps
    every object collectable."""
    store = tmp_path / "store.sqlite"
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["db", "import", str(GITHUB_ADVISORIES), "--db", str(store)]) == 0
    frozen = gc.get_freeze_count()
    assert main(["audit", str(CREATE_REACT_APP), "--db", str(store), "--compromised", "--format=json"]) == 1
    assert gc.get_freeze_count() == frozen


def test_close_sources_closes_the_store_a_run_opened(tmp_path: Path) -> None:
    """What lets the console entry point skip the exit collection: the store's connection is
    closed by the run, not left for the interpreter's last collection to finalize."""
    from npmaudit.advisories.source import close_sources
    from npmaudit.advisories.store import AdvisoryStore

    path = tmp_path / "store.sqlite"
    assert main(["db", "import", str(GITHUB_ADVISORIES), "--db", str(path)]) == 0
    store = AdvisoryStore.open(path)
    assert store.lookup(["lodash"])["lodash"]  # open: it answers
    close_sources([store])
    with pytest.raises(InputError, match="Cannot operate on a closed database"):
        store.lookup(["lodash"])


def test_a_recursive_scan_closes_the_store_it_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``-r`` opens its sources once for every project and closes them when the scan ends, so its
    console run, like a single audit's, skips the exit collection without leaving the store open."""
    import shutil

    import npmaudit.auditing.run as run_module
    from npmaudit.advisories.store import AdvisoryStore
    from npmaudit.settings import Settings

    path = tmp_path / "store.sqlite"
    assert main(["db", "import", str(GITHUB_ADVISORIES), "--db", str(path)]) == 0
    root = tmp_path / "fleet"
    for project in (CREATE_REACT_APP, MOCHA):
        shutil.copytree(project, root / project.name)
    opened: list[object] = []

    def recording(settings: Settings) -> list[object]:
        sources = open_real(settings)
        opened.extend(sources)
        return sources

    open_real = run_module.open_sources
    monkeypatch.setattr(run_module, "open_sources", recording)
    settings = Settings.for_library(cache_dir=tmp_path / "cache", db=path, local=True, offline=True)
    scan = run_module.run_recursive(root, settings)
    assert len(scan.digests) == 2 and scan.exit_code == 1  # both audited, findings: the store was read
    stores = [source for source in opened if isinstance(source, AdvisoryStore)]
    assert stores
    for store in stores:
        with pytest.raises(InputError, match="Cannot operate on a closed database"):
            store.lookup(["lodash"])


def test_a_long_running_command_collects_as_the_interpreter_does() -> None:
    """``serve`` calls ``runs_long``: a console run's rare collections (tuned for one short command)
    are put back to the interpreter's own thresholds, so a server's cyclic garbage does not pile up."""
    script = (
        "import gc, json, npmaudit.cli as cli; before = gc.get_threshold(); cli.tune_gc(); tuned = gc.get_threshold();"
        " cli.runs_long(); print(json.dumps([before, tuned, gc.get_threshold()]))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    before, tuned, after = json.loads(done.stdout)
    assert tuned != before  # the console run's tuning took effect
    assert after == before


def test_serve_asks_for_the_interpreters_collection() -> None:
    import ast
    import inspect

    from npmaudit.cli import serve_cmd

    calls = {
        node.func.id
        for node in ast.walk(ast.parse(inspect.getsource(serve_cmd.run_serve)))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert "runs_long" in calls
