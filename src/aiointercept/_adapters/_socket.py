"""Interception at the standard library's :mod:`socket` module.

While at least one ``mock_external_urls=True`` block is running, three names
are wrapped; every client and event loop written in Python (asyncio, trio,
``http.client``, ``urllib.request``, urllib3, httpcore, raw sockets) resolves
and connects through them:

``socket.getaddrinfo(host, port, ...)``
    an intercepted host name resolves to a loopback address of aiointercept's
    own (``127.77.x.y``, or its IPv4-mapped IPv6 form when only IPv6 is asked
    for), without a look-up: nothing leaves the machine. Other names resolve
    as usual, and the answers are noted, so that the guard can name the host
    in its error and let through the addresses of passthrough hosts.
``socket.socket.connect(address)`` and ``socket.socket.connect_ex(address)``
    decide before a byte is sent (see :meth:`Interception.decide`): a TCP
    connection to one of those addresses, or to an intercepted IP address, on
    port 80 or 443 or a port that a route names, goes to the port of the
    block's server, which learns the host and port the client asked for, and
    the thread of a blocking socket (a synchronous client's, which waits in
    that thread), from :meth:`Interception.connection`; a connection to any
    other address outside this machine fails at once with
    :exc:`~aiointercept.NetworkBlockedError` (the guard), unless a running
    block lets it through. Unix sockets and UDP are left alone.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import TYPE_CHECKING, Any

from aiointercept._adapters import (
    BLOCK,
    PASS,
    PROXYING,
    REDIRECT,
    RESOLVE,
    Connection,
    is_address,
)
from aiointercept._errors import NetworkBlockedError

if TYPE_CHECKING:
    from . import Interception

__all__ = [
    "CLIENT",
    "INCOMPATIBLE",
    "PATCHED_NAMES",
    "answer",
    "install",
    "port_number",
    "real_getaddrinfo",
    "restore",
]

CLIENT = "socket"

#: The standard-library names wrapped.
PATCHED_NAMES: dict[str, tuple[str, ...]] = {
    "socket.connect": ("self", "address"),
    "socket.connect_ex": ("self", "address"),
    "getaddrinfo": ("host", "port"),
}

#: The standard library does not change under us.
INCOMPATIBLE: str | None = None

logger = logging.getLogger("aiointercept")

_MISSING = object()
_originals: dict[str, Any] = {}


def real_getaddrinfo(*args: Any, **kwargs: Any) -> Any:
    """:func:`socket.getaddrinfo` as the standard library has it, whether the
    interception is installed or not (for the passthrough proxy)."""
    return _originals.get("getaddrinfo", socket.getaddrinfo)(*args, **kwargs)


def install(state: Interception) -> None:
    """Wrap ``socket.socket.connect``, ``connect_ex`` and ``socket.getaddrinfo``."""
    cls = socket.socket
    connect, connect_ex, getaddrinfo = cls.connect, cls.connect_ex, socket.getaddrinfo
    _originals.update(
        connect=vars(cls).get("connect", _MISSING),
        connect_ex=vars(cls).get("connect_ex", _MISSING),
        getaddrinfo=getaddrinfo,
    )

    def route(sock: socket.socket, address: Any) -> tuple[Any, Connection | None]:
        """Where ``sock`` really connects, and the connection to note."""
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return address, None
        if sock.type != socket.SOCK_STREAM or not isinstance(address, tuple):
            return address, None
        host, port = str(address[0]), int(address[1])
        decision, asked = state.decide(host, port)
        if decision == PASS:
            return address, None
        if PROXYING.get():  # the mock's own proxy, on a request's behalf
            if decision == RESOLVE or state.host_at(host) is not None:
                return _resolved(sock, asked, port, getaddrinfo), None
            return address, None
        if decision == REDIRECT:
            mock = state.front_port
            target = (
                ("127.0.0.1", mock)
                if sock.family == socket.AF_INET
                else ("::ffff:127.0.0.1", mock, 0, 0)
            )
            # a blocking socket (a synchronous client) holds its thread until
            # the response comes: the server must know which, in case it is
            # the thread of the test's loop; an event loop's socket never does
            blocking = sock.gettimeout() != 0.0
            thread = threading.get_ident() if blocking else None
            return target, Connection(asked, port, thread)
        if decision == RESOLVE:
            return _resolved(sock, asked, port, getaddrinfo), None
        assert decision == BLOCK
        raise _blocked(state, asked, host, port)

    def note(sock: socket.socket, connection: Connection | None) -> None:
        if connection is not None:
            try:
                local_port = sock.getsockname()[1]
            except OSError:  # pragma: no cover - closed under us
                return
            state.connected(local_port, connection)

    def intercepting_connect(self: socket.socket, address: Any) -> None:
        target, connection = route(self, address)
        try:
            connect(self, target)
        except BlockingIOError:  # a non-blocking connect, under way
            note(self, connection)
            raise
        note(self, connection)

    def intercepting_connect_ex(self: socket.socket, address: Any) -> int:
        target, connection = route(self, address)
        result = connect_ex(self, target)
        note(self, connection)
        return result

    def intercepting_getaddrinfo(
        host: Any, port: Any, family: int = 0, type: int = 0, *args: Any, **kwargs: Any
    ) -> Any:
        name = host.decode("idna") if isinstance(host, bytes) else host
        if isinstance(name, str) and not PROXYING.get():
            address = state.address_for(name, port_number(port))
            if address is not None:
                return answer(address, port, family, type)
        answers = getaddrinfo(host, port, family, type, *args, **kwargs)
        if isinstance(name, str) and not is_address(name):
            state.remember(name, (str(answer[4][0]) for answer in answers))
        return answers

    cls.connect = intercepting_connect  # type: ignore[method-assign,assignment]
    cls.connect_ex = intercepting_connect_ex  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = intercepting_getaddrinfo


def restore() -> None:
    """Put back the names :func:`install` replaced."""
    if not _originals:
        return
    for name in ("connect", "connect_ex"):
        original = _originals[name]
        if original is _MISSING:
            delattr(socket.socket, name)
        else:
            setattr(socket.socket, name, original)
    socket.getaddrinfo = _originals["getaddrinfo"]
    _originals.clear()


def port_number(port: Any) -> int | None:
    """``getaddrinfo``'s port argument as a number, if it is one."""
    if isinstance(port, int):
        return port
    if isinstance(port, bytes):
        port = port.decode("ascii", "replace")
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        try:
            return socket.getservbyname(port, "tcp")
        except OSError:
            return None
    return None


