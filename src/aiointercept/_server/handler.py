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
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from yarl import URL

from aiointercept._adapters import (
    DEFAULT_PORTS,
    bare_host,
    interception,
    is_local_name,
    is_loopback,
)
from aiointercept._core.dispatch import Passthrough, PendingCallback, Streamed
from aiointercept._core.replay import WebSocketScript
from aiointercept._core.responses import Reply
from aiointercept._core.urls import is_canonical_path, normalize_url
from aiointercept._core.websocket_connections import PendingWebSocket
from aiointercept._tls import subject_of

from .reply import close_connection, write_reply
from .sockets import WebServer
from .websocket import serve_websocket
from .websocket_relay import relay_websocket
from .websocket_replay import replay_websocket

if TYPE_CHECKING:
    from aiointercept._core.dispatch import Dispatcher
    from aiointercept._tls import TlsSettings

    from .connection import Tunnel
    from .proxy import Proxy

__all__ = ["HANG_WARNING_AFTER", "RequestHandler", "make_request", "requests_served"]

logger = logging.getLogger("aiointercept")

#: Seconds a request may wait, held open by ``fault="hang"`` (or an
#: ``exception=`` that is a timeout) or by an async callback still running,
#: before a WARNING on the ``aiointercept`` logger says what it waits for.
#: Nothing is scheduled for a request that does not wait.
HANG_WARNING_AFTER = 5.0

#: How many request URLs (and their normalized forms) a block keeps, by the
#: request target as received: a test requests the same few paths again and
#: again, and each request would otherwise build and normalize its URL anew.
URL_CACHE_SIZE = 256

#: How many requests the blocks' servers have handled since the process
#: started: [on a test's loop, on the server thread]. Each slot is counted by
#: the loops of its kind only, one increment per request; two test loops
#: serving in two threads at the same instant may miss one.
_served = [0, 0]


def requests_served() -> tuple[int, int]:
    """How many requests the test's loops and the server thread have handled
    since the process started. Internal: the benchmark (``nox -s bench``)
    reads it to show, per scenario, the share of requests the server thread
    served (under trio, all of them; on asyncio, those whose connections it
    took over from a blocked test's loop)."""
    return _served[0], _served[1]


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
        tls: Mapping[tuple[str, int | None], TlsSettings],
    ) -> None:
        self._dispatcher = dispatcher
        self._url = url
        self._external = external
        self._proxy = proxy
        self._own_ports = (url.port,)
        #: What ``m.tls()`` set for the block (the block's own mapping).
        self._tls = tls
        #: The URL and the normalized URL of the requests received so far, by
        #: origin (``None``: the block's own) and request target, up to
        #: :data:`URL_CACHE_SIZE` of them.
        self._urls: dict[tuple[str | None, str], tuple[URL, URL]] = {}

    def new_server(
        self, loop: asyncio.AbstractEventLoop, *, server_thread: bool
    ) -> WebServer:
        """An aiohttp server for the block's connections on ``loop``: the
        server thread's loop (``server_thread``) or a test's."""
        served, where = _served, int(server_thread)

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            served[where] += 1
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
            gate=self,
        )
        return server

    # -- the gate (see .connection.Gate) -----------------------------------------

    def tunnel_refusal(
        self, host: str, port: int, what: str | None = None
    ) -> str | None:
        """Why the block refuses a proxy client's ``CONNECT host:port`` (or
        ``what`` it asked for, a proxy request), or ``None``: it takes ports
        80 and 443 and the ports its routes (or cassette) name, and with
        ``mock_external_urls=True`` what the interception lets out
        (passthrough and loopback hosts)."""
        if what is None:
            what = f"CONNECT {host}:{port}"
        if port in DEFAULT_PORTS or (port in self._own_ports and is_loopback(host)):
            return None
        if self._external:
            # as in the process: the mock takes the port, or loopback (let
            # out, or recorded), or the guard lets the host out
            if (
                interception.intercepts_port(host, port)
                or is_local_name(bare_host(host))
                or is_loopback(host)
                or interception.lets_out(host, port)
            ):
                return None
            return (
                f"{what} refused by the network guard: the mock "
                "takes ports 80 and 443 and the ports that routes name, and "
                f"{host}:{port} is not a passthrough host"
            )
        router = self._dispatcher.router
        if router.has_host(None, host, port) or router.names_port(port):
            return None
        return (
            f"{what} refused: the mock takes ports 80 and 443 "
            "and the ports that routes name"
        )

    def tls_for(self, host: str, port: int | None) -> TlsSettings | None:
        """What ``m.tls()`` set for ``host`` (and ``port``; ``None``: any)."""
        tls = self._tls
        settings = tls.get((host, port)) or tls.get((host, None))
        if settings is None and self._external:  # set by an enclosing block
            settings = interception.tls_for(host, port)
        return settings

    async def _handle(
        self, request: web.BaseRequest, server: WebServer
    ) -> web.StreamResponse:
        body = await request.read() if request.can_read_body else b""
        tunnel = getattr(request.protocol, "tunnel", None)
        raw_path = request.raw_path
        url, normalized = self._target(request, tunnel, raw_path)
        proxied = tunnel is not None or not raw_path.startswith("/")
        if proxied:
            host, port = url.raw_host or "", url.port or 0
            if tunnel is None:  # a proxy request: the port rule of CONNECT
                refusal = self.tunnel_refusal(host, port, f"{request.method} {url}")
                if refusal is not None:
                    return refuse(refusal)
            if self._external and interception.sends_out(host, port):
                # to a host that in-process requests reach as is
                return await self._proxy.forward(
                    request, url, self._own_ports, body, None
                )
        headers = request.headers
        sender_thread = client_cert = None
        if self._external:
            sender_thread, client_cert = _connection_facts(request)
        elif tunnel is not None and request.transport is not None:
            # https through the proxy: the tunnel's TLS may be mutual
            client_cert = _client_cert_subject(request.transport)
        outcome = self._dispatcher.dispatch(
            request.method, url, headers, body, sender_thread, client_cert, normalized
        )
        if isinstance(outcome, PendingWebSocket):
            return await serve_websocket(request, outcome)
        if isinstance(outcome, WebSocketScript):
            return await replay_websocket(request, outcome)
        if isinstance(outcome, PendingCallback):
            outcome = await self._wait(outcome)
        elif isinstance(outcome, Passthrough):
            if outcome.websocket is not None:
                return await relay_websocket(
                    request, url, self._proxy, self._own_ports, outcome.websocket
                )
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

    def _target(
        self, request: web.BaseRequest, tunnel: Tunnel | None, raw_path: str
    ) -> tuple[URL, URL]:
        """The URL ``request`` asked for (fragment-free) and its normalized
        form, each built once per origin and request target."""
        origin = None
        if self._external or tunnel is not None:
            origin = self._origin(request, tunnel)
        key = (origin, raw_path)
        known = self._urls.get(key)
        if known is not None:
            return known
        base = self._url if origin is None else URL(origin, encoded=True)
        if raw_path[:1] == "/" and "?" not in raw_path and "#" not in raw_path:
            url = base.with_path(raw_path, encoded=True)  # the common case
        elif raw_path.startswith("/"):
            url = URL(f"{base}{raw_path}", encoded=True)
            if url.raw_fragment:
                url = url.with_fragment(None)
        elif "://" in raw_path:  # absolute-form request target
            url = URL(raw_path, encoded=True).with_fragment(None)
        else:  # asterisk-form ("OPTIONS *")
            url = base
        if origin is None and is_canonical_path(raw_path):
            known = url, url  # the block's own URL is canonical
        else:
            known = url, normalize_url(url)
        if len(self._urls) < URL_CACHE_SIZE:
            self._urls[key] = known
        return known

    def _origin(self, request: web.BaseRequest, tunnel: Tunnel | None) -> str | None:
        """``scheme://host[:port]`` as the client asked for it (with
        ``mock_external_urls=True``, or through the proxy): the scheme from
        the connection, the host (and any non-default port) from the
        ``Host`` header, else from the proxy's ``CONNECT`` or the
        interception; ``None`` when none tells (the block's own URL)."""
        transport = request.transport
        secure = transport is not None and transport.get_extra_info("sslcontext")
        scheme = "https" if secure else "http"
        host = request.headers.get("Host")
        if not host:  # HTTP/1.0: the host the client connected to
            target = tunnel or _connected_to(transport)
            if target is not None:
                host = _authority(scheme, *target)
        return f"{scheme}://{host}" if host else None

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


