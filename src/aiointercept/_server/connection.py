"""The connection layer in front of a block's HTTP server: the first bytes a
client sends tell TLS, an HTTP proxy's ``CONNECT`` and plain HTTP apart.

Every connection to a block's one port starts at a :class:`Door`, which reads
the client's first bytes:

* a TLS record (``0x16``, a ClientHello) starts a real TLS handshake, with a
  certificate for the host the client asked for, issued by the process's
  certificate authority (see :mod:`aiointercept._tls`), and the decrypted
  stream goes to the HTTP server. The host is the one the client asked for
  when it connected (noted by the interception, see
  :meth:`~aiointercept._adapters.Interception.connection`), else the name it
  sends in the handshake (SNI);
* ``CONNECT host:port`` (a program that uses the block as its HTTP proxy,
  ``m.proxy_url``) is answered here, as aiohttp's server does not tunnel: the
  gate (:class:`Gate`) admits the port or refuses it with ``403``; once
  admitted, the stream that follows is TLS for that host, or plain HTTP, and
  goes to the HTTP server as a tunnel to that host (:attr:`Tunnel`);
* anything else goes to the HTTP server as it is (an absolute-form request
  ``GET http://host/path`` is the proxy's other half, handled there).

What ``m.tls()`` set for the host applies before any route is chosen: a TLS
fault (a certificate the client must refuse, or a refused handshake) or
mutual TLS.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import urllib.parse
from asyncio import sslproto
from typing import TYPE_CHECKING, Any, Protocol

from aiointercept._adapters import interception
from aiointercept._tls import REFUSAL_ALERT, authority, unavailable

if TYPE_CHECKING:
    from aiointercept._tls import TlsSettings

__all__ = ["Door", "DoorServer", "Gate", "Tunnel", "feed"]

logger = logging.getLogger("aiointercept")

#: The first byte of a TLS handshake record.
_HANDSHAKE = 0x16

#: Seconds a client gets to finish its TLS handshake.
HANDSHAKE_TIMEOUT = 30.0

_CONNECT = b"CONNECT "

#: The most a ``CONNECT`` request's head may take, in bytes.
MAX_CONNECT_HEAD = 16 * 1024

#: The host and port a ``CONNECT`` request asked for.
Tunnel = tuple[str, int]


class Gate(Protocol):
    """What a block lets through its door."""

    def tunnel_refusal(self, host: str, port: int) -> str | None:
        """Why ``CONNECT host:port`` is refused, or ``None`` to admit it."""

    def tls_for(self, host: str, port: int | None) -> TlsSettings | None:
        """What ``m.tls()`` set for ``host`` (and ``port``; ``None``: any)."""


class DoorServer(Protocol):
    """The HTTP server behind the door (:class:`.sockets.WebServer`)."""

    gate: Gate
    at_door: set[Door]
    #: Set when the block's server stops.
    closed: bool

    def __call__(self) -> asyncio.BaseProtocol: ...

    def tunneled(self, tunnel: Tunnel) -> asyncio.BaseProtocol: ...


class Door(asyncio.Protocol):
    """One accepted connection until its first bytes arrive; then the HTTP
    server's protocol, over TLS or not, through a ``CONNECT`` tunnel or not.

    A connection made once its server has closed (the loop accepted it before
    the block stopped listening, and made it after) is closed at once, as the
    server closes a request handler's."""

    def __init__(self, server: DoorServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        #: What the client sent that is not handled yet (a ``CONNECT`` head).
        self._buffer = b""
        #: The tunnel a ``CONNECT`` opened, once it is answered.
        self._tunnel: Tunnel | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._server.closed:
            transport.abort()
            return
        self._server.at_door.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.at_door.discard(self)
        self._transport = None

    def close(self) -> None:
        """Close the connection, which has not sent a request yet."""
        if self._transport is not None:
            self._transport.abort()

    def eof_received(self) -> bool | None:
        self._server.at_door.discard(self)
        return None

    def data_received(self, data: bytes) -> None:
        if self._buffer:
            data, self._buffer = self._buffer + data, b""
        if self._tunnel is None and data[0] != _HANDSHAKE:
            if len(data) < len(_CONNECT) and _CONNECT.startswith(data):
                self._buffer = data  # too little yet to tell
                return
            if data.startswith(_CONNECT):
                self._connect(data)
                return
        self._enter(data)

    def _enter(self, data: bytes) -> None:
        """Hand the connection, whose first bytes are ``data``, to the HTTP
        server: over TLS when they start a handshake."""
        self._server.at_door.discard(self)
        transport = self._transport
        assert transport is not None
        tunnel = self._tunnel
        server = self._server
        protocol = server() if tunnel is None else server.tunneled(tunnel)
        if data[0] != _HANDSHAKE:
            hand_over(transport, protocol, data)
            return
        context = self._tls_context(transport)
        if context is None:
            transport.write(REFUSAL_ALERT)
            transport.close()
            return
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
        gate = self._server.gate
        target = self._tunnel
        if target is None:
            connection = interception.connection_of(transport)
            if connection is not None:
                target = (connection.host, connection.port)
        if target is None:  # not noted: pick by the name the client sends
            return authority().sni_context(lambda host: gate.tls_for(host, None))
        host, port = target
        settings = gate.tls_for(host, port)
        if settings is not None and settings.fault == "refused":
            return None
        return authority().server_context(
            host, settings, lambda host: gate.tls_for(host, None)
        )

    # -- the proxy's CONNECT ----------------------------------------------------

    def _connect(self, data: bytes) -> None:
        """Answer a ``CONNECT`` request, whose head starts ``data``."""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > MAX_CONNECT_HEAD:
                self._refuse(400, "Bad Request", "the CONNECT request is too long")
            else:
                self._buffer = data
            return
        line = data[: data.find(b"\r\n")].decode("latin-1")
        tunnel = _tunnel_of(line)
        if tunnel is None:
            self._refuse(400, "Bad Request", f"malformed CONNECT request {line!r}")
            return
        refusal = self._server.gate.tunnel_refusal(*tunnel)
        if refusal is not None:
            self._refuse(403, "Forbidden", refusal)
            return
        transport = self._transport
        assert transport is not None
        transport.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self._tunnel = tunnel
        rest = data[end + 4 :]
        if rest:
            self._enter(rest)

    def _refuse(self, status: int, reason: str, why: str) -> None:
        """Answer ``status`` with ``why`` in words, log it, and close."""
        logger.warning("aiointercept's proxy answered %d: %s", status, why)
        body = f"aiointercept's proxy: {why}\n".encode()
        transport = self._transport
        assert transport is not None
        transport.write(
            f"HTTP/1.1 {status} {reason}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        transport.close()


def _tunnel_of(line: str) -> Tunnel | None:
    """The host and port of a ``CONNECT host:port HTTP/1.1`` request line,
    or ``None`` when it is malformed."""
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    try:
        target = urllib.parse.urlsplit("//" + parts[1])
        host, port = target.hostname, target.port
    except ValueError:  # a port out of range, a broken IPv6 address
        return None
    if not host or port is None or target.path or target.username:
        return None
    return host, port


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
