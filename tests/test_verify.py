"""`npmaudit verify`: every attack of the lockfile-injection catalogue, crafted on real lockfiles of
every format, is caught on the right line; the untouched corpus gives only its real weaknesses;
lockfile-lint's own inputs give at least lockfile-lint's verdicts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from npmaudit.cli import main
from npmaudit.project.loader import load_project
from npmaudit.trust.verify import Registries, verify_project
from npmaudit.trust.verify_config import VerifyConfig
from trust_helpers import CORPUS, TRUST, clean_env, copy_project, corpus_cases, run_json

__all__ = ["clean_env"]

HOSTS = ("registry.npmjs.test", "registry.yarnpkg.test")

# What the untouched corpus really holds (each checked by hand): old lockfiles with sha1 integrities
# and http URLs, git dependencies, and netlify/cli's current lockfile, 892 of whose registry entries
# npm wrote with neither resolved nor integrity (installed unchecked). Nothing else may be reported:
# no false host, name, alias, drift, conflict or section finding on the corpus' real lockfiles.
CORPUS_FINDINGS = {
    "bun/elysiajs__elysia__bun.lock": {},
    "bun/honojs__hono__benchmarks__routers__bun.lock": {},
    "bun/honojs__hono__bun.lock": {},
    "npm/GoogleChromeLabs__squoosh/package-lock.json": {"LV021": 201},
    "npm/atom__atom/package-lock.json": {"LV051": 68},
    "npm/facebook__create-react-app/package-lock.json": {"LV021": 434},
    "npm/firebase__firebase-tools/npm-shrinkwrap.json": {"LV021": 108},
    "npm/honojs__hono__benchmarks__query-param/package-lock.json": {},
    "npm/mochajs__mocha/package-lock.json": {},
    "npm/netlify__cli/package-lock.json": {"LV020": 892},
    "npm/netlify__cli@d0dee3d/npm-shrinkwrap.json": {"LV021": 567, "LV011": 17},
    "npm/npm__cli/package-lock.json": {},
    "npm/react-boilerplate__react-boilerplate/package-lock.json": {"LV021": 669, "LV011": 15},
    "npm/socketio__socket.io/package-lock.json": {"LV051": 1},
    "npm/socketio__socket.io__packages__engine.io__examples__latency/package-lock.json": {"LV021": 125},
    "npm/socketio__socket.io__packages__engine.io__examples__memory-usage/package-lock.json": {},
    "npm/windicss__windicss-intellisense/package-lock.json": {"LV021": 52},
    "npmex/engineio-latency/npm.lock": {"LV021": 95},
    "npmex/hono-query-param/npm.lock": {},
    "pnpm-v5/vitejs__vite@43a58dd__pnpm-lock.yaml": {"LV021": 147},
    "pnpm-v5/windicss__windicss__pnpm-lock.yaml": {"LV021": 42},
    "pnpm-v6/vitejs__vite@ea1bcc9__pnpm-lock.yaml": {"LV021": 49},
    "pnpm-v6/vuejs__vue__pnpm-lock.yaml": {},
    "pnpm-v9/typescript-eslint__typescript-eslint__pnpm-lock.yaml": {},
    "pnpm-v9/vuejs__core__pnpm-lock.yaml": {},
    "yarn-berry/babel__babel/yarn.lock.gz": {},
    "yarn-berry/jestjs__jest@30a69fb/yarn.lock.gz": {},
    "yarn-berry/jupyterlab__jupyterlab/yarn.lock.gz": {},
    "yarn-berry/prettier__prettier/yarn.lock.gz": {},
    "yarn-berry/prettier__prettier__scripts__release/yarn.lock": {},
    "yarn-v1/facebook__metro/yarn.lock.gz": {"LV021": 47},
    "yarn-v1/honojs__hono__benchmarks__jsx/yarn.lock": {},
    "yarn-v1/webpack__webpack/yarn.lock.gz": {"LV051": 1},
    "yarn-v1/yarnpkg__yarn/yarn.lock.gz": {"LV021": 680, "LV011": 1},
}


@pytest.mark.slow
@pytest.mark.parametrize("lockfile,manifest", corpus_cases(), ids=lambda p: str(p)[len(str(CORPUS)) + 1 :] if p else "")
def test_untouched_corpus_reports_only_its_real_weaknesses(
    tmp_path: Path, lockfile: Path, manifest: Path | None
) -> None:
    copied = copy_project(tmp_path / "p", lockfile, manifest)
    project = load_project(copied)
    report = verify_project(project, VerifyConfig(allowed_hosts=HOSTS), Registries("https://registry.npmjs.test/"))
    found = dict(Counter(f.check for f in report.findings))
    assert found == CORPUS_FINDINGS[str(lockfile.relative_to(CORPUS))]
    assert report.entries > 0
    # every finding names a line of the lockfile, and that line holds the entry's name
    text = copied.read_text().splitlines()
    for finding in report.findings:
        assert finding.line is not None, finding
        assert project.lockfile_format.startswith("package-lock-v1") or any(
            part in text[finding.line - 1] for part in _name_parts(finding.entry)
        ), (finding, text[finding.line - 1])


def _name_parts(entry: str) -> list[str]:
    name = entry.rsplit("node_modules/", 1)[-1]
    name = name.rsplit("@", 1)[0] if not name.startswith("@") or name.count("@") > 1 else name
    return [name.split("/")[-1], "resolved", "integrity", "tarball", "version"]


def test_every_corpus_lockfile_is_covered() -> None:
    assert sorted(str(p.relative_to(CORPUS)) for p, _ in corpus_cases()) == sorted(CORPUS_FINDINGS)


# --- attacks --------------------------------------------------------------------------------------

MOCHA = ("npm/mochajs__mocha/package-lock.json", "npm/mochajs__mocha/package.json")
MS_URL = "https://registry.npmjs.test/ms/-/ms-2.1.3.tgz"
MS_SRI = "sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA=="
SHA1 = "sha1-nNE8A62/8ltl7/3nzoZO6VIBcJg="
HONO_JSX = ("yarn-v1/honojs__hono__benchmarks__jsx/yarn.lock", "yarn-v1/honojs__hono__benchmarks__jsx/package.json")
ESBUILD_URL = "https://registry.yarnpkg.test/@esbuild/android-arm64/-/android-arm64-0.19.8.tgz"
ESBUILD_SRI = "sha512-B8JbS61bEunhfx8kasogFENgQfr/dIp+ggYXwTqdbMAgGDhRa3AaPpQMuQU0rNxDLECj6FhDzk1cF9WHMVwrtA=="
PNPM9 = ("pnpm-v9/vuejs__core__pnpm-lock.yaml", None)
BUN = ("bun/honojs__hono__benchmarks__routers__bun.lock", "bun/honojs__hono__benchmarks__routers__package.json")
BUN_MS = '"ms": ["ms@2.0.0", "", {}, '
NPMEX = ("npmex/hono-query-param/npm.lock", "npmex/hono-query-param/package.json")
NPMEX_URL = "https://registry.npmjs.test/@esbuild-kit/cjs-loader/-/cjs-loader-2.4.2.tgz"
BERRY = ("yarn-berry/prettier__prettier__scripts__release/yarn.lock", None)
BERRY_CHECKSUM = (
    "  checksum: 10/6ab2a9b8a1d67b067922c36f259e3b3dfd6b97b219c540877a4944549a4d49ea5ceba5663905ab52"
    "89682f1f3c15ff441d02f0447f620a42e1cb5e1937174d4b\n"
)
V1 = ("npm/socketio__socket.io__packages__engine.io__examples__latency/package-lock.json", None)
V2 = ("npm/windicss__windicss-intellisense/package-lock.json", "npm/windicss__windicss-intellisense/package.json")

# (id, project, old text, new text, occurrence, check, text on the reported line)
ATTACKS = [
    ("npm3-host", MOCHA, MS_URL, "https://evil.example.test/ms/-/ms-2.1.3.tgz", 1, "LV012", "evil.example.test"),
    (
        "npm3-other-package",
        MOCHA,
        MS_URL,
        "https://registry.npmjs.test/evil-ms/-/evil-ms-2.1.3.tgz",
        1,
        "LV014",
        "evil-ms",
    ),
    ("npm3-other-version", MOCHA, MS_URL, "https://registry.npmjs.test/ms/-/ms-2.1.2.tgz", 1, "LV014", "ms-2.1.2.tgz"),
    ("npm3-sha1", MOCHA, MS_SRI, SHA1, 1, "LV021", SHA1),
    ("npm3-integrity-deleted", MOCHA, f',\n      "integrity": "{MS_SRI}"', "", 1, "LV020", MS_URL),
    ("npm3-integrity-malformed", MOCHA, MS_SRI, "sha512-not*base64", 1, "LV022", "not*base64"),
    (
        "npm3-integrity-swapped",
        MOCHA,
        MS_SRI,
        "sha512-RGwwWnwQvkVfavKVt22FGLw+xYSdzARwm0ru6DhTVA3umU5hZc28V3kO4stgYryrTlLpuvgI9GiijltAjNbcqA==",
        1,
        "LV023",
        "integrity",
    ),
    (
        "npm3-alias",
        MOCHA,
        '"node_modules/ms": {\n',
        '"node_modules/ms": {\n      "name": "evil-ms",\n',
        1,
        "LV015",
        '"node_modules/ms"',
    ),
    (
        "npm3-git",
        MOCHA,
        MS_URL,
        "git+ssh://git@git.example.test/evil/ms.git#0123456789abcdef0123456789abcdef01234567",
        1,
        "LV051",
        "git+ssh",
    ),
    ("npm3-http", MOCHA, MS_URL, "http://registry.npmjs.test/ms/-/ms-2.1.3.tgz", 1, "LV011", "http://"),
    ("npm3-remote-tarball", MOCHA, MS_URL, "https://cdn.example.test/ms.tgz", 1, "LV052", "cdn.example.test"),
    ("npm3-file-outside", MOCHA, MS_URL, "file:../../elsewhere/ms-2.1.3.tgz", 1, "LV017", "elsewhere"),
    (
        "npm2-sections",
        V2,
        "https://registry.npmjs.test/ms/-/ms-2.1.2.tgz",
        "https://registry.npmjs.test/ms/-/ms-2.1.1.tgz",
        2,
        "LV002",
        '"node_modules/ms"',
    ),
    (
        "npm1-host",
        V1,
        "https://registry.npmjs.test/ms/-/ms-0.7.1.tgz",
        "https://evil.example.test/ms/-/ms-0.7.1.tgz",
        1,
        "LV012",
        "evil.example.test",
    ),
    (
        "yarn1-host",
        HONO_JSX,
        ESBUILD_URL,
        ESBUILD_URL.replace("registry.yarnpkg.test", "evil.example.test"),
        1,
        "LV012",
        "evil.example.test",
    ),
    (
        "yarn1-other-package",
        HONO_JSX,
        ESBUILD_URL,
        "https://registry.yarnpkg.test/evil/-/evil-0.19.8.tgz",
        1,
        "LV014",
        "evil-0.19.8",
    ),
    ("yarn1-sha1", HONO_JSX, ESBUILD_SRI, SHA1, 1, "LV021", SHA1),
    # yarn v1 falls back to the sha1 in the URL's fragment: deleting the integrity downgrades it
    (
        "yarn1-integrity-deleted",
        HONO_JSX,
        f"\n  integrity {ESBUILD_SRI}",
        "",
        1,
        "LV021",
        '"@esbuild/android-arm64@0.19.8":',
    ),
    (
        "pnpm9-sha1",
        PNPM9,
        "  ms@2.1.3:\n    resolution: {integrity: sha512-",
        "  ms@2.1.3:\n    resolution: {integrity: sha1-nNE8A62/8ltl7/3nzoZO6VIBcJg=, x: sha512-",
        1,
        "LV021",
        "sha1-",
    ),
    (
        "pnpm9-remote-tarball",
        PNPM9,
        "  ms@2.1.3:\n    resolution: {integrity:",
        "  ms@2.1.3:\n    resolution: {tarball: https://cdn.example.test/ms.tgz, integrity:",
        1,
        "LV012",
        "cdn.example.test",
    ),
    ("berry-checksum-deleted", BERRY, BERRY_CHECKSUM, "", 1, "LV020", "version: 2.1.5"),
    ("bun-host", BUN, BUN_MS, '"ms": ["ms@2.0.0", "https://evil.example.test/", {}, ', 1, "LV012", "evil.example.test"),
    (
        "bun-sha1",
        BUN,
        BUN_MS + '"sha512-Tpp60P6IUJDTuOq/5Z8cdskzJujfwqfOTkrwIwj7IRISpnkJnT6SyJ4PCPnGMoFjC9ddhal5KVIYtAt97ix05A=="',
        BUN_MS + f'"{SHA1}"',
        1,
        "LV021",
        SHA1,
    ),
    (
        "npmex-host",
        NPMEX,
        NPMEX_URL,
        NPMEX_URL.replace("registry.npmjs.test", "evil.example.test"),
        1,
        "LV012",
        "evil.example.test",
    ),
    # npm_ex takes the real name from the URL: the entry becomes an alias nobody asked for
    (
        "npmex-other-package",
        NPMEX,
        NPMEX_URL,
        "https://registry.npmjs.test/evil/-/evil-2.4.2.tgz",
        1,
        "LV015",
        '"@esbuild-kit/cjs-loader": {',
    ),
]


def _mutate(text: str, old: str, new: str, occurrence: int) -> str:
    at = -1
    for _ in range(occurrence):
        at = text.index(old, at + 1)
    return text[:at] + new + text[at + len(old) :]


@pytest.mark.parametrize("case", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_is_caught_on_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None, case: tuple
) -> None:
    _, (lockfile, manifest), old, new, occurrence, check, on_line = case
    target = copy_project(tmp_path / "p", CORPUS / lockfile, CORPUS / manifest if manifest else None)
    (tmp_path / "p" / ".npmaudit.toml").write_text(f"[verify]\nallowed-hosts = {json.dumps(list(HOSTS))}\n")
    before_code, before = run_json(capsys, "verify", str(tmp_path / "p"))
    target.write_text(_mutate(target.read_text(), old, new, occurrence))
    code, report = run_json(capsys, "verify", str(tmp_path / "p"))
    assert code == 1
    new_findings = [f for f in report["findings"] if f not in before["findings"]]
    assert check in {f["check"] for f in new_findings}, new_findings
    lines = target.read_text().splitlines()
    hit = [f for f in new_findings if f["check"] == check]
    assert any(on_line in lines[f["line"] - 1] for f in hit), [(f, lines[f["line"] - 1]) for f in hit]
    assert before_code in (0, 1)


def test_issue_example_unknown_host_without_integrity_is_two_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    """The issue's "new user" case: resolved to an unknown host, integrity removed. Audited silently
    before; now two errors naming the entry's lines."""
    target = copy_project(tmp_path / "p", CORPUS / MOCHA[0], CORPUS / MOCHA[1])
    text = _mutate(target.read_text(), f',\n      "integrity": "{MS_SRI}"', "", 1)
    target.write_text(text.replace(MS_URL, "https://npm.unknown.test/ms/-/ms-2.1.3.tgz"))
    assert main(["verify", str(tmp_path / "p")]) == 1
    out = capsys.readouterr().out.splitlines()
    mine = [line for line in out if "node_modules/ms:" in line]
    assert len(mine) == 2
    assert "LV012" in mine[0] and "npm.unknown.test" in mine[0] and "allowed registry (registry.npmjs.test)" in mine[0]
    assert "LV020" in mine[1]
    assert out[-1].startswith("verify FAILED:")


