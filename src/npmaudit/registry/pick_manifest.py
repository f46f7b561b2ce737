"""npm-pick-manifest (11.x), the part npm audit uses to say which version would fix a vulnerability.

Only what ``fixAvailable`` needs: version, range and tag specs, the ``avoid`` range with
``avoidStrict`` (try the spec, then ``^<picked>``, then ``*``), the preference for the ``latest``
dist-tag, and the ordering (not avoided, not deprecated and engine-compatible, engine-compatible,
not deprecated, highest version). No ``before`` (audit passes ``before: null``), no staged or
policy-restricted versions (the public registry's abbreviated packuments carry neither).
"""

from __future__ import annotations

import functools
from typing import Any

from npmaudit import semver
from npmaudit.project.readers.npm.spec import SpecType, spec_type
from npmaudit.records import record_class

_AVOID_OPTS = {"include_prerelease": True, "loose": True}


class NoMatchingVersion(Exception):
    """ETARGET: nothing in the packument fits (or everything fitting is to be avoided)."""


@record_class(frozen=True)
class Engines:
    """The node and npm versions npm compares ``engines`` with (npm passes its own and node's)."""

    node: str | None = "v20.20.2"
    npm: str | None = "11.19.1"


def _engine_ok(manifest: dict[str, Any], engines: Engines) -> bool:
    required = manifest.get("engines")
    if not isinstance(required, dict):
        return True
    opts = {"include_prerelease": True}
    node_req, npm_req = required.get("node"), required.get("npm")
    if engines.node and node_req and not semver.satisfies(engines.node, _as_range(node_req), **opts):
        return False
    return not (engines.npm and npm_req and not semver.satisfies(engines.npm, _as_range(npm_req), **opts))


def _as_range(value: Any) -> str:
    # node-semver would stringify a non-string range; such values never parse as a range anyway.
    return value if isinstance(value, str) else "\0invalid"


def _should_avoid(version: str, avoid: str | None) -> bool:
    return bool(avoid) and semver.satisfies(version, avoid or "", **_AVOID_OPTS)


def _decorate(manifest: dict[str, Any] | None, avoid: str | None) -> dict[str, Any] | None:
    if manifest and _should_avoid(str(manifest.get("version", "")), avoid):
        return {**manifest, "_shouldAvoid": True}
    return manifest


def _pick(packument: dict[str, Any], wanted: str, avoid: str | None, engines: Engines) -> dict[str, Any] | None:
    versions: dict[str, Any] = packument.get("versions") or {}
    dist_tags: dict[str, Any] = packument.get("dist-tags") or {}
    kind = spec_type(wanted) if wanted else SpecType.TAG
    if kind not in (SpecType.TAG, SpecType.VERSION, SpecType.RANGE):
        raise NoMatchingVersion("Only tag, version, and range are supported")
    if wanted and kind is SpecType.TAG:
        tagged = dist_tags.get(wanted)
        return _decorate(versions.get(tagged) if isinstance(tagged, str) else None, avoid)
    if wanted and kind is SpecType.VERSION:
        cleaned = semver.clean(wanted, loose=True)
        return _decorate(versions.get(cleaned) if cleaned else None, avoid)
    rng = wanted if kind is SpecType.RANGE else "*"
    default = dist_tags.get("latest")
    if (
        isinstance(default, str)
        and (rng == "*" or semver.satisfies(default, rng, loose=True))
        and not _should_avoid(default, avoid)
    ):
        manifest = versions.get(default)
        if isinstance(manifest, dict) and _engine_ok(manifest, engines) and not manifest.get("deprecated"):
            return manifest
    if not versions:
        raise NoMatchingVersion("ENOVERSIONS")
    candidates = [(v, m) for v, m in versions.items() if semver.satisfies(v, rng, loose=True)]

    def order(a: tuple[str, Any], b: tuple[str, Any]) -> int:
        (va, ma), (vb, mb) = a, b
        keep_a, keep_b = not _should_avoid(va, avoid), not _should_avoid(vb, avoid)
        fresh_a, fresh_b = not ma.get("deprecated"), not mb.get("deprecated")
        engine_a, engine_b = _engine_ok(ma, engines), _engine_ok(mb, engines)
        return (
            (keep_b - keep_a)
            or ((fresh_b and engine_b) - (fresh_a and engine_a))
            or (engine_b - engine_a)
            or (fresh_b - fresh_a)
            or semver.rcompare(va, vb, loose=True)
        )

    candidates.sort(key=functools.cmp_to_key(order))
    return _decorate(candidates[0][1] if candidates else None, avoid)


def pick_manifest(packument: dict[str, Any], wanted: str, *, avoid: str | None, engines: Engines) -> dict[str, Any]:
    """``pickManifest(packument, wanted, {avoid, avoidStrict: true, before: null})``.

    Returns the picked manifest, with ``_isSemVerMajor`` set when the pick had to leave the
    wanted range (False: within ``^picked``; True: anywhere). Raises NoMatchingVersion (ETARGET).
    """
    result = _pick(packument, wanted, avoid, engines)
    if result is None or not result.get("_shouldAvoid"):
        if result is None:
            raise NoMatchingVersion(wanted)
        return result
    caret = _pick(packument, f"^{result.get('version')}", avoid, engines)
    if caret is None or not caret.get("_shouldAvoid"):
        return {**(caret or {}), "_outsideDependencyRange": True, "_isSemVerMajor": False}
    star = _pick(packument, "*", avoid, engines)
    if star is None or not star.get("_shouldAvoid"):
        return {**(star or {}), "_outsideDependencyRange": True, "_isSemVerMajor": True}
    raise NoMatchingVersion(wanted)
