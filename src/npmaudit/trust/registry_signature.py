"""The registry's signature of a version: ECDSA P-256 / SHA-256 over ``<name>@<version>:<integrity>``
(UTF-8), DER-encoded and base64'd in ``dist.signatures[].sig``, one per ``keyid``.

Every signature of the version is checked (not "any one"). Unlike npm, an unknown keyid or a key that
had expired before the version's publish time is an outcome of this package, not the end of the run.
The integrity signed is the registry's ``dist.integrity`` (or a sha1 SRI built from ``dist.shasum``);
comparing it with the lockfile's is the caller's first step.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from npmaudit.records import record_class
from npmaudit.trust.keys import MISSING_TIME_CUTOFF, MalformedKeys, RegistryKey, find_key, parse_time


class Signature(StrEnum):
    VERIFIED = "verified"
    MISSING = "missing"  # the registry publishes keys, the version carries no signature
    INVALID = "invalid"
    EXPIRED_KEY = "expired-key"
    UNKNOWN_KEY = "unknown-key"
    NO_KEYS = "no-keys"  # the registry publishes no keys: nothing to verify against


@record_class(frozen=True)
class SignatureResult:
    outcome: Signature
    keyid: str = ""
    detail: str = ""


def signed_message(name: str, version: str, integrity: str) -> bytes:
    return f"{name}@{version}:{integrity}".encode()


def verify_signatures(
    name: str,
    version: str,
    integrity: str,
    signatures: Any,
    keys: Sequence[RegistryKey] | None,
    published: str | None,
) -> SignatureResult:
    """The outcome for one version; never raises on bad data (bad data is an outcome)."""
    if keys is None:
        return SignatureResult(Signature.NO_KEYS)
    if not isinstance(signatures, list) or not signatures:
        return SignatureResult(Signature.MISSING)
    try:
        published_at = parse_time(published or MISSING_TIME_CUTOFF)
    except MalformedKeys:
        return SignatureResult(Signature.INVALID, detail=f"unreadable publish time {published!r}")
    message = signed_message(name, version, integrity)
    for entry in signatures:
        keyid = entry.get("keyid") if isinstance(entry, dict) else None
        sig = entry.get("sig") if isinstance(entry, dict) else None
        if not isinstance(keyid, str) or not isinstance(sig, str):
            return SignatureResult(Signature.INVALID, detail="a signature entry without keyid or sig")
        key = find_key(keys, keyid)
        if key is None:
            return SignatureResult(Signature.UNKNOWN_KEY, keyid, f"no public key with keyid {keyid}")
        if not key.valid_at(published_at):
            return SignatureResult(
                Signature.EXPIRED_KEY, keyid, f"key {keyid} expired {key.expires}, before the publish time {published}"
            )
        if not ecdsa_ok(key.public_key, sig, message):
            return SignatureResult(Signature.INVALID, keyid, f"signature {sig[:24]}... does not verify with {keyid}")
    return SignatureResult(Signature.VERIFIED, str(signatures[0].get("keyid", "")))


def ecdsa_ok(public_key: ec.EllipticCurvePublicKey, signature_b64: str, message: bytes) -> bool:
    """ECDSA P-256/SHA-256 over ``message``; any decoding failure is a failed verification."""
    try:
        signature = base64.b64decode(signature_b64, validate=False)
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
