"""Record the npm CLI's own behaviour as test expectations for the online sources (needs node + npm;
the tests themselves do not). Outputs go to tests/fixtures/osv/online/oracle/.

  python tests/oracle/online_record.py payload PROJECT_DIR OUT.json   # bulk payloads, three --omit cases
  python tests/oracle/online_record.py findings PROJECT_DIR OUT.json  # npm audit on the NSP advisories
  python tests/oracle/online_record.py npmrc OUT.json                 # `npm config get` on npmrc scenarios

npm talks only to loopback servers started here (`--registry=http://127.0.0.1:<port>/`); nothing
recorded contains a registry host name.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from servers import RegistryServer  # noqa: E402

NSP = TESTS / "fixtures" / "osv" / "online" / "nsp-original.jsonl.gz"
OMIT_CASES = [[], ["--omit=dev"], ["--omit=dev", "--omit=optional", "--omit=peer"]]


def npm_version() -> str:
    return subprocess.run(["npm", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def run_npm_audit(project: Path, registry: str, extra: list[str]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as tmp:
        for item in project.iterdir():
            if item.is_file():
                shutil.copy(item, tmp)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": tmp,
            "npm_config_cache": f"{tmp}/cache",
            "npm_config_update_notifier": "false",
        }
        command = ["npm", "audit", "--json", f"--registry={registry}", *extra]
        return subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, check=False)


def record_payloads(project: Path) -> dict:
    cases = []
    with RegistryServer() as server:
        for extra in OMIT_CASES:
            before = len(server.bulk_payloads())
            run_npm_audit(project, server.url, extra)
            payloads = server.bulk_payloads()[before:]
            if len(payloads) != 1:
                raise SystemExit(f"{project.name} {extra}: expected one bulk request, saw {len(payloads)}")
            cases.append({"args": extra, "payload": [[name, versions] for name, versions in payloads[0].items()]})
    return {"npm_version": npm_version(), "cases": cases}


def lockfile_packuments(project: Path) -> dict[str, dict]:
    """Minimal packuments (the versions the lockfile holds) so npm can compute its report offline."""
    path = next(p for p in (project / "npm-shrinkwrap.json", project / "package-lock.json") if p.exists())
    lock = json.loads(path.read_text())
    entries: list[tuple[str, dict]] = []
    if "packages" in lock:
        for location, meta in lock["packages"].items():
            if location and not meta.get("link") and "version" in meta:
                entries.append((meta.get("name") or location.rsplit("node_modules/", 1)[-1], meta))
    else:
        stack = [lock.get("dependencies", {})]
        while stack:
            for name, meta in stack.pop().items():
                if "version" in meta and not str(meta["version"]).startswith(("file:", "git", "http")):
                    entries.append((name, {"version": meta["version"], "dependencies": meta.get("requires", {})}))
                stack.append(meta.get("dependencies", {}))
    packuments: dict[str, dict] = {}
    for name, meta in entries:
        document = packuments.setdefault(name, {"name": name, "dist-tags": {}, "versions": {}})
        document["versions"][meta["version"]] = {
            "name": name,
            "version": meta["version"],
            "dependencies": meta.get("dependencies", {}),
            "dist": {"tarball": f"http://127.0.0.1:9/{name}/-/x-{meta['version']}.tgz"},
        }
    for document in packuments.values():
        document["dist-tags"]["latest"] = list(document["versions"])[-1]
    return packuments


def record_findings(project: Path) -> dict:
    with gzip.open(NSP, "rt", encoding="utf-8") as stream:
        documents = [json.loads(line) for line in stream]
    with RegistryServer.from_nsp(documents, packuments=lockfile_packuments(project)) as server:
        completed = run_npm_audit(project, server.url, [])
    report = json.loads(completed.stdout)
    if "error" in report:
        raise SystemExit(completed.stdout[:2000])
    direct = sorted(
        {
            (name, via["source"])
            for name, vuln in report["vulnerabilities"].items()
            for via in vuln["via"]
            if isinstance(via, dict)
        }
    )
    return {
        "npm_version": npm_version(),
        "args": [],
        "advisories": "nsp-original.jsonl.gz via tests/servers/registry_server.nsp_to_bulk",
        "direct": [list(pair) for pair in direct],
        "metadata": report["metadata"]["vulnerabilities"],
    }


NPMRC_SCENARIOS = [
    {
        "name": "precedence",
        "files": {
            "project/.npmrc": "registry=http://127.0.0.1:4001/\nx-a=project\n",
            "home/.npmrc": "registry=http://127.0.0.1:4002/\nx-a=user\nx-b=user\n",
            "global/etc/npmrc": "x-b=global\nx-c=global\n",
        },
        "env": {"npm_config_globalconfig": "{root}/global/etc/npmrc"},
        "keys": ["registry", "x-a", "x-b", "x-c"],
    },
    {
        "name": "env-beats-files",
        "files": {"project/.npmrc": "registry=http://127.0.0.1:4001/\n", "home/.npmrc": "strict-ssl=false\n"},
        "env": {
            "NPM_CONFIG_REGISTRY": "http://127.0.0.1:4003/",
            "npm_config_strict_ssl": "true",
            "NPM_CONFIG_HTTPS_PROXY": "http://127.0.0.1:3128",
        },
        "keys": ["registry", "strict-ssl", "https-proxy"],
    },
    {
        "name": "userconfig-env",
        "files": {
            "elsewhere/custom-npmrc": "registry=http://127.0.0.1:4004/\n@acme:registry=http://127.0.0.1:4005/acme/\n",
            "home/.npmrc": "registry=http://127.0.0.1:4002/\n",
        },
        "env": {"NPM_CONFIG_USERCONFIG": "{root}/elsewhere/custom-npmrc"},
        "keys": ["registry", "@acme:registry"],
    },
    {
        "name": "ini-syntax",
        "files": {
            "project/.npmrc": "; comment\n# another\n  x-spaced  =  value with spaces  \n"
            'x-quoted="quoted ; not a comment"\nx-comment=before ; after\nx-hash=a#b\nx-escaped=a\\;b\n'
            "x-bool=true\nx-arr[]=one\nx-arr[]=two\nx-empty=\n[section]\nx-in-section=hidden\n"
        },
        "env": {},
        "keys": [
            "x-spaced",
            "x-quoted",
            "x-comment",
            "x-hash",
            "x-escaped",
            "x-bool",
            "x-arr",
            "x-empty",
            "x-in-section",
        ],
    },
    {
        "name": "env-expansion",
        "files": {
            "project/.npmrc": "registry=${REG_URL}\nx-unset=${NOT_SET_ANYWHERE}\n"
            "x-optional=[${NOT_SET_ANYWHERE?}]\nx-escaped=\\${REG_URL}\nx-twice=${A}-${B}\n"
        },
        "env": {"REG_URL": "http://127.0.0.1:4006/", "A": "aa", "B": "bb"},
        "keys": ["registry", "x-unset", "x-optional", "x-escaped", "x-twice"],
    },
    {
        "name": "noproxy-and-ca",
        "files": {"project/.npmrc": "noproxy=localhost,.internal.test\nca[]=CERT-ONE\nca[]=CERT-TWO\n"},
        "env": {},
        "keys": ["noproxy", "ca"],
    },
]


def record_npmrc() -> dict:
    scenarios = []
    for scenario in NPMRC_SCENARIOS:
        with tempfile.TemporaryDirectory() as root:
            for rel, text in scenario["files"].items():
                path = Path(root, rel)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            (Path(root) / "project").mkdir(exist_ok=True)
            (Path(root) / "project" / "package.json").write_text('{"name":"p","version":"1.0.0"}')
            env = {
                "PATH": os.environ["PATH"],
                "HOME": f"{root}/home",
                "npm_config_update_notifier": "false",
                "npm_config_globalconfig": f"{root}/no-global-npmrc",
            }
            env.update({k: v.replace("{root}", root) for k, v in scenario["env"].items()})
            answers = {}
            for key in scenario["keys"]:
                completed = subprocess.run(
                    ["npm", "config", "get", key],
                    cwd=f"{root}/project",
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                answers[key] = completed.stdout.rstrip("\n")
        scenarios.append({**scenario, "answers": answers})
    return {"npm_version": npm_version(), "scenarios": scenarios}


def main() -> None:
    command, *rest = sys.argv[1:]
    if command == "payload":
        result = record_payloads(Path(rest[0]))
    elif command == "findings":
        result = record_findings(Path(rest[0]))
    elif command == "npmrc":
        result = record_npmrc()
    else:
        raise SystemExit(__doc__)
    Path(rest[-1]).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
