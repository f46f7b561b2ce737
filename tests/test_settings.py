"""Settings resolved once at the edge: precedence (flag > env > .npmaudit.toml > .npmrc > default),
unknown configuration keys, and a `-r` scan asking each source what a single audit asks."""

from __future__ import annotations

import argparse
import ast
import json
import shutil
from pathlib import Path

import pytest

from conftest import ONLINE, load_jsonl
from npmaudit.advisories.npm_bulk import bulk_payload
from npmaudit.cli import main
from npmaudit.cli.settings import resolve_settings
from npmaudit.config import ProjectConfig, load_config
from npmaudit.errors import InputError, UsageError
from npmaudit.project.loader import load_project
from servers import RegistryServer

SRC = Path(__file__).parent.parent / "src" / "npmaudit"
HANDMADE = ONLINE / "projects" / "handmade"


def _args(**values: object) -> argparse.Namespace:
    return argparse.Namespace(**values)


def _isolated(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with no npm to ask and a home of its own (no user .npmrc)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), "PATH": str(tmp_path / "no-bin"), "NPMAUDIT_CACHE_DIR": str(tmp_path / "c"), **extra}


def test_only_the_cli_imports_argparse_and_one_module_reads_the_environment() -> None:
    """The issue's structural promise, checked on the source itself (imports and attribute reads)."""
    argparse_users, environ_readers = set(), set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        relative = path.relative_to(SRC).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if "argparse" in names:
                    argparse_users.add(relative)
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                environ_readers.add(relative)
    assert argparse_users and all(user.startswith("cli/") for user in argparse_users), argparse_users
    assert environ_readers == {"cli/settings.py"}


def test_precedence_flag_env_toml_npmrc_default(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".npmrc").write_text("audit-level=critical\nomit=optional\n")
    config = ProjectConfig(project / ".npmaudit.toml", {"audit-level": "high", "omit": ["peer"]})
    env = _isolated(tmp_path, NPMAUDIT_AUDIT_LEVEL="moderate")
    none = ProjectConfig(None)

    def level(flag: str | None, env: dict[str, str], config: ProjectConfig) -> str:
        return resolve_settings(_args(path=str(project), audit_level=flag), env, config).audit_level

    assert level("info", env, config) == "info"
    assert level(None, env, config) == "moderate"
    assert level(None, _isolated(tmp_path), config) == "high"
    assert level(None, _isolated(tmp_path), none) == "critical"  # npm's own key in .npmrc
    (project / ".npmrc").unlink()
    assert level(None, _isolated(tmp_path), none) == "low"

    def omit(flag: list[str] | None, env: dict[str, str], config: ProjectConfig) -> frozenset[str]:
        return resolve_settings(_args(path=str(project), omit=flag), env, config).omit

    (project / ".npmrc").write_text("omit=optional\n")
    production = _isolated(tmp_path, NODE_ENV="production")
    assert omit(["dev"], production, config) == {"dev"}
    assert omit(None, production, config) == {"peer"}
    assert omit(None, production, none) == {"optional"}
    (project / ".npmrc").unlink()
    assert omit(None, production, none) == {"dev"}  # NODE_ENV=production, as npm
    assert omit(None, _isolated(tmp_path), none) == frozenset()


def test_bad_values_name_their_origin(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".npmrc").write_text("audit-level=severe\n")
    with pytest.raises(UsageError, match=r"\.npmrc: audit-level: invalid value 'severe'"):
        resolve_settings(_args(path=str(project)), _isolated(tmp_path), ProjectConfig(None))
    with pytest.raises(UsageError, match="NPMAUDIT_POLICY: invalid value 'strict'"):
        resolve_settings(_args(path=str(project)), _isolated(tmp_path, NPMAUDIT_POLICY="strict"), ProjectConfig(None))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('audit_level = "critical"\n', "unknown key 'audit_level' (did you mean 'audit-level'?)"),
        ("max-age = 3\n", "unknown key 'max-age' (did you mean 'max-db-age'?)"),
        ('ignore = ["GHSA-xxxx"]\n', "'ignore' must be [[ignore]] tables, each with an id and a reason"),
        (
            '[[ignore]]\nid = "GHSA-xxxx"\nresaon = "x"\n',
            "[[ignore]] GHSA-xxxx: unknown key 'resaon' (did you mean 'reason'?)",
        ),
    ],
)
def test_unknown_config_keys_are_errors_with_the_closest_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / ".npmaudit.toml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: {expected}")


def test_unknown_config_key_fails_the_audit_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project"
    shutil.copytree(HANDMADE, project)
    (project / ".npmaudit.toml").write_text('audit_level = "critical"\n')
    code = main(["audit", str(project), "--offline", "--db", str(tmp_path / "none.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        err
        == f"npmaudit: error: {project / '.npmaudit.toml'}: unknown key 'audit_level' (did you mean 'audit-level'?)\n"
    )


def test_recursive_and_single_audit_send_the_same_bulk_payload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under -r the registry source is prepared per project: the same payload as auditing it alone."""
    for name, value in _isolated(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NODE_ENV", raising=False)
    root = tmp_path / "repos"
    shutil.copytree(HANDMADE, root / "handmade")
    shutil.copytree(ONLINE / "projects" / "npm__cli", root / "npm-cli")
    nsp = load_jsonl(ONLINE / "nsp-original.jsonl.gz")
    payloads = {}
    for how, target in (
        ("alone-handmade", root / "handmade"),
        ("alone-npm-cli", root / "npm-cli"),
        ("recursive", root),
    ):
        with RegistryServer.from_nsp(nsp) as registry:
            args = ["audit", str(target), "--registry-advisories", "--registry", registry.url, "--omit", "dev"]
            code = main([*args, "--format", "json"] + (["-r"] if how == "recursive" else []))
            capsys.readouterr()
            assert code in (0, 1)
            payloads[how] = registry.bulk_payloads()
    # npm 11's own payload for the tree (its omit rules, links and workspaces), not one rebuilt from the
    # packages audited: the two differ on npm-cli.
    npm_cli = bulk_payload(load_project(root / "npm-cli"), frozenset({"dev"}))
    assert payloads["alone-npm-cli"] == [npm_cli]
    assert len(payloads["recursive"]) == 2
    assert payloads["alone-handmade"][0] != payloads["alone-npm-cli"][0]
    as_json = sorted(json.dumps(p, sort_keys=True) for p in payloads["recursive"])
    assert as_json == sorted(
        json.dumps(p[0], sort_keys=True) for p in (payloads["alone-handmade"], payloads["alone-npm-cli"])
    )
