"""The console entry ends a command that closed what it opened without the interpreter's
finalization (npmaudit/cli/__init__.py: _exit_at_once). What that finalization would have done
and a user can see must still happen: the whole report reaches its reader, the exit code is the
command's, exit handlers run, and a thread still running is waited for."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from conftest import EXAMPLE
from npmaudit.cli import main

EXAMPLE_DB = EXAMPLE / "advisories.json"
ROOT = Path(__file__).resolve().parents[1]


def _console(prelude: str, arguments: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``run()`` as the console script calls it, after ``prelude`` ran in the same process."""
    code = f"import sys\n{prelude}\nsys.argv[0] = 'npmaudit'\nfrom npmaudit.cli import run\nrun()\n"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-c", code, *arguments], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )


def _in_process(arguments: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        code = main(arguments)
    return code, out.getvalue()


def test_the_whole_report_and_the_exit_code_and_the_exit_handlers(example_project: Path, tmp_path: Path) -> None:
    arguments = ["audit", str(example_project), "--db", str(EXAMPLE_DB), "--compromised", "--format", "json"]
    prelude = "import atexit\natexit.register(lambda: print('exit handler ran', file=sys.stderr))"
    completed = _console(prelude, arguments, tmp_path)
    code, expected = _in_process(arguments)
    assert code == 1  # findings: a run cut short would exit otherwise, or print less
    assert completed.returncode == code, completed.stderr
    assert json.loads(completed.stdout)["findings"]  # the findings, parsed whole
    assert _without_times(completed.stdout) == _without_times(expected)
    assert completed.stderr.rstrip().endswith("exit handler ran"), completed.stderr


def test_a_thread_still_running_is_waited_for(example_project: Path, tmp_path: Path) -> None:
    done = tmp_path / "thread-finished"
    prelude = (
        "import threading, time\n"
        f"threading.Thread(target=lambda: (time.sleep(0.5), open({str(done)!r}, 'w').close())).start()"
    )
    arguments = ["audit", str(example_project), "--db", str(EXAMPLE_DB), "--compromised", "--format", "json"]
    completed = _console(prelude, arguments, tmp_path)
    assert completed.returncode == 1, completed.stderr
    assert done.exists()  # os._exit would have killed the thread before it wrote


def _without_times(text: str) -> str:
    """The report without the data's age, which two processes compute each at its own moment."""
    document = json.loads(text)
    for source in document["sources"]:
        source.pop("dataAge", None)
    return json.dumps(document, sort_keys=True)
