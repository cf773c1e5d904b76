"""A block's listening sockets and the connections made to them: binding,
serving, and closing both, at once when nothing is lost or gracefully.

:func:`listen` runs on the thread that enters the block, so that the URL is
known before any loop serves the socket. Everything else runs on the loop that
serves the connections: the test's loop, or the server loop for the
connections the server thread took over (see :mod:`.watch`) and for blocks it
serves alone. :class:`WebServer` is aiohttp's low-level server, and belongs to
the one loop that serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web
from aiohttp.web import RequestHandler

from .connection import Door, Gate, Tunnel

__all__ = [
    "MADE_AND_CLOSED",
    "SHUTDOWN_TIMEOUT",
    "TLS_OPEN",
    "ListeningSocket",
    "TunnelHandler",
    "WebServer",
    "being_made",
    "closable_now",
    "close_connections",
    "close_late_connections",
    "close_server",
    "connect",
    "listen",
    "serve",
    "shut_down",
    "socket_of",
    "stop_listening",
    "turns_to_see_the_end",
]

#: How long in-flight handlers get to finish when a block's server stops.
SHUTDOWN_TIMEOUT = 0.25

_BACKLOG = 128

logger = logging.getLogger("aiointercept")


class WebServer(web.Server):
    """aiohttp's server for a block's connections on one loop; knows its open
    connections, to wait for one to close (hanging responses).

    Each connection starts at a :class:`~.connection.Door`, which tells TLS,
    a proxy's ``CONNECT`` and plain HTTP apart; ``gate`` says what the door
    lets through.
    """

    def __init__(
        self,
        handler: Any,
        *,
        gate: Gate,
        loop: asyncio.AbstractEventLoop,
        request_factory: Any,
        handler_cancellation: bool,
        **handler_options: Any,
    ) -> None:
        super().__init__(
            handler,
            request_factory=request_factory,
            handler_cancellation=handler_cancellation,
            loop=loop,
            **handler_options,
        )
        self._serving_loop = loop
        self._handler_options = handler_options
        self.gate = gate
        self._open: set[object] = set()
        self._until_closed: dict[object, list[asyncio.Future[None]]] = {}
        #: Set when the block's server stops: a connection whose set-up was
        #: still under way then is closed as soon as it is made.
        self.closed = False
        #: How many connections were accepted (the watch reads it).
        self.accepted = 0
        #: How many of them have been made (see :meth:`protocol_factory`).
        self.made = 0
        #: The connections at their door, which have sent no request yet.
        self.at_door: set[Door] = set()

    def protocol_factory(self) -> Door:
        """A new connection's protocol: the door, which hands the connection
        to aiohttp's request handler once it knows what the client speaks.

        asyncio schedules the protocol's ``connection_made`` as soon as this
        returns, with nothing scheduled in between: what this schedules runs
        just before it, and so, for any other callback or task, at the same
        moment. :attr:`made` counts them so (see :func:`being_made`)."""
        self.accepted += 1
        self._serving_loop.call_soon(self._made)
        return Door(self)

    def _made(self) -> None:
        self.made += 1

    def tunneled(self, tunnel: Tunnel) -> TunnelHandler:
        """A request handler for a connection that a proxy client's
        ``CONNECT`` opened to ``tunnel`` (host, port)."""
        handler = TunnelHandler(self, loop=self._serving_loop, **self._handler_options)
        handler.tunnel = tunnel
        return handler

    def connection_made(self, handler: Any, transport: asyncio.Transport) -> None:
        self._open.add(handler)
        super().connection_made(handler, transport)
        if self.closed:
            # after the handler has finished setting up (it starts a task)
            asyncio.get_running_loop().call_soon(handler.force_close)

    def connection_lost(self, handler: Any, exc: BaseException | None = None) -> None:
        self._open.discard(handler)
        super().connection_lost(handler, exc)
        for waiter in self._until_closed.pop(handler, ()):
            if not waiter.done():
                waiter.set_result(None)

    def until_closed(self, handler: object) -> asyncio.Future[None]:
        """Done when ``handler``'s connection is lost, or the server stops."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.closed or handler not in self._open:
            waiter.set_result(None)
        else:
            self._until_closed.setdefault(handler, []).append(waiter)
        return waiter

    def close(self) -> None:
        """Stop: close connections set up from now on, and end the waits
        for connections to close (hanging responses)."""
        self.closed = True
        waiters, self._until_closed = self._until_closed, {}
        for handler_waiters in waiters.values():
            for waiter in handler_waiters:
                if not waiter.done():
                    waiter.set_result(None)


