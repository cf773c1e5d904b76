"""The aiohttp adapter of ``mock_external_urls=True``.

aiohttp's connections go through the standard library's sockets and TLS, which
the interception wraps (see ``_socket`` and ``_ssl``); two things of
:class:`aiohttp.TCPConnector` do not, and two of its methods are wrapped, on
the class, while at least one such block is running:

``_resolve_host(host, port, traces)``
    answers the loopback address that stands for an intercepted host, as
    ``socket.getaddrinfo`` does (IPv4-mapped for a connector that takes IPv6
    addresses only), so that the aiodns resolver (which never calls
    ``getaddrinfo``) and a DNS cache warmed before the block are covered; the
    passthrough proxy's connectors resolve every name for real, with their
    own resolver (aiohttp's default one).
``connect(req, traces, timeout)``
    closes, instead of reusing, a keep-alive connection to a real host that a
    session pooled before the block, when the block intercepts that host.

The names are checked when this module is imported; if aiohttp changes them,
entering a ``mock_external_urls=True`` block raises a clear error instead of
silently reaching the real network.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiohttp

from . import REDIRECT, bare_host, incompatibility, is_address, is_loopback
from ._socket import real_getaddrinfo

if TYPE_CHECKING:
    from . import Interception

__all__ = ["CLIENT", "INCOMPATIBLE", "PATCHED_NAMES", "bypass", "install", "restore"]

CLIENT = "aiohttp"

#: The aiohttp names the patch relies on, with the parameters expected.
PATCHED_NAMES: dict[str, tuple[str, ...]] = {
    "TCPConnector._resolve_host": ("self", "host", "port", "traces"),
    "TCPConnector.connect": ("self", "req", "traces", "timeout"),
}

#: Set when aiohttp lacks what the patch needs; reported on entering a block.
INCOMPATIBLE = incompatibility("aiohttp", aiohttp.__version__, aiohttp, PATCHED_NAMES)

#: How many pooled connections to a real host one request may close before
#: its connection to the mock is made (a bound against a broken patch).
_STALE_LIMIT = 1000

#: Connectors that use the real network whatever the decision (the
#: passthrough proxy's).
_bypass: weakref.WeakSet[aiohttp.TCPConnector] = weakref.WeakSet()

#: The methods replaced, as they were in ``TCPConnector.__dict__`` (``None``
#: for one inherited from ``BaseConnector``).
_originals: dict[str, Any] = {}


def bypass(connector: aiohttp.TCPConnector) -> None:
    """Let this connector (the passthrough proxy's) use the real network."""
    _bypass.add(connector)


def install(state: Interception) -> None:
    """Wrap two methods of :class:`aiohttp.TCPConnector`."""
    connector = aiohttp.TCPConnector
    original_resolve = connector._resolve_host
    original_connect = connector.connect
    for name in PATCHED_NAMES:
        method = name.rpartition(".")[2]
        _originals[method] = vars(connector).get(method)

    async def _resolve_host(
        self: aiohttp.TCPConnector,
        host: str,
        port: int,
        traces: Sequence[Any] | None = None,
    ) -> list[Any]:
        address = state.address_for(host, port)
        if address is None:
            resolved = await original_resolve(self, host, port, traces=traces)
            state.remember(host, (info["host"] for info in resolved))
            return resolved
        if self in _bypass:
            # the connector's own resolver first (aiodns, or whatever the
            # process made aiohttp's default); one that asks
            # socket.getaddrinfo from a worker thread gets our address back,
            # and the name is then resolved with the standard library's own
            resolved = await original_resolve(self, host, port, traces=traces)
            if any(state.host_at(info["host"]) is not None for info in resolved):
                return await _resolve_for_real(host, port, self._family)
            return resolved
        family = socket.AF_INET
        if self._family == socket.AF_INET6:  # the connector takes IPv6 only
            address, family = f"::ffff:{address}", socket.AF_INET6
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": family,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            }
        ]

    is_mock_port = state.is_mock_port

    async def connect(
        self: aiohttp.TCPConnector, req: Any, traces: Any, timeout: Any
    ) -> aiohttp.connector.Connection:
        for _ in range(_STALE_LIMIT):
            conn = await original_connect(self, req, traces, timeout)
            transport = conn.transport
            peer = transport.get_extra_info("peername") if transport else None
            # a connection to the mock (every request of a session in a
            # block, pooled or new) is told first
            if not peer or (is_mock_port(peer[1]) and is_loopback(peer[0])):
                return conn
            if self in _bypass:
                return conn
            host = bare_host(req.url.raw_host or "")
            if is_address(host):
                intercepted = state.decide(host, req.port)[0] == REDIRECT
            else:
                intercepted = state.address_for(host, req.port) is not None
            if not intercepted:
                return conn
            # pooled before the block, to the real host: never reuse it here
            conn.close()
        raise aiohttp.ClientConnectionError(  # pragma: no cover - a broken patch
            f"aiointercept could not open a connection to the mock for {req.url}"
        )

    connector._resolve_host = _resolve_host  # type: ignore[method-assign]
    connector.connect = connect  # type: ignore[method-assign,assignment]


async def _resolve_for_real(host: str, port: int, family: int) -> list[Any]:
    """Resolve ``host`` with the standard library's own ``getaddrinfo``, in
    aiohttp's form (for the passthrough proxy)."""
    loop = asyncio.get_running_loop()
    answers = await loop.run_in_executor(
        None,
        functools.partial(
            real_getaddrinfo, host, port, family=family, type=socket.SOCK_STREAM
        ),
    )
    return [
        {
            "hostname": host,
            "host": address[0],
            "port": address[1],
            "family": answer_family,
            "proto": proto,
            "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
        }
        for answer_family, _, proto, _, address in answers
    ]


def restore() -> None:
    """Put back the methods :func:`install` replaced."""
    for name, original in _originals.items():
        if original is None:
            delattr(aiohttp.TCPConnector, name)
        else:
            setattr(aiohttp.TCPConnector, name, original)
    _originals.clear()