def test_scope_registered_elsewhere_is_dependency_confusion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    target = copy_project(tmp_path / "p", CORPUS / MOCHA[0], CORPUS / MOCHA[1])
    scoped = next(line.strip() for line in target.read_text().splitlines() if '"node_modules/@' in line)
    scope = scoped.strip('"').split("/")[1]
    (tmp_path / "p" / ".npmrc").write_text(
        f"registry=https://registry.npmjs.test/\n{scope}:registry=https://npm.corp.test/private/\n"
    )
    code, report = run_json(capsys, "verify", str(tmp_path / "p"))
    assert code == 1
    confusion = [f for f in report["findings"] if f["check"] == "LV016"]
    assert confusion and all(f["entry"].startswith(f"node_modules/{scope}/") for f in confusion)
    assert "npm.corp.test" in report["allowedHosts"] and "registry.npmjs.test" in report["allowedHosts"]


def test_package_json_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None) -> None:
    target = copy_project(tmp_path / "p", CORPUS / MOCHA[0], CORPUS / MOCHA[1])
    manifest = json.loads((tmp_path / "p" / "package.json").read_text())
    name, _spec = next(iter(manifest["dependencies"].items()))
    manifest["dependencies"][name] = ">=999.0.0"
    manifest["dependencies"]["never-locked"] = "^1.0.0"
    (tmp_path / "p" / "package.json").write_text(json.dumps(manifest))
    code, report = run_json(capsys, "verify", str(tmp_path / "p"))
    drift = {f["entry"]: f["message"] for f in report["findings"] if f["check"] == "LV003"}
    assert code == 1
    assert "does not satisfy it" in drift[f"{name}@>=999.0.0"]
    assert "missing from the lockfile" in drift["never-locked@^1.0.0"]
    assert target.exists()


