"""npm's metavuln-calculator (``@npmcli/metavuln-calculator`` 9.x, bundled with npm 11), in Python.

An :class:`NpmAdvisory` is either a real advisory for a package (type ``advisory``) or a
*meta-vulnerability*: "this dependent can only install vulnerable versions of that dependency"
(type ``metavuln``). Both compute which published versions are vulnerable, with the library's own
heuristics copied on purpose, because npm's report depends on them:

* ``_test_versions`` tests only the ends of each ``major.minor`` group and bisects; when both ends
  are vulnerable the whole group is marked without testing, so holes inside a series are missed.
* ``test_version`` is memoised by version string only (the spec passed the first time wins).
* a metavuln's range is built from runs of vulnerable versions, stepping over prereleases, then
  passed through ``simplify_range``.

The calculator here always behaves like npm with an empty cache (every version is tested), which
is what a fresh ``npm audit`` does and what the recordings were made with.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from npmaudit import semver

_OPTS = semver.ADVISORY_OPTIONS  # metavuln-calculator's {includePrerelease: true, loose: true}
_PRERELEASE = re.compile("-")


def _hash(name: str, source: Any) -> str:
    """metavuln-calculator's hash.js: base64 SHA-512 of JSON.stringify([name, source])."""
    text = json.dumps([name, source], separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a lockfile's "\ud800" escape must not crash the hash (JSON.stringify escapes it)
    return base64.b64encode(hashlib.sha512(text.encode("utf-8", "surrogatepass")).digest()).decode()


@functools.lru_cache(maxsize=65536)
def _parsed(version: str) -> semver.Version | None:
    return semver.parse_version(version, loose=True)


@functools.lru_cache(maxsize=65536)
def _build_key(version: str) -> tuple[Any, ...]:
    """A sort key equal in order to ``semver.compareBuild(a, b, {loose: true})``: precedence, then
    build identifiers (numeric before alphanumeric, as node-semver's compareIdentifiers)."""
    parsed = _parsed(version)
    assert parsed is not None
    build = tuple((0, int(b), "") if b.isdigit() else (1, 0, b) for b in parsed.build)
    return (parsed._key, build)


def sort_versions(versions: list[str]) -> list[str]:
    """``semver.sort(versions, {loose, includePrerelease})``; unparsable versions are dropped
    (npm would throw on them and fail the whole audit)."""
    return sorted((v for v in versions if _parsed(v) is not None), key=_build_key)


def dep_spec(manifest: dict[str, Any], name: str) -> str | None:
    """get-dep-spec.js: the spec in dependencies, then optionalDependencies, then peerDependencies."""
    for field in ("dependencies", "optionalDependencies", "peerDependencies"):
        deps = manifest.get(field)
        spec = deps.get(name) if isinstance(deps, dict) else None
        if isinstance(spec, str):
            return spec
    return None


class NpmAdvisory:
    """One (package, source) pair: metavuln-calculator's ``Advisory`` class."""

    def __init__(self, name: str, source: dict[str, Any] | NpmAdvisory) -> None:
        self._source = source
        self.name = name
        self.id: str
        self.severity: str
        self.cwe: Any
        self.cvss: Any
        if isinstance(source, NpmAdvisory):
            self.source: Any = source.id
            self.dependency = source.name
            self.severity = source.severity or "high"
            self.cwe = source.cwe
            self.cvss = source.cvss
        else:
            self.source = source.get("id")
            if not source.get("name"):
                source["name"] = name  # the library mutates the bulk object the same way
            self.dependency = source["name"]
            self.severity = source.get("severity") or "high"
            self.cwe = source.get("cwe")
            self.cvss = source.get("cvss")
        if self.type == "advisory":
            assert isinstance(source, dict)
            self.title: str | None = source.get("title")
            self.url: str | None = source.get("url")
            self.range: str | None = source.get("vulnerable_versions") or "*"
        else:
            self.title = f"Depends on vulnerable versions of {self.dependency}"
            self.url = None
            self.range = None
        self.id = _hash(self.name, self.source)
        self.versions: list[str] = []
        self.vulnerable_versions: list[str] = []
        self._vulnerable_set: set[str] = set()
        self.packument: dict[str, Any] | None = None
        self._version_memo: dict[str, bool] = {}
        self._spec_memo: dict[str, bool] = {}

    @property
    def type(self) -> str:
        return "advisory" if self.dependency == self.name else "metavuln"

    # -- loading ---------------------------------------------------------------------------

    def load(self, packument: dict[str, Any]) -> None:
        """``load({}, packument)``: an empty cache, so every version is (heuristically) tested."""
        self.packument = packument
        self.versions = sort_versions(list((packument.get("versions") or {}).keys()))
        self.vulnerable_versions = []
        self._vulnerable_set = set()
        self._test_versions(self.versions)
        self.vulnerable_versions = sort_versions(self.vulnerable_versions)
        if self.type == "metavuln":
            self._calculate_range()

    def _calculate_range(self) -> None:
        ranges = []
        versions = self.versions = sort_versions(self.versions)
        vulnerable = self.vulnerable_versions = sort_versions(self.vulnerable_versions)
        v = 0
        vuln_index = 0
        while v < len(versions):
            run = [versions[v]]
            while v < len(versions):
                current = versions[v]
                if vuln_index >= len(vulnerable) or current != vulnerable[vuln_index]:
                    if "-" in current:  # prereleases are not tested, so they do not break a run
                        v += 1
                        continue
                    break
                if len(run) > 1:
                    run[1] = current
                else:
                    run.append(current)
                v += 1
                vuln_index += 1
            if len(run) > 1:
                tail = versions[-1]
                if run[1] == tail:
                    ranges.append(f">={run[0]}")
                elif run[0] == run[1]:
                    ranges.append(run[0])
                else:
                    ranges.append(f"{run[0]} - {run[1]}")
            v += 1
        metavuln = " || ".join(ranges).strip()
        self.range = semver.simplify_range(self.versions, metavuln, **_OPTS) if metavuln else "<0.0.0-0"

    # -- testing ---------------------------------------------------------------------------

    def test_version(self, version: str, spec: str | None = None) -> bool:
        key = str(version)
        memo = self._version_memo.get(key)
        if memo is not None:
            return memo
        result = self._test_version(key, spec)
        if result:
            self._mark_vulnerable(key)
        self._version_memo[key] = bool(result)
        return bool(result)

    def _mark_vulnerable(self, version: str) -> None:
        if version not in self._vulnerable_set:
            self._vulnerable_set.add(version)
            self.vulnerable_versions.append(version)

    def _test_version(self, version: str, spec: str | None) -> bool:
        if version in self._vulnerable_set:
            return True
        if self.type == "advisory":
            assert self.range is not None
            return semver.satisfies(version, self.range, **_OPTS)
        versions = (self.packument or {}).get("versions") or {}
        manifest = versions.get(version)
        if not isinstance(manifest, dict):
            manifest = {"dependencies": {self.dependency: spec}}
        if not spec:
            spec = dep_spec(manifest, self.dependency)
        if spec is None:
            return False
        if semver.valid_range(spec, **_OPTS) is None:
            return True  # git, tag, alias...: nothing can be said, so it counts as vulnerable
        source = self._source
        assert isinstance(source, NpmAdvisory)
        bundled = manifest.get("bundleDependencies")
        if isinstance(bundled, list) and source.name in bundled:
            return semver.intersects(spec, source.range or "", **_OPTS)
        return source.test_spec(spec)

    def test_spec(self, spec: str) -> bool:
        """True when no version satisfying ``spec`` is safe (or none satisfies it at all)."""
        memo = self._spec_memo.get(spec)
        if memo is not None:
            return memo
        result = True
        for version in self.versions:
            if semver.satisfies(version, spec, **_OPTS) and not self.test_version(version):
                result = False
                break
        self._spec_memo[spec] = result
        return result

    def _test_versions(self, versions: list[str]) -> None:
        """The bisecting bulk test, copied with its false positives (see the module docstring)."""
        if not versions:
            return
        parsed = sorted((p.version for v in versions if (p := _parsed(v)) is not None), key=_build_key)
        if not parsed:
            return
        groups: list[list[str]] = []
        last: tuple[int, int] | None = None
        for version in parsed:
            p = _parsed(version)
            assert p is not None
            key = (p.major, p.minor)
            if key != last:
                last = key
                groups.append([])
            groups[-1].append(version)
        test = self.test_version
        mark = self._mark_vulnerable
        index = 0
        while index < len(groups):  # groups appended while looping are visited too (a JS Set)
            group = groups[index]
            index += 1
            h = 0
            orig_head_vuln = test(group[h])
            while h < len(group) and "-" in group[h]:
                h += 1
            if h == len(group):
                h = 0
            elif orig_head_vuln:
                for hh in range(h):
                    mark(group[hh])
            t = len(group) - 1
            orig_tail_vuln = test(group[t])
            while t > h and "-" in group[t]:
                t -= 1
            if t == h:
                t = len(group) - 1
            elif orig_tail_vuln:
                for tt in range(len(group) - 1, t, -1):
                    mark(group[tt])
            head_vuln = orig_head_vuln if h == 0 else test(group[h])
            tail_vuln = orig_tail_vuln if t == len(group) - 1 else test(group[t])
            if head_vuln and tail_vuln:
                for v in range(h, t):
                    mark(group[v])
                continue
            if t < h + 2:
                continue
            mid = len(group) // 2
            pre = group[:mid]
            post = group[mid:]
            if "-" not in pre[0]:
                mid_vuln = test(pre[-1])
                while pre and "-" in pre[-1]:
                    popped = pre.pop()
                    if mid_vuln:
                        mark(popped)
            if "-" not in post[-1]:
                mid_vuln = test(post[0])
                while post and "-" in post[0]:
                    shifted = post.pop(0)
                    if mid_vuln:
                        mark(shifted)
            groups.append(pre)
            groups.append(post)


PackumentGetter = Callable[[str], "dict[str, Any] | None"]


class Calculator:
    """Memoises one :class:`NpmAdvisory` per (package, source id), as the library does, so that the
    same pair always yields the same object (that identity is what de-duplicates npm's advisory set)."""

    def __init__(self, packument: PackumentGetter) -> None:
        self._get_packument = packument
        self._packuments: dict[str, dict[str, Any]] = {}
        self._advisories: dict[str, NpmAdvisory] = {}

    def is_calculated(self, name: str, source: dict[str, Any] | NpmAdvisory) -> bool:
        return self._key(name, source) in self._advisories

    @staticmethod
    def _key(name: str, source: dict[str, Any] | NpmAdvisory) -> str:
        source_id = source.id if isinstance(source, NpmAdvisory) else source.get("id")
        return f"security-advisory:{name}:{source_id}"

    def calculate(self, name: str, source: dict[str, Any] | NpmAdvisory) -> NpmAdvisory:
        key = self._key(name, source)
        found = self._advisories.get(key)
        if found is not None:
            return found
        advisory = NpmAdvisory(name, source)
        advisory.load(self.packument(name))
        self._advisories[key] = advisory
        return advisory

    def has_packument(self, name: str) -> bool:
        return name in self._packuments

    def packument(self, name: str) -> dict[str, Any]:
        """The packument, or ``{name, versions: {}}`` when there is none (npm's fallback on any
        fetch failure: every version then counts as vulnerable, the range becomes "")."""
        found = self._packuments.get(name)
        if found is None:
            fetched = self._get_packument(name)
            found = fetched if isinstance(fetched, dict) else {"name": name, "versions": {}}
            self._packuments[name] = found
        return found
