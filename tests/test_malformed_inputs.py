"""Bad input never gives a traceback: a seeded fuzz of the real fixtures, through the real CLI.

Every case damages one real file (a lockfile of each format, a package.json, an OSV database as
JSON Lines / array / gzip / directory / SQLite store, the project config, a --write target) and
runs ``npmaudit audit ... --compromised --format json`` (damaged databases also go through
``npmaudit db import``). The damage: truncation (anywhere, inside strings, inside multi-byte
UTF-8), byte flips, deleted/duplicated/swapped lines, other types and strange strings on real keys,
dropped and renamed keys, deep nesting, wrong encodings, empty files, garbage; and on the file
system directories, dangling and looping links, devices, FIFOs, unreadable files, node_modules
link loops. The contract checked for each:

* the exit code is 0, 1 or 2, never 70 (an internal error is a bug, whatever the input);
* exit 2: stderr is exactly one line, ``npmaudit: error: <the damaged file's path>...``;
* exit 0/1 (the damage left valid input, e.g. a flipped digit in a version): stdout is one JSON
  document;
* damage that can never leave valid input (an empty file, a truncated JSON document, a directory
  where a file belongs) must be exit 2: passing would be a silent pass over an unread file;
* no traceback text anywhere;
* no raw control, format or separator character on stdout or stderr (``inject_escapes`` puts
  escape sequences, carriage returns, bidi overrides and lone surrogates into real names, ids and
  values of every input: they must be shown, never obeyed).

The module ends by reporting its tally: inputs tried, exit-70s, raw escapes, hangs.

Each case is rebuilt from ``random.Random(f"{SEED}:{case id}")``, so ``pytest -k '<case id>'``
replays one case exactly. ``NPMAUDIT_FUZZ_SCALE=20`` runs twenty times as many samples per
mutation (for a deeper local hunt; the default keeps the whole file well under 20 seconds). Each
case runs under a time and memory bound, so a reader that loops fails its case instead of hanging
or exhausting memory for the whole run.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import random
import re
import signal
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

try:
    import resource
except ImportError:  # not on Windows: cases then run without a memory bound
    resource = None  # type: ignore[assignment]

from npmaudit.cli import main
from npmaudit.project.readers.bun.lockfile import strip_jsonc

FIXTURES = Path(__file__).parent / "fixtures"
LOCKS = FIXTURES / "lockfiles"
OSV = FIXTURES / "osv"
SEED = 20240611
SCALE = max(1, int(os.environ.get("NPMAUDIT_FUZZ_SCALE", "1")))
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# -- the real inputs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    id: str
    target: str  # the file damaged, by its name in the project directory
    files: tuple[tuple[str, Path], ...]  # (name in the project directory, fixture it is copied from)
    syntax: str  # json, jsonc, yaml, yarn1 or jsonl: how type swaps rewrite it
    samples: int  # cases per mutation (bigger files parse slower: fewer samples)
    read: bool = True  # False: the reader never opens the target (bun.lock carries its manifests)


def _project(lockfile: str, source: Path, manifest: Path | None) -> tuple[tuple[str, Path], ...]:
    files = [(lockfile, source)]
    if manifest is not None:
        files.append(("package.json", manifest))
    return tuple(files)


def _subjects() -> list[Subject]:
    npm = LOCKS / "npm"
    hono = npm / "honojs__hono__benchmarks__query-param"
    latency = npm / "socketio__socket.io__packages__engine.io__examples__latency"
    memory = npm / "socketio__socket.io__packages__engine.io__examples__memory-usage"
    bun = LOCKS / "bun"
    yarn1 = LOCKS / "yarn-v1" / "honojs__hono__benchmarks__jsx"
    berry = LOCKS / "yarn-berry" / "prettier__prettier__scripts__release"
    npmex = LOCKS / "npmex" / "hono-query-param"
    return [
        Subject(
            "npm-v3",
            "package-lock.json",
            _project("package-lock.json", hono / "package-lock.json", hono / "package.json"),
            "json",
            4,
        ),
        Subject(
            "npm-v1",
            "package-lock.json",
            _project("package-lock.json", latency / "package-lock.json", latency / "package.json"),
            "json",
            3,
        ),
        Subject(
            "npm-hidden",
            "node_modules/.package-lock.json",
            _project("node_modules/.package-lock.json", hono / "package-lock.json", hono / "package.json"),
            "json",
            2,
        ),
        Subject(
            "npm-shrinkwrap",
            "npm-shrinkwrap.json",
            _project("npm-shrinkwrap.json", memory / "package-lock.json", memory / "package.json"),
            "json",
            2,
        ),
        Subject(
            "npm-manifest",
            "package.json",
            _project("package-lock.json", hono / "package-lock.json", hono / "package.json"),
            "json",
            2,
        ),
        Subject(
            "pnpm-v5",
            "pnpm-lock.yaml",
            _project("pnpm-lock.yaml", LOCKS / "pnpm-v5" / "windicss__windicss__pnpm-lock.yaml", None),
            "yaml",
            2,
        ),
        Subject(
            "pnpm-v6",
            "pnpm-lock.yaml",
            _project("pnpm-lock.yaml", LOCKS / "pnpm-v6" / "vuejs__vue__pnpm-lock.yaml", None),
            "yaml",
            1,
        ),
        Subject(
            "pnpm-v9",
            "pnpm-lock.yaml",
            _project("pnpm-lock.yaml", LOCKS / "pnpm-v9" / "vuejs__core__pnpm-lock.yaml", None),
            "yaml",
            2,
        ),
        Subject(
            "bun",
            "bun.lock",
            _project(
                "bun.lock",
                bun / "honojs__hono__benchmarks__routers__bun.lock",
                bun / "honojs__hono__benchmarks__routers__package.json",
            ),
            "jsonc",
            3,
        ),
        # Only detection's "packageManager" look-up reads it: damage may never crash that either.
        Subject(
            "bun-manifest",
            "package.json",
            _project(
                "bun.lock",
                bun / "honojs__hono__benchmarks__routers__bun.lock",
                bun / "honojs__hono__benchmarks__routers__package.json",
            ),
            "json",
            2,
            read=False,
        ),
        Subject("npmex", "npm.lock", _project("npm.lock", npmex / "npm.lock", npmex / "package.json"), "json", 4),
        Subject(
            "npmex-manifest",
            "package.json",
            _project("npm.lock", npmex / "npm.lock", npmex / "package.json"),
            "json",
            2,
        ),
        Subject("yarn-v1", "yarn.lock", _project("yarn.lock", yarn1 / "yarn.lock", yarn1 / "package.json"), "yarn1", 4),
        Subject(
            "yarn-v1-manifest",
            "package.json",
            _project("yarn.lock", yarn1 / "yarn.lock", yarn1 / "package.json"),
            "json",
            2,
        ),
        Subject(
            "yarn-berry", "yarn.lock", _project("yarn.lock", berry / "yarn.lock", berry / "package.json"), "yaml", 4
        ),
    ]


SUBJECTS = {subject.id: subject for subject in _subjects()}


@dataclass(frozen=True)
class Database:
    id: str
    name: str  # file name written in the case directory
    syntax: str  # jsonl, json (an array) or gzip (gzipped JSON Lines)


DATABASES = {
    db.id: db
    for db in (
        Database("osv-jsonl", "malicious.jsonl", "jsonl"),
        Database("osv-array", "advisories.json", "json"),
        Database("osv-gzip", "advisories.jsonl.gz", "gzip"),
    )
}


@cache
def fixture_bytes(path: Path) -> bytes:
    return path.read_bytes()


@cache
def good_database_text() -> str:
    """The three core OSV fixture files as one JSON Lines database (the database every lockfile case uses)."""
    return "".join(
        (OSV / "core" / f"{name}.jsonl").read_text(encoding="utf-8") for name in ("ghsa", "malicious", "nodesecurity")
    )


@cache
def database_bytes(db_id: str) -> bytes:
    """A real OSV database in the shape ``db_id`` names, before damage."""
    if db_id == "osv-jsonl":
        return fixture_bytes(OSV / "core" / "malicious.jsonl")
    records = [json.loads(line) for line in (OSV / "core" / "nodesecurity.jsonl").read_text().splitlines() if line]
    if db_id == "osv-array":
        return (json.dumps(records, indent=2, ensure_ascii=False) + "\n").encode()
    return fixture_bytes(OSV / "core" / "ghsa.jsonl")  # gzipped after damage


# -- damage --------------------------------------------------------------------------------------

Mutation = Callable[[random.Random, bytes, str], bytes]


def _content_end(data: bytes) -> int:
    return len(data.rstrip())


def truncate_anywhere(rng: random.Random, data: bytes, syntax: str) -> bytes:
    return data[: rng.randrange(0, max(1, _content_end(data) - 1))]


def truncate_in_string(rng: random.Random, data: bytes, syntax: str) -> bytes:
    quotes = [m.end() for m in re.finditer(rb'"', data[: _content_end(data) - 2])]
    if not quotes:
        return truncate_anywhere(rng, data, syntax)
    return data[: rng.choice(quotes) + rng.randrange(0, 4)]


def truncate_in_utf8(rng: random.Random, data: bytes, syntax: str) -> bytes:
    """Cut after the first bytes of a multi-byte character: the file's own, or one put in a string."""
    leads = [i for i, byte in enumerate(data) if byte >= 0xC0]
    if leads and rng.random() < 0.5:
        return data[: rng.choice(leads) + 1]
    quotes = [m.end() for m in re.finditer(rb'"', data)] or [rng.randrange(len(data))]
    cut = rng.choice(quotes)
    character = rng.choice(["é", "✓", "😀"]).encode()
    return data[:cut] + character[: rng.randrange(1, len(character))]


