"""``npmaudit signatures``: the registry's signatures and the attestations of every registry package a
lockfile names (no node_modules needed), each package judged on its own.

For each package, in this order (the first is tampering and is reported first):

1. the lockfile's integrity against the registry's (``dist.integrity``, and ``dist.shasum`` as sha1);
2. the registry signatures over ``name@version:<registry integrity>`` with the registry's keys, each key
   valid at the version's publish time (:mod:`.registry_signature`);
3. ``dist.attestations``: fetched and verified (:mod:`.attestations`);
4. provenance regression: the version has no provenance while the closest earlier version its dependents'
   ranges allow had one (an account takeover publishes from a laptop, not from the project's CI).

A registry that cannot be queried leaves its packages "unchecked" (exit 3); a package the registry does
not have is "not-found" (a lockfile entry nobody published). Neither ends the run.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from npmaudit import semver
from npmaudit.errors import SourceError
from npmaudit.progress import Progress, no_progress
from npmaudit.project.model import Node, Project
from npmaudit.records import field, record_class
from npmaudit.trust.attestations import Attestation, AttestationsResult, SigstoreCheck, verify_attestations
from npmaudit.trust.registry_data import RegistryData
from npmaudit.trust.registry_signature import Signature, SignatureResult, verify_signatures
from npmaudit.trust.sri import same_content
from npmaudit.trust.trusted_root import TrustedRoot

WORKERS = 16

# What can fail a run, with the default choice (npm fails on invalid and missing signatures).
FAIL_ON_CHOICES = (
    "integrity-mismatch",
    "invalid",
    "missing",
    "expired-key",
    "unknown-key",
    "not-found",
    "attestation-invalid",
    "provenance-regression",
    "unanchored",
    "no-keys",
)
DEFAULT_FAIL_ON = frozenset(FAIL_ON_CHOICES) - {"provenance-regression", "unanchored", "no-keys"}
_ATTESTATION_FAILURES = frozenset(
    {Attestation.INVALID, Attestation.SUBJECT_MISMATCH, Attestation.UNKNOWN_KEY, Attestation.EXPIRED_KEY}
)


@record_class(frozen=True)
class PackageOutcome:
    name: str
    version: str
    location: str
    registry: str
    resolved: str | None
    integrity: str | None
    """The lockfile's."""
    registry_integrity: str | None = None
    integrity_check: str = "unknown"
    """match, mismatch, unknown (the lock has none), incomparable (no shared algorithm)."""
    signature: SignatureResult | None = None
    attestations: AttestationsResult | None = None
    regression: str = ""
    status: str = "checked"
    """checked, not-found, unchecked (the registry could not be queried)."""
    error: str = ""
    groups: frozenset[str] = frozenset()

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    def failures(self) -> set[str]:
        """The fail-on names this outcome raises."""
        found = set()
        if self.status == "not-found":
            found.add("not-found")
        if self.integrity_check == "mismatch":
            found.add("integrity-mismatch")
        if self.signature is not None:
            found.update(
                {
                    Signature.INVALID: {"invalid"},
                    Signature.MISSING: {"missing"},
                    Signature.EXPIRED_KEY: {"expired-key"},
                    Signature.UNKNOWN_KEY: {"unknown-key"},
                    Signature.NO_KEYS: {"no-keys"},
                }.get(self.signature.outcome, set())
            )
        if self.attestations is not None:
            if self.attestations.outcome in _ATTESTATION_FAILURES:
                found.add("attestation-invalid")
            elif self.attestations.outcome is Attestation.UNANCHORED:
                found.add("unanchored")
        if self.regression:
            found.add("provenance-regression")
        return found


