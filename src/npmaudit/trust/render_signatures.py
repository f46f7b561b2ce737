"""``npmaudit signatures`` reports, shaped like ``npm audit signatures``: ``audited N packages in Ns``, the
verified counts, then each list with its heading; tampering (the lockfile's integrity differs from the
registry's) comes first. JSON keeps npm's ``invalid`` and ``missing`` lists and adds every package's
outcome."""

from __future__ import annotations

import json
from typing import Any

from npmaudit.trust.attestations import Attestation
from npmaudit.trust.registry_signature import Signature
from npmaudit.trust.signatures import PackageOutcome, SignaturesReport, failures_by_kind

# (fail-on kind, singular heading, plural heading), in the order they are shown.
SECTIONS = (
    (
        "integrity-mismatch",
        "1 package has a lockfile integrity that differs from the registry's:",
        "{n} packages have a lockfile integrity that differs from the registry's:",
    ),
    ("not-found", "1 package is not on its registry:", "{n} packages are not on their registry:"),
    (
        "missing",
        "1 package has a missing registry signature but the registry is providing signing keys:",
        "{n} packages have missing registry signatures but the registry is providing signing keys:",
    ),
    ("invalid", "1 package has an invalid registry signature:", "{n} packages have invalid registry signatures:"),
    (
        "unknown-key",
        "1 package has a registry signature with a keyid the registry does not publish:",
        "{n} packages have registry signatures with keyids the registry does not publish:",
    ),
    (
        "expired-key",
        "1 package has a registry signature whose key expired before it was published:",
        "{n} packages have registry signatures whose keys expired before they were published:",
    ),
    ("attestation-invalid", "1 package has an invalid attestation:", "{n} packages have invalid attestations:"),
    (
        "provenance-regression",
        "1 package lost the provenance its predecessor had:",
        "{n} packages lost the provenance their predecessors had:",
    ),
    (
        "unanchored",
        "1 package has attestations whose transparency-log entries were not checked:",
        "{n} packages have attestations whose transparency-log entries were not checked:",
    ),
)
_CODES = {
    "integrity-mismatch": "EINTEGRITYMISMATCH",
    "not-found": "E404",
    "invalid": "EINTEGRITYSIGNATURE",
    "unknown-key": "EMISSINGSIGNATUREKEY",
    "expired-key": "EEXPIREDSIGNATUREKEY",
}


def _verified_signatures(report: SignaturesReport) -> int:
    return sum(1 for p in report.packages if p.signature is not None and p.signature.outcome is Signature.VERIFIED)


def _verified_attestations(report: SignaturesReport) -> int:
    return sum(
        1 for p in report.packages if p.attestations is not None and p.attestations.outcome is Attestation.VERIFIED
    )


def audited_count(report: SignaturesReport) -> int:
    """npm's count: packages from a registry with keys, plus those with verified attestations."""
    return sum(
        1
        for p in report.packages
        if (p.signature is not None and p.signature.outcome is not Signature.NO_KEYS)
        or (p.attestations is not None and p.attestations.outcome is Attestation.VERIFIED)
    )


def render_text(report: SignaturesReport) -> str:
    out: list[str] = []
    audited = audited_count(report)
    out += [f"audited {audited} package{'' if audited == 1 else 's'} in {int(report.seconds)}s", ""]
    mismatched = failures_by_kind(report.packages, "integrity-mismatch")
    if mismatched:
        out += _section(SECTIONS[0], mismatched, detail=_integrity_detail)
        out += ["Someone might have tampered with the lockfile: it does not install what the registry published!", ""]
    verified = _verified_signatures(report)
    if verified:
        out += [_counted(verified, "has a verified registry signature", "have verified registry signatures"), ""]
    attested = _verified_attestations(report)
    if attested:
        out += [
            f"{attested} package{' has a verified attestation' if attested == 1 else 's have verified attestations'}",
            "",
        ]
    tampered: set[str] = set()
    for section in SECTIONS[1:]:
        items = failures_by_kind(report.packages, section[0])
        if items:
            out += _section(section, items, detail=_detail)
            if section[0] in ("invalid", "attestation-invalid"):
                tampered.update(p.spec for p in items)
    if len(tampered) == 1:
        out += ["Someone might have tampered with this package since it was published on the registry!", ""]
    elif tampered:
        out += ["Someone might have tampered with these packages since they were published on the registry!", ""]
    without_keys = [p for p in report.packages if p.signature is not None and p.signature.outcome is Signature.NO_KEYS]
    if without_keys:
        registries = sorted({p.registry for p in without_keys})
        out += [
            f"{len(without_keys)} package{'' if len(without_keys) == 1 else 's'} come from registries that publish "
            f"no signing keys: {', '.join(registries)}",
            "",
        ]
    if report.unchecked:
        out += [f"{len(report.unchecked)} package{'' if len(report.unchecked) == 1 else 's'} could not be checked:", ""]
        out += [f"{p.spec} ({p.registry}): {p.error}" for p in report.unchecked] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def _counted(n: int, one: str, many: str) -> str:
    return f"1 package {one}" if n == 1 else f"{n} packages {many}"


