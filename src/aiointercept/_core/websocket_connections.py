"""WebSocket connections on the server's side: the hand-over between threads.

A WebSocket handler runs on the test's event loop while its connection lives
on the server loop, in another thread. This module is the bookkeeping in
between, which needs neither loop's library:

* The server adapter (``aiointercept._server.websocket``) reads the client's
  frames on the server loop and hands them over with
  :meth:`Conversation.deliver`; the handler takes them with
  :meth:`Conversation.next`, which waits on the test's loop only, so
  cancelling a handler never loses a message.
* Sends and closes go the other way through a :class:`WebSocketLink`, which the
  adapter implements: awaited on the test's loop, performed on the server loop.
* Every message is recorded, in the order the server loop saw it, on the
  :class:`~aiointercept.RecordedRequest` of the upgrade request.
* :class:`PendingWebSocket` starts a route's handler for an upgrade request,
  and :class:`WebSocketRegistry` closes the connections still open when the
  block exits.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from aiointercept._errors import CallbackError

from .responses import Reply
from .test_loop import TestLoopClosedError
from .websocket import (
    ABNORMAL_CLOSURE,
    GOING_AWAY,
    INTERNAL_ERROR,
    MAX_REASON,
    NO_STATUS,
    NORMAL_CLOSURE,
    Handler,
    WebSocket,
    WebSocketClosedError,
    WebSocketMessage,
)

if TYPE_CHECKING:
    import concurrent.futures

    from .dispatch import Dispatcher
    from .request import RecordedRequest
    from .test_loop import TestLoop

__all__ = [
    "Conversation",
    "PendingWebSocket",
    "WebSocketLink",
    "WebSocketRegistry",
]

logger = logging.getLogger("aiointercept")

BLOCK_EXITED = "the aiointercept block exited"
#: How long the handlers of a block get to return once the block exits and
#: their connections are closed, before they are cancelled.
EXIT_GRACE = 0.25


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
    through the test loop, so nothing here waits on another thread.
    """

    def __init__(
        self, request: RecordedRequest, test_loop: TestLoop, lock: threading.Lock
    ) -> None:
        self.request = request
        self._test_loop = test_loop
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
        self._test_loop.call_soon(self._set_arrived)

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

    def closed(self, conversation: Conversation, test_loop: TestLoop) -> None:
        """The connection is over and its handler has returned (server thread)."""
        with self._lock:
            self._links.pop(conversation, None)
            idle = not self._links
        if idle:
            test_loop.call_soon(self._set_idle)

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
    and runs :attr:`handler` on the test's loop (through ``test_loop``)."""

    request: RecordedRequest
    handler: Handler
    test_loop: TestLoop
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
        return Conversation(self.request, self.test_loop, self.dispatcher.lock)

    def start(
        self, conversation: Conversation, link: WebSocketLink
    ) -> concurrent.futures.Future[Any]:
        """Run the handler as a task of the test's loop."""
        self.dispatcher.websockets.opened(conversation, link)
        return self.test_loop.submit(
            _run_handler, self.handler, WebSocket(conversation, link)
        )

    def finished(self, conversation: Conversation) -> None:
        """The connection is over and the handler has returned."""
        self.dispatcher.websockets.closed(conversation, self.test_loop)

    def finish(self, future: concurrent.futures.Future[Any]) -> tuple[int, str]:
        """The close code and reason once the handler has returned: 1000 when
        it returned, 1011 when it failed (the failure is raised when the block
        exits), 1001 when the block exited first."""
        try:
            future.result()
        except TestLoopClosedError:
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
        return INTERNAL_ERROR, reason.encode("utf-8")[:MAX_REASON].decode(
            "utf-8", "ignore"
        )
