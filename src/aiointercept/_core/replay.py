"""What the core asks of a cassette: recorded replies for the requests no
route answered, and a place to write down what the real network answered.

The dispatcher and the interception see a block's cassette only through
:class:`ReplaySource`; :mod:`aiointercept._cassette` implements it.

A WebSocket upgrade that no route answers is played from a recorded
conversation (a :class:`WebSocketScript`, which the server walks), or relayed
to the real network (a :class:`WebSocketRelay`, whose messages the cassette
may write down). What the dispatcher sends on to the real network is a
:class:`Passthrough`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias

if TYPE_CHECKING:
    from .request import RecordedRequest
    from .responses import Reply
    from .websocket import WebSocketMessage

__all__ = [
    "PASSTHROUGH",
    "ConversationSink",
    "Passthrough",
    "ReplaySource",
    "WebSocketRelay",
    "WebSocketScript",
    "is_websocket_upgrade",
]

#: Takes each message of a relayed conversation, in order, as it passes.
ConversationSink: TypeAlias = "Callable[[WebSocketMessage], None]"


def is_websocket_upgrade(method: str, headers: Mapping[str, str]) -> bool:
    """Whether a request asks for a WebSocket (a GET with ``Upgrade:
    websocket``)."""
    return method == "GET" and "websocket" in headers.get("Upgrade", "").lower()


@dataclass(frozen=True, slots=True, eq=False)
class WebSocketScript:
    """A recorded conversation that answers a WebSocket upgrade: the server
    accepts it (with ``protocol`` and ``headers``), then walks ``messages``
    (``"sent"``: the server's, sent; ``"received"``: the client's, waited for
    and compared), and :meth:`report` keeps what did not go as recorded."""

    request: RecordedRequest
    #: The subprotocol the recorded server chose, if any.
    protocol: str | None
    #: The recorded handshake's other headers worth sending again.
    headers: tuple[tuple[str, str], ...]
    messages: tuple[WebSocketMessage, ...]
    #: The conversation, for messages: ``"c.yaml, websocket 2"``.
    name: str
    #: Keeps a message for the block's exit (a :exc:`CassetteError`).
    report: Callable[[str], None]
    #: The journal's lock, which guards ``request.messages``.
    lock: threading.Lock

    def note(self, message: WebSocketMessage) -> None:
        """Add ``message`` to the request's ``messages``, as it passes."""
        with self.lock:
            self.request.messages.append(message)


@dataclass(frozen=True, slots=True, eq=False)
class WebSocketRelay:
    """A WebSocket upgrade sent on to the real network: the server relays the
    conversation both ways, each message added to ``request.messages`` and,
    when a cassette records, to what :attr:`to_cassette` returns once the
    real server accepted (called with its status, reason and headers;
    ``None``: not recorded)."""

    request: RecordedRequest
    lock: threading.Lock
    to_cassette: (
        Callable[[int, str, list[tuple[str, str]]], ConversationSink | None] | None
    )

    def note(self, message: WebSocketMessage) -> None:
        with self.lock:
            self.request.messages.append(message)


class ReplaySource(Protocol):
    """A block's cassette, as the core uses it."""

    #: Whether a request it cannot replay goes to the real network, to be
    #: recorded (the record mode allows it).
    records: bool
    #: ``(scheme, host, port)`` of every recorded interaction: requests to
    #: these hosts are intercepted even on loopback.
    hosts: frozenset[tuple[str, str, int]]

    def play(self, request: RecordedRequest) -> Reply | None:
        """The recorded reply for ``request``, consumed, or ``None``."""

    def play_websocket(
        self, request: RecordedRequest, lock: threading.Lock
    ) -> WebSocketScript | None:
        """The recorded conversation for the WebSocket upgrade ``request``,
        consumed, or ``None``; ``lock`` guards ``request.messages``."""

    def record_websocket(
        self,
        request: RecordedRequest,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
    ) -> ConversationSink | None:
        """Begin writing down the conversation the real server accepted for
        ``request``: what takes its messages, or ``None`` when nothing is
        written down."""

    def miss(self, request: RecordedRequest) -> str:
        """Why nothing was recorded for ``request`` (logged; the block's exit
        reports it)."""

    def record(
        self,
        request: RecordedRequest,
        status: int,
        reason: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        chunks: list[tuple[int, float]] | None,
    ) -> None:
        """Write down what the real network answered to ``request``; a
        streamed body's ``chunks`` are ``(size, seconds since the previous
        one)``."""


class Passthrough:
    """Send the request on to the real network (``passthrough_unmatched``, or
    a cassette that records): the server's proxy relays it, and hands what
    the real server answered to ``to_cassette`` when it is set (the block's
    cassette recorder, bound to the request)."""

    __slots__ = ("to_cassette", "websocket")

    def __init__(
        self,
        to_cassette: Callable[
            [int, str, list[tuple[str, str]], bytes, list[tuple[int, float]] | None],
            None,
        ]
        | None,
        websocket: WebSocketRelay | None = None,
    ) -> None:
        self.to_cassette = to_cassette
        #: For a WebSocket upgrade: the conversation the server relays.
        self.websocket = websocket

    def __repr__(self) -> str:
        recorded = self.to_cassette is not None or (
            self.websocket is not None and self.websocket.to_cassette is not None
        )
        return "PASSTHROUGH (recorded)" if recorded else "PASSTHROUGH"


PASSTHROUGH = Passthrough(None)


PASSTHROUGH = Passthrough(None)