@record_class(frozen=True)
class SignaturesReport:
    packages: tuple[PackageOutcome, ...]
    seconds: float
    trusted_root: str
    """Where the trusted root came from, or "none"."""
    fail_on: frozenset[str] = field(default_factory=lambda: DEFAULT_FAIL_ON)

    @property
    def audited(self) -> int:
        return sum(1 for p in self.packages if p.status == "checked")

    @property
    def unchecked(self) -> tuple[PackageOutcome, ...]:
        return tuple(p for p in self.packages if p.status == "unchecked")

    @property
    def failed(self) -> bool:
        return any(p.failures() & self.fail_on for p in self.packages)

    @property
    def nothing_verifiable(self) -> bool:
        """npm's "found no dependencies to audit that were installed from a supported registry"."""
        return not any(
            p.signature is not None and p.signature.outcome is not Signature.NO_KEYS for p in self.packages
        ) and not any(
            p.attestations is not None and p.attestations.outcome is Attestation.VERIFIED for p in self.packages
        )


@record_class(frozen=True)
class Anchor:
    """What attestations are anchored in: the trusted root, sigstore-python's check, and their origin."""

    root: TrustedRoot | None = None
    sigstore: SigstoreCheck | None = None
    origin: str = "none"


@record_class(frozen=True)
class SignatureOptions:
    omit: frozenset[str] = frozenset()
    provenance: bool = True
    anchor: Callable[[], Anchor] = Anchor
    """Called once, when the first package with attestations needs it (fetching a current trusted root
    costs requests that projects without provenance should not pay)."""
    fail_on: frozenset[str] = DEFAULT_FAIL_ON


class _OnceAnchor:
    def __init__(self, load: Callable[[], Anchor]) -> None:
        self._load = load
        self._value: Anchor | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Anchor:
        with self._lock:
            if self._value is None:
                self._value = self._load()
            return self._value

    @property
    def origin(self) -> str:
        return self._value.origin if self._value is not None else "not needed"


def check_signatures(
    project: Project,
    data: RegistryData,
    registry_for: Callable[[str], str],
    options: SignatureOptions,
    progress: Progress = no_progress,
) -> SignaturesReport:
    started = time.monotonic()
    # registry packages only: a tarball URL or a local file has no registry signature to check
    nodes = sorted(
        (n for n in project.auditable(options.omit) if n.is_registry), key=lambda n: (n.name, n.version, n.location)
    )
    by_package: dict[tuple[str, str], list[Node]] = {}
    for node in nodes:
        by_package.setdefault((node.name, registry_for(node.name)), []).append(node)
    outcomes: list[PackageOutcome] = []
    lock = threading.Lock()
    done = 0
    anchor = _OnceAnchor(options.anchor)

    def work(key: tuple[str, str]) -> None:
        nonlocal done
        name, registry = key
        results = _check_name(project, data, name, registry, by_package[key], options, anchor)
        with lock:
            outcomes.extend(results)
            done += 1
            progress("checking registry signatures", done, len(by_package))

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for future in [pool.submit(work, key) for key in by_package]:
            future.result()
    outcomes.sort(key=lambda o: (o.name, o.version, o.location))
    return SignaturesReport(tuple(outcomes), time.monotonic() - started, anchor.origin, options.fail_on)


