"""Credentials never reach a message, a store or a host name lookup: real servers on 127.0.0.1.

* a mirror URL with ``user:password@`` and ``?token=``: both are used (a Basic Authorization header,
  the query on every file), neither is printed nor kept in the store, and the host looked up is
  127.0.0.1 alone (not ``user:password@127.0.0.1``, which would send the password to the resolver);
* a server that echoes the credentials it was sent (the Basic pair decoded, its base64, a token,
  the request's query) in an error body: the message shows ``***`` instead;
* :func:`npmaudit.npmrc.redact_url` and :func:`npmaudit.npmrc.scrub_credentials` on every URL shape.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import EXAMPLE
from npmaudit.cli import main
from npmaudit.npmrc import redact_url, scrub_credentials
from servers.base import Fault
from servers.mirror_server import MirrorServer
from servers.osv_server import OsvServer
from servers.registry_server import RegistryServer

USER = "ci-robot"
PASSWORD = "s3cret-hunter2"
TOKEN = "t0ken-abcdef123456"
SECRETS = (PASSWORD, TOKEN, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("NPMAUDIT_DB", "NPMAUDIT_POLICY", "NPMAUDIT_AUDIT_LEVEL", "NPMAUDIT_OFFLINE", "NODE_ENV"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NPMAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no user .npmrc of this machine


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every host name this process resolves (the real resolver still answers)."""
    seen: list[str] = []
    resolve = socket.getaddrinfo

    def recording(host: object, *args: object, **kwargs: object) -> object:
        seen.append(str(host))
        return resolve(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    yield seen


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} shown: {text!r}"


def with_credentials(url: str, *, query: bool = True) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{USER}:{PASSWORD}@{parts.netloc}{parts.path}" + (f"?token={TOKEN}" if query else "")


def test_mirror_credentials_are_sent_never_shown_stored_or_resolved(tmp_path: Path, capsys, lookups) -> None:
    records = json.loads((EXAMPLE / "advisories.json").read_text())
    store = tmp_path / "advisories.sqlite"
    with MirrorServer(records) as mirror:
        url = with_credentials(mirror.mirror_url)
        code, shown = run(capsys, "db", "update", "--mirror", url, "--db", str(store))
        assert code == 0, shown
        for request in mirror.requests:
            assert request.headers["authorization"] == "Basic " + SECRETS[2]
            assert parse_qs(urlsplit(request.path).query) == {"token": [TOKEN]}
        code, info = run(capsys, "db", "info", "--format", "json", "--db", str(store))
        assert json.loads(info)["sources"][0]["location"] == mirror.mirror_url  # stored without them
        mirror.add_fault(Fault("/npm/modified_id.csv", "status", status=404, body=b"no such mirror", times=0))
        code, failed = run(capsys, "db", "update", "--mirror", url, "--db", str(store))
    assert code == 3 and mirror.mirror_url in failed, failed
    assert_no_secret(shown + info + failed + store.read_bytes().decode("latin-1"))
    assert lookups and not [host for host in lookups if USER in host or PASSWORD in host], lookups


def test_basic_credentials_echoed_by_the_registry_are_scrubbed(tmp_path: Path, capsys) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("package.json", "package-lock.json"):
        (project / name).write_bytes((EXAMPLE / name).read_bytes())
    with RegistryServer() as registry:
        pair = f"{USER}:{PASSWORD}"
        (project / ".npmrc").write_text(f"//127.0.0.1:{registry.port}/:_auth={SECRETS[2]}\n")
        echo = json.dumps({"error": f"bad credentials {pair} (user {USER}, password {PASSWORD}, Basic {SECRETS[2]})"})
        registry.add_fault(Fault("/-/npm/v1/security", "status", status=401, body=echo.encode(), times=0))
        code, shown = run(capsys, "audit", str(project), "--registry-advisories", "--registry", registry.url)
        assert registry.requests[0].headers["authorization"] == f"Basic {SECRETS[2]}"
    assert code == 3 and "HTTP 401" in shown and "bad credentials" in shown, shown
    assert_no_secret(shown)


def test_a_token_echoed_by_the_registry_is_scrubbed(tmp_path: Path, capsys) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("package.json", "package-lock.json"):
        (project / name).write_bytes((EXAMPLE / name).read_bytes())
    with RegistryServer() as registry:
        (project / ".npmrc").write_text(f"//127.0.0.1:{registry.port}/:_authToken={TOKEN}\n")
        echo = f"invalid token {TOKEN}; Authorization: Bearer {TOKEN}".encode()
        registry.add_fault(Fault("/-/npm/v1/security", "status", status=403, body=echo, times=0))
        code, shown = run(capsys, "audit", str(project), "--registry-advisories", "--registry", registry.url)
    assert code == 3 and "HTTP 403" in shown, shown
    assert_no_secret(shown)


def test_osv_url_credentials_echoed_in_an_error_are_scrubbed(capsys, lookups) -> None:
    with OsvServer([]) as server:
        echo = f"rejected {USER}:{PASSWORD} for /v1/querybatch?token={TOKEN}".encode()
        server.add_fault(Fault("/v1/querybatch", "status", status=400, body=echo, times=0))
        code, shown = run(
            capsys, "audit", str(EXAMPLE), "--osv", "--osv-url", with_credentials(server.url, query=False)
        )
        assert server.requests[0].headers["authorization"] == "Basic " + SECRETS[2]
    assert code == 3 and "rejected" in shown, shown
    assert_no_secret(shown)
    assert not [host for host in lookups if PASSWORD in host], lookups


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@host.test/npm?token=x#frag", "https://host.test/npm"),
        ("https://u:p@ss@host.test:8443/a/b", "https://host.test:8443/a/b"),
        ("u:p@host.test/path?x=1", "host.test/path"),
        ("http://[u:p@host.test/x", "http://host.test/x"),
        ("http://u:p@host.test:notaport/x", "http://host.test:notaport/x"),
        ("file:///srv/mirror/npm", "file:///srv/mirror/npm"),
        ("https://host.test/npm", "https://host.test/npm"),
    ],
)
def test_redact_url_whatever_the_shape(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET https://u:pw@host.test/x: HTTP 500", "GET https://host.test/x: HTTP 500"),
        ("https://host.test/x?a=1&access_token=abc&sig=zz#f", "https://host.test/x?a=1&access_token=***&sig=***#f"),
        ("Authorization: Bearer abcdefghijkl", "Authorization: Bearer ***"),
        ("Basic Y2ktcm9ib3Q6czNjcmV0", "Basic ***"),
        ("//host.test/:_authToken=npm_abcdef", "//host.test/:_authToken=***"),
        ("an ordinary message: 3 records, lodash@4.17.21", "an ordinary message: 3 records, lodash@4.17.21"),
    ],
)
def test_scrub_credentials(text: str, expected: str) -> None:
    assert scrub_credentials(text) == expected
