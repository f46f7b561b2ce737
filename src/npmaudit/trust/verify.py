"""``npmaudit verify``: offline checks of a lockfile against injection and drift.

Input: a :class:`~npmaudit.project.model.Project` (any reader), the lockfile's text (for line numbers
and for npm's legacy section), the project's package.json specs (through the model's root edges) and
node_modules when it exists. Nothing is fetched; the same files give the same findings.

Which entries are checked for what (``SourceKind`` from the readers):

* registry entries: host (LV012), https (LV011), tarball URL names the entry's real name and version
  (LV014; aliases use the real name), scope registry (LV016), integrity present / sha512 / well formed
  (LV020-LV022). An entry without ``resolved`` (npm's ``omit-lockfile-registry-resolved``, pnpm, yarn
  berry) is a registry entry of the configured registry: only its integrity is checked.
* remote tarballs: LV052 unless allowed (then https, and integrity as above); git: LV051 unless allowed;
  ``file:``/links: LV017 when outside the project unless allowed; workspaces are the project itself.
* across entries: one integrity for two different packages (LV023), one package version with two
  integrities (LV024), npm v2's two sections (LV002), package.json specs (LV003), node_modules (LV060).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from pathlib import Path

from npmaudit import textfile
from npmaudit.project.model import Node, Project, SourceKind
from npmaudit.records import field, record_class
from npmaudit.trust.checks import CHECKS, Finding
from npmaudit.trust.lockfile_lines import LineIndex, index_lockfile
from npmaudit.trust.sri import Hash, MalformedIntegrity, parse_integrity
from npmaudit.trust.tarball_url import host_of, registry_path_matches, registry_tarball
from npmaudit.trust.verify_config import VerifyConfig

_FETCHED = (SourceKind.REGISTRY, SourceKind.TARBALL)
_UNSAFE_ALIAS_PARTS = frozenset({"", ".", "..", "node_modules", ".bin"})


@record_class(frozen=True)
class Registries:
    """The registries npm is configured with: the default and one per scope (``@scope:registry``)."""

    default: str
    scopes: Mapping[str, str] = field(default_factory=dict)

    def hosts(self) -> tuple[str, ...]:
        urls = (self.default, *self.scopes.values()) if self.default else tuple(self.scopes.values())
        return tuple(dict.fromkeys(host_of(url) for url in urls))

    def for_name(self, name: str) -> str | None:
        """The scope's registry of a scoped name, None when its scope has none of its own."""
        if name.startswith("@") and "/" in name:
            return self.scopes.get(name.split("/", 1)[0])
        return None


@record_class(frozen=True)
class VerifyReport:
    lockfile: Path
    lockfile_format: str
    entries: int
    """Package entries checked (the root and workspace folders excluded)."""
    checks_run: Mapping[str, str]
    """Check id -> severity, for every check that ran (severity not "off")."""
    findings: tuple[Finding, ...]
    allowed_hosts: tuple[str, ...]
    node_modules: str
    """What the installed tree comparison did: "compared", "absent", or why it was skipped."""

    @property
    def failed(self) -> bool:
        return any(f.severity == "error" for f in self.findings)


def verify_project(
    project: Project, config: VerifyConfig, registries: Registries, *, compare_installed: bool = True
) -> VerifyReport:
    """Every enabled check over ``project``; findings sorted by line."""
    text = textfile.read_text(project.lockfile, "lockfile") if project.lockfile.is_file() else ""
    lines = index_lockfile(project, text)
    hosts = config.allowed_hosts if config.allowed_hosts is not None else registries.hosts()
    run = _Run(project, config, registries, hosts, lines)
    run.entries()
    run.shared_integrities()
    run.drift()
    if project.lockfile_format == "package-lock-v2" or project.lockfile_format == "npm-shrinkwrap-v2":
        from npmaudit.trust.npm_sections import section_differences

        for location, problem in section_differences(text):
            run.add("LV002", project.nodes.get(location), problem, entry=location)
    installed = "not compared (--no-installed)"
    if compare_installed:
        from npmaudit.trust.installed import compare_installed as compare

        installed, problems = compare(project)
        for location, problem in problems:
            run.add("LV060", project.nodes.get(location), problem, entry=location)
    enabled = {c.id: config.severity(c.id) for c in CHECKS if config.severity(c.id) != "off"}
    findings = sorted(run.findings, key=lambda f: (f.line or 0, f.check, f.entry))
    return VerifyReport(
        project.lockfile, project.lockfile_format, run.count, enabled, tuple(findings), hosts, installed
    )


