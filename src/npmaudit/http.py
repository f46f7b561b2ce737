"""The one HTTP client every online feature uses (urllib3 2.x underneath).

It exists so that every request gets the same guarantees:

* **fail closed** — refused connections, timeouts, HTTP errors, oversized answers and invalid
  JSON all raise :class:`HttpError` (a :class:`~npmaudit.errors.SourceError`, exit 3) with one
  line naming the source, the request and the reason; never an empty answer;
* **a total deadline** — each request on the wire (resolving the host name, connecting, sending,
  the headers and the whole body) must finish within ``HttpSettings.timeout`` seconds, however slowly the server
  sends (:mod:`npmaudit.http_deadline`); a request past it is retried like a lost connection;
* **bounded retries** on 429 (honouring ``Retry-After``), on 5xx and on lost connections or read
  timeouts, with exponential backoff; a refused connection is not retried (nothing listens);
* **credentials only where configured** — the ``Authorization`` header is computed for every URL,
  redirects included, from the npm configuration's nerf-dart keys, so a token for one registry
  never reaches another host. Credentials are never logged and are scrubbed from every message;
* **proxies and CAs** as npm configures them (``proxy``/``https-proxy``/``noproxy``/*_PROXY,
  ``cafile``/``ca``/``strict-ssl``).

Conditional requests (``ETag``/``Last-Modified``) are supported by :meth:`HttpClient.get_json`
for callers that cache documents (packuments).
"""

from __future__ import annotations

import base64
import email.utils
import gzip
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, unquote, urljoin, urlsplit, urlunsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from npmaudit import __version__
from npmaudit.errors import SourceError
from npmaudit.http_deadline import POOL_CLASSES, Exchange, exchange
from npmaudit.npmrc import redact_url, scrub_credentials
from npmaudit.records import field, record_class

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_TIMEOUT = 30.0
MiB = 1024 * 1024
# The Accept header npm sends for packuments: the abbreviated ("corgi") document when the registry has it.
PACKUMENT_ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"


# A password or query value shorter than this is not scrubbed on its own (it would blank out
# ordinary words of a message); the header and the whole user:password pair always are.
MIN_SECRET_LENGTH = 4