def _check_name(
    project: Project,
    data: RegistryData,
    name: str,
    registry: str,
    nodes: list[Node],
    options: SignatureOptions,
    anchor: Callable[[], Anchor],
) -> list[PackageOutcome]:
    def base(node: Node, **values: Any) -> PackageOutcome:
        return PackageOutcome(
            node.name,
            node.version,
            node.location,
            registry,
            node.resolved,
            node.integrity,
            groups=node.groups,
            **values,
        )

    try:
        packument = data.packument(name, registry)
        keys = data.keys(registry)
    except SourceError as error:
        return [base(node, status="unchecked", error=str(error)) for node in nodes]
    if packument is None:
        return [base(node, status="not-found", error=f"{name} is not on {registry}") for node in nodes]
    versions = packument.get("versions") or {}
    times = packument.get("time") or {}
    results = []
    memo: dict[str, PackageOutcome] = {}
    for node in nodes:
        manifest = versions.get(node.version)
        if not isinstance(manifest, dict):
            results.append(base(node, status="not-found", error=f"{name}@{node.version} is not on {registry}"))
            continue
        dist = manifest.get("dist") or {}
        registry_integrity = _registry_integrity(dist)
        check = _compare(node.integrity, dist)
        signature = (
            verify_signatures(
                name, node.version, registry_integrity or "", dist.get("signatures"), keys, times.get(node.version)
            )
            if registry_integrity
            else SignatureResult(Signature.INVALID, detail="the registry gives no integrity")
        )
        attestations = None
        memo_key = node.version
        if memo_key in memo:
            attestations = memo[memo_key].attestations
        elif options.provenance and isinstance(dist.get("attestations"), dict) and registry_integrity:
            try:
                reply = data.attestations(str(dist["attestations"].get("url", "")), registry)
                anchored = anchor()
                attestations = verify_attestations(
                    reply, name, node.version, registry_integrity, keys, anchored.root, anchored.sigstore
                )
            except SourceError as error:
                results.append(base(node, status="unchecked", error=str(error)))
                continue
        regression = _regression(project, node, versions) if options.provenance else ""
        outcome = base(
            node,
            registry_integrity=registry_integrity,
            integrity_check=check,
            signature=signature,
            attestations=attestations,
            regression=regression,
        )
        memo[memo_key] = outcome
        results.append(outcome)
    return results


def _registry_integrity(dist: Mapping[str, Any]) -> str | None:
    """``dist.integrity``, else a sha1 SRI from ``dist.shasum`` (pacote's rule)."""
    integrity = dist.get("integrity")
    if isinstance(integrity, str) and integrity:
        return integrity
    shasum = dist.get("shasum")
    if isinstance(shasum, str) and shasum:
        try:
            return "sha1-" + base64.b64encode(bytes.fromhex(shasum)).decode("ascii")
        except ValueError:
            return None
    return None


def _compare(lock_integrity: str | None, dist: Mapping[str, Any]) -> str:
    if not lock_integrity:
        return "unknown"
    candidates = [dist.get("integrity")]
    shasum = dist.get("shasum")
    if isinstance(shasum, str):
        with contextlib.suppress(ValueError, binascii.Error):
            candidates.append("sha1-" + base64.b64encode(bytes.fromhex(shasum)).decode("ascii"))
    registry = " ".join(c for c in candidates if isinstance(c, str) and c)
    if not registry:
        return "incomparable"
    same = same_content(lock_integrity, registry)
    return "incomparable" if same is None else "match" if same else "mismatch"


def _regression(project: Project, node: Node, versions: Mapping[str, Any]) -> str:
    """ "" or why this version lost the provenance of its predecessor in its dependents' ranges."""
    if _has_provenance(versions.get(node.version)):
        return ""
    ranges = [
        edge.spec[len(f"npm:{node.name}@") :] if edge.spec.startswith("npm:") else edge.spec
        for parent in project.dependents(node.location)
        for edge in project.nodes[parent].edges
        if edge.to == node.location
    ]
    ranges = [r for r in ranges if semver.valid_range(r, loose=True) is not None] or ["*"]
    earlier = (
        [
            v
            for v in versions
            if semver.valid(v)
            and semver.lt(v, node.version)
            and any(semver.satisfies(v, r, loose=True) for r in ranges)
        ]
        if semver.valid(node.version)
        else []
    )
    if not earlier:
        return ""
    predecessor = semver.sort_versions(earlier)[-1]
    if _has_provenance(versions.get(predecessor)):
        return f"{node.name}@{predecessor} was published with provenance, {node.version} is not"
    return ""


def _has_provenance(manifest: Any) -> bool:
    attestations = (manifest or {}).get("dist", {}).get("attestations") if isinstance(manifest, dict) else None
    return isinstance(attestations, dict) and isinstance(attestations.get("provenance"), dict)


def failures_by_kind(packages: Iterable[PackageOutcome], kind: str) -> list[PackageOutcome]:
    return [p for p in packages if kind in p.failures()]
