"""What the core asks of a cassette: recorded replies for the requests no
route answered, and a place to write down what the real network answered.

The dispatcher and the interception see a block's cassette only through
:class:`ReplaySource`; :mod:`aiointercept._cassette` implements it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .request import RecordedRequest
    from .responses import Reply

__all__ = ["ReplaySource"]


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
