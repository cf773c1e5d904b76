"""WebSocket routes (``m.ws()``): the handler's end of a connection.

A WebSocket handler runs on the test's event loop (asyncio or trio) while its
connection lives on the server loop, in another thread. This module is the part
that needs neither loop's library: the :class:`WebSocket` given to the handler,
the :class:`WebSocketMessage` records, and the hand-over between the threads.

* The server adapter (``_aiohttp_ws.py``) reads the client's frames on the
  server loop and hands them over with :meth:`Conversation.deliver`; the
  handler takes them with :meth:`Conversation.next`, which waits on the test's
  loop only, so cancelling a handler never loses a message.
* Sends and closes go the other way through a :class:`WebSocketLink`, which the
  adapter implements: awaited on the test's loop, performed on the server loop.
* Every message is recorded, in the order the server loop saw it, on the
  :class:`~aiointercept.RecordedRequest` of the upgrade request.
"""

from __future__ import annotations

import collections
import contextlib
import inspect
import json as _json
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

import anyio
from yarl import URL

from aiointercept._errors import AiointerceptError, CallbackError
from aiointercept._server.test_loop import HostClosedError

from .responses import Reply

if TYPE_CHECKING:
    import concurrent.futures

    from aiointercept._server.test_loop import Host

    from .dispatch import Dispatcher
    from .request import RecordedRequest

__all__ = [
    "Conversation",
    "PendingWebSocket",
    "WebSocket",
    "WebSocketClosedError",
    "WebSocketLink",
    "WebSocketMessage",
    "WebSocketRegistry",
    "check_handler",
    "http_url",
]

logger = logging.getLogger("aiointercept")

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
BLOCK_EXITED = "the aiointercept block exited"
#: How long the handlers of a block get to return once the block exits and
#: their connections are closed, before they are cancelled.
EXIT_GRACE = 0.25
#: A close frame's payload is at most 125 bytes, two of them the code.
_MAX_REASON = 123


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


class WebSocketLink(Protocol):
    """The server adapter's side of one connection, as the handler uses it:
    each method is awaited on the test's loop and performed on the server loop.
    """

    async def send(self, message: WebSocketMessage) -> None:
        """Record and send a text or binary message; raise
        :exc:`WebSocketClosedError` if the connection is closed."""

    async def close(self, code: int, reason: str) -> None:
        """Record and send a close frame (nothing if already closed), then
        wait for the client's answer, within a bounded time."""


