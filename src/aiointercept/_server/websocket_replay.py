"""A WebSocket upgrade answered from a cassette's recorded conversation.

:func:`replay_websocket` accepts the upgrade (with the recorded subprotocol
and headers) and walks the recording on the loop that serves the connection,
so that it needs neither the test's loop nor a handler: the server's
messages are sent in their turn; each message the client sent is waited for
and compared (text as text, or as the JSON it parses to; binary byte for
byte); the recorded close is sent, or waited for. The first message that
differs, or a close that comes too soon, is reported (see
:attr:`~aiointercept._core.replay.WebSocketScript.report`, raised at the
block's exit), and the connection is closed with the recorded code.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from aiointercept._core.websocket import NO_STATUS, WebSocketMessage

from .websocket import CLOSE_TIMEOUT, shielded
from .websocket_relay import sendable

if TYPE_CHECKING:
    from aiointercept._core.replay import WebSocketScript

__all__ = ["replay_websocket"]


async def replay_websocket(
    request: web.BaseRequest, script: WebSocketScript
) -> web.StreamResponse:
    """Answer one WebSocket upgrade from ``script``, shielded from aiohttp's
    cancelling the handler when the client goes (the walk sees the
    connection end, and reports it)."""
    return await shielded(_replay(request, script))


async def _replay(
    request: web.BaseRequest, script: WebSocketScript
) -> web.StreamResponse:
    response = web.WebSocketResponse(
        protocols=(script.protocol,) if script.protocol else (),
        autoclose=False,
        max_msg_size=0,
        timeout=CLOSE_TIMEOUT,
    )
    for name, value in script.headers:
        if name.lower() != "sec-websocket-protocol":
            response.headers.add(name, value)
    if not response.can_prepare(request).ok:
        script.report(
            f"{script.name}: {request.method} {request.url} matched it, but is "
            "not a valid WebSocket upgrade"
        )
        return web.Response(
            status=400, text="aiointercept: not a valid WebSocket upgrade\n"
        )
    await response.prepare(request)
    await _Walk(response, script).run()
    return response


class _Walk:
    """One walk through a recorded conversation, on one connection."""

    def __init__(self, response: web.WebSocketResponse, script: WebSocketScript):
        self._response = response
        self._script = script
        #: The code the recording closed with (either side's), if it did.
        self._close = next(
            (message for message in script.messages if message.type == "close"),
            None,
        )

    def _report(self, number: int, what: str) -> None:
        self._script.report(f"{self._script.name}, message {number}: {what}")

    async def run(self) -> None:
        response, script = self._response, self._script
        for number, expected in enumerate(script.messages, 1):
            if expected.direction == "sent":
                if expected.type == "close":
                    script.note(expected)
                    await response.close(
                        code=sendable(expected.close_code),
                        message=expected.close_reason.encode(),
                    )
                    return
                script.note(expected)
                try:
                    if isinstance(expected.data, str):
                        await response.send_str(expected.data)
                    else:
                        assert isinstance(expected.data, bytes)
                        await response.send_bytes(expected.data)
                except ConnectionError:
                    self._report(
                        number, "the connection was lost before the server's message"
                    )
                    return
                continue
            if not await self._expect(number, expected):
                await self._close_as_recorded()
                return
            if expected.type == "close":
                await self._close_as_recorded()
                return
        await self._until_client_closes(len(script.messages) + 1)

    async def _expect(self, number: int, expected: WebSocketMessage) -> bool:
        """Wait for the client's next message and compare it with
        ``expected``; whether it is the same."""
        incoming = await self._response.receive()
        got = _message(incoming.type, incoming.data, incoming.extra)
        if got is None:
            self._report(
                number,
                "the connection was lost where the recording has the client "
                f"send {_describe(expected)}",
            )
            return False
        self._script.note(got)
        if _same(expected, got):
            return True
        self._report(
            number,
            f"the client sent {_describe(got)} where the recording has "
            f"{_describe(expected)}",
        )
        return False

    async def _close_as_recorded(self) -> None:
        """Close with the recorded code (1000 if there is none)."""
        response = self._response
        if response.closed:
            return
        close = self._close
        if close is None:
            await response.close()
            return
        await response.close(
            code=sendable(close.close_code), message=close.close_reason.encode()
        )

    async def _until_client_closes(self, number: int) -> None:
        """After a recording that ends without a close (the block exited
        while it was open): wait for the client's close, reporting a message
        the recording does not have."""
        response = self._response
        while not response.closed:
            incoming = await response.receive()
            got = _message(incoming.type, incoming.data, incoming.extra)
            if got is None:
                return
            self._script.note(got)
            if got.type == "close":
                await response.close(code=sendable(got.close_code))
                return
            self._report(
                number,
                f"the client sent {_describe(got)}, and the recording has no "
                "more messages",
            )
            number += 1


def _message(kind: WSMsgType, data: object, extra: object) -> WebSocketMessage | None:
    """A message the client sent, or ``None`` when the connection was lost
    (or closed by this side)."""
    if kind is WSMsgType.TEXT:
        assert isinstance(data, str)
        return WebSocketMessage("text", data, "received")
    if kind is WSMsgType.BINARY:
        assert isinstance(data, bytes)
        return WebSocketMessage("binary", data, "received")
    if kind is WSMsgType.CLOSE:
        code = data if isinstance(data, int) and data else NO_STATUS
        reason = extra if isinstance(extra, str) else ""
        return WebSocketMessage(
            "close", None, "received", close_code=code, close_reason=reason
        )
    return None


def _same(expected: WebSocketMessage, got: WebSocketMessage) -> bool:
    """Whether the client's message is the recorded one: the same kind, the
    same data (text that parses as JSON to the same value counts as the
    same), the same close code."""
    if expected.type != got.type:
        return False
    if expected.type == "close":
        return expected.close_code == got.close_code
    if expected.data == got.data:
        return True
    if expected.type != "text":
        return False
    try:
        assert isinstance(expected.data, str)
        assert isinstance(got.data, str)
        return bool(json.loads(expected.data) == json.loads(got.data))
    except ValueError:
        return False


def _describe(message: WebSocketMessage) -> str:
    if message.type == "close":
        reason = f", {message.close_reason!r}" if message.close_reason else ""
        return f"a close (code {message.close_code}{reason})"
    text = repr(message.data)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{message.type} {text}"