def flip_bytes(rng: random.Random, data: bytes, syntax: str) -> bytes:
    damaged = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        position = rng.randrange(len(damaged))
        damaged[position] ^= rng.randint(1, 255)
    return bytes(damaged)


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def delete_lines(rng: random.Random, data: bytes, syntax: str) -> bytes:
    lines = _lines(data)
    start = rng.randrange(len(lines))
    del lines[start : start + rng.randint(1, 3)]
    return b"".join(lines)


def duplicate_lines(rng: random.Random, data: bytes, syntax: str) -> bytes:
    lines = _lines(data)
    start = rng.randrange(len(lines))
    block = lines[start : start + rng.randint(1, 6)]
    return b"".join(lines[:start] + block + lines[start:])


def swap_lines(rng: random.Random, data: bytes, syntax: str) -> bytes:
    lines = _lines(data)
    a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[a], lines[b] = lines[b], lines[a]
    return b"".join(lines)


STRANGE_VALUES: tuple[Any, ...] = ([], {}, None, 0, -1, 1.5, 10**30, True, "", "x", ["a", 1], {"a": {"b": []}})
# Strings that are wrong only in meaning: versions, ranges, specs, names, vectors, times.
STRANGE_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "1.0.0-",
    "v1.2.3",
    "99999999999999999999.0.0",
    "1.2.3.4",
    ">=1 <",
    "^",
    "~>1",
    "1.x || ",
    "*",
    "latest",
    "npm:",
    "npm:@",
    "workspace:",
    "file:",
    "link:..",
    "git+ssh://",
    "github:",
    "https://",
    "@",
    "@scope",
    "@scope/",
    "../../..",
    "/",
    "a\nb",
    "\u0000",
    "\u202eevil",
    "💥",
    "x" * 100_000,
    "1.0.0 " * 2000,
    "CVSS:3.1/AV:N/AC:",
    "CVSS:9.9/XX:Y",
    "2024-13-45T99:99:99Z",
    "ECOSYSTEM",
    "SEMVER",
    "GIT",
    "npm",
    "PyPI",
)
ACTIONS = ("swap", "swap", "string", "string", "drop", "rename", "several")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a parsed document (the keys and indices that lead to a value)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value[:20]):
            found.append((*prefix, index))
            found.extend(_paths(item, (*prefix, index)))
    return found


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        document = document[key]
    return document


