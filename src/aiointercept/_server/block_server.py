"""One block's server: its listening sockets, served by the test's asyncio
loop or by the server thread's loop, from start to stop.

A block entered on an asyncio loop is served by that loop: nothing crosses
threads on the way of a request. The watch (see :mod:`.watch`) hands what that
loop leaves waiting to the server thread (see :mod:`.thread`), so that a
synchronous client blocking the loop is still answered. Under trio, and for
the pytest plugin's shared server, which has no loop, the server thread serves
everything. A block costs one or two sockets, never a thread, and the test
side never blocks on the server thread. The watch thread enters a block only
through :meth:`BlockServer.take_over_waiting`, under the block's sockets lock.
"""

from __future__ import annotations

import asyncio
import select
import socket
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
from yarl import URL

from aiointercept._adapters._aiohttp_resend import resend_guard

from .handler import RequestHandler
from .proxy import Proxy
from .sockets import (
    MADE_AND_CLOSED,
    ListeningSocket,
    WebServer,
    being_made,
    closable_now,
    close_connections,
    close_late_connections,
    close_server,
    connect,
    listen,
    serve,
    shut_down,
    stop_listening,
    turns_to_see_the_end,
)
from .thread import Signal, engine
from .watch import thread_clock

if TYPE_CHECKING:
    from aiointercept._core.dispatch import Dispatcher
    from aiointercept._core.test_loop import TestLoop
    from aiointercept._tls import TlsSettings

__all__ = ["BlockServer"]


