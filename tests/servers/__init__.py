"""Real HTTP servers on 127.0.0.1 for online tests: an OSV API and an npm registry (bulk advisories).

Both answer from real advisory records and can inject faults (status codes, delays, dropped
connections, invalid or oversized answers). Import from test modules as ``from servers import ...``
(pytest puts ``tests/`` on ``sys.path``); benchmarks add ``tests/`` to ``sys.path`` themselves.
"""

from servers.base import CA_CERT, EchoServer, Fault, LocalServer, RecordedRequest
from servers.osv_server import OsvServer
from servers.registry_server import RegistryServer, nsp_to_bulk

__all__ = [
    "CA_CERT",
    "EchoServer",
    "Fault",
    "LocalServer",
    "OsvServer",
    "RecordedRequest",
    "RegistryServer",
    "nsp_to_bulk",
]
