"""Every private name of aiointercept that the tests use, in one place.

The tests use the public API, except for the few things below that a user
cannot reach: how many block servers are listening, the names the client
adapters patch, a switch of the server thread. When the private modules of
``src/aiointercept`` move, this module is the only one of the tests to update.

A test that monkeypatches a private module takes the module object from here
(``monkeypatch.setattr(internals.server_thread, "LINGER", 0.05)``); code run
in another process (a script, a pytester project) names private modules and
methods through the string constants at the end.
"""

from __future__ import annotations

import aiointercept._adapters as adapters
import aiointercept._adapters._aiohttp as aiohttp_adapter
import aiointercept._adapters._asyncio as asyncio_adapter
import aiointercept._adapters._socket as socket_adapter
import aiointercept._adapters._ssl as ssl_adapter
import aiointercept._server.block_server as block_server
import aiointercept._server.handler as request_handler
import aiointercept._server.readiness as readiness
import aiointercept._server.sockets as server_sockets
import aiointercept._server.thread as server_thread
from aiointercept._adapters import incompatibility, interception
from aiointercept._cassette.format import CassetteResponse, Interaction
from aiointercept._cassette.matching import MATCHERS, Index
from aiointercept._cassette.options import RecordMode
from aiointercept._core.registration import Shortcut
from aiointercept._core.urls import normalize_url
from aiointercept._server.handler import requests_served
from aiointercept._server.proxy import failure_in_words
from aiointercept._server.sockets import SHUTDOWN_TIMEOUT
from aiointercept._server.thread import active_servers
from aiointercept._settings import RECORD_MODES

__all__ = [
    "ACTIVE_SERVERS_IMPORT",
    "ADAPTERS",
    "FACADE_MODULE",
    "MATCHERS",
    "RECORD_MODES",
    "SHARED_SESSION_IMPORT",
    "SHUTDOWN_TIMEOUT",
    "CassetteResponse",
    "Index",
    "Interaction",
    "RecordMode",
    "Shortcut",
    "active_servers",
    "adapters",
    "aiohttp_adapter",
    "asyncio_adapter",
    "block_server",
    "failure_in_words",
    "incompatibility",
    "interception",
    "normalize_url",
    "readiness",
    "request_handler",
    "requests_served",
    "server_sockets",
    "server_thread",
    "socket_adapter",
    "ssl_adapter",
]

#: The adapter module of each library that ``mock_external_urls=True``
#: patches, by the name of that library; each has ``PATCHED_NAMES`` and
#: ``INCOMPATIBLE``.
ADAPTERS = {
    "aiohttp": aiohttp_adapter,
    "asyncio": asyncio_adapter,
    "ssl": ssl_adapter,
    "socket": socket_adapter,
}

# -- for code run in another process -------------------------------------------------

#: The module of the ``aiointercept`` class, which the pytest plugin imports
#: only once a test uses it.
FACADE_MODULE = "aiointercept._mock"

#: How a script imports :func:`active_servers`.
ACTIVE_SERVERS_IMPORT = "from aiointercept._server.thread import active_servers"

#: How a conftest imports the session interface the pytest plugin is built on,
#: to serve its own subclass of ``aiointercept`` for the whole session.
SHARED_SESSION_IMPORT = "from aiointercept._session import SharedSession"
