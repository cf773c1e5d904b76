"""The watch: connections that a blocked test loop leaves waiting are handed
over to the server loop.

A block entered on an asyncio loop is served by that loop. A synchronous
client blocking that loop would wait forever for its answer, so the
``aiointercept-watch`` thread, one per server loop (see :mod:`.thread`),
watches the blocks' listening sockets. It is event-driven (see
:mod:`.readiness`): it sleeps until a watched socket has a connection waiting,
looks again :data:`TAKE_OVER_AFTER` later, and has the block accept what the
test's loop has still not accepted, for the server loop to serve it (see
:meth:`.BlockServer.take_over_waiting`). A block with no traffic never wakes
it. A loop that is busy rather than blocked (its thread has used CPU time
meanwhile, running the callbacks of a burst of requests, say, or is waiting
for a CPU on a loaded machine) is left to accept them itself, for up to
:data:`BUSY_LIMIT`: a loop idle in its selector would have accepted them at
once.

:class:`Watch` holds the watched sockets; they are added and removed from any
thread, under its lock, and only the watch thread waits on them.
"""

from __future__ import annotations

import asyncio
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .readiness import new_readiness

if TYPE_CHECKING:
    from .block_server import BlockServer

__all__ = ["BUSY_LIMIT", "TAKE_OVER_AFTER", "WATCH_REST", "Watch", "thread_clock"]

#: How long a connection to a block served by the test's loop may wait to be
#: accepted by that loop before the server thread takes it over.
TAKE_OVER_AFTER = 0.002

#: How long connections may wait for a test's loop that is busy (running
#: callbacks, not blocked) and accepts none of them, before the server thread
#: takes them over anyway: a burst of requests is served by the loop that
#: makes it.
BUSY_LIMIT = 0.2

#: How long the watch rests after finding the test's loop accepting, before
#: it waits for connections again: a test that makes connections one after
#: another wakes the watch at most this often. A connection that a blocked
#: loop leaves waiting meanwhile is taken over at the end of the rest.
WATCH_REST = 0.02

logger = logging.getLogger("aiointercept")

_Entry = tuple["BlockServer", socket.socket]


