"""`npmaudit signatures` end to end against loopback registries: the real signature vectors and
attestation replies, npm's own output on a real lockfile, every registry-side attack as its own
outcome (tampering first), scoped registries with credentials, and a registry that is down."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from npmaudit.cli import main
from npmaudit.project.loader import load_project
from servers.trust_registry import TrustRegistry, key_entry, sign, sign_packuments
from trust_helpers import CORPUS, TRUST, clean_env, copy_project, run_json

__all__ = ["clean_env"]

VECTORS = json.loads((TRUST / "signature-vectors.json").read_text())
ROOT = str(TRUST / "trusted_root.json")
ATTESTED = {
    "sigstore@0.4.0": (
        "sigstore-0.4.0.json",
        "sha512-KCwMX6k20mQyFkNYG2XT3lwK9u1P36wS9YURFd85zCXPrwrSLZCEh7/vMBFNYcJXRiBtGDS+T4/RZZF493zABA==",
    ),
    "@playwright/cli@0.1.1": (
        "playwright-cli-0.1.1.json",
        "sha512-9k11ZfDwAfMVDDIuEVW1Wvs8SoDNXIY1dNQ+9C9/SS8ZmElkcxesu5eoL7vNa96ntibUGaq1TM2qQoqvdl/I9g==",
    ),
}


def write_lock(directory: Path, registry: str, entries: list[tuple[str, str, str, str]]) -> None:
    """A package-lock v3 of (install name, real name, version, integrity), with an .npmrc for ``registry``."""
    directory.mkdir(parents=True, exist_ok=True)
    packages: dict = {"": {"name": "signed-project", "version": "1.0.0", "dependencies": {}}}
    for install, name, version, integrity in entries:
        base = name.rsplit("/", 1)[-1]
        entry = {"version": version, "resolved": f"{registry}{name}/-/{base}-{version}.tgz", "integrity": integrity}
        if install != name:
            entry = {"name": name, **entry}
        packages[f"node_modules/{install}"] = entry
        packages[""]["dependencies"][install] = version if install == name else f"npm:{name}@{version}"
    lock = {"name": "signed-project", "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": packages}
    (directory / "package-lock.json").write_text(json.dumps(lock, indent=2))
    (directory / ".npmrc").write_text(f"registry={registry}\n")


def vector_registry(test_key: ec.EllipticCurvePrivateKey) -> TrustRegistry:
    """The 11 real vectors (real keys and signatures) and the two real attestation replies."""
    server = TrustRegistry(keys=[*VECTORS["keys"], key_entry(test_key)])
    for v in VECTORS["vectors"]:
        document = server.packuments.setdefault(v["name"], {"name": v["name"], "versions": {}})
        document["versions"][v["version"]] = {
            "dist": {"integrity": v["integrity"], "signatures": [{"keyid": v["keyid"], "sig": v["sig"]}]}
        }
    for spec, (reply, integrity) in ATTESTED.items():
        name, version = spec.rsplit("@", 1)
        signed = sign_packuments([(name, version, integrity)], test_key, "https://registry.npmjs.test/")[name]
        server.packuments.setdefault(name, {"name": name, "versions": {}})["versions"][version] = signed["versions"][
            version
        ]
        server.packuments[name]["versions"][version]["dist"]["attestations"] = {
            "url": f"https://registry.npmjs.test/-/npm/v1/attestations/{spec}",
            "provenance": {"predicateType": "https://slsa.dev/provenance/v1"},
        }
        server.attestations[spec] = json.loads((TRUST / "attestations" / reply).read_text())
    return server


def vector_entries() -> list[tuple[str, str, str, str]]:
    """Every vector and attested package once; a second version of a name is installed under an alias
    (S4, node-fetch, was really installed through one)."""
    entries: list[tuple[str, str, str, str]] = []
    specs = [(v["name"], v["version"], v["integrity"]) for v in VECTORS["vectors"]]
    specs += [(*spec.rsplit("@", 1), integrity) for spec, (_, integrity) in ATTESTED.items()]
    for name, version, integrity in specs:
        install = name
        if name == "node-fetch" or any(e[0] == name for e in entries):
            install = f"{name.rsplit('/', 1)[-1]}-{version}"
        entries.append((install, name, version, integrity))
    return entries


def test_real_vectors_and_attestations_verify_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with vector_registry(key) as server:
        project = tmp_path / "p"
        write_lock(project, server.url, vector_entries())
        assert main(["signatures", str(project), "--trusted-root", ROOT]) == 0
        text = capsys.readouterr().out
        code, report = run_json(capsys, "signatures", str(project), "--trusted-root", ROOT)
    assert text.splitlines()[0].startswith("audited 13 packages in ")
    assert "13 packages have verified registry signatures" in text
    assert "2 packages have verified attestations" in text
    assert (code, report["invalid"], report["missing"], report["passed"]) == (0, [], [], True)
    by_name = {p["name"]: p for p in report["packages"]}
    assert by_name["node-fetch"]["location"] == "node_modules/node-fetch-1.7.1"  # checked under its real name
    assert by_name["@playwright/cli"]["attestationBundles"] == [
        {
            "predicateType": "https://github.com/npm/attestation/tree/main/specs/publish/v0.1",
            "outcome": "verified",
            "detail": None,
        },
        {"predicateType": "https://slsa.dev/provenance/v1", "outcome": "verified", "detail": None},
    ]
    assert {p["signature"] for p in report["packages"]} == {"verified"}
    # the scoped attestation URL was asked of the package's own registry
    assert any(r.path.startswith("/-/npm/v1/attestations/@playwright") for r in server.requests)


def test_counts_match_npm_audit_signatures_on_a_real_lockfile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    """npm 11's output on this very setup is recorded in fixtures/trust/npm-audit-signatures/."""
    key = ec.generate_private_key(ec.SECP256R1())
    project = tmp_path / "p"
    lock = copy_project(
        project, CORPUS / "npm/mochajs__mocha/package-lock.json", CORPUS / "npm/mochajs__mocha/package.json"
    )
    entries = sorted({(n.name, n.version, n.integrity or "") for n in load_project(lock).auditable()})
    with TrustRegistry(keys=[key_entry(key)]) as server:
        server.packuments.update(sign_packuments(entries, key, server.url))
        names = sorted(server.packuments)
        next(iter(server.packuments[names[3]]["versions"].values()))["dist"]["signatures"] = []
        damaged = next(iter(server.packuments[names[5]]["versions"].values()))["dist"]["signatures"][0]
        damaged["sig"] = damaged["sig"][:-8] + "AAAAAAA="
        assert main(["signatures", str(project), "--registry", server.url, "--no-provenance"]) == 1
        ours = capsys.readouterr().out.replace(server.url, "<registry>/")
    npm = (TRUST / "npm-audit-signatures" / "mocha.txt").read_text()
    npm_json = json.loads((TRUST / "npm-audit-signatures" / "mocha.json").read_text())

    def shape(text: str) -> list[str]:  # timing and our detail after ": " aside, line for line
        return [line.split("): ")[0] + (")" if "): " in line else "") for line in text.splitlines()[1:]]

    assert ours.splitlines()[0].split(" in ")[0] == npm.splitlines()[0].split(" in ")[0] == "audited 706 packages"
    assert shape(ours.rstrip()) == shape(npm.rstrip())
    assert [i["name"] for i in npm_json["invalid"]] == [names[5]]
    assert [m["name"] for m in npm_json["missing"]] == [names[3]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_registry_side_attack_is_its_own_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    key, other, unserved = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    project = tmp_path / "p"
    lock = copy_project(
        project, CORPUS / "npm/mochajs__mocha/package-lock.json", CORPUS / "npm/mochajs__mocha/package.json"
    )
    auditable = list(load_project(lock).auditable())
    nodes = {n.name: n for n in auditable}
    entries = sorted({(n.name, n.version, n.integrity or "") for n in auditable})
    expired = key_entry(other, expires="2020-01-01T00:00:00.000Z")
    with TrustRegistry(keys=[key_entry(key), expired]) as server:
        server.packuments.update(sign_packuments(entries, key, server.url, published="2024-05-01T00:00:00.000Z"))

        def dist(name: str) -> dict:
            return server.packuments[name]["versions"][nodes[name].version]["dist"]

        # the lockfile's integrity is not what the registry published (the registry's own copy is signed)
        swapped = "sha512-" + "A" * 86 + "=="
        lock.write_text(lock.read_text().replace(nodes["ms"].integrity, swapped))
        dist("glob")["signatures"] = []
        dist("chai")["signatures"][0]["sig"] = dist("chai")["signatures"][0]["sig"][:-8] + "AAAAAAA="
        dist("yargs")["signatures"] = [
            {"keyid": expired["keyid"], "sig": sign(other, "yargs", nodes["yargs"].version, dist("yargs")["integrity"])}
        ]
        dist("debug")["signatures"] = [
            {
                "keyid": key_entry(unserved)["keyid"],
                "sig": sign(unserved, "debug", nodes["debug"].version, dist("debug")["integrity"]),
            }
        ]
        del server.packuments["minimatch"]
        # diff 9.0.0 (the root's) follows an 8.9.9 that was published with provenance
        earlier = sign_packuments([("diff", "8.9.9", "sha512-" + "E" * 86 + "==")], key, server.url)["diff"][
            "versions"
        ]["8.9.9"]
        earlier["dist"]["attestations"] = {
            "url": "https://registry.npmjs.test/-/npm/v1/attestations/diff@8.9.9",
            "provenance": {"predicateType": "https://slsa.dev/provenance/v1"},
        }
        server.packuments["diff"]["versions"]["8.9.9"] = earlier
        manifest = json.loads((project / "package.json").read_text())
        manifest["dependencies"]["diff"] = "*"
        (project / "package.json").write_text(json.dumps(manifest))

        (project / ".npmrc").write_text(f"registry={server.url}\n")
        fail_on = "invalid,missing,integrity-mismatch,expired-key,unknown-key,not-found,provenance-regression"
        assert main(["signatures", str(project), "--trusted-root", ROOT, "--fail-on", fail_on]) == 1
        text = capsys.readouterr().out
        code, report = run_json(capsys, "signatures", str(project), "--trusted-root", ROOT)
    failures = {p["name"]: p["failures"] for p in report["packages"] if p["failures"]}
    assert failures == {
        "ms": ["integrity-mismatch"],
        "glob": ["missing"],
        "chai": ["invalid"],
        "yargs": ["expired-key"],
        "debug": ["unknown-key"],
        "minimatch": ["not-found"],
        "diff": ["provenance-regression"],
    }
    assert code == 1  # by default a provenance regression is listed without failing; the others fail
    sections = [line for line in text.splitlines() if line.endswith(":") and line[0].isdigit()]
    assert sections[0] == "1 package has a lockfile integrity that differs from the registry's:"
    assert "1 package lost the provenance its predecessor had:" in sections
    assert "diff@9.0.0 (" in text and "diff@8.9.9 was published with provenance, 9.0.0 is not" in text
    codes = {i["name"]: i["code"] for i in report["invalid"]}
    assert codes == {
        "ms": "EINTEGRITYMISMATCH",
        "chai": "EINTEGRITYSIGNATURE",
        "yargs": "EEXPIREDSIGNATUREKEY",
        "debug": "EMISSINGSIGNATUREKEY",
        "minimatch": "E404",
    }
    assert [m["name"] for m in report["missing"]] == ["glob"]


def test_scoped_registry_with_credentials_and_a_registry_that_is_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    scoped = [("@corp/a", "1.0.0", "sha512-" + "B" * 86 + "=="), ("@corp/b", "2.0.0", "sha512-" + "C" * 86 + "==")]
    public = [("left-pad", "1.3.0", "sha512-" + "D" * 86 + "==")]
    with (
        TrustRegistry(keys=[key_entry(key)]) as default,
        TrustRegistry(keys=[key_entry(key)], token="s3cret") as private,
    ):
        default.packuments.update(sign_packuments(public, key, default.url))
        private.packuments.update(sign_packuments(scoped, key, private.url))
        project = tmp_path / "p"
        write_lock(project, default.url, [(n, n, v, i) for n, v, i in scoped + public])
        host = private.url.split("//", 1)[1]
        (project / ".npmrc").write_text(
            f"registry={default.url}\n@corp:registry={private.url}\n//{host}:_authToken=s3cret\n"
        )
        code, report = run_json(capsys, "signatures", str(project), "--no-provenance")
        assert (code, {p["name"]: p["signature"] for p in report["packages"]}) == (
            0,
            {"@corp/a": "verified", "@corp/b": "verified", "left-pad": "verified"},
        )
        assert all(r.headers.get("authorization") == "Bearer s3cret" for r in private.requests)
        assert not any("authorization" in r.headers for r in default.requests)
        # the private registry goes away: its packages are unchecked, the others still verified, exit 3
        (project / ".npmrc").write_text(f"registry={default.url}\n@corp:registry=http://127.0.0.1:{_free_port()}/\n")
        code, report = run_json(capsys, "signatures", str(project), "--no-provenance")
    statuses = {p["name"]: (p["status"], p["signature"]) for p in report["packages"]}
    assert code == 3
    assert statuses == {
        "@corp/a": ("unchecked", None),
        "@corp/b": ("unchecked", None),
        "left-pad": ("checked", "verified"),
    }
    assert "connection refused" in report["packages"][0]["error"]


def test_each_package_of_a_registry_that_is_down_names_its_own_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    # After the first failure the registry is not asked again; each package's line still names the
    # request it needed (not the first package's URL) and says why it was not made.
    registry = f"http://127.0.0.1:{_free_port()}/"
    names = [f"pkg-{index:02}" for index in range(40)]  # more than the workers asking at once
    write_lock(tmp_path / "p", registry, [(n, n, "1.0.0", "sha512-" + "D" * 86 + "==") for n in names])
    code, report = run_json(capsys, "signatures", str(tmp_path / "p"), "--no-provenance")
    assert code == 3
    errors = {p["name"]: p["error"] for p in report["packages"]}
    assert sorted(errors) == names
    assert all(f"GET {registry}{name}:" in error for name, error in errors.items())
    assert any("not asked: this registry gave no answer earlier" in error for error in errors.values())
    assert all("connection refused" in error for error in errors.values())


def test_a_registry_without_keys_verifies_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with TrustRegistry(keys=None) as server:
        server.packuments.update(sign_packuments([("left-pad", "1.3.0", "sha512-" + "D" * 86 + "==")], key, server.url))
        write_lock(tmp_path / "p", server.url, [("left-pad", "left-pad", "1.3.0", "sha512-" + "D" * 86 + "==")])
        assert main(["signatures", str(tmp_path / "p"), "--no-provenance"]) == 1
    captured = capsys.readouterr()
    assert "1 package come from registries that publish no signing keys" in captured.out
    assert "found no dependencies to audit that were installed from a supported registry" in captured.err


def test_packuments_are_revalidated_from_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    entries = [(f"pkg-{i}", "1.0.0", "sha512-" + chr(65 + i) * 86 + "==") for i in range(5)]
    with TrustRegistry(keys=[key_entry(key)]) as server:
        server.packuments.update(sign_packuments(entries, key, server.url))
        write_lock(tmp_path / "p", server.url, [(n, n, v, i) for n, v, i in entries])
        assert main(["signatures", str(tmp_path / "p")]) == 0
        first = len(server.requests)
        assert main(["signatures", str(tmp_path / "p")]) == 0
        again = server.requests[first:]
    assert len(again) == first  # keys + one conditional GET per packument
    assert sum(1 for r in again if r.headers.get("if-none-match")) == 5
    capsys.readouterr()
