"""npm configuration reading: checked against the real npm CLI's `npm config get` (recorded), and
hand-checked cases for credentials, proxies and TLS settings."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from npmaudit.errors import InputError, UsageError
from npmaudit.npmrc import env_replace, load_npm_config, nerf_dart, parse_ini

ORACLE = Path(__file__).parent / "fixtures" / "osv" / "online" / "oracle" / "npmrc.json"


def _npm_text(value: object) -> str:
    """How `npm config get` prints a value."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No npm or node on PATH, a private HOME, no global file: only what the test writes counts."""
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir(exist_ok=True)
    env = {"PATH": str(empty_bin), "HOME": str(tmp_path / "home"), "npm_config_globalconfig": str(tmp_path / "none")}
    env.update(extra)
    return env


@pytest.mark.parametrize("scenario", json.loads(ORACLE.read_text())["scenarios"], ids=lambda s: s["name"])
def test_layers_and_syntax_match_npm(tmp_path: Path, scenario: dict) -> None:
    root = tmp_path / "root"
    for rel, text in scenario["files"].items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "project").mkdir(parents=True, exist_ok=True)
    env = _isolated_env(tmp_path, HOME=str(root / "home"), npm_config_globalconfig=str(root / "no-global-npmrc"))
    env.update({k: v.replace("{root}", str(root)) for k, v in scenario["env"].items()})
    config = load_npm_config(root / "project", env=env, ask_npm=False)
    for key, expected in scenario["answers"].items():
        assert _npm_text(config.get(key)) == expected, key


def test_ini_parser_hand_checked() -> None:
    values = parse_ini('a = 1\n b=two words ;c\n"q"="x;y"\nlist[]=1\nlist[]=2\nflag\n[s]\nhidden=1\n')
    assert values == {"a": "1", "b": "two words", "q": "x;y", "list": ["1", "2"], "flag": True}


def test_env_replace_escapes() -> None:
    env = {"T": "tok"}
    assert env_replace("${T}", env) == "tok"
    assert env_replace("\\${T}", env) == "${T}"
    assert env_replace("\\\\${T}", env) == "\\tok"
    assert env_replace("${MISSING}", env) == "${MISSING}"
    assert env_replace("${MISSING?}", env) == ""


def test_nerf_dart() -> None:
    assert nerf_dart("https://registry.npmjs.test/") == "//registry.npmjs.test/"
    assert nerf_dart("https://registry.npmjs.test:443/a/b/c") == "//registry.npmjs.test/a/b/"
    assert nerf_dart("http://127.0.0.1:8080/npm/") == "//127.0.0.1:8080/npm/"


def _config(tmp_path: Path, npmrc: str, **env: str):
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / ".npmrc").write_text(npmrc)
    return load_npm_config(project, env=_isolated_env(tmp_path, **env), ask_npm=False)


def test_token_goes_only_to_its_registry_path_and_port(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        "registry=http://127.0.0.1:4873/npm/\n//127.0.0.1:4873/npm/:_authToken=${NPM_TOKEN}\n",
        NPM_TOKEN="s3cret",
    )
    assert config.authorization("http://127.0.0.1:4873/npm/-/npm/v1/security/advisories/bulk") == "Bearer s3cret"
    assert config.authorization("http://127.0.0.1:4873/npm/@scope%2fpkg") == "Bearer s3cret"
    assert config.authorization("http://127.0.0.1:4874/npm/lodash") is None  # another port
    assert config.authorization("http://127.0.0.2:4873/npm/lodash") is None  # another host
    assert config.authorization("http://127.0.0.1:4873/other/lodash") is None  # outside the path
    assert config.authorization("https://127.0.0.1:4873/npm/lodash") is None  # not the registry's scheme
    assert config.authorization("http://127.0.0.1.evil.test:4873/npm/x") is None


