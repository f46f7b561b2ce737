"""Name resolution inside the total deadline of an HTTP exchange (npmaudit/http_deadline.py).

``getaddrinfo`` has no timeout of its own. The end-to-end test makes it stall for real, without any
network: in a private mount namespace, a FIFO without a writer is bind-mounted over /etc/hosts, so
the C library's lookup blocks opening it (the machine's own /etc/hosts is untouched). That needs root
and ``unshare`` (tests/mountns.py); the function-level tests run anywhere, with an injected resolver.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import mountns
from conftest import FIXTURES
from npmaudit.http import HttpClient, HttpError, HttpSettings
from npmaudit.http_deadline import ResolveTimeout, resolve_within
from npmaudit.npmrc import load_npm_config
from servers import CA_CERT, EchoServer, RegistryServer

PROJECT = FIXTURES / "npm_refused_packument" / "project"


def test_a_stalled_lookup_ends_at_the_deadline() -> None:
    release = threading.Event()

    def stalling(host: str, port: int, family: int, kind: int) -> list[Any]:
        release.wait(30)  # a resolver that does not answer
        return []

    started = time.monotonic()
    try:
        with pytest.raises(ResolveTimeout):
            resolve_within("registry.npmjs.test", 443, started + 0.3, resolver=stalling)
        assert 0.25 < time.monotonic() - started < 2.0
    finally:
        release.set()


def test_a_lookup_answers_or_fails_as_the_resolver_does() -> None:
    answer = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))]

    def quick(host: str, port: int, family: int, kind: int) -> list[Any]:
        assert (host, port, kind) == ("registry.npmjs.test", 80, socket.SOCK_STREAM)
        return answer

    def unknown(host: str, port: int, family: int, kind: int) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    deadline = time.monotonic() + 5
    assert resolve_within("registry.npmjs.test", 80, deadline, resolver=quick) == answer
    with pytest.raises(socket.gaierror):
        resolve_within("registry.npmjs.test", 80, deadline, resolver=unknown)


def test_a_host_name_is_still_resolved_and_connected() -> None:
    """``localhost`` goes through the resolving thread (an address literal does not): same answer."""
    with RegistryServer(packuments={"a": {"name": "a", "versions": {}}}) as registry:
        url = registry.url.replace("127.0.0.1", "localhost") + "a"
        client = HttpClient("registry", HttpSettings(timeout=5, retries=0))
        assert client.get_json(url).data == {"name": "a", "versions": {}}


@pytest.mark.skipif(not mountns.available(), reason="needs root and unshare to stall getaddrinfo with a FIFO")
def test_a_lookup_that_never_returns_fails_the_run_within_the_timeout(tmp_path: Path) -> None:
    """Before: the run hung for as long as the lookup did (here, for ever). Now exit 3 within the
    deadline, one line naming the request."""
    fifo = tmp_path / "hosts"
    os.mkfifo(fifo)
    environment = mountns.npmaudit_environment(tmp_path / "cache")
    environment.update({"NPMAUDIT_RETRIES": "0", "HOME": str(tmp_path)})
    command = [sys.executable, "-m", "npmaudit", "audit", str(PROJECT), "--osv"]
    command += ["--osv-url", "http://osv.stalled.test:9/", "--timeout", "1", "--format", "json"]
    script = "\n".join(
        [
            "set -e",
            f"mount --bind {shlex.quote(str(fifo))} /etc/hosts",
            "set +e",
            f"timeout -s KILL 20 {shlex.join(command)}",  # the old code even outlived SIGTERM
        ]
    )
    started = time.monotonic()
    completed = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    seconds = time.monotonic() - started
    where = f"exit {completed.returncode} in {seconds:.1f} s: {completed.stderr[-800:]!r}"
    assert completed.returncode == 3, where  # 137 would be `timeout` killing a hung run
    assert seconds < 10, where
    assert completed.stderr.count("\n") == 1 and "within 1 s" in completed.stderr, where
    assert "osv.stalled.test" in completed.stderr and completed.stdout == "", where


def test_tls_still_verifies_the_name_not_the_address_it_resolved_to(tmp_path: Path) -> None:
    """The test certificate is for 127.0.0.1 only: reached as `localhost` (resolved by the thread to
    127.0.0.1) it must fail verification, as before; without verification the exchange works."""
    project = tmp_path / "project"
    project.mkdir()
    with EchoServer(tls=True) as server:
        url = server.url.replace("127.0.0.1", "localhost")
        (project / ".npmrc").write_text(f"cafile={CA_CERT}\n")
        trusted = load_npm_config(project, env={"HOME": str(tmp_path), "PATH": str(tmp_path / "bin")})
        with pytest.raises(HttpError, match="Hostname mismatch, certificate is not valid for 'localhost'"):
            HttpClient("registry", HttpSettings(timeout=5, retries=0), trusted).get_json(url)
        (project / ".npmrc").write_text("strict-ssl=false\n")
        unverified = load_npm_config(project, env={"HOME": str(tmp_path), "PATH": str(tmp_path / "bin")})
        assert HttpClient("registry", HttpSettings(timeout=5, retries=0), unverified).get_json(url).data["path"] == "/"
