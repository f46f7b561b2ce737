"""Validating reports against the official schemas, offline.

SARIF: the SARIF 2.1.0 JSON schema vendored in tests/fixtures/schemas (see its SOURCE.md), with
jsonschema's draft-04 validator and its format checks. CycloneDX: cyclonedx-python-lib's strict JSON
validator (the official 1.6 schema and its SPDX and JSF sub-schemas, bundled in the library).

A CycloneDX document of a large tree is validated in parts: jsonschema checks ``uniqueItems`` by
comparing every pair of items, which takes minutes for a 2,500-component BOM. Validating an array
against ``items`` + ``uniqueItems`` is exactly validating each item and checking that no two are
equal, so each long array is validated in slices (every other part of the document unchanged) and the
uniqueness of its items is checked here over the whole array.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema

from conftest import FIXTURES

SARIF_SCHEMA = FIXTURES / "schemas" / "sarif-2.1.0-rtm.5.json"
SLICE = 50
CYCLONEDX_ARRAYS = ("components", "dependencies", "vulnerabilities")


@cache
def _sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def sarif_errors(log: Any) -> list[str]:
    """Every schema violation of a SARIF log, as ``path: message``."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _sarif_validator().iter_errors(log)]


@cache
def _cyclonedx_validator() -> Any:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6)


def cyclonedx_errors(bom: dict[str, Any]) -> list[str]:
    """The schema violations of a CycloneDX 1.6 JSON document (empty when it is valid)."""
    errors = []
    for part in _parts(bom):
        error = _cyclonedx_validator().validate_str(json.dumps(part))
        if error is not None:
            errors.append(str(error).splitlines()[0])
    for key in CYCLONEDX_ARRAYS:
        items = bom.get(key) or []
        canonical = [json.dumps(item, sort_keys=True) for item in items]
        if len(set(canonical)) != len(canonical):
            errors.append(f"{key}: items are not unique (uniqueItems)")
    return errors


def _parts(bom: dict[str, Any]) -> list[dict[str, Any]]:
    if all(len(bom.get(key) or []) <= SLICE for key in CYCLONEDX_ARRAYS):
        return [bom]
    parts = []
    for key in CYCLONEDX_ARRAYS:
        items = bom.get(key) or []
        for start in range(0, max(len(items), 1), SLICE):
            part = {k: v for k, v in bom.items() if k not in CYCLONEDX_ARRAYS}
            chunk = items[start : start + SLICE]
            if chunk:
                part[key] = chunk
            parts.append(part)
    return parts
