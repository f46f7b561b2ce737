"""Nothing read and left unchecked (issue 9, item 3), end to end through `npmaudit audit` / `db import`.

* A package whose lockfile version is not semver ("1.0", "latest", "1.0.0.0") matches no advisory:
  in every lockfile format the run ends with exit 2 and one line naming the lockfile, the location
  and name@version; ``--allow-unchecked`` lists it as not checked (with the reason) and goes on.
* An OSV record whose events, range type or ``vulnerable_versions`` cannot be read is an error
  naming the record: exit 2 from a file (`db import`, `--db`), exit 3 from a real OSV API or
  registry server on 127.0.0.1; an OSV hit whose record does not name the package is exit 3.
* An ``affected`` entry with neither ranges nor versions covers every version, in text and JSON.
* Tarballs are matched by name and version (as npm 11 does, recorded in
  fixtures/vendored_tarball) and reported with their source.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import isolate_environment, load_jsonl
from npmaudit.advisories.mirror import update_from_mirror
from npmaudit.advisories.npm_bulk import bulk_payload
from npmaudit.advisories.store import AdvisoryStore
from npmaudit.cli import main
from npmaudit.errors import SourceError
from npmaudit.project.loader import load_project
from servers import OsvServer, RegistryServer
from test_mirror import mirror  # noqa: F401  (the fixture: an OSV mirror served on 127.0.0.1)

FIXTURES = Path(__file__).parent / "fixtures"
VENDORED = FIXTURES / "vendored_tarball"
REGISTRY = "https://registry.npmjs.test"
INTEGRITY = "sha512-Zm9vYmFy"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path)


def _record(record_id: str, affected: list[dict], **extra: object) -> dict:
    return {
        "id": record_id,
        "modified": "2024-05-01T00:00:00Z",
        "summary": f"{record_id} summary",
        "affected": affected,
        **extra,
    }


def _every_version_of(name: str, record_id: str) -> dict:
    return _record(
        record_id,
        [
            {
                "package": {"ecosystem": "npm", "name": name},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
            }
        ],
    )


def _database(tmp_path: Path, records: list[dict]) -> Path:
    path = tmp_path / "advisories.json"
    path.write_text(json.dumps(records))
    return path


# -- a project holding good@1.0.0 and bad@<version>, in every format ----------------------------------


def _manifest(directory: Path) -> None:
    (directory / "package.json").write_text(
        json.dumps({"name": "root", "version": "1.0.0", "dependencies": {"good": "^1.0.0", "bad": "*"}})
    )


def _npm(lockfile_version: int, name: str = "package-lock.json") -> Callable[[Path, str], None]:
    def write(directory: Path, version: str) -> None:
        entries = {
            "good": {"version": "1.0.0", "resolved": f"{REGISTRY}/good/-/good-1.0.0.tgz", "integrity": INTEGRITY},
            "bad": {"version": version, "resolved": f"{REGISTRY}/bad/-/bad-{version}.tgz", "integrity": INTEGRITY},
        }
        document: dict = {"name": "root", "version": "1.0.0", "lockfileVersion": lockfile_version, "requires": True}
        if lockfile_version >= 2:
            root = {"name": "root", "version": "1.0.0", "dependencies": {"good": "^1.0.0", "bad": "*"}}
            document["packages"] = {"": root, **{f"node_modules/{k}": v for k, v in entries.items()}}
        if lockfile_version <= 2:
            document["dependencies"] = entries
        (directory / name).write_text(json.dumps(document, indent=2))

    return write


def _yarn_v1(directory: Path, version: str) -> None:
    (directory / "yarn.lock").write_text(
        "# yarn lockfile v1\n\n\n"
        f'bad@*:\n  version "{version}"\n  resolved "{REGISTRY}/bad/-/bad-{version}.tgz#0a1b"\n'
        f"  integrity {INTEGRITY}\n\n"
        f'good@^1.0.0:\n  version "1.0.0"\n  resolved "{REGISTRY}/good/-/good-1.0.0.tgz#0a1b"\n'
        f"  integrity {INTEGRITY}\n"
    )


def _yarn_berry(directory: Path, version: str) -> None:
    (directory / "yarn.lock").write_text(
        "__metadata:\n  version: 8\n  cacheKey: 10c0\n\n"
        f'"bad@npm:*":\n  version: {version}\n  resolution: "bad@npm:{version}"\n  checksum: 10c0/ab\n'
        "  languageName: node\n  linkType: hard\n\n"
        '"good@npm:^1.0.0":\n  version: 1.0.0\n  resolution: "good@npm:1.0.0"\n  checksum: 10c0/ab\n'
        "  languageName: node\n  linkType: hard\n\n"
        '"root@workspace:.":\n  version: 0.0.0-use.local\n  resolution: "root@workspace:."\n'
        '  dependencies:\n    bad: "npm:*"\n    good: "npm:^1.0.0"\n  languageName: unknown\n  linkType: soft\n'
    )


def _pnpm_v5(directory: Path, version: str) -> None:
    (directory / "pnpm-lock.yaml").write_text(
        "lockfileVersion: 5.4\n\nspecifiers:\n  bad: '*'\n  good: ^1.0.0\n\n"
        f"dependencies:\n  bad: '{version}'\n  good: 1.0.0\n\npackages:\n\n"
        f"  /bad/{version}:\n    resolution: {{integrity: {INTEGRITY}}}\n    dev: false\n\n"
        f"  /good/1.0.0:\n    resolution: {{integrity: {INTEGRITY}}}\n    dev: false\n"
    )


def _pnpm_v6(directory: Path, version: str) -> None:
    (directory / "pnpm-lock.yaml").write_text(
        "lockfileVersion: '6.0'\n\ndependencies:\n"
        f"  bad:\n    specifier: '*'\n    version: '{version}'\n"
        "  good:\n    specifier: ^1.0.0\n    version: 1.0.0\n\npackages:\n\n"
        f"  /bad@{version}:\n    resolution: {{integrity: {INTEGRITY}}}\n    dev: false\n\n"
        f"  /good@1.0.0:\n    resolution: {{integrity: {INTEGRITY}}}\n    dev: false\n"
    )


def _pnpm_v9(directory: Path, version: str) -> None:
    (directory / "pnpm-lock.yaml").write_text(
        "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n"
        f"      bad:\n        specifier: '*'\n        version: '{version}'\n"
        "      good:\n        specifier: ^1.0.0\n        version: 1.0.0\n\npackages:\n\n"
        f"  bad@{version}:\n    resolution: {{integrity: {INTEGRITY}}}\n\n"
        f"  good@1.0.0:\n    resolution: {{integrity: {INTEGRITY}}}\n\n"
        f"snapshots:\n\n  bad@{version}: {{}}\n\n  good@1.0.0: {{}}\n"
    )


def _bun(directory: Path, version: str) -> None:
    workspace = {"name": "root", "dependencies": {"good": "^1.0.0", "bad": "*"}}
    packages = {"bad": [f"bad@{version}", "", {}, INTEGRITY], "good": ["good@1.0.0", "", {}, INTEGRITY]}
    (directory / "bun.lock").write_text(
        json.dumps({"lockfileVersion": 1, "workspaces": {"": workspace}, "packages": packages})
    )


def _npmex(directory: Path, version: str) -> None:
    def entry(name: str, entry_version: str) -> dict:
        return {
            "version": entry_version,
            "integrity": INTEGRITY,
            "dependencies": {},
            "optional_dependencies": {},
            "has_install_script": False,
            "tarball": f"{REGISTRY}/{name}/-/{name}-{entry_version}.tgz",
        }

    packages = {"bad": entry("bad", version), "good": entry("good", "1.0.0")}
    (directory / "npm.lock").write_text(json.dumps({"lockfileVersion": 1, "packages": packages}))


def _node_modules(directory: Path, version: str) -> None:
    for name, package_version in (("good", "1.0.0"), ("bad", version)):
        folder = directory / "node_modules" / name
        folder.mkdir(parents=True)
        (folder / "package.json").write_text(json.dumps({"name": name, "version": package_version}))


FORMATS: dict[str, tuple[Callable[[Path, str], None], str]] = {
    "npm-v1": (_npm(1), "package-lock.json"),
    "npm-v2": (_npm(2), "package-lock.json"),
    "npm-v3": (_npm(3), "package-lock.json"),
    "npm-shrinkwrap": (_npm(3, "npm-shrinkwrap.json"), "npm-shrinkwrap.json"),
    "yarn-v1": (_yarn_v1, "yarn.lock"),
    "yarn-berry": (_yarn_berry, "yarn.lock"),
    "pnpm-v5": (_pnpm_v5, "pnpm-lock.yaml"),
    "pnpm-v6": (_pnpm_v6, "pnpm-lock.yaml"),
    "pnpm-v9": (_pnpm_v9, "pnpm-lock.yaml"),
    "bun": (_bun, "bun.lock"),
    "npm_ex": (_npmex, "npm.lock"),
    "node_modules": (_node_modules, "node_modules"),
}
UNPARSEABLE = ("1.0", "latest", "1.0.0.0")


def _project(tmp_path: Path, fmt: str, version: str) -> tuple[Path, Path]:
    directory = tmp_path / "project"
    directory.mkdir()
    _manifest(directory)
    write, lockfile = FORMATS[fmt]
    write(directory, version)
    return directory, directory / lockfile


def _audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["audit", *args])
    captured = capsys.readouterr()
    # The databases here are dated in the past on purpose: their age warning is not what these tests check.
    err = "".join(line for line in captured.err.splitlines(keepends=True) if "the advisory database is" not in line)
    return code, captured.out, err


@pytest.mark.parametrize("version", UNPARSEABLE)
@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unparseable_version_fails_the_run_naming_the_entry(capsys, tmp_path: Path, fmt: str, version: str):
    directory, lockfile = _project(tmp_path, fmt, version)
    database = _database(tmp_path, [_every_version_of("good", "GHSA-good-good-good")])
    code, out, err = _audit(capsys, str(directory), "--compromised", "--db", str(database), "--format", "json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"npmaudit: error: {lockfile}: node_modules/bad: bad@{version}: ")
    assert "not a valid semver version" in err and "--allow-unchecked" in err


@pytest.mark.parametrize("fmt", FORMATS)
def test_allow_unchecked_lists_it_as_not_checked_and_checks_the_rest(capsys, tmp_path: Path, fmt: str):
    directory, lockfile = _project(tmp_path, fmt, "latest")
    database = _database(tmp_path, [_every_version_of("good", "GHSA-good-good-good")])
    code, out, err = _audit(
        capsys, str(directory), "--compromised", "--db", str(database), "--format", "json", "--allow-unchecked"
    )
    report = json.loads(out)
    assert code == 1  # the rest of the project was still matched: good@1.0.0 is affected
    assert [(f["name"], f["version"]) for f in report["findings"]] == [("good", "1.0.0")]
    assert report["summary"]["audited"] == 1
    unchecked = [entry for entry in report["notChecked"] if entry["name"] == "bad"]
    assert unchecked == [
        {
            "name": "bad",
            "version": "latest",
            "path": "node_modules/bad",
            "source": "registry",
            "reason": "version 'latest' is not a valid semver version",
        }
    ]
    assert (
        err == f"npmaudit: warning: {lockfile}: not checked: node_modules/bad: bad@latest: version 'latest' "
        "is not a valid semver version, so no advisory can be matched against it\n"
    )
    code, out, _ = _audit(capsys, str(directory), "--compromised", "--db", str(database), "--allow-unchecked")
    assert code == 1
    assert "not checked: 1 package: 1 with a version that cannot be read" in out
    assert "  not checked: node_modules/bad: bad@latest: version 'latest' is not a valid semver version" in out


def test_an_omitted_package_is_not_an_unchecked_one(capsys, tmp_path: Path):
    """--omit leaves it out of the audit altogether: nothing was left unchecked by mistake."""
    directory, _ = _project(tmp_path, "npm-v3", "latest")
    lock = json.loads((directory / "package-lock.json").read_text())
    lock["packages"]["node_modules/bad"]["dev"] = True
    (directory / "package-lock.json").write_text(json.dumps(lock))
    database = _database(tmp_path, [_every_version_of("not-in-this-project", "GHSA-none-none-none")])
    code, out, _ = _audit(capsys, str(directory), "--compromised", "--db", str(database), "--omit", "dev")
    assert code == 0 and "omitted: 1 package" in out
    assert _audit(capsys, str(directory), "--compromised", "--db", str(database))[0] == 2


# -- malformed advisories: an error naming the record, never an "added" record that matches nothing --


def _good_entry(**fields: object) -> dict:
    return {"package": {"ecosystem": "npm", "name": "good"}, **fields}


MALFORMED = {
    "introduced-as-a-number": (
        _good_entry(ranges=[{"type": "SEMVER", "events": [{"introduced": 0}]}]),
        "event 'introduced' must be a version string, not 0",
    ),
    "misspelt-event": (
        _good_entry(ranges=[{"type": "SEMVER", "events": [{"introduce": "1.0.0"}, {"fixed": "1.2.0"}]}]),
        "unknown event 'introduce'",
    ),
    "no-events": (_good_entry(ranges=[{"type": "ECOSYSTEM", "events": []}]), "a ECOSYSTEM range has no 'events'"),
    "x-range-bound": (
        _good_entry(ranges=[{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.x"}]}]),
        "event 'fixed' has '1.x', which is not a semver version",
    ),
    "no-range-type": (
        _good_entry(ranges=[{"events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}]),
        "a range has no 'type'",
    ),
    "bad-vulnerable-versions": (
        _good_entry(database_specific={"vulnerable_versions": "all of them"}),
        "'vulnerable_versions' 'all of them' is not a node-semver range",
    ),
}


def _malformed(shape: str) -> dict:
    entry, _ = MALFORMED[shape]
    return _record(f"GHSA-bad-{shape}", [entry])


def _npm_project(tmp_path: Path) -> Path:
    directory, _ = _project(tmp_path, "npm-v3", "1.0.0")
    return directory


@pytest.mark.parametrize("shape", MALFORMED)
def test_a_malformed_record_is_an_import_error_naming_it(capsys, tmp_path: Path, shape: str):
    database = _database(tmp_path, [_every_version_of("good", "GHSA-fine-fine-fine"), _malformed(shape)])
    store = tmp_path / "store.sqlite"
    code = main(["db", "import", str(database), "--db", str(store)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"npmaudit: error: {database}: ")
    assert f"GHSA-bad-{shape}: good: {MALFORMED[shape][1]}" in err
    # The same file given as the audit's database: the same one-line error, before any matching.
    code, out, err = _audit(capsys, str(_npm_project(tmp_path)), "--compromised", "--db", str(database))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"npmaudit: error: {database}: advisory #2: GHSA-bad-{shape}: good: ")


@pytest.mark.parametrize("shape", MALFORMED)
def test_a_malformed_record_from_the_osv_api_fails_closed(capsys, tmp_path: Path, shape: str):
    records = [_every_version_of("good", "GHSA-fine-fine-fine"), _malformed(shape)]
    with OsvServer(records) as server:
        code, out, err = _audit(capsys, str(_npm_project(tmp_path)), "--osv", "--osv-url", server.url)
    assert code == 3 and out == "" and err.count("\n") == 1
    assert f"GHSA-bad-{shape}: good: {MALFORMED[shape][1]}" in err


def test_a_malformed_record_from_an_osv_mirror_fails_closed(request: pytest.FixtureRequest, tmp_path: Path):
    """`db update` is an online source too: exit 3 naming the record, and nothing is merged."""
    server, url = request.getfixturevalue("mirror")
    server.publish([_every_version_of("good", "GHSA-fine-fine-fine"), _malformed("misspelt-event")])
    with AdvisoryStore.open(tmp_path / "store.sqlite", create=True) as store:
        with pytest.raises(SourceError) as caught:
            update_from_mirror(store, url)
        assert caught.value.exit_code == 3
        assert "GHSA-bad-misspelt-event: good: unknown event 'introduce'" in str(caught.value)
        assert store.stats().records == 0


def test_a_registry_range_that_is_not_node_semver_fails_closed(capsys, tmp_path: Path):
    advisory = {
        "id": 1234,
        "url": "https://github.com/advisories/GHSA-c4w7-xm78-47vh",
        "title": "t",
        "severity": "high",
        "vulnerable_versions": "1.2.3.4",
        "cwe": [],
        "cvss": {"score": 0},
    }
    with RegistryServer({"good": [advisory]}) as registry:
        code, out, err = _audit(
            capsys, str(_npm_project(tmp_path)), "--registry-advisories", "--registry", registry.url
        )
    assert code == 3 and out == "" and err.count("\n") == 1
    assert "GHSA-c4w7-xm78-47vh: good: 'vulnerable_versions' '1.2.3.4' is not a node-semver range" in err


def test_an_osv_hit_whose_record_does_not_name_the_package_fails_closed(capsys, tmp_path: Path):
    with OsvServer([_every_version_of("other", "GHSA-othr-othr-othr")]) as server:
        server.by_name["good"] = ["GHSA-othr-othr-othr"]  # a wrong answer: the record names only "other"
        code, out, err = _audit(capsys, str(_npm_project(tmp_path)), "--osv", "--osv-url", server.url)
    assert code == 3 and out == "" and err.count("\n") == 1
    assert "GHSA-othr-othr-othr for good@1.0.0, but that record does not name the npm package good" in err


# -- an affected entry without ranges or versions covers every version ---------------------------------


@pytest.mark.parametrize(
    "entry",
    [_good_entry(), _good_entry(ranges=[], versions=[])],
    ids=["no-keys", "empty-lists"],
)
def test_an_entry_without_ranges_covers_every_version_in_text_and_json(capsys, tmp_path: Path, entry: dict):
    database = _database(tmp_path, [_record("MAL-2024-0001", [entry])])
    project = _npm_project(tmp_path)  # bad@1.0.0 and good@1.0.0
    code, out, _ = _audit(capsys, str(project), "--compromised", "--db", str(database), "--format", "json")
    assert code == 1
    assert [(f["name"], f["version"], f["id"]) for f in json.loads(out)["findings"]] == [
        ("good", "1.0.0", "MAL-2024-0001")
    ]
    code, out, _ = _audit(capsys, str(project), "--compromised", "--db", str(database))
    assert code == 1
    assert "MALICIOUS good@1.0.0" in out and "MAL-2024-0001" in out


# -- tarballs: matched by name and version, reported with their source ---------------------------------


def test_a_vendored_tarball_is_reported_as_npm_11_reports_it(capsys, tmp_path: Path):
    project = tmp_path / "vendored"
    shutil.copytree(VENDORED / "project", project)
    npm = json.loads((VENDORED / "npm-audit.json").read_text())
    advisories = load_jsonl(VENDORED / "minimist-advisories.jsonl")
    database = _database(tmp_path, advisories)
    # npm sends the tarball's name and version in its bulk request: so does the registry source.
    assert bulk_payload(load_project(project)) == {"minimist": ["1.2.0"]}
    code, out, err = _audit(capsys, str(project), "--compromised", "--db", str(database), "--format", "json")
    report = json.loads(out)
    assert code == 1 and err == ""
    npm_urls = {via["url"] for vuln in npm["vulnerabilities"].values() for via in vuln["via"]}
    ours = {(f["name"], f["version"], tuple(f["paths"]), f["url"]) for f in report["findings"]}
    assert ours == {("minimist", "1.2.0", tuple(npm["vulnerabilities"]["minimist"]["nodes"]), url) for url in npm_urls}
    for finding in report["findings"]:
        assert finding["origins"] == [
            {
                "path": "node_modules/minimist",
                "source": "local-tarball",
                "resolved": "file:vendor/minimist-1.2.0.tgz",
                "provenance": "local tarball: provenance unknown",
            }
        ]
    assert report["notChecked"] == [] and report["summary"]["audited"] == 1
    code, out, _ = _audit(capsys, str(project), "--compromised", "--db", str(database))
    assert code == 1
    assert (
        "  source of node_modules/minimist: local tarball: provenance unknown (file:vendor/minimist-1.2.0.tgz)" in out
    )


def test_a_remote_tarball_is_matched_and_a_folder_is_not(capsys, tmp_path: Path):
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "package.json").write_text(json.dumps({"name": "root", "version": "1.0.0"}))
    tarball = "https://files.example.test/downloads/good-1.0.0.tgz"
    lock = {
        "name": "root",
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "root", "version": "1.0.0", "dependencies": {"good": tarball, "bad": "file:local/bad"}},
            "node_modules/good": {"version": "1.0.0", "resolved": tarball, "integrity": INTEGRITY},
            "node_modules/bad": {"resolved": "local/bad", "link": True},
            "local/bad": {"name": "bad", "version": "1.0.0"},
        },
    }
    (directory / "package-lock.json").write_text(json.dumps(lock))
    database = _database(
        tmp_path, [_every_version_of("good", "GHSA-good-good-good"), _every_version_of("bad", "GHSA-badd-badd-badd")]
    )
    code, out, _ = _audit(capsys, str(directory), "--compromised", "--db", str(database), "--format", "json")
    report = json.loads(out)
    assert code == 1
    assert [(f["name"], f["id"]) for f in report["findings"]] == [("good", "GHSA-good-good-good")]
    assert report["findings"][0]["origins"][0]["provenance"] == "remote tarball: provenance unknown"
    # the folder (the project's own code) and its link stay unmatched, listed with their reason
    assert {(entry["path"], entry["reason"]) for entry in report["notChecked"]} == {
        ("node_modules/bad", "a link to a folder (the project's own code)"),
        ("local/bad", "a local folder (the project's own code)"),
    }
    code, out, _ = _audit(capsys, str(directory), "--compromised", "--db", str(database))
    assert f"  source of node_modules/good: remote tarball: provenance unknown ({tarball})" in out
