"""``npmaudit serve``: the local advisory store as npm's audit endpoints and the OSV API.

An ASGI application (:func:`npmaudit.serve.app.create_app`) run under uvicorn
(:func:`npmaudit.serve.server.run_server`), read-only over the SQLite store:

* ``POST /-/npm/v1/security/advisories/bulk``: npm 7+'s bulk advisory request, answered in the
  registry's shape with the same OSV-to-npm conversion ``--format npm-json`` uses
  (:mod:`npmaudit.npm_report.bulk`);
* ``POST /-/npm/v1/security/audits/quick`` (and npm 6's ``/-/npm/v1/security/audits``): the
  full-tree quick audit of npm 6-10 (:mod:`npmaudit.serve.quick`);
* the OSV API v1: ``POST /v1/query``, ``POST /v1/querybatch``, ``GET /v1/vulns/{id}``
  (:mod:`npmaudit.serve.osv_api`);
* ``GET /-/npmaudit/health``: the store's record count and age;
* every other GET (``/-/npm/v1/keys``, packuments, tarballs) forwarded to the upstream registry
  (:mod:`npmaudit.serve.upstream`), 404 without one.

The optional dependency (uvicorn) is the ``serve`` extra: ``pip install 'npmaudit[serve]'``.
"""

from npmaudit.serve.config import ServeConfig

__all__ = ["ServeConfig"]
