"""Which listening sockets have a connection waiting, told by the kernel.

The server thread must notice a connection that the test's loop leaves
waiting (a synchronous client blocking that loop) without checking the
sockets on a timer: an open block with no traffic must cost nothing. On Linux
an epoll instance of our own holds the watched sockets. Its descriptor is
itself pollable, so the server thread's event loop sleeps on it like on any
socket, and sockets are added to it and removed from it from any thread
without waking that thread. Each socket is watched one-shot: once it has told
about a waiting connection it stays quiet until it is re-armed, so a
connection that waits does not wake the thread again and again.

Where there is no epoll, :class:`PolledReadiness` gives the same answers by
checking the armed sockets when asked; the server thread then asks on a timer,
while at least one socket is armed.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading

__all__ = ["EpollReadiness", "PolledReadiness", "Readiness", "new_readiness"]


class PolledReadiness:
    """One-shot readiness by ``select()`` on the armed sockets, when asked.

    Thread-safe. :attr:`fileno` is ``None``: the owner must call :meth:`ready`
    on a timer while :meth:`armed` is true.
    """

    fileno: int | None = None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: set[socket.socket] = set()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._armed.add(sock)

    rearm = add

    def remove(self, sock: socket.socket) -> None:
        with self._lock:
            self._armed.discard(sock)

    def armed(self) -> bool:
        return bool(self._armed)

    def ready(self) -> list[int]:
        """The armed sockets with a connection waiting, disarmed."""
        with self._lock:
            # a socket closed while armed is forgotten, as epoll forgets it
            self._armed = {sock for sock in self._armed if sock.fileno() != -1}
            if not self._armed:
                return []
            readable = select.select(list(self._armed), [], [], 0)[0]
            self._armed.difference_update(readable)
        return [sock.fileno() for sock in readable]

    def close(self) -> None:
        with self._lock:
            self._armed.clear()


class EpollReadiness:
    """One-shot readiness from an epoll instance (Linux): :attr:`fileno` is
    readable when a watched socket has a connection waiting."""

    _EVENTS = select.EPOLLIN | select.EPOLLONESHOT if hasattr(select, "epoll") else 0

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self.fileno: int | None = self._epoll.fileno()

    def add(self, sock: socket.socket) -> None:
        self._epoll.register(sock.fileno(), self._EVENTS)

    def rearm(self, sock: socket.socket) -> None:
        self._epoll.modify(sock.fileno(), self._EVENTS)

    def remove(self, sock: socket.socket) -> None:
        # gone already if the socket was closed, or the epoll instance
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(sock.fileno())

    def armed(self) -> bool:  # pragma: no cover - never polled on a timer
        return False

    def ready(self) -> list[int]:
        """The sockets that told about a waiting connection since the last
        call, disarmed until :meth:`rearm`."""
        try:
            return [fd for fd, _ in self._epoll.poll(0)]
        except ValueError:  # closed as the server loop ended
            return []

    def close(self) -> None:
        self._epoll.close()


Readiness = EpollReadiness | PolledReadiness

#: Whether the event-driven kind is available here (tests turn it off to run
#: the other kind).
EPOLL = hasattr(select, "epoll")


def new_readiness() -> Readiness:
    """The best kind available on this platform."""
    return EpollReadiness() if EPOLL else PolledReadiness()
