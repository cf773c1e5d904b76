"""Which listening sockets have a connection waiting, told by the kernel.

aiointercept's watch thread must notice a connection that the test's loop
leaves waiting (a synchronous client blocking that loop) without checking
the sockets on a timer: an open block with no traffic must cost nothing. It
sleeps in :meth:`EpollReadiness.wait` until a watched socket has a
connection waiting. Sockets are added and removed from any thread without
waking it, and each is watched one-shot: once it has told about a waiting
connection it stays quiet until it is re-armed, so a connection that waits
does not wake the thread again and again.

Where there is no epoll (macOS, Windows), :class:`PolledReadiness` gives the
same answers by checking the armed sockets every :data:`POLL_INTERVAL`
while at least one is armed.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time

__all__ = [
    "POLL_INTERVAL",
    "EpollReadiness",
    "PolledReadiness",
    "Readiness",
    "new_readiness",
]

#: How often :class:`PolledReadiness` checks the armed sockets.
POLL_INTERVAL = 0.002


class PolledReadiness:
    """One-shot readiness by ``select()`` on the armed sockets, on a timer
    that runs only while a socket is armed. Thread-safe."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._armed: set[socket.socket] = set()
        self._closed = False

    def add(self, sock: socket.socket) -> None:
        with self._changed:
            self._armed.add(sock)
            self._changed.notify()

    rearm = add

    def remove(self, sock: socket.socket) -> None:
        with self._changed:
            self._armed.discard(sock)

    def wait(self) -> list[int] | None:
        """Block until armed sockets have a connection waiting, and return
        them, disarmed; ``None`` once closed."""
        while True:
            with self._changed:
                while not self._armed and not self._closed:
                    self._changed.wait()
                if self._closed:
                    return None
                # a socket closed while armed is forgotten, as epoll forgets it
                self._armed = {sock for sock in self._armed if sock.fileno() != -1}
                try:
                    readable = select.select(list(self._armed), [], [], 0)[0]
                except (OSError, ValueError):  # pragma: no cover - closed meanwhile
                    readable = []
                self._armed.difference_update(readable)
            if readable:
                return [sock.fileno() for sock in readable]
            time.sleep(POLL_INTERVAL)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._armed.clear()
            self._changed.notify()


class EpollReadiness:
    """One-shot readiness from an epoll instance of our own (Linux)."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        # written to by close(), to end a wait
        self._closing_r, self._closing_w = os.pipe()
        self._epoll.register(self._closing_r, select.EPOLLIN)
        self._closed = False
        self._lock = threading.Lock()

    def add(self, sock: socket.socket) -> None:
        self._epoll.register(sock.fileno(), select.EPOLLIN | select.EPOLLONESHOT)

    def rearm(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError):  # closed meanwhile
            self._epoll.modify(sock.fileno(), select.EPOLLIN | select.EPOLLONESHOT)

    def remove(self, sock: socket.socket) -> None:
        # gone already if the socket was closed, or the epoll instance
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(sock.fileno())

    def wait(self) -> list[int] | None:
        """Block until watched sockets have a connection waiting, and return
        them, disarmed until :meth:`rearm`; ``None`` once closed."""
        while True:
            try:
                events = self._epoll.poll()
            except InterruptedError:  # pragma: no cover - retried since 3.5
                continue
            except (OSError, ValueError):  # closed
                return None
            fds = [fd for fd, _ in events]
            if self._closing_r in fds:
                self._epoll.close()
                os.close(self._closing_r)
                return None
            if fds:
                return fds

    def close(self) -> None:
        """End :meth:`wait` (from any thread, once); the waiting thread
        cleans up."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        os.write(self._closing_w, b"x")
        os.close(self._closing_w)


Readiness = EpollReadiness | PolledReadiness

#: Whether the event-driven kind is available here (tests turn it off to run
#: the other kind).
EPOLL = hasattr(select, "epoll")


def new_readiness() -> Readiness:
    """The best kind available on this platform."""
    return EpollReadiness() if EPOLL else PolledReadiness()
