"""Registry signatures and attestation bundles on real data, offline: the 11 real signature vectors,
the real attestation replies (four bundles), and every mutation reported as an outcome, never raised."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import replace

import pytest

from npmaudit.trust.attestations import Attestation, sigstore_check, verify_attestations
from npmaudit.trust.keys import MalformedKeys, keyid_of, load_public_key, parse_keys
from npmaudit.trust.registry_signature import Signature, verify_signatures
from npmaudit.trust.trusted_root import load_trusted_root, parse_trusted_root
from trust_helpers import TRUST

VECTORS = json.loads((TRUST / "signature-vectors.json").read_text())
KEYS = parse_keys({"keys": VECTORS["keys"]})
KEY_A, KEY_B = (k["keyid"] for k in VECTORS["keys"])
ROOT = load_trusted_root(TRUST / "trusted_root.json")
SIGSTORE_0_4_0 = (
    "sigstore",
    "0.4.0",
    "sha512-KCwMX6k20mQyFkNYG2XT3lwK9u1P36wS9YURFd85zCXPrwrSLZCEh7/vMBFNYcJXRiBtGDS+T4/RZZF493zABA==",
)
PLAYWRIGHT = (
    "@playwright/cli",
    "0.1.1",
    "sha512-9k11ZfDwAfMVDDIuEVW1Wvs8SoDNXIY1dNQ+9C9/SS8ZmElkcxesu5eoL7vNa96ntibUGaq1TM2qQoqvdl/I9g==",
)


def _check(vector: dict, *, keys=KEYS, published: str | None = None, **changes: str) -> Signature:
    v = {**vector, **changes}
    signatures = [{"keyid": v["keyid"], "sig": v["sig"]}]
    return verify_signatures(v["name"], v["version"], v["integrity"], signatures, keys, published).outcome


def _flip(text: str, at: int) -> str:
    replacement = "A" if text[at] != "A" else "B"
    return text[:at] + replacement + text[at + 1 :]


def test_keyids_are_the_ssh_fingerprints_of_the_keys() -> None:
    for entry in [*VECTORS["keys"], VECTORS["pacote_key"]]:
        assert keyid_of(load_public_key(entry["key"])) == entry["keyid"]


def test_a_keyid_paired_with_another_key_is_refused() -> None:
    swapped = [{**VECTORS["keys"][0], "key": VECTORS["keys"][1]["key"]}]
    with pytest.raises(MalformedKeys, match="not the fingerprint"):
        parse_keys({"keys": swapped})


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=[v["id"] for v in VECTORS["vectors"]])
def test_real_vector_verifies_and_every_mutation_is_invalid(vector: dict) -> None:
    assert _check(vector) is Signature.VERIFIED
    assert _check(vector, name=_flip(vector["name"], len(vector["name"]) - 1)) is Signature.INVALID
    assert _check(vector, version=vector["version"] + "1") is Signature.INVALID
    assert _check(vector, integrity=_flip(vector["integrity"], 20)) is Signature.INVALID
    assert _check(vector, sig=_flip(vector["sig"], 40)) is Signature.INVALID
    other = KEY_B if vector["keyid"] == KEY_A else KEY_A
    assert _check(vector, keyid=other) is Signature.INVALID  # the right message under the wrong key
    assert _check(vector, keyid="SHA256:unknown") is Signature.UNKNOWN_KEY
    assert (
        verify_signatures(vector["name"], vector["version"], vector["integrity"], [], KEYS, None).outcome
        is Signature.MISSING
    )
    assert _check(vector, keys=None) is Signature.NO_KEYS


@pytest.mark.parametrize("vector", VECTORS["negatives"], ids=[v["id"] for v in VECTORS["negatives"]])
def test_undecodable_signatures_are_invalid_not_errors(vector: dict) -> None:
    assert _check(vector) is Signature.INVALID


def test_key_expiry_is_judged_at_publish_time() -> None:
    s8 = next(v for v in VECTORS["vectors"] if v["id"] == "S8")
    expired_2010 = (replace(next(k for k in KEYS if k.keyid == KEY_A), expires="2010-01-01T00:00:00.000Z"),)
    assert _check(s8, keys=expired_2010) is Signature.EXPIRED_KEY
    rotated = (replace(expired_2010[0], expires="2020-06-28T18:46:27.981Z"),)
    assert _check(s8, keys=rotated, published="2019-06-28T18:46:27.981Z") is Signature.VERIFIED
    # key A really expired on 2025-01-29: a version published after it with that key is refused
    assert _check(s8, published="2025-02-01T00:00:00.000Z") is Signature.EXPIRED_KEY
    assert _check(s8, published="2025-01-28T23:59:59.000Z") is Signature.VERIFIED
    assert _check(s8, published=None) is Signature.VERIFIED  # npm's 2015-01-01 cutoff


# --- attestations ------------------------------------------------------------------------------------


def _reply(name: str) -> dict:
    return json.loads((TRUST / "attestations" / name).read_text())


CASES = [("sigstore-0.4.0.json", SIGSTORE_0_4_0), ("playwright-cli-0.1.1.json", PLAYWRIGHT)]


@pytest.mark.parametrize("reply,package", CASES, ids=["sigstore-0.4.0", "playwright-cli-0.1.1"])
def test_real_bundles_verify_offline_with_the_pinned_root(reply: str, package: tuple[str, str, str]) -> None:
    result = verify_attestations(_reply(reply), *package, KEYS, ROOT)
    assert [b.outcome for b in result.bundles] == [Attestation.VERIFIED, Attestation.VERIFIED]
    assert result.outcome is Attestation.VERIFIED and result.provenance
    unanchored = verify_attestations(_reply(reply), *package, KEYS, None)
    assert unanchored.outcome is Attestation.UNANCHORED


def _bundle(reply: dict, predicate: str) -> dict:
    return next(a["bundle"] for a in reply["attestations"] if a["predicateType"].startswith(predicate))


def _with_payload(bundle: dict, change) -> None:
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    change(statement)
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()


MUTATIONS = {
    "subject-name": (
        lambda r: _with_payload(
            _bundle(r, "https://github.com/npm"), lambda s: s["subject"][0].update(name="pkg:npm/sigstore@1.4.0")
        ),
        Attestation.SUBJECT_MISMATCH,
    ),
    "subject-digest": (
        lambda r: _with_payload(
            _bundle(r, "https://github.com/npm"), lambda s: s["subject"][0]["digest"].update(sha512="123c" + "0" * 124)
        ),
        Attestation.SUBJECT_MISMATCH,
    ),
    "payload-changed": (
        lambda r: _with_payload(
            _bundle(r, "https://slsa.dev"), lambda s: s.update(predicateType="https://slsa.dev/provenance/v9")
        ),
        Attestation.INVALID,
    ),
    "dsse-signature": (
        lambda r: _bundle(r, "https://github.com/npm")["dsseEnvelope"]["signatures"][0].update(
            sig=_flip(_bundle(r, "https://github.com/npm")["dsseEnvelope"]["signatures"][0]["sig"], 30)
        ),
        Attestation.INVALID,
    ),
    "unknown-keyid": (
        lambda r: _bundle(r, "https://github.com/npm")["dsseEnvelope"]["signatures"][0].update(
            keyid="JXkT/aBM9baLZ7dpjJLQhJrj3Ru5s/OSXoZzZsPUyhg"
        ),
        Attestation.UNKNOWN_KEY,
    ),
    "entry-timestamp": (
        lambda r: _bundle(r, "https://slsa.dev")["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"].update(
            signedEntryTimestamp=_flip(
                _bundle(r, "https://slsa.dev")["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"][
                    "signedEntryTimestamp"
                ],
                30,
            )
        ),
        Attestation.INVALID,
    ),
    "log-time": (
        lambda r: _bundle(r, "https://slsa.dev")["verificationMaterial"]["tlogEntries"][0].update(
            integratedTime="1600000000"
        ),
        Attestation.INVALID,
    ),
}


@pytest.mark.parametrize("reply,package", CASES, ids=["sigstore-0.4.0", "playwright-cli-0.1.1"])
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_every_bundle_mutation_is_an_outcome(reply: str, package: tuple, mutation: str) -> None:
    document = copy.deepcopy(_reply(reply))
    change, expected = MUTATIONS[mutation]
    change(document)
    assert verify_attestations(document, *package, KEYS, ROOT).outcome is expected


def test_expired_registry_key_at_log_time() -> None:
    expired = tuple(replace(k, expires="2020-01-01T00:00:00.000Z") for k in KEYS)
    assert (
        verify_attestations(_reply("sigstore-0.4.0.json"), *SIGSTORE_0_4_0, expired, ROOT).outcome
        is Attestation.EXPIRED_KEY
    )


def test_a_tampered_inclusion_proof_is_invalid() -> None:
    document = copy.deepcopy(_reply("playwright-cli-0.1.1.json"))
    proof = _bundle(document, "https://github.com/npm")["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["hashes"][3] = proof["hashes"][4]
    result = verify_attestations(document, *PLAYWRIGHT, KEYS, ROOT)
    assert result.outcome is Attestation.INVALID and "inclusion proof" in result.detail


def test_a_certificate_outside_the_trusted_root_is_invalid() -> None:
    document = json.loads((TRUST / "trusted_root.json").read_text())
    document["certificateAuthorities"] = []
    bare = parse_trusted_root(document, "no CAs")
    result = verify_attestations(_reply("sigstore-0.4.0.json"), *SIGSTORE_0_4_0, KEYS, bare)
    assert result.outcome is Attestation.INVALID and "Fulcio" in result.detail


def test_another_packages_integrity_is_a_subject_mismatch() -> None:
    result = verify_attestations(_reply("sigstore-0.4.0.json"), "sigstore", "0.4.0", PLAYWRIGHT[2], KEYS, ROOT)
    assert result.outcome is Attestation.SUBJECT_MISMATCH


def test_sigstore_python_verifies_the_modern_provenance_bundle() -> None:
    """sigstore-python (the npmaudit[sigstore] extra, installed with the test extra) verifies the 2026 v0.3
    provenance bundle offline with the pinned root and refuses a changed payload. It cannot read the
    v0.1 bundles of 2023 (no inclusion proof) nor key-signed bundles: those rely on this module."""
    pytest.importorskip("sigstore")
    check = sigstore_check((TRUST / "trusted_root.json").read_text())
    assert check is not None
    provenance = _bundle(_reply("playwright-cli-0.1.1.json"), "https://slsa.dev")
    check(provenance)
    changed = copy.deepcopy(provenance)
    _with_payload(changed, lambda s: s["subject"][0].update(name="pkg:npm/evil@0.1.1"))
    with pytest.raises(Exception, match="signature"):
        check(changed)
    old = _bundle(_reply("sigstore-0.4.0.json"), "https://slsa.dev")
    from sigstore.models import InvalidBundle

    with pytest.raises(InvalidBundle, match="inclusionProof"):
        check(old)
    # with the extra in place, the full pipeline still verifies both replies
    for reply, package in CASES:
        assert verify_attestations(_reply(reply), *package, KEYS, ROOT, check).outcome is Attestation.VERIFIED
