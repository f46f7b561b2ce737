"""npm's report when the registry refuses a packument (401, 403): npm 11 reads it as a package without
versions and says nothing (recorded in tests/fixtures/npm_refused_packument). npmaudit prints the very
same report, names the packages it could not look up on stderr and exits 3, unless
--allow-refused-packuments; a 404 stays "no such package", as in npm."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, isolate_environment
from npmaudit.cli import main
from npmaudit.errors import SourceError
from npmaudit.http import HttpClient, HttpSettings
from npmaudit.registry.packuments import PackumentCache, PackumentRefused, registry_fetcher
from servers import Fault, RegistryServer

HERE = FIXTURES / "npm_refused_packument"
PACKUMENTS = json.loads((HERE / "packuments.json").read_text())
ALL_SERVED = (HERE / "npm-audit-all-served.json").read_text()
A_REFUSED = (HERE / "npm-audit-a-refused.json").read_text()
SECRET = "s3cr3t-token-value"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_environment(monkeypatch, tmp_path, no_npm=True)
    target = tmp_path / "project"
    shutil.copytree(HERE / "project", target)
    return target


def _audit(capsys: pytest.CaptureFixture[str], project: Path, registry: str, *extra: str) -> tuple[int, str, str]:
    database = str(HERE / "advisories.json")
    code = main(["audit", str(project), "--compromised", "--db", database, "--registry", registry, *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_with_every_packument_served_the_report_is_npms(project: Path, capsys) -> None:
    with RegistryServer(packuments=PACKUMENTS) as registry:
        code, out, err = _audit(capsys, project, registry.url, "--format", "npm-json")
    assert (code, out) == (1, ALL_SERVED), err


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_packument_gives_npms_report_and_exit_3_naming_it(project: Path, capsys, status: int) -> None:
    """The report is byte for byte what npm printed when the registry refused `a`; the run fails
    (exit 3) with one line naming the package, the status and the registry, and no credential."""
    with RegistryServer(packuments=PACKUMENTS) as registry:
        (project / ".npmrc").write_text(f"//{registry.url.removeprefix('http://')}:_authToken={SECRET}\n")
        # The registry echoes what it was sent, as some do in their error bodies.
        registry.add_fault(Fault("/a", "status", status=status, body=f'{{"error":"bad {SECRET}"}}'.encode(), times=0))
        url = registry.url.replace("http://", f"http://someone:{SECRET}@")
        code, out, err = _audit(capsys, project, url, "--format", "npm-json")
        refused_requests = registry.requests_to("/a")
        assert refused_requests and all(request.headers.get("authorization") for request in refused_requests)
    assert out == A_REFUSED
    assert code == 3, err
    lines = err.splitlines()
    refused = [line for line in lines if "not looked up" in line]
    assert len(refused) == 1, err
    assert f"HTTP {status} from {registry.url}: a" in refused[0], refused[0]
    assert "--allow-refused-packuments" in refused[0]
    assert SECRET not in err + out and "someone" not in err


def test_the_opt_out_keeps_the_report_and_the_findings_exit_code(project: Path, capsys) -> None:
    with RegistryServer(packuments=PACKUMENTS) as registry:
        registry.add_fault(Fault("/a", "status", status=401, times=0))
        code, out, err = _audit(capsys, project, registry.url, "--format", "npm-json", "--allow-refused-packuments")
    assert (code, out) == (1, A_REFUSED), err
    assert "not looked up" in err and "accepted with --allow-refused-packuments" in err


def test_npm_text_fails_the_same_way(project: Path, capsys) -> None:
    with RegistryServer(packuments=PACKUMENTS) as registry:
        registry.add_fault(Fault("/a", "status", status=403, times=0))
        code, out, err = _audit(capsys, project, registry.url, "--format", "npm-text", "--policy", "warn")
    assert code == 3, err  # not a pass, even under --policy warn: nobody looked
    assert "b  1.0.0" in out and "not looked up" in err, (out, err)


def test_a_missing_packument_is_no_such_package_as_in_npm(project: Path, capsys) -> None:
    """404: the registry has no such package. npm printed the same report as for a refusal, and it is
    no failure to look: the run ends on its findings (exit 1) without a refusal line."""
    served = {name: document for name, document in PACKUMENTS.items() if name != "a"}
    with RegistryServer(packuments=served) as registry:
        code, out, err = _audit(capsys, project, registry.url, "--format", "npm-json")
        assert registry.requests_to("/a")
    assert (code, out) == (1, A_REFUSED), err
    assert "not looked up" not in err and "no cached packument" not in err
    assert "the registry has no packument for 1 package(s) (HTTP 404)" in err and err.rstrip().endswith(": a")


def test_a_refused_revalidation_keeps_the_cached_packument(tmp_path: Path) -> None:
    """A refusal is no answer about the package: it raises, and the packument cached earlier stays
    (before, a 401 was cached as "no such package", over the good copy)."""
    with RegistryServer(packuments=PACKUMENTS) as registry:
        client = HttpClient("npm registry (packuments)", HttpSettings(retries=0))
        fetch = registry_fetcher(client, lambda name: registry.url)
        with PackumentCache(tmp_path, fetch) as cache:
            assert cache("a") is not None
        registry.add_fault(Fault("/a", "status", status=401, times=0))
        with PackumentCache(tmp_path, fetch) as cache, pytest.raises(PackumentRefused) as caught:
            cache("a")
        assert isinstance(caught.value, SourceError) and caught.value.status == 401 and caught.value.name == "a"
        entry = json.loads(gzip.decompress((tmp_path / "a.json.gz").read_bytes()))
        assert entry["packument"]["versions"].keys() == {"1.0.0", "1.1.0"}


@pytest.mark.parametrize("body", [b"[]", b"null", b'"a"'])
def test_an_answer_that_is_not_a_packument_fails_the_run(project: Path, capsys, body: bytes) -> None:
    """HTTP 200 with JSON that is no object: the registry answered, but not with a packument. Before,
    it was read (and cached) as "no such package", and the report went on quietly."""
    with RegistryServer(packuments=PACKUMENTS) as registry:
        registry.add_fault(Fault("/a", "body", body=body, times=0))
        code, out, err = _audit(capsys, project, registry.url, "--format", "npm-json")
    assert (code, out) == (3, ""), err
    assert err.startswith("npmaudit: error: ") and err.count("\n") == 1, err
    assert f"GET {registry.url}a: not a packument" in err