def _section(section: tuple[str, str, str], items: list[PackageOutcome], detail: Any) -> list[str]:
    _, one, many = section
    heading = one if len(items) == 1 else many.format(n=len(items))
    return [heading, "", *(f"{p.spec} ({p.registry}){detail(p, section[0])}" for p in items), ""]


def _integrity_detail(p: PackageOutcome, kind: str) -> str:
    return f": lockfile {p.integrity}, registry {p.registry_integrity}"


def _detail(p: PackageOutcome, kind: str) -> str:
    if kind == "not-found":
        return ""
    if kind == "provenance-regression":
        return f": {p.regression}"
    if kind in ("attestation-invalid", "unanchored") and p.attestations is not None:
        return f": {p.attestations.detail}" if p.attestations.detail else ""
    if p.signature is not None and p.signature.detail:
        return f": {p.signature.detail}"
    return ""


def render_json(report: SignaturesReport) -> str:
    invalid = []
    missing = []
    for p in report.packages:
        for kind in sorted(p.failures()):
            if kind == "missing":
                missing.append(
                    {
                        "integrity": p.registry_integrity,
                        "location": p.location,
                        "name": p.name,
                        "registry": p.registry,
                        "resolved": p.resolved,
                        "version": p.version,
                    }
                )
            elif kind in _CODES or kind == "attestation-invalid":
                item = {
                    "code": _CODES.get(kind, "EATTESTATIONVERIFY"),
                    "message": _message(p, kind),
                    "integrity": p.registry_integrity,
                    "keyid": p.signature.keyid if p.signature is not None else "",
                    "location": p.location,
                    "name": p.name,
                    "registry": p.registry,
                    "resolved": p.resolved,
                    "version": p.version,
                }
                invalid.append(item)
    document = {
        "invalid": invalid,
        "missing": missing,
        "audited": audited_count(report),
        "verifiedSignatures": _verified_signatures(report),
        "verifiedAttestations": _verified_attestations(report),
        "trustedRoot": report.trusted_root,
        "failOn": sorted(report.fail_on),
        "passed": not report.failed and not report.unchecked,
        "packages": [_package(p) for p in report.packages],
    }
    return json.dumps(document, indent=2) + "\n"


def _message(p: PackageOutcome, kind: str) -> str:
    if kind == "integrity-mismatch":
        return f"{p.spec} is locked with integrity {p.integrity}, the registry published {p.registry_integrity}"
    if kind == "not-found":
        return p.error
    if kind == "attestation-invalid" and p.attestations is not None:
        return f"{p.spec} failed to verify attestation: {p.attestations.detail}"
    return f"{p.spec}: {p.signature.detail if p.signature else ''}"


def _package(p: PackageOutcome) -> dict[str, Any]:
    return {
        "name": p.name,
        "version": p.version,
        "location": p.location,
        "registry": p.registry,
        "status": p.status,
        "error": p.error or None,
        "integrity": p.integrity_check,
        "signature": p.signature.outcome.value if p.signature else None,
        "keyid": p.signature.keyid if p.signature else None,
        "attestations": p.attestations.outcome.value if p.attestations else "absent",
        "attestationBundles": [
            {"predicateType": b.predicate_type, "outcome": b.outcome.value, "detail": b.detail or None}
            for b in (p.attestations.bundles if p.attestations else ())
        ],
        "provenanceRegression": p.regression or None,
        "failures": sorted(p.failures()),
    }