class BlockServer:
    """One block's server: listening sockets on 127.0.0.1 with ephemeral ports,
    served by the test's asyncio loop (with the server thread taking over what
    that loop leaves waiting), or by the server thread alone.

    The sockets are made and bound on the caller's thread, so the URL is known
    at once and connections queue in the kernel until a loop serves them:
    starting never waits. Stopping closes the sockets and every connection made
    to them, and waits (without blocking the test's loop) until in-flight
    handlers have finished.

    With ``external=True`` (``mock_external_urls=True``) its port also takes
    the connections the interception sends it, in plain HTTP or TLS (see
    :mod:`.connection`), and each request's URL is rebuilt from the scheme and
    its ``Host`` header, so records show the URL the client asked for.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        test_loop: TestLoop | None,
        external: bool,
        tls: Mapping[tuple[str, int | None], TlsSettings] | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._test_loop = test_loop
        self._external = external
        #: What ``m.tls()`` set for the block.
        self._tls = {} if tls is None else tls
        #: Passthrough sessions, one per loop that serves.
        self._proxy = Proxy()
        #: Answers the requests, once the sockets are bound.
        self._handler: RequestHandler | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._serving: asyncio.Task[list[asyncio.AbstractServer]] | None = None
        self._web_server: WebServer | None = None
        self.url: URL | None = None
        # Serving on the test's loop (an asyncio one): that loop accepts and
        # serves; the server thread takes over connections it leaves waiting.
        self._home_loop: asyncio.AbstractEventLoop | None = None
        #: The clock of the CPU time of the thread that runs the test's loop,
        #: and that thread's id in the operating system.
        self.home_clock: int | None = None
        self.home_native_id: int | None = None
        self._home_server: WebServer | None = None
        self._home_serving: asyncio.Task[list[asyncio.AbstractServer]] | None = None
        self._sockets: list[ListeningSocket] = []
        self._ports: list[int] = []
        self._sockets_lock = threading.Lock()
        self._sockets_closed = False
        self._taking_over: set[asyncio.Task[Any]] = set()
        #: Where the block was entered (``file:line``), for the warning given
        #: if it is never exited.
        self.entered_at = "an unknown place"
        #: Called (from any thread) when the block is cleaned up unexited.
        self.on_abandon: Callable[[], None] | None = None
        self._abandoned = False

    async def start(self) -> URL:
        """Listen, without waiting for anything.

        On an asyncio test loop the block is served by that loop (no thread
        in the way of a request); the server thread watches the sockets and
        serves the connections the test's loop does not accept in time (its
        loop is blocked, by a synchronous client say). On trio the server
        thread serves everything.
        """
        try:
            home = asyncio.get_running_loop()
        except RuntimeError:  # trio
            return self.start_blocking()
        if self._loop is not None:
            raise RuntimeError("this server is already running")
        sockets = self._sockets = self._bind()
        server = self._home_server = self._new_server(home, server_thread=False)
        self._home_loop = home
        self.home_clock = thread_clock()
        self.home_native_id = threading.get_native_id()
        self._home_serving = home.create_task(serve(home, server, sockets))
        self._loop = engine.acquire()
        engine.watch(self, sockets)
        assert self.url is not None
        return self.url

    @property
    def home_accepted(self) -> int:
        """How many connections the test's loop has accepted (any thread)."""
        server = self._home_server
        return 0 if server is None else server.accepted

    def _bind(self) -> list[ListeningSocket]:
        sockets = [listen()]
        self._ports = [sock.getsockname()[1] for sock in sockets]
        self.url = URL.build(scheme="http", host="127.0.0.1", port=self._ports[0])
        self._handler = RequestHandler(
            self._dispatcher, self.url, self._external, self._proxy, self._tls
        )
        # aiohttp must not resend a request that a fault ended here
        resend_guard.track(self._ports)
        return sockets

    def _release(self) -> None:
        """The server has stopped: its ports are no longer a mock's."""
        resend_guard.untrack(self._ports)
        engine.release(self)

    def _new_server(
        self, loop: asyncio.AbstractEventLoop, *, server_thread: bool
    ) -> WebServer:
        assert self._handler is not None
        return self._handler.new_server(loop, server_thread=server_thread)

    # -- the server thread, standing in for a blocked test loop --------------

    def take_over_waiting(
        self, sock: socket.socket, loop: asyncio.AbstractEventLoop
    ) -> bool:
        """On the watch thread: accept the connections waiting on ``sock``,
        which the test's loop has left there (it is blocked), and have the
        server ``loop`` serve them. Whether there were any. A block whose
        event loop is gone is cleaned up instead."""
        if self.loop_gone():
            engine.abandon(self)
            return False
        took_over = False
        with self._sockets_lock:
            # closed, or closed as its loop shuts down: then cleaned up once
            # the loop is gone, like any abandoned block
            if self._sockets_closed or sock.fileno() == -1:
                return False
            while select.select([sock], [], [], 0)[0]:
                try:
                    conn, _ = sock.accept()
                except OSError:  # the test's loop took it first
                    break
                if self._web_server is None:
                    # made here, under the lock: a stop that comes next knows
                    # there is a connection to close
                    self._web_server = self._new_server(loop, server_thread=True)
                loop.call_soon_threadsafe(self._take_over, conn)
                took_over = True
        return took_over

    def _take_over(self, conn: socket.socket) -> None:
        """On the server loop: serve a connection taken over."""
        loop = asyncio.get_running_loop()
        server = self._web_server
        assert server is not None
        if server.closed:  # the block stopped meanwhile
            conn.close()
            return
        task = loop.create_task(connect(loop, server, conn))
        self._taking_over.add(task)
        task.add_done_callback(self._taking_over.discard)

    def start_blocking(self) -> URL:
        if self._loop is not None:
            raise RuntimeError("this server is already running")
        sockets = self._sockets = self._bind()
        loop = self._loop = engine.acquire()
        if self._test_loop is not None:
            engine.adopt(self)
        try:
            loop.call_soon_threadsafe(self._begin, sockets)
        except RuntimeError:  # pragma: no cover - the loop closed under us
            for sock in sockets:
                sock.close()
            raise
        assert self.url is not None
        return self.url

    def _begin(self, sockets: list[ListeningSocket]) -> None:
        assert self._loop is not None
        server = self._web_server = self._new_server(self._loop, server_thread=True)
        self._serving = self._loop.create_task(serve(self._loop, server, sockets))

    async def stop(self) -> None:
        """Close the listening sockets and connections (awaited on the test's
        loop without blocking it)."""
        if self._home_loop is not None:
            await self._stop_home()
            return
        stopped = Signal(self._test_loop)
        if self._request_stop(stopped):
            await stopped.wait()

    async def _stop_home(self) -> None:
        home, server, serving = self._home_loop, self._home_server, self._home_serving
        assert home is not None
        assert server is not None
        assert serving is not None
        if not self._claim_stop():
            return
        listeners = closable_now(serving, server, self._proxy.has_session(home))
        if listeners is None:
            stopped = Signal(self._test_loop)
            home.create_task(self._close_home(stopped))
            await stopped.wait()
            return
        self._close_sockets(server, listeners)
        were_open = close_connections(server)
        # a client of this loop sees its pooled connection end before it can
        # send on it again (see turns_to_see_the_end)
        if self._web_server is None:
            # none taken over (none can be now: the sockets are closed), so
            # nothing waits for the server thread: the connections still being
            # made, if any, are closed here, at no cost of a task or a thread's
            # signal
            if being_made(server, self._sockets, home):
                late = await self._close_late_here(server)
                # the turns that closing them waited count for the others
                turns = max(
                    turns_to_see_the_end(late),
                    turns_to_see_the_end(were_open) - MADE_AND_CLOSED,
                )
            else:
                self._release()
                turns = turns_to_see_the_end(were_open)
        else:
            # in a task of its own, which a cancellation of this one cannot
            # cut short
            stopped = Signal(self._test_loop)
            home.create_task(self._close_late_home(server, stopped))
            await stopped.wait()
            turns = turns_to_see_the_end(were_open)
        for _ in range(turns):
            await asyncio.sleep(0)

    async def _close_late_here(self, server: WebServer) -> int:
        """In the exiting task, which no cancellation cuts short (as
        :func:`.wait_shielded` does: anyio's is held off, asyncio's let
        through once done): wait until the connections the test's loop was
        still making are made, and closed (see :data:`.MADE_AND_CLOSED`),
        then close what is still open and release the block's part of the
        server thread. What :func:`.close_connections` answered then."""
        cancelled: BaseException | None = None
        try:
            with anyio.CancelScope(shield=True):
                for _ in range(MADE_AND_CLOSED):
                    try:
                        await asyncio.sleep(0)
                    except asyncio.CancelledError as exc:  # a turn has passed
                        cancelled = exc
        finally:
            try:
                late = close_connections(server)
            finally:
                self._release()
        if cancelled is not None:
            raise cancelled
        return late

    async def _close_late_home(self, server: WebServer, stopped: Signal) -> None:
        """On the test's loop, once its listening sockets are closed: close
        the connections it was still making (see
        :func:`.close_late_connections`), then end the server thread's part
        (then set ``stopped``)."""
        try:
            await close_late_connections(server)
        finally:
            self._stop_taking_over(stopped)

    def loop_gone(self) -> bool:
        """Whether the test's loop that serves this block has closed without
        the block exiting."""
        if self._stopping:
            return False
        home = self._home_loop
        if home is not None:
            return home.is_closed()
        return self._test_loop is not None and self._test_loop.gone()

    def abandon(self) -> bool:
        """Clean up a block that will never exit (its event loop is gone, or
        its instance was collected): close its listening sockets and
        connections and stop watching it, from any thread, without waiting.
        Returns whether this call did it (it is done once)."""
        if self._loop is None or not self._claim_stop():
            return False
        self._abandoned = True
        if self.on_abandon is not None:
            self.on_abandon()
        home = self._home_loop
        if home is None:  # served by the server thread
            self._schedule_stop(Signal(None))
            return True
        engine.unwatch(self)
        try:
            home.call_soon_threadsafe(self._abandon_home)
        except RuntimeError:  # the loop is closed: its transports went with it
            with self._sockets_lock:
                self._sockets_closed = True
                for sock in self._sockets:
                    sock.close()
            self._stop_taking_over(None)
        return True

    @staticmethod
    def reap_abandoned() -> list[str]:
        """Clean up the blocks whose event loop is gone; where every block
        cleaned up unexited since the last call had been entered."""
        return engine.reap()

    def _abandon_home(self) -> None:
        """On the test's loop, still running: stop serving at once."""
        server, serving = self._home_server, self._home_serving
        assert server is not None
        assert serving is not None
        if not serving.done():
            # not serving yet: it ends as its sockets close, as on a stop
            serving.cancel()
        served = serving.done() and not serving.cancelled() and not serving.exception()
        self._close_sockets(server, serving.result() if served else [])
        close_connections(server)
        self._stop_taking_over(None)

    def _close_sockets(
        self, server: WebServer, listeners: list[asyncio.AbstractServer]
    ) -> None:
        """Stop listening, where the server thread cannot be looking."""
        engine.unwatch(self)
        with self._sockets_lock:
            self._sockets_closed = True
            server.close()
            stop_listening(listeners, self._sockets)

    async def _close_home(self, stopped: Signal) -> None:
        try:
            assert self._home_server is not None
            assert self._home_serving is not None
            await close_server(
                self._home_server,
                self._home_serving,
                self._sockets,
                self._close_sockets,
            )
        finally:
            try:
                await self._proxy.close()
            finally:
                self._stop_taking_over(stopped)

    def _stop_taking_over(self, stopped: Signal | None) -> None:
        """End the server thread's part, after the sockets are closed: close
        the connections it took over, if any (then set ``stopped``)."""
        loop = self._loop
        assert loop is not None
        if self._web_server is None:  # none taken over, none can be now
            self._release()
            if stopped is not None:
                stopped.set()
            return
        try:
            loop.call_soon_threadsafe(
                lambda: loop.create_task(self._close_taken_over(stopped))
            )
        except RuntimeError:  # pragma: no cover - the server loop has ended
            self._release()
            if stopped is not None:
                stopped.set()

    async def _close_taken_over(self, stopped: Signal | None) -> None:
        try:
            if self._taking_over:
                await asyncio.gather(*self._taking_over, return_exceptions=True)
            server = self._web_server
            if server is not None:
                server.close()
                await shut_down(server)
            await self._proxy.close()
        finally:
            self._release()
            if stopped is not None:
                stopped.set()

    def stop_blocking(self) -> None:
        stopped = Signal(None)
        if self._request_stop(stopped):
            stopped.wait_blocking()

    def _request_stop(self, stopped: Signal) -> bool:
        if self._loop is None or not self._claim_stop():
            return False
        return self._schedule_stop(stopped)

    def _schedule_stop(self, stopped: Signal) -> bool:
        loop = self._loop
        assert loop is not None
        try:
            loop.call_soon_threadsafe(self._stop_now, stopped)
        except RuntimeError:  # pragma: no cover - the loop closed under us
            return False
        return True

    def _claim_stop(self) -> bool:
        """Whether the caller is the one to stop this server (the test's exit
        and the clean-up of an abandoned block may race)."""
        with self._sockets_lock:
            if self._stopping:
                return False
            self._stopping = True
            return True

    def _stop_now(self, stopped: Signal) -> None:
        """On the server loop: close at once when nothing needs waiting for
        (see :func:`closable_now`), else shut down gracefully in a task;
        either way, what was still being set up is closed too before
        ``stopped`` is set."""
        serving, server = self._serving, self._web_server
        assert serving is not None
        assert server is not None
        listeners = closable_now(serving, server, self._proxy.has_sessions())
        if listeners is None:
            asyncio.get_running_loop().create_task(self._close(stopped))
            return
        server.close()
        stop_listening(listeners, self._sockets)
        close_connections(server)
        asyncio.get_running_loop().create_task(self._close_late(server, stopped))

    async def _close_late(self, server: WebServer, stopped: Signal) -> None:
        """On the server loop, once closed: close the connections still being
        made as it closed, then tell the block it has stopped."""
        try:
            await close_late_connections(server)
        finally:
            self._release()
            stopped.set()

    async def _close(self, stopped: Signal) -> None:
        try:
            assert self._serving is not None
            assert self._web_server is not None
            await close_server(self._web_server, self._serving, self._sockets)
        finally:
            try:
                await self._proxy.close_all()
            finally:
                self._release()
                stopped.set()