NEST_MARK = "\u0000nest\u0000"


def _edit_document(rng: random.Random, document: Any, action: str) -> Any:
    """Damage one real key of a parsed document (or several): another type, a strange string,
    the key gone, the key renamed, or (``nest``) a marker that :func:`_dump` deepens."""
    paths = _paths(document)
    if not paths:
        return NEST_MARK if action == "nest" else copy.deepcopy(rng.choice(STRANGE_VALUES))
    if action == "several":
        for _ in range(rng.randint(2, 6)):
            document = _edit_document(rng, document, rng.choice(("swap", "string", "drop", "rename")))
        return document
    path = rng.choice(paths)
    if action == "string":  # prefer a key that holds a string: that is where meaning is parsed
        strings = [p for p in paths if isinstance(_parent(document, p)[p[-1]], str)]
        path = rng.choice(strings or paths)
    parent = _parent(document, path)
    if action == "drop" or action == "rename":
        if isinstance(parent, dict):
            value = parent.pop(path[-1])
            if action == "rename":
                parent[rng.choice(STRANGE_STRINGS[:40]) + str(path[-1])[: rng.randrange(3)]] = value
        elif parent:
            del parent[path[-1]]
        return document
    value = {"nest": NEST_MARK, "string": None}.get(action, copy.deepcopy(rng.choice(STRANGE_VALUES)))
    parent[path[-1]] = rng.choice(STRANGE_STRINGS) if action == "string" else value
    return document


def _dump(rng: random.Random, document: Any, **options: Any) -> str:
    """JSON text; the nest marker becomes a list nested too deep for Python's json to build."""
    text = json.dumps(document, **options)
    depth = rng.choice([200, 2000, 50_000])
    return text.replace(json.dumps(NEST_MARK), "[" * depth + "1" + "]" * depth)


def _damage_structure(rng: random.Random, data: bytes, syntax: str, action: str) -> bytes:
    """Damage at the JSON/YAML level, on the real keys of the file."""
    text = data.decode("utf-8-sig")
    if syntax in ("json", "jsonc"):
        document = json.loads(strip_jsonc(text) if syntax == "jsonc" else text)
        return _dump(rng, _edit_document(rng, document, action), indent=2).encode()
    if syntax == "jsonl":
        lines = text.splitlines()
        index = rng.randrange(len(lines))
        lines[index] = _dump(rng, _edit_document(rng, json.loads(lines[index]), action))
        return ("\n".join(lines) + "\n").encode()
    if syntax == "yaml":
        if action == "nest":  # YAML flow lists nest like JSON ones
            lines = _lines(data)
            index = rng.choice([i for i, line in enumerate(lines) if re.match(rb"^\s+\S[^:\n]*: \S", line)])
            key = lines[index].split(b": ", 1)[0]
            lines[index] = key + b": " + b"[" * 5000 + b"]" * 5000 + b"\n"
            return b"".join(lines)
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return yaml.dump(
            _edit_document(rng, document, action),
            Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
            sort_keys=False,
            allow_unicode=True,
            width=1 << 20,
        ).encode()
    # yarn v1 is neither: replace the value of one "key value" line with another kind of token
    lines = _lines(data)
    candidates = [i for i, line in enumerate(lines) if re.match(rb"^\s+\S+ \S", line)]
    index = rng.choice(candidates)
    key = lines[index].split(b" ", 3)
    tokens = [b"{", b"[]", b'"unterminated', b"null", b"12", b"true", b":", b"'x'"]
    replacement = rng.choice(tokens + [json.dumps(s).encode() for s in STRANGE_STRINGS])
    if action == "nest":
        replacement = b"[" * 5000
    elif action == "drop":
        replacement = b""
    lines[index] = b" ".join(key[:-1]) + b" " + replacement + b"\n"
    return b"".join(lines)


def swap_types(rng: random.Random, data: bytes, syntax: str) -> bytes:
    return _damage_structure(rng, data, syntax, rng.choice(ACTIONS))


def nest_deeply(rng: random.Random, data: bytes, syntax: str) -> bytes:
    return _damage_structure(rng, data, syntax, "nest")


def wrong_encoding(rng: random.Random, data: bytes, syntax: str) -> bytes:
    text = data.decode("utf-8-sig")
    choice = rng.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "bom", "double-bom", "nul"])
    if choice == "latin-1":  # a non-ASCII character in a string, as latin-1: not UTF-8 any more
        position = text.find('"', rng.randrange(len(text))) + 1 or 1
        return (text[:position] + "é" + text[position:]).encode("latin-1", errors="replace")
    if choice == "bom":
        return b"\xef\xbb\xbf" + data
    if choice == "double-bom":
        return b"\xef\xbb\xbf\xef\xbb\xbf" + data
    if choice == "nul":
        position = rng.randrange(len(data))
        return data[:position] + b"\x00" * rng.randint(1, 8) + data[position:]
    return text.encode(choice)


def empty(rng: random.Random, data: bytes, syntax: str) -> bytes:
    return rng.choice([b"", b"\n", b"   \n\t\n", b"\xef\xbb\xbf", b"\x00", b"\xef\xbb\xbf\n  "])


