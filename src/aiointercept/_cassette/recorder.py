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

from aiointercept._core.compression import decode_content
from aiointercept._core.request import RecordedRequest
from aiointercept._errors import CassetteError

from . import format as _format
from .filters import Filters
from .format import CassetteResponse, Interaction, content_coding
from .options import CassetteOptions

__all__ = ["Recorder", "decoded"]


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
    ) -> None:
        """Write down a response the real network gave (from the server)."""
        filters = self._filters
        try:
            incoming = filters.request(request)
            if incoming is None:
                return
            headers = list(headers)
            response = filters.response(
                CassetteResponse(status, reason, headers, decoded(headers, body))
            )
            if response is None:
                return
        except BaseException as exc:
            filters.failed(exc)
            raise
        with self._lock:
            self._new.append(
                Interaction(incoming, response, f"{self.options.path}, new")
            )

    def save(self) -> None:
        """Write the cassette if anything was recorded (at the block's exit),
        or raise what a hook raised."""
        errors = self._filters.errors
        if errors:
            first = errors[0]
            raise CassetteError(
                f"cassette {self.options.path} was not written: a before_record "
                f"hook failed with {type(first).__name__}: {first}"
            ) from first
        with self._lock:
            new = list(self._new)
        if new:
            _format.save(
                self.options.path,
                [*self._kept, *new],
                json_bodies=self.options.json_bodies,
            )


def decoded(headers: Sequence[tuple[str, str]], body: bytes) -> bytes:
    """A compressed body as vcrpy stores it (for requests and aiohttp):
    decoded, under its ``Content-Encoding`` header."""
    coding = content_coding(headers)
    if coding is None or not body:
        return body
    try:
        return decode_content(body, coding)
    except ValueError:  # a coding we do not know: keep the bytes as they came
        return body