class _Run:
    def __init__(
        self,
        project: Project,
        config: VerifyConfig,
        registries: Registries,
        hosts: tuple[str, ...],
        lines: LineIndex,
    ) -> None:
        self.project = project
        self.config = config
        self.registries = registries
        self.hosts = frozenset(hosts)
        self.lines = lines
        self.findings: list[Finding] = []
        self.count = 0
        self.lockfile = str(project.lockfile)
        self.berry = project.lockfile_format.startswith("yarn-berry")

    def add(self, check: str, node: Node | None, message: str, *, entry: str | None = None, field: str = "") -> None:
        severity = self.config.severity(check)
        if severity == "off":
            return
        line = None
        if node is not None:
            line = self.lines.field_line(node, field) if field else self.lines.entry_line(node)
        self.findings.append(
            Finding(check, severity, self.lockfile, line, entry if entry is not None else _key(node), message)
        )

    # --- per entry ------------------------------------------------------------------------------

    def entries(self) -> None:
        for node in self.project.packages():
            if node.source is SourceKind.WORKSPACE or self.project.is_top(node.location):
                continue
            self.count += 1
            if node.source in _FETCHED:
                self.fetched(node)
            elif node.source is SourceKind.GIT:
                self.git(node)
            elif node.source in (SourceKind.DIRECTORY, SourceKind.LOCAL_TARBALL, SourceKind.LINK):
                self.local(node)
            self.alias(node)

    def fetched(self, node: Node) -> None:
        url = node.resolved
        is_url = bool(url) and "://" in (url or "")
        if node.source is SourceKind.TARBALL and not self.config.allow_remote and url not in self.config.allowed_urls:
            self.add("LV052", node, f"fetched from the tarball URL {url}, outside the registries", field="resolved")
        elif is_url and url is not None:
            self.url(node, url)
        self.integrity(node)

    def url(self, node: Node, url: str) -> None:
        scheme = url.split("://", 1)[0].lower()
        if scheme != "https":
            self.add("LV011", node, f"resolved over {scheme}, not https: {url}", field="resolved")
        if url in self.config.allowed_urls or node.source is not SourceKind.REGISTRY:
            return
        host = host_of(url)
        if host not in self.hosts:
            allowed = ", ".join(sorted(self.hosts)) or "none"
            self.add("LV012", node, f"resolved from host {host}, not an allowed registry ({allowed})", field="resolved")
        scope_registry = self.registries.for_name(node.name)
        if scope_registry is not None and not registry_path_matches(url, scope_registry):
            self.add(
                "LV016",
                node,
                f"{node.name} must come from its scope's registry {scope_registry}, not {url}",
                field="resolved",
            )
        named = registry_tarball(url)
        if named is None:
            if "/-/" in url or not self.project.lockfile_format.startswith("bun"):
                self.add(
                    "LV014", node, f"resolved URL is not a registry tarball of {node.name}: {url}", field="resolved"
                )
            return  # bun records the registry's base URL, not the tarball's
        if named.name != node.name:
            self.add(
                "LV014", node, f"resolved URL is the tarball of {named.name}, not {node.name}: {url}", field="resolved"
            )
        elif not _same_version(named.version, node.version):
            shown = named.version or "another file"
            self.add(
                "LV014",
                node,
                f"resolved URL is version {shown} of {node.name}, the entry says {node.version}",
                field="resolved",
            )

    def integrity(self, node: Node) -> None:
        if node.in_bundle:
            return  # bundled dependencies come inside their parent's tarball, with no integrity of their own
        value = node.integrity
        if value is None and self.berry:
            keys = {(node.install_name or node.name, node.version), (node.name, node.version)}
            if any(key in self.lines.berry_checksums or key in self.lines.berry_conditional for key in keys):
                return  # yarn berry's checksum (a sha512 of the archive), or a package for other platforms
            self.add("LV020", node, "no checksum: the archive is installed without any check", field="version")
            return
        if not value:
            self.add("LV020", node, "no integrity: the tarball is installed without any check", field="resolved")
            return
        try:
            hashes = parse_integrity(value)
        except MalformedIntegrity as error:
            self.add("LV022", node, f"malformed integrity ({error}): {value[:40]}", field="integrity")
            return
        if not any(h.algorithm == "sha512" for h in hashes):
            algorithms = ", ".join(sorted({h.algorithm for h in hashes}))
            self.add("LV021", node, f"integrity uses {algorithms}, not sha512", field="integrity")

    def git(self, node: Node) -> None:
        url = node.resolved or ""
        if not self.config.allow_git and url not in self.config.allowed_urls:
            self.add("LV051", node, f"fetched from git: {url or '(no URL)'}", field="resolved")
        elif url.startswith(("git://", "git+http://", "http://")):
            self.add("LV011", node, f"git over an unencrypted protocol: {url}", field="resolved")

    def local(self, node: Node) -> None:
        if self.config.allow_file:
            return
        target = node.link_target if node.link_target is not None else (node.resolved or "")
        for prefix in ("file:", "link:", "portal:"):
            target = target.removeprefix(prefix)
        if not target:
            return
        path = Path(target)
        if path.is_absolute() or target.startswith("~"):
            inside = _inside(self.project.directory, path)
        else:
            # npm records links relative to the project; yarn and pnpm relative to the workspace that
            # declares them.
            bases = [""] if node.link_target is not None else self._declaring_workspaces(node)
            inside = False
            for base in bases:
                normal = posixpath.normpath(posixpath.join(base or ".", target.replace("\\", "/")))
                inside = inside or (normal != ".." and not normal.startswith("../"))
        if not inside:
            self.add("LV017", node, f"points outside the project: {node.resolved or target}", field="resolved")

    def _declaring_workspaces(self, node: Node) -> list[str]:
        tops = [p for p in self.project.dependents(node.location) if self.project.is_top(p)]
        return [self.project.nodes[p].link_target or p for p in tops] or [""]

    def alias(self, node: Node) -> None:
        installed = node.install_name or node.name
        if installed == node.name:
            return
        parts = installed.split("/")
        if (
            any(p in _UNSAFE_ALIAS_PARTS for p in parts)
            or len(parts) > 2
            or (len(parts) == 2 and not parts[0].startswith("@"))
        ):
            self.add("LV015", node, f"unsafe install name {installed!r} for {node.name}")
            return
        if node.source is not SourceKind.REGISTRY:
            return
        for parent in self.project.dependents(node.location):
            for edge in self.project.nodes[parent].edges:
                asks = edge.spec.startswith(f"npm:{node.name}@") or edge.spec == f"npm:{node.name}"
                if edge.to == node.location and asks:
                    return
        self.add(
            "LV015",
            node,
            f"installs {node.name}@{node.version} as {installed}, and no dependent asks for npm:{node.name}",
        )

    # --- across entries -------------------------------------------------------------------------

    def shared_integrities(self) -> None:
        """LV023: one digest, two packages. LV024: one package version, two digests of one algorithm
        (a sha1 and a sha512 of the same tarball are not comparable, so never a conflict)."""
        by_digest: dict[tuple[str, bytes], dict[str, Node]] = {}
        by_package: dict[str, list[tuple[Node, tuple[Hash, ...]]]] = {}
        for node in self.project.packages():
            if node.source not in _FETCHED or not node.integrity or node.in_bundle:
                continue
            try:
                hashes = parse_integrity(node.integrity)
            except MalformedIntegrity:
                continue
            identity = f"{node.name}@{node.version}"
            for item in hashes:
                by_digest.setdefault((item.algorithm, item.digest), {}).setdefault(identity, node)
            by_package.setdefault(identity, []).append((node, hashes))
        reported: set[str] = set()
        for packages in by_digest.values():
            if len(packages) > 1:
                names = sorted(packages)
                for identity, node in sorted(packages.items()):
                    if node.location in reported:
                        continue
                    reported.add(node.location)
                    others = ", ".join(n for n in names if n != identity)
                    self.add(
                        "LV023", node, f"same integrity as {others}: one of them is not what it says", field="integrity"
                    )
        for identity, entries in by_package.items():
            conflicting = {
                node.location: node
                for node, hashes in entries
                for other, other_hashes in entries
                if _conflict(hashes, other_hashes)
            }
            for node in conflicting.values():
                self.add("LV024", node, f"{identity} is locked with different integrities elsewhere", field="integrity")

    def drift(self) -> None:
        from npmaudit.trust.drift import unsatisfied

        for top, edge, problem in unsatisfied(self.project):
            node = self.project.nodes.get(edge.to) if edge.to else None
            where = top.location or "package.json"
            self.add("LV003", node, f"{where}: {problem}", entry=f"{edge.name}@{edge.spec}")


def _conflict(a: tuple[Hash, ...], b: tuple[Hash, ...]) -> bool:
    """Two integrities that share an algorithm but no digest for it: different content."""
    shared = {h.algorithm for h in a} & {h.algorithm for h in b}
    return any(
        {h.digest for h in a if h.algorithm == alg}.isdisjoint(h.digest for h in b if h.algorithm == alg)
        for alg in shared
    )


def _same_version(a: str, b: str) -> bool:
    """Equal versions, as the registry normalises them (``3001.0001.0000`` is ``3001.1.0``)."""
    if a == b:
        return True
    from npmaudit import semver

    cleaned = semver.clean(a, loose=True)
    return cleaned is not None and cleaned == semver.clean(b, loose=True)


def _key(node: Node | None) -> str:
    if node is None:
        return ""
    return node.location if node.location.startswith("node_modules/") else f"{node.name}@{node.version}"


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
