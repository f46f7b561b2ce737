"""`query -r` and `inventory query` (SQLite and PostgreSQL) agree with a full `audit -r` on a folder
holding every lockfile of the corpus in every format (tests/inventory_corpus.py), install path by
install path, for package names, exact versions, ranges (prereleases included) and advisory ids.

Package specs are compared with an audit against OSV records written from them: one record per
spec, whose ranges are the spec's node-semver range rewritten as OSV events (``>=`` introduced,
``<`` fixed, ``<=`` last_affected, exact versions listed). Advisory ids are compared with the
audit's findings against the real advisory fixtures (tests/fixtures/osv). The specs are chosen
from the corpus itself (the most installed names, their common versions, a prerelease), so every
one of them hits something and the comparison can fail.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inventory_corpus import build_corpus, cli, corpus_environment
from npmaudit import semver
from npmaudit.project.loader import load_project
from npmaudit.project.model import Project
from servers.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

FIXTURES = Path(__file__).parent / "fixtures"
ADVISORY_FIXTURES = [
    *sorted((FIXTURES / "osv" / "store").glob("*.jsonl.gz")),
    *sorted((FIXTURES / "osv" / "core").glob("*.jsonl")),
]

Installs = set[tuple[str, str]]  # (project directory, install path)


def key(directory: str | Path) -> str:
    return str(Path(directory).resolve())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("agreement")
    with corpus_environment(tmp):
        corpus = tmp / "corpus"
        directories = build_corpus(corpus)
        projects = {key(d): load_project(d) for d in directories}
        store = tmp / "advisories.sqlite"
        code, _, err = cli("db", "import", "--db", str(store), *map(str, ADVISORY_FIXTURES))
        assert code == 0, err
        yield {"tmp": tmp, "corpus": corpus, "projects": projects, "store": store}


# -- choosing specs from the corpus --------------------------------------------------------------


def _versions(projects: dict[str, Project]) -> dict[str, Counter[str]]:
    """Installed versions of each registry package name, counted by install."""
    found: dict[str, Counter[str]] = {}
    for project in projects.values():
        for node in project.packages():
            if node.is_registry:
                found.setdefault(node.name, Counter())[node.version] += 1
    return found


def _sorted(versions: Counter[str]) -> list[str]:
    return semver.sort_versions([v for v in versions if semver.valid(v, loose=True)], loose=True)


def choose_specs(projects: dict[str, Project]) -> tuple[list[str], str]:
    """Names, exact versions and ranges that hit the corpus; and a prerelease they must find."""
    versions = _versions(projects)
    spread = sorted(versions, key=lambda name: (-len(versions[name]), name))
    many = [name for name in spread if all(v and semver.valid(v, loose=True) for v in versions[name])]
    a, b, c = [name for name in many if not name.startswith("@")][:3]
    scoped = next(name for name in many if name.startswith("@"))
    specs = [a, scoped]
    for name in (a, b, scoped):
        specs.append(f"{name}@{versions[name].most_common(1)[0][0]}")
    ordered_a, ordered_b, ordered_c = _sorted(versions[a]), _sorted(versions[b]), _sorted(versions[c])
    major = semver.major(ordered_a[len(ordered_a) // 2])
    specs.append(f"{a}@^{major}.0.0")
    specs.append(f"{b}@>={ordered_b[1]} <{ordered_b[-2]}")
    specs.append(f"{b}@~{ordered_b[len(ordered_b) // 2]}")
    specs.append(f"{c}@{ordered_c[0]} - {ordered_c[len(ordered_c) // 2]}")
    specs.append(f"{c}@{semver.major(ordered_c[-1])}.x || <={ordered_c[0]}")
    prereleases = sorted(
        (name, version)
        for name, counter in versions.items()
        for version in counter
        if semver.prerelease(version, loose=True)
        if semver.valid(version, loose=True)
    )
    assert prereleases, "the corpus has prerelease installs"
    pre_name, pre_version = prereleases[0]
    parsed = semver.parse_version(pre_version, loose=True)
    assert parsed is not None
    release = f"{parsed.major}.{parsed.minor}.{parsed.patch}"
    # "<1.2.3" holds 1.2.3-rc.1 only when prereleases are included, as npm audit reads ranges
    specs.append(f"{pre_name}@<{release}")
    specs.append(f"{pre_name}@{pre_version}")
    return specs, f"{pre_name}@{pre_version}"


def osv_record(advisory_id: str, spec: str) -> dict[str, Any]:
    """An OSV record affecting exactly what ``spec`` asks for."""
    at = spec.find("@", 1)
    name, wanted = (spec, None) if at < 0 else (spec[:at], spec[at + 1 :])
    entry: dict[str, Any] = {"package": {"ecosystem": "npm", "name": name}}
    if wanted is not None:
        ranges, listed = [], []
        for comparators in semver.to_comparators(wanted, loose=True, include_prerelease=True):
            events: list[dict[str, str]] = []
            start, end = "0", None
            for comparator in comparators:
                if comparator.startswith(">="):
                    start = comparator[2:]
                elif comparator.startswith("<="):
                    end = {"last_affected": comparator[2:]}
                elif comparator.startswith("<"):
                    end = {"fixed": comparator[1:]}
                elif comparator.startswith(">"):
                    raise AssertionError(f"{spec}: '>' has no OSV event; choose another range")
                elif comparator:
                    listed.append(comparator.lstrip("="))
                    start = ""
            if start:
                events.append({"introduced": start})
                if end:
                    events.append(end)
                ranges.append({"type": "SEMVER", "events": events})
        entry["ranges"] = ranges
        entry["versions"] = listed
    return {"id": advisory_id, "modified": "2025-01-01T00:00:00Z", "summary": spec, "affected": [entry]}


# -- reading the three answers -------------------------------------------------------------------


def audit_installs(document: dict[str, Any]) -> dict[str, Installs]:
    """Advisory id (primary, alias or record) -> installs the audit reported under it."""
    found: dict[str, Installs] = {}
    for project in document["projects"]:
        directory = key(project["project"]["directory"])
        for finding in project["findings"]:
            for advisory_id in {finding["id"], *finding["aliases"], *finding["records"]}:
                found.setdefault(advisory_id, set()).update((directory, path) for path in finding["paths"])
    return found


def query_installs(document: dict[str, Any]) -> dict[str, Installs]:
    """SPEC -> installs the query reported for it."""
    found: dict[str, Installs] = {spec: set() for spec in document["specs"]}
    for project in document["projects"]:
        for match in project["matches"]:
            for spec in match["specs"]:
                found[spec].add((key(project["location"]), match["path"]))
    return found


@pytest.fixture(scope="module")
def expected(workspace: dict[str, Any]) -> dict[str, Any]:
    """The audit's answers, from one `audit -r` against the real advisory fixtures plus one record
    per package spec: installs by spec, and by real advisory id."""
    tmp, corpus, store = workspace["tmp"], workspace["corpus"], workspace["store"]
    specs, prerelease = choose_specs(workspace["projects"])
    records = {f"MAL-0000-{index:03d}": spec for index, spec in enumerate(specs)}
    database = tmp / "spec-records.json"
    database.write_text(json.dumps([osv_record(advisory_id, spec) for advisory_id, spec in records.items()]))
    with corpus_environment(tmp):
        code, _, err = cli("db", "import", "--db", str(store), str(database))
        assert code == 0, err
        code, out, err = cli("audit", "-r", str(corpus), "--compromised", "--db", str(store), "--format", "json")
        assert code == 1, err
    document = json.loads(out)
    by_advisory = audit_installs(document)
    # The most widespread real advisories, a malicious one, and an alias (a CVE some record lists).
    findings = [f for project in document["projects"] for f in project["findings"] if f["id"] not in records]
    primary = sorted({f["id"] for f in findings}, key=lambda i: (-len(by_advisory[i]), i))[:4]
    malicious = sorted({f["id"] for f in findings if f["malicious"]})[:1]
    aliases = sorted({a for f in findings for a in f["aliases"] if a.startswith("CVE-")})[:1]
    assert malicious and aliases, "the fixtures' audit has a malicious finding and a CVE alias"
    return {
        "specs": {spec: by_advisory.get(advisory_id, set()) for advisory_id, spec in records.items()},
        "prerelease": prerelease,
        "ids": {advisory_id: by_advisory[advisory_id] for advisory_id in [*primary, *malicious, *aliases]},
    }


@pytest.fixture(scope="module")
def answers(workspace: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """`query -r` over the files and `inventory query` from a SQLite inventory: every spec at once."""
    tmp, corpus, store = workspace["tmp"], workspace["corpus"], str(workspace["store"])
    asked = [*expected["specs"], *expected["ids"]]
    inventory = str(tmp / "inventory.sqlite")
    with corpus_environment(tmp):
        code, out, err = cli("query", *asked, str(corpus), "-r", "--db", store, "--format", "json")
        assert code == 1, err
        files = json.loads(out)
        added = cli("inventory", "add", "-r", str(corpus), "--inventory", inventory)
        stored = inventory_answer(workspace, asked, inventory)
    return {"asked": asked, "files": files, "added": added, "sqlite": stored}


def inventory_answer(workspace: dict[str, Any], asked: list[str], inventory: str) -> dict[str, Any]:
    code, out, err = cli(
        "inventory", "query", *asked, "--inventory", inventory, "--db", str(workspace["store"]), "--format", "json"
    )
    assert code == 1, err
    return dict(json.loads(out))


def both(expected: dict[str, Any]) -> dict[str, Installs]:
    return {**expected["specs"], **expected["ids"]}


def test_every_chosen_spec_hits_the_corpus(expected: dict[str, Any]) -> None:
    assert len(expected["specs"]) >= 10 and len(expected["ids"]) >= 5
    assert all(expected["specs"].values()), [spec for spec, hits in expected["specs"].items() if not hits]
    assert all(expected["ids"].values())
    name, version = expected["prerelease"].rsplit("@", 1)
    below = f"{name}@<{version.split('-')[0]}"
    assert expected["specs"][below], f"{below} finds {expected['prerelease']}"


def test_query_recursive_agrees_with_audit(answers: dict[str, Any], expected: dict[str, Any]) -> None:
    assert query_installs(answers["files"]) == both(expected)


def test_query_of_one_project_agrees_with_audit(workspace: dict[str, Any], expected: dict[str, Any]) -> None:
    spec, installs = max(expected["specs"].items(), key=lambda item: len({d for d, _ in item[1]}))
    directory = sorted({d for d, _ in installs})[0]
    with corpus_environment(workspace["tmp"]):
        code, out, err = cli("query", spec, directory + "/", "--format", "json")
    assert code == 1, err
    assert query_installs(json.loads(out))[spec] == {(d, p) for d, p in installs if d == directory}


def test_inventory_query_agrees_with_audit_on_sqlite(
    workspace: dict[str, Any], answers: dict[str, Any], expected: dict[str, Any]
) -> None:
    code, out, err = answers["added"]
    assert code == 0, err
    assert out.count("added: ") == len(workspace["projects"])
    assert answers["sqlite"]["summary"]["projectsScanned"] == len(workspace["projects"])
    assert query_installs(answers["sqlite"]) == both(expected)


def test_inventory_query_agrees_with_audit_on_postgresql(
    workspace: dict[str, Any],
    answers: dict[str, Any],
    expected: dict[str, Any],
    postgres_url: str,  # noqa: F811
) -> None:
    with corpus_environment(workspace["tmp"]):
        code, out, err = cli("inventory", "add", "-r", str(workspace["corpus"]), "--inventory", postgres_url)
        assert code == 0, err
        assert out.count("added: ") == len(workspace["projects"])
        stored = inventory_answer(workspace, answers["asked"], postgres_url)
    assert query_installs(stored) == both(expected)
    assert stored == answers["sqlite"]  # every field, chains included


def test_query_and_inventory_print_the_same_chains(answers: dict[str, Any]) -> None:
    def chains(document: dict[str, Any]) -> dict[tuple[str, str], tuple[Any, ...]]:
        return {
            (key(p["location"]), m["path"]): (m["chain"], m["groups"], m["source"], m["specs"], m["malicious"])
            for p in document["projects"]
            for m in p["matches"]
        }

    files, stored = chains(answers["files"]), chains(answers["sqlite"])
    assert files == stored
    assert len(files) > 100
    assert any(len(chain) > 3 for chain, *_ in files.values())
