"""The aiohttp side of WebSocket routes: one connection on the server loop.

:func:`serve_websocket` accepts the upgrade with a
:class:`aiohttp.web.WebSocketResponse`, reads the client's frames in a task of
its own (so the close handshake and pings are answered whatever the handler is
doing, and every message is recorded), runs the handler on the test's loop and
closes the connection when the handler is done. The handler reaches the
connection through :class:`_Link`, which crosses from the test's loop (asyncio
or trio) to the server loop and back without blocking either.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import anyio
from aiohttp import WSMsgType, web

from aiointercept._core.websocket import NO_STATUS, WebSocketMessage

if TYPE_CHECKING:
    from aiointercept._core.test_loop import TestLoop
    from aiointercept._core.websocket_connections import (
        Conversation,
        PendingWebSocket,
    )

__all__ = ["CLOSE_TIMEOUT", "serve_websocket", "shielded"]

#: How long a close waits for the client's answering close frame.
CLOSE_TIMEOUT = 1.0


#: WebSocket conversations (served, replayed or relayed) still running after
#: their request's handler was cancelled (a strong reference, as asyncio keeps
#: only weak ones).
_running: set[asyncio.Task[web.StreamResponse]] = set()


async def shielded(
    conversation: Coroutine[Any, Any, web.StreamResponse],
) -> web.StreamResponse:
    """Run ``conversation`` in a task of its own, which aiohttp's cancelling
    the request's handler when the client goes does not cut short: the
    conversation sees the connection end, and ends on its own."""
    task = asyncio.ensure_future(conversation)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return await asyncio.shield(task)


async def serve_websocket(
    request: web.BaseRequest, pending: PendingWebSocket
) -> web.StreamResponse:
    """Serve one request that a WebSocket route matched (on the server loop).

    aiohttp cancels a request's handler when its client goes away; the
    conversation is shielded from that, so that the WebSocket handler receives
    the close (1006 when no close frame came) and ends on its own, as it would
    with a real server.
    """
    return await shielded(_serve_websocket(request, pending))


async def _serve_websocket(
    request: web.BaseRequest, pending: PendingWebSocket
) -> web.StreamResponse:
    response: web.WebSocketResponse = web.WebSocketResponse(
        timeout=CLOSE_TIMEOUT, max_msg_size=0
    )
    if not response.can_prepare(request).ok:
        reply = pending.refusal()
        assert isinstance(reply.body, bytes)
        return web.Response(
            status=reply.status,
            reason=reply.reason,
            headers=reply.headers,
            body=reply.body,
        )
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    conversation = pending.conversation()
    link = _Link(response, conversation, loop, pending.test_loop)
    reader = loop.create_task(_read(response, conversation))
    try:
        code, reason = await _run_handler(pending, conversation, link)
        await link.close_here(code, reason)
    finally:
        reader.cancel()
        await asyncio.wait([reader])
        conversation.end(None)
        pending.finished(conversation)
    return response


async def _run_handler(
    pending: PendingWebSocket, conversation: Conversation, link: _Link
) -> tuple[int, str]:
    """Run the handler on the test's loop; the close code and reason to end with.

    If it has not started within ``callback_start_timeout`` (the test's loop is
    blocked), it is cancelled before it can start.
    """
    future = pending.start(conversation, link)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def wake(_: object) -> None:
        with contextlib.suppress(RuntimeError):  # the server loop has ended
            loop.call_soon_threadsafe(done.set)

    future.add_done_callback(wake)
    try:
        try:
            await asyncio.wait_for(done.wait(), pending.start_timeout)
        except asyncio.TimeoutError:
            if future.cancel():
                return pending.not_started()
            await done.wait()
    finally:
        future.cancel()  # never start once this connection is being shut down
    return pending.finish(future)


async def _read(response: web.WebSocketResponse, conversation: Conversation) -> None:
    """Hand every message of the client over to the handler, until the close.

    aiohttp answers pings, and answers the client's close frame, inside
    ``receive()``. A close started by the server wakes this task with a
    ``CLOSING`` message, and the close itself reads the client's answer.
    """
    lost: int | None = None  # the close code when no close frame came
    try:
        while True:
            message = await response.receive()
            if message.type is WSMsgType.TEXT:
                conversation.deliver(WebSocketMessage("text", message.data, "received"))
            elif message.type is WSMsgType.BINARY:
                conversation.deliver(
                    WebSocketMessage("binary", message.data, "received")
                )
            elif message.type is WSMsgType.CLOSE:
                conversation.deliver(
                    WebSocketMessage(
                        "close",
                        None,
                        "received",
                        close_code=message.data or NO_STATUS,
                        close_reason=message.extra or "",
                    )
                )
                return
            else:
                # CLOSING: the server closes; CLOSED: the connection was lost;
                # ERROR: a protocol error, which aiohttp closed with its code
                if message.type is WSMsgType.ERROR:
                    lost = response.close_code
                return
    finally:
        conversation.end(lost)


class _Link:
    """The connection, as the handler uses it (see ``WebSocketLink``)."""

    def __init__(
        self,
        response: web.WebSocketResponse,
        conversation: Conversation,
        loop: asyncio.AbstractEventLoop,
        test_loop: TestLoop,
    ) -> None:
        self._response = response
        self._conversation = conversation
        self._loop = loop
        self._test_loop = test_loop

    # -- awaited on the test's loop --------------------------------------------

    async def send(self, message: WebSocketMessage) -> None:
        await self._on_server(self._send, message)

    async def close(self, code: int, reason: str) -> None:
        await self._on_server(self.close_here, code, reason)

    async def _on_server(
        self, func: Callable[..., Coroutine[Any, Any, None]], *args: Any
    ) -> None:
        """Run ``func(*args)`` on the server loop and wait for it without
        blocking the test's loop; cancelling the wait cancels it there too."""
        coro = func(*args)
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        except RuntimeError:  # the server loop has ended
            coro.close()
            raise self._conversation.closed_error() from None
        done = anyio.Event()
        future.add_done_callback(lambda _: self._test_loop.call_soon(done.set))
        try:
            await done.wait()
        except BaseException:
            future.cancel()
            raise
        future.result()

    # -- on the server loop ----------------------------------------------------

    async def _send(self, message: WebSocketMessage) -> None:
        response = self._response
        if response.closed:
            raise self._conversation.closed_error()
        self._conversation.record(message)
        try:
            if isinstance(message.data, str):
                await response.send_str(message.data)
            else:
                assert isinstance(message.data, bytes)
                await response.send_bytes(message.data)
        except ConnectionError as exc:  # the transport closed under the send
            self._conversation.unrecord(message)
            raise self._conversation.closed_error() from exc

    async def close_here(self, code: int, reason: str) -> None:
        """Send a close frame, unless the connection is already closed, and
        wait (at most :data:`CLOSE_TIMEOUT`) for the client's answer."""
        response = self._response
        if response.closed:
            return
        self._conversation.closing(code, reason)
        await response.close(code=code, message=reason.encode("utf-8"))
