"""Recording a cassette: what the network answered, written at the block's exit.

When a cassette records, the dispatcher sends a request nothing replays to
the network through the server's passthrough proxy, which hands the whole
response it relayed to :meth:`Recorder.record`. The interaction is kept, as
the filters and hooks leave it (see :mod:`.filters`), and :meth:`Recorder.save`
writes the cassette when the block exits, unless a hook failed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from aiointercept._core.compression import decode_content
from aiointercept._core.request import RecordedRequest
from aiointercept._errors import CassetteError

from . import format as _format
from .filters import Filters
from .format import CassetteResponse, Interaction, content_coding
from .hooks import saved
from .options import CassetteOptions
from .streams import fit

__all__ = ["Recorder", "stored_response"]


class Recorder:
    """What a cassette records, written after the ``kept`` interactions.

    :meth:`record` is called from the server's thread while the block's thread
    may call :meth:`save`: both take the recorder's lock.
    """

    def __init__(
        self,
        options: CassetteOptions,
        kept: Sequence[Interaction],
        filters: Filters,
    ) -> None:
        self.options = options
        self._kept = kept
        self._filters = filters
        self._lock = threading.Lock()
        self._new: list[Interaction] = []

    def record(
        self,
        request: RecordedRequest,
        status: int,
        reason: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        chunks: list[tuple[int, float]] | None = None,
    ) -> None:
        """Write down a response the real network gave (from the server); a
        streamed body's ``chunks`` are ``(size, seconds since the previous
        one)``."""
        written = self._filters.interaction(
            request,
            stored_response(self.options, status, reason, headers, body, chunks),
        )
        if written is None:
            return
        incoming, response = written
        if response.chunks is not None:  # the scrubbing may have changed the body
            response.chunks, response.pauses = fit(
                response.body,
                response.chunks,
                response.pauses,
                next(
                    (v for n, v in response.headers if n.lower() == "content-type"),
                    None,
                ),
            )
        with self._lock:
            self._new.append(
                Interaction(incoming, response, f"{self.options.path}, new")
            )

    @property
    def new(self) -> list[Interaction]:
        """What was recorded so far."""
        with self._lock:
            return list(self._new)

    def save(
        self,
        kept: Sequence[Interaction] | None,
        cassette: object,
        websockets: list[Any] | None = None,
        *,
        changed: bool = False,
    ) -> None:
        """Write the cassette (at the block's exit) if anything was recorded,
        if ``kept`` (what the file held that stays) is given, or if the
        WebSocket conversations ``changed``: after ``kept`` (or everything the
        file held), and with ``websockets`` (the conversations, as the file
        holds them); or raise what a hook raised. ``cassette`` is what
        interaction hooks get as their third argument."""
        errors = self._filters.errors
        if errors:
            first = errors[0]
            raise CassetteError(
                f"cassette {self.options.path} was not written: a before_record "
                f"hook failed with {type(first).__name__}: {first}"
            ) from first
        new = self.new
        if new or kept is not None or changed:
            written = saved(
                self.options, [*(self._kept if kept is None else kept), *new], cassette
            )
            _format.save(
                self.options.path,
                written,
                self.options.serializer,
                self.options.json_bodies,
                websockets,
            )


def stored_response(
    options: CassetteOptions,
    status: int,
    reason: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    chunks: list[tuple[int, float]] | None = None,
) -> CassetteResponse:
    """A response the network gave, as a cassette stores it before the
    scrubbing and the hooks: its body decoded, under its ``Content-Encoding``
    header unless ``decode_compressed_response`` drops it; a streamed body
    with its chunks (unless it was compressed: the sizes of compressed chunks
    do not cut the decoded body), and their pauses with ``stream_timing``."""
    headers = list(headers)
    sizes = pauses = None
    if chunks and content_coding(headers) is None:
        sizes = [size for size, _ in chunks]
        if options.stream_timing:
            pauses = [round(pause, 3) for _, pause in chunks]
    decoded = _decoded(headers, body)
    if options.decode_compressed_response and decoded is not body:
        headers = [
            (name, str(len(decoded)))
            if name.lower() == "content-length"
            else (name, value)
            for name, value in headers
            if name.lower() != "content-encoding"
        ]
    return CassetteResponse(status, reason, headers, decoded, sizes, pauses)


def _decoded(headers: Sequence[tuple[str, str]], body: bytes) -> bytes:
    """A compressed body as vcrpy stores it (for requests and aiohttp):
    decoded, under its ``Content-Encoding`` header."""
    coding = content_coding(headers)
    if coding is None or not body:
        return body
    try:
        return decode_content(body, coding)
    except ValueError:  # a coding we do not know: keep the bytes as they came
        return body
