"""Subresource Integrity strings as lockfiles write them (``sha512-<base64>``, several hashes separated
by white space), parsed strictly: a malformed integrity is a finding, never a silent pass."""

from __future__ import annotations

import base64
import binascii

from npmaudit.records import record_class

DIGEST_SIZES = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}
STRONG = frozenset({"sha512"})


class MalformedIntegrity(ValueError):
    """The integrity string is not a well-formed SRI value."""


@record_class(frozen=True)
class Hash:
    algorithm: str
    digest: bytes

    @property
    def text(self) -> str:
        return f"{self.algorithm}-{base64.b64encode(self.digest).decode('ascii')}"

    @property
    def hex(self) -> str:
        return self.digest.hex()


def parse_integrity(value: str) -> tuple[Hash, ...]:
    """Every hash of an SRI string, in order; MalformedIntegrity when any part is not valid."""
    tokens = value.split()
    if not tokens:
        raise MalformedIntegrity("empty integrity")
    hashes = []
    for token in tokens:
        algorithm, dash, encoded = token.partition("-")
        if not dash or algorithm not in DIGEST_SIZES:
            raise MalformedIntegrity(f"unknown hash algorithm in {token[:24]!r}")
        encoded = encoded.split("?", 1)[0]  # SRI options are allowed and carry no digest
        try:
            digest = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedIntegrity(f"{algorithm} digest is not base64") from None
        if len(digest) != DIGEST_SIZES[algorithm]:
            raise MalformedIntegrity(f"{algorithm} digest has {len(digest)} bytes, not {DIGEST_SIZES[algorithm]}")
        hashes.append(Hash(algorithm, digest))
    return tuple(hashes)


def sha512_of(value: str | None) -> Hash | None:
    """The sha512 hash of an integrity string, None when it has none or is malformed."""
    if not value:
        return None
    try:
        hashes = parse_integrity(value)
    except MalformedIntegrity:
        return None
    return next((h for h in hashes if h.algorithm == "sha512"), None)


def same_content(a: str, b: str) -> bool | None:
    """Whether two integrity strings name the same content: compared on an algorithm both carry
    (the strongest). None when they share no algorithm or one is malformed: nothing to compare."""
    try:
        first, second = parse_integrity(a), parse_integrity(b)
    except MalformedIntegrity:
        return None
    for algorithm in ("sha512", "sha384", "sha256", "sha1"):
        x = [h.digest for h in first if h.algorithm == algorithm]
        y = [h.digest for h in second if h.algorithm == algorithm]
        if x and y:
            return bool(set(x) & set(y))
    return None
