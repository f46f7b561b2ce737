"""Shared by the `npmaudit serve` tests: a real server process on 127.0.0.1, stores built from the
fixtures, a small HTTP client, and the lockfile corpus laid out as projects."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from npmaudit.advisories.mirror import import_source
from npmaudit.advisories.store import filling_store

FIXTURES = Path(__file__).parent / "fixtures"
ORACLE_ADVISORIES = FIXTURES / "npm_oracle" / "advisories"
STORE_RECORDS = FIXTURES / "osv" / "store"
LOCKFILES = FIXTURES / "lockfiles"
LOCKFILE_NAMES = ("package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock", "bun.lock", "npm.lock")
NOT_CORPUS = {"expected", "edge", "edge-cases", "hand"}  # hand-written edge cases, recorded outputs


def build_store(path: Path, *sources: Path) -> Path:
    with filling_store(path) as store:
        store.merge([import_source(source) for source in sources])
    return path


def oracle_store(path: Path) -> Path:
    """The advisories npm-oracle's recordings use: real.jsonl then synthetic.jsonl."""
    return build_store(path, ORACLE_ADVISORIES / "real.jsonl", ORACLE_ADVISORIES / "synthetic.jsonl")


def fixture_store(path: Path) -> Path:
    """The store fixtures: GitHub, Node Security and malicious-package records (some withdrawn)."""
    return build_store(path, *sorted(STORE_RECORDS.glob("*.jsonl.gz")))


class ServeProcess:
    """`python -m npmaudit serve --port 0 ...` as a child process; ``url`` ends with a slash."""

    def __init__(self, db: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "npmaudit", "serve", "--db", str(db), "--port", "0", *args]
        self.process = subprocess.Popen(
            command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env={**os.environ, **(env or {})}
        )
        assert self.process.stderr is not None
        first = self.process.stderr.readline()
        if "listening on " not in first:
            self.process.wait(timeout=30)
            raise RuntimeError(f"serve did not start: {first}{self.process.stderr.read()}")
        self.url = first.split("listening on ", 1)[1].split(" ", 1)[0]
        self.port = int(self.url.rstrip("/").rsplit(":", 1)[1])
        self.log: list[str] = []
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line.rstrip("\n"))

    def access_log(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.log) if line.startswith("{")]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self._drain.join(timeout=10)
        return code

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.stop()


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def post_json(port: int, path: str, document: Any, *, gzipped: bool = False) -> Reply:
    body = json.dumps(document).encode()
    headers = {"content-type": "application/json"}
    if gzipped:
        body = gzip.compress(body)
        headers["content-encoding"] = "gzip"
    return request(port, "POST", path, body, headers)


def npm_stems() -> list[str]:
    return sorted(p.name for p in (LOCKFILES / "npm").iterdir() if p.is_dir() and p.name not in NOT_CORPUS)


def corpus(scratch: Path) -> Iterator[tuple[str, Path]]:
    """(id, project folder) for every real lockfile of tests/fixtures/lockfiles, each laid out in a
    folder under its own name (gzipped ones decompressed, flat ``<prefix>__<lockfile>`` files
    beside their ``<prefix>__package.json``)."""
    for kind in sorted(p for p in LOCKFILES.iterdir() if p.is_dir()):
        for entry in sorted(kind.iterdir()):
            if entry.name in NOT_CORPUS:
                continue
            ident = f"{kind.name}/{entry.name}"
            if entry.is_dir():
                names = {p.name for p in entry.iterdir()}
                plain = [n for n in LOCKFILE_NAMES if n in names]
                packed = [n for n in LOCKFILE_NAMES if f"{n}.gz" in names]
                if plain:
                    yield ident, entry
                elif packed:
                    folder = scratch / ident
                    folder.mkdir(parents=True, exist_ok=True)
                    for item in entry.iterdir():
                        if item.name == f"{packed[0]}.gz":
                            (folder / packed[0]).write_bytes(gzip.decompress(item.read_bytes()))
                        elif item.is_file():
                            shutil.copyfile(item, folder / item.name)
                    yield ident, folder
                continue
            for name in LOCKFILE_NAMES:
                if entry.name.endswith(f"__{name}"):
                    prefix = entry.name[: -len(name) - 2]
                    folder = scratch / kind.name / prefix
                    folder.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(entry, folder / name)
                    manifest = kind / f"{prefix}__package.json"
                    if manifest.exists():
                        shutil.copyfile(manifest, folder / "package.json")
                    yield f"{kind.name}/{prefix}", folder