def answer(address: str, port: Any, family: int, type_: int) -> list[Any]:
    """``getaddrinfo``'s answer for an intercepted name: ``address`` alone,
    for TCP (and for any type when none is asked: UDP is never redirected,
    and goes nowhere)."""
    number = port_number(port) or 0
    kind = type_ or socket.SOCK_STREAM
    proto = socket.IPPROTO_TCP if kind == socket.SOCK_STREAM else 0
    if family == socket.AF_INET6:
        return [(socket.AF_INET6, kind, proto, "", (f"::ffff:{address}", number, 0, 0))]
    return [(socket.AF_INET, kind, proto, "", (address, number))]


def _resolved(sock: socket.socket, host: str, port: int, getaddrinfo: Any) -> Any:
    """The real address of ``host`` for ``sock``: a host that a block lets
    out (passthrough) although its name was given one of our addresses."""
    answers = getaddrinfo(host, port, sock.family, socket.SOCK_STREAM)
    return answers[0][4]


def _blocked(
    state: Interception, host: str, address: str, port: int
) -> NetworkBlockedError:
    names = sorted(state.names_of(address))
    if host != address or not names:
        names = [host]
    shown = ", ".join(names)
    if address != host and state.host_at(address) is None:
        shown = f"{shown} ({address})"
    name = names[0]
    if state.host_at(address) is not None:
        why = (
            f"the mock takes connections on ports 80 and 443 and the ports that "
            f"routes name, and no route names port {port}"
        )
    else:
        why = "no other connection may leave this machine"
    message = (
        f"aiointercept blocked a connection to {shown} port {port}: inside a "
        f"mock_external_urls=True block, {why}. Register a route for "
        f"{name}:{port}, let the host through with passthrough=['{name}:{port}'] "
        "(or passthrough_unmatched=True), or turn this guard off with "
        "block_network=False."
    )
    logger.warning("%s", message)
    return NetworkBlockedError(message, name, port)
