"""Replaying a cassette: recorded interactions as the replies of live requests.

The dispatcher asks :meth:`Player.play` for a reply to each request no route
answered. The request is filtered as it would be recorded, looked up among
the recorded requests (see :mod:`.matching`), both without the secrets that
the built-in scrubbing replaces (see :mod:`.scrubbing`), and the first recorded
interaction that matches and has not played yet answers it, once: its status,
reason, headers and body, as the server sends them. When nothing answers and
nothing may be recorded, :meth:`Player.miss` explains why (the closest
recorded request and how it differs), and :meth:`Player.failure` gathers
those messages into the error the block raises at its exit.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence

from aiointercept._core.compression import check_compress, decode_content
from aiointercept._core.request import RecordedRequest
from aiointercept._core.responses import Reply, StreamBody
from aiointercept._errors import CassetteError

from .filters import Filters, as_recorded
from .format import CassetteRequest, Interaction, content_coding
from .matching import Index, differences
from .options import CassetteOptions
from .scrubbing import Parts, without_secrets
from .streams import pieces

__all__ = ["Player"]

#: Response headers the server computes again when it replays a body.
_FRAMING = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive"}
)


class Player:
    """What a cassette replays: each of ``interactions`` once, in order among
    those that match the same request.

    :meth:`play` may be called from the server's thread while the block's
    thread asks for :meth:`failure`: both take the player's lock.
    """

    #: What it replays, in words (a cassette's WebSocket conversations are
    #: replayed by a player of their own).
    kind = "interaction"

    def __init__(
        self,
        options: CassetteOptions,
        interactions: Sequence[Interaction],
        filters: Filters,
    ) -> None:
        self.options = options
        #: What it replays.
        self.interactions = self._interactions = interactions
        self._filters = filters
        self._lock = threading.Lock()
        #: What the matchers compare of a request, if the scrubbing is on.
        self._parts = parts = (
            Parts.compared_by(options.match_on) if options.scrub_secrets else None
        )
        #: ``interactions`` as they are compared: a recorded secret (scrubbed,
        #: or real in a cassette recorded without scrubbing) matches the live
        #: one, and a request whose secret a filter removed matches too.
        self._compared = (
            interactions
            if parts is None
            else [_as_compared(interaction, parts) for interaction in interactions]
        )
        self._index = Index(self._compared, options.match_on)
        #: How many times each interaction played.
        self.play_counts = [0] * len(interactions)
        #: Each interaction's reply, built when it first plays.
        self._replies: list[Reply | None] = [None] * len(interactions)
        #: ``(scheme, host, port)`` of every interaction it may replay.
        self.hosts = frozenset(
            (i.request.scheme, i.request.host, i.request.port or 0)
            for i in interactions
        )
        #: The messages of :meth:`miss`.
        self.misses: list[str] = []

    def _incoming(self, request: RecordedRequest) -> CassetteRequest | None:
        """``request`` as it is compared with the recorded ones, or ``None``
        when ``before_record_request`` drops it. What the hook raises is kept
        by the filters, and raised."""
        incoming = self._filters.request(request)
        if incoming is None or self._parts is None:
            return incoming
        return without_secrets(incoming, self._parts)

    def play(self, request: RecordedRequest) -> Reply | None:
        """The recorded reply for ``request``, consumed, or ``None``."""
        position = self.take(request)
        if position is None:
            return None
        reply = self._replies[position]
        if reply is None:
            reply = self._replies[position] = _reply(
                self._interactions[position], self.options.stream_timing
            )
        return reply

    def take(self, request: RecordedRequest) -> int | None:
        """The position of the interaction that answers ``request``, now
        played once more; or ``None``."""
        if not self._interactions:
            return None
        try:
            incoming = self._incoming(request)
        except Exception:  # kept in the filters' errors, raised at the exit
            return None
        if incoming is None:
            return None
        candidates = self._index.candidates(incoming)
        if not candidates:
            return None
        counts = self.play_counts
        matches = self._index.matches
        with self._lock:
            if self.options.allow_playback_repeats:
                # vcrpy's rule: the first interaction that matches, played or not
                for position in candidates:
                    if matches(position, incoming):
                        break
                else:
                    return None
            else:
                # played interactions leave the front of their list, so the
                # next identical request does not walk past them
                while candidates and counts[candidates[0]]:
                    del candidates[0]
                for position in candidates:
                    if not counts[position] and matches(position, incoming):
                        break
                else:
                    return None
            counts[position] += 1
        return position

    def miss(self, request: RecordedRequest) -> str:
        """Explain, and remember for the block's exit, a request that found no
        interaction to replay."""
        try:
            incoming = self._incoming(request)
        except Exception:  # kept in the filters' errors, raised at the exit
            incoming = None
        if incoming is None:
            incoming = as_recorded(request)
            if self._parts is not None:
                incoming = without_secrets(incoming, self._parts)
        lines = [
            f"cassette {self.options.path} "
            f"(record_mode={self.options.record_mode.value!r}) has "
            f"no {self.kind} left for {request.method} {request.url}"
        ]
        closest = self._closest(incoming)
        if closest is None:
            lines.append(f"  the cassette has no {self.kind}s")
        else:
            interaction, different, played = closest
            lines.append(
                f"  closest recorded {self.kind}: {interaction.request.method} "
                f"{interaction.request.uri} ({interaction.origin})"
            )
            lines += [f"    - {text}" for text in different]
            if played:
                lines.append(f"    - already replayed (each {self.kind} plays once)")
        message = "\n".join(lines)
        with self._lock:
            self.misses.append(message)
        return message

    def failure(self) -> CassetteError | None:
        """The error for the requests that found nothing to replay, if any."""
        with self._lock:
            misses = list(self.misses)
        if not misses:
            return None
        more = f"\n(and {len(misses) - 5} more)" if len(misses) > 5 else ""
        return CassetteError("\n".join(misses[:5]) + more)

    def _closest(
        self, incoming: CassetteRequest
    ) -> tuple[Interaction, list[str], bool] | None:
        """The recorded interaction that fails the fewest matchers (the first
        of them), how it differs, and whether it already played."""
        best: tuple[int, int] | None = None
        best_differences: list[str] = []
        for position, interaction in enumerate(self._compared):
            different = differences(
                interaction.request, incoming, self.options.match_on
            )
            rank = (len(different), position)
            if best is None or rank < best:
                best, best_differences = rank, different
        if best is None:
            return None
        position = best[1]
        return (
            self._interactions[position],
            best_differences,
            self.play_counts[position] > 0,
        )


def _as_compared(interaction: Interaction, parts: Parts) -> Interaction:
    """``interaction``, its request without the secrets of ``parts``."""
    request = without_secrets(interaction.request, parts)
    if request is interaction.request:
        return interaction
    return Interaction(
        request, interaction.response, interaction.origin, interaction.number
    )


def _reply(interaction: Interaction, timing: bool) -> Reply:
    """The reply that replays ``interaction``: its status, reason, headers and
    body, chunked when it was recorded chunked (in the chunks recorded, each
    after its pause with ``timing``), compressed when it was recorded
    compressed."""
    response = interaction.response
    chunked = any(
        name.lower() == "transfer-encoding" and "chunked" in value.lower()
        for name, value in response.headers
    )
    # the length of a body that HEAD and 304 describe without sending it
    framing = (
        _FRAMING - {"content-length"}
        if interaction.request.method == "HEAD" or response.status == 304
        else _FRAMING
    )
    headers = [(n, v) for n, v in response.headers if n.lower() not in framing]
    body = response.body
    coding = content_coding(headers)
    compress: str | None = None
    if coding is not None and body:
        try:
            decode_content(body, coding)
        except ValueError:
            # stored decoded (vcrpy's way for requests and aiohttp): encode it
            # again on the way out, or send it plain if the coding is unknown
            headers = [(n, v) for n, v in headers if n.lower() != "content-encoding"]
            with contextlib.suppress(ValueError):  # unknown, or br without brotli
                compress = check_compress(coding)  # type: ignore[assignment]
    content: bytes | StreamBody = body
    if response.chunks and body:
        pauses = response.pauses if timing else None
        content = StreamBody(
            pieces(body, response.chunks),
            is_async=False,
            pauses=None if pauses is None else tuple(pauses),
        )
    elif chunked and body:
        content = StreamBody([body], is_async=False)
    return Reply(
        response.status,
        response.reason or None,
        tuple(headers),
        content,
        compress=compress,
    )
