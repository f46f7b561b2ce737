"""Provenance and publish attestations (``dist.attestations``): Sigstore bundles holding a DSSE envelope
of an in-toto statement about ``pkg:npm/<name>@<version>`` and the tarball's sha512.

Two kinds: the SLSA provenance (keyless: signed by a short-lived Fulcio certificate) and the registry's
publish attestation (signed with the registry key of ``/-/npm/v1/keys``). For every bundle:

1. the statement's subject must be this package (purl) and this tarball (sha512 hex of the integrity);
2. the DSSE signature (over the PAE encoding) must verify: with the registry key named by its keyid
   (known, and not expired at the log's ``integratedTime``), or with the certificate's key, the
   certificate chaining to a Fulcio CA of the trusted root valid at ``integratedTime``;
3. the transparency-log entry must be anchored: its signed entry timestamp verifies with the log key of
   the trusted root, its body records this payload and signature, and an inclusion proof, when present,
   folds to its root hash (RFC 9162).

sigstore-python (the ``npmaudit[sigstore]`` extra) additionally verifies the bundles it can read (v0.2+
with inclusion proofs: SCTs and checkpoint signatures too); it cannot read v0.1 bundles (no inclusion
proof) nor key-signed ones, which this module verifies on its own. Without a trusted root, steps 1-2
still run and the package is reported "unanchored" (listed, configurable to fail).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from npmaudit.records import record_class
from npmaudit.trust.keys import RegistryKey, find_key
from npmaudit.trust.sri import sha512_of
from npmaudit.trust.trusted_root import TrustedRoot

PROVENANCE_PREFIX = "https://slsa.dev/provenance/"
PUBLISH_PREDICATE = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"


class Attestation(StrEnum):
    VERIFIED = "verified"
    UNANCHORED = "unanchored"  # signatures verified; no trusted root to check the log entries with
    ABSENT = "absent"
    SUBJECT_MISMATCH = "subject-mismatch"
    UNKNOWN_KEY = "unknown-key"
    EXPIRED_KEY = "expired-key"
    INVALID = "invalid"


# Worst first: the outcome of a package is the worst of its bundles.
_ORDER = (
    Attestation.SUBJECT_MISMATCH,
    Attestation.INVALID,
    Attestation.UNKNOWN_KEY,
    Attestation.EXPIRED_KEY,
    Attestation.UNANCHORED,
    Attestation.VERIFIED,
)


@record_class(frozen=True)
class BundleResult:
    predicate_type: str
    outcome: Attestation
    detail: str = ""


@record_class(frozen=True)
class AttestationsResult:
    outcome: Attestation
    bundles: tuple[BundleResult, ...] = ()

    @property
    def provenance(self) -> bool:
        """A verified (or unanchored but signature-checked) SLSA provenance bundle."""
        return any(
            b.predicate_type.startswith(PROVENANCE_PREFIX)
            and b.outcome in (Attestation.VERIFIED, Attestation.UNANCHORED)
            for b in self.bundles
        )

    @property
    def detail(self) -> str:
        return "; ".join(
            f"{b.predicate_type}: {b.detail}" for b in self.bundles if b.detail and b.outcome is self.outcome
        )


# (bundle JSON) -> None, or raises with the reason: sigstore-python's verification when installed.
SigstoreCheck = Callable[[dict[str, Any]], None]


def purl(name: str, version: str) -> str:
    return f"pkg:npm/{quote(name, safe='/')}@{version}"


def verify_attestations(
    document: Any,
    name: str,
    version: str,
    integrity: str,
    keys: Sequence[RegistryKey] | None,
    root: TrustedRoot | None,
    sigstore: SigstoreCheck | None = None,
) -> AttestationsResult:
    entries = document.get("attestations") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        return AttestationsResult(
            Attestation.INVALID, (BundleResult("", Attestation.INVALID, "no attestations in the answer"),)
        )
    results = []
    for entry in entries:
        predicate = str(entry.get("predicateType", "")) if isinstance(entry, dict) else ""
        bundle = entry.get("bundle") if isinstance(entry, dict) else None
        try:
            outcome, detail = _verify_bundle(bundle, name, version, integrity, keys, root, sigstore)
        except (KeyError, TypeError, ValueError, IndexError, binascii.Error) as error:
            outcome, detail = Attestation.INVALID, f"malformed bundle ({type(error).__name__}: {error})"
        results.append(BundleResult(predicate, outcome, detail))
    worst = min((r.outcome for r in results), key=_ORDER.index)
    return AttestationsResult(worst, tuple(results))


def _verify_bundle(
    bundle: Any,
    name: str,
    version: str,
    integrity: str,
    keys: Sequence[RegistryKey] | None,
    root: TrustedRoot | None,
    sigstore: SigstoreCheck | None,
) -> tuple[Attestation, str]:
    envelope = bundle["dsseEnvelope"]
    payload = base64.b64decode(envelope["payload"], validate=True)
    payload_type = str(envelope["payloadType"])
    statement = json.loads(payload)
    subject = statement["subject"][0]
    expected = purl(name, version)
    if subject.get("name") != expected:
        return Attestation.SUBJECT_MISMATCH, f"signed for {subject.get('name')}, not {expected}"
    digest = sha512_of(integrity)
    signed_digest = (subject.get("digest") or {}).get("sha512")
    if digest is None or signed_digest != digest.hex:
        return Attestation.SUBJECT_MISMATCH, f"signed sha512 {str(signed_digest)[:16]}... is not the integrity's"
    signature = envelope["signatures"][0]
    sig_b64, keyid = str(signature["sig"]), str(signature.get("keyid") or "")
    material = bundle["verificationMaterial"]
    entry = material["tlogEntries"][0]
    integrated = datetime.fromtimestamp(int(entry["integratedTime"]), UTC)
    pae = b"DSSEv1 %d %b %d %b" % (len(payload_type.encode()), payload_type.encode(), len(payload), payload)
    signer_der: bytes
    if keyid:
        key = find_key(keys or (), keyid)
        if key is None:
            return Attestation.UNKNOWN_KEY, f"signed with keyid {keyid}, which the registry does not publish"
        if not key.valid_at(integrated):
            return (
                Attestation.EXPIRED_KEY,
                f"key {keyid} expired {key.expires}, before the log time {integrated:%Y-%m-%d}",
            )
        if not _ecdsa(key.public_key, sig_b64, pae):
            return Attestation.INVALID, f"DSSE signature does not verify with {keyid}"
        signer_der = key.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        leaf = _leaf_certificate(material)
        leaf_key = leaf.public_key()
        if not isinstance(leaf_key, ec.EllipticCurvePublicKey) or not _ecdsa(leaf_key, sig_b64, pae):
            return Attestation.INVALID, "DSSE signature does not verify with the signing certificate"
        if not (leaf.not_valid_before_utc <= integrated <= leaf.not_valid_after_utc):
            return Attestation.INVALID, "signing certificate was not valid at the log time"
        if root is not None and not _chains(leaf, root, integrated):
            return Attestation.INVALID, "signing certificate does not chain to a Fulcio CA of the trusted root"
        signer_der = leaf.public_bytes(serialization.Encoding.DER)
    if root is None:
        return Attestation.UNANCHORED, "no Sigstore trusted root: the transparency log entry was not checked"
    problem = _check_log_entry(entry, root, payload, sig_b64, signer_der)
    if problem:
        return Attestation.INVALID, problem
    if sigstore is not None and not keyid and "inclusionProof" in entry and entry["inclusionProof"]:
        try:
            sigstore(bundle)
        except Exception as error:  # sigstore-python's errors have no common base worth naming
            return Attestation.INVALID, f"sigstore: {type(error).__name__}: {str(error)[:160]}"
    return Attestation.VERIFIED, ""


def _leaf_certificate(material: Any) -> x509.Certificate:
    raw = (material.get("certificate") or {}).get("rawBytes")
    if raw is None:
        raw = material["x509CertificateChain"]["certificates"][0]["rawBytes"]
    return x509.load_der_x509_certificate(base64.b64decode(raw))


def _chains(leaf: x509.Certificate, root: TrustedRoot, moment: datetime) -> bool:
    for authority in root.authorities:
        if not authority.valid.contains(moment) or not authority.chain:
            continue
        try:
            leaf.verify_directly_issued_by(authority.chain[0])
            for child, parent in zip(authority.chain, authority.chain[1:], strict=False):
                child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def _check_log_entry(entry: Any, root: TrustedRoot, payload: bytes, sig_b64: str, signer_der: bytes) -> str:
    """The problem with the bundle's transparency-log entry, or "" when it anchors this signature."""
    log = root.log_key(base64.b64decode(entry["logId"]["keyId"]))
    if log is None or not isinstance(log.key, ec.EllipticCurvePublicKey):
        return "transparency log not in the trusted root"
    body_b64 = str(entry["canonicalizedBody"])
    signed = json.dumps(
        {
            "body": body_b64,
            "integratedTime": int(entry["integratedTime"]),
            "logID": base64.b64decode(entry["logId"]["keyId"]).hex(),
            "logIndex": int(entry["logIndex"]),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()  # RFC 8785 for this object: sorted keys, no spaces, ASCII strings and integers
    set_b64 = str(entry["inclusionPromise"]["signedEntryTimestamp"])
    if not _ecdsa(log.key, set_b64, signed):
        return "signed entry timestamp does not verify with the log key"
    body_bytes = base64.b64decode(body_b64)
    body = json.loads(body_bytes)
    spec = body.get("spec", {})
    payload_hash = hashlib.sha256(payload).hexdigest()
    if body.get("kind") == "dsse":
        recorded = spec.get("payloadHash", {}).get("value")
        signatures = spec.get("signatures", [])
        if not any(
            s.get("signature") == sig_b64 and _verifier_der(s.get("verifier", "")) == signer_der for s in signatures
        ):
            return "log entry records another signature or signer"
    elif body.get("kind") == "intoto":
        recorded = spec.get("content", {}).get("payloadHash", {}).get("value")
    else:
        return f"unsupported log entry kind {body.get('kind')!r}"
    if recorded != payload_hash:
        return "log entry records another payload"
    proof = entry.get("inclusionProof")
    if proof and not _inclusion_ok(body_bytes, proof):
        return "inclusion proof does not lead to its root hash"
    return ""


def _verifier_der(verifier_b64: str) -> bytes:
    try:
        pem = base64.b64decode(verifier_b64)
    except (binascii.Error, ValueError):
        return b""
    if b"CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    key = serialization.load_pem_public_key(pem)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _inclusion_ok(body: bytes, proof: Any) -> bool:
    """RFC 9162 section 2.1.3.2: fold the audit path from the leaf to the root."""
    index, size = int(proof["logIndex"]), int(proof["treeSize"])
    if index >= size:
        return False
    node = hashlib.sha256(b"\x00" + body).digest()
    fn, sn = index, size - 1
    for sibling_b64 in proof["hashes"]:
        sibling = base64.b64decode(sibling_b64)
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = hashlib.sha256(b"\x01" + sibling + node).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            node = hashlib.sha256(b"\x01" + node + sibling).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == base64.b64decode(proof["rootHash"])


def _ecdsa(key: ec.EllipticCurvePublicKey, signature_b64: str, message: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature_b64), message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def sigstore_check(trusted_root_json: str | None) -> SigstoreCheck | None:
    """sigstore-python's bundle verification (no identity policy, as npm), when the extra is installed."""
    try:
        from sigstore.models import Bundle
        from sigstore.models import TrustedRoot as SigstoreRoot
        from sigstore.verify import Verifier
    except ImportError:
        return None
    if trusted_root_json is None:
        verifier = Verifier.production(offline=True)
    else:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "trusted_root.json"
            path.write_text(trusted_root_json)
            verifier = Verifier(trusted_root=SigstoreRoot.from_file(str(path)))

    def check(bundle: dict[str, Any]) -> None:
        verifier.verify_dsse(Bundle.from_json(json.dumps(bundle)), _AnyIdentity())

    return check


class _AnyIdentity:
    """No identity policy, as npm applies none (sigstore's own no-op policy logs a warning each time)."""

    def verify(self, cert: x509.Certificate) -> None:
        return None
