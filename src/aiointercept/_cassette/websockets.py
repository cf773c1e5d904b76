"""A cassette's WebSocket conversations: replayed, recorded, written.

A WebSocket upgrade that no route answers is matched against the recorded
upgrade requests as a request is against the interactions (the same
``match_on``, filters and scrubbing, each conversation once; see
:class:`.player.Player`), and the conversation it matches is handed to the
server as a :class:`~aiointercept._core.replay.WebSocketScript` to walk; what
the walk finds different is kept here for the block's exit. When the cassette
records, the upgrade request and the real server's handshake go through the
filters and hooks of an interaction, and the messages are written down as
they pass. ``record_mode="verify"`` relays conversations without comparing
them, and says so in a warning.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiointercept._core.replay import ConversationSink, WebSocketScript

from .filters import Filters
from .format import CassetteResponse, Interaction
from .hooks import sensitive_data
from .matching import Index
from .options import CassetteOptions, RecordMode
from .player import Player
from .websocket_format import WebSocketInteraction

if TYPE_CHECKING:
    from aiointercept._core.request import RecordedRequest

__all__ = ["WebSocketCassette"]

logger = logging.getLogger("aiointercept")


class _ConversationPlayer(Player):
    kind = "WebSocket conversation"


class WebSocketCassette:
    """The conversations of one block's cassette: ``stored`` (what the file
    holds, as the filters leave it) and those the block records."""

    def __init__(
        self,
        options: CassetteOptions,
        stored: list[WebSocketInteraction],
        filters: Filters,
        *,
        replays: bool,
    ) -> None:
        self.options = options
        if stored and filters.change_stored:
            stored = _filtered(stored, filters)
        self.stored = stored
        self._filters = filters
        self._lock = threading.Lock()
        self._new: list[WebSocketInteraction] = []
        #: What replays did not go as recorded, for the block's exit.
        self.failures: list[str] = []
        self._played = stored if replays else []
        self.player = _ConversationPlayer(
            options, [item.as_interaction() for item in self._played], filters
        )

    @property
    def new(self) -> list[WebSocketInteraction]:
        """What was recorded so far."""
        with self._lock:
            return list(self._new)

    def play(
        self, request: RecordedRequest, lock: threading.Lock
    ) -> WebSocketScript | None:
        """The recorded conversation for ``request``, consumed, or ``None``."""
        position = self.player.take(request)
        if position is None:
            return None
        conversation = self._played[position]
        return WebSocketScript(
            request,
            conversation.protocol,
            tuple(conversation.response.headers),
            tuple(conversation.messages),
            conversation.origin,
            self._report,
            lock,
        )

    def _report(self, message: str) -> None:
        with self._lock:
            self.failures.append(message)

    def record(
        self,
        request: RecordedRequest,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
    ) -> ConversationSink | None:
        """Begin a conversation the real server accepted: what takes its
        messages, or ``None`` when the filters drop it (what a hook raises
        is kept, and raised)."""
        if self.options.record_mode is RecordMode.VERIFY:
            logger.warning(
                "cassette %s (record_mode='verify'): the WebSocket conversation "
                "of %s %s is relayed, not compared: verify compares HTTP "
                "interactions only",
                self.options.path,
                request.method,
                request.url,
            )
            return None
        written = self._filters.interaction(
            request, CassetteResponse(status, reason, headers)
        )
        if written is None:
            return None
        conversation = WebSocketInteraction(
            *written, [], f"{self.options.path}, new websocket"
        )
        with self._lock:
            self._new.append(conversation)
        return conversation.messages.append

    def saved(self) -> list[WebSocketInteraction]:
        """What the file holds once the block exits: in ``all`` mode, what
        was recorded again replaces the conversations of the same requests;
        with ``drop_unused_requests``, those that did not play are left
        out."""
        kept = self.stored
        new = self.new
        options = self.options
        if options.record_mode is RecordMode.ALL and new:
            again = Index([item.as_interaction() for item in new], options.match_on)
            kept = [
                item
                for item in kept
                if not any(
                    again.matches(position, item.request)
                    for position in again.candidates(item.request) or ()
                )
            ]
        if options.drop_unused_requests and self._played is self.stored:
            counts = self.player.play_counts
            played = {
                id(item)
                for position, item in enumerate(self._played)
                if counts[position]
            }
            kept = [item for item in kept if id(item) in played]
        return [*kept, *new]

    def data(self, conversations: Sequence[WebSocketInteraction]) -> list[Any]:
        """``conversations`` as the file holds them, each sensitive value
        replaced by its placeholder."""
        return [
            sensitive_data(self.options, item.as_dict(), restore=False)
            for item in conversations
        ]

    def changed(self) -> bool:
        """Whether the file must be written for the conversations alone."""
        return bool(self.new) or (
            self.options.drop_unused_requests
            and self._played is self.stored
            and not all(self.player.play_counts)
        )


def _filtered(
    stored: list[WebSocketInteraction], filters: Filters
) -> list[WebSocketInteraction]:
    """``stored``, each upgrade request and handshake as the user's filters
    and hooks leave it (a hook's ``None`` drops the conversation)."""
    kept = []
    for item in stored:
        interaction: Interaction | None = filters.stored(item.as_interaction())
        if interaction is None:
            continue
        kept.append(
            WebSocketInteraction(
                interaction.request,
                interaction.response,
                item.messages,
                item.origin,
                item.number,
            )
        )
    return kept
