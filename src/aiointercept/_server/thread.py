"""The server thread: the process's one asyncio loop of aiointercept's own.

Blocks entered on trio, and the pytest plugin's shared server, which has no
loop, are served on it. Blocks entered on an asyncio loop are served by that
loop, and this one only serves the connections the watch hands over (see
:mod:`.watch`). :data:`engine` owns the loop, its thread and the watch, and
knows which blocks use them; it is called from any thread under its lock, and
wakes neither thread to do so.

:class:`Signal` is how a test's side waits for the server thread: awaited on
the test's loop without blocking it, or waited for by a thread.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import os
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from aiointercept._adapters._aiohttp_resend import resend_guard

from .test_loop import wait_shielded
from .watch import Watch

if TYPE_CHECKING:
    from aiointercept._core.test_loop import TestLoop

    from .block_server import BlockServer

__all__ = ["LINGER", "Signal", "active_servers", "engine"]

#: How long the server thread waits for a next block before it ends.
LINGER = 1.0


class _Engine:
    """The process's one server loop: an asyncio loop in a daemon thread.

    Blocks entered on trio are served on it; blocks entered on an asyncio
    loop are served by that loop, and this one only serves the connections
    that the watch hands over (see :meth:`.BlockServer.start`). Either way
    entering a block starts no thread and wakes none: the thread starts on
    first use, and ends once no block has used it for about :data:`LINGER`
    seconds (or at interpreter exit); a forked child starts its own.

    The watch runs in a second thread, ``aiointercept-watch``, that lives as
    long as the loop's (see :class:`.Watch`). A block with no traffic wakes
    neither thread, but for the server loop's once-a-:data:`LINGER` check of
    whether it is still needed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._users = 0
        #: The watch of the blocks' listening sockets, while the loop runs.
        self._watch: Watch | None = None
        #: Where the blocks the server thread cleaned up had been entered, to
        #: be reported (a ResourceWarning) on a test's thread.
        self._abandoned: list[str] = []
        #: Blocks of a test's loop (trio) served here, to notice that loop end.
        self._adopted: set[BlockServer] = set()
        #: When a block last stopped using the thread.
        self._released_at = 0.0

    @property
    def users(self) -> int:
        """How many servers are open."""
        return self._users

    def acquire(self) -> asyncio.AbstractEventLoop:
        """The running server loop, started if needed; pair with :meth:`release`."""
        with self._lock:
            loop = self._loop
            if loop is None or self._pid != os.getpid():
                # created here so that work can be queued on it at once, before
                # the thread runs it
                loop = self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                self._users = 0
                watch = self._watch = Watch(self.abandon)
                self._thread = threading.Thread(
                    target=_run_forever,
                    args=(loop, functools.partial(self._run, watch)),
                    name="aiointercept-server",
                    daemon=True,
                )
                self._thread.start()
                watch.start(loop)
            self._users += 1
            return loop

    def release(self, server: BlockServer) -> None:
        """A server has closed (callable from any thread, wakes nothing)."""
        with self._lock:
            self._users -= 1
            self._adopted.discard(server)
            self._released_at = time.monotonic()

    def adopt(self, server: BlockServer) -> None:
        """``server`` serves a test's loop (trio) from this thread."""
        with self._lock:
            self._adopted.add(server)

    def watch(self, server: BlockServer, sockets: Sequence[socket.socket]) -> None:
        """Watch ``server``'s listening ``sockets`` from now on (any thread,
        after :meth:`acquire`; wakes nothing where there is epoll)."""
        with self._lock:
            watch = self._watch
        assert watch is not None
        watch.add(server, sockets)

    def unwatch(self, server: BlockServer) -> None:
        """Stop watching ``server``'s sockets, before they are closed."""
        with self._lock:
            watch = self._watch
        if watch is not None:
            watch.remove(server)

    def abandon(self, server: BlockServer) -> None:
        """Clean up a block that will never exit (from the server thread);
        :meth:`reap` reports it."""
        if server.abandon():
            with self._lock:
                self._abandoned.append(server.entered_at)

    def reap(self) -> list[str]:
        """On a test's thread: clean up the watched blocks whose event loop is
        gone, and return where each block cleaned up since the last call had
        been entered."""
        with self._lock:
            watch = self._watch
            running = set(self._adopted)
        if watch is not None:
            running |= watch.servers()
        reaped = [s.entered_at for s in running if s.loop_gone() and s.abandon()]
        with self._lock:
            reaped += self._abandoned
            self._abandoned = []
        return reaped

    async def _run(self, watch: Watch) -> None:
        """End the loop, and the watch, once no block has used this loop for
        :data:`LINGER` seconds."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                await asyncio.sleep(LINGER)
                with self._lock:
                    if (
                        self._users
                        or self._loop is not loop
                        # a block used it meanwhile (blocks do not wake it)
                        or time.monotonic() - self._released_at < LINGER
                    ):
                        continue
                    self._loop = self._thread = None
                    self._watch = None
                loop.stop()
                return
        finally:
            watch.close()
            resend_guard.remove()

    def shutdown(self) -> None:
        """Stop the loop now and wait for its thread (at exit, and in tests)."""
        with self._lock:
            loop, thread, watch = self._loop, self._thread, self._watch
            self._loop = self._thread = None
            self._users = 0
            self._watch = None
        if watch is not None:
            watch.clear()
        if loop is None or thread is None or self._pid != os.getpid():
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(loop.stop)
        thread.join()


def _run_forever(
    loop: asyncio.AbstractEventLoop, main: Callable[[], Coroutine[Any, Any, None]]
) -> None:
    asyncio.set_event_loop(loop)
    try:
        task = loop.create_task(main())
        loop.run_forever()
    finally:
        try:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


#: The server loop shared by every block of this process.
engine = _Engine()
atexit.register(engine.shutdown)


def active_servers() -> int:
    """How many block servers are open (zero when every block has exited)."""
    return engine.users


class Signal:
    """Set once, by the server thread or the test's loop; awaited on the
    test's loop (without blocking it), or waited for by a thread when there
    is no loop."""

    def __init__(self, test_loop: TestLoop | None) -> None:
        self._test_loop = test_loop
        # one or the other: only a thread with no loop waits for the first
        self._event = threading.Event() if test_loop is None else None
        self._async_event = anyio.Event() if test_loop is not None else None

    def set(self) -> None:
        if self._event is not None:
            self._event.set()
        if self._test_loop is not None and self._async_event is not None:
            self._test_loop.call_soon(self._async_event.set)

    async def wait(self) -> None:
        assert self._async_event is not None
        await wait_shielded(self._async_event)

    def wait_blocking(self) -> None:
        assert self._event is not None
        self._event.wait()
