"""WebSocket routes (``m.ws()``): what the handler sees of a connection.

A WebSocket handler runs on the test's event loop (asyncio or trio) while its
connection lives on the server loop, in another thread. This module holds the
handler's side, which needs neither loop's library: the :class:`WebSocket`
given to the handler, the :class:`WebSocketMessage` records, the
:exc:`WebSocketClosedError` it raises, the close codes, and the checks of what
``m.ws()`` and :meth:`WebSocket.close` are given. The hand-over between the
threads is in :mod:`.websocket_connections`.
"""

from __future__ import annotations

import inspect
import json as _json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from yarl import URL

from aiointercept._errors import AiointerceptError

if TYPE_CHECKING:
    from .request import RecordedRequest
    from .websocket_connections import Conversation, WebSocketLink

__all__ = [
    "WebSocket",
    "WebSocketClosedError",
    "WebSocketMessage",
    "check_close_code",
    "check_handler",
    "http_url",
]

MessageType: TypeAlias = Literal["text", "binary", "close"]
Direction: TypeAlias = Literal["received", "sent"]
Handler: TypeAlias = Callable[["WebSocket"], Awaitable[object]]

#: Close codes (RFC 6455 7.4 and the IANA registry).
NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
NO_STATUS = 1005
ABNORMAL_CLOSURE = 1006
INTERNAL_ERROR = 1011
#: The codes a server may put in a close frame: the registered ones that are
#: not reserved for "no frame was sent", and those left to applications.
_SENDABLE = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})
_HTTP_SCHEMES = {"ws": "http", "wss": "https"}
#: A close frame's payload is at most 125 bytes, two of them the code.
MAX_REASON = 123


@dataclass(frozen=True, slots=True)
class WebSocketMessage:
    """One WebSocket message, as the handler received it or sent it.

    Recorded, in order, in :attr:`RecordedRequest.messages
    <aiointercept.RecordedRequest.messages>` of the upgrade request. A
    ``"close"`` message has no ``data``; its ``close_code`` and
    ``close_reason`` say how the connection was closed.
    """

    #: ``"text"``, ``"binary"`` or ``"close"``.
    type: MessageType
    #: ``str`` for text, ``bytes`` for binary, ``None`` for close.
    data: str | bytes | None
    #: ``"received"`` from the client, or ``"sent"`` to it.
    direction: Direction
    #: The close code of a ``"close"`` message, else ``None``.
    close_code: int | None = None
    #: The close reason of a ``"close"`` message (often empty).
    close_reason: str = ""

    def json(self) -> Any:
        """The data parsed as JSON (text or binary messages)."""
        if self.data is None:
            raise TypeError(f"a {self.type} message has no data to parse as JSON")
        return _json.loads(self.data)


class WebSocketClosedError(AiointerceptError):
    """The WebSocket is closed: the client closed it, the connection was lost,
    or the handler closed it itself.

    Raised by the receive methods when no message is left and by the send
    methods. A handler that lets it propagate ends quietly: the client's
    closing the connection is not a handler failure.
    """

    def __init__(self, message: str, code: int | None, reason: str = "") -> None:
        super().__init__(message)
        #: The close code, or ``None`` if the connection has not been closed.
        self.code = code
        #: The close reason, often empty.
        self.reason = reason