def test_installed_tree_must_match_the_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    project = tmp_path / "p"
    copy_project(project, TRUST / "lockfile-lint" / "package-lock-sha1.json", name="package-lock.json")
    installed = project / "node_modules" / "typescript"
    installed.mkdir(parents=True)
    (installed / "package.json").write_text('{"name": "typescript", "version": "4.8.3"}')
    (project / ".npmaudit.toml").write_text('[verify.severity]\nintegrity-weak = "warn"\n')
    code, report = run_json(capsys, "verify", str(project))
    assert (code, report["nodeModules"], report["passed"]) == (0, "compared", True)
    assert [f["check"] for f in report["findings"]] == ["LV021"] and report["findings"][0]["severity"] == "warn"
    (installed / "package.json").write_text('{"name": "typescript", "version": "9.9.9"}')
    (project / "node_modules" / "extra").mkdir()
    code, report = run_json(capsys, "verify", str(project))
    installed_findings = {f["entry"]: f["message"] for f in report["findings"] if f["check"] == "LV060"}
    assert code == 1
    assert installed_findings == {
        "node_modules/typescript": "installed version 9.9.9, the lock has 4.8.3",
        "node_modules/extra": "installed but not in the lockfile (extraneous)",
    }
    assert main(["verify", str(project), "--no-installed"]) == 0


