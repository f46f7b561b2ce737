"""The checks of ``npmaudit verify``: stable ids, default severities, and the finding they produce.

Ids follow the proposed list in docs (LV0xx); they never change meaning, so a configuration that sets a
check's severity keeps working across releases. Every check fails the run by default ("error"); a
project lowers one with ``[verify.severity]`` in ``.npmaudit.toml``.
"""

from __future__ import annotations

from npmaudit.records import record_class

SEVERITIES = ("error", "warn", "off")


@record_class(frozen=True)
class Check:
    id: str
    name: str
    summary: str
    default: str = "error"


CHECKS: tuple[Check, ...] = (
    Check("LV002", "sections-disagree", "a v2 lockfile's packages and legacy dependencies sections disagree"),
    Check("LV003", "manifest-drift", "a package.json dependency is missing from the lock or not satisfied by it"),
    Check("LV011", "insecure-protocol", "a resolved URL does not use https"),
    Check("LV012", "host-not-allowed", "a resolved URL points to a host that is not an allowed registry"),
    Check("LV014", "url-name-mismatch", "a registry tarball URL names another package or version"),
    Check(
        "LV015", "alias-unexplained", "an entry installs another package under this name and no dependent asks for it"
    ),
    Check("LV016", "scope-registry", "a scoped package is not resolved from its scope's registry"),
    Check("LV017", "file-outside-project", "a file:/link dependency points outside the project"),
    Check("LV020", "integrity-missing", "a fetched entry has no integrity"),
    Check("LV021", "integrity-weak", "an integrity does not use sha512"),
    Check("LV022", "integrity-malformed", "an integrity is not a well-formed SRI string"),
    Check("LV023", "integrity-shared", "one integrity is shared by different packages (a swapped tarball)"),
    Check("LV024", "entry-conflict", "the same package version is locked with different integrities or URLs"),
    Check("LV051", "git-source", "a dependency is fetched from git"),
    Check("LV052", "remote-tarball", "a dependency is fetched from a tarball URL outside the registries"),
    Check("LV060", "installed-mismatch", "node_modules does not hold what the lockfile says"),
)
CHECKS_BY_ID = {check.id: check for check in CHECKS}
CHECKS_BY_NAME = {check.name: check for check in CHECKS}


def check_for(key: str) -> Check | None:
    """A check by id (``LV021``) or name (``integrity-weak``)."""
    return CHECKS_BY_ID.get(key.upper()) or CHECKS_BY_NAME.get(key)


@record_class(frozen=True)
class Finding:
    """One failed check on one lockfile entry.

    ``entry`` is the entry's key as the lockfile writes it (the install location for npm lockfiles,
    ``name@version`` otherwise); ``line`` its line in ``lockfile`` when it could be located.
    """

    check: str
    severity: str
    lockfile: str
    line: int | None
    entry: str
    message: str

    @property
    def where(self) -> str:
        return f"{self.lockfile}:{self.line}" if self.line is not None else self.lockfile

    def one_line(self) -> str:
        return f"{self.where}: {self.severity} {self.check} {self.entry}: {self.message}"