class WebSocket:
    """The server's end of one WebSocket connection, given to an ``m.ws()``
    handler.

    Every method runs on the test's event loop (asyncio or trio) and can be
    cancelled like any other await. ``async for message in ws`` yields the
    client's text and binary messages until it closes the connection.
    """

    __slots__ = ("_conversation", "_link")

    def __init__(self, conversation: Conversation, link: WebSocketLink) -> None:
        self._conversation = conversation
        self._link = link

    @property
    def request(self) -> RecordedRequest:
        """The recorded upgrade request; its ``messages`` grow as messages
        are received and sent."""
        return self._conversation.request

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (by either side) or lost."""
        return self._conversation.closed

    @property
    def close_code(self) -> int | None:
        """The code of the first close, from either side (1006 when the
        connection was lost without one); ``None`` while open."""
        return self._conversation.close_code

    def __repr__(self) -> str:
        state = "open" if not self.closed else f"closed, code {self.close_code}"
        return f"<WebSocket {self.request.url} ({state})>"

    # -- receiving -------------------------------------------------------------

    async def receive(self) -> WebSocketMessage:
        """The next message from the client: text, binary, or the ``"close"``
        that ends the connection. Raises :exc:`WebSocketClosedError` once the
        close has been received, or after the handler closed the WebSocket."""
        return await self._conversation.next()

    async def receive_text(self) -> str:
        """The next message, which must be a text message (else ``TypeError``;
        :exc:`WebSocketClosedError` if the client closes instead)."""
        data = await self._receive("text")
        assert isinstance(data, str)
        return data

    async def receive_bytes(self) -> bytes:
        """The next message, which must be a binary message (else
        ``TypeError``; :exc:`WebSocketClosedError` if the client closes
        instead)."""
        data = await self._receive("binary")
        assert isinstance(data, bytes)
        return data

    async def receive_json(self) -> Any:
        """The next message, text or binary, parsed as JSON (``ValueError``
        if it is not JSON)."""
        return _json.loads(await self._receive("text", "binary"))

    async def _receive(self, *kinds: MessageType) -> str | bytes:
        expected = " or ".join(f"a {kind} message" for kind in kinds)
        conversation = self._conversation
        message = await conversation.next()
        if message.type == "close":
            raise conversation.closed_error(expected)
        if message.type not in kinds:
            raise TypeError(
                f"expected {expected}, got a {message.type} message: "
                f"{_preview(message.data)}"
            )
        assert message.data is not None
        return message.data

    def __aiter__(self) -> WebSocket:
        return self

    async def __anext__(self) -> WebSocketMessage:
        try:
            message = await self._conversation.next()
        except WebSocketClosedError:
            raise StopAsyncIteration from None
        if message.type == "close":
            raise StopAsyncIteration
        return message

    # -- sending ---------------------------------------------------------------

    async def send_text(self, data: str) -> None:
        """Send a text message."""
        if not isinstance(data, str):
            raise TypeError(f"send_text() takes a str, got {_preview(data)}")
        await self._send(WebSocketMessage("text", data, "sent"))

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"send_bytes() takes bytes, got {_preview(data)}")
        await self._send(WebSocketMessage("binary", bytes(data), "sent"))

    async def send_json(self, data: Any) -> None:
        """Send ``data`` serialized to JSON, as a text message."""
        try:
            text = _json.dumps(data, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"send_json(): not JSON serializable ({exc})") from exc
        await self._send(WebSocketMessage("text", text, "sent"))

    async def _send(self, message: WebSocketMessage) -> None:
        if self._conversation.closed:
            raise self._conversation.closed_error()
        await self._link.send(message)

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the connection with ``code`` (1000, or 3000-4999 for your own
        codes) and ``reason``; nothing happens if it is already closed."""
        code = check_close_code(code)
        if not isinstance(reason, str):
            raise TypeError(f"reason must be a str, got {reason!r}")
        if len(reason.encode("utf-8")) > MAX_REASON:
            raise ValueError(
                f"reason must be at most {MAX_REASON} bytes in UTF-8, got {reason!r}"
            )
        if not self._conversation.closed:
            await self._link.close(code, reason)


def check_close_code(code: object) -> int:
    if isinstance(code, bool) or not isinstance(code, int):
        raise TypeError(f"code must be an int, got {code!r}")
    if code not in _SENDABLE and not 3000 <= code <= 4999:
        raise ValueError(
            "code must be a close code a server may send (1000-1003, 1007-1014, "
            f"or 3000-4999), got {code!r}"
        )
    return code


def check_handler(handler: object) -> Handler:
    """A handler must be an async function (or have an async ``__call__``)."""
    is_async = inspect.iscoroutinefunction(handler) or (
        callable(handler)
        and not inspect.isroutine(handler)
        and inspect.iscoroutinefunction(getattr(handler, "__call__", None))  # noqa: B004
    )
    if not is_async:
        raise TypeError(
            f"the WebSocket handler must be an async function taking the "
            f"WebSocket, got {handler!r}"
        )
    return handler  # type: ignore[return-value]


def http_url(url: object) -> object:
    """``ws://`` and ``wss://`` URLs as the ``http://`` and ``https://`` URLs
    that the upgrade request is matched and recorded under; anything else as
    it is."""
    if isinstance(url, str | URL):
        parsed = URL(url) if isinstance(url, str) else url
        scheme = _HTTP_SCHEMES.get(parsed.scheme)
        if scheme is not None:
            return parsed.with_scheme(scheme)
    return url


def _preview(data: object) -> str:
    text = repr(data)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(data).__name__} {text}"