# --- lockfile-lint's inputs ------------------------------------------------------------------------

VALIDATOR_CHECKS = {"host": {"LV012", "LV051", "LV052"}, "protocol": {"LV011", "LV051"}, "integrity": {"LV021"}}


@pytest.mark.parametrize("name", sorted(json.loads((TRUST / "lockfile-lint" / "verdicts.json").read_text())["files"]))
def test_reports_at_least_what_lockfile_lint_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None, name: str
) -> None:
    verdict = json.loads((TRUST / "lockfile-lint" / "verdicts.json").read_text())["files"][name]
    project = tmp_path / "p"
    copy_project(
        project, TRUST / "lockfile-lint" / name, name="yarn.lock" if name.endswith(".lock") else "package-lock.json"
    )
    code, report = run_json(
        capsys,
        "verify",
        str(project),
        "--allowed-host",
        "registry.npmjs.test",
        "--allowed-host",
        "registry.yarnpkg.test",
    )
    for package, validator in verdict["issues"]:
        assert any(
            f["check"] in VALIDATOR_CHECKS[validator] and f["entry"].split("node_modules/")[-1].startswith(package)
            for f in report["findings"]
        ), (package, validator, report["findings"])
    assert code >= verdict["exit"]
    # and what lockfile-lint misses: an entry with no integrity, a URL naming another package
    expected_extra = {"package-lock-missing-integrity.json": "LV020", "yarn-incorrect-package-name.lock": "LV014"}
    if name in expected_extra:
        assert code == 1 and expected_extra[name] in {f["check"] for f in report["findings"]}


