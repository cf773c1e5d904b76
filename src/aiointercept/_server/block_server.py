"""The aiohttp adapter: real HTTP servers on the test's asyncio loop, or on an
asyncio loop in a thread of aiointercept's own.

A block entered on an asyncio loop is served by that loop: nothing crosses
threads on the way of a request. The server thread (one per process, see
:class:`_Engine`) watches that block's sockets and takes over connections the
test's loop leaves waiting, so that a synchronous client blocking the loop is
still answered. Under trio, and for the pytest plugin's shared server, which
has no loop, the server thread serves everything. A block costs one or two
sockets, never a thread, and the test side never blocks on the server thread.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import io
import logging
import os
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
from aiohttp import DummyCookieJar, web
from yarl import URL

from aiointercept._adapters import PROXYING, is_loopback
from aiointercept._adapters._aiohttp import bypass
from aiointercept._adapters._aiohttp_resend import resend_guard
from aiointercept._core.dispatch import Passthrough, PendingCallback, Streamed
from aiointercept._core.responses import Reply
from aiointercept._core.websocket import PendingWebSocket

from .readiness import Readiness, new_readiness
from .reply import close_connection, write_reply
from .test_loop import wait_shielded
from .websocket import serve_websocket

if TYPE_CHECKING:
    from aiointercept._core.dispatch import Dispatcher

    from .test_loop import Host

__all__ = ["AiohttpServer", "active_servers", "engine"]

#: How long in-flight handlers get to finish when a block's server stops.
SHUTDOWN_TIMEOUT = 0.25

#: How long the server thread waits for a next block before it ends.
LINGER = 1.0

#: How long a connection to a block served by the test's loop may wait to be
#: accepted by that loop before the server thread takes it over.
TAKE_OVER_AFTER = 0.002

#: How long the watch rests after finding the test's loop accepting, before
#: it waits for connections again: a test that makes connections one after
#: another wakes the watch at most this often. A connection that a blocked
#: loop leaves waiting meanwhile is taken over at the end of the rest.
WATCH_REST = 0.02

_BACKLOG = 128

logger = logging.getLogger("aiointercept")

# Hop-by-hop headers (RFC 9110 7.6.1) and those the proxy session recomputes.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED_REQUEST = _HOP_BY_HOP | {"host", "content-length"}
_NOT_FORWARDED_RESPONSE = _HOP_BY_HOP | {"content-length"}


class _Engine:
    """The process's one server loop: an asyncio loop in a daemon thread.

    Blocks entered on trio are served on it; blocks entered on an asyncio
    loop are served by that loop, and this one only watches their sockets
    for connections left waiting (see :meth:`AiohttpServer.start`). Either way
    entering a block starts no thread and wakes none: the thread starts on
    first use, and ends once no block has used it for about :data:`LINGER`
    seconds (or at interpreter exit); a forked child starts its own.

    The watch runs in a second thread, ``aiointercept-watch``, that lives as
    long as the loop's. It is event-driven (see :mod:`._readiness`): it
    sleeps until a watched socket has a connection waiting, looks again
    :data:`TAKE_OVER_AFTER` later, and hands what the test's loop has still
    not accepted to the server loop. A block with no traffic wakes neither
    thread, but for the server loop's once-a-:data:`LINGER` check of whether
    it is still needed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._users = 0
        #: The watched listening sockets, by descriptor, with their block.
        self._watched: dict[int, tuple[AiohttpServer, socket.socket]] = {}
        self._readiness: Readiness | None = None
        #: Where the blocks the server thread cleaned up had been entered, to
        #: be reported (a ResourceWarning) on a test's thread.
        self._abandoned: list[str] = []
        #: Blocks of a test's loop (trio) served here, to notice that loop end.
        self._hosted: set[AiohttpServer] = set()
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
                self._watched = {}
                readiness = self._readiness = new_readiness()
                self._thread = threading.Thread(
                    target=_run_forever,
                    args=(loop, functools.partial(self._run, readiness)),
                    name="aiointercept-server",
                    daemon=True,
                )
                self._thread.start()
                threading.Thread(
                    target=self._watch,
                    args=(readiness, loop),
                    name="aiointercept-watch",
                    daemon=True,
                ).start()
            self._users += 1
            return loop

    def release(self, server: AiohttpServer) -> None:
        """A server has closed (callable from any thread, wakes nothing)."""
        with self._lock:
            self._users -= 1
            self._hosted.discard(server)
            self._released_at = time.monotonic()

    def host(self, server: AiohttpServer) -> None:
        """``server`` serves a test's loop (trio) from this thread."""
        with self._lock:
            self._hosted.add(server)

    def watch(self, server: AiohttpServer, sockets: list[socket.socket]) -> None:
        """Watch ``server``'s listening ``sockets`` from now on (any thread,
        after :meth:`acquire`; wakes nothing where there is epoll)."""
        with self._lock:
            readiness = self._readiness
            assert readiness is not None
            for sock in sockets:
                self._watched[sock.fileno()] = (server, sock)
                readiness.add(sock)

    def unwatch(self, server: AiohttpServer) -> None:
        """Stop watching ``server``'s sockets, before they are closed."""
        with self._lock:
            readiness = self._readiness
            for fd, (watched, sock) in list(self._watched.items()):
                if watched is server:
                    del self._watched[fd]
                    if readiness is not None:
                        readiness.remove(sock)

    def abandon(self, server: AiohttpServer) -> None:
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
            running = {server for server, _ in self._watched.values()}
            running |= self._hosted
        reaped = [s.entered_at for s in running if s.loop_gone() and s.abandon()]
        with self._lock:
            reaped += self._abandoned
            self._abandoned = []
        return reaped

    async def _run(self, readiness: Readiness) -> None:
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
                    self._readiness = None
                loop.stop()
                return
        finally:
            readiness.close()
            resend_guard.remove()

    def _watch(self, readiness: Readiness, loop: asyncio.AbstractEventLoop) -> None:
        """The watch thread: wait for watched sockets to have a connection
        waiting; a little later, hand the connections still waiting to the
        server loop. After a look that found the test's loop accepting (the
        usual case), rest :data:`WATCH_REST` before the next wait, so that a
        test making many connections does not wake this thread for each."""
        while True:
            fds = readiness.wait()
            if fds is None:
                return
            time.sleep(TAKE_OVER_AFTER)
            took_over = False
            for fd in fds:
                with self._lock:
                    entry = self._watched.get(fd)
                if entry is not None:
                    took_over |= self._look(readiness, entry, loop)
            if not took_over:
                time.sleep(WATCH_REST)

    def _look(
        self,
        readiness: Readiness,
        entry: tuple[AiohttpServer, socket.socket],
        loop: asyncio.AbstractEventLoop,
    ) -> bool:
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
            self.unwatch(server)
            self.abandon(server)
        with self._lock:
            if self._watched.get(sock.fileno()) is entry:
                readiness.rearm(sock)
        return took_over

    def shutdown(self) -> None:
        """Stop the loop now and wait for its thread (at exit, and in tests)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
            self._users = 0
            self._watched = {}
            self._readiness = None
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


class AiohttpServer:
    """One block's server: listening sockets on 127.0.0.1 with ephemeral ports,
    served by the test's asyncio loop (with the server thread taking over what
    that loop leaves waiting), or by the server thread alone.

    The sockets are made and bound on the caller's thread, so the URL is known
    at once and connections queue in the kernel until a loop serves them:
    starting never waits. Stopping closes the sockets and every connection made
    to them, and waits (without blocking the test's loop) until in-flight
    handlers have finished.

    With ``external=True`` (``mock_external_urls=True``) it listens on a second
    port that stands for ``https``: the DNS patch sends intercepted ``https``
    requests there over plain TCP, and each request's URL is rebuilt from that
    scheme and its ``Host`` header, so records show the URL the client asked for.
    """

    def __init__(
        self, dispatcher: Dispatcher, host: Host | None, external: bool
    ) -> None:
        self._dispatcher = dispatcher
        self._host = host
        self._external = external
        self.https_port: int | None = None
        #: Passthrough sessions, one per loop that serves.
        self._proxies: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._serving: asyncio.Task[list[asyncio.AbstractServer]] | None = None
        self._web_server: _Server | None = None
        self.url: URL | None = None
        # Serving on the test's loop (an asyncio one): that loop accepts and
        # serves; the server thread takes over connections it leaves waiting.
        self._home_loop: asyncio.AbstractEventLoop | None = None
        self._home_server: _Server | None = None
        self._home_serving: asyncio.Task[list[asyncio.AbstractServer]] | None = None
        self._sockets: list[socket.socket] = []
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
        server = self._home_server = self._new_server(home)
        self._home_loop = home
        self._home_serving = home.create_task(_serve(home, server, sockets))
        self._loop = engine.acquire()
        engine.watch(self, sockets)
        assert self.url is not None
        return self.url

    def _bind(self) -> list[socket.socket]:
        sockets = [_listen()]
        if self._external:
            sockets.append(_listen())
            self.https_port = sockets[1].getsockname()[1]
        port = sockets[0].getsockname()[1]
        self.url = URL.build(scheme="http", host="127.0.0.1", port=port)
        # aiohttp must not resend a request that a fault ended here
        self._ports = [sock.getsockname()[1] for sock in sockets]
        resend_guard.track(self._ports)
        return sockets

    def _release(self) -> None:
        """The server has stopped: its ports are no longer a mock's."""
        resend_guard.untrack(self._ports)
        engine.release(self)

    def _new_server(self, loop: asyncio.AbstractEventLoop) -> _Server:
        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            return await self._handle(request, server)

        # auto_decompress=False: request bodies are recorded as sent;
        # handler_cancellation: a handler whose client has gone is cancelled at
        # once (a delay, a hang, a stream, an async callback), so that nothing
        # waits for it
        server = _Server(
            handle,
            request_factory=self._make_request,
            access_log=None,
            auto_decompress=False,
            handler_cancellation=True,
            loop=loop,
        )
        return server

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
                    self._web_server = self._new_server(loop)
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
        task = loop.create_task(_connect(loop, server, conn))
        self._taking_over.add(task)
        task.add_done_callback(self._taking_over.discard)

    def start_blocking(self) -> URL:
        if self._loop is not None:
            raise RuntimeError("this server is already running")
        sockets = self._sockets = self._bind()
        loop = self._loop = engine.acquire()
        if self._host is not None:
            engine.host(self)
        try:
            loop.call_soon_threadsafe(self._begin, sockets)
        except RuntimeError:  # pragma: no cover - the loop closed under us
            for sock in sockets:
                sock.close()
            raise
        assert self.url is not None
        return self.url

    def _begin(self, sockets: list[socket.socket]) -> None:
        assert self._loop is not None
        server = self._web_server = self._new_server(self._loop)
        self._serving = self._loop.create_task(_serve(self._loop, server, sockets))

    async def stop(self) -> None:
        """Close the listening sockets and connections (awaited on the test's
        loop without blocking it)."""
        if self._home_loop is not None:
            await self._stop_home()
            return
        stopped = _Signal(self._host)
        if self._request_stop(stopped):
            await stopped.wait()

    async def _stop_home(self) -> None:
        home, server, serving = self._home_loop, self._home_server, self._home_serving
        assert home is not None
        assert server is not None
        assert serving is not None
        if not self._claim_stop():
            return
        listeners = _closable_now(serving, server, home in self._proxies)
        if listeners is None:
            stopped = _Signal(self._host)
            home.create_task(self._close_home(stopped))
            await stopped.wait()
            return
        self._close_sockets(server, listeners)
        were_open = _close_connections(server)
        if self._web_server is None:  # nothing taken over: no wait either
            self._stop_taking_over(None)
        else:
            stopped = _Signal(self._host)
            self._stop_taking_over(stopped)
            await stopped.wait()
        if were_open:
            # a client of this loop sees its pooled connection end before it
            # can send on it again: the end, sent at once over loopback, is
            # read in the loop's next turn, and this task resumes in the one
            # after
            await asyncio.sleep(0)
            await asyncio.sleep(0)

    def loop_gone(self) -> bool:
        """Whether the test's loop that serves this block has closed without
        the block exiting."""
        if self._stopping:
            return False
        home = self._home_loop
        if home is not None:
            return home.is_closed()
        return self._host is not None and self._host.gone()

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
            self._schedule_stop(_Signal(None))
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
        _close_connections(server)
        self._stop_taking_over(None)

    def _close_sockets(
        self, server: _Server, listeners: list[asyncio.AbstractServer]
    ) -> None:
        """Stop listening, where the server thread cannot be looking."""
        engine.unwatch(self)
        with self._sockets_lock:
            self._sockets_closed = True
            server.close()
            _stop_listening(listeners, self._sockets)

    async def _close_home(self, stopped: _Signal) -> None:
        try:
            assert self._home_server is not None
            assert self._home_serving is not None
            await _close_server(
                self._home_server,
                self._home_serving,
                self._sockets,
                self._close_sockets,
            )
        finally:
            try:
                proxy = self._proxies.pop(asyncio.get_running_loop(), None)
                if proxy is not None:
                    await proxy.close()
            finally:
                self._stop_taking_over(stopped)

    def _stop_taking_over(self, stopped: _Signal | None) -> None:
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

    async def _close_taken_over(self, stopped: _Signal | None) -> None:
        try:
            if self._taking_over:
                await asyncio.gather(*self._taking_over, return_exceptions=True)
            server = self._web_server
            if server is not None:
                server.close()
                await _shut_down(server)
            proxy = self._proxies.pop(asyncio.get_running_loop(), None)
            if proxy is not None:
                await proxy.close()
        finally:
            self._release()
            if stopped is not None:
                stopped.set()

    def stop_blocking(self) -> None:
        stopped = _Signal(None)
        if self._request_stop(stopped):
            stopped.wait_blocking()

    def _request_stop(self, stopped: _Signal) -> bool:
        if self._loop is None or not self._claim_stop():
            return False
        return self._schedule_stop(stopped)

    def _schedule_stop(self, stopped: _Signal) -> bool:
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

    def _stop_now(self, stopped: _Signal) -> None:
        """On the server loop: close at once when nothing needs waiting for
        (see :func:`_closable_now`), else shut down gracefully in a task."""
        serving, server = self._serving, self._web_server
        assert serving is not None
        assert server is not None
        listeners = _closable_now(serving, server, bool(self._proxies))
        if listeners is None:
            asyncio.get_running_loop().create_task(self._close(stopped))
            return
        server.close()
        _stop_listening(listeners, self._sockets)
        _close_connections(server)
        self._release()
        stopped.set()

    async def _close(self, stopped: _Signal) -> None:
        try:
            assert self._serving is not None
            assert self._web_server is not None
            await _close_server(self._web_server, self._serving, self._sockets)
        finally:
            try:
                for proxy in self._proxies.values():
                    await proxy.close()
                self._proxies.clear()
            finally:
                self._release()
                stopped.set()

    def _make_request(
        self, message: Any, payload: Any, protocol: Any, writer: Any, task: Any
    ) -> web.BaseRequest:
        # no size limit: the mock reads every body in full, as the test sent it
        return web.BaseRequest(
            message,
            payload,
            protocol,
            writer,
            task,
            asyncio.get_running_loop(),
            client_max_size=sys.maxsize,
        )

    async def _handle(
        self, request: web.BaseRequest, server: _Server
    ) -> web.StreamResponse:
        body = await request.read()
        outcome = self._dispatcher.dispatch(
            request.method, self._request_url(request), request.headers, body
        )
        if isinstance(outcome, PendingWebSocket):
            return await serve_websocket(request, outcome)
        if isinstance(outcome, PendingCallback):
            outcome = await self._wait(outcome)
        elif isinstance(outcome, Passthrough):
            return await self._pass_through(request, body, outcome.record)
        if outcome is None:
            return close_connection(request)
        return await write_reply(
            request,
            outcome,
            self._dispatcher,
            lambda: server.until_closed(request.protocol),
        )

    def _request_url(self, request: web.BaseRequest) -> URL:
        base = self.url
        assert base is not None
        raw_path = request.raw_path
        if self._external and request.host:
            # the URL the client asked for: the scheme from the port, the host
            # (and any non-default port) from the Host header
            scheme = "https" if self._local_port(request) == self.https_port else "http"
            base = URL(f"{scheme}://{request.host}", encoded=True)
        if raw_path.startswith("/"):
            url = URL(f"{base}{raw_path}", encoded=True)
        elif "://" in raw_path:  # absolute-form request target
            url = URL(raw_path, encoded=True)
        else:  # asterisk-form ("OPTIONS *")
            return base
        return url.with_fragment(None) if url.raw_fragment else url

    @staticmethod
    def _local_port(request: web.BaseRequest) -> int | None:
        transport = request.transport
        sockname = transport.get_extra_info("sockname") if transport else None
        return sockname[1] if sockname else None

    async def _pass_through(
        self,
        request: web.BaseRequest,
        body: bytes,
        record: Callable[[int, str, list[tuple[str, str]], bytes], None] | None,
    ) -> web.StreamResponse:
        """Proxy an unmatched request to its real destination, streaming the
        response back untouched (compressed bodies stay compressed); with
        ``record``, also hand it the whole response once it is sent."""
        loop = asyncio.get_running_loop()
        proxy = self._proxies.get(loop)
        if proxy is None:
            connector = aiohttp.TCPConnector()
            bypass(connector)
            proxy = self._proxies[loop] = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, cookie_jar=DummyCookieJar()
            )
        url = self._request_url(request)
        if url.port in (self.url and self.url.port, self.https_port) and (
            is_loopback(url.raw_host or "")
        ):
            # the mock's own address: passing it on would loop back here
            logger.warning("not passing %s through: it is the mock itself", url)
            return close_connection(request)
        headers = [
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in _NOT_FORWARDED_REQUEST
        ]
        proxying = PROXYING.set(True)  # the network guard lets this through
        try:
            upstream = await proxy.request(
                request.method,
                url,
                headers=headers,
                data=io.BytesIO(body) if body else None,
                allow_redirects=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            )
        except (aiohttp.ClientError, OSError) as exc:
            logger.warning("passthrough to %s failed: %r", url, exc)
            return close_connection(request)
        finally:
            PROXYING.reset(proxying)
        async with upstream:
            response = web.StreamResponse(
                status=upstream.status, reason=upstream.reason
            )
            for name, value in upstream.headers.items():
                if name.lower() not in _NOT_FORWARDED_RESPONSE:
                    response.headers.add(name, value)
            if upstream.headers.get("Content-Length") is not None:
                response.content_length = int(upstream.headers["Content-Length"])
            if record is None:
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
            # Recording: streamed as it comes, but what lets the client see the
            # response complete (its last bytes, or the end of a chunked body)
            # waits until the interaction is recorded, so that a client (and
            # its test) that has the whole response finds it in the cassette.
            length = response.content_length
            bodiless = request.method == "HEAD" or upstream.status in (204, 304)
            chunks: list[bytes] = []
            held = b""
            sent = 0
            if not bodiless and length != 0:
                await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                chunks.append(chunk)
                if length is not None and sent + len(chunk) >= length:
                    held += chunk
                else:
                    await response.write(chunk)
                    sent += len(chunk)
            # a failing hook is kept by the cassette, raised at the block's exit
            with contextlib.suppress(Exception):
                record(
                    upstream.status,
                    upstream.reason or "",
                    list(upstream.headers.items()),
                    b"".join(chunks),
                )
            if not response.prepared:
                await response.prepare(request)
            if held:
                await response.write(held)
            await response.write_eof()
        return response

    async def _wait(self, pending: PendingCallback) -> Reply | Streamed:
        """Wait for an async callback running on the test's loop.

        If it has not started within ``callback_start_timeout`` (the test's loop
        is blocked), it is cancelled before it can start and a 503 explains why.
        """
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def wake(_: object) -> None:
            with contextlib.suppress(RuntimeError):  # the server loop has ended
                loop.call_soon_threadsafe(done.set)

        pending.future.add_done_callback(wake)
        try:
            await asyncio.wait_for(done.wait(), self._dispatcher.callback_start_timeout)
        except asyncio.TimeoutError:
            if pending.future.cancel():
                return self._dispatcher.not_started(pending)
            await done.wait()
        except asyncio.CancelledError:  # the client has gone: so does the callback
            pending.host.cancel(pending.future)
            raise
        return self._dispatcher.complete(pending)


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def _serve(
    loop: asyncio.AbstractEventLoop, server: _Server, sockets: list[socket.socket]
) -> list[asyncio.AbstractServer]:
    """Serve ``server`` on the listening ``sockets`` (on the server loop)."""
    listeners: list[asyncio.AbstractServer] = []
    try:
        for sock in sockets:
            listeners.append(await loop.create_server(server, sock=sock))
    except BaseException:
        for listener in listeners:
            # its socket may have been closed under it (the block stopped)
            with contextlib.suppress(OSError, ValueError):
                listener.close()
        for sock in sockets[len(listeners) :]:
            sock.close()
        raise
    return listeners


