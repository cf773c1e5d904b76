"""The aiohttp adapter: a real HTTP server in its own thread and asyncio loop.

The server has a thread of its own so that it works whatever loop the test runs
on (asyncio or trio) and keeps answering while the test's loop is blocked by a
synchronous client. Its lifecycle is an ``anyio.run`` on the asyncio backend.
The test side never blocks on it: the thread wakes the test's loop through
:class:`~aiointercept._host.Host`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
from aiohttp import DummyCookieJar, web
from yarl import URL

from ._aiohttp_dns import interception
from ._dispatch import Passthrough, PendingCallback
from ._host import wait_shielded
from ._responses import Reply

if TYPE_CHECKING:
    from ._dispatch import Dispatcher
    from ._host import Host

__all__ = ["AiohttpServer"]

#: How long in-flight handlers get to finish when the server stops.
SHUTDOWN_TIMEOUT = 0.25

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


class AiohttpServer:
    """One listening server on 127.0.0.1 with an ephemeral port.

    With ``external=True`` (``mock_external_urls=True``) it listens on a second
    port that stands for ``https``: the DNS patch sends intercepted ``https``
    requests there over plain TCP, and each request's URL is rebuilt from that
    scheme and its ``Host`` header, so records show the URL the client asked for.
    """

    def __init__(
        self, dispatcher: Dispatcher, host: Host | None, external: bool
    ) -> None:
        self._dispatcher = dispatcher
        self._external = external
        self.https_port: int | None = None
        self._proxy: aiohttp.ClientSession | None = None
        self._ready = _Signal(host)
        self._stopped = _Signal(host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._thread_main, name="aiointercept-server", daemon=True
        )
        self._web_server: _Server | None = None
        self.url: URL | None = None

    async def start(self) -> URL:
        """Start the thread and wait (without blocking the loop) until it listens."""
        self._thread.start()
        try:
            await self._ready.wait()
        except BaseException:
            await self.stop()
            raise
        if self.url is None:
            await self.stop()
        return self._started()

    def start_blocking(self) -> URL:
        """Start the thread and wait until it listens (outside an event loop)."""
        self._thread.start()
        self._ready.wait_blocking()
        if self.url is None:
            self.stop_blocking()
        return self._started()

    def _started(self) -> URL:
        if self.url is None:
            raise RuntimeError(
                f"the aiointercept server failed to start: {self._error!r}"
            ) from self._error
        return self.url

    async def stop(self) -> None:
        """Close the listening socket and connections, and end the thread."""
        self._request_stop()
        try:
            await self._stopped.wait()
        finally:
            self._thread.join()

    def stop_blocking(self) -> None:
        self._request_stop()
        self._stopped.wait_blocking()
        self._thread.join()

    def _request_stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the server loop has ended
                loop.call_soon_threadsafe(stop.set)

    def _thread_main(self) -> None:
        try:
            anyio.run(self._serve, backend="asyncio")
        except BaseException as exc:  # reported to the test by start()
            self._error = exc
        finally:
            self._ready.set()
            self._stopped.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = self._web_server = _Server(
            self._handle, request_factory=self._make_request, access_log=None
        )
        runner = web.ServerRunner(
            server, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            if self._external:
                await web.TCPSite(runner, "127.0.0.1", 0).start()
                self.https_port = runner.addresses[1][1]
            host, port = runner.addresses[0][:2]
            self.url = URL.build(scheme="http", host=host, port=port)
            self._ready.set()
            await self._stop.wait()
        finally:
            try:
                await _finish_accepting()
                await runner.cleanup()
            finally:
                if self._proxy is not None:
                    await self._proxy.close()

    def _make_request(
        self, message: Any, payload: Any, protocol: Any, writer: Any, task: Any
    ) -> web.BaseRequest:
        # no size limit: the mock reads every body in full, as the test sent it
        assert self._loop is not None
        return web.BaseRequest(
            message,
            payload,
            protocol,
            writer,
            task,
            self._loop,
            client_max_size=sys.maxsize,
        )

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        # The earliest moment the client can have sent this request: when its
        # connection was accepted for the first request on it, else now.
        assert self._web_server is not None
        sent_after = self._web_server.request_started(request.protocol)
        body = await request.read()
        outcome = self._dispatcher.dispatch(
            request.method,
            self._request_url(request),
            request.headers,
            body,
            sent_after,
        )
        if isinstance(outcome, PendingCallback):
            outcome = await self._wait(outcome)
        elif isinstance(outcome, Passthrough):
            return await self._pass_through(request, body)
        if outcome is None:
            return _close_connection(request)
        return web.Response(
            status=outcome.status,
            reason=outcome.reason,
            headers=outcome.headers,
            body=outcome.body,
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
        self, request: web.BaseRequest, body: bytes
    ) -> web.StreamResponse:
        """Proxy an unmatched request to its real destination, streaming the
        response back untouched (compressed bodies stay compressed)."""
        if self._proxy is None:
            connector = aiohttp.TCPConnector()
            interception.bypass(connector)
            self._proxy = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, cookie_jar=DummyCookieJar()
            )
        url = self._request_url(request)
        headers = [
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in _NOT_FORWARDED_REQUEST
        ]
        try:
            upstream = await self._proxy.request(
                request.method,
                url,
                headers=headers,
                data=io.BytesIO(body) if body else None,
                allow_redirects=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            )
        except (aiohttp.ClientError, OSError) as exc:
            logger.warning("passthrough to %s failed: %r", url, exc)
            return _close_connection(request)
        async with upstream:
            response = web.StreamResponse(
                status=upstream.status, reason=upstream.reason
            )
            for name, value in upstream.headers.items():
                if name.lower() not in _NOT_FORWARDED_RESPONSE:
                    response.headers.add(name, value)
            if upstream.headers.get("Content-Length") is not None:
                response.content_length = int(upstream.headers["Content-Length"])
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
        return response

    async def _wait(self, pending: PendingCallback) -> Reply:
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
        return self._dispatcher.complete(pending)


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
    """Remembers when each connection was accepted and whether it has served."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._accepted: dict[object, float | None] = {}

    def connection_made(self, handler: Any, transport: asyncio.Transport) -> None:
        self._accepted[handler] = time.monotonic()
        super().connection_made(handler, transport)

    def connection_lost(self, handler: Any, exc: BaseException | None = None) -> None:
        self._accepted.pop(handler, None)
        super().connection_lost(handler, exc)

    def request_started(self, handler: object) -> float:
        """The earliest moment the client can have sent the request that starts
        now on ``handler``'s connection: when the connection was accepted for its
        first request, else now."""
        accepted = self._accepted.get(handler)
        self._accepted[handler] = None
        return time.monotonic() if accepted is None else accepted


async def _finish_accepting() -> None:
    """Let connections already accepted by the loop finish their set-up.

    On Python < 3.12, asyncio fails to set up (and leaks the socket of) a
    connection accepted just before its server is closed.
    """
    current = asyncio.current_task()
    for _ in range(100):
        if not any(
            "_accept_connection" in repr(task.get_coro())
            for task in asyncio.all_tasks()
            if task is not current
        ):
            return
        await asyncio.sleep(0)


def _close_connection(request: web.BaseRequest) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response()