def credential_forms(authorization: str) -> list[str]:
    """The texts that reveal an Authorization header's credential if they appear in a message."""
    forms = [authorization]
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if not token:
        return forms
    forms.append(token)
    if scheme.lower() == "basic":
        try:
            pair = base64.b64decode(token, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error and UnicodeDecodeError
            return forms
        user, _, password = pair.partition(":")
        forms.append(pair)
        forms.append(f"{quote(user, safe='')}:{quote(password, safe='')}")
        if len(password) >= MIN_SECRET_LENGTH:
            forms.extend({password, quote(password, safe="")})
    return forms


class NetworkConfig(Protocol):
    """What the client needs from the npm configuration (:class:`npmaudit.npmrc.NpmConfig`)."""

    def authorization(self, url: str) -> str | None: ...

    def proxy_for(self, url: str) -> str | None: ...

    @property
    def strict_ssl(self) -> bool: ...

    @property
    def ca_certs(self) -> tuple[str, ...]: ...


class Sink(Protocol):
    """Where :meth:`HttpClient.download` writes: a binary file opened for writing (rewound on a retry)."""

    def write(self, data: bytes, /) -> int: ...

    def seek(self, offset: int, /) -> int: ...

    def truncate(self) -> int: ...

    def tell(self) -> int: ...


BodyProgress = Callable[[int, int | None], None]  # (bytes so far, announced length or None)


def _announced_length(response: urllib3.BaseHTTPResponse) -> int | None:
    """Content-Length, when it counts the bytes written (not a compressed encoding's)."""
    if response.headers.get("content-encoding", "identity").lower() != "identity":
        return None
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


class NoNetworkConfig:
    """No credentials, no proxy, the system CA store: for callers without an npm configuration."""

    strict_ssl = True
    ca_certs: tuple[str, ...] = ()

    def authorization(self, url: str) -> str | None:
        return None

    def proxy_for(self, url: str) -> str | None:
        return None


@record_class(frozen=True)
class HttpSettings:
    """Limits of one client. ``timeout`` is the total deadline of each request on the wire
    (connect, send, headers and body, in seconds); every retry gets a new one."""

    timeout: float = DEFAULT_TIMEOUT
    retries: int = 3  # extra attempts after the first
    backoff: float = 0.5  # first delay; doubles with every retry
    max_backoff: float = 10.0
    max_retry_after: float = 60.0  # a longer Retry-After fails at once instead of hanging
    max_bytes: int = 256 * MiB  # decoded answer size; larger answers fail closed
    max_redirects: int = 5
    pool_size: int = 64  # as many kept-alive connections per host as hydration workers
    user_agent: str = f"npmaudit/{__version__}"


class _Transient(Exception):
    """A failure worth another attempt (lost connection, timeout); ``reason`` ends the message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HttpError(SourceError):
    """A request that did not produce a usable answer. ``status`` is the HTTP status, if any."""

    def __init__(self, source: str, reason: str, status: int | None = None) -> None:
        super().__init__(source, reason)
        self.status = status


@record_class(frozen=True)
class Response:
    url: str  # the final URL, after redirects (redacted of credentials)
    status: int
    headers: Mapping[str, str]
    body: bytes


@record_class(frozen=True)
class JsonResponse:
    """A JSON document, or ``not_modified`` when the cached copy (etag/last_modified) is current."""

    status: int
    data: Any
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@record_class
class _Stats:
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class HttpClient:
    """A thread-safe client for one advisory source or registry; ``source`` names it in errors."""

    def __init__(
        self,
        source: str,
        settings: HttpSettings | None = None,
        network: NetworkConfig | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.settings = settings or HttpSettings()
        self.network: NetworkConfig = network or NoNetworkConfig()
        self._sleep = sleep
        self._managers: dict[str | None, urllib3.PoolManager] = {}
        self._lock = threading.Lock()
        self._stats = _Stats()
        self._secrets: set[str] = set()

    @property
    def request_count(self) -> int:
        """Requests sent on the wire (retries and redirects included)."""
        return self._stats.requests

    def close(self) -> None:
        with self._lock:
            for manager in self._managers.values():
                manager.clear()
            self._managers.clear()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public API ---------------------------------------------------------------------------

    def get_json(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> JsonResponse:
        """GET a JSON document; with ``etag``/``last_modified`` a 304 returns ``not_modified``."""
        sent = {"accept": "application/json", **(headers or {})}
        if etag:
            sent["if-none-match"] = etag
        if last_modified:
            sent["if-modified-since"] = last_modified
        response = self.request("GET", url, headers=sent, ok=(200, 304) if etag or last_modified else (200,))
        if response.status == 304:
            return JsonResponse(
                304, None, response.headers.get("etag") or etag, response.headers.get("last-modified") or last_modified
            )
        return JsonResponse(
            response.status,
            self.decode_json(response),
            response.headers.get("etag"),
            response.headers.get("last-modified"),
        )

    def post_json(
        self, url: str, payload: Any, *, gzip_body: bool = False, headers: Mapping[str, str] | None = None
    ) -> Any:
        """POST a JSON payload (gzipped when asked, as npm sends audit payloads) and decode the answer."""
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        try:
            body = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (a lockfile's "\ud800" escape): send it escaped
            body = json.dumps(payload, separators=(",", ":")).encode("ascii")
        sent = {"content-type": "application/json", "accept": "application/json", **(headers or {})}
        if gzip_body:
            body = gzip.compress(body, mtime=0)
            sent["content-encoding"] = "gzip"
        return self.decode_json(self.request("POST", url, body=body, headers=sent))

    def decode_json(self, response: Response) -> Any:
        try:
            return json.loads(response.body)
        except ValueError as error:
            reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
            raise self._error(f"invalid JSON in the answer of {response.url} ({reason})") from None
        except RecursionError:  # json decodes nested arrays and objects recursively
            raise self._error(f"invalid JSON in the answer of {response.url} (nested too deeply)") from None

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
        sink: Sink | None = None,
        timeout: float | None = None,
        on_body: BodyProgress | None = None,
    ) -> Response:
        """One logical request: retries, redirects and per-URL credentials included.

        With ``sink`` (a seekable binary file) a 200 answer's body is streamed into it instead of
        memory (``Response.body`` is then empty), and ``on_body(bytes so far, announced length or
        None)`` follows it; ``timeout`` replaces the settings' deadline for this request (a large
        download deserves more than a JSON answer).
        """
        attempt = 0
        redirects = 0
        while True:
            status, response_headers, data, final = self._attempt(
                method, url, body, headers or {}, attempt, sink, timeout or self.settings.timeout, on_body
            )
            if status is None:  # a transient network failure, already judged retryable
                attempt += 1
                continue
            if status in REDIRECT_STATUSES and status not in ok:
                location = response_headers.get("location")
                if not location:
                    raise self._error(f"HTTP {status} without Location from {method} {redact_url(url)}", status)
                if method != "GET" and status not in (307, 308):
                    raise self._error(f"HTTP {status} redirect of {method} {redact_url(url)} refused", status)
                redirects += 1
                if redirects > self.settings.max_redirects:
                    raise self._error(f"too many redirects from {method} {redact_url(url)}", status)
                url = urljoin(url, location)
                continue
            if status in ok:
                return Response(final, status, response_headers, data)
            if status in RETRY_STATUSES and attempt < self.settings.retries:
                delay = self._retry_delay(attempt, response_headers.get("retry-after"))
                if delay > self.settings.max_retry_after:
                    raise self._error(
                        f"HTTP {status} from {method} {redact_url(url)}: asked to retry after {delay:.0f} s", status
                    )
                self._sleep(delay)
                attempt += 1
                continue
            raise self._error(f"HTTP {status} from {method} {redact_url(url)}{self._snippet(data)}", status)

    def download(
        self, url: str, sink: Sink, *, timeout: float | None = None, on_body: BodyProgress | None = None
    ) -> int:
        """GET ``url`` into ``sink`` (seekable; rewound on a retry); the number of bytes written."""
        self.request("GET", url, sink=sink, timeout=timeout, on_body=on_body)
        return sink.tell()

    # --- internals ----------------------------------------------------------------------------

    def _attempt(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        attempt: int,
        sink: Sink | None,
        deadline: float,
        on_body: BodyProgress | None = None,
    ) -> tuple[int | None, dict[str, str], bytes, str]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self._error(f"not an http(s) URL: {redact_url(url)}")
        sent = {
            "user-agent": self.settings.user_agent,
            "accept-encoding": "gzip, deflate",
            **{k.lower(): v for k, v in headers.items()},
        }
        sent.pop("authorization", None)  # only the configuration decides who gets credentials
        target = url
        if parts.username or parts.password:  # credentials in the URL itself: move them to a header
            from urllib3.util import make_headers

            userinfo = unquote(parts.netloc.rsplit("@", 1)[0])
            sent["authorization"] = make_headers(basic_auth=userinfo)["authorization"]
            target = urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, ""))
        else:
            authorization = self.network.authorization(url)
            if authorization:
                sent["authorization"] = authorization
        self._remember_secrets(url, sent.get("authorization"))
        manager = self._manager(self.network.proxy_for(url))
        with self._stats.lock:
            self._stats.requests += 1
        where = f"{method} {redact_url(url)}"
        if sink is not None:
            sink.seek(0)
            sink.truncate()
        with exchange(deadline) as current:
            try:
                return self._exchange(
                    manager, method, url, target, body, sent, (sink, on_body), deadline, where, current
                )
            except Exception as failure:
                if current.finish():  # whatever the cut-off connection raised, the cause is the deadline
                    missing = "whole answer" if current.answered else "answer"
                    return self._transient(where, f"no {missing} within {deadline:g} s", attempt)
                if isinstance(failure, _Transient):
                    return self._transient(where, failure.reason, attempt)
                raise

    def _exchange(
        self,
        manager: urllib3.PoolManager,
        method: str,
        url: str,
        target: str,
        body: bytes | None,
        sent: dict[str, str],
        into: tuple[Sink | None, BodyProgress | None],
        deadline: float,
        where: str,
        current: Exchange,
    ) -> tuple[int | None, dict[str, str], bytes, str]:
        """Send one request and read its answer; retryable failures raise :class:`_Transient`."""
        try:
            response = manager.urlopen(
                method,
                target,
                body=body,
                headers=sent,
                redirect=False,
                retries=False,
                timeout=urllib3.Timeout(connect=deadline, read=deadline),
                preload_content=False,
                decode_content=True,
            )
        except NameResolutionError:
            raise self._error(f"{where}: cannot resolve host {urlsplit(url).hostname}") from None
        except NewConnectionError as error:
            raise self._error(f"{where}: {self._connect_reason(error)}") from None
        except ConnectTimeoutError:
            raise _Transient(f"connection timed out after {deadline:g} s") from None
        except ReadTimeoutError:
            raise _Transient(f"no answer within {deadline:g} s") from None
        except SSLError as error:
            raise self._error(f"{where}: TLS error: {self._short(error)}") from None
        except ProxyError as error:
            raise self._error(f"{where}: proxy error: {self._short(error)}") from None
        except (ProtocolError, ConnectionError) as error:
            raise _Transient(f"connection lost ({self._short(error)})") from None
        except (HTTPError, OSError) as error:
            raise self._error(f"{where}: {type(error).__name__}: {self._short(error)}") from None
        if current.expired:  # the cut-off ended the headers early: they are not the server's
            response.close()
            raise _Transient("deadline")
        current.answered = True  # status line and headers are in: from now on only the body is missing
        try:
            sink, on_body = into if response.status == 200 else (None, None)
            data = self._read_body(response, where, sink, on_body)
            if current.finish():  # cut off at the deadline: an end of stream is not the end of the answer
                raise _Transient("deadline")
        except BaseException as error:
            response.close()  # never hand a half-read connection back to the pool
            if isinstance(error, ReadTimeoutError):
                raise _Transient(f"answer stalled for {deadline:g} s") from None
            if isinstance(error, ProtocolError | OSError) and not isinstance(error, HttpError):
                raise _Transient(f"answer cut off ({self._short(error)})") from None
            raise
        response.release_conn()
        headers_out = {key.lower(): value for key, value in response.headers.items()}
        return response.status, headers_out, data, redact_url(url)

    def _read_body(
        self, response: urllib3.BaseHTTPResponse, where: str, sink: Sink | None, on_body: BodyProgress | None
    ) -> bytes:
        """The decoded body in memory (at most ``max_bytes``), or streamed into ``sink``."""
        limit = self.settings.max_bytes
        chunks = []
        size = 0
        announced = _announced_length(response)
        for chunk in response.stream(256 * 1024, decode_content=True):
            if sink is not None:
                sink.write(chunk)
                size += len(chunk)
                if on_body is not None:
                    on_body(size, announced)
                continue
            size += len(chunk)
            if size > limit:
                raise self._error(f"{where}: answer larger than {limit / MiB:g} MiB")
            chunks.append(chunk)
        return b"".join(chunks)

    def _transient(self, where: str, reason: str, attempt: int) -> tuple[None, dict[str, str], bytes, str]:
        if attempt >= self.settings.retries:
            raise self._error(f"{where}: {reason}") from None
        self._sleep(self._retry_delay(attempt, None))
        return None, {}, b"", ""

    def _retry_delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            value = retry_after.strip()
            if value.isdigit():
                return float(value)
            try:
                moment = email.utils.parsedate_to_datetime(value)
                return max(0.0, moment.timestamp() - time.time())
            except (TypeError, ValueError):
                pass
        return min(self.settings.backoff * 2.0 ** min(attempt, 32), self.settings.max_backoff)

    def _manager(self, proxy: str | None) -> urllib3.PoolManager:
        with self._lock:
            manager = self._managers.get(proxy)
            if manager is None:
                manager = self._new_manager(proxy)
                self._managers[proxy] = manager
            return manager

    def _new_manager(self, proxy: str | None) -> urllib3.PoolManager:
        tls: dict[str, Any] = {}
        if not self.network.strict_ssl:
            # The user turned verification off in npm's config (strict-ssl=false); npm obeys it too.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            tls = {"cert_reqs": "CERT_NONE", "assert_hostname": False}
        elif self.network.ca_certs:
            tls = {"cert_reqs": "CERT_REQUIRED", "ca_cert_data": "\n".join(self.network.ca_certs)}
        if proxy is None:
            manager = urllib3.PoolManager(num_pools=8, maxsize=self.settings.pool_size, **tls)
            manager.pool_classes_by_scheme = POOL_CLASSES  # connections that honour the total deadline
            return manager
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        proxy_headers = None
        if parts.username is not None:
            from urllib3.util import make_headers

            userinfo = unquote(parts.netloc.rsplit("@", 1)[0])
            proxy_headers = make_headers(proxy_basic_auth=userinfo)
            self._secrets.update(credential_forms(proxy_headers["proxy-authorization"]))  # caller holds self._lock
            parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
        proxied = urllib3.ProxyManager(
            urlunsplit(parts), num_pools=8, maxsize=self.settings.pool_size, proxy_headers=proxy_headers, **tls
        )
        proxied.pool_classes_by_scheme = POOL_CLASSES
        return proxied

    def _connect_reason(self, error: BaseException) -> str:
        text = str(error)
        if "refused" in text.lower():
            return "connection refused"
        return f"cannot connect ({self._short(error)})"

    def _short(self, error: BaseException) -> str:
        """A one-line, credential-free description of a low-level error."""
        text = str(getattr(error, "reason", None) or error)
        text = text.split("\n", 1)[0]
        if ": " in text and "(" in text:  # urllib3 wraps: "<obj at 0x..>: Failed to ... [Errno 111] ..."
            text = text.split(": ", 1)[-1]
        return self._scrub(text)[:200]

    def _snippet(self, data: bytes) -> str:
        text = data[:300].decode("utf-8", errors="replace").strip().replace("\r", " ").replace("\n", " ")
        return f": {self._scrub(text)[:160]}" if text else ""

    def _remember_secrets(self, url: str, authorization: str | None) -> None:
        """Every form in which a credential of this request could come back in a message: the
        header, its token, a Basic pair decoded (``user:password``, and the password alone, as a
        server may echo them in an error body), and the values of the URL's query."""
        found = set(credential_forms(authorization)) if authorization else set()
        query = urlsplit(url).query
        if query:
            found.add(query)
            found.update(value for _, value in parse_qsl(query) if len(value) >= MIN_SECRET_LENGTH)
        if found:
            with self._lock:
                self._secrets.update(found)

    def _scrub(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return scrub_credentials(text)

    def _error(self, reason: str, status: int | None = None) -> HttpError:
        return HttpError(self.source, self._scrub(reason), status)
