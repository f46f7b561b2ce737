"""Time and memory of each worst-case input of issue 10 against a benign input of the same size.

Every parser that reads a stranger's text must take time linear in it: the ratio of a hostile
input's time to a same-size benign input's is printed for each (the goal is at most 3; before
issue 10 these inputs took minutes: 8.5 min for the glob, > 100 s for 120 KB of bun.lock, 25 s per
version for the range, 98 s and 2.4 GB for the aliased pnpm lockfile). Memory is the peak traced
by tracemalloc during one more run. The HTTP case has no benign twin: it prints how long a server
dripping one byte every 50 ms holds a request with a 1-second deadline.

Run: ``.venv/bin/python bench/hostile_inputs.py`` (about half a minute; no network, no npm).
"""

from __future__ import annotations

import contextlib
import json
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the loopback drip server

from npmaudit.errors import NpmauditError  # noqa: E402
from npmaudit.http import HttpClient, HttpError, HttpSettings  # noqa: E402
from npmaudit.project.globs import GlobTooComplex, compile_glob, glob_match  # noqa: E402
from npmaudit.project.readers.bun.jsonc import strip_jsonc  # noqa: E402
from npmaudit.project.readers.pnpm.lockfile import read as read_pnpm  # noqa: E402
from npmaudit.semver import ADVISORY_OPTIONS, satisfies  # noqa: E402
from npmaudit.semver.range import _parse_set, _range_or_none  # noqa: E402

PNPM_LOCK = ROOT / "tests" / "fixtures" / "lockfiles" / "pnpm-v9" / "vuejs__core__pnpm-lock.yaml"
BUN_LOCK = ROOT / "tests" / "fixtures" / "lockfiles" / "bun" / "honojs__hono__bun.lock"


@dataclass(frozen=True)
class Case:
    name: str
    size: str
    benign: Callable[[], object]
    hostile: Callable[[], object]


