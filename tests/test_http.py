"""The HTTP client against real servers on 127.0.0.1: retries, every failure closed, credentials
isolated per registry, proxies, TLS, conditional requests."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from npmaudit.errors import EXIT_SOURCE
from npmaudit.http import HttpClient, HttpError, HttpSettings
from npmaudit.npmrc import load_npm_config
from servers import CA_CERT, DripServer, EchoServer, Fault, RegistryServer

FAST = HttpSettings(timeout=2.0, retries=2, backoff=0.01)


def _client(settings: HttpSettings = FAST, network=None, sleeps: list[float] | None = None) -> HttpClient:
    def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return HttpClient("test source", settings, network, sleep=sleep)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _npm_config(tmp_path: Path, npmrc: str, **env: str):
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / ".npmrc").write_text(npmrc)
    empty = tmp_path / "bin"
    empty.mkdir(exist_ok=True)
    base = {"PATH": str(empty), "HOME": str(tmp_path / "home"), "npm_config_globalconfig": str(tmp_path / "none")}
    return load_npm_config(project, env={**base, **env}, ask_npm=False)


def test_get_json_and_gzipped_post() -> None:
    with EchoServer() as server:
        client = _client()
        assert client.get_json(server.url + "a/b").data == {"method": "GET", "path": "/a/b"}
        assert client.post_json(server.url + "post", {"x": [1, 2]}, gzip_body=True)["method"] == "POST"
        assert server.requests[-1].headers["content-encoding"] == "gzip"
        assert server.requests[-1].json() == {"x": [1, 2]}


def test_retries_5xx_then_succeeds() -> None:
    with EchoServer() as server:
        server.add_fault(Fault("/", "status", status=503, times=2))
        sleeps: list[float] = []
        assert _client(sleeps=sleeps).get_json(server.url).data["path"] == "/"
        assert len(server.requests) == 3
        assert sleeps == [0.01, 0.02]  # exponential backoff


def test_429_honours_retry_after() -> None:
    with EchoServer() as server:
        server.add_fault(Fault("/", "status", status=429, headers={"retry-after": "2"}))
        sleeps: list[float] = []
        _client(sleeps=sleeps).get_json(server.url)
        assert sleeps == [2.0]


def test_retry_after_beyond_the_limit_fails_at_once() -> None:
    with EchoServer() as server:
        server.add_fault(Fault("/", "status", status=429, headers={"retry-after": "3600"}))
        with pytest.raises(HttpError, match="asked to retry after 3600 s") as caught:
            _client().get_json(server.url)
        assert len(server.requests) == 1 and caught.value.status == 429


def test_retries_are_bounded() -> None:
    with EchoServer() as server:
        server.add_fault(Fault("/", "status", status=502, times=0, body=b'{"error":"bad gateway"}'))
        with pytest.raises(HttpError) as caught:
            _client().get_json(server.url + "x")
        assert len(server.requests) == 3  # 1 + 2 retries
        assert caught.value.exit_code == EXIT_SOURCE
        assert str(caught.value) == f'test source: HTTP 502 from GET {server.url}x: {{"error":"bad gateway"}}'


def test_http_error_is_not_retried() -> None:
    with EchoServer() as server:
        server.add_fault(Fault("/", "status", status=404, body=b"{}"))
        with pytest.raises(HttpError, match="HTTP 404") as caught:
            _client().get_json(server.url)
        assert caught.value.status == 404 and len(server.requests) == 1


def test_connection_refused() -> None:
    port = _closed_port()
    with pytest.raises(HttpError) as caught:
        _client().get_json(f"http://127.0.0.1:{port}/v1/vulns/X")
    assert str(caught.value) == f"test source: GET http://127.0.0.1:{port}/v1/vulns/X: connection refused"


def test_timeout() -> None:
    with EchoServer() as server:
        server.add_fault(Fault("/", "delay", seconds=1.5, times=0))
        with pytest.raises(HttpError, match=r"no answer within 0.2 s$"):
            _client(HttpSettings(timeout=0.2, retries=1, backoff=0.01)).get_json(server.url)
        assert len(server.requests) == 2  # a read timeout is retried once, then fails


def test_dropped_connection() -> None:
    with EchoServer() as server:
        server.add_fault(Fault("/", "drop", times=0))
        with pytest.raises(HttpError, match=r"connection lost|answer cut off"):
            _client().get_json(server.url)
        assert len(server.requests) == 3


def test_invalid_json() -> None:
    with EchoServer() as server:
        server.add_fault(Fault("/", "body", body=b"<html>not json</html>"))
        with pytest.raises(HttpError, match=r"invalid JSON in the answer of .* \(Expecting value\)"):
            _client().get_json(server.url)


def test_ten_megabyte_answer() -> None:
    item = '{"vulns":[{"id":"MAL-2024-%d","modified":"2024-01-01T00:00:00Z"}]}'
    body = ('{"results":[' + ",".join(item % i for i in range(170_000)) + "]}").encode()
    assert len(body) > 10_000_000, len(body)
    with EchoServer() as server:
        server.add_fault(Fault("/", "body", body=body))
        answer = _client().get_json(server.url).data
        assert len(answer["results"]) == 170_000 and answer["results"][-1]["vulns"][0]["id"] == "MAL-2024-169999"
        server.add_fault(Fault("/", "body", body=body))
        with pytest.raises(HttpError, match="answer larger than 1 MiB"):
            _client(HttpSettings(max_bytes=1024 * 1024)).get_json(server.url)


def test_token_never_reaches_another_host(tmp_path: Path) -> None:
    """Two real servers on different ports; the token is configured for the first one only."""
    with EchoServer() as registry, EchoServer() as other:
        config = _npm_config(
            tmp_path,
            f"registry={registry.url}\n//127.0.0.1:{registry.port}/:_authToken=${{TOKEN}}\n",
            TOKEN="tok-123",
        )
        client = _client(network=config)
        client.get_json(registry.url + "lodash")
        client.get_json(other.url + "lodash")
        client.post_json(other.url + "-/npm/v1/security/advisories/bulk", {"a": ["1.0.0"]}, gzip_body=True)
        # a redirect from the registry to the other host must not carry the token along
        registry.add_fault(Fault("/redirect", "status", status=302, headers={"location": other.url + "landed"}))
        assert client.get_json(registry.url + "redirect").data["path"] == "/landed"
        # a caller-supplied Authorization header is dropped too: only the configuration decides
        client.get_json(other.url + "explicit", headers={"authorization": "Bearer tok-123"})
        assert [r.headers.get("authorization") for r in registry.requests] == ["Bearer tok-123", "Bearer tok-123"]
        assert all("authorization" not in r.headers for r in other.requests)
        assert len(other.requests) == 4
        assert not any("tok-123" in json.dumps(r.headers) + r.body.decode() for r in other.requests)


def test_credentials_never_appear_in_errors(tmp_path: Path) -> None:
    with EchoServer() as registry:
        config = _npm_config(tmp_path, f"registry={registry.url}\n//127.0.0.1:{registry.port}/:_authToken=tok-999\n")
        registry.add_fault(Fault("/", "status", status=401, body=b'{"error":"bad token tok-999"}'))
        with pytest.raises(HttpError) as caught:
            _client(network=config).get_json(registry.url + "x")
        assert "tok-999" not in str(caught.value) and "***" in str(caught.value)
    with pytest.raises(HttpError) as caught:
        _client().get_json(f"http://user:pw-secret@127.0.0.1:{_closed_port()}/x")
    assert "pw-secret" not in str(caught.value) and "user" not in str(caught.value)


def test_conditional_get() -> None:
    with RegistryServer(packuments={"lodash": {"name": "lodash", "versions": {}}}) as registry:
        client = _client()
        first = client.get_json(registry.url + "lodash")
        assert first.status == 200 and first.etag
        again = client.get_json(registry.url + "lodash", etag=first.etag)
        assert again.not_modified and again.data is None
        assert registry.requests[-1].headers["if-none-match"] == first.etag


def test_http_proxy_and_no_proxy(tmp_path: Path) -> None:
    with EchoServer() as proxy:
        config = _npm_config(tmp_path, f"proxy={proxy.url}\nnoproxy=localhost\n")
        answer = _client(network=config).get_json("http://registry.npmjs.test/lodash").data
        assert answer["path"] == "http://registry.npmjs.test/lodash"  # absolute form: sent through the proxy
        with EchoServer() as direct:
            local = direct.url.replace("127.0.0.1", "localhost")
            assert _client(network=config).get_json(local + "x").data["path"] == "/x"
            assert len(proxy.requests) == 1


def test_tls_with_cafile_and_strict_ssl(tmp_path: Path) -> None:
    with EchoServer(tls=True) as server:
        with pytest.raises(HttpError, match="TLS error"):
            _client().get_json(server.url)
        trusted = _npm_config(tmp_path, f"cafile={CA_CERT}\n")
        assert _client(network=trusted).get_json(server.url).data["path"] == "/"
        unverified = _npm_config(tmp_path, "strict-ssl=false\n")
        assert _client(network=unverified).get_json(server.url).data["path"] == "/"


def test_scoped_packument_fetch_with_credentials_and_etag(tmp_path: Path) -> None:
    """How the npm-report code fetches packuments: scoped registry, its own token, conditional GET."""
    from npmaudit.http import PACKUMENT_ACCEPT

    packument = {"name": "@acme/tool", "versions": {"1.0.0": {}}}
    with RegistryServer(packuments={"@acme/tool": packument}, token="acme-token") as private, EchoServer() as public:
        config = _npm_config(
            tmp_path,
            f"registry={public.url}\n@acme:registry={private.url}acme/\n"
            f"//127.0.0.1:{private.port}/acme/:_authToken=acme-token\n",
        )
        url = config.packument_url("@acme/tool")
        assert url == f"{private.url}acme/@acme%2ftool"
        client = _client(network=config)
        first = client.get_json(url, headers={"accept": PACKUMENT_ACCEPT})
        assert first.data == packument
        assert client.get_json(url, etag=first.etag).not_modified
        assert client.get_json(config.packument_url("lodash")).data["path"] == "/lodash"
        assert all(r.headers.get("authorization") == "Bearer acme-token" for r in private.requests)
        assert all("authorization" not in r.headers for r in public.requests)


# --- the total deadline: a server that sends a byte now and then never trips a socket timeout ---

HEADERS_NEVER_END = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
BODY_NEVER_ENDS = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n"
DRIP_SETTINGS = HttpSettings(timeout=0.5, retries=0, backoff=0.01)


def _timed_failure(client: HttpClient, url: str) -> tuple[HttpError, float]:
    started = time.monotonic()
    with pytest.raises(HttpError) as caught:
        client.get_json(url)
    return caught.value, time.monotonic() - started


def test_headers_dripping_forever_end_at_the_deadline() -> None:
    with DripServer(HEADERS_NEVER_END, b"x-slow: yes\r\n") as server:
        error, elapsed = _timed_failure(_client(DRIP_SETTINGS), server.url + "v1/vulns/X")
    assert str(error) == f"test source: GET {server.url}v1/vulns/X: no answer within 0.5 s"
    assert error.exit_code == EXIT_SOURCE and 0.5 <= elapsed < 1.5, elapsed


def test_body_dripping_forever_ends_at_the_deadline() -> None:
    with DripServer(BODY_NEVER_ENDS, b'{"a":') as server:
        error, elapsed = _timed_failure(_client(DRIP_SETTINGS), server.url)
    assert str(error) == f"test source: GET {server.url}: no whole answer within 0.5 s"
    assert 0.5 <= elapsed < 1.5, elapsed


def test_a_body_read_to_the_end_of_the_stream_is_not_taken_whole_when_cut_at_the_deadline() -> None:
    """Without content-length the body ends where the stream does: the cut-off must not pass as its end."""
    with DripServer(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", b"[1,") as server:
        error, elapsed = _timed_failure(_client(DRIP_SETTINGS), server.url)
    assert str(error).endswith(": no whole answer within 0.5 s") and elapsed < 1.5, (error, elapsed)


def test_a_dripping_server_is_retried_with_a_new_deadline_each_time() -> None:
    with DripServer(BODY_NEVER_ENDS, b" ") as server:
        error, elapsed = _timed_failure(_client(HttpSettings(timeout=0.4, retries=2, backoff=0.01)), server.url)
        assert server.connections == 3
    assert str(error).endswith(": no whole answer within 0.4 s") and 1.2 <= elapsed < 2.0, elapsed


def test_a_kept_alive_connection_is_watched_too() -> None:
    """The second request reuses the pooled connection (no new connect): the deadline still applies."""
    first = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
    with DripServer(BODY_NEVER_ENDS, b" ", answer_first=first) as server:
        client = _client(DRIP_SETTINGS)
        assert client.get_json(server.url).data == {}
        error, elapsed = _timed_failure(client, server.url)
        assert server.connections == 1
    assert str(error).endswith(": no whole answer within 0.5 s") and elapsed < 1.5, elapsed


def test_a_tls_handshake_dripping_forever_ends_at_the_deadline() -> None:
    """A TLS record header announcing 16 KB, then one byte at a time: the handshake never completes."""
    with DripServer(b"\x16\x03\x03\x40\x00", b"\x00", read_request=False) as server:
        url = f"https://127.0.0.1:{server.port}/"
        error, elapsed = _timed_failure(_client(DRIP_SETTINGS), url)
    assert str(error) == f"test source: GET {url}: no answer within 0.5 s"
    assert elapsed < 1.5, elapsed


def test_a_download_is_streamed_to_its_sink_and_bounded_by_its_own_deadline(tmp_path: Path) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB, binary
    with EchoServer() as server:
        server.add_fault(Fault("/all.zip", "body", body=body))
        with (tmp_path / "all.zip").open("w+b") as sink:
            assert _client().download(server.url + "all.zip", sink) == len(body)
        assert (tmp_path / "all.zip").read_bytes() == body
    with DripServer(BODY_NEVER_ENDS, b"PK") as server, (tmp_path / "slow.zip").open("w+b") as sink:
        started = time.monotonic()
        with pytest.raises(HttpError, match=r": no whole answer within 0.3 s$"):
            _client().download(server.url + "all.zip", sink, timeout=0.3)
        assert time.monotonic() - started < 1.5
