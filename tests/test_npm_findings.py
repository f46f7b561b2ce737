"""Matching fidelity against npm itself: for every npm-format lockfile of the corpus, the set of
(package, version, advisory) that npmaudit finds equals the advisory entries of npm 11's own
`npm audit --json` on the same records (recorded with tests/oracle/record_npm_findings.py through
the shared npm-oracle tool; the recordings run here without npm or the network). The records are
as published: many carry several `affected` entries for one package (one per vulnerable range), and
npm-oracle serves them as the registry does, one advisory per (record, package).

npm's report lists, per vulnerable package, its advisories (`via` objects with the advisory's
node-semver range) and the install locations (`nodes`); the pairs on npm's side are the nodes whose
lockfile version is inside an advisory's range. npm-oracle numbers an OSV record by the first seven
hex digits of the SHA-256 of its id; that maps npm's numeric `source` back to the record.
"""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from conftest import FIXTURES
from npmaudit import semver
from npmaudit.advisories.jsondb import AdvisoryIndex, parse_records
from npmaudit.advisories.model import Advisory
from npmaudit.advisories.source import SourceInfo
from npmaudit.auditing.engine import audit
from npmaudit.npm_report.bulk import bulk_index
from npmaudit.project.loader import load_project
from npmaudit.project.model import SourceKind

RECORDINGS = FIXTURES / "npm_findings"
LOCKFILES = FIXTURES / "lockfiles" / "npm"
NOT_REPORTS = {"advisories.jsonl.gz", "bulk_answers.json.gz"}
STEMS = sorted(p.name[: -len(".json.gz")] for p in RECORDINGS.glob("*.json.gz") if p.name not in NOT_REPORTS)


class _Records:
    """The recorded advisory input as an in-memory source."""

    def __init__(self, records: list[dict]) -> None:
        self.index = AdvisoryIndex(parse_records(RECORDINGS / "advisories.jsonl.gz", records))

    def info(self) -> SourceInfo:
        return SourceInfo("test", str(RECORDINGS))

    def advisories_for(self, packages):
        return self.index.lookup(ref.name for ref in packages)


@pytest.fixture(scope="module")
def records() -> list[dict]:
    with gzip.open(RECORDINGS / "advisories.jsonl.gz", "rt", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def _npm_source_id(advisory_id: str) -> int:
    return int(hashlib.sha256(advisory_id.encode()).hexdigest()[:7], 16)


def test_there_is_a_recording_for_every_npm_lockfile():
    assert len(STEMS) == 14
    assert {p.name for p in LOCKFILES.iterdir() if p.is_dir() and p.name != "expected"} == set(STEMS)


@pytest.mark.parametrize("stem", STEMS)
def test_findings_equal_npms(stem: str, records: list[dict]):
    with gzip.open(RECORDINGS / f"{stem}.json.gz", "rt", encoding="utf-8") as stream:
        recording = json.load(stream)
    project = load_project(LOCKFILES / stem)
    by_source = {_npm_source_id(record["id"]): record["id"] for record in records}

    ours = {
        (finding.name, finding.version, record.id)
        for finding in audit(project, [_Records(records)]).findings
        for record in finding.records
    }
    npm = set()
    for vulnerability in recording["report"]["vulnerabilities"].values():
        for via in vulnerability["via"]:
            if not isinstance(via, dict):
                continue  # a meta-vulnerability: the dependent of a vulnerable package
            for location in vulnerability["nodes"]:
                node = project.nodes[location]
                assert node.source is SourceKind.REGISTRY, f"npm flagged a non-registry node {location}"
                if semver.satisfies(node.version, via["range"], loose=True, include_prerelease=True):
                    npm.add((via["name"], node.version, by_source[via["source"]]))
    assert ours == npm


def test_records_with_several_entries_per_package_are_recorded(records: list[dict]):
    """The input is raw: records keep one `affected` entry per range (the case that was missed)."""
    several = {
        record["id"]
        for record in records
        for name in {entry["package"]["name"] for entry in record["affected"]}
        if sum(entry["package"]["name"] == name for entry in record["affected"]) > 1
    }
    assert len(several) >= 40 and {"GHSA-c4w7-xm78-47vh", "GHSA-9vvw-cc9w-f27h"} <= several


def test_bulk_answers_equal_npm_oracles(records: list[dict]):
    """npmaudit's npm-style advisories (npmaudit.npm_report.bulk) are npm-oracle's bulk answers for
    the same records, field for field and in order: one per (record, package), every range and
    listed version joined by " || ", withdrawn records left out. The one difference, on purpose:
    Node Security WG records whose range could not be written as OSV events keep it in
    `database_specific.vulnerable_versions`; npm-oracle reads only events and versions, so it
    serves nothing for them, where npmaudit serves that original node-semver range."""
    with gzip.open(RECORDINGS / "bulk_answers.json.gz", "rt", encoding="utf-8") as stream:
        oracle = json.load(stream)
    ours = bulk_index(Advisory.from_osv(record) for record in records)
    kept_ranges = {
        (entry["package"]["name"], _npm_source_id(record["id"]))
        for record in records
        for entry in record["affected"]
        if not entry.get("ranges") and not entry.get("versions")
    }
    extra = {(name, entry["id"]) for name, entries in ours.items() for entry in entries} - {
        (name, entry["id"]) for name, entries in oracle.items() for entry in entries
    }
    assert extra == kept_ranges and len(kept_ranges) == 4
    without_extra = {
        name: [entry for entry in entries if (name, entry["id"]) not in kept_ranges] for name, entries in ours.items()
    }
    assert {name: entries for name, entries in without_extra.items() if entries} == oracle
