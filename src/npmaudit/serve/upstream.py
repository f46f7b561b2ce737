"""GETs the store cannot answer (packuments, tarballs, ``/-/npm/v1/keys``), forwarded to the
organisation's registry, so that ``npm audit --registry http://this-server/`` works end to end.

The request path is forwarded as the client sent it (a scoped name's ``%2f`` kept), with the headers
that shape the answer (``Accept`` for abbreviated packuments, the conditional-request headers). The
client's own ``Authorization`` is not forwarded: it was meant for this server. Credentials for the
upstream registry come from this server's npm configuration (``.npmrc``), as for any npmaudit
request. The answer's status, type, validators and body come back; a registry that cannot be
reached is a 502 with a JSON error.
"""

from __future__ import annotations

from collections.abc import Mapping

from npmaudit.errors import SourceError
from npmaudit.http import HttpClient
from npmaudit.serve.wire import Answer, json_answer

FORWARDED_REQUEST_HEADERS = ("accept", "if-none-match", "if-modified-since", "npm-command")
FORWARDED_ANSWER_HEADERS = ("etag", "last-modified", "cache-control")
# Every status is the upstream's answer to pass on; redirects are followed (their Location would
# point past this server).
PASSED_STATUSES = tuple(s for s in range(200, 600) if s not in (301, 302, 303, 307, 308))


class Upstream:
    def __init__(self, base_url: str, client: HttpClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client

    def get(self, raw_path: str, headers: Mapping[str, str]) -> Answer:
        sent = {name: headers[name] for name in FORWARDED_REQUEST_HEADERS if name in headers}
        sent.setdefault("accept", "*/*")
        try:
            response = self.client.request("GET", self.base_url + raw_path, headers=sent, ok=PASSED_STATUSES)
        except SourceError as error:
            return json_answer({"error": f"upstream registry: {error.reason}"}, 502)
        kept = {name: response.headers[name] for name in FORWARDED_ANSWER_HEADERS if name in response.headers}
        content_type = response.headers.get("content-type", "application/octet-stream")
        return Answer(response.status, response.body, content_type, kept)

    def close(self) -> None:
        self.client.close()
