"""The Sigstore trusted root (``trusted_root.json``, media type ``trustedroot+json;version=0.1``): the
transparency-log keys that sign entry timestamps and the Fulcio certificate authorities that issue
provenance signing certificates, each with its validity period.

npmaudit reads the file itself (``--trusted-root``, or ``[signatures] trusted-root``); with the
``npmaudit[sigstore]`` extra, the current root comes from Sigstore's TUF repository instead, which is
how it stays fresh (see the README).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from npmaudit import textfile
from npmaudit.errors import InputError
from npmaudit.records import record_class
from npmaudit.trust.keys import MalformedKeys, parse_time


@record_class(frozen=True)
class Validity:
    start: datetime
    end: datetime | None

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment and (self.end is None or moment <= self.end)


@record_class(frozen=True)
class LogKey:
    log_id: bytes
    key: PublicKeyTypes
    valid: Validity


@record_class(frozen=True)
class CertificateAuthority:
    chain: tuple[x509.Certificate, ...]  # intermediate(s) first, root last
    valid: Validity


@record_class(frozen=True)
class TrustedRoot:
    logs: tuple[LogKey, ...]
    authorities: tuple[CertificateAuthority, ...]
    origin: str

    def log_key(self, log_id: bytes) -> LogKey | None:
        return next((log for log in self.logs if log.log_id == log_id), None)


def load_trusted_root(path: Path) -> TrustedRoot:
    text = textfile.read_text(path, "trusted root")
    try:
        return parse_trusted_root(json.loads(text), str(path))
    except (ValueError, KeyError, TypeError, MalformedKeys) as error:
        raise InputError(path, f"not a Sigstore trusted root: {error}") from None


def parse_trusted_root(document: Any, origin: str) -> TrustedRoot:
    logs = []
    for tlog in document.get("tlogs", []):
        public = tlog["publicKey"]
        logs.append(
            LogKey(
                base64.b64decode(tlog["logId"]["keyId"]),
                serialization.load_der_public_key(base64.b64decode(public["rawBytes"])),
                _validity(public.get("validFor", {})),
            )
        )
    authorities = []
    for ca in document.get("certificateAuthorities", []):
        chain = tuple(
            x509.load_der_x509_certificate(base64.b64decode(c["rawBytes"])) for c in ca["certChain"]["certificates"]
        )
        authorities.append(CertificateAuthority(chain, _validity(ca.get("validFor", {}))))
    if not logs:
        raise ValueError("no transparency log keys")
    return TrustedRoot(tuple(logs), tuple(authorities), origin)


def _validity(valid_for: Any) -> Validity:
    start = parse_time(valid_for["start"]) if valid_for.get("start") else datetime.min.replace(tzinfo=UTC)
    end = parse_time(valid_for["end"]) if valid_for.get("end") else None
    return Validity(start, end)


def sigstore_production_root(offline: bool) -> tuple[TrustedRoot, str] | None:
    """The public-good trusted root through sigstore-python's TUF client (the ``npmaudit[sigstore]``
    extra), with its JSON; None when the extra is not installed."""
    try:
        from sigstore.models import ClientTrustConfig
    except ImportError:
        return None
    root = ClientTrustConfig.production(offline=offline).trusted_root
    document = json.loads(root._inner.to_json())  # the protobuf-specs model the file was read into
    return parse_trusted_root(document, "Sigstore public-good TUF repository"), json.dumps(document)