def _closable_now(
    serving: asyncio.Task[list[asyncio.AbstractServer]],
    server: _Server,
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
    serving: asyncio.Task[list[asyncio.AbstractServer]], server: _Server
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
    sock = transport.get_extra_info("socket")
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


def _close_connections(server: _Server) -> bool:
    """Close ``server``'s connections at once, the end sent to their clients
    now rather than at the loop's next turn. Whether any was open."""
    were_open = False
    for handler in list(server.connections):
        transport = handler.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            were_open = True
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        handler.force_close()
    return were_open


#: Read without consuming and without blocking, where the platform can
#: (0: it cannot, and connections are closed gracefully).
_PEEK_FLAGS: int = (
    socket.MSG_PEEK | socket.MSG_DONTWAIT if hasattr(socket, "MSG_DONTWAIT") else 0
)


async def _connect(
    loop: asyncio.AbstractEventLoop, server: _Server, conn: socket.socket
) -> None:
    """Serve a connection accepted on the server thread's behalf."""
    try:
        await loop.connect_accepted_socket(server, conn)
    except BaseException:
        conn.close()
        raise


async def _close_server(
    server: _Server,
    serving: asyncio.Task[list[asyncio.AbstractServer]],
    sockets: list[socket.socket],
    close: Callable[[_Server, list[asyncio.AbstractServer]], None] | None = None,
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
        _stop_listening(listeners, sockets)
    await _shut_down(server)


async def _shut_down(server: _Server) -> None:
    """Close ``server``'s idle connections and give in-flight handlers
    :data:`SHUTDOWN_TIMEOUT` seconds to finish."""
    # let requests already received start, so that they are answered
    await asyncio.sleep(0)
    for handler in server.connections:
        handler.close()
    await server.shutdown(SHUTDOWN_TIMEOUT)


class _Signal:
    """Set once by the server thread; awaited on the test's loop (without
    blocking it), or waited for by a thread when there is no loop."""

    def __init__(self, host: Host | None) -> None:
        self._host = host
        self._event = threading.Event()
        self._async_event = anyio.Event() if host is not None else None

    def set(self) -> None:
        self._event.set()
        if self._host is not None and self._async_event is not None:
            self._host.call_soon(self._async_event.set)

    async def wait(self) -> None:
        assert self._async_event is not None
        await wait_shielded(self._async_event)

    def wait_blocking(self) -> None:
        self._event.wait()


class _Server(web.Server):
    """Knows its open connections, to wait for one to close (hanging
    responses)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[object] = set()
        self._until_closed: dict[object, list[asyncio.Future[None]]] = {}
        #: Set when the block's server stops: a connection whose set-up was
        #: still under way then is closed as soon as it is made.
        self.closed = False

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


def _stop_listening(
    listeners: list[asyncio.AbstractServer], sockets: list[socket.socket]
) -> None:
    """Stop accepting connections and close the listening sockets.

    On Python < 3.12, ``asyncio.Server.close()`` breaks (and leaks the socket
    of) a connection whose set-up is still under way on the loop. Stopping the
    sockets without it lets such a connection be made; the closed
    :class:`_Server` then closes it at once.
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