class Conversation:
    """The state of one connection, shared by the server thread and the handler.

    The server thread calls :meth:`record`, :meth:`deliver`, :meth:`closing`
    and :meth:`end`; the handler awaits :meth:`next` on the test's loop. The
    inbox is a deque (its appends and pops are atomic) and the handler is woken
    through the host, so nothing here waits on another thread.
    """

    def __init__(
        self, request: RecordedRequest, host: Host, lock: threading.Lock
    ) -> None:
        self.request = request
        self._host = host
        self._lock = lock
        self._inbox: collections.deque[WebSocketMessage] = collections.deque()
        self._arrived: anyio.Event | None = None
        #: No message will arrive any more (the inbox may still hold some).
        self.ended = False
        #: The code and reason of the first close, from either side.
        self.close_code: int | None = None
        self.close_reason = ""
        self._closed_by = ""

    # -- the server thread -----------------------------------------------------

    def record(self, message: WebSocketMessage) -> None:
        with self._lock:
            self.request.messages.append(message)

    def unrecord(self, message: WebSocketMessage) -> None:
        """Take back a sent message that could not be written after all."""
        with self._lock:
            messages = self.request.messages
            for index in range(len(messages) - 1, -1, -1):
                if messages[index] is message:
                    del messages[index]
                    break

    def deliver(self, message: WebSocketMessage) -> None:
        """A message from the client: record it and hand it to the handler."""
        if message.type == "close":
            self._closed(message.close_code, message.close_reason, "the client")
        self.record(message)
        self._inbox.append(message)
        self._wake()

    def closing(self, code: int, reason: str) -> None:
        """The server is about to send a close frame: record it; nothing more
        will be received."""
        self._closed(code, reason, "the server")
        self.record(
            WebSocketMessage(
                "close", None, "sent", close_code=code, close_reason=reason
            )
        )
        self.ended = True
        self._wake()

    def end(self, code: int | None) -> None:
        """No more messages will arrive. If the connection ended without a
        close frame, the handler receives a close with ``code`` (1006 when
        unknown), which is not recorded: no such frame was on the wire."""
        if self.close_code is None:
            code = code or ABNORMAL_CLOSURE
            self._closed(code, "", "the connection")
            lost = WebSocketMessage("close", None, "received", close_code=code)
            self._inbox.append(lost)
        self.ended = True
        self._wake()

    def _closed(self, code: int | None, reason: str, by: str) -> None:
        if self.close_code is None:
            self.close_code = code or NO_STATUS
            self.close_reason = reason
            self._closed_by = by

    def _wake(self) -> None:
        self._host.call_soon(self._set_arrived)

    # -- the test's loop -------------------------------------------------------

    def _set_arrived(self) -> None:
        if self._arrived is not None:
            self._arrived.set()

    async def next(self) -> WebSocketMessage:
        """The next message from the client, waiting for it if need be."""
        # The checks and the event's creation happen in one step of the test's
        # loop, and wake-ups run on that loop: none is lost. Concurrent
        # receivers share the event.
        while not self._inbox:
            if self.ended:
                raise self.closed_error()
            if self._arrived is None or self._arrived.is_set():
                self._arrived = anyio.Event()
            await self._arrived.wait()
        return self._inbox.popleft()

    @property
    def closed(self) -> bool:
        return self.close_code is not None or self.ended

    def closed_error(self, expected: str = "") -> WebSocketClosedError:
        code = self.close_code
        if code is None:
            what = "the WebSocket is closed"
        else:
            what = f"the WebSocket was closed by {self._closed_by} with code {code}"
            if self.close_reason:
                what += f" ({self.close_reason!r})"
        if expected:
            what += f" while the handler expected {expected}"
        return WebSocketClosedError(
            f"{what}: {self.request.url}", code, self.close_reason
        )


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
        if len(reason.encode("utf-8")) > _MAX_REASON:
            raise ValueError(
                f"reason must be at most {_MAX_REASON} bytes in UTF-8, got {reason!r}"
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


class WebSocketRegistry:
    """The open WebSocket connections of one ``aiointercept`` instance, so that
    the block's exit can close them and let their handlers return before the
    handlers still running are cancelled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._links: dict[Conversation, WebSocketLink] = {}
        self._idle: anyio.Event | None = None  # waited for on the test's loop

    def opened(self, conversation: Conversation, link: WebSocketLink) -> None:
        with self._lock:
            self._links[conversation] = link

    def closed(self, conversation: Conversation, host: Host) -> None:
        """The connection is over and its handler has returned (server thread)."""
        with self._lock:
            self._links.pop(conversation, None)
            idle = not self._links
        if idle:
            host.call_soon(self._set_idle)

    def _set_idle(self) -> None:
        if self._idle is not None:
            self._idle.set()

    async def aclose(self) -> None:
        """Close the open connections with 1001, then wait up to
        :data:`EXIT_GRACE` seconds for their handlers to return (on the test's
        loop)."""
        with self._lock:
            links = list(self._links.values())
        if not links:
            return
        for link in links:
            with contextlib.suppress(WebSocketClosedError):
                await link.close(GOING_AWAY, BLOCK_EXITED)
        with anyio.move_on_after(EXIT_GRACE):
            while True:
                with self._lock:
                    if not self._links:
                        break
                if self._idle is None or self._idle.is_set():
                    self._idle = anyio.Event()
                await self._idle.wait()
        self._idle = None


async def _run_handler(handler: Handler, websocket: WebSocket) -> None:
    # the client going away is not a handler failure
    with contextlib.suppress(WebSocketClosedError):
        await handler(websocket)


@dataclass(frozen=True, slots=True, eq=False)
class PendingWebSocket:
    """A request served by a WebSocket route: the adapter accepts the upgrade
    and runs :attr:`handler` on the test's loop (through ``host``)."""

    request: RecordedRequest
    handler: Handler
    host: Host
    dispatcher: Dispatcher

    @property
    def start_timeout(self) -> float:
        return self.dispatcher.callback_start_timeout

    def refusal(self) -> Reply:
        """The ``400`` for a request that is not a WebSocket upgrade."""
        request = self.request
        message = (
            f"aiointercept: {request.method} {request.url} is a WebSocket route "
            "(registered with m.ws()), but this request is not a valid WebSocket "
            "upgrade (a GET with 'Connection: Upgrade', 'Upgrade: websocket', "
            "'Sec-WebSocket-Version: 13' and a 'Sec-WebSocket-Key'); connect with "
            "a WebSocket client, such as aiohttp's session.ws_connect()"
        )
        logger.warning("%s", message)
        return Reply(
            400,
            None,
            (("Content-Type", "text/plain; charset=utf-8"),),
            message.encode("utf-8"),
        )

    def conversation(self) -> Conversation:
        return Conversation(self.request, self.host, self.dispatcher.lock)

    def start(
        self, conversation: Conversation, link: WebSocketLink
    ) -> concurrent.futures.Future[Any]:
        """Run the handler as a task of the test's loop."""
        self.dispatcher.websockets.opened(conversation, link)
        return self.host.submit(
            _run_handler, self.handler, WebSocket(conversation, link)
        )

    def finished(self, conversation: Conversation) -> None:
        """The connection is over and the handler has returned."""
        self.dispatcher.websockets.closed(conversation, self.host)

    def finish(self, future: concurrent.futures.Future[Any]) -> tuple[int, str]:
        """The close code and reason once the handler has returned: 1000 when
        it returned, 1011 when it failed (the failure is raised when the block
        exits), 1001 when the block exited first."""
        try:
            future.result()
        except HostClosedError:
            return GOING_AWAY, BLOCK_EXITED
        except BaseException as exc:
            return self._failed(exc)
        return NORMAL_CLOSURE, ""

    def not_started(self) -> tuple[int, str]:
        request = self.request
        logger.error(
            "aiointercept: the WebSocket handler for %s %s could not start within "
            "%s s because the test's event loop is blocked (is a synchronous "
            "client running inside the async test?)",
            request.method,
            request.url,
            self.start_timeout,
        )
        return INTERNAL_ERROR, "the test's event loop is blocked"

    def _failed(self, exc: BaseException) -> tuple[int, str]:
        request = self.request
        message = (
            f"aiointercept: the WebSocket handler for {request.method} "
            f"{request.url} failed: {type(exc).__name__}: {exc}"
        )
        error = CallbackError(message, request)
        error.__cause__ = exc
        self.dispatcher.journal.add_error(error)
        logger.error("%s", message)
        reason = f"handler failed: {type(exc).__name__}"
        return INTERNAL_ERROR, reason.encode("utf-8")[:_MAX_REASON].decode(
            "utf-8", "ignore"
        )
