"""``POST /-/npm/v1/security/advisories/bulk``: npm 7+'s advisory request, answered from the store.

The request is ``{name: [version, ...]}``; the answer ``{name: [advisory, ...]}`` for the names the
store knows, in the order they were asked, each advisory in the registry's shape (``id``, ``url``,
``title``, ``severity``, ``vulnerable_versions``, ``cwe``, ``cvss``) built by the conversion
``--format npm-json`` uses (:func:`npmaudit.npm_report.bulk.bulk_entries`: one advisory per record
and package, all its ranges for that package joined with `` || ``). Like the registry, every active
advisory of a named package is answered whatever the versions: npm tests each installed version
itself. Names the store knows nothing of are left out, as the registry leaves them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from npmaudit.advisories.model import Advisory
from npmaudit.advisories.store import AdvisoryStore
from npmaudit.npm_report.bulk import bulk_entries
from npmaudit.serve.wire import ClientError

MAX_NAME_LENGTH = 214  # npm's own limit on a package name


def bulk_request(document: Any) -> dict[str, list[str]]:
    """Validate ``{name: [version, ...]}`` (400 for any other shape)."""
    if not isinstance(document, dict):
        raise ClientError(400, "the bulk request must be a JSON object {package name: [versions]}")
    for name, versions in document.items():
        check_name(name)
        if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
            raise ClientError(400, f"the versions of {name[:100]!r} must be a list of strings")
    return document


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH:
        raise ClientError(400, f"invalid package name {str(name)[:100]!r}")
    return name


def bulk_answer(store: AdvisoryStore, request: Mapping[str, Sequence[str]]) -> dict[str, list[dict[str, Any]]]:
    names = list(request)
    return bulk_for_names(names, store.lookup(names))


def bulk_for_names(names: Sequence[str], found: Mapping[str, Sequence[Advisory]]) -> dict[str, list[dict[str, Any]]]:
    """The registry's answer for ``names`` from the store's advisories by name."""
    answer: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        entries = [entry for advisory in found.get(name, ()) for n, entry in bulk_entries(advisory) if n == name]
        if entries:
            answer[name] = entries
    return answer