# --- configuration and input errors --------------------------------------------------------------


def test_lockfile_lint_alias_false_positive_is_not_ours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    """npm's own lockfile aliases string-width-cjs to string-width: lockfile-lint's -n flags it (#175);
    the URL names the real package, so nothing is reported here."""
    copy_project(tmp_path / "p", CORPUS / "npm/npm__cli/package-lock.json", CORPUS / "npm/npm__cli/package.json")
    code, report = run_json(capsys, "verify", str(tmp_path / "p"))
    assert "node_modules/string-width-cjs" in (tmp_path / "p" / "package-lock.json").read_text()
    assert (code, report["findings"]) == (0, [])


def test_unknown_verify_key_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    copy_project(tmp_path / "p", TRUST / "lockfile-lint" / "package-lock-sha1.json", name="package-lock.json")
    (tmp_path / "p" / ".npmaudit.toml").write_text("[verify]\nallowed_hosts = ['x.test']\n")
    assert main(["verify", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'verify.allowed_hosts' (did you mean 'allowed-hosts'?)" in err and err[-1] == "\n"
    (tmp_path / "p" / ".npmaudit.toml").write_text("[verify.severity]\nLV999 = 'warn'\n")
    assert main(["verify", str(tmp_path / "p")]) == 2
    assert "unknown check 'LV999'" in capsys.readouterr().err


def test_unreadable_lockfile_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None) -> None:
    (tmp_path / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": {')
    (tmp_path / ".npmrc").write_text("registry=https://registry.npmjs.test/\n")
    assert main(["verify", str(tmp_path)]) == 2
    assert "package-lock.json" in capsys.readouterr().err


def test_severity_off_and_allow_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None) -> None:
    copy_project(tmp_path / "p", TRUST / "lockfile-lint" / "package-lock-git-scheme.json", name="package-lock.json")
    assert main(["verify", str(tmp_path / "p")]) == 1
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "p"), "--allow-git"]) == 0
    capsys.readouterr()
    (tmp_path / "p" / ".npmaudit.toml").write_text("[verify]\nallow-git = true\n")
    code, report = run_json(capsys, "verify", str(tmp_path / "p"))
    assert code == 0 and report["findings"] == []
