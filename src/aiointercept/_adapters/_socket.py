"""The guard of ``mock_external_urls=True``: nothing else leaves the machine.

While at least one such block is running, three names of the standard
library's :mod:`socket` module are wrapped:

``socket.socket.connect(address)`` and ``socket.socket.connect_ex(address)``
    a TCP connection (IPv4 or IPv6) to an address that is not loopback fails
    at once with :exc:`~aiointercept.NetworkBlockedError`, unless a running
    block lets it through (``passthrough``, ``passthrough_unmatched=True`` or
    ``block_network=False``). Every client and event loop written in Python
    (asyncio, trio, ``http.client``, ``urllib.request``, raw sockets) connects
    through these; Unix sockets and UDP are left alone.
``socket.getaddrinfo(host, port, ...)``
    unchanged in what it answers; it notes which names gave which addresses,
    so that the guard can name the host in its error and let through the
    addresses of hosts listed in ``passthrough``.

The supported clients never reach the guard for an intercepted host: their
adapters send those requests to the mock first.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import TYPE_CHECKING, Any

from aiointercept._adapters import PROXYING
from aiointercept._errors import NetworkBlockedError

if TYPE_CHECKING:
    from . import Interception

__all__ = ["CLIENT", "INCOMPATIBLE", "PATCHED_NAMES", "install", "restore"]

CLIENT = "socket"

#: The standard-library names the guard wraps.
PATCHED_NAMES: dict[str, tuple[str, ...]] = {
    "socket.connect": ("self", "address"),
    "socket.connect_ex": ("self", "address"),
    "getaddrinfo": ("host", "port"),
}

#: The standard library does not change under us.
INCOMPATIBLE: str | None = None

#: The clients whose requests the adapters send to the mock.
INTERCEPTED = "aiohttp, httpx and requests (urllib3)"

logger = logging.getLogger("aiointercept")

_MISSING = object()
_originals: dict[str, Any] = {}


def install(state: Interception) -> None:
    """Wrap ``socket.socket.connect``, ``connect_ex`` and ``socket.getaddrinfo``."""
    cls = socket.socket
    connect, connect_ex, getaddrinfo = cls.connect, cls.connect_ex, socket.getaddrinfo
    _originals.update(
        connect=vars(cls).get("connect", _MISSING),
        connect_ex=vars(cls).get("connect_ex", _MISSING),
        getaddrinfo=getaddrinfo,
    )

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        if sock.type != socket.SOCK_STREAM or not isinstance(address, tuple):
            return
        host, port = str(address[0]), int(address[1])
        if not state.allows_connection(host, port) and not PROXYING.get():
            raise _blocked(state, host, port)

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return connect_ex(self, address)

    def noting_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        answers = getaddrinfo(host, port, *args, **kwargs)
        name = host.decode("idna") if isinstance(host, bytes) else host
        if isinstance(name, str) and not _is_address(name):
            state.remember(name, (str(answer[4][0]) for answer in answers))
        return answers

    cls.connect = guarded_connect  # type: ignore[method-assign,assignment]
    cls.connect_ex = guarded_connect_ex  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = noting_getaddrinfo


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


def _blocked(state: Interception, address: str, port: int) -> NetworkBlockedError:
    names = sorted(state.names_of(address))
    host = names[0] if names else address
    shown = f"{', '.join(names)} ({address})" if names else address
    message = (
        f"aiointercept blocked a connection to {shown} port {port}: inside a "
        f"mock_external_urls=True block, the requests of {INTERCEPTED} go to "
        "the mock and no other connection may leave this machine. Send the "
        f"request with one of those clients, let the host through with "
        f"passthrough=[{host!r}] (or passthrough_unmatched=True), or turn this "
        "guard off with block_network=False."
    )
    logger.warning("%s", message)
    return NetworkBlockedError(message, host, port)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True
