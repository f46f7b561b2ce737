"""npm configuration as npm itself reads it: ``.npmrc`` files and ``npm_config_*`` variables.

Only the settings an auditor needs are interpreted (registries, credentials, proxies, TLS), but
every layer is read the way npm's ``@npmcli/config`` reads it, so that ``npmaudit`` talks to the
registry ``npm`` would talk to, with the same credentials, through the same proxy:

1. ``--registry`` on our command line (npm's ``cli`` layer);
2. ``npm_config_*`` environment variables, names case-insensitive (``NPM_CONFIG_REGISTRY``);
3. the project's ``.npmrc`` (the audited project's directory);
4. the user's file: ``userconfig`` from the layers above, else ``~/.npmrc``;
5. the global file: ``globalconfig`` from the layers above, else ``<prefix>/etc/npmrc``, where
   ``prefix`` is configured or derived, as npm does, from the location of ``node``;
6. npm's builtin ``npmrc`` beside the npm installation, when npm is on PATH.

The first layer that sets a key wins. Values may use ``${VAR}`` (left as is when VAR is unset)
and ``${VAR?}`` (empty when unset); ini quoting, ``;``/``#`` comments and ``key[]`` arrays follow
the ``ini`` package npm uses.

The registry URL is never built in: it comes from configuration or, when nothing configures it,
from ``npm config get registry``. Credentials are looked up per request URL with npm's nerf-dart
walk (``//host[:port]/path/:_authToken``) so a token configured for one registry never reaches
another host; see :meth:`NpmConfig.authorization`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from npmaudit import TYPE_CHECKING, textfile
from npmaudit.errors import InputError, UsageError
from npmaudit.lazy_pattern import LazyPattern
from npmaudit.records import field, record_class
from npmaudit.runtime_typing import NamedTuple

if TYPE_CHECKING:
    from typing import Any

AUTH_SUFFIXES = (":_authToken", ":_auth", ":username", ":_password", ":certfile", ":keyfile")
_BOOLEAN_KEYS = frozenset({"strict-ssl", "offline"})
_PATH_KEYS = frozenset({"cafile", "userconfig", "globalconfig", "prefix"})
# Top-level credentials npm 9+ refuses (ERR_INVALID_AUTH): they would be sent to whatever
# registry is configured, so they must be scoped to one with a nerf-dart key.
_UNSCOPED_AUTH = ("_authToken", "username", "_password")
_ENV_EXPR = LazyPattern(r"(?<!\\)(\\*)\$\{([^${}?]+)(\?)?\}")
_INI_LINE = LazyPattern(r"^\[([^\]]*)\]\s*$|^([^=]+)(=(.*))?$")
NPM_CONFIG_TIMEOUT = 15.0


class Layer(NamedTuple):
    """One source of settings: a file, the environment, or our command line. (A named tuple:
    cheaper to create at import than a dataclass.)"""

    where: str  # "cli", "env", "project", "user", "global", "builtin"
    origin: str  # a path, or "environment" / "command line"
    values: Mapping[str, Any]


def env_replace(text: str, env: Mapping[str, str]) -> str:
    """npm's ``${VAR}`` expansion (``@npmcli/config/lib/env-replace.js``), escapes included."""

    def substitute(match: re.Match[str]) -> str:
        escapes, name, modifier = match.group(1), match.group(2), match.group(3)
        fallback = "" if modifier == "?" else "${" + name + "}"
        value = env.get(name, fallback)
        if len(escapes) % 2:
            return match.group(0)[(len(escapes) + 1) // 2 :]
        return escapes[: len(escapes) // 2] + value

    if "${" not in text:  # every expression starts so: most values hold none
        return text
    return _ENV_EXPR.sub(substitute, text)


def _ini_unsafe(value: str) -> str:
    """The ``ini`` package's value decoding: JSON for quoted values, else cut at ``;``/``#``."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1] if value[0] == "'" else value
        try:
            decoded = json.loads(inner)
        except ValueError:
            return inner
        return decoded if isinstance(decoded, str) else inner
    escaped = False
    out = []
    for char in value:
        if escaped:
            out.append(char if char in "\\;#" else "\\" + char)
            escaped = False
        elif char in ";#":
            break
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    if escaped:
        out.append("\\")
    return "".join(out).strip()


def parse_ini(text: str) -> dict[str, Any]:
    """Top-level keys of an ``.npmrc`` as npm's ``ini`` decoder sees them.

    Keys under a ``[section]`` header belong to that section, which npm never reads as
    configuration, so they are dropped here.
    """
    values: dict[str, Any] = {}
    in_section = False
    for line in re.split(r"[\r\n]+", text):
        if not line or re.match(r"^\s*[;#]", line) or not line.strip():
            continue
        match = _INI_LINE.match(line)
        if match is None:
            continue
        if match.group(1) is not None:
            in_section = True
            continue
        if in_section:
            continue
        raw_key = _ini_unsafe(match.group(2))
        is_array = len(raw_key) > 2 and raw_key.endswith("[]")
        key = raw_key[:-2] if is_array else raw_key
        if key == "__proto__":
            continue
        value: Any = _ini_unsafe(match.group(4)) if match.group(3) else True
        if value in ("true", "false", "null"):
            value = json.loads(value)
        if is_array:
            existing = values.get(key)
            if existing is None:
                values[key] = []
            elif not isinstance(existing, list):
                values[key] = [existing]
        if isinstance(values.get(key), list):
            values[key].append(value)
        else:
            values[key] = value
    return values


def read_npmrc(path: Path, where: str, env: Mapping[str, str]) -> Layer | None:
    """One ``.npmrc`` file as a layer; a missing file is no layer, an unreadable one an error."""
    try:
        raw = textfile.read_bytes(path, "npm config file")  # a FIFO or /dev/zero is refused, never read
    except InputError as error:
        if error.problem in ("no such file", "broken symbolic link") or error.problem.startswith("is a directory"):
            return None
        raise InputError(path, f"cannot read npm config: {error.problem.removeprefix('cannot read: ')}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(path, f"cannot read npm config: {error}") from None
    values = {}
    for key, value in parse_ini(text).items():
        values[env_replace(key, env)] = _field(key, value, env)
    return Layer(where, str(path), values)


def env_layer(env: Mapping[str, str]) -> Layer:
    """``npm_config_*`` variables, as ``@npmcli/config`` loads them (prefix case-insensitive)."""
    values: dict[str, Any] = {}
    for name, value in env.items():
        if not name.lower().startswith("npm_config_") or value == "":
            continue
        key = name[len("npm_config_") :]
        if not key.startswith("//"):  # nerf-darted keys keep their spelling
            key = key[:1] + key[1:].replace("_", "-")
            key = key.lower()
        values[key] = _field(key, value, env)
    return Layer("env", "environment", values)


def _field(key: str, value: Any, env: Mapping[str, str]) -> Any:
    """npm's ``parseField``: expand variables, then coerce the few typed keys we use."""
    if isinstance(value, list):
        return [_field(key, item, env) for item in value]
    if not isinstance(value, str):
        return value
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            decoded = json.loads(text)
            text = decoded if isinstance(decoded, str) else text
        except ValueError:
            pass
    if key in _BOOLEAN_KEYS:
        if text in ("", "true"):
            return True
        if text == "false":
            return False
    text = env_replace(text, env)
    if key in _PATH_KEYS and text:
        home = env.get("HOME")
        if text.startswith("~/") and home:
            return str(Path(home) / text[2:])
        return str(Path(text).resolve())
    return text


def nerf_dart(url: str) -> str:
    """npm's nerf-dart of a URL: ``//host[:port]/path/`` up to the last slash, scheme dropped."""
    parts = urlsplit(url)
    path = parts.path or "/"
    path = path[: path.rfind("/") + 1]
    return f"//{_host_port(url)}{path}"


def _host_port(url: str) -> str:
    """``host[:port]`` as WHATWG URL's ``host``: the default port of the scheme is omitted."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"invalid port in URL {redact_url(url)}") from None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return host if port is None or port == default else f"{host}:{port}"


def redact_url(url: str) -> str:
    """A URL safe to show: without user name, password, query or fragment.

    Whatever the URL's shape: one without a scheme (``user:pw@host/path``) or one that does not
    parse (a bad port, a stray bracket) loses everything up to its last ``@`` before the path too."""
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[user:pw@host" and other unparseable authorities
        parts = None
    if parts is not None and parts.scheme and parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return f"{parts.scheme}://{netloc}{parts.path}"
    text = re.split(r"[?#]", url, maxsplit=1)[0]
    scheme, separator, rest = text.rpartition("://") if "://" in text else ("", "", text)
    authority, slash, path = rest.partition("/")
    return f"{scheme}{separator}{authority.rsplit('@', 1)[-1]}{slash}{path}"


# What a message must never show, wherever it came from (a server's error body, an exception's
# text): the user information of a URL, a credential-like query parameter, an Authorization
# header's value, an .npmrc credential assignment.
_URL_USERINFO = LazyPattern(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#]*@")
_SECRET_QUERY = LazyPattern(
    r"(?i)([?&;][^=&\s#]*(?:token|key|secret|password|passwd|pwd|auth|sig|signature|credential|session)"
    r"[^=&\s#]*=)[^&\s#]*"
)
_AUTH_HEADER = LazyPattern(r"\b(Basic|Bearer|basic|bearer)(\s+)[A-Za-z0-9._~+/\-]{8,}=*")
_NPMRC_SECRET = LazyPattern(r"(?i)(_authToken|_auth|_password)(\s*[=:]\s*)\S+")


def scrub_credentials(text: str) -> str:
    """``text`` without anything that looks like a credential: URL user information is dropped
    (as :func:`redact_url` drops it), secret-looking query values, Authorization header values and
    ``.npmrc`` credential values become ``***``. Every message passes through it before it is shown."""
    header = "asic" in text or "earer" in text  # every Authorization value _AUTH_HEADER knows
    if "@" not in text and "=" not in text and not (header and _AUTH_HEADER.search(text)):
        return text
    text = _URL_USERINFO.sub(r"\1", text)
    text = _SECRET_QUERY.sub(r"\1***", text)
    text = _AUTH_HEADER.sub(r"\1\2***", text)
    return _NPMRC_SECRET.sub(r"\1\2***", text)


def normalize_registry(url: str, origin: str) -> str:
    """A registry URL with a trailing slash; only http(s) with a host is accepted."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{origin}: registry must be an http(s) URL, not {redact_url(url)!r}")
    return url.strip() if url.strip().endswith("/") else url.strip() + "/"


@record_class(frozen=True)
class NpmConfig:
    """The merged npm configuration of one project: ``layers`` in precedence order (first wins)."""

    layers: tuple[Layer, ...]
    project_dir: Path
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    ask_npm: bool = True  # fall back to `npm config get registry` when nothing configures it

    def get(self, key: str) -> Any:
        for layer in self.layers:
            if key in layer.values:
                return layer.values[key]
        return None

    def origin(self, key: str) -> str | None:
        for layer in self.layers:
            if key in layer.values:
                return layer.origin
        return None

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(layer.origin for layer in self.layers if layer.where not in ("cli", "env"))

    @cached_property
    def registry(self) -> str:
        """The default registry (trailing slash), from configuration or ``npm config get``."""
        configured = self.get("registry")
        if isinstance(configured, str) and configured.strip():
            return normalize_registry(configured, self.origin("registry") or "registry")
        if self.ask_npm:
            asked = ask_npm_for_registry(self.project_dir, self.env)
            if asked:
                return normalize_registry(asked, "npm config get registry")
        npm_missing = not self.ask_npm or which("npm", self.env) is None
        why = "npm is not on PATH to ask" if npm_missing else "`npm config get registry` gave no answer"
        raise UsageError(
            f"no npm registry configured ({why}): set `registry=` in .npmrc or npm_config_registry, or pass --registry"
        )

    def registry_for(self, package_name: str) -> str:
        """The registry a package is fetched from: its scope's ``@scope:registry``, else the default."""
        if package_name.startswith("@") and "/" in package_name:
            scope = package_name.split("/", 1)[0]
            scoped = self.get(f"{scope}:registry")
            if isinstance(scoped, str) and scoped.strip():
                return normalize_registry(scoped, self.origin(f"{scope}:registry") or f"{scope}:registry")
        return self.registry

    def packument_url(self, package_name: str) -> str:
        """Where npm fetches a package's packument: its registry + the escaped name (``@s%2fname``)."""
        escaped = package_name.replace("/", "%2f") if package_name.startswith("@") else package_name
        return self.registry_for(package_name) + escaped

    def _registries(self) -> list[str]:
        found = []
        for layer in self.layers:
            for key, value in layer.values.items():
                if (key == "registry" or key.endswith(":registry")) and isinstance(value, str) and value:
                    found.append(value)
        return found

    def auth_key(self, url: str) -> str | None:
        """npm-registry-fetch's ``regKeyFromURI``: the longest ``//host/path`` prefix with credentials.

        The walk removes one path segment (or one slash) at a time and stops at ``//``, so a key
        never matches another host or port. Stricter than npm: when a configured registry URL has
        this nerf-dart, the request's scheme must be that registry's, so an https token is never
        sent in clear over http.
        """
        parts = urlsplit(url)
        key = f"//{_host_port(url)}{parts.path or '/'}"
        while len(key) > 2:
            if self._has_auth(key):
                if not self._scheme_allowed(key, parts.scheme.lower()):
                    return None
                return key
            key = re.sub(r"([^/]+|/)$", "", key)
        return None

    def _has_auth(self, key: str) -> bool:
        return bool(
            self.get(f"{key}:_authToken")
            or self.get(f"{key}:_auth")
            or (self.get(f"{key}:username") and self.get(f"{key}:_password"))
        )

    def _scheme_allowed(self, key: str, scheme: str) -> bool:
        bare = key.rstrip("/")
        schemes = {
            urlsplit(registry).scheme.lower()
            for registry in self._registries()
            if nerf_dart(normalize_registry(registry, "registry")).rstrip("/") == bare
        }
        return not schemes or scheme in schemes

    def authorization(self, url: str) -> str | None:
        """The ``Authorization`` header value for a request to ``url``, or None.

        Top-level ``_auth`` counts only for the default registry (npm's rule); top-level
        ``_authToken``/``username``/``_password`` are refused as npm 9+ refuses them.
        """
        for name in _UNSCOPED_AUTH:
            if self.get(name):
                raise UsageError(
                    f"{self.origin(name)}: top-level '{name}' must be scoped to a registry "
                    f"(e.g. //registry.example/:{name}); see `npm config fix`"
                )
        key = self.auth_key(url)
        if key is None:
            default_auth = self.get("_auth")
            registry = self.get("registry")
            if default_auth and isinstance(registry, str) and registry:
                reg = normalize_registry(registry, "registry")
                if urlsplit(url).scheme.lower() == urlsplit(reg).scheme.lower() and nerf_dart(url).startswith(
                    nerf_dart(reg)
                ):
                    return f"Basic {default_auth}"
            return None
        token = self.get(f"{key}:_authToken")
        if token:
            return f"Bearer {token}"
        basic = self.get(f"{key}:_auth")
        if basic:
            return f"Basic {basic}"
        import base64  # here, as subprocess below: imports only the rare paths need

        username, password = self.get(f"{key}:username"), self.get(f"{key}:_password")
        try:
            clear = base64.b64decode(str(password), validate=False).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise UsageError(f"{self.origin(f'{key}:_password')}: {key}:_password is not base64") from None
        return "Basic " + base64.b64encode(f"{username}:{clear}".encode()).decode("ascii")

    # --- network settings -------------------------------------------------------------------

    def proxy_for(self, url: str) -> str | None:
        """The proxy for ``url``: ``https-proxy``/``proxy`` config, else the *_PROXY variables;
        None when ``noproxy``/``NO_PROXY`` covers the host."""
        scheme = urlsplit(url).scheme.lower()
        lowered = {name.lower(): value for name, value in self.env.items()}
        if scheme == "https":
            candidates = [
                self.get("https-proxy"),
                self.get("proxy"),
                lowered.get("https_proxy"),
                lowered.get("http_proxy"),
            ]
        else:
            candidates = [self.get("proxy"), lowered.get("http_proxy")]
        proxy = next((c for c in candidates if isinstance(c, str) and c.strip()), None)
        if proxy is None or self._no_proxy(url):
            return None
        return proxy.strip()

    def _no_proxy(self, url: str) -> bool:
        """npm's (``@npmcli/agent``) rule: a host is excluded when its trailing domain labels equal
        an entry's labels. ``*`` excludes every host (curl's convention, also honoured)."""
        configured = self.get("noproxy")
        if configured in (None, ""):
            configured = {k.lower(): v for k, v in self.env.items()}.get("no_proxy", "")
        entries = configured if isinstance(configured, list) else str(configured).split(",")
        host_labels = (urlsplit(url).hostname or "").lower().split(".")[::-1]
        for entry in entries:
            entry = str(entry).strip().lower()
            if entry == "*":
                return True
            labels = [label for label in entry.split(".") if label][::-1]
            if labels and host_labels[: len(labels)] == labels:
                return True
        return False

    @property
    def strict_ssl(self) -> bool:
        value = self.get("strict-ssl")
        return value is not False

    @cached_property
    def ca_certs(self) -> tuple[str, ...]:
        """PEM certificates to trust instead of the system store: ``cafile`` wins over ``ca``."""
        cafile = self.get("cafile")
        if isinstance(cafile, str) and cafile:
            try:
                text = textfile.read_bytes(Path(cafile)).decode("utf-8")
            except InputError as error:
                raise InputError(cafile, f"cannot read cafile: {error.problem.removeprefix('cannot read: ')}") from None
            except UnicodeDecodeError as error:
                raise InputError(cafile, f"cannot read cafile: {error}") from None
            delimiter = "-----END CERTIFICATE-----"
            certs = tuple(part.lstrip() + delimiter for part in text.split(delimiter) if part.strip())
            if not certs:
                raise InputError(cafile, "cafile holds no PEM certificate")
            return certs
        ca = self.get("ca")
        if isinstance(ca, str) and ca.strip():
            return (ca,)
        if isinstance(ca, list):
            return tuple(str(item) for item in ca if str(item).strip())
        return ()


def ask_npm_for_registry(project_dir: Path, env: Mapping[str, str]) -> str | None:
    """``npm config get registry`` in the project directory, when npm is installed."""
    import subprocess

    npm = which("npm", env)
    if npm is None:
        return None
    try:
        completed = subprocess.run(
            [npm, "config", "get", "registry"],
            cwd=project_dir if project_dir.is_dir() else None,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=NPM_CONFIG_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not answer or answer[-1] in ("", "undefined", "null"):
        return None
    return answer[-1].strip()


def load_npm_config(
    project_dir: Path,
    env: Mapping[str, str],
    cli: Mapping[str, Any] | None = None,
    ask_npm: bool = True,
) -> NpmConfig:
    """Read every layer npm would read for a project in ``project_dir``, with the environment ``env``
    (``npm_config_*``, HOME, PATH, PREFIX: the caller's, resolved at the edge)."""
    env = dict(env)
    layers: list[Layer] = []
    if cli:
        layers.append(Layer("cli", "command line", dict(cli)))
    layers.append(env_layer(env))

    def current(key: str) -> Any:
        for layer in layers:
            if key in layer.values:
                return layer.values[key]
        return None

    project_file = project_dir / ".npmrc"
    project = read_npmrc(project_file, "project", env)
    user_file = Path(
        str(
            current("userconfig")
            or (project.values.get("userconfig") if project else None)
            or Path(env.get("HOME", "~")).expanduser() / ".npmrc"
        )
    )
    # npm skips the project file when it is the user file (a project in the home directory).
    if project and _same_file(project_file, user_file):
        project = None
    if project:
        layers.append(project)
    user = read_npmrc(user_file, "user", env)
    if user:
        layers.append(user)
    global_file = current("globalconfig")
    if not global_file:
        prefix = current("prefix") or _node_prefix(env)
        global_file = str(Path(prefix) / "etc" / "npmrc") if prefix else None
    if global_file:
        global_layer = read_npmrc(Path(str(global_file)), "global", env)
        if global_layer:
            layers.append(global_layer)
    builtin = _builtin_npmrc(env)
    if builtin is not None:
        builtin_layer = read_npmrc(builtin, "builtin", env)
        if builtin_layer:
            layers.append(builtin_layer)
    return NpmConfig(tuple(layers), project_dir, env, ask_npm)


def which(program: str, env: Mapping[str, str]) -> str | None:
    """``shutil.which(program, path=...)`` with ``env``'s PATH, without importing shutil on POSIX.

    Every audit looks node and npm up (npm's own configuration files sit beside them), and
    shutil's import brings bz2, lzma and fnmatch with it: a few ms of a run that needs none of
    them. Windows, with its PATHEXT rules, keeps shutil's lookup."""
    import os
    import sys

    if sys.platform == "win32":
        import shutil

        return shutil.which(program, path=env.get("PATH"))
    if os.path.dirname(program):  # a path is checked as given, never searched for
        return program if _is_executable(program) else None
    search = env.get("PATH")
    if search is None:  # the system's default, as shutil's when the process has no PATH (``env`` is the environment)
        try:
            search = os.confstr("CS_PATH")
        except (AttributeError, ValueError):
            search = os.defpath
    if not search:  # PATH='' finds nothing (PATH=':' looks in the working directory)
        return None
    seen: set[str] = set()
    for folder in search.split(os.pathsep):
        if folder in seen:
            continue
        seen.add(folder)
        candidate = os.path.join(folder, program)
        if _is_executable(candidate):
            return candidate
    return None


def _is_executable(path: str) -> bool:
    import os

    return os.path.exists(path) and os.access(path, os.X_OK) and not os.path.isdir(path)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _node_prefix(env: Mapping[str, str]) -> str | None:
    """npm's default ``prefix``: the directory above the one holding ``node`` (PREFIX env wins)."""
    if env.get("PREFIX"):
        return env["PREFIX"]
    node = which("node", env)
    if node is None:
        return None
    return str(Path(node).resolve().parent.parent)


def _builtin_npmrc(env: Mapping[str, str]) -> Path | None:
    """``<npm package>/npmrc``: the file an npm installation ships with its own defaults."""
    npm = which("npm", env)
    if npm is None:
        return None
    script = Path(npm).resolve()  # .../lib/node_modules/npm/bin/npm-cli.js
    package = script.parent.parent
    return package / "npmrc" if (package / "package.json").is_file() else None
