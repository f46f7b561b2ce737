"""pnpm dependency paths: the keys of ``packages``/``snapshots`` and the references that point at them.

A dependency's value in a pnpm lockfile is a *reference*. pnpm turns it into the key of the entry
it means with ``refToRelative`` (package @pnpm/dependency-path); the rules changed with the
lockfile format and are reproduced here exactly, per major version:

* 5.x (pnpm 5-7): keys ``/name/1.0.0`` and ``/@scope/name/1.0.0``; a peer context follows the
  version after ``_`` (``/a/1.0.0_react@17.0.2`` or a hash). A reference without ``/`` is a version
  of the dependency's own name; one with ``/`` is a key already (an alias ``/real/1.0.0``, a git or
  tarball key ``github.com/o/r/<sha>``).
* 6.x (pnpm 8): keys ``/name@1.0.0`` and the peer context in brackets ``(react@17.0.2)(b@1.0.0)``.
  Same reference rule, except that a ``/`` inside the brackets does not count.
* 9.x (pnpm 9+): keys ``name@1.0.0(peers)`` without the leading slash. A reference containing ``@``
  before any ``:`` or ``(`` is a key already (an alias ``real@1.0.0``); otherwise it is
  ``<dependency name>@<reference>``.

``link:`` references point at a folder, not at an entry: they return None here.
"""

from __future__ import annotations

import re

from npmaudit.records import record_class

# node-semver's strict grammar for a version (no leading "v", no "=").
_NUMBER = r"(?:0|[1-9]\d*)"
_IDENT = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
SEMVER = re.compile(
    rf"{_NUMBER}\.{_NUMBER}\.{_NUMBER}(?:-{_IDENT}(?:\.{_IDENT})*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)


# Groups without brackets inside them, one after another: "(a@1)(b@2)".
_FLAT_GROUPS = re.compile(r"(?:\([^()]*\))+")


def is_semver(version: str) -> bool:
    return SEMVER.fullmatch(version) is not None


@record_class(frozen=True, slots=True)
class KeyParts:
    """What a key says about its package.

    ``version`` is set only when the key has the registry shape (a name and a semver version);
    ``name`` may be known without it (``name@file:dir`` in 9.x) or not at all (git keys in 5.x).
    """

    name: str | None
    version: str | None  # peer context and patch hash removed
    spelled: str = ""  # the version part as the key spells it, semver or not ("latest", "1.0")


def ref_to_key(reference: str, dependency_name: str, major: int) -> str | None:
    """The key of the entry that ``reference`` (a dependency's value) points at; None for ``link:``."""
    if reference.startswith("link:"):
        return None
    if major >= 9:
        if reference.startswith("@"):
            return reference
        at = reference.find("@")
        if at == -1:
            return f"{dependency_name}@{reference}"
        colon = reference.find(":")
        bracket = reference.find("(")
        if (colon == -1 or at < colon) and (bracket == -1 or at < bracket):
            return reference
        return f"{dependency_name}@{reference}"
    if reference.startswith("file:"):
        return reference
    bracket = reference.find("(")
    slash_before_peers = reference.rfind("/", 0, bracket) if bracket != -1 else reference.find("/")
    if slash_before_peers == -1:
        separator = "/" if major < 6 else "@"
        return f"/{dependency_name}{separator}{reference}"
    return reference


def suffix_index(key: str) -> int:
    """Where the trailing ``(…)(…)`` groups (peers, patch hash) of a key start, or -1.

    pnpm's ``indexOfDepPathSuffix``: scan back from the closing bracket, counting nesting, to the
    last character outside every bracket.
    """
    if not key.endswith(")"):
        return -1
    first = key.find("(")
    if first > 0 and _FLAT_GROUPS.fullmatch(key, first) is not None and ")" not in key[:first]:
        # The usual key: flat groups after a name and version free of brackets. The scan below
        # would stop at the character before the first group.
        return first
    depth = 1
    for index in range(len(key) - 2, -1, -1):
        char = key[index]
        if char == "(":
            depth -= 1
        elif char == ")":
            depth += 1
        elif depth == 0:
            return index + 1
    return -1


def remove_suffix(key: str) -> str:
    """The key without its peer context and patch hash (a v9 snapshot key -> its packages key)."""
    index = suffix_index(key)
    return key if index == -1 else key[:index]


def parse_key(key: str, major: int) -> KeyParts:
    """Name and version as the key spells them (pnpm's ``dependency-path.parse``)."""
    if major >= 9:
        return _split_name(key, "")
    if key.startswith("file:"):
        return KeyParts(None, None)
    # An absolute key starts with a host (another registry, github.com, a tarball's host).
    rest = key[1:] if key.startswith("/") else key.partition("/")[2]
    scope = ""
    if rest.startswith("@"):
        scope, separator, rest = rest.partition("/")
        if not separator:
            return KeyParts(None, None)
        scope += "/"
    slash = rest.find("/")
    at = rest.find("@")
    if at > 0 and (slash == -1 or at < slash):  # 6.x: name@version(peers)
        return _split_name(rest, scope)
    if slash <= 0:
        return KeyParts(None, None)
    version = rest[slash + 1 :].split("_", 1)[0]  # 5.x: name/version_peers
    if is_semver(version):
        return KeyParts(scope + rest[:slash], version, version)
    if key.startswith("/") and "/" not in rest[slash + 1 :]:
        # A registry key ("/name/version") whose version is not semver: the name is still certain.
        return KeyParts(scope + rest[:slash], None, version)
    return KeyParts(None, None, version)


def _split_name(key: str, scope: str) -> KeyParts:
    """``name@version(peers)``: the name up to the first ``@`` after its first character."""
    separator = key.find("@", 1)
    if separator == -1:
        return KeyParts(None, None)
    name = scope + key[:separator]
    version = key[separator + 1 :]
    if version[-1:] == ")":  # suffix_index's own first test, made here: most keys have no suffix
        index = suffix_index(version)
        if index != -1:
            version = version[:index]
    return KeyParts(name, version if SEMVER.fullmatch(version) is not None else None, version)
