"""The npm lockfile reader builds, node for node, the Projects it built before it was made fast.

``fixtures/lockfiles/npm/reader-digests.json`` holds, for every npm lockfile among the fixtures and
three ways of reading it (beside its package.json, alone, as the hidden lockfile of an install),
the number of nodes and a SHA-256 of every value of every node in order (edges included). The
digests were written by the reader of commit 6b9b779 (before the fast paths), by running this
module as a script; any change in a name, a version, a flag, a source kind or an edge's target
changes a digest.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

from npmaudit.project.model import Project
from npmaudit.project.readers.npm.lockfile import read
from npmaudit.project.readers.npm.spec import is_registry_tarball

FIXTURES = Path(__file__).parent / "fixtures"
DIGESTS = FIXTURES / "lockfiles" / "npm" / "reader-digests.json"
NPM_LOCKFILE_NAMES = ("package-lock.json", "npm-shrinkwrap.json", ".package-lock.json")
WAYS = ("beside-manifest", "alone", "hidden")


def npm_lockfiles() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.name in NPM_LOCKFILE_NAMES and p.is_file())


def lockfile_id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


def placed(lockfile: Path, way: str, tmp_path: Path) -> Path:
    """The lockfile to read for ``way``: in place, copied alone, or copied as an install's hidden
    lockfile beside the package.json (the project folder keeps the fixture's folder name, which
    is the root's name when package.json gives none)."""
    project = lockfile.parent.parent if lockfile.name == ".package-lock.json" else lockfile.parent
    if way == "beside-manifest":
        return lockfile
    target = tmp_path / project.name
    if way == "alone":
        target.mkdir(parents=True)
        return Path(shutil.copy(lockfile, target / lockfile.name))
    (target / "node_modules").mkdir(parents=True)
    if (project / "package.json").is_file():
        shutil.copy(project / "package.json", target / "package.json")
    return Path(shutil.copy(lockfile, target / "node_modules" / ".package-lock.json"))


def digest(project: Project) -> dict[str, object]:
    """Node count and SHA-256 of every node's values, in the Project's order."""
    rows = [
        [
            node.location,
            node.name,
            node.version,
            node.source.value,
            node.install_name,
            node.resolved,
            node.integrity,
            node.dev,
            node.optional,
            node.dev_optional,
            node.peer,
            node.in_bundle,
            [[edge.name, edge.spec, edge.type.value, edge.to] for edge in node.edges],
            node.link_target,
        ]
        for node in project.nodes.values()
    ]
    encoded = json.dumps([project.lockfile_format, rows], separators=(",", ":")).encode()
    return {"nodes": len(rows), "sha256": hashlib.sha256(encoded).hexdigest()}


def test_the_digests_cover_every_npm_lockfile_of_the_fixtures() -> None:
    recorded = json.loads(DIGESTS.read_text(encoding="utf-8"))
    expected = {f"{lockfile_id(path)} {way}" for path in npm_lockfiles() for way in WAYS}
    assert set(recorded) == expected
    assert sum(entry["nodes"] for entry in recorded.values()) > 30_000  # the large real lockfiles are in


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("lockfile", npm_lockfiles(), ids=lockfile_id)
def test_the_reader_builds_the_same_project_as_before(lockfile: Path, way: str, tmp_path: Path) -> None:
    recorded = json.loads(DIGESTS.read_text(encoding="utf-8"))[f"{lockfile_id(lockfile)} {way}"]
    assert digest(read(placed(lockfile, way, tmp_path))) == recorded


def registry_tarball_before(url: str) -> bool:
    """``spec.is_registry_tarball`` as it was before its fast path (commit 6b9b779)."""
    match = re.match(r"^https?://[^/?#]+/([^?#]*)", url, re.IGNORECASE)
    if match is None:
        return False
    pieces = match.group(1).split("/-/")
    if len(pieces) < 2:
        return False
    base = pieces[-1]
    if "/" in base or not base.endswith(".tgz"):
        return False
    project = re.split(r"/|%2f", pieces[-2], flags=re.IGNORECASE)[-1]
    return unquote(base).startswith(unquote(project) + "-")


def resolved_urls() -> list[str]:
    """Every ``resolved`` of the npm fixtures (v2/v3 entries and v1's nested dependencies)."""
    found: set[str] = set()

    def collect(value: object) -> None:
        if isinstance(value, dict):
            resolved = value.get("resolved")
            if isinstance(resolved, str):
                found.add(resolved)
            for child in value.values():
                collect(child)

    for lockfile in npm_lockfiles():
        collect(json.loads(lockfile.read_text(encoding="utf-8")))
    return sorted(found)


# Shapes around the fast path's edges: overlapping separators, escapes, scopes, case, queries.
TRICKY_URLS = [
    "https://r.test/x/-/-/x-1.tgz",
    "https://r.test/a/-/-/--1.tgz",
    "https://r.test/-/-/--1.tgz",
    "https://r.test/a/-/-/-/a-1.tgz",
    "https://r.test/x/-/x-1.tgz",
    "HTTPS://r.test/x/-/x-1.tgz",
    "http://r.test/x/-/x-1.tgz?cache=1",
    "https://r.test/x/-/x-1.tgz#frag",
    "https://r.test/@s/x/-/x-1.tgz",
    "https://r.test/@s%2fx/-/x-1.tgz",
    "https://r.test/@s%2Fx/-/x-1.tgz",
    "https://r.test/x%2dy/-/x-y-1.tgz",
    "https://r.test/x/-/x%2d1.tgz",
    "https://r.test/x/-/y-1.tgz",
    "https://r.test/x/-/x.tgz",
    "https://r.test/x/-/x-1.tar.gz",
    "https://r.test/x/-/sub/x-1.tgz",
    "https://r.test//-/-1.tgz",
    "https://r.test/-/x-1.tgz",
    "https://r.test?/x/-/x-1.tgz",
    "https:///x/-/x-1.tgz",
    "git+https://r.test/x/-/x-1.tgz",
    "https://r.test/x/-/x-1.tgz/-/",
    "https://r.test/a/-//-/a-1.tgz",
    "https://r.test/a/b/-/b-/-/b--1.tgz",
]


@pytest.mark.parametrize("url", TRICKY_URLS)
def test_registry_tarball_shape_is_decided_as_before_on_tricky_urls(url: str) -> None:
    assert is_registry_tarball(url) is registry_tarball_before(url)


def test_registry_tarball_shape_is_decided_as_before_on_every_resolved_of_the_fixtures() -> None:
    urls = resolved_urls()
    verdicts = [registry_tarball_before(url) for url in urls]
    assert len(urls) > 5_000 and True in verdicts and False in verdicts  # both answers are exercised
    assert [is_registry_tarball(url) for url in urls] == verdicts


def _write_digests(tmp_path: Path) -> None:
    digests = {}
    for number, lockfile in enumerate(npm_lockfiles()):
        for way in WAYS:
            digests[f"{lockfile_id(lockfile)} {way}"] = digest(read(placed(lockfile, way, tmp_path / str(number))))
    DIGESTS.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":  # rewrites the digests: only with a reader known to be right
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        _write_digests(Path(scratch))
    sys.exit(0)
