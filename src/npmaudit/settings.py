"""Every setting of a run, resolved once into a frozen value.

The command line builds a :class:`Settings` from its flags, the environment, ``.npmaudit.toml`` and
``.npmrc`` (``npmaudit.cli.settings``, the only code that reads the environment); a Python caller
builds one directly, or with :meth:`Settings.for_library`. Core code takes this value and never looks
anywhere else, so the same call gives the same answer whoever makes it.

Precedence, for each setting: flag > environment > ``.npmaudit.toml`` > ``.npmrc`` (npm's own keys
``audit-level`` and ``omit``) > default.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from npmaudit import TYPE_CHECKING
from npmaudit.records import field, record_class

if TYPE_CHECKING:
    from npmaudit.auditing.ignores import IgnoreRule

POLICIES = ("error", "warn", "off")
AUDIT_LEVELS = ("info", "low", "moderate", "high", "critical", "none")
OMIT_GROUPS = ("dev", "optional", "peer")
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_OSV_URL = "https://api.osv.dev/"
DEFAULT_MIRROR_URL = "https://osv-vulnerabilities.storage.googleapis.com/npm"
STORE_FILE_NAME = "advisories.sqlite"
DEFAULT_MAX_DECOMPRESSED = 2048 << 20  # bytes a gzip or zip database may expand to


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@record_class(frozen=True)
class Settings:
    """What a run is asked to do and with what; see ``npmaudit audit --help`` for each one's meaning."""

    cache_dir: Path
    """The user cache directory: the shared store and the packument cache live here."""

    # -- advisory sources
    local: bool = False
    """``--compromised``: use the local database (offline)."""
    osv: bool = False
    """``--osv``: query the OSV API."""
    registry_advisories: bool = False
    """``--registry-advisories``: query the npm registry's bulk advisory endpoint."""
    registry_empty_error: bool = False
    """``--registry-empty-error``: an empty registry answer the local store contradicts fails the run."""
    offline: bool = False
    """No network at all: only local data (the packument cache for npm's report)."""
    db: Path | None = None
    """A database someone named (flag, env, config): it must exist. None: the shared store, if any."""
    osv_url: str = DEFAULT_OSV_URL
    mirror_url: str = DEFAULT_MIRROR_URL
    registry: str | None = None
    """``--registry``: overrides npm's configured registry."""
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED
    """Bytes a gzipped or zipped advisory database or archive may expand to (a bomb is an input error)."""
    max_db_age: float | None = None
    """Days; a local database older than this fails the run (exit 3)."""

    # -- the verdict
    policy: str = "error"
    audit_level: str = "low"
    omit: frozenset[str] = frozenset()
    allow_unchecked: bool = False
    """Packages that could not be checked (an unparseable version) warn instead of failing the run."""
    allow_refused_packuments: bool = False
    """npm's report over packuments the registry refused (401, 403; read as no versions, as npm does)
    warns instead of failing the run (exit 3)."""
    ignores: tuple[IgnoreRule, ...] = ()
    """Accepted findings (``[[ignore]]``, ``--ignore``, ``--ignore-from``): reported, not counted."""
    strict_ignores: bool = False
    """An ignore that matches nothing (stale) fails the run instead of warning."""
    now: datetime | None = None
    """The moment the run happens at: ignore expiries are judged and the data's age is reported at
    it. None: the clock when the run judges (an outcome's settings then hold that moment)."""

    # -- what to produce
    npm_report: bool = False
    """Compute npm's own report (meta-vulnerabilities, fixAvailable): an extra analysis, asked by a format."""
    lockfile_lines: bool = False
    """Find each finding's entry line in its lockfile: an extra analysis, asked by the formats with locations."""
    step_summary_file: Path | None = None
    """A CI's job-summary file (GitHub's ``$GITHUB_STEP_SUMMARY``) a format appends its Markdown to."""
    write: Path | None = None
    """Merge the matched advisories into this project-local JSON database."""
    write_cache: bool = False
    """Merge the matched advisories into the shared store."""
    inventory: str | None = None
    """The inventory database (``npmaudit inventory``): a SQLite file or a postgresql:// URL."""

    # -- the outside world, as values
    npm_environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The environment npm's configuration is read with (``npm_config_*``, HOME, PATH, PREFIX)."""
    project_dir: Path = Path(".")
    """The directory whose ``.npmrc`` applies (the project audited, or the working directory)."""
    config_file: Path | None = None
    """The ``.npmaudit.toml`` these settings came from, for messages."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "npm_environ", _frozen(self.npm_environ))

    @property
    def default_store(self) -> Path:
        """The shared SQLite store in the user cache directory."""
        return self.cache_dir / STORE_FILE_NAME

    @property
    def database(self) -> Path:
        """The local database to read: the one named, else the shared store."""
        return self.db if self.db is not None else self.default_store

    @property
    def database_named(self) -> bool:
        """A database someone named must exist; only the shared default store may be absent."""
        return self.db is not None and self.db != self.default_store

    @property
    def packument_cache(self) -> Path:
        return self.cache_dir / "packuments"

    @classmethod
    def for_library(cls, *, cache_dir: Path | None = None, **values: object) -> Settings:
        """Settings for a Python caller: the user cache directory unless one is given; no environment."""
        if cache_dir is None:
            from platformdirs import user_cache_dir

            cache_dir = Path(user_cache_dir("npmaudit", appauthor=False))
        return cls(cache_dir=cache_dir, **values)  # type: ignore[arg-type]
