"""Every private name of aiointercept that the tests use, in one place.

The tests use the public API, except for the few things below that a user
cannot reach: how many block servers are listening, the names the client
adapters patch, a switch of the server thread. When the private modules of
``src/aiointercept`` move, this module is the only one of the tests to update.

A test that monkeypatches a private module takes the module object from here
(``monkeypatch.setattr(internals.aiohttp_server, "LINGER", 0.05)``); code run
in another process (a script, a pytester project) names private modules and
methods through the string constants at the end.
"""

from __future__ import annotations

import aiointercept._adapters as adapters
import aiointercept._adapters._aiohttp as aiohttp_adapter
import aiointercept._adapters._httpcore as httpcore_adapter
import aiointercept._adapters._socket as socket_adapter
import aiointercept._adapters._urllib3 as urllib3_adapter
import aiointercept._aiohttp_server as aiohttp_server
import aiointercept._readiness as readiness
from aiointercept._adapters import incompatibility, interception
from aiointercept._aiohttp_server import SHUTDOWN_TIMEOUT, active_servers
from aiointercept._urls import normalize_url

__all__ = [
    "ACTIVE_SERVERS_IMPORT",
    "ADAPTERS",
    "INTERCEPTOR_MODULE",
    "SHUTDOWN_TIMEOUT",
    "START_SHARED",
    "STOP_SHARED",
    "active_servers",
    "adapters",
    "aiohttp_adapter",
    "aiohttp_server",
    "httpcore_adapter",
    "incompatibility",
    "interception",
    "normalize_url",
    "readiness",
    "socket_adapter",
    "urllib3_adapter",
]

#: The adapter module of each library that ``mock_external_urls=True``
#: patches, by the name of that library; each has ``PATCHED_NAMES`` and
#: ``INCOMPATIBLE``.
ADAPTERS = {
    "aiohttp": aiohttp_adapter,
    "httpcore": httpcore_adapter,
    "urllib3": urllib3_adapter,
    "socket": socket_adapter,
}

# -- for code run in another process -------------------------------------------------

#: The module of the ``aiointercept`` class, which the pytest plugin imports
#: only once a test uses it.
INTERCEPTOR_MODULE = "aiointercept._interceptor"

#: How a script imports :func:`active_servers`.
ACTIVE_SERVERS_IMPORT = "from aiointercept._aiohttp_server import active_servers"

#: The methods that start and stop the pytest plugin's shared server, which a
#: conftest of aiointercept 1.0 (written for aioresponses) may call itself.
START_SHARED = "_start_shared"
STOP_SHARED = "_stop_shared"