def refuse(why: str) -> web.Response:
    """The proxy's ``403`` for a request it does not take, logged."""
    logger.warning("aiointercept's proxy answered 403: %s", why)
    return web.Response(
        status=403,
        text=f"aiointercept's proxy: {why}\n",
        headers={"Connection": "close"},
    )


def _connected_to(transport: asyncio.BaseTransport | None) -> tuple[str, int] | None:
    """The host and port the client asked for when the interception sent its
    connection here, or ``None``."""
    connection = interception.connection_of(transport)
    return None if connection is None else (connection.host, connection.port)


def _authority(scheme: str, host: str, port: int) -> str:
    """``host[:port]`` as a ``Host`` header says it (no default port)."""
    if ":" in host:
        host = f"[{host}]"
    return host if port == (443 if scheme == "https" else 80) else f"{host}:{port}"


def _connection_facts(request: web.BaseRequest) -> tuple[int | None, str | None]:
    """The thread that opened the request's connection with a blocking socket,
    when the interception noted it, and the subject of the client's
    certificate, when it showed one (mutual TLS)."""
    transport = request.transport
    if transport is None:  # pragma: no cover - the client has gone
        return None, None
    connection = interception.connection_of(transport)
    sender_thread = connection.thread if connection is not None else None
    return sender_thread, _client_cert_subject(transport)


def _client_cert_subject(transport: asyncio.BaseTransport) -> str | None:
    """The subject of the certificate the client showed over TLS (mutual
    TLS), or ``None``."""
    ssl_object = transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    return subject_of(der) if der else None


@contextlib.contextmanager
def _warning_after(seconds: float, warn: Callable[[], None]) -> Iterator[None]:
    """Call ``warn()`` if the body of the ``with`` statement is still running
    after ``seconds``: one timer, made only for a request already waiting."""
    timer = asyncio.get_running_loop().call_later(seconds, warn)
    try:
        yield
    finally:
        timer.cancel()
