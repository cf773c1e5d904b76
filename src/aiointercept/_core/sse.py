"""Server-sent events: a ``text/event-stream`` body, checked and encoded once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from .responses import FORBIDDEN_IN_FIELD, encode_json

__all__ = ["SSE_CONTENT_TYPE", "ServerSentEvents"]

SSE_CONTENT_TYPE: Final = "text/event-stream"
_SSE_FIELDS: Final = ("event", "id", "retry", "data")


class ServerSentEvents:
    """A ``text/event-stream`` body: pass it as ``body=``.

    Each event is a ``str`` (its data) or a mapping with any of the keys
    ``event``, ``data``, ``id`` and ``retry``; a ``data`` that is not a ``str``
    is sent as JSON. Each event is sent as one chunk (``chunk_delay`` spaces
    them). Events are checked and encoded here.
    """

    __slots__ = ("events",)

    def __init__(self, events: Iterable[str | Mapping[str, Any]]) -> None:
        if isinstance(events, str | bytes | Mapping) or not isinstance(
            events, Iterable
        ):
            raise TypeError(
                f"events must be an iterable of str or mappings, got {events!r}"
            )
        #: The events, encoded for the wire.
        self.events: tuple[bytes, ...] = tuple(_encode_event(e) for e in events)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.events)

    def __repr__(self) -> str:
        return f"ServerSentEvents({len(self.events)} events)"


def _encode_event(event: object) -> bytes:
    if isinstance(event, str):
        fields: Mapping[str, Any] = {"data": event}
    elif isinstance(event, Mapping):
        unknown = [key for key in event if key not in _SSE_FIELDS]
        if unknown or not event:
            raise ValueError(
                "a server-sent event is a str or a mapping with keys among "
                f"{', '.join(_SSE_FIELDS)}, got {event!r}"
            )
        fields = event
    else:
        raise TypeError(
            f"a server-sent event must be a str or a mapping, got {event!r}"
        )
    lines = []
    for name in _SSE_FIELDS:
        if name not in fields:
            continue
        value = fields[name]
        if name == "data":
            text = (
                value
                if isinstance(value, str)
                else encode_json(value, "event data").decode("utf-8")
            )
            lines += [f"data: {line}" for line in text.split("\n")]
            continue
        if name == "retry":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"an event's retry must be a non-negative int of "
                    f"milliseconds, got {value!r}"
                )
            value = str(value)
        if not isinstance(value, str) or FORBIDDEN_IN_FIELD.search(value):
            raise ValueError(
                f"an event's {name} must be a str without CR, LF or NUL, got {value!r}"
            )
        lines.append(f"{name}: {value}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")
