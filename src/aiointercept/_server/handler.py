"""A block's requests: each aiohttp request is turned into the URL, headers
and body the dispatcher records and matches, and answered with what it
decides (a reply, a WebSocket, a passthrough, an async callback's result).

:class:`RequestHandler` runs on whichever loop serves the connection: the
test's loop, or the server loop (see :mod:`.thread`). An async callback runs
on the test's loop; :meth:`RequestHandler._wait` waits for it from the
serving loop without blocking either.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from yarl import URL

from aiointercept._adapters import interception
from aiointercept._core.dispatch import Passthrough, PendingCallback, Streamed
from aiointercept._core.responses import Reply
from aiointercept._core.websocket_connections import PendingWebSocket
from aiointercept._tls import subject_of

from .reply import close_connection, write_reply
from .sockets import WebServer
from .websocket import serve_websocket

if TYPE_CHECKING:
    from aiointercept._core.dispatch import Dispatcher

    from .proxy import Proxy

__all__ = ["HANG_WARNING_AFTER", "RequestHandler", "make_request"]

#: Seconds a request may wait, held open by ``fault="hang"`` (or an
#: ``exception=`` that is a timeout) or by an async callback still running,
#: before a WARNING on the ``aiointercept`` logger says what it waits for.
#: Nothing is scheduled for a request that does not wait.
HANG_WARNING_AFTER = 5.0


def make_request(
    message: Any, payload: Any, protocol: Any, writer: Any, task: Any
) -> web.BaseRequest:
    """aiohttp's request factory: a request with no size limit, as the mock
    reads every body in full, as the test sent it."""
    return web.BaseRequest(
        message,
        payload,
        protocol,
        writer,
        task,
        asyncio.get_running_loop(),
        client_max_size=sys.maxsize,
    )


class RequestHandler:
    """Answers the requests made to one block's listening sockets.

    ``url`` is the block's own URL. When the block mocks external URLs
    (``external``), each request's URL is rebuilt from the connection's scheme
    (TLS or not) and the request's ``Host`` header, so records show the URL
    the client asked for.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        url: URL,
        external: bool,
        proxy: Proxy,
    ) -> None:
        self._dispatcher = dispatcher
        self._url = url
        self._external = external
        self._proxy = proxy
        self._own_ports = (url.port,)

    def new_server(self, loop: asyncio.AbstractEventLoop) -> WebServer:
        """An aiohttp server for the block's connections on ``loop``."""

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            return await self._handle(request, server)

        # auto_decompress=False: request bodies are recorded as sent;
        # handler_cancellation: a handler whose client has gone is cancelled at
        # once (a delay, a hang, a stream, an async callback), so that nothing
        # waits for it
        server = WebServer(
            handle,
            request_factory=make_request,
            access_log=None,
            auto_decompress=False,
            handler_cancellation=True,
            loop=loop,
        )
        server.tls = self._external
        return server

    async def _handle(
        self, request: web.BaseRequest, server: WebServer
    ) -> web.StreamResponse:
        body = await request.read()
        url = self._request_url(request)
        headers = request.headers
        sender_thread = client_cert = None
        if self._external:
            sender_thread, client_cert = _connection_facts(request)
        outcome = self._dispatcher.dispatch(
            request.method, url, headers, body, sender_thread, client_cert
        )
        if isinstance(outcome, PendingWebSocket):
            return await serve_websocket(request, outcome)
        if isinstance(outcome, PendingCallback):
            outcome = await self._wait(outcome)
        elif isinstance(outcome, Passthrough):
            return await self._proxy.forward(
                request, url, self._own_ports, body, outcome.to_cassette
            )
        if outcome is None:
            return close_connection(request)
        return await write_reply(
            request,
            outcome,
            self._dispatcher,
            lambda: self._hang(request, url, server),
        )

    async def _hang(
        self, request: web.BaseRequest, url: URL, server: WebServer
    ) -> None:
        """Hold the connection open until the client closes it (``fault="hang"``),
        saying once what the request waits for if that takes a while."""
        with _warning_after(
            HANG_WARNING_AFTER,
            lambda: self._dispatcher.hanging(request.method, url, HANG_WARNING_AFTER),
        ):
            await server.until_closed(request.protocol)

    def _request_url(self, request: web.BaseRequest) -> URL:
        base = self._url
        raw_path = request.raw_path
        if self._external and request.host:
            # the URL the client asked for: the scheme from the connection,
            # the host (and any non-default port) from the Host header
            transport = request.transport
            secure = transport is not None and transport.get_extra_info("sslcontext")
            scheme = "https" if secure else "http"
            base = URL(f"{scheme}://{request.host}", encoded=True)
        if raw_path.startswith("/"):
            url = URL(f"{base}{raw_path}", encoded=True)
        elif "://" in raw_path:  # absolute-form request target
            url = URL(raw_path, encoded=True)
        else:  # asterisk-form ("OPTIONS *")
            return base
        return url.with_fragment(None) if url.raw_fragment else url

    async def _wait(self, pending: PendingCallback) -> Reply | Streamed:
        """Wait for an async callback running on the test's loop.

        If it has not started within ``callback_start_timeout`` (the test's loop
        is blocked), it is cancelled before it can start and a 503 explains why;
        if it has started, a WARNING says what the request waits for once it
        has waited :data:`HANG_WARNING_AFTER` seconds (or the start timeout, if
        longer).
        """
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def wake(_: object) -> None:
            with contextlib.suppress(RuntimeError):  # the server loop has ended
                loop.call_soon_threadsafe(done.set)

        pending.future.add_done_callback(wake)
        start_timeout = self._dispatcher.callback_start_timeout
        try:
            try:
                await asyncio.wait_for(done.wait(), start_timeout)
            except asyncio.TimeoutError:
                if pending.future.cancel():
                    return self._dispatcher.not_started(pending)
                waited = max(HANG_WARNING_AFTER, start_timeout)
                with _warning_after(
                    waited - start_timeout,
                    lambda: self._dispatcher.still_running(pending, waited),
                ):
                    await done.wait()
        except asyncio.CancelledError:  # the client has gone: so does the callback
            pending.test_loop.cancel(pending.future)
            raise
        return self._dispatcher.complete(pending)


def _connection_facts(request: web.BaseRequest) -> tuple[int | None, str | None]:
    """The thread that opened the request's connection with a blocking socket,
    when the interception noted it, and the subject of the client's
    certificate, when it showed one (mutual TLS)."""
    transport = request.transport
    if transport is None:  # pragma: no cover - the client has gone
        return None, None
    peer = transport.get_extra_info("peername")
    connection = interception.connection(peer[1]) if peer else None
    sender_thread = connection.thread if connection is not None else None
    ssl_object = transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    return sender_thread, subject_of(der) if der else None


@contextlib.contextmanager
def _warning_after(seconds: float, warn: Callable[[], None]) -> Iterator[None]:
    """Call ``warn()`` if the body of the ``with`` statement is still running
    after ``seconds``: one timer, made only for a request already waiting."""
    timer = asyncio.get_running_loop().call_later(seconds, warn)
    try:
        yield
    finally:
        timer.cancel()
