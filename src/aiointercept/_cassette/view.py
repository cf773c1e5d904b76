"""What a test reads of its block's cassette: ``m.cassette``.

vcrpy's cassette object has the same names (``play_count``, ``all_played``,
``requests``, ``responses``...), so tests that read it port unchanged.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .format import CassetteRequest, Interaction
from .matching import matcher
from .options import RecordMode

if TYPE_CHECKING:
    from .cassette import CassetteRun
    from .websocket_format import WebSocketInteraction

__all__ = ["Cassette"]


class Cassette:
    """A block's cassette, read-only: what it holds, what it replayed and
    what it recorded, from the block's entry on (and after its exit).

    ``requests``, ``responses`` and ``len()`` count what the file held (as
    the filters and load hooks left it) then what the block recorded;
    positions in ``play_counts`` are positions in ``requests``.
    """

    __slots__ = ("_run",)

    def __init__(self, run: CassetteRun) -> None:
        self._run = run

    @property
    def path(self) -> Path:
        """The cassette file."""
        return self._run.path

    @property
    def record_mode(self) -> RecordMode:
        return self._run.options.record_mode

    @property
    def play_counts(self) -> Counter[int]:
        """How many times each interaction that played did, by position."""
        return Counter(
            {
                position: count
                for position, count in enumerate(self._run.player.play_counts)
                if count
            }
        )

    @property
    def play_count(self) -> int:
        """How many requests the cassette answered."""
        return sum(self._run.player.play_counts)

    @property
    def all_played(self) -> bool:
        """Whether every interaction it may replay answered a request (true
        when it has none; those the block recorded do not count)."""
        return all(self._run.player.play_counts)

    @property
    def write_protected(self) -> bool:
        """Whether its record mode forbids recording (``none``, or ``once``
        with a cassette file)."""
        return not self._run.records

    @property
    def dirty(self) -> bool:
        """Whether it recorded something that is not written yet."""
        run = self._run
        return bool(run.recorder.new or run.websockets.new) and not run.written

    @property
    def data(self) -> list[tuple[CassetteRequest, dict[str, Any]]]:
        """Each interaction's request and response (in vcrpy's shape)."""
        return [(i.request, i.response.as_dict()) for i in self._all()]

    @property
    def requests(self) -> list[CassetteRequest]:
        return [interaction.request for interaction in self._all()]

    @property
    def responses(self) -> list[dict[str, Any]]:
        """The responses, each a dictionary in vcrpy's shape."""
        return [interaction.response.as_dict() for interaction in self._all()]

    @property
    def websockets(self) -> list[WebSocketInteraction]:
        """The WebSocket conversations: what the file held (as the filters
        left it), then what the block recorded. Each has the upgrade
        ``request``, the ``response`` to it (the handshake), and its
        ``messages`` in order (``direction`` ``"received"``: from the client,
        ``"sent"``: from the server)."""
        websockets = self._run.websockets
        return [*websockets.stored, *websockets.new]

    def responses_of(self, request: CassetteRequest) -> list[dict[str, Any]]:
        """The responses of the interactions whose request matches
        ``request`` (by the cassette's ``match_on``), played or not."""
        return [i.response.as_dict() for i in self._matching(request)]

    def __contains__(self, request: object) -> bool:
        """Whether a recorded interaction that may still play matches
        ``request``."""
        if not isinstance(request, CassetteRequest):
            return False
        counts = self._run.player.play_counts
        repeats = self._run.options.allow_playback_repeats
        matching = {id(interaction) for interaction in self._matching(request)}
        return any(
            repeats or not counts[position]
            for position, interaction in enumerate(self._run.player.interactions)
            if id(interaction) in matching
        )

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return (
            f"<aiointercept.Cassette {self.path} record_mode="
            f"{self.record_mode.value!r}: {len(self)} interactions, "
            f"{self.play_count} played>"
        )

    def _all(self) -> list[Interaction]:
        return [*self._run.interactions, *self._run.recorder.new]

    def _matching(self, request: CassetteRequest) -> list[Interaction]:
        matchers = [matcher(name) for name in self._run.options.match_on]
        return [
            interaction
            for interaction in self._all()
            if all(match(interaction.request, request) for match in matchers)
        ]
