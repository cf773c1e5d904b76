"""Streamed bodies: the chunks of a chunked response or an event stream.

When a cassette records a response that came chunked (or an event stream that
came without a length), the passthrough proxy notes each chunk's size and the
time since the one before it. The file keeps them beside the whole body,
which vcrpy reads as usual and which the keys below do not change::

    body:
      string: "data: one\\n\\ndata: two\\n\\n"
      chunks: [11, 11]
      pauses: [0.012, 0.5]

``chunks`` are the sizes in bytes, in order, adding up to the body's length;
``pauses`` (written with ``stream_timing=True`` only) are the seconds before
each chunk: the first since the headers, the others since the chunk before.
A replay sends each chunk as one HTTP chunk, so a client that reads the body
as it comes sees them one at a time, and with ``stream_timing=True`` waits
each pause before each chunk.

A hook (or the scrubbing) that changes the length of a recorded body leaves
sizes that no longer fit it: an event stream is then cut after each event
(each blank line), one chunk each, and any other body keeps no chunks. In a
cassette file, sizes that do not add up are an error, named when the block
starts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from aiointercept._errors import CassetteError

__all__ = ["fit", "pieces", "read_chunks"]

#: The end of a server-sent event: a blank line.
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def read_chunks(
    body: Mapping[str, Any], length: int, where: str, *, strict: bool
) -> tuple[list[int] | None, list[float] | None]:
    """The ``chunks`` and ``pauses`` of a response body mapping, checked.

    ``strict`` (a cassette file): sizes that do not add up to ``length`` are
    an error. Otherwise (what a hook returned) they are left to :func:`fit`.
    """
    chunks, pauses = body.get("chunks"), body.get("pauses")
    if chunks is None:
        if pauses is not None:
            raise CassetteError(f"{where}: response.body has pauses but no chunks")
        return None, None
    if not isinstance(chunks, list) or not all(
        isinstance(size, int) and not isinstance(size, bool) and size > 0
        for size in chunks
    ):
        raise CassetteError(
            f"{where}: response.body.chunks must be a list of sizes in bytes "
            f"(positive integers), got {chunks!r}"
        )
    if pauses is not None and (
        not isinstance(pauses, list)
        or len(pauses) != len(chunks)
        or not all(
            isinstance(pause, int | float)
            and not isinstance(pause, bool)
            and pause >= 0
            for pause in pauses
        )
    ):
        raise CassetteError(
            f"{where}: response.body.pauses must be a list of seconds (numbers "
            f"from 0), one for each of the {len(chunks)} chunks, got {pauses!r}"
        )
    if strict and sum(chunks) != length:
        raise CassetteError(
            f"{where}: response.body.chunks add up to {sum(chunks)} bytes, but the "
            f"body has {length}: correct them, or remove chunks (and pauses) to "
            "replay the body in one piece"
        )
    return chunks, None if pauses is None else [float(pause) for pause in pauses]


def fit(
    body: bytes,
    chunks: Sequence[int] | None,
    pauses: Sequence[float] | None,
    content_type: str | None,
) -> tuple[list[int] | None, list[float] | None]:
    """``chunks`` and ``pauses`` as they fit ``body``: as they are when the
    sizes add up to its length; else, for an event stream, one chunk for each
    event (and no pauses); else none."""
    if not chunks or not body:
        return None, None
    if sum(chunks) == len(body):
        return list(chunks), None if pauses is None else list(pauses)
    if (content_type or "").lower().startswith("text/event-stream"):
        ends = [match.end() for match in _EVENT_END.finditer(body)]
        if not ends or ends[-1] != len(body):
            ends.append(len(body))
        return [end - start for start, end in zip([0, *ends], ends, strict=False)], None
    return None, None


def pieces(body: bytes, chunks: Sequence[int]) -> list[bytes]:
    """``body`` cut into chunks of these sizes (which add up to its length)."""
    result = []
    start = 0
    for size in chunks:
        result.append(body[start : start + size])
        start += size
    return result