def garbage(rng: random.Random, data: bytes, syntax: str) -> bytes:
    choice = rng.choice(["random", "gzip", "gzip-cut", "other-format"])
    if choice == "random":
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 512)))
    if choice == "gzip":
        return gzip.compress(data, mtime=0)
    if choice == "gzip-cut":
        packed = gzip.compress(data, mtime=0)
        return packed[: rng.randrange(2, len(packed))]
    # a real file of another format under this name
    others = [
        LOCKS / "yarn-v1" / "honojs__hono__benchmarks__jsx" / "yarn.lock",
        LOCKS / "bun" / "v0" / "bun.lock",
        LOCKS / "pnpm-v9" / "edge-cases" / "pnpm-lock.yaml",
        LOCKS / "npm" / "honojs__hono__benchmarks__query-param" / "package-lock.json",
        OSV / "core" / "malicious.jsonl",
    ]
    return fixture_bytes(rng.choice(others))


# What a hostile file can hold in its strings (the OSC title and C1 CSI sequences, a screen clear, a
# carriage return, a bidi override, a line separator, DEL, NUL, a lone surrogate, a line feed).
HOSTILE_PIECES = ("\x1b]0;owned\x07", "\x1b[2J", "\r", "\x9b31m", "\u202e", "\u2028", "\x7f", "\x00", "\ud800", "\n")