class TunnelHandler(RequestHandler):
    """aiohttp's request handler, for the requests that come through a proxy
    client's ``CONNECT`` tunnel."""

    #: The host and port the ``CONNECT`` asked for.
    tunnel: Tunnel


class ListeningSocket(socket.socket):
    """A block's listening socket, which counts the connections taken from
    it (by the loop that serves it, or by the watch)."""

    #: How many connections were taken (see :func:`being_made`).
    accepts = 0

    def accept(self) -> tuple[socket.socket, Any]:
        connection = super().accept()
        self.accepts += 1
        return connection


def listen() -> ListeningSocket:
    """A listening socket on 127.0.0.1 with an ephemeral port (any thread)."""
    sock = ListeningSocket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve(
    loop: asyncio.AbstractEventLoop, server: WebServer, sockets: Sequence[socket.socket]
) -> list[asyncio.AbstractServer]:
    """Serve ``server`` on the listening ``sockets`` (on ``loop``)."""
    listeners: list[asyncio.AbstractServer] = []
    try:
        for sock in sockets:
            listeners.append(
                await loop.create_server(server.protocol_factory, sock=sock)
            )
    except BaseException:
        for listener in listeners:
            # its socket may have been closed under it (the block stopped)
            with contextlib.suppress(OSError, ValueError):
                listener.close()
        for sock in sockets[len(listeners) :]:
            sock.close()
        raise
    return listeners


async def connect(
    loop: asyncio.AbstractEventLoop, server: WebServer, conn: socket.socket
) -> None:
    """Serve a connection accepted on the server thread's behalf."""
    try:
        await loop.connect_accepted_socket(server.protocol_factory, conn)
    except BaseException:
        conn.close()
        raise


def closable_now(
    serving: asyncio.Task[list[asyncio.AbstractServer]],
    server: WebServer,
    proxying: bool,
) -> list[asyncio.AbstractServer] | None:
    """The listeners to stop when ``server`` can close at once, waiting for
    nothing: it never started serving (that is cancelled), or it is quiet and
    proxies nothing (the usual case: the client has closed its connections,
    or left them idle). ``None`` when it must shut down gracefully."""
    if not serving.done() and serving.cancel():
        return []
    if _quiet(serving, server) and not proxying:
        return serving.result()
    return None


def _quiet(
    serving: asyncio.Task[list[asyncio.AbstractServer]], server: WebServer
) -> bool:
    """Whether a server can close at once, its connections with it: it is
    listening, and no connection has a request under way or about to be read
    (each one waits for a next request that its client has not sent)."""
    return (
        serving.done()
        and not serving.cancelled()
        and serving.exception() is None
        and all(_waits_for_a_request(handler) for handler in server.connections)
    )


def _waits_for_a_request(handler: Any) -> bool:
    """Whether ``handler``'s connection is between requests, with nothing of a
    next request received, or already closed by its client with no request
    under way: closing it loses nothing."""
    if getattr(handler, "_current_request", True) is not None or getattr(
        handler, "_messages", True
    ):
        return False
    transport = handler.transport
    if transport is None:  # lost: its handler's task is ending
        return True
    waiter = getattr(handler, "_waiter", None)
    sock = socket_of(transport)
    if sock is None and transport.is_closing():  # lost: its handler is ending
        return True
    if waiter is None or waiter.done() or sock is None or not _PEEK_FLAGS:
        return False
    # the loop may not have read what the client sent last: a request (to be
    # answered) or the end of the connection (nothing to answer)
    probe = socket.socket(fileno=sock.fileno())
    try:
        return not probe.recv(1, _PEEK_FLAGS)
    except BlockingIOError:  # nothing sent
        return True
    except OSError:  # reset by the client
        return True
    finally:
        probe.detach()


#: Read without consuming and without blocking, where the platform can
#: (0: it cannot, and connections are closed gracefully).
_PEEK_FLAGS: int = (
    socket.MSG_PEEK | socket.MSG_DONTWAIT if hasattr(socket, "MSG_DONTWAIT") else 0
)


def socket_of(transport: Any) -> socket.socket | None:
    """The socket under ``transport`` (plain or TLS), or ``None`` when it has
    none or has lost it."""
    try:
        sock: socket.socket | None = transport.get_extra_info("socket")
    except AttributeError:  # a TLS transport whose connection is lost
        return None
    return sock


#: What :func:`close_connections` answers when a TLS connection was open.
TLS_OPEN = 2


