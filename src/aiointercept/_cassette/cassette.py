"""A block's cassette: the file read once, a player and a recorder over it.

The rest of aiointercept sees only :class:`Cassette`: the block builds it on
entry and calls :meth:`~Cassette.save` and :meth:`~Cassette.failure` on exit;
the dispatcher asks it to :meth:`~Cassette.play` (or explain a
:meth:`~Cassette.miss`) a request no route answered, and hands
:meth:`~Cassette.record` to the passthrough proxy when it
:attr:`~Cassette.records`; the adapters intercept the :attr:`~Cassette.hosts`
it replays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aiointercept._core.request import RecordedRequest
from aiointercept._core.responses import Reply
from aiointercept._errors import CassetteError

from . import format as _format
from .filters import Filters
from .format import Interaction
from .options import CassetteOptions, RecordMode
from .player import Player
from .recorder import Recorder
from .usage import usage
from .verifier import Verifier

__all__ = ["Cassette"]


class Cassette:
    """One block's cassette: what it replays and what it records, as its
    record mode decides (see :class:`~.options.RecordMode`).

    Its methods are the player's and the recorder's own, bound here rather
    than forwarded, so that the request path pays no extra call.
    """

    play: Callable[[RecordedRequest], Reply | None]
    miss: Callable[[RecordedRequest], str]
    failure: Callable[[], CassetteError | None]
    record: Callable[
        [RecordedRequest, int, str, Iterable[tuple[str, str]], bytes], None
    ]
    save: Callable[[], None]

    def __init__(self, options: CassetteOptions) -> None:
        self.options = options
        self.path = options.path
        mode = options.record_mode
        exists = self.path.exists()
        filters = Filters(options)
        #: What the file holds (nothing for ``rewrite``, which replaces it), as
        #: the user's filters and hooks leave it.
        if mode is RecordMode.VERIFY and not exists:
            raise CassetteError(
                f"record_mode='verify' compares live responses with a cassette, "
                f"and {self.path} does not exist: record it first"
            )
        self.interactions: list[Interaction] = (
            _format.load(self.path) if exists and mode is not RecordMode.REWRITE else []
        )
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
        #: ``(scheme, host, port)`` of every interaction it may replay.
        self.hosts = self.player.hosts
        self.play = self.player.play
        self.miss = self.player.miss
        self.failure = self.player.failure
        self.record = self.recorder.record
        self.save = self.recorder.save
        if usage.enabled and self.replays and self.interactions:
            self.save = self._save_and_report
        if mode is RecordMode.VERIFY:
            # what the network answers is compared, not written down
            verifier = Verifier(options, self.interactions, filters)
            self.record = verifier.record
            self.save = verifier.save
            self.failure = verifier.failure

    def _save_and_report(self) -> None:
        """Report which interactions played (``--aiointercept-unused``),
        then save."""
        usage.report(
            str(self.path.absolute()),
            [
                (
                    interaction.number,
                    f"{interaction.request.method} {interaction.request.uri}",
                    played,
                )
                for interaction, played in zip(
                    self.interactions, self.player.played, strict=True
                )
            ],
        )
        self.recorder.save()
