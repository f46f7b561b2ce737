"""Workspace globs: minimatch's verdicts (recorded from npm 11's minimatch), without backtracking."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest

from npmaudit.project.globs import GlobTooComplex, compile_glob, expand_braces, glob_match, matching_folders
from npmaudit.project.readers.npm.workspaces import (
    IN_NODE_MODULES,
    MAX_GLOB_MATCHES,
    TooManyWorkspaceGlobs,
    in_node_modules,
    map_workspaces,
)

ORACLE = json.loads((Path(__file__).parent / "fixtures" / "globs" / "minimatch.json").read_text())
EXTGLOB = "packages/@(a|b)"  # extglobs are not supported (documented): their characters match literally


def test_every_recorded_verdict_of_minimatch() -> None:
    wrong = [
        (pattern, path, verdict)
        for pattern, verdicts in zip(ORACLE["patterns"], ORACLE["matches"], strict=True)
        for path, verdict in zip(ORACLE["paths"], verdicts, strict=True)
        if pattern != EXTGLOB and glob_match(path, pattern) != verdict
    ]
    assert wrong == []
    assert len(ORACLE["patterns"]) * len(ORACLE["paths"]) > 4000


@pytest.mark.parametrize(("pattern", "expected"), ORACLE["expansions"])
def test_brace_expansion_equals_brace_expansions(pattern: str, expected: list[str]) -> None:
    assert expand_braces(pattern, 10_000) == expected


def test_the_pattern_that_ran_for_minutes_is_matched_at_once() -> None:
    started = time.perf_counter()
    for length in range(1, 200):
        assert not glob_match("a" * length, "*a*a*a*a*a*a*a*a*a*a*a*a*b")
    assert glob_match("a" * 40 + "b", "*a*a*a*a*a*a*a*a*a*a*a*a*b")
    assert time.perf_counter() - started < 1.5  # minutes before the fix; generous for a loaded machine


@pytest.mark.parametrize(
    "pattern",
    [
        "{a,b}" * 200,  # 2^200 expansions for brace-expansion (which stops at 100,000)
        "{1..99999999}",  # a hundred million
        "{1..1}" * 1000,  # one expansion, but a thousand groups to rescan
        "{a," * 2000 + "}" * 2000,  # nested two thousand deep
    ],
    ids=["doubling", "sequence", "many-groups", "deep"],
)
def test_braces_past_the_budget_are_refused_at_once(pattern: str) -> None:
    started = time.perf_counter()
    with pytest.raises(GlobTooComplex):
        compile_glob(pattern)
    assert time.perf_counter() - started < 1.5  # minutes before the fix; generous for a loaded machine


def test_unclosed_braces_cost_one_scan() -> None:
    started = time.perf_counter()
    assert compile_glob("{" * 30_000 + "a,b}").match("{" * 29_999 + "b")
    assert time.perf_counter() - started < 1.5  # minutes before the fix; generous for a loaded machine


def test_real_brace_patterns_fit_the_budget() -> None:
    glob = compile_glob("{apps,packages,tools,libs}/{*,*/*,@*/*}")
    assert glob.match("packages/a") and glob.match("libs/@s/x") and not glob.match("docs/a")
    assert glob_match("x" * 500, "{" + ",".join(f"{c}*" for c in "abcdefghijklmnopqrstuvwxyz") + "}")


def test_pattern_times_folder_work_past_the_budget_is_refused_before_matching() -> None:
    folders = [f"p/{i}" for i in range(MAX_GLOB_MATCHES // 10)]
    started = time.perf_counter()
    with pytest.raises(TooManyWorkspaceGlobs, match="would take more than"):
        map_workspaces(["{a,b}" * 6 + "/*"], folders, lambda folder: folder)  # 64 expansions per folder
    with pytest.raises(TooManyWorkspaceGlobs, match=r'^"workspaces": a pattern whose braces expand'):
        map_workspaces(["{a,b}" * 30], folders[:10], lambda folder: folder)
    assert time.perf_counter() - started < 1.5  # minutes before the fix; generous for a loaded machine
    found = map_workspaces(["p/1", "p/2?"], folders[:100], lambda folder: folder)
    assert sorted(found) == ["p/1", *(f"p/2{i}" for i in range(10))]


def test_folders_on_disk_are_found_as_node_glob_walks_them(tmp_path: Path) -> None:
    for folder in [
        "packages/a",
        "packages/b/sub",
        "packages/.hidden",
        "packages/node_modules/x",
        "apps/web",
        "apps/api",
    ]:
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "linked").symlink_to(tmp_path / "apps")
    assert matching_folders(tmp_path, "packages/*") == ["packages/a", "packages/b", "packages/node_modules"]
    assert matching_folders(tmp_path, "packages/**") == ["packages/a", "packages/b", "packages/b/sub"]
    assert matching_folders(tmp_path, "{apps,linked}/{web,api}") == ["apps/api", "apps/web", "linked/api", "linked/web"]
    assert matching_folders(tmp_path, "**/sub") == ["packages/b/sub"]  # ** crosses no link, dot or node_modules
    assert matching_folders(tmp_path, "packages/.hidden") == ["packages/.hidden"]
    assert matching_folders(tmp_path, "missing/*") == []
    (tmp_path / ("a" * 40)).mkdir()
    started = time.perf_counter()
    assert matching_folders(tmp_path, "*a*a*a*a*a*a*a*a*a*a*a*a*b") == []  # Python 3.13's own glob hangs on it
    assert time.perf_counter() - started < 1.5  # minutes before the fix; generous for a loaded machine


def test_the_node_modules_exclusion_gives_the_globs_verdict_on_every_path() -> None:
    names = ["node_modules", "a", "@s", ".bin", ".", "..", "", "node_modules.x", "x.node_modules"]
    paths = [*ORACLE["paths"], "//node_modules/a", "node_modules//a", "a/node_modules//", "/node_modules/a"]
    for length in range(1, 5):
        paths.extend("/".join(parts) for parts in itertools.product(names, repeat=length))
    glob = compile_glob(IN_NODE_MODULES)
    differing = [path for path in paths if in_node_modules(path) != glob.match(path)]
    assert differing == []
    assert sum(map(in_node_modules, paths)) > 500  # both verdicts are well represented
    assert len(paths) - sum(map(in_node_modules, paths)) > 500
