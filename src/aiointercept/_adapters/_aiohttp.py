"""The aiohttp adapter of ``mock_external_urls=True``.

Three methods of :class:`aiohttp.TCPConnector` are wrapped, on the class,
while at least one such block is running:

``_get_ssl_context(req)``
    decides, per request, whether its host is intercepted; for an intercepted
    request it returns ``None``, so the connection to the mock is plain TCP even
    for ``https://`` (the mock knows the scheme from the port it is sent to).
``_resolve_host(host, port, traces)``
    answers the mock's loopback address for intercepted hosts, so sessions
    created before the block, sessions with a warm DNS cache, custom resolvers
    and ``TCPConnector`` subclasses are all covered.
``connect(req, traces, timeout)``
    closes, instead of reusing, a keep-alive connection to a real host that a
    session pooled before the block, when the block intercepts that host.

The names are checked when this module is imported; if aiohttp changes them,
entering a ``mock_external_urls=True`` block raises a clear error instead of
silently reaching the real network.
"""

from __future__ import annotations

import contextvars
import socket
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiohttp

from . import bare_host, incompatibility, is_loopback

if TYPE_CHECKING:
    from . import Interception

__all__ = ["CLIENT", "INCOMPATIBLE", "PATCHED_NAMES", "bypass", "install", "restore"]

CLIENT = "aiohttp"

#: The aiohttp names the patch relies on, with the parameters expected.
PATCHED_NAMES: dict[str, tuple[str, ...]] = {
    "TCPConnector._resolve_host": ("self", "host", "port", "traces"),
    "TCPConnector._get_ssl_context": ("self", "req"),
    "TCPConnector.connect": ("self", "req", "traces", "timeout"),
}

#: Set when aiohttp lacks what the patch needs; reported on entering a block.
INCOMPATIBLE = incompatibility("aiohttp", aiohttp.__version__, aiohttp, PATCHED_NAMES)

#: How many pooled connections to a real host one request may close before
#: its connection to the mock is made (a bound against a broken patch).
_STALE_LIMIT = 1000

# The decision taken in _get_ssl_context, read back in _resolve_host: both run
# in the same task, one after the other, for each new connection.
_decision: contextvars.ContextVar[tuple[str, int, int | None]] = contextvars.ContextVar(
    "aiointercept_decision"
)


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
    """Wrap the three methods of :class:`aiohttp.TCPConnector`."""
    connector = aiohttp.TCPConnector
    original_ssl = connector._get_ssl_context
    original_resolve = connector._resolve_host
    original_connect = connector.connect
    for name in PATCHED_NAMES:
        method = name.rpartition(".")[2]
        _originals[method] = vars(connector).get(method)

    def target_port(
        self: aiohttp.TCPConnector, scheme: str | None, host: str, port: int
    ) -> int | None:
        if self in _bypass:
            return None
        return state.target_port(scheme, host, port)

    def _get_ssl_context(self: aiohttp.TCPConnector, req: Any) -> Any:
        url = req.url
        port = req.port
        target = target_port(self, url.scheme, url.raw_host or "", port)
        _decision.set((bare_host(url.raw_host or ""), port, target))
        if target is None:
            return original_ssl(self, req)
        return None

    async def _resolve_host(
        self: aiohttp.TCPConnector,
        host: str,
        port: int,
        traces: Sequence[Any] | None = None,
    ) -> list[Any]:
        decision = _decision.get(None)
        if decision is not None and decision[:2] == (bare_host(host), port):
            target = decision[2]
        else:
            target = target_port(self, None, host, port)
        if target is None:
            resolved = await original_resolve(self, host, port, traces=traces)
            state.remember(host, (info["host"] for info in resolved))
            return resolved
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": target,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def connect(
        self: aiohttp.TCPConnector, req: Any, traces: Any, timeout: Any
    ) -> aiohttp.connector.Connection:
        for _ in range(_STALE_LIMIT):
            conn = await original_connect(self, req, traces, timeout)
            transport = conn.transport
            peer = transport.get_extra_info("peername") if transport else None
            if not peer or (state.is_mock_port(peer[1]) and is_loopback(peer[0])):
                return conn
            url = req.url
            if target_port(self, url.scheme, url.raw_host or "", req.port) is None:
                return conn
            # pooled before the block, to the real host: never reuse it here
            conn.close()
        raise aiohttp.ClientConnectionError(  # pragma: no cover - a broken patch
            f"aiointercept could not open a connection to the mock for {req.url}"
        )

    connector._get_ssl_context = _get_ssl_context  # type: ignore[method-assign]
    connector._resolve_host = _resolve_host  # type: ignore[method-assign]
    connector.connect = connect  # type: ignore[method-assign,assignment]


def restore() -> None:
    """Put back the methods :func:`install` replaced."""
    for name, original in _originals.items():
        if original is None:
            delattr(aiohttp.TCPConnector, name)
        else:
            setattr(aiohttp.TCPConnector, name, original)
    _originals.clear()
