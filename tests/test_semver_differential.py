"""Differential tests: npmaudit.semver against the real node-semver on generated input.

Two blocks:
* recorded: `fixtures/semver/oracle-differential.json` holds inputs and node-semver 7.8.5's
  answers (recorded by running this file as a script, see ORACLE.md). Always runs.
* live: when `node` and a node-semver install are found, a fresh, larger generated set is
  answered by node in one subprocess (JSON on stdin) and compared. Skipped otherwise.

Both modes npm uses are covered: install (no options) and advisory (loose + includePrerelease),
plus the two single flags.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from npmaudit import semver

ORACLE_FILE = Path(__file__).parent / "fixtures" / "semver" / "oracle-differential.json"
MODES = [
    {"loose": False, "includePrerelease": False},
    {"loose": True, "includePrerelease": True},
    {"loose": True, "includePrerelease": False},
    {"loose": False, "includePrerelease": True},
]

# ---------------------------------------------------------------------------------------
# Input generation (deterministic for a given seed).

_PRE = ["alpha", "alpha.1", "beta.2", "0", "rc.1", "1", "alpha.beta", "beta", "rc.10", "pre.0"]
_OPS = ["", "=", ">", ">=", "<", "<=", "~", "~>", "^", "> ", ">= ", "< ", "~ ", "^ ", "v", "=v", ">=v", "<= "]
_ODD_VERSIONS = [
    "v1.2.3", "=1.2.3", " 1.2.3 ", "1.2.3beta", "01.2.3", "1.2.3-01", "v 1.2.3", "= v1.2.3", "1.2", "1",
    "x", "1.2.3.4", "", "foo", "1.2.3-beta+build", "1.2.3+build.5", "1.2.3-alpha.10.beta", "2.0.0-0",
    "0.0.0-0", "0.0.0", "1.2.3\n", "\t2.0.0", "1.2.3-Beta", "1.2.3-alpha-1", "9007199254740991.0.0",
    "9007199254740992.0.0", "1.2.3-9007199254740991", "1.0.0-rc.1", "3.0.0-alpha", "1.2.3-0.5",
]  # fmt: skip
_ODD_RANGES = [
    "*", "", "x", "X", "x.x.x", ">=0.0.0", ">=0.0.0-0", "<0.0.0-0", "<0.0.0", "||", " || 1.2.3", "1.2.3 ||",
    "blerg", ">01.2.3", "~1.2.3beta", "^0.0.1", "^0.1", "^0", "~0", "^0.0", "^0.0.x", "~>1.2", "~> 1",
    "1.2.3 - 2.3", "1.2 - 2.3.4", "1.x - 2.x", "* - 1.2.3", "1.2.3 - *", "1.2.3-beta - 2.0.0-rc.1",
    ">1.2.3-alpha <1.2.3", ">=1.2.3-beta <1.2.3 || >=2.0.0-0", "<=1.2.x", ">1.x", "<1.2", ">=1.2.x",
    "=1.x", "1.2.3 1.2.3", "1.2.3 || 1.2.3", ">=1.0.0 <1.0.0", ">1.0.0 <=1.0.0", ">= 1.2.3 < 2", "^ 1.2.3",
    "~ 1.2.3", "> 1.2.3 < 1.2.5", "1.2.3+build", "^1.2.3+build", ">=1.2.3 || *", "<2.0.0 >=1.0.0 || x",
    "1.2.*", "1.*.3", "*.1", "1.2.3-*", ">1.2.3-0", "<1.2.3-0", ">=1.2.3 <1.2.3-0", "=v1.2.3", "v1.2",
    "~v1.2.3", "^v1.2.3", "1.2.3 - 1.2.4 || 2", "1 - 2 - 3", "1.2.3  -  2.3.4", "\t1.2.3\n|| 2.x ",
    ">=9007199254740991.0.0", "^9007199254740991", "~1.2.3-beta.1", "^1.2.3-beta.1", "^0.0.1-beta",
    "~0.0.1-beta", ">=1.2.3 <=1.2.3", "<=1.2.3 >=1.2.3", ">1.2.3 <1.2.4", "<1.2.3 >1.2.4", "1.2.3 - 1.2.3",
    "<0.1.0 >=0.0.1-0", ">=1 <2 || >=3 <4", "<=0.0.0", "<=0.0.0-0", ">=0.0.0 <0.0.1", "1.2.3-01",
    "~1.2.3-01", ">=01.02.03", "^01.2.3", "~1.02", ">1.2.3beta", "1.2.3beta - 2", "*1.2.3", "1.2.3*",
]  # fmt: skip


def _partial_version(rng: random.Random) -> str:
    parts = [str(rng.randint(0, 3))]
    for _ in range(rng.choice([0, 1, 2, 2, 2])):
        parts.append(rng.choice(["0", "1", "2", "3", "x", "X", "*"]) if rng.random() < 0.2 else str(rng.randint(0, 3)))
    text = ".".join(parts)
    if len(parts) == 3 and rng.random() < 0.3:
        text += "-" + rng.choice(_PRE)
    if rng.random() < 0.05:
        text += "+b1"
    return text


def _atom(rng: random.Random) -> str:
    if rng.random() < 0.12:
        return f"{_partial_version(rng)} - {_partial_version(rng)}"
    return rng.choice(_OPS) + _partial_version(rng)


def generate_ranges(rng: random.Random, count: int, real: list[str]) -> list[str]:
    ranges = list(_ODD_RANGES) + rng.sample(real, min(len(real), count // 4))
    while len(ranges) < count:
        sets = [" ".join(_atom(rng) for _ in range(rng.choice([1, 1, 2, 2, 3]))) for _ in range(rng.choice([1, 1, 2]))]
        ranges.append(" || ".join(sets))
    return list(dict.fromkeys(ranges))


def generate_versions(rng: random.Random, count: int) -> list[str]:
    versions = list(_ODD_VERSIONS)
    while len(versions) < count:
        text = f"{rng.randint(0, 4)}.{rng.randint(0, 4)}.{rng.randint(0, 4)}"
        if rng.random() < 0.35:
            text += "-" + rng.choice(_PRE)
        if rng.random() < 0.05:
            text += "+build"
        versions.append(text)
    return list(dict.fromkeys(versions))


def _real_ranges() -> list[str]:
    """Real advisory ranges recorded in the oracle file (nodejs/security-wg, MIT)."""
    return json.loads(ORACLE_FILE.read_text())["inputs"]["real_ranges"] if ORACLE_FILE.exists() else []


# ---------------------------------------------------------------------------------------
# The questions asked of both implementations.


def _flag(fn: Any, a: str, b: str, opts: dict[str, bool]) -> str:
    """'1'/'0' for the answer, 'E' where node-semver throws."""
    try:
        return "1" if fn(a, b, **opts) else "0"
    except semver.SemverError:
        return "E"


def python_answers(inputs: dict[str, Any]) -> dict[str, Any]:
    versions, ranges, pairs = inputs["versions"], inputs["ranges"], inputs["range_pairs"]
    out: dict[str, Any] = {}
    for mode in MODES:
        opts = {"loose": mode["loose"], "include_prerelease": mode["includePrerelease"]}
        key = _mode_key(mode)
        valid_versions = [v for v in versions if semver.valid(v, loose=opts["loose"]) is not None]
        out[key] = {
            "valid": [semver.valid(v, loose=opts["loose"]) for v in versions],
            "valid_range": [semver.valid_range(r, **opts) for r in ranges],
            "satisfies": ["".join("1" if semver.satisfies(v, r, **opts) else "0" for v in versions) for r in ranges],
            "max_satisfying": [semver.max_satisfying(versions, r, **opts) for r in ranges],
            "min_satisfying": [semver.min_satisfying(versions, r, **opts) for r in ranges],
            "simplify": [semver.simplify_range(valid_versions, r, **opts) for r in ranges],
            "gtr": ["".join(_flag(semver.gtr, v, r, opts) for v in versions) for r in ranges],
            "ltr": ["".join(_flag(semver.ltr, v, r, opts) for v in versions) for r in ranges],
            "intersects": "".join(_flag(semver.intersects, a, b, opts) for a, b in pairs),
            "subset": "".join(_flag(semver.subset, a, b, opts) for a, b in pairs),
            "sort": semver.sort_versions(valid_versions, loose=opts["loose"]),
        }
    return out


def _mode_key(mode: dict[str, bool]) -> str:
    return f"loose={int(mode['loose'])},includePrerelease={int(mode['includePrerelease'])}"


_NODE_SCRIPT = r"""
const semver = require(process.argv[1]);
const inputs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const flag = (fn) => { try { return fn() ? '1' : '0' } catch (e) { return 'E' } };
const out = {};
for (const mode of inputs.modes) {
  const { versions, ranges, range_pairs: pairs } = inputs;
  const validVersions = versions.filter(v => semver.valid(v, mode) !== null);
  out[`loose=${+mode.loose},includePrerelease=${+mode.includePrerelease}`] = {
    valid: versions.map(v => semver.valid(v, mode)),
    valid_range: ranges.map(r => semver.validRange(r, mode)),
    satisfies: ranges.map(r => versions.map(v => semver.satisfies(v, r, mode) ? '1' : '0').join('')),
    max_satisfying: ranges.map(r => semver.maxSatisfying(versions, r, mode)),
    min_satisfying: ranges.map(r => semver.minSatisfying(versions, r, mode)),
    simplify: ranges.map(r => semver.simplifyRange([...validVersions], r, mode)),
    gtr: ranges.map(r => versions.map(v => flag(() => semver.gtr(v, r, mode))).join('')),
    ltr: ranges.map(r => versions.map(v => flag(() => semver.ltr(v, r, mode))).join('')),
    intersects: pairs.map(([a, b]) => flag(() => semver.intersects(a, b, mode))).join(''),
    subset: pairs.map(([a, b]) => flag(() => semver.subset(a, b, mode))).join(''),
    sort: semver.sort([...validVersions], mode.loose),
  };
}
out.version = require(process.argv[1] + '/package.json').version;
process.stdout.write(JSON.stringify(out));
"""


def find_node_semver() -> tuple[str, str] | None:
    """(node executable, node-semver directory), or None. NPMAUDIT_NODE_SEMVER overrides."""
    node = shutil.which("node")
    if node is None:
        return None
    candidate = os.environ.get("NPMAUDIT_NODE_SEMVER")
    if not candidate:
        npm = shutil.which("npm")
        if npm is None:
            return None
        try:
            root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=60, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        candidate = str(Path(root.stdout.strip()) / "npm" / "node_modules" / "semver")
    return (node, candidate) if (Path(candidate) / "package.json").exists() else None


def node_answers(node: str, semver_dir: str, inputs: dict[str, Any]) -> dict[str, Any]:
    payload = json.dumps({**inputs, "modes": MODES})
    result = subprocess.run(
        [node, "-e", _NODE_SCRIPT, semver_dir], input=payload, capture_output=True, text=True, timeout=600, check=True
    )
    return json.loads(result.stdout)


def make_inputs(seed: int, n_ranges: int, n_versions: int, n_pairs: int, real: list[str]) -> dict[str, Any]:
    rng = random.Random(seed)
    ranges = generate_ranges(rng, n_ranges, real)
    versions = generate_versions(rng, n_versions)
    pairs = [[rng.choice(ranges), rng.choice(ranges)] for _ in range(n_pairs)]
    return {"ranges": ranges, "versions": versions, "range_pairs": pairs}


def disagreements(expected: dict[str, Any], actual: dict[str, Any], inputs: dict[str, Any]) -> list[str]:
    """Human-readable differences, naming the range/version concerned."""
    problems = []
    for mode in MODES:
        key = _mode_key(mode)
        for question, want in expected[key].items():
            got = actual[key][question]
            if want == got:
                continue
            if question in ("satisfies", "gtr", "ltr"):
                for r, w, g in zip(inputs["ranges"], want, got, strict=True):
                    for v, wc, gc in zip(inputs["versions"], w, g, strict=True):
                        if wc != gc:
                            problems.append(f"{key} {question}({v!r}, {r!r}): node={wc} ours={gc}")
            elif question in ("intersects", "subset"):
                for (a, b), wc, gc in zip(inputs["range_pairs"], want, got, strict=True):
                    if wc != gc:
                        problems.append(f"{key} {question}({a!r}, {b!r}): node={wc} ours={gc}")
            elif question == "sort":
                problems.append(f"{key} sort: node={want} ours={got}")
            else:
                items = inputs["versions"] if question == "valid" else inputs["ranges"]
                for item, w, g in zip(items, want, got, strict=True):
                    if w != g:
                        problems.append(f"{key} {question}({item!r}): node={w!r} ours={g!r}")
    return problems


# ---------------------------------------------------------------------------------------
# Tests


def test_recorded_node_semver_answers() -> None:
    recorded = json.loads(ORACLE_FILE.read_text())
    inputs = recorded["inputs"]
    assert recorded["answers"]["version"] == "7.8.5"
    pairs = len(inputs["ranges"]) * len(inputs["versions"])
    assert pairs >= 3000, "the recorded oracle should cover a few thousand (version, range) pairs"
    problems = disagreements(recorded["answers"], python_answers(inputs), inputs)
    assert not problems, "\n".join(problems[:40])


LIVE = find_node_semver()


@pytest.mark.skipif(LIVE is None, reason="node and node-semver are not installed")
def test_live_node_semver_agrees() -> None:
    assert LIVE is not None
    inputs = make_inputs(seed=20260901, n_ranges=200, n_versions=80, n_pairs=500, real=_real_ranges())
    expected = node_answers(*LIVE, inputs)
    expected.pop("version")
    problems = disagreements(expected, python_answers(inputs), inputs)
    assert not problems, f"{len(problems)} disagreements:\n" + "\n".join(problems[:40])


@pytest.mark.skipif(LIVE is None, reason="node and node-semver are not installed")
def test_recorded_answers_are_node_semvers() -> None:
    """The recorded file must still be what node-semver says (catches a stale recording)."""
    assert LIVE is not None
    recorded = json.loads(ORACLE_FILE.read_text())
    assert node_answers(*LIVE, recorded["inputs"]) == recorded["answers"]


def record(real_ranges_source: Path) -> None:
    """Regenerate the recorded oracle: python tests/test_semver_differential.py <nsp-original.jsonl.gz>."""
    import gzip

    with gzip.open(real_ranges_source, "rt", encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh if line.strip()]
    real = sorted({d[k] for d in docs for k in ("vulnerable_versions", "patched_versions") if d.get(k)})
    real = random.Random(7).sample(real, 120)
    inputs = make_inputs(seed=1, n_ranges=150, n_versions=60, n_pairs=300, real=real)
    inputs["real_ranges"] = real
    live = find_node_semver()
    if live is None:
        raise SystemExit("node and node-semver are needed to record the oracle")
    answers = node_answers(*live, inputs)
    tmp = ORACLE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps({"inputs": inputs, "answers": answers}, separators=(",", ":")) + "\n")
    os.replace(tmp, ORACLE_FILE)


if __name__ == "__main__":
    record(Path(sys.argv[1]))
