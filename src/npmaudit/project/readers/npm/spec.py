"""What kind of thing an npm dependency spec or a lockfile ``resolved`` value names.

A subset of npm-package-arg (npa), the parser npm itself uses, to the depth a lockfile reader needs:
alias, git (including hosted shortcuts), remote tarball, local tarball, local directory, and the
registry kinds (exact version, range, tag). Getting this right is what keeps a git or local package
that shares a name with a registry package from being matched against registry advisories.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from npmaudit.lazy_pattern import LazyPattern


class SpecType(StrEnum):
    ALIAS = "alias"
    GIT = "git"
    REMOTE = "remote"  # an http(s) tarball URL
    FILE = "file"  # a local tarball
    DIRECTORY = "directory"
    VERSION = "version"
    RANGE = "range"
    TAG = "tag"


REGISTRY_TYPES = frozenset({SpecType.ALIAS, SpecType.VERSION, SpecType.RANGE, SpecType.TAG})

# node-semver's full version (loose enough for a leading "v" or "=", as npm's semver.valid(loose)).
SEMVER = LazyPattern(
    r"^[v=\s]*(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-?((?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
# Characters a node-semver range is made of; anything else (a letter outside x/X) makes it a tag.
_RANGE = LazyPattern(r"^[\s\d.xX*^~<>=|v+\-a-zA-Z]*$")
_RANGE_WORD = LazyPattern(r"(?:^|[\s|<>=~^])[a-wyzA-WYZ]")

# npa's own tests, in its order.
_FILE_SPEC = LazyPattern(r"^(?:[.]|~[/]|[/\\]|[a-zA-Z]:)")
_TARBALL = LazyPattern(r"[.](?:tgz|tar\.gz|tar)$", re.IGNORECASE)
_URL = LazyPattern(r"^(?:git[+])?[a-z]+:", re.IGNORECASE)
_SCP_GIT = LazyPattern(r"^[^@]+@[^:.]+\.[^:]+:.+$")
_HOSTED_SHORTCUT = LazyPattern(r"^(?:github|gitlab|bitbucket|gist):", re.IGNORECASE)
# "user/repo" or "user/repo#ref": hosted-git-info reads it as a GitHub shortcut.
_GITHUB_SHORTHAND = LazyPattern(r"^[^@%/:\s.][^/:\s]*/[^/:\s#]+(?:#.*)?$")
_HTTP_PATH = LazyPattern(r"^https?://[^/?#]+/([^?#]*)", re.IGNORECASE)  # the fast path decides most URLs
_NAME_SEPARATOR = LazyPattern(r"/|%2f", re.IGNORECASE)  # between a scope and a name in a tarball URL
_GIT_HOSTS = frozenset(
    {
        "github.com",
        "www.github.com",
        "gitlab.com",
        "www.gitlab.com",
        "bitbucket.org",
        "www.bitbucket.org",
        "gist.github.com",
    }
)


def is_semver(version: str) -> bool:
    return bool(SEMVER.match(version))


def spec_type(spec: str) -> SpecType:
    """The npa type of ``spec`` (the part after the name: ``^1.2.0``, ``file:../x``, ...)."""
    spec = spec.strip()
    if spec.startswith("npm:"):
        return SpecType.ALIAS
    if _HOSTED_SHORTCUT.match(spec) or _is_hosted_url(spec):
        return SpecType.GIT
    if spec.startswith("file:") or _FILE_SPEC.match(spec):
        return SpecType.FILE if _TARBALL.search(spec) else SpecType.DIRECTORY
    if _URL.match(spec):
        scheme = spec.split(":", 1)[0].lower()
        if scheme.startswith("git"):  # git:, git+ssh:, git+https:, git+file:
            return SpecType.GIT
        return SpecType.REMOTE
    if _SCP_GIT.match(spec):
        return SpecType.GIT
    if _GITHUB_SHORTHAND.match(spec):
        return SpecType.GIT
    if is_semver(spec):
        return SpecType.VERSION
    if spec == "" or (_RANGE.match(spec) and not _RANGE_WORD.search(spec)):
        return SpecType.RANGE
    return SpecType.TAG


def _is_hosted_url(spec: str) -> bool:
    """An http(s) URL of a repository (not a tarball) on a host hosted-git-info knows."""
    if not spec.startswith(("https://", "http://", "git+https://", "git+http://")):
        return False
    if not any(host in spec for host in ("github.com", "gitlab.com", "bitbucket.org")):
        return False  # cheap exit for the common case: urlsplit dominates reading large lockfiles
    parts = urlsplit(spec)
    if (parts.hostname or "") not in _GIT_HOSTS:
        return False
    segments = [s for s in parts.path.split("/") if s]
    # user/project, or user/project/tree/<ref> as hosted-git-info accepts for GitHub
    return len(segments) == 2 or (len(segments) >= 4 and segments[2] == "tree")


def alias_target(spec: str) -> tuple[str, str]:
    """``npm:real@1.2.3`` -> (``real``, ``1.2.3``); the version part may be empty."""
    body = spec[len("npm:") :]
    at = body.find("@", 1)  # a scoped name starts with "@"
    if at == -1:
        return body, ""
    return body[:at], body[at + 1 :]


def is_registry_tarball(url: str) -> bool:
    """Whether an http(s) URL has a registry's tarball shape: ``.../<name>/-/<name>-<version>.tgz``.

    npm's own registry, its mirrors and private registries (Artifactory, Verdaccio, GitHub
    Packages) all serve tarballs that way; a tarball URL of any other shape is a remote tarball,
    which npm fetches as is and which registry advisories do not describe.
    """
    path = _tarball_path(url)
    if path is None:
        return False
    head, separator, base = path.rpartition("/-/")
    if not separator or "/" in base or not base.endswith(".tgz"):
        return False
    if "%" not in path and not head.endswith("/-"):
        # The common case, read without building the pieces: the last "/-/" is the last piece's
        # separator unless it overlaps an earlier one ("/-/-/", when head ends in "/-"), and with
        # nothing escaped there is nothing to unquote and "/" is the only separator in the name.
        return base.startswith(head.rpartition("/")[2] + "-")
    pieces = path.split("/-/")
    base = pieces[-1]
    if "/" in base:
        return False
    project = _NAME_SEPARATOR.split(pieces[-2])[-1]
    # The version part is not checked: old registry packages have versions that are not strict
    # semver today (esprima-fb-3001.0001.0000-dev-harmony-fb.tgz).
    return unquote(base).startswith(unquote(project) + "-")


def _tarball_path(url: str) -> str | None:
    """What ``_HTTP_PATH`` captures of ``url`` (the path after the host, without query or
    fragment), or None when it does not match. Read by hand for the common shape (a lower-case
    scheme, no query, no fragment: a lockfile's thousands of ``resolved`` URLs); the pattern
    decides every other."""
    if url.startswith("https://"):
        start = 8
    elif url.startswith("http://"):
        start = 7
    else:
        start = 0
    if start:
        slash = url.find("/", start)
        if slash > start and "?" not in url and "#" not in url:
            return url[slash + 1 :]
    match = _HTTP_PATH.match(url)
    return None if match is None else match.group(1)


def version_from_tarball(name: str, tarball: str) -> tuple[str, str] | None:
    """(name, version) from a tarball file name, as arborist's version-from-tgz guesses it."""
    base = PurePosixPath(tarball).name
    if not base.endswith(".tgz"):
        return None
    if tarball.startswith(("http:/", "https:/")):
        path = urlsplit(tarball).path.lstrip("/")
        pieces = path.split("/-/")
        if len(pieces) > 1 and pieces[-1] == base:
            before = re.split(r"/|%2f", pieces[-2], flags=re.IGNORECASE)
            project = before[-1]
            scope = before[-2] if len(before) > 1 else None
            return _from_base(base, scope, project)
    split = re.split(r"/|%2f", name, flags=re.IGNORECASE)
    return _from_base(base, split[-2] if len(split) > 1 else None, split[-1])


def _from_base(base: str, scope: str | None, project: str) -> tuple[str, str] | None:
    if not base.startswith(project + "-"):
        return None
    candidate = base[len(project) + 1 : -len(".tgz")]
    match = SEMVER.match(candidate)
    if not match:
        return None
    version = f"{match.group(1)}.{match.group(2)}.{match.group(3)}"
    if match.group(4):
        version += "-" + match.group(4)
    name = f"{scope}/{project}" if scope and scope.startswith("@") else project
    return name, version