def test_scoped_registry_and_its_own_credentials(tmp_path: Path) -> None:
    password = base64.b64encode(b"pa:ss").decode()
    config = _config(
        tmp_path,
        "registry=https://registry.npmjs.test/\n"
        "@acme:registry=https://npm.acme.test/private/\n"
        f"//npm.acme.test/private/:username=bob\n//npm.acme.test/private/:_password={password}\n",
    )
    assert config.registry_for("@acme/tool") == "https://npm.acme.test/private/"
    assert config.registry_for("@other/tool") == "https://registry.npmjs.test/"
    assert config.registry_for("lodash") == "https://registry.npmjs.test/"
    expected = "Basic " + base64.b64encode(b"bob:pa:ss").decode()
    assert config.authorization("https://npm.acme.test/private/@acme%2ftool") == expected
    assert config.authorization("https://registry.npmjs.test/lodash") is None


def test_top_level_auth_only_for_the_default_registry(tmp_path: Path) -> None:
    config = _config(tmp_path, "registry=https://registry.npmjs.test/\n_auth=dXNlcjpwYXNz\n")
    assert config.authorization("https://registry.npmjs.test/lodash") == "Basic dXNlcjpwYXNz"
    assert config.authorization("https://mirror.example.test/lodash") is None


def test_top_level_token_is_refused_like_npm(tmp_path: Path) -> None:
    config = _config(tmp_path, "registry=https://registry.npmjs.test/\n_authToken=abc\n")
    with pytest.raises(UsageError, match="must be scoped to a registry"):
        config.authorization("https://registry.npmjs.test/lodash")


def test_registry_from_npm_config_get_when_nothing_is_configured(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_npm = bin_dir / "npm"
    fake_npm.write_text("#!/bin/sh\n[ \"$1 $2 $3\" = 'config get registry' ] && echo http://127.0.0.1:9999/\n")
    fake_npm.chmod(fake_npm.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "project").mkdir()
    env = _isolated_env(tmp_path, PATH=f"{bin_dir}{os.pathsep}/bin{os.pathsep}/usr/bin")
    config = load_npm_config(tmp_path / "project", env=env)
    assert config.registry == "http://127.0.0.1:9999/"


def test_no_registry_and_no_npm_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    config = load_npm_config(tmp_path / "project", env=_isolated_env(tmp_path))
    with pytest.raises(UsageError, match=r"no npm registry configured .*npm is not on PATH"):
        _ = config.registry


def test_cli_registry_beats_everything(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".npmrc").write_text("registry=http://127.0.0.1:1/\n")
    config = load_npm_config(
        project,
        env=_isolated_env(tmp_path, npm_config_registry="http://127.0.0.1:2/"),
        cli={"registry": "http://127.0.0.1:3/"},
        ask_npm=False,
    )
    assert config.registry == "http://127.0.0.1:3/"


def test_proxy_settings(tmp_path: Path) -> None:
    config = _config(tmp_path, "https-proxy=http://proxy.test:3128\nnoproxy=internal.test,localhost\n")
    assert config.proxy_for("https://registry.npmjs.test/x") == "http://proxy.test:3128"
    assert config.proxy_for("https://npm.internal.test/x") is None
    assert config.proxy_for("https://localhost/x") is None
    assert config.proxy_for("http://registry.npmjs.test/x") is None  # no http proxy configured
    env_only = _config(tmp_path, "", HTTPS_PROXY="http://envproxy.test:8080", NO_PROXY="example.test")
    assert env_only.proxy_for("https://registry.npmjs.test/") == "http://envproxy.test:8080"
    assert env_only.proxy_for("https://api.example.test/") is None
    assert env_only.proxy_for("https://notexample.test/") == "http://envproxy.test:8080"


def test_tls_settings(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    (tmp_path / "ca.pem").write_text(pem + pem.replace("AAAA", "BBBB"))
    config = _config(tmp_path, f"cafile={tmp_path / 'ca.pem'}\nca=ignored-when-cafile\nstrict-ssl=false\n")
    assert len(config.ca_certs) == 2 and "BBBB" in config.ca_certs[1]
    assert config.strict_ssl is False
    missing = _config(tmp_path, f"cafile={tmp_path / 'missing.pem'}\n")
    with pytest.raises(InputError, match=r"missing\.pem"):
        _ = missing.ca_certs
    assert _config(tmp_path, "").strict_ssl is True