def _quietly(action: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        try:
            return action()
        except (NpmauditError, GlobTooComplex) as error:  # a refusal is the expected end of most hostile inputs
            return error

    return run


def _seconds(action: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            action()
        timings.append((time.perf_counter() - start) / repeat)
    return statistics.median(timings)


def _peak_bytes(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _repeat_for(action: Callable[[], object]) -> int:
    start = time.perf_counter()
    action()
    once = time.perf_counter() - start
    return max(1, min(2000, int(0.05 / max(once, 1e-7))))


# -- the cases ------------------------------------------------------------------------------------


def _glob_cases() -> list[Case]:
    name = "a" * 40
    bomb = "*a*a*a*a*a*a*a*a*a*a*a*a*b"
    benign = "packages/ab?de*ghij[kl]mno"  # the same length, every kind of magic

    def fresh(pattern: str) -> Callable[[], object]:
        def run() -> object:
            compile_glob.cache_clear()
            return glob_match(name, pattern)

        return run

    braces = "{a,b}" * 200  # 2^200 expansions for brace-expansion (it stops at 100,000); cut by the budget here
    plain = ("?" * 39 + "a/") * 25  # the same length: 25 segments that each match a 40-character name
    names = "/".join([name] * 25)

    def match_all(pattern: str, path: str) -> Callable[[], object]:
        def run() -> object:
            compile_glob.cache_clear()
            return glob_match(path, pattern)

        return run

    return [
        Case("workspace glob *a*a…b vs 40 chars", f"{len(bomb)} + 40 chars", fresh(benign), fresh(bomb)),
        Case(
            "workspace glob {a,b}x200 (refused)",
            f"{len(braces)} chars",
            match_all(plain, names),
            _quietly(match_all(braces, "a" * 200)),
        ),
    ]


def _bun_cases() -> list[Case]:
    size = 120_000
    real = BUN_LOCK.read_text(encoding="utf-8")
    benign = (real * (size // len(real) + 1))[:size]
    shapes = {
        'unclosed "\\': '{"x": ' + '"\\/' * (size // 3),
        "unclosed /*": "/*" * (size // 2),
        "comma + blanks": "[1" + ", " * (size // 2),
    }
    return [
        Case(f"bun.lock JSONC, {label}", "120 KB", lambda: strip_jsonc(benign), lambda text=text: strip_jsonc(text))
        for label, text in shapes.items()
    ]


def _semver_cases() -> list[Case]:
    length = 30_000
    parts, total = [], 0
    while total < length:  # distinct comparator sets: the parse cache must not make the benign range cheap
        parts.append(f">={len(parts)}.2.3 <{len(parts) + 1}.0.0-0")
        total += len(parts[-1]) + 4
    benign = " || ".join(parts)
    hostile = {
        "v" * length: "30,000 v",
        "= " * (length // 2) + "1.2.3": "'= ' x 15,000",
        ">=" + "v" * length + "1.2.3": ">= + 30,000 v",
    }

    def parse(text: str) -> Callable[[], object]:
        def run() -> object:
            _range_or_none.cache_clear()
            _parse_set.cache_clear()
            return satisfies("1.2.3", text, **ADVISORY_OPTIONS)

        return run

    return [
        Case(f"semver range, {label}", f"{len(text):,} chars", parse(benign), parse(text))
        for text, label in hostile.items()
    ]


def _pnpm_case(directory: Path) -> Case:
    text = PNPM_LOCK.read_text(encoding="utf-8")
    blocks = iter(range(1_000_000))

    def alias(match: re.Match[str]) -> str:
        number = next(blocks)
        return (
            match.group(0).replace("dependencies:", "dependencies: &d0", 1)
            if number == 0
            else "    dependencies: *d0\n"
        )

    # Every snapshot's dependencies become one shared, anchored mapping: the shape that made 427 KB take 98 s.
    hostile_text = re.sub(r"    dependencies:\n(?:      .*\n)+", alias, text)
    benign_path, hostile_path = directory / "benign" / "pnpm-lock.yaml", directory / "hostile" / "pnpm-lock.yaml"
    for path, content in ((benign_path, text), (hostile_path, hostile_text)):
        path.parent.mkdir()
        path.write_text(content, encoding="utf-8")
    size = f"{len(text) // 1000} KB / {len(hostile_text) // 1000} KB"
    return Case(
        "pnpm lockfile with YAML aliases",
        size,
        lambda: read_pnpm(benign_path),
        _quietly(lambda: read_pnpm(hostile_path)),
    )


def _drip_seconds() -> float:
    from servers import DripServer

    header = b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n"
    with DripServer(header, b" ", interval=0.05) as server:
        client = HttpClient("bench", HttpSettings(timeout=1.0, retries=0))
        start = time.perf_counter()
        with contextlib.suppress(HttpError):
            client.get_json(server.url)
        return time.perf_counter() - start


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        cases = [*_glob_cases(), *_bun_cases(), *_semver_cases(), _pnpm_case(Path(scratch))]
        print(
            f"{'case':42} {'size':22} {'benign':>10} {'hostile':>10} {'ratio':>6} {'benign MB':>9} {'hostile MB':>10}"
        )
        worst = 0.0
        for case in cases:
            benign, hostile = _quietly(case.benign), _quietly(case.hostile)
            repeat = _repeat_for(benign)
            benign_s = _seconds(benign, repeat)
            hostile_s = _seconds(hostile, repeat)
            ratio = hostile_s / benign_s
            worst = max(worst, ratio)
            benign_mb, hostile_mb = _peak_bytes(benign) / 1e6, _peak_bytes(hostile) / 1e6
            print(
                f"{case.name:42} {case.size:22} {benign_s * 1e3:8.3f}ms {hostile_s * 1e3:8.3f}ms {ratio:6.2f}"
                f" {benign_mb:9.2f} {hostile_mb:10.2f}"
            )
    print(f"worst time ratio: {worst:.2f} (goal: at most 3)")
    print(f"HTTP: a server dripping a byte every 50 ms, --timeout 1: the request ends after {_drip_seconds():.2f} s")
    print(json.dumps({"worst_ratio": round(worst, 2)}))
    return 0 if worst <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