def _hostile(rng: random.Random, text: str) -> str:
    pieces = "".join(rng.sample(HOSTILE_PIECES, rng.randint(1, 4)))
    return rng.choice([text + pieces, pieces + text, text[: len(text) // 2] + pieces + text[len(text) // 2 :]])


def _inject(rng: random.Random, document: Any) -> Any:
    """Escape sequences in a few real string values and keys (names, versions, ids, paths)."""
    for _ in range(rng.randint(1, 3)):
        paths = _paths(document)
        if not paths:
            return document
        path = rng.choice(paths)
        parent = _parent(document, path)
        if isinstance(path[-1], str) and rng.random() < 0.5:  # a key: a package path or name
            parent[_hostile(rng, path[-1])] = parent.pop(path[-1])
        elif isinstance(parent[path[-1]], str):
            parent[path[-1]] = _hostile(rng, parent[path[-1]])
    return document


def inject_escapes(rng: random.Random, data: bytes, syntax: str) -> bytes:
    text = data.decode("utf-8-sig")
    if syntax in ("json", "jsonc"):
        document = json.loads(strip_jsonc(text) if syntax == "jsonc" else text)
        return json.dumps(_inject(rng, document), indent=2).encode()
    if syntax == "jsonl":
        lines = text.splitlines()
        index = rng.randrange(len(lines))
        lines[index] = json.dumps(_inject(rng, json.loads(lines[index])))
        return ("\n".join(lines) + "\n").encode()
    if syntax == "yaml":
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        # The pure-Python dumper: it writes a lone surrogate as a "\uD800" escape, the C one cannot.
        return yaml.dump(_inject(rng, document), Dumper=yaml.SafeDumper, sort_keys=False, width=1 << 20).encode()
    # yarn v1: a quoted value (JSON string syntax) on one "key value" line
    lines = _lines(data)
    index = rng.choice([i for i, line in enumerate(lines) if re.match(rb"^\s+\S+ \S", line)])
    key, _, value = lines[index].rstrip(b"\n").rpartition(b" ")
    lines[index] = key + b" " + json.dumps(_hostile(rng, value.decode().strip('"'))).encode() + b"\n"
    return b"".join(lines)


# Mutations, with whether their result can still be valid input (False: it must be exit 2).
MUTATIONS: dict[str, tuple[Mutation, bool]] = {
    "truncate": (truncate_anywhere, True),
    "truncate_in_string": (truncate_in_string, True),
    "truncate_in_utf8": (truncate_in_utf8, False),
    "flip_bytes": (flip_bytes, True),
    "delete_lines": (delete_lines, True),
    "duplicate_lines": (duplicate_lines, True),
    "swap_lines": (swap_lines, True),
    "swap_types": (swap_types, True),
    "nest_deeply": (nest_deeply, True),
    "wrong_encoding": (wrong_encoding, True),
    "empty": (empty, False),
    "garbage": (garbage, True),
    "inject_escapes": (inject_escapes, True),
}
# A JSON document cut short is never valid: these must be exit 2 for JSON subjects.
JSON_TRUNCATIONS = {"truncate", "truncate_in_string"}


def _rng(case_id: str) -> random.Random:
    return random.Random(f"{SEED}:{case_id}")


# -- running a case and checking the contract ----------------------------------------------------


@dataclass(frozen=True)
class Run:
    case_id: str
    code: int
    out: str
    err: str


class CaseTimeout(BaseException):
    """Not an Exception: the CLI's internal-error handler must not swallow it."""


@contextmanager
def bounded(seconds: int = 20, memory: int = 1 << 30) -> Iterator[None]:
    """Run a case with a time limit and at most ``memory`` more bytes of address space.

    A reader that loops forever, or allocates without end, then fails its own case (a MemoryError
    is an internal error, exit 70) instead of hanging or OOM-killing the whole test run.
    """
    if resource is None or not (hasattr(signal, "SIGALRM") and Path("/proc/self/statm").exists()):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        TALLY.hangs += 1
        raise CaseTimeout(f"no answer within {seconds} s")

    in_use = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = in_use + memory if hard == resource.RLIM_INFINITY else min(hard, in_use + memory)
    previous = signal.signal(signal.SIGALRM, expire)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, previous)


def audit(capsys: pytest.CaptureFixture[str], case_id: str, *args: str) -> Run:
    with bounded():
        code = main(["audit", *args, "--compromised", "--format", "json"])
    captured = capsys.readouterr()
    return Run(case_id, code, captured.out, captured.err)


@dataclass
class Tally:
    inputs: int = 0
    exit_70: int = 0
    raw_escapes: int = 0
    hangs: int = 0


TALLY = Tally()
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def raw_escapes(text: str) -> list[str]:
    """Characters a terminal would act on rather than show (a line feed ends a line: allowed)."""
    return [char for char in text if char != "\n" and unicodedata.category(char) in UNSAFE_CATEGORIES]


@pytest.fixture(scope="module", autouse=True)
def _report_tally(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    line = (
        f"malformed and hostile inputs: {TALLY.inputs} tried, {TALLY.exit_70} exit-70s, "
        f"{TALLY.raw_escapes} raw escapes, {TALLY.hangs} hangs"
    )
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print(f"\n{line}")


def check(run: Run, damaged: Path, *, must_fail: bool) -> None:
    where = f"[{run.case_id}] exit {run.code}\nstderr: {run.err[:2000]!r}\nstdout: {run.out[:300]!r}"
    TALLY.inputs += 1
    TALLY.exit_70 += run.code == 70
    escapes = raw_escapes(run.out) + raw_escapes(run.err)
    TALLY.raw_escapes += len(escapes)
    assert not escapes, f"raw escapes {escapes[:10]!r} reached the terminal: {where}"
    assert "Traceback" not in run.err + run.out, where
    assert run.code in (0, 1, 2), where
    if run.code == 2:
        lines = run.err.splitlines()
        assert len(lines) == 1 and run.err.endswith("\n"), where
        assert lines[0].startswith("npmaudit: error: "), where
        assert str(damaged) in lines[0], f"the error does not name {damaged}: {where}"
        assert run.out == "", where
        return
    assert not must_fail, f"damaged input passed as valid: {where}"
    try:
        report = json.loads(run.out)
    except ValueError:
        pytest.fail(f"stdout is not one JSON document: {where}")
    assert isinstance(report, dict), where


def write_project(directory: Path, subject: Subject) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in subject.files:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(fixture_bytes(source))


@pytest.fixture
def good_db(tmp_path: Path) -> Path:
    path = tmp_path / "advisories.jsonl"
    path.write_text(good_database_text(), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting from the environment or a config file above the case may change the outcome."""
    for variable in (
        "NPMAUDIT_DB",
        "NPMAUDIT_POLICY",
        "NPMAUDIT_AUDIT_LEVEL",
        "NPMAUDIT_OFFLINE",
        "NODE_ENV",
        "NPMAUDIT_DEBUG",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def _cases(ids: list[str], samples: Callable[[str], int]) -> list[str]:
    return [f"{item}:{name}:{n}" for item in ids for name in MUTATIONS for n in range(samples(item) * SCALE)]


LOCKFILE_CASES = _cases(list(SUBJECTS), lambda item: SUBJECTS[item].samples)
DATABASE_CASES = _cases(list(DATABASES), lambda item: 3)


@pytest.mark.parametrize("case_id", LOCKFILE_CASES)
def test_damaged_lockfile_or_manifest(case_id: str, tmp_path: Path, good_db: Path, capsys) -> None:
    subject_id, mutation_name, _ = case_id.split(":")
    subject = SUBJECTS[subject_id]
    mutate, may_stay_valid = MUTATIONS[mutation_name]
    project = tmp_path / "project"
    write_project(project, subject)
    damaged = project / subject.target
    data = fixture_bytes(dict(subject.files)[subject.target])
    damaged.write_bytes(mutate(_rng(case_id), data, subject.syntax))
    if subject.syntax == "json" and mutation_name in JSON_TRUNCATIONS:
        may_stay_valid = False
    may_stay_valid = may_stay_valid or not subject.read
    # Half the cases name the project directory (detection), half the file itself.
    by_directory = _rng(case_id + ":how").random() < 0.5 or subject.target == "package.json"
    run = audit(capsys, case_id, str(project) if by_directory else str(damaged), "--db", str(good_db))
    check(run, damaged, must_fail=not may_stay_valid)


@pytest.mark.parametrize("case_id", DATABASE_CASES)
def test_damaged_database(case_id: str, tmp_path: Path, capsys) -> None:
    db_id, mutation_name, _ = case_id.split(":")
    database = DATABASES[db_id]
    mutate, may_stay_valid = MUTATIONS[mutation_name]
    damaged_bytes = mutate(
        _rng(case_id), database_bytes(db_id), "jsonl" if database.syntax == "gzip" else database.syntax
    )
    if database.syntax == "gzip":
        damaged_bytes = gzip.compress(damaged_bytes, mtime=0)
    if database.syntax == "json" and mutation_name in JSON_TRUNCATIONS:
        may_stay_valid = False
    damaged = tmp_path / database.name
    damaged.write_bytes(damaged_bytes)
    lockfile = LOCKS / "npm" / "honojs__hono__benchmarks__query-param" / "package-lock.json"
    run = audit(capsys, case_id, "--lockfile", str(lockfile), "--db", str(damaged))
    check(run, damaged, must_fail=not may_stay_valid)


IMPORT_MUTATIONS = {
    "truncate",
    "truncate_in_utf8",
    "flip_bytes",
    "swap_types",
    "nest_deeply",
    "wrong_encoding",
    "empty",
    "garbage",
    "inject_escapes",
}


# Failures in a module this file's author may not change, kept visible for its owner (exact ids: a
# shallower nesting of the same mutation is valid input and passes).
@pytest.mark.parametrize("case_id", [c for c in DATABASE_CASES if c.split(":")[1] in IMPORT_MUTATIONS])
def test_importing_a_damaged_database(case_id: str, tmp_path: Path, capsys) -> None:
    """`db import` reads the same files: same contract, and a failed import leaves the store as it was."""
    db_id, mutation_name, _ = case_id.split(":")
    database = DATABASES[db_id]
    mutate, may_stay_valid = MUTATIONS[mutation_name]
    damaged_bytes = mutate(
        _rng(case_id), database_bytes(db_id), "jsonl" if database.syntax == "gzip" else database.syntax
    )
    if database.syntax == "gzip":
        damaged_bytes = gzip.compress(damaged_bytes, mtime=0)
    damaged = tmp_path / database.name
    damaged.write_bytes(damaged_bytes)
    store = tmp_path / "store.sqlite"
    good = tmp_path / "good.jsonl"
    good.write_text(good_database_text(), encoding="utf-8")
    assert main(["db", "import", str(good), "--db", str(store)]) == 0
    capsys.readouterr()
    before = _store_ids(store, capsys)
    with bounded():
        code = main(["db", "import", str(damaged), "--db", str(store)])
    captured = capsys.readouterr()
    run = Run(case_id, code, captured.out if code else "{}", captured.err)
    check(run, damaged, must_fail=not may_stay_valid)
    if code:
        assert _store_ids(store, capsys) == before, f"[{case_id}] a failed import changed the store"


def _store_ids(store: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    exported = store.with_name("export.jsonl")
    assert main(["db", "export", str(exported), "--format", "jsonl", "--db", str(store)]) == 0
    capsys.readouterr()
    return sorted(json.loads(line)["id"] for line in exported.read_text().splitlines() if line)


@pytest.fixture(scope="module")
def good_store(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a real store holding the core OSV fixtures, built once by `db import`."""
    directory = tmp_path_factory.mktemp("store")
    source = directory / "good.jsonl"
    source.write_text(good_database_text(), encoding="utf-8")
    store = directory / "advisories.sqlite"
    assert main(["db", "import", str(source), "--db", str(store)]) == 0
    return store.read_bytes()


STORE_DAMAGE = [f"store:{kind}:{n}" for kind in ("truncate", "flip_bytes", "zero_page", "header") for n in range(4)]


@pytest.mark.parametrize("case_id", STORE_DAMAGE)
def test_damaged_sqlite_store(case_id: str, good_store: bytes, tmp_path: Path, capsys) -> None:
    _, kind, _ = case_id.split(":")
    rng = _rng(case_id)
    data = bytearray(good_store)
    page = 4096
    if kind == "truncate":
        data = data[: rng.randrange(1, len(data))]
    elif kind == "flip_bytes":
        for _ in range(rng.randint(1, 16)):
            data[rng.randrange(100, len(data))] ^= rng.randint(1, 255)
    elif kind == "zero_page":
        start = rng.randrange(1, max(2, len(data) // page)) * page
        data[start : start + page] = bytes(min(page, len(data) - start))
    else:  # the header after the magic string: page size, counters, schema cookie
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(16, 100)] ^= rng.randint(1, 255)
    damaged = tmp_path / "advisories.sqlite"
    damaged.write_bytes(bytes(data))
    lockfile = LOCKS / "npm" / "socketio__socket.io__packages__engine.io__examples__latency" / "package-lock.json"
    check(audit(capsys, case_id, "--lockfile", str(lockfile), "--db", str(damaged)), damaged, must_fail=False)


# -- the file system: directories, links, permissions ------------------------------------------


@pytest.mark.parametrize("subject_id", ["npm-v3", "pnpm-v9", "bun", "npmex", "yarn-v1", "yarn-berry"])
@pytest.mark.parametrize("how", ["--lockfile", "path"])
def test_directory_where_the_lockfile_belongs(subject_id: str, how: str, tmp_path: Path, good_db: Path, capsys) -> None:
    subject = SUBJECTS[subject_id]
    project = tmp_path / "project"
    project.mkdir()
    damaged = project / subject.target
    damaged.mkdir()
    (damaged / "package.json").write_text("{}")
    args = ["--lockfile", str(damaged)] if how == "--lockfile" else [str(damaged)]
    check(audit(capsys, f"{subject_id}:{how}", *args, "--db", str(good_db)), damaged, must_fail=True)


@pytest.mark.parametrize("subject_id", ["npm-v3", "pnpm-v9", "bun", "npmex", "yarn-v1", "yarn-berry"])
@pytest.mark.parametrize("link", ["dangling", "loop"])
def test_symlinked_lockfile_that_leads_nowhere(
    subject_id: str, link: str, tmp_path: Path, good_db: Path, capsys
) -> None:
    subject = SUBJECTS[subject_id]
    project = tmp_path / "project"
    project.mkdir()
    damaged = project / subject.target
    damaged.symlink_to(damaged.name if link == "loop" else "missing.lock")
    case_id = f"{subject_id}:{link}"
    check(audit(capsys, case_id, "--lockfile", str(damaged), "--db", str(good_db)), damaged, must_fail=True)
    check(audit(capsys, case_id, str(damaged), "--db", str(good_db)), damaged, must_fail=True)


@pytest.mark.parametrize("kind", ["zero-device", "null-device", "fifo"])
@pytest.mark.parametrize("subject_id", ["npm-v3", "pnpm-v9", "yarn-v1", "bun"])
def test_device_or_pipe_under_a_lockfile_name(
    kind: str, subject_id: str, tmp_path: Path, good_db: Path, capsys
) -> None:
    """Read whole, /dev/zero never ends and a FIFO without a writer never answers: refused, not read."""
    project = tmp_path / "project"
    write_project(project, SUBJECTS[subject_id])
    damaged = project / SUBJECTS[subject_id].target
    damaged.unlink()
    if kind == "fifo":
        os.mkfifo(damaged)
    else:
        damaged.symlink_to("/dev/zero" if kind == "zero-device" else "/dev/null")
    check(
        audit(capsys, f"{subject_id}:{kind}", "--lockfile", str(damaged), "--db", str(good_db)), damaged, must_fail=True
    )


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_device_as_the_database(device: str, capsys) -> None:
    lockfile = LOCKS / "npm" / "honojs__hono__benchmarks__query-param" / "package-lock.json"
    check(audit(capsys, device, "--lockfile", str(lockfile), "--db", device), Path(device), must_fail=True)


@pytest.mark.parametrize("mutation_name", ["truncate", "flip_bytes", "swap_types", "nest_deeply", "empty"])
def test_recursive_scan_with_one_damaged_project(mutation_name: str, tmp_path: Path, good_db: Path, capsys) -> None:
    """-r goes on past a broken project: one report on stdout, one error line naming the file, exit 2."""
    root = tmp_path / "monorepo"
    for subject_id in ("npm-v3", "pnpm-v9", "yarn-v1", "bun"):
        write_project(root / subject_id, SUBJECTS[subject_id])
    damaged = root / "pnpm-v9" / "pnpm-lock.yaml"
    case_id = f"pnpm-v9:{mutation_name}:0"
    mutate, _ = MUTATIONS[mutation_name]
    damaged.write_bytes(mutate(_rng(case_id), damaged.read_bytes(), "yaml"))
    run = audit(capsys, f"recursive:{case_id}", str(root), "-r", "--db", str(good_db), "--policy", "warn")
    where = f"[{run.case_id}] exit {run.code}\nstderr: {run.err[:2000]!r}"
    assert "Traceback" not in run.err + run.out, where
    report = json.loads(run.out)
    assert isinstance(report, dict), where
    errors = [line for line in run.err.splitlines() if line.startswith("npmaudit: error: ")]
    assert all(line.startswith("npmaudit: ") for line in run.err.splitlines()), where
    if errors:
        assert run.code == 2 and len(errors) == 1 and str(damaged) in errors[0], where
    else:
        assert run.code == 0 and mutation_name not in ("empty", "nest_deeply"), where


UNREADABLE = [
    "npm-v3",
    "npm-hidden",
    "pnpm-v9",
    "bun",
    "npmex",
    "yarn-v1",
    "yarn-berry",
    "npm-manifest",
    "npmex-manifest",
    "yarn-v1-manifest",
]


@pytest.mark.skipif(ROOT, reason="root reads files whatever their mode (see the simulated variant)")
@pytest.mark.parametrize("subject_id", UNREADABLE)
def test_unreadable_file(subject_id: str, tmp_path: Path, good_db: Path, capsys) -> None:
    subject = SUBJECTS[subject_id]
    project = tmp_path / "project"
    write_project(project, subject)
    damaged = project / subject.target
    damaged.chmod(0)
    try:
        check(audit(capsys, subject_id, str(project), "--db", str(good_db)), damaged, must_fail=True)
    finally:
        damaged.chmod(0o644)


@pytest.mark.parametrize("subject_id", UNREADABLE)
def test_unreadable_file_simulated(
    subject_id: str, tmp_path: Path, good_db: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same case when the tests run as root: opening the file fails with EACCES, as chmod 000 would."""
    subject = SUBJECTS[subject_id]
    project = tmp_path / "project"
    write_project(project, subject)
    damaged = project / subject.target
    real_open = Path.open

    def open_denied(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == damaged:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    real_os_open = os.open

    def os_open_denied(path: Any, *args: Any, **kwargs: Any) -> int:  # textfile opens without blocking
        if Path(path) == damaged:
            raise PermissionError(13, "Permission denied", str(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_denied)
    monkeypatch.setattr(os, "open", os_open_denied)
    check(audit(capsys, subject_id, str(project), "--db", str(good_db)), damaged, must_fail=True)


@pytest.mark.parametrize("subject_id", ["npm-manifest", "bun-manifest", "npmex-manifest", "yarn-v1-manifest"])
@pytest.mark.parametrize("shape", ["directory", "loop"])
def test_manifest_that_is_not_a_file(subject_id: str, shape: str, tmp_path: Path, good_db: Path, capsys) -> None:
    subject = SUBJECTS[subject_id]
    project = tmp_path / "project"
    write_project(project, subject)
    damaged = project / "package.json"
    damaged.unlink()
    if shape == "directory":
        damaged.mkdir()
    else:
        damaged.symlink_to("package.json")
    run = audit(capsys, f"{subject_id}:{shape}", str(project), "--db", str(good_db))
    check(run, damaged, must_fail=False)  # a project may have no package.json; one that is there must be read


@pytest.mark.parametrize(
    "layout",
    [
        "self-link",  # node_modules/loop -> .
        "parent-link",  # node_modules/a/node_modules/back -> ../../..
        "link-cycle",  # node_modules/x -> y, node_modules/y -> x
        "nested-node-modules-link",  # node_modules/a/node_modules -> ../../node_modules
    ],
)
def test_node_modules_with_symlink_loops(layout: str, tmp_path: Path, good_db: Path, capsys) -> None:
    project = tmp_path / "project"
    modules = project / "node_modules"
    (modules / "a").mkdir(parents=True)
    (project / "package.json").write_text('{"name": "p", "version": "1.0.0", "dependencies": {"a": "1"}}')
    (modules / "a" / "package.json").write_text('{"name": "a", "version": "1.0.0"}')
    if layout == "self-link":
        (modules / "loop").symlink_to(".")
    elif layout == "parent-link":
        (modules / "a" / "node_modules").mkdir()
        (modules / "a" / "node_modules" / "back").symlink_to("../../..")
    elif layout == "link-cycle":
        (modules / "x").symlink_to("y")
        (modules / "y").symlink_to("x")
    else:
        (modules / "a" / "node_modules").symlink_to("../../node_modules")
    run = audit(capsys, layout, str(project), "--db", str(good_db))
    check(run, modules, must_fail=False)


# -- damaged advisory databases in a directory, and --write targets ---------------------------------


@pytest.mark.parametrize("shape", ["truncated", "not-an-object", "utf-16", "directory-named-json", "loop", "empty"])
def test_damaged_record_in_a_database_directory(shape: str, tmp_path: Path, capsys) -> None:
    directory = tmp_path / "records"
    directory.mkdir()
    records = [json.loads(line) for line in (OSV / "core" / "malicious.jsonl").read_text().splitlines()[:5]]
    for index, record in enumerate(records):
        (directory / f"{index}.json").write_text(json.dumps(record, indent=2))
    damaged = directory / "3.json"
    text = damaged.read_text()
    must_fail = True
    if shape == "truncated":
        damaged.write_text(text[: len(text) // 2])
    elif shape == "not-an-object":
        damaged.write_text(json.dumps([records[3]]))
    elif shape == "utf-16":
        damaged.write_bytes(text.encode("utf-16"))
    elif shape == "directory-named-json":
        damaged.unlink()
        damaged.mkdir()
        must_fail = False  # not a record file: skipped, the others are read
    elif shape == "loop":
        damaged.unlink()
        damaged.symlink_to("3.json")
    else:
        damaged.write_text("")
    lockfile = LOCKS / "npm" / "honojs__hono__benchmarks__query-param" / "package-lock.json"
    check(audit(capsys, shape, "--lockfile", str(lockfile), "--db", str(directory)), damaged, must_fail=must_fail)


def test_an_empty_database_directory_is_not_a_database(tmp_path: Path, capsys) -> None:
    """No record file at all: an audit against it would check nothing, so it must not pass."""
    directory = tmp_path / "records"
    directory.mkdir()
    lockfile = LOCKS / "npm" / "honojs__hono__benchmarks__query-param" / "package-lock.json"
    check(audit(capsys, "empty-dir", "--lockfile", str(lockfile), "--db", str(directory)), directory, must_fail=True)


@pytest.mark.parametrize("shape", ["damaged-json", "directory", "parent-is-a-file", "utf-16"])
def test_write_target_that_cannot_take_the_merge(shape: str, tmp_path: Path, good_db: Path, capsys) -> None:
    """--write into a bad target: exit 2 naming it, and nothing written or half-written there."""
    project = tmp_path / "project"
    write_project(project, SUBJECTS["npm-v1"])
    target = tmp_path / "out.json"
    if shape == "damaged-json":
        target.write_text('[{"id": "GHSA-x", "modified": "2020-01-01T00:00:00Z"')
    elif shape == "directory":  # a directory database: read by --db, never rewritten as one file
        target.mkdir()
        (target / "MAL-1.json").write_text('{"id": "MAL-1", "modified": "2020-01-01T00:00:00Z"}')
    elif shape == "parent-is-a-file":
        (tmp_path / "file").write_text("x")
        target = tmp_path / "file" / "out.json"
    else:
        target.write_bytes('[{"id": "GHSA-x"}]'.encode("utf-16"))
    before = sorted(p.name for p in tmp_path.iterdir())
    content = target.read_bytes() if target.is_file() else None
    run = audit(capsys, shape, str(project), "--db", str(good_db), "--write", str(target), "--policy", "warn")
    check(run, target if shape != "parent-is-a-file" else target.parent, must_fail=True)
    if content is not None:
        assert target.read_bytes() == content, f"[{shape}] the damaged target was rewritten"
    after = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))
    assert after == before, f"[{shape}] files left behind: {set(after) - set(before)}"


# -- the project config ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"policy = \n",
        b"policy = 'warn'\npolicy = 'error'\n",
        b"\xff\xfe p\x00o\x00l\x00",
        "policy = 'warn'".encode("utf-16"),
        b"db = 5\n",
        b"db = ''\n",
        b"db = ['a']\n",
        b"policy = 3\n",
        b"audit-level = []\n",
        b"omit = 5\n",
        b"omit = ['dev', 3]\n",
        b"omit = ['everything']\n",
        b"[policy]\nx = 1\n",
        b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n",
    ],
    ids=lambda content: repr(content[:24]),
)
def test_damaged_project_config(content: bytes, tmp_path: Path, good_db: Path, capsys) -> None:
    project = tmp_path / "project"
    write_project(project, SUBJECTS["npm-v1"])
    config = project / ".npmaudit.toml"
    config.write_bytes(content)
    if content.startswith(b"db"):  # used only when no --db is given
        run = audit(capsys, repr(content[:24]), str(project))
    else:
        run = audit(capsys, repr(content[:24]), str(project), "--db", str(good_db))
    check(run, config, must_fail=content != b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n")


@pytest.mark.parametrize("where", ["in-a-value", "before-a-value"])
def test_yarn_v1_tab_inside_a_line(where: str, tmp_path: Path, good_db: Path, capsys) -> None:
    """Found by the fuzz (yarn-v1:flip_bytes:46 at NPMAUDIT_FUZZ_SCALE=12): one flipped byte made a tab,
    and the tokenizer looped until memory ran out."""
    project = tmp_path / "project"
    write_project(project, SUBJECTS["yarn-v1"])
    damaged = project / "yarn.lock"
    text = damaged.read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("  integrity sha512-"))
    broken = line[:40] + "\t" + line[41:] if where == "in-a-value" else line.replace(" sha512-", "\tsha512-")
    damaged.write_text(text.replace(line, broken, 1), encoding="utf-8")
    check(audit(capsys, f"yarn-v1-tab:{where}", str(project), "--db", str(good_db)), damaged, must_fail=False)


def test_case_ids_are_stable() -> None:
    """Same seed, same damage: a failing case id replays exactly."""
    data = fixture_bytes(LOCKS / "npm" / "honojs__hono__benchmarks__query-param" / "package-lock.json")
    for name, (mutate, _) in MUTATIONS.items():
        first = mutate(_rng(f"npm-v3:{name}:0"), data, "json")
        assert first == mutate(_rng(f"npm-v3:{name}:0"), data, "json"), name
        assert first != data or name == "swap_lines", name
