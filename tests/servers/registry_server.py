"""A local npm registry: the bulk advisory endpoint npm 11's audit uses, and packuments.

``POST /-/npm/v1/security/advisories/bulk`` takes the (gzipped) ``{name: [versions]}`` payload
and answers ``{name: [advisory, ...]}`` for the names it knows, in the registry's shape (``id``,
``url``, ``title``, ``severity``, ``vulnerable_versions``, ``cwe``, ``cvss``). Every advisory of a
named package is returned whatever the versions (the public registry is reported to do the same;
npm re-tests each version itself). ``GET /<name>`` serves packuments with ETag / 304 support (and
``Cache-Control`` when given).
With ``token`` set, requests without ``Authorization: Bearer <token>`` get 401, as a private
registry answers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from servers.base import Answer, LocalServer, RecordedRequest, json_answer

BULK_PATH = "/-/npm/v1/security/advisories/bulk"


def nsp_to_bulk(document: Mapping[str, Any]) -> dict[str, Any]:
    """One original Node Security Project advisory (nodejs/security-wg) in the bulk endpoint's shape.

    The registry served these very advisories (by their NSP number) before GitHub took them over;
    severity follows the CVSS score bands, as the registry's did.
    """
    score = document.get("cvss_score")
    score = score if isinstance(score, int | float) and score >= 0 else 0
    severity = "critical" if score >= 9 else "high" if score >= 7 else "moderate" if score >= 4 else "low"
    return {
        "id": document["id"],
        "url": f"https://nodesecurity.io/advisories/{document['id']}",
        "title": document.get("title") or "",
        "severity": severity,
        "vulnerable_versions": document.get("vulnerable_versions") or "*",
        "cwe": [],
        "cvss": {"score": score, "vectorString": document.get("cvss_vector")},
    }


class RegistryServer(LocalServer):
    def __init__(
        self,
        advisories: Mapping[str, list[Mapping[str, Any]]] | None = None,
        packuments: Mapping[str, Mapping[str, Any]] | None = None,
        token: str | None = None,
        latency: float = 0.0,
        tls: bool = False,
        cache_control: str | None = None,
    ) -> None:
        super().__init__(latency, tls)
        self.advisories = dict(advisories or {})
        self.packuments = dict(packuments or {})
        self.token = token
        self.cache_control = cache_control  # sent with packuments, as the registry sends "max-age=300"

    @classmethod
    def from_nsp(cls, documents: Iterable[Mapping[str, Any]], **kwargs: Any) -> RegistryServer:
        advisories: dict[str, list[Mapping[str, Any]]] = {}
        for document in documents:
            advisories.setdefault(document["module_name"], []).append(nsp_to_bulk(document))
        return cls(advisories, **kwargs)

    def bulk_payloads(self) -> list[Any]:
        return [request.json() for request in self.requests_to(BULK_PATH)]

    def handle(self, request: RecordedRequest) -> Answer:
        if self.token is not None and request.headers.get("authorization") != f"Bearer {self.token}":
            return json_answer(401, {"error": "authentication required"})
        if request.method == "POST" and request.path.endswith(BULK_PATH):  # the registry may have a path
            try:
                payload = json.loads(request.body)
            except ValueError:
                return json_answer(400, {"error": "invalid payload"})
            if not isinstance(payload, dict):
                return json_answer(400, {"error": "invalid payload"})
            return json_answer(200, {name: self.advisories[name] for name in payload if name in self.advisories})
        if request.method == "GET":
            name = unquote(request.path.rsplit("/", 1)[-1])  # npm sends @scope%2fname
            packument = self.packuments.get(name)
            if packument is None:
                return json_answer(404, {"error": "Not found"})
            body = json.dumps(packument, separators=(",", ":")).encode()
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            caching = {"cache-control": self.cache_control} if self.cache_control else {}
            if request.headers.get("if-none-match") == etag:
                return 304, {"etag": etag, **caching}, b""
            return 200, {"content-type": "application/json", "etag": etag, **caching}, body
        return json_answer(405, {"error": "method not allowed"})
