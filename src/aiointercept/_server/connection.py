"""The connection layer in front of a ``mock_external_urls=True`` block's HTTP
server: the first bytes a client sends tell TLS from plain HTTP.

An intercepted connection arrives on the block's one port whatever the
client's scheme. :class:`Door` reads the client's first bytes: a TLS record
(``0x16``, a ClientHello) starts a real TLS handshake, with a certificate for
the host the client connected to, issued by the process's certificate
authority (see :mod:`aiointercept._tls`), and the decrypted stream goes to the
HTTP server; anything else goes to the HTTP server as it is. The host is the
one the client asked for when it connected (noted by the interception, see
:meth:`~aiointercept._adapters.Interception.connection`), else the name it
sends in the handshake (SNI).

What ``m.tls()`` set for the host applies here, before any route is chosen: a
TLS fault (a certificate the client must refuse, or a refused handshake) or
mutual TLS.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from asyncio import sslproto
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiointercept._adapters import interception
from aiointercept._tls import REFUSAL_ALERT, authority, unavailable

if TYPE_CHECKING:
    from aiointercept._tls import TlsSettings

__all__ = ["Door", "feed"]

logger = logging.getLogger("aiointercept")

#: The first byte of a TLS handshake record.
_HANDSHAKE = 0x16

#: Seconds a client gets to finish its TLS handshake.
HANDSHAKE_TIMEOUT = 30.0


class Door(asyncio.Protocol):
    """One accepted connection until its first bytes arrive; then the HTTP
    server's protocol (``make_protocol()``), over TLS or not.

    A connection made once its server has closed (``closed()``: the loop
    accepted it before the block stopped listening, and made it after) is
    closed at once, as the server closes a request handler's."""

    def __init__(
        self,
        make_protocol: Callable[[], asyncio.BaseProtocol],
        waiting: set[Door],
        closed: Callable[[], bool],
    ) -> None:
        self._make_protocol = make_protocol
        self._waiting = waiting
        self._closed = closed
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._closed():
            transport.abort()
            return
        self._waiting.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._waiting.discard(self)
        self._transport = None

    def close(self) -> None:
        """Close the connection, which has not sent anything yet."""
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        self._waiting.discard(self)
        transport = self._transport
        assert transport is not None
        if data[0] != _HANDSHAKE:
            hand_over(transport, self._make_protocol(), data)
            return
        context = self._tls_context(transport)
        if context is None:
            transport.write(REFUSAL_ALERT)
            transport.close()
            return
        protocol = self._make_protocol()
        # what loop.start_tls() makes, given the bytes read already
        tls = sslproto.SSLProtocol(
            asyncio.get_running_loop(),
            protocol,
            context,
            None,  # type: ignore[arg-type]  # no one waits for the handshake
            server_side=True,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT,  # type: ignore[arg-type]
        )
        hand_over(transport, tls, data)

    def _tls_context(self, transport: asyncio.Transport) -> ssl.SSLContext | None:
        """The server context for this connection's host, or ``None`` to
        refuse the handshake."""
        problem = unavailable()
        if problem is not None:
            logger.error("aiointercept refused a TLS connection: %s", problem)
            return None
        peer = transport.get_extra_info("peername")
        connection = interception.connection(peer[1]) if peer else None
        if connection is None:  # not noted: pick by the name the client sends
            return authority().sni_context(_settings_for_any_port)
        settings = interception.tls_for(connection.host, connection.port)
        if settings is not None and settings.fault == "refused":
            return None
        return authority().server_context(
            connection.host, settings, _settings_for_any_port
        )

    def eof_received(self) -> bool | None:
        self._waiting.discard(self)
        return None


def _settings_for_any_port(host: str) -> TlsSettings | None:
    return interception.tls_for(host, None)


def hand_over(
    transport: asyncio.Transport, protocol: asyncio.BaseProtocol, data: bytes
) -> None:
    """Make ``protocol`` the one of ``transport``, and give it ``data``, which
    was read from the connection already."""
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    feed(protocol, data)


def feed(protocol: Any, data: bytes) -> None:
    """Give ``protocol`` (a streaming or a buffered one) ``data``."""
    if isinstance(protocol, asyncio.BufferedProtocol):
        view = memoryview(data)
        while view:
            buffer = memoryview(protocol.get_buffer(len(view)))
            size = min(len(buffer), len(view))
            buffer[:size] = view[:size]
            protocol.buffer_updated(size)
            view = view[size:]
    else:
        protocol.data_received(data)
