"""Running the real command line inside a private mount namespace, where a test may mount a small
tmpfs (a disk that fills up) or a read-only bind mount (a store shared read-only) without touching
the machine's own mounts: they vanish with the namespace, even when the test is killed.

Needs root and ``unshare`` (util-linux); :func:`available` says whether this machine has them, so
tests skip honestly elsewhere (each such test has a variant that runs anywhere).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def where(self) -> str:
        return f"exit {self.code}\nstdout: {self.out[-1500:]!r}\nstderr: {self.err[-1500:]!r}"


@cache
def available() -> bool:
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = ["unshare", "--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"]
    return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0


def npmaudit_environment(cache: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("NPMAUDIT_", "NO_COLOR"))}
    environment.update({"PYTHONPATH": str(SRC), "NPMAUDIT_CACHE_DIR": str(cache)})
    return environment


def run_in_namespace(
    work: Path,
    setup: str,
    commands: list[list[str]],
    *,
    after: str = "",
    environment: dict[str, str] | None = None,
) -> tuple[list[Result], str]:
    """Run the shell lines ``setup`` (mounts; any failure stops the test), then each npmaudit
    command line, then the shell lines ``after`` (to look at the mounted files before they vanish),
    in one private mount namespace: the commands' results in order, and what ``after`` printed."""
    lines = ["set -e", setup, "set +e"]
    for index, argv in enumerate(commands):
        out, err, code = (work / f".run{index}.{kind}" for kind in ("out", "err", "code"))
        command = shlex.join([sys.executable, "-m", "npmaudit", *argv])
        lines.append(f"{command} >{shlex.quote(str(out))} 2>{shlex.quote(str(err))}; echo $? >{shlex.quote(str(code))}")
    lines.append(after)
    script = "\n".join(lines)
    completed = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        env=environment or npmaudit_environment(work / "cache"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, f"namespace setup failed: {completed.stderr}"
    results = []
    for index in range(len(commands)):
        out, err, code = (work / f".run{index}.{kind}" for kind in ("out", "err", "code"))
        results.append(Result(int(code.read_text()), out.read_text(), err.read_text()))
        for file in (out, err, code):
            file.unlink()
    return results, completed.stdout


def run_cli(capsys: Any, *args: str) -> Result:
    """``npmaudit ARGS`` in this process, as a Result like the namespaced runs give."""
    from npmaudit.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def isolate(monkeypatch: Any, tmp_path: Path) -> None:
    """No npmaudit setting from the caller's environment; a private cache."""
    for variable in ("NPMAUDIT_DB", "NPMAUDIT_POLICY", "NPMAUDIT_AUDIT_LEVEL", "NPMAUDIT_OFFLINE", "NODE_ENV"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))
