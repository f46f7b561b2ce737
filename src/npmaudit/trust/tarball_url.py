"""What a registry tarball URL says about the package it holds.

Registries lay tarballs out as ``<registry path>/<name>/-/<basename>-<version>.tgz``, where a scoped
name is ``@scope/name`` (or ``@scope%2fname``) and ``basename`` is the name without its scope. A URL
that does not have this layout is not a registry tarball: a remote tarball or a git host.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from npmaudit.records import record_class


@record_class(frozen=True)
class TarballName:
    name: str
    version: str


def registry_tarball(url: str) -> TarballName | None:
    """The name and version a registry-layout tarball URL names; None for any other URL."""
    path = urlsplit(url).path
    if "/-/" not in path:
        return None
    before, _, filename = path.rpartition("/-/")
    if "/" in filename or not filename.endswith(".tgz"):
        return None
    segments = [unquote(s) for s in before.split("/") if s]
    if not segments:
        return None
    name = segments[-1]
    if "/" in name:  # @scope%2fname
        pass
    elif len(segments) >= 2 and segments[-2].startswith("@"):
        name = f"{segments[-2]}/{name}"
    basename = name.rsplit("/", 1)[-1]
    stem = filename[: -len(".tgz")]
    if not stem.startswith(basename + "-"):
        return TarballName(name, "")  # the file is some other package's: the version cannot be read
    return TarballName(name, stem[len(basename) + 1 :])


def registry_path_matches(url: str, registry: str) -> bool:
    """Whether ``url`` lies under the registry URL ``registry`` (same scheme, host, port and path prefix)."""
    target, base = urlsplit(url), urlsplit(registry)
    if (target.scheme.lower(), host_of(url)) != (base.scheme.lower(), host_of(registry)):
        return False
    prefix = base.path if base.path.endswith("/") else base.path + "/"
    return target.path.startswith(prefix) or prefix == "/"


def host_of(url: str) -> str:
    """``host[:port]`` of a URL, lower case, the scheme's default port left out (lockfile-lint's ``host``)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    default = {"https": ":443", "http": ":80"}.get(parts.scheme.lower())
    if default and host.endswith(default):
        host = host[: -len(default)]
    return host
