"""Dependency specifiers as yarn writes them: splitting ``name@spec`` and telling where a package comes from.

Both yarn formats key their entries by descriptors (``name@range``, ``alias@npm:real@range``,
``name@patch:...``); a dependency edge is resolved by rebuilding that descriptor. The source kind is
read from what the dependent asked for (npm-package-arg's view), not from a URL host, because a
private registry mirror is still "the registry" while a git or file dependency never is, whatever
its name: a workspace or folder that shares a name with a registry package must not be matched
against that package's advisories.
"""

from __future__ import annotations

from urllib.parse import unquote

from npmaudit.lazy_pattern import LazyPattern
from npmaudit.project.model import SourceKind, local_source

_GIT_PREFIXES = ("git+", "git://", "git@", "github:", "gitlab:", "bitbucket:", "gist:", "git:")
_LOCAL_PREFIXES = ("./", "../", "/", "~/", ".\\", "..\\")
# The patterns below are compiled on first use: a registry spec (nearly every one) needs none of them.
# A GitHub shorthand ``user/repo`` or ``user/repo#ref`` (npm-package-arg's rule: no scheme, one slash).
_SHORTHAND = LazyPattern(r"^[^@:/\s#][^:/\s#]*/[^/\s#]+(#.*)?$")
_GIT_URL = LazyPattern(
    r"^https?://[^#]*\.git(#.*)?$|^https?://(www\.)?(github|gitlab|bitbucket)\.(com|org)/[^/]+/[^/#]+/?(#.*)?$"
)
_GIT_RESOLVED = LazyPattern(r"^(git\+|git://|git@|ssh://)|codeload\.github\.com/|\.git(#|$)|#commit=")


def split_descriptor(descriptor: str) -> tuple[str, str]:
    """``"@scope/a@^1"`` -> ``("@scope/a", "^1")``; the name ends at the first ``@`` after a scope.

    A descriptor without any ``@`` is a bare name (spec ``""``).
    """
    at = descriptor.find("@", 1)
    if at <= 0:
        return descriptor, ""
    return descriptor[:at], descriptor[at + 1 :]


def strip_binding(spec: str) -> str:
    """Drop berry's ``::locator=...``/``::version=...`` parameters, which only bind a spec to its parent."""
    cut = spec.find("::")
    return spec if cut < 0 else spec[:cut]


def alias_target(spec: str) -> tuple[str, str] | None:
    """For ``npm:real@range`` the real name and range; None when ``spec`` is not an alias."""
    if not spec.startswith("npm:"):
        return None
    rest = spec[4:]
    name, inner = split_descriptor(rest)
    if not inner and "@" not in rest[1:]:
        return None  # npm:^1.2.0 is a plain range with berry's default protocol
    return name, inner


def patch_source(spec: str) -> str:
    """The descriptor a ``patch:`` spec patches: ``patch:a@npm%3A1.0.0#...`` -> ``a@npm:1.0.0``."""
    body = spec[len("patch:") :]
    body = body.split("#", 1)[0]
    return unquote(strip_binding(body))


def display_spec(spec: str) -> str:
    """The spec as npm would show it: berry's implicit ``npm:`` protocol on a plain range is dropped."""
    if spec.startswith("npm:") and alias_target(spec) is None:
        return spec[4:]
    return spec


def classify(spec: str) -> SourceKind:
    """Where a dependency declared with ``spec`` comes from (npm-package-arg's categories)."""
    spec = strip_binding(spec.strip())
    if spec.startswith("patch:"):
        _, inner = split_descriptor(patch_source(spec))
        return classify(inner)
    if spec.startswith("npm:"):
        return SourceKind.REGISTRY
    if spec.startswith("workspace:"):
        return SourceKind.WORKSPACE
    if spec.startswith(("link:", "portal:")):
        return SourceKind.LINK
    if spec.startswith("exec:"):
        return SourceKind.DIRECTORY
    if spec.startswith("file:") or spec.startswith(_LOCAL_PREFIXES):
        return local_source(spec)
    if spec.startswith(_GIT_PREFIXES) or _GIT_URL.match(spec) or _SHORTHAND.match(spec):
        return SourceKind.GIT
    if spec.startswith(("http://", "https://")):
        return SourceKind.GIT if "#commit=" in spec else SourceKind.TARBALL
    return SourceKind.REGISTRY


def looks_like_git(resolved: str) -> bool:
    """Whether a resolved URL points at a git checkout or a forge's tarball of a commit."""
    return bool(_GIT_RESOLVED.search(resolved))
