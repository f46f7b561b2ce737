"""Registry signing keys: ``GET <registry>/-/npm/v1/keys`` (``{"keys": [{keyid, keytype, scheme, key,
expires}]}``), where ``key`` is the base64 DER SubjectPublicKeyInfo of an ECDSA P-256 key.

A key's ``keyid`` is the OpenSSH fingerprint of the key (``SHA256:`` + unpadded base64 of SHA-256 over
the SSH wire blob), not a hash of the DER bytes. npm matches keyids as strings; npmaudit also checks
that each key's keyid is the fingerprint of the key it names, so a registry answer that pairs a keyid
with another key is refused rather than trusted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from npmaudit.records import record_class

KEYS_PATH = "-/npm/v1/keys"
# pacote's MISSING_TIME_CUTOFF: a version without a publish time is taken as published then.
MISSING_TIME_CUTOFF = "2015-01-01T00:00:00.000Z"


class MalformedKeys(ValueError):
    """The keys document is not what the endpoint answers."""


@record_class(frozen=True)
class RegistryKey:
    keyid: str
    key: str  # base64 DER SubjectPublicKeyInfo, as served
    expires: str | None
    public_key: ec.EllipticCurvePublicKey

    def valid_at(self, moment: datetime) -> bool:
        """npm's rule: valid when it never expires or ``moment`` is strictly before the expiry."""
        return self.expires is None or moment < parse_time(self.expires)


def keyid_of(public_key: ec.EllipticCurvePublicKey) -> str:
    blob = public_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).split()[1]
    digest = hashlib.sha256(base64.b64decode(blob)).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def load_public_key(encoded: str) -> ec.EllipticCurvePublicKey:
    """A base64 DER P-256 public key; MalformedKeys for anything else."""
    try:
        key = serialization.load_der_public_key(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError, TypeError) as error:
        raise MalformedKeys(f"not a base64 DER public key ({type(error).__name__})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise MalformedKeys("not an ECDSA P-256 key")
    return key


def parse_keys(document: Any) -> tuple[RegistryKey, ...]:
    """The keys of a ``/-/npm/v1/keys`` answer, each checked against its keyid."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise MalformedKeys('the answer has no "keys" list')
    keys = []
    for entry in entries:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("keyid"), str)
            or not isinstance(entry.get("key"), str)
        ):
            raise MalformedKeys("a key without a keyid or key string")
        public_key = load_public_key(entry["key"])
        if keyid_of(public_key) != entry["keyid"]:
            raise MalformedKeys(f"keyid {entry['keyid']} is not the fingerprint of the key it comes with")
        expires = entry.get("expires")
        if expires is not None and not isinstance(expires, str):
            raise MalformedKeys(f"key {entry['keyid']}: expires must be a date string or null")
        if expires:
            parse_time(expires)
        keys.append(RegistryKey(entry["keyid"], entry["key"], expires or None, public_key))
    return tuple(keys)


def find_key(keys: Sequence[RegistryKey], keyid: str) -> RegistryKey | None:
    return next((key for key in keys if key.keyid == keyid), None)


def parse_time(value: str) -> datetime:
    """An ISO-8601 time as the registry writes it (``2025-01-29T00:00:00.000Z``), in UTC."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise MalformedKeys(f"not an ISO-8601 time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
