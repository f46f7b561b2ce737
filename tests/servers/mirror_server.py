"""An OSV mirror of the npm ecosystem served on 127.0.0.1: ``/npm/all.zip``, ``/npm/modified_id.csv``
and ``/npm/<id>.json``, built from the records it is given, with the base server's faults (a status
instead of a file, a dropped connection, a body such as a corrupt zip)."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from urllib.parse import unquote, urlsplit

from servers.base import Answer, LocalServer, RecordedRequest


def zip_of(records: list[dict]) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for record in records:
            bundle.writestr(f"{record['id']}.json", json.dumps(record, indent=2))
    return archive.getvalue()


class MirrorServer(LocalServer):
    def __init__(self, records: list[dict] | None = None) -> None:
        super().__init__()
        self._files: dict[str, bytes] = {}
        self._files_lock = threading.Lock()
        self.publish(records or [])

    @property
    def mirror_url(self) -> str:
        return f"{self.url}npm"

    def publish(self, records: list[dict]) -> None:
        files = {f"/npm/{record['id']}.json": json.dumps(record).encode() for record in records}
        files["/npm/all.zip"] = zip_of(records)
        listing = sorted(((r["modified"], r["id"]) for r in records), reverse=True)
        files["/npm/modified_id.csv"] = "".join(f"{m},{i}\n" for m, i in listing).encode()
        with self._files_lock:
            self._files = files

    def file(self, path: str) -> bytes | None:
        """What the mirror serves at ``path`` (``/npm/all.zip``)."""
        with self._files_lock:
            return self._files.get(path)

    def handle(self, request: RecordedRequest) -> Answer:
        body = self.file(unquote(urlsplit(request.path).path))  # a query (a token) is not part of the name
        if body is None:
            return 404, {"content-type": "text/plain"}, b"not found"
        return 200, {"content-type": "application/octet-stream"}, body
