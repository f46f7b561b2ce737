"""The JSON writer that replaces the standard library's pure-Python indenting encoder writes its very
bytes: report/json_indent.py (every document indented by 2). Checked on the report of every lockfile
of the fixtures, on every code point, on a sweep of numbers and on the values it cannot write at all
(the standard library decides)."""

from __future__ import annotations

import json
import math
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from ci_helpers import write_database
from conftest import FIXTURES
from lockfile_corpus import corpus, corpus_id, materialise
from npmaudit.advisories.local import open_local_database
from npmaudit.advisories.source import AdvisorySource
from npmaudit.auditing.run import run_audit
from npmaudit.report import json_report
from npmaudit.report.json_indent import indented
from npmaudit.report.safe_text import safe_json_dumps, safe_json_text
from npmaudit.settings import Settings


def standard(value: Any) -> str:
    """What the report wrote before the faster writers: the standard library, then the escapes."""
    return safe_json_text(json.dumps(value, indent=2, ensure_ascii=False))


def plain(value: Any) -> str:
    """The standard library's text, before the escapes (which every writer's text goes through alike)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


@pytest.fixture(scope="module")
def corpus_source(tmp_path_factory: pytest.TempPathFactory) -> AdvisorySource:
    """Malicious-package records, the GitHub advisories and the synthetic ones on common packages:
    findings (with chains, aliases, fixed versions) in most trees of the corpus."""
    folder = tmp_path_factory.mktemp("db")
    ghsa = FIXTURES / "osv" / "online" / "npm-ghsa.jsonl.gz"
    path = write_database(folder / "corpus.jsonl", ghsa, FIXTURES / "osv" / "store" / "npm-malicious-sample.jsonl.gz")
    path.write_text(path.read_text() + (FIXTURES / "npm_oracle" / "advisories" / "synthetic.jsonl").read_text())
    return open_local_database(path)


@pytest.mark.parametrize("fixture", corpus(), ids=corpus_id)
def test_the_report_of_every_lockfile_is_the_standard_librarys(
    fixture: Path, corpus_source: AdvisorySource, tmp_path: Path
) -> None:
    lockfile = materialise(fixture, tmp_path)
    settings = Settings(cache_dir=tmp_path / "cache", local=True, allow_unchecked=True)
    if lockfile.name == "node_modules":
        outcome = run_audit(lockfile.parent, settings, lockfile=lockfile, sources=[corpus_source])
    else:
        outcome = run_audit(lockfile, settings, sources=[corpus_source])
    document = json_report.document(outcome)
    assert indented(document) == plain(document)
    assert json_report.render(outcome) == standard(document) + "\n"


def test_some_reports_of_the_corpus_hold_findings_with_chains(corpus_source: AdvisorySource, tmp_path: Path) -> None:
    """The comparison above is worth something: the largest lockfile's report holds findings."""
    lockfile = FIXTURES / "lockfiles" / "npm" / "facebook__create-react-app" / "package-lock.json"
    outcome = run_audit(lockfile, Settings(cache_dir=tmp_path, local=True), sources=[corpus_source])
    findings = json.loads(json_report.render(outcome))["findings"]
    assert len(findings) > 20
    assert any(len(chain) > 3 for finding in findings for chain in finding["chains"])


def test_every_code_point_in_keys_and_values() -> None:
    """Every code point but the surrogates, as keys and values, escaped or raw alike; a lone surrogate
    too (then escaped)."""
    chunk = 4096
    last = sys.maxunicode + 1
    for start in range(0, last, chunk):
        text = "".join(chr(c) for c in range(start, min(start + chunk, last)) if not 0xD800 <= c <= 0xDFFF)
        if not text:
            continue
        value = {text: [text, {"k": text}], "a" + text[:7]: text[::-1]}
        assert indented(value) == plain(value)
    lone = {"name": "x\ud800y"}
    assert indented(lone) == plain(lone)
    assert safe_json_dumps(lone) == standard(lone)


def _floats() -> list[float]:
    values = [0.0, -0.0, 1.0, 0.1, 12.345, 5e-324, 1.7976931348623157e308]
    for exponent in range(-323, 308):
        for mantissa in (1.0, 2.5, 9.999, 1.2345678901234567):
            values.extend((mantissa * float(f"1e{exponent}"), -mantissa * float(f"1e{exponent}")))
    return values


def test_every_float_is_written_as_the_standard_library_writes_it() -> None:
    for number in _floats():
        value = {"days": number, "list": [number], number: 1}
        assert indented(value) == plain(value), number
    not_finite = {"nan": math.nan, "list": [math.inf, -math.inf], math.inf: 1}
    assert indented(not_finite) == plain(not_finite)
    assert safe_json_dumps(not_finite) == standard(not_finite)


class Kind(StrEnum):
    A = "alpha"


@pytest.mark.parametrize(
    "value",
    [
        {"big": 2**64, "small": -(2**63) - 1},  # beyond 64 bits
        {2: "int key", None: "none key", True: "bool key", 0.5: "float key"},  # keys that are not strings
        {"nested": [[[[[[[[]]]]]]]], "empty": {}, "emptyList": [], "tuple": (1, "a", None, False)},
        {"enum": Kind.A, Kind.A: 1},
        {"deep": json.loads("[" * 300 + "]" * 300)},
        [],
        "top-level string",
    ],
    ids=["huge-int", "non-str-keys", "containers", "str-enum", "deep", "empty-list", "string"],
)
def test_values_the_writers_cannot_write_or_write_alike(value: Any) -> None:
    assert safe_json_dumps(value) == standard(value)
    assert indented(value) in (None, plain(value))


class Unknown:
    pass


def test_what_the_standard_library_refuses_it_still_refuses() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    for value, error in (({"a": Unknown()}, TypeError), ({(1, 2): "tuple key"}, TypeError), (cycle, ValueError)):
        assert indented(value) is None
        with pytest.raises(error):
            safe_json_dumps(value)


def test_other_indents_and_callers_are_the_standard_librarys() -> None:
    value = {"a": [1, {"b": "\u202e"}], "f": 1e-05}
    assert safe_json_dumps(value, indent=None) == safe_json_text(json.dumps(value, ensure_ascii=False))
    assert safe_json_dumps(value) == standard(value)
    assert "\\u202e" in safe_json_dumps(value)  # the escapes are still made
