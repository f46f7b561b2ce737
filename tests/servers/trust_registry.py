"""A loopback registry for `npmaudit signatures`: signing keys, full packuments, attestation replies.

``GET /-/npm/v1/keys`` answers ``{"keys": [...]}`` (404 when ``keys`` is None: a registry without keys);
``GET /-/npm/v1/attestations/<name>@<version>`` the reply stored for that spec; everything else is a
packument (``RegistryServer``). :func:`sign_packuments` builds packuments for a lockfile's entries signed
with a key the test generated, the registry's own way (ECDSA P-256 over ``name@version:integrity``).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from servers.base import Answer, RecordedRequest, json_answer
from servers.registry_server import RegistryServer

KEYS_PATH = "/-/npm/v1/keys"
ATTESTATIONS_PATH = "/-/npm/v1/attestations/"


class TrustRegistry(RegistryServer):
    def __init__(
        self,
        packuments: Mapping[str, Mapping[str, Any]] | None = None,
        keys: list[Mapping[str, Any]] | None = None,
        attestations: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> None:
        super().__init__(packuments=packuments, token=token)
        self.keys = keys
        self.attestations = dict(attestations or {})

    def handle(self, request: RecordedRequest) -> Answer:
        if self.token is not None and request.headers.get("authorization") != f"Bearer {self.token}":
            return json_answer(401, {"error": "authentication required"})
        path = request.path.split("?", 1)[0]
        if request.method == "GET" and path.endswith(KEYS_PATH):
            return (
                json_answer(404, {"error": "Not found"}) if self.keys is None else json_answer(200, {"keys": self.keys})
            )
        if request.method == "GET" and ATTESTATIONS_PATH in path:
            spec = unquote(path.split(ATTESTATIONS_PATH, 1)[1])
            reply = self.attestations.get(spec)
            return json_answer(404, {"error": "Not found"}) if reply is None else json_answer(200, reply)
        return super().handle(request)


def key_entry(private_key: ec.EllipticCurvePrivateKey, expires: str | None = None) -> dict[str, Any]:
    """A ``/-/npm/v1/keys`` entry for a generated key, its keyid computed as the registry does."""
    from npmaudit.trust.keys import keyid_of

    public = private_key.public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "expires": expires,
        "keyid": keyid_of(public),
        "keytype": "ecdsa-sha2-nistp256",
        "scheme": "ecdsa-sha2-nistp256",
        "key": base64.b64encode(der).decode("ascii"),
    }


def sign(private_key: ec.EllipticCurvePrivateKey, name: str, version: str, integrity: str) -> str:
    signature = private_key.sign(f"{name}@{version}:{integrity}".encode(), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode("ascii")


def sign_packuments(
    entries: Iterable[tuple[str, str, str]],
    private_key: ec.EllipticCurvePrivateKey,
    registry: str,
    published: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Packuments holding every (name, version, integrity), each version signed with ``private_key``."""
    keyid = key_entry(private_key)["keyid"]
    packuments: dict[str, dict[str, Any]] = {}
    for name, version, integrity in entries:
        document = packuments.setdefault(name, {"name": name, "versions": {}, "time": {}})
        basename = name.rsplit("/", 1)[-1]
        document["versions"][version] = {
            "name": name,
            "version": version,
            "dist": {
                "integrity": integrity,
                "tarball": f"{registry}{name}/-/{basename}-{version}.tgz",
                "signatures": [{"keyid": keyid, "sig": sign(private_key, name, version, integrity)}],
            },
        }
        if published:
            document["time"][version] = published
    return packuments
