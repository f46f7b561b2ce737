"""A local OSV API: ``POST /v1/querybatch`` (with pagination) and ``GET /v1/vulns/{id}``.

It answers from real OSV records. Like the real API, querybatch returns only ``id`` and
``modified`` per vuln, refuses more than 1000 queries, and pages long answers with
``next_page_token`` (``page_size`` vulns per page here, so tests can force paging).

Which records a query returns: every record with an npm ``affected`` entry for the queried name.
That is a superset of what OSV returns for a version (OSV filters by version); the client must
still decide with its own matcher, which is exactly what a superset tests.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any

from servers.base import Answer, LocalServer, RecordedRequest, json_answer

MAX_QUERIES = 1000


class OsvServer(LocalServer):
    def __init__(self, records: Iterable[Mapping[str, Any]], page_size: int = 1000, latency: float = 0.0) -> None:
        super().__init__(latency)
        self.page_size = page_size
        self.records: dict[str, Mapping[str, Any]] = {}
        self.by_name: dict[str, list[str]] = {}
        for record in records:
            self.records[record["id"]] = record
            for affected in record.get("affected") or ():
                package = affected.get("package") or {}
                if str(package.get("ecosystem", "")).lower() == "npm" and package.get("name"):
                    ids = self.by_name.setdefault(package["name"], [])
                    if record["id"] not in ids:
                        ids.append(record["id"])

    def handle(self, request: RecordedRequest) -> Answer:
        if request.method == "POST" and request.path == "/v1/querybatch":
            return self._querybatch(request)
        if request.method == "GET" and request.path.startswith("/v1/vulns/"):
            record = self.records.get(request.path[len("/v1/vulns/") :])
            if record is None:
                return json_answer(404, {"code": 5, "message": "Bug not found."})
            return json_answer(200, record)
        return json_answer(404, {"code": 5, "message": "Not Found"})

    def _querybatch(self, request: RecordedRequest) -> Answer:
        try:
            queries = json.loads(request.body)["queries"]
        except (ValueError, KeyError, TypeError):
            return json_answer(400, {"code": 3, "message": "Invalid JSON"})
        if len(queries) > MAX_QUERIES:
            return json_answer(400, {"code": 3, "message": f"Too many queries (max {MAX_QUERIES})"})
        results = []
        for query in queries:
            name = (query.get("package") or {}).get("name")
            ids = self.by_name.get(name, [])
            start = int(base64.b64decode(query["page_token"]).decode()) if query.get("page_token") else 0
            page = ids[start : start + self.page_size]
            result: dict[str, Any] = {}
            if page:
                result["vulns"] = [{"id": i, "modified": self.records[i].get("modified", "")} for i in page]
            if start + self.page_size < len(ids):
                result["next_page_token"] = base64.b64encode(str(start + self.page_size).encode()).decode()
            results.append(result)
        return json_answer(200, {"results": results})
