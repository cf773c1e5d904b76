"""A block's cassette: the file read once, a player and a recorder over it.

The rest of aiointercept sees only :class:`CassetteRun`: the block builds it
on entry and calls :meth:`~CassetteRun.save` and :meth:`~CassetteRun.failure`
on exit; the dispatcher asks it to :meth:`~CassetteRun.play` (or explain a
:meth:`~CassetteRun.miss`) a request no route answered, and hands
:meth:`~CassetteRun.record` to the passthrough proxy when it
:attr:`~CassetteRun.records`; the adapters intercept the
:attr:`~CassetteRun.hosts` it replays; users read it through
:class:`.view.Cassette`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from aiointercept._core.replay import (
    ConversationSink,
    WebSocketScript,
    is_websocket_upgrade,
)
from aiointercept._core.request import RecordedRequest
from aiointercept._core.responses import Reply
from aiointercept._errors import CassetteError

from . import format as _format
from .filters import Filters
from .format import Interaction
from .hooks import loaded, sensitive_data
from .matching import Index
from .options import CassetteOptions, RecordMode
from .player import Player
from .recorder import Recorder
from .usage import usage
from .verifier import Verifier
from .view import Cassette
from .websocket_format import KEY, websockets_of
from .websockets import WebSocketCassette

__all__ = ["CassetteRun"]


class CassetteRun:
    """One block's cassette: what it replays and what it records, as its
    record mode decides (see :class:`~.options.RecordMode`).

    Its methods are the player's and the recorder's own, bound here rather
    than forwarded, so that the request path pays no extra call.
    """

    play: Callable[[RecordedRequest], Reply | None]
    play_websocket: Callable[[RecordedRequest, threading.Lock], WebSocketScript | None]
    record_websocket: Callable[
        [RecordedRequest, int, str, list[tuple[str, str]]], ConversationSink | None
    ]
    record: Callable[
        [
            RecordedRequest,
            int,
            str,
            Iterable[tuple[str, str]],
            bytes,
            list[tuple[int, float]] | None,
        ],
        None,
    ]

    def __init__(self, options: CassetteOptions) -> None:
        self.options = options
        self.path = options.path
        mode = options.record_mode
        exists = self.path.exists()
        filters = Filters(options)
        #: What users see of it.
        self.view = Cassette(self)
        #: Whether :meth:`save` ran.
        self.written = False
        if mode is RecordMode.VERIFY and not exists:
            raise CassetteError(
                f"record_mode='verify' compares live responses with a cassette, "
                f"and {self.path} does not exist: record it first"
            )
        data = (
            _format.read(self.path, options.serializer)
            if exists and mode is not RecordMode.REWRITE
            else None
        )
        #: What the file holds (nothing for ``rewrite``, which replaces it), as
        #: the load hooks, the user's filters and hooks leave it.
        self.interactions: list[Interaction] = _format.interactions_of(data, self.path)
        if (
            options.filter_sensitive_data
            and isinstance(data, dict)
            and isinstance(data.get(KEY), list)
        ):
            data[KEY] = [
                sensitive_data(options, item, restore=True) for item in data[KEY]
            ]
        conversations = websockets_of(data, self.path)
        if self.interactions and (
            options.after_load_interaction or options.filter_sensitive_data
        ):
            self.interactions = [
                kept
                for interaction in self.interactions
                if (kept := loaded(options, interaction, self.view)) is not None
            ]
        if self.interactions and filters.change_stored:
            self.interactions = [
                kept
                for interaction in self.interactions
                if (kept := filters.stored(interaction)) is not None
            ]
        #: Whether recorded interactions answer requests.
        self.replays = mode in (RecordMode.NONE, RecordMode.NEW_EPISODES) or (
            mode is RecordMode.ONCE and exists
        )
        #: Whether a request with nothing to replay goes to the network and is
        #: recorded.
        self.records = mode in (
            RecordMode.NEW_EPISODES,
            RecordMode.ALL,
            RecordMode.REWRITE,
            RecordMode.VERIFY,
        ) or (mode is RecordMode.ONCE and not exists)
        self.player = Player(
            options, self.interactions if self.replays else [], filters
        )
        # what it records follows what the file holds (nothing for ``rewrite``,
        # and for ``once``, which records only when there is no file)
        self.recorder = Recorder(options, self.interactions, filters)
        #: The WebSocket conversations: those it replays, those it records.
        self.websockets = WebSocketCassette(
            options, conversations, filters, replays=self.replays
        )
        #: ``(scheme, host, port)`` of every interaction (and conversation)
        #: it may replay.
        self.hosts = self.player.hosts | self.websockets.player.hosts
        self.play = self.player.play
        self.play_websocket = self.websockets.play
        self.record_websocket = self.websockets.record
        self.record = self.recorder.record
        #: With ``record_mode="verify"``: what compares the live responses.
        self.verifier: Verifier | None = None
        if mode is RecordMode.VERIFY:
            # what the network answers is compared, not written down
            self.verifier = Verifier(options, self.interactions, filters)
            self.record = self.verifier.record

    def miss(self, request: RecordedRequest) -> str:
        """Explain, and remember for the block's exit, a request (or a
        WebSocket upgrade) that found nothing to replay."""
        if is_websocket_upgrade(request.method, request.headers):
            return self.websockets.player.miss(request)
        return self.player.miss(request)

    def failure(self) -> CassetteError | None:
        """The error the block raises at its exit, if any: the requests that
        found nothing to replay (or, with ``record_mode="verify"``, what
        differs), then the WebSocket upgrades that found no conversation and
        the replayed conversations that did not go as recorded."""
        first = (self.verifier or self.player).failure()
        more = [*self.websockets.player.misses, *self.websockets.failures]
        if not more:
            return first
        if len(more) > 5:
            more = [*more[:5], f"(and {len(more) - 5} more)"]
        text = "\n".join(more)
        return CassetteError(text if first is None else f"{first}\n{text}")

    def save(self) -> None:
        """Write what was recorded; with ``drop_unused_requests``, leave out
        what the file held that did not play, writing the file for that
        alone if need be. In ``all`` mode, what was recorded again replaces
        what the file held for the same requests. With
        ``record_mode="verify"``, write nothing. Tell the run which
        interactions played (``--aiointercept-unused``)."""
        if usage.enabled and self.replays and self.interactions:
            self._report_usage()
        if self.verifier is not None:
            self.verifier.save()
            return
        conversations = self.websockets.saved()
        kept: list[Interaction] | None = None
        new = self.recorder.new
        if self.options.record_mode is RecordMode.ALL and new:
            again = Index(new, self.options.match_on)
            kept = [
                interaction
                for interaction in self.interactions
                if not any(
                    again.matches(position, interaction.request)
                    for position in again.candidates(interaction.request) or ()
                )
            ]
        if self.options.drop_unused_requests:
            counts = self.player.play_counts
            played = [
                interaction
                for position, interaction in enumerate(self.player.interactions)
                if counts[position]
            ]
            if len(played) < len(kept if kept is not None else self.interactions):
                kept = played
        self.recorder.save(
            kept,
            self.view,
            self.websockets.data(conversations),
            changed=self.websockets.changed(),
        )
        self.written = True

    def _report_usage(self) -> None:
        counts = self.player.play_counts
        usage.report(
            str(self.path.absolute()),
            [
                (
                    interaction.number,
                    f"{interaction.request.method} {interaction.request.uri}",
                    counts[position] > 0,
                )
                for position, interaction in enumerate(self.player.interactions)
            ],
        )