def close_connections(server: WebServer) -> int:
    """Close ``server``'s connections at once, the end sent to their clients
    now rather than at the loop's next turn. 0 when none was open, 1 when
    some were, :data:`TLS_OPEN` when one of them was a TLS connection."""
    were_open = 0
    for door in list(server.at_door):
        were_open = max(were_open, 1)
        door.close()
    for handler in list(server.connections):
        transport = handler.transport
        sock = socket_of(transport) if transport is not None else None
        if transport is not None and sock is not None:
            tls = transport.get_extra_info("sslcontext") is not None
            were_open = max(were_open, TLS_OPEN if tls else 1)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        handler.force_close()
    return were_open


def being_made(
    server: WebServer,
    sockets: list[ListeningSocket],
    loop: asyncio.AbstractEventLoop,
) -> bool:
    """Whether a connection that ``loop`` took from ``sockets`` for ``server``
    may not be made yet (see :func:`close_late_connections`); asked once the
    sockets are closed. asyncio's selector loop takes a connection with the
    socket's ``accept()``, makes its protocol at the next turn and calls its
    ``connection_made`` at the one after; any other loop may take
    connections unseen, and so may always be making one."""
    if not isinstance(loop, asyncio.SelectorEventLoop):
        return True
    return sum(sock.accepts for sock in sockets) != server.made


#: How many turns of a loop a connection it has just accepted needs to be
#: made, and closed if its server has closed: asyncio makes its protocol and
#: transport at the next turn (see :func:`being_made`), calls
#: ``connection_made`` at the one after (where a :class:`~.connection.Door`
#: on a closed server aborts it), and closes its socket at the third.
MADE_AND_CLOSED = 3


def turns_to_see_the_end(were_open: int) -> int:
    """How many turns of a loop its clients need to see the end of
    connections :func:`close_connections` closed (``were_open``, what it
    answered): the end is read in the next turn, and the task that waits
    resumes in the one after; a TLS client's layer passes it on one turn
    later."""
    if not were_open:
        return 0
    return 3 if were_open == TLS_OPEN else 2


async def close_late_connections(server: WebServer) -> None:
    """Once ``server`` is closed and its listening sockets too: close the
    connections the loop accepted before, but had not made yet (the block
    stopped as it was setting them up), so that none outlives the block.

    asyncio makes a connection it has accepted at the loop's next turn (its
    protocol and transport, in a task), and calls the protocol's
    ``connection_made`` at the turn after. Two turns from now every such
    connection has been made: a closed server closes each one as it is made
    (see :meth:`WebServer.connection_made` and :class:`.Door`), and this
    closes them now, sending their end at once. Nothing is accepted any more:
    the listening sockets are closed."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    close_connections(server)


async def close_server(
    server: WebServer,
    serving: asyncio.Task[list[asyncio.AbstractServer]],
    sockets: Sequence[socket.socket],
    close: Callable[[WebServer, list[asyncio.AbstractServer]], None] | None = None,
) -> None:
    """Stop listening, close idle connections, give in-flight handlers
    :data:`SHUTDOWN_TIMEOUT` seconds, then close what is left."""
    try:
        listeners = await serving
    except Exception:  # pragma: no cover - create_server on a bound socket
        logger.exception("the aiointercept server could not serve")
        listeners = []
    if close is not None:
        close(server, listeners)
    else:
        server.close()
        stop_listening(listeners, sockets)
    await shut_down(server)


async def shut_down(server: WebServer) -> None:
    """Close ``server``'s idle connections and give in-flight handlers
    :data:`SHUTDOWN_TIMEOUT` seconds to finish; then close those it was
    still making as it stopped (see :func:`close_late_connections`)."""
    # let requests already received start, so that they are answered
    await asyncio.sleep(0)
    for door in list(server.at_door):
        door.close()
    for handler in server.connections:
        handler.close()
    await server.shutdown(SHUTDOWN_TIMEOUT)
    await close_late_connections(server)


def stop_listening(
    listeners: list[asyncio.AbstractServer], sockets: Sequence[socket.socket]
) -> None:
    """Stop accepting connections and close the listening sockets.

    On Python < 3.12, ``asyncio.Server.close()`` breaks (and leaks the socket
    of) a connection whose set-up is still under way on the loop. Stopping the
    sockets without it lets such a connection be made; the closed
    :class:`WebServer` then closes it at once.
    """
    if sys.version_info >= (3, 12):
        for listener in listeners:
            listener.close()
    else:
        loop = asyncio.get_running_loop()
        for sock in sockets:
            if sock.fileno() != -1:
                loop.remove_reader(sock.fileno())
    for sock in sockets:  # also those never served, if serving failed
        sock.close()
