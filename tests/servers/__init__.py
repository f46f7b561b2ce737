"""Real HTTP servers on 127.0.0.1 for online tests: an OSV API and an npm registry (bulk advisories).

Both answer from real advisory records and can inject faults (status codes, delays, dropped
connections, invalid or oversized answers); a DripServer sends its answer a byte at a time, for
ever. Import from test modules as ``from servers import ...`` (pytest puts ``tests/`` on
``sys.path``); benchmarks add ``tests/`` to ``sys.path`` themselves.
"""

from servers.base import CA_CERT, EchoServer, Fault, LocalServer, RecordedRequest
from servers.drip_server import DripServer
from servers.osv_server import OsvServer
from servers.registry_server import RegistryServer, nsp_to_bulk

__all__ = [
    "CA_CERT",
    "DripServer",
    "EchoServer",
    "Fault",
    "LocalServer",
    "OsvServer",
    "RecordedRequest",
    "RegistryServer",
    "nsp_to_bulk",
]