class Watch:
    """The listening sockets of the blocks served by a test's loop, and the
    thread that watches them for one server loop's lifetime.

    ``abandon`` cleans up a block whose watch failed (on the watch thread).
    """

    def __init__(self, abandon: Callable[[BlockServer], None]) -> None:
        self._abandon = abandon
        self._lock = threading.Lock()
        #: The watched listening sockets, by descriptor, with their block.
        self._watched: dict[int, _Entry] = {}
        self._readiness = new_readiness()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the watch thread, handing connections over to ``loop``."""
        threading.Thread(
            target=self._run,
            args=(loop,),
            name="aiointercept-watch",
            daemon=True,
        ).start()

    def add(self, server: BlockServer, sockets: Sequence[socket.socket]) -> None:
        """Watch ``server``'s listening ``sockets`` from now on (any thread;
        wakes nothing where there is epoll)."""
        with self._lock:
            for sock in sockets:
                self._watched[sock.fileno()] = (server, sock)
                self._readiness.add(sock)

    def remove(self, server: BlockServer) -> None:
        """Stop watching ``server``'s sockets, before they are closed."""
        with self._lock:
            for fd, (watched, sock) in list(self._watched.items()):
                if watched is server:
                    del self._watched[fd]
                    self._readiness.remove(sock)

    def servers(self) -> set[BlockServer]:
        """The blocks watched now."""
        with self._lock:
            return {server for server, _ in self._watched.values()}

    def clear(self) -> None:
        """Forget every socket: a wake-up from now on hands nothing over."""
        with self._lock:
            self._watched = {}

    def close(self) -> None:
        """End the watch thread (from any thread)."""
        self._readiness.close()

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        """The watch thread: wait for watched sockets to have a connection
        waiting; a little later, hand the connections still waiting to the
        server ``loop``. After a look that found the test's loop accepting (the
        usual case), rest :data:`WATCH_REST` before the next wait, so that a
        test making many connections does not wake this thread for each."""
        readiness = self._readiness
        #: fd -> (the socket's identity, since when its loop has been busy):
        #: a descriptor is reused by the sockets of later blocks
        busy_since: dict[int, tuple[int, float]] = {}
        while True:
            fds = readiness.wait()
            if fds is None:
                return
            with self._lock:
                entries = [(fd, self._watched.get(fd)) for fd in fds]
            before = [_activity(entry) for _, entry in entries]
            time.sleep(TAKE_OVER_AFTER)
            now = time.monotonic()
            # a socket not reported again has had its connections accepted
            busy_since = {fd: t for fd, t in busy_since.items() if fd in fds}
            took_over = busy = False
            for (fd, entry), (cpu, accepted) in zip(entries, before, strict=True):
                if entry is None:
                    continue
                if not _waiting(entry[1]):  # accepted meanwhile: the usual case
                    busy_since.pop(fd, None)
                    self._rearm(entry)
                    continue
                cpu_now, accepted_now = _activity(entry)
                sock_id, since = busy_since.get(fd, (0, now))
                if sock_id != id(entry[1]) or accepted_now != accepted:
                    # a new socket, or its loop accepts: a burst of connections
                    since = now
                busy_since[fd] = (id(entry[1]), since)
                # it used CPU time, or waits for a CPU (a loaded machine)
                runs = (cpu is not None and cpu_now != cpu) or _runnable(entry)
                if runs and now - since < BUSY_LIMIT:
                    # the loop runs, busy: it accepts when it gets there
                    busy = True
                    self._rearm(entry)
                    continue
                busy_since.pop(fd, None)
                took_over |= self._look(entry, loop)
            # hold no block while waiting: an abandoned one must be collectable
            del entries
            if not took_over and not busy:
                time.sleep(WATCH_REST)

    def _look(self, entry: _Entry, loop: asyncio.AbstractEventLoop) -> bool:
        """On the watch thread: hand the connections still waiting on
        ``entry``'s socket to the server loop, then watch it again. Whether
        there were any."""
        server, sock = entry
        took_over = False
        try:
            took_over = server.take_over_waiting(sock, loop)
        except Exception:  # one block's trouble stops no other
            logger.exception(
                "aiointercept: watching the block entered at %s failed; closing it",
                server.entered_at,
            )
            self.remove(server)
            self._abandon(server)
        self._rearm(entry)
        return took_over

    def _rearm(self, entry: _Entry) -> None:
        """Watch ``entry``'s socket again, unless it is no longer watched."""
        sock = entry[1]
        with self._lock:
            if self._watched.get(sock.fileno()) is entry:
                self._readiness.rearm(sock)


def _activity(entry: _Entry | None) -> tuple[int | None, int]:
    """What the loop that serves ``entry``'s block has done: the CPU time its
    thread has used, in nanoseconds (``None`` where it cannot be told), which
    does not grow while that thread is blocked (a synchronous client waiting
    for its answer, a ``time.sleep()``) and grows while the loop runs
    callbacks; and how many connections it has accepted."""
    if entry is None:
        return None, 0
    server = entry[0]
    accepted = server.home_accepted
    clock = server.home_clock
    if clock is None:
        return None, accepted
    try:
        return time.clock_gettime_ns(clock), accepted
    except OSError:  # the thread has ended
        return None, accepted


def _waiting(sock: socket.socket) -> bool:
    """Whether a connection waits on the listening ``sock``."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):  # closed meanwhile
        return False


def _runnable(entry: _Entry) -> bool:
    """Whether the thread of the loop that serves ``entry``'s block is running
    or waiting for a CPU, rather than sleeping (blocked), where the platform
    tells (Linux)."""
    thread = entry[0].home_native_id
    if thread is None:
        return False
    try:
        with open(f"/proc/self/task/{thread}/stat", "rb") as stat:
            # the state follows the command name, which is in brackets
            return stat.read().rpartition(b")")[2][1:2] == b"R"
    except OSError:  # not Linux, or the thread has ended
        return False


def thread_clock() -> int | None:
    """The clock of the CPU time of the calling thread, where the platform has
    one (Linux, most Unix systems); ``None`` elsewhere (then a loop that leaves
    connections waiting is taken for blocked, busy or not)."""
    getcpuclockid = getattr(time, "pthread_getcpuclockid", None)
    if getcpuclockid is None:  # pragma: no cover - macOS, Windows
        return None
    try:
        clock: int = getcpuclockid(threading.get_ident())
    except OSError:  # pragma: no cover - refused by the platform
        return None
    return clock
