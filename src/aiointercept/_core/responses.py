"""Response specifications: what a route answers, checked when it is registered."""

from __future__ import annotations

import enum
import json as _json
import math
import re
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, TypeAlias

from .compression import check_compress

__all__ = ["CallbackResult", "Fault", "Reply", "ServerSentEvents", "StreamBody"]

HeadersArg: TypeAlias = "Mapping[str, str] | Iterable[tuple[str, str]] | None"

DEFAULT_CONTENT_TYPE: Final = "application/json"
#: An HTTP token (RFC 9110), as used for methods and header names.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_FIELD = re.compile(r"[\r\n\x00]")


class Fault(str, enum.Enum):
    """A network fault the server produces instead of a normal response.

    See "Faults, streaming and WebSocket" in the docs for what each client
    sees.
    """

    #: Reset the connection (TCP RST) before any byte of a response.
    RESET = "reset"
    #: Close the connection before any byte of a response.
    CLOSE = "close"
    #: Send the status line and headers, then close: no body.
    CLOSE_AFTER_HEADERS = "close_after_headers"
    #: Send the headers with the full Content-Length and half of the body,
    #: then close.
    SHORT_BODY = "short_body"
    #: Read the request and never answer; the connection stays open until the
    #: client gives up or the block ends.
    HANG = "hang"
    #: Send an invalid status line, then close.
    MALFORMED_STATUS = "malformed_status"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class StreamBody:
    """A response body sent chunk by chunk, with chunked transfer encoding."""

    #: An iterable or async iterable of ``bytes``/``str`` chunks.
    source: Iterable[Any] | AsyncIterable[Any]
    is_async: bool
    #: Seconds to wait between two chunks.
    chunk_delay: float = 0.0

    def one_shot(self) -> bool:
        """Whether the source can be iterated only once (a generator...)."""
        if self.is_async:
            aiter_ = getattr(self.source, "__aiter__", None)
            return aiter_ is not None and aiter_() is self.source
        return iter(self.source) is self.source  # type: ignore[arg-type]


class Reply(NamedTuple):
    """A complete HTTP response, ready for the server adapter to write.

    Immutable, like a frozen dataclass, and several times cheaper to build:
    every static registration builds one.
    """

    status: int
    reason: str | None
    headers: tuple[tuple[str, str], ...]
    body: bytes | StreamBody
    #: Seconds to hold the response back.
    delay: float = 0.0
    #: A fault to produce instead of (or part way through) the response.
    fault: Fault | None = None
    #: A content coding to encode the body with, or ``True`` to negotiate.
    compress: bool | str | None = None


#: Statuses whose responses never have a body (RFC 9110 6.4.1), besides 1xx.
NO_BODY_STATUSES = frozenset({204, 304})


def check_no_body(status: int, name: str, value: object) -> None:
    """A 1xx, 204 or 304 response has no body: giving it one is a mistake
    (the client would silently get none)."""
    if (status < 200 or status in NO_BODY_STATUSES) and (
        value is not None and not (isinstance(value, str | bytes) and not value)
    ):
        raise ValueError(
            f"a {status} response has no body, got {name}={value!r}: drop the "
            "body, or use a status that has one"
        )


def check_status(status: object) -> int:
    if isinstance(status, bool) or not isinstance(status, int):
        raise TypeError(f"status must be an int, got {status!r}")
    if not 100 <= status <= 599:
        raise ValueError(f"status must be between 100 and 599, got {status!r}")
    return status


def check_reason(reason: object) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise TypeError(f"reason must be a str or None, got {reason!r}")
    if _FORBIDDEN_IN_FIELD.search(reason):
        raise ValueError(f"reason must not contain CR, LF or NUL, got {reason!r}")
    return reason


def check_headers(headers: object) -> tuple[tuple[str, str], ...]:
    """Validate response headers given as a mapping or as (name, value) pairs."""
    if headers is None:
        return ()
    if isinstance(headers, Mapping):
        items: Iterable[object] = headers.items()
    elif isinstance(headers, Iterable) and not isinstance(headers, str | bytes):
        items = headers
    else:
        raise TypeError(
            f"headers must be a mapping or an iterable of (name, value) pairs, "
            f"got {headers!r}"
        )
    checked = []
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"headers must be (name, value) pairs, got {item!r}")
        name, value = item
        if not isinstance(name, str) or not TOKEN.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        if not isinstance(value, str):
            raise TypeError(f"header {name!r} must have a str value, got {value!r}")
        if _FORBIDDEN_IN_FIELD.search(value):
            raise ValueError(
                f"header {name!r} must not contain CR, LF or NUL, got {value!r}"
            )
        checked.append((name, value))
    return tuple(checked)


def check_content_type(content_type: object) -> str | None:
    if content_type is None:
        return None
    if not isinstance(content_type, str):
        raise TypeError(f"content_type must be a str or None, got {content_type!r}")
    if not content_type or _FORBIDDEN_IN_FIELD.search(content_type):
        raise ValueError(f"invalid content_type {content_type!r}")
    return content_type


def check_delay(value: object, name: str = "delay") -> float:
    """A number of seconds: int or float, finite, not negative."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(
            f"{name} must be a finite, non-negative number of seconds, got {value!r}"
        )
    return float(value)


def check_fault(fault: object) -> Fault | None:
    if fault is None:
        return None
    if isinstance(fault, Fault):
        return fault
    choices = ", ".join(repr(member.value) for member in Fault)
    message = f"fault must be a Fault or one of {choices}, got {fault!r}"
    if not isinstance(fault, str):
        raise TypeError(message)
    try:
        return Fault(fault)
    except ValueError:
        raise ValueError(message) from None


#: Exception class names (anywhere in the MRO) and the fault that shows them
#: to a client on the wire; matched by name so the core needs no client library.
_FAULT_BY_EXCEPTION_NAME: Final = (
    ("ConnectionResetError", Fault.RESET),
    ("ClientPayloadError", Fault.SHORT_BODY),
    ("TimeoutError", Fault.HANG),
    ("TimeoutException", Fault.HANG),  # httpx
    ("ServerTimeoutError", Fault.HANG),  # aiohttp
)


def fault_for_exception(exception: object) -> Fault:
    """The fault an ``exception=`` value produces: by its type for exception
    instances and classes, else (any truthy value) a closed connection."""
    cls = exception if isinstance(exception, type) else type(exception)
    if isinstance(exception, BaseException) or (
        isinstance(exception, type) and issubclass(exception, BaseException)
    ):
        names = {klass.__name__ for klass in cls.__mro__}
        for name, fault in _FAULT_BY_EXCEPTION_NAME:
            if name in names:
                return fault
    return Fault.CLOSE


def check_body(body: object, chunk_delay: object) -> bytes | StreamBody:
    """A body: ``bytes``/``str``, or an (async) iterable of chunks to stream."""
    delay = check_delay(chunk_delay, "chunk_delay")
    if isinstance(body, bytes | str | bytearray | memoryview):
        if delay:
            raise ValueError(
                "chunk_delay applies to streamed bodies (an iterable or async "
                f"iterable of chunks), not to {type(body).__name__} bodies"
            )
        return encode_body(body)
    if isinstance(body, ServerSentEvents):
        return StreamBody(body, is_async=False, chunk_delay=delay)
    if isinstance(body, AsyncIterable):
        return StreamBody(body, is_async=True, chunk_delay=delay)
    if isinstance(body, Iterable) and not isinstance(body, Mapping):
        return StreamBody(body, is_async=False, chunk_delay=delay)
    raise TypeError(
        "body must be str or bytes, or an iterable or async iterable of chunks, "
        f"got {type(body).__name__}: {body!r}"
    )


def _as_bytes(value: object) -> bytes | None:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return None


def encode_chunk(chunk: object) -> bytes:
    """One chunk of a streamed body."""
    data = _as_bytes(chunk)
    if data is None:
        raise TypeError(
            f"a streamed body must yield bytes or str chunks, got "
            f"{type(chunk).__name__}: {chunk!r}"
        )
    return data


def encode_body(body: object) -> bytes:
    data = _as_bytes(body)
    if data is None:
        raise TypeError(
            f"body must be str or bytes, got {type(body).__name__}: {body!r}"
        )
    return data


#: ``json.dumps(value, allow_nan=False)``, without building an encoder per call.
_JSON_ENCODER: Final = _json.JSONEncoder(allow_nan=False)
#: The standard library's C encoder, when it has one: called directly, it
#: skips the Python set-up that JSONEncoder.encode does on every call.
_C_MAKE_ENCODER: Final[Any] = getattr(_json.encoder, "c_make_encoder", None)


def encode_json(value: object, name: str) -> bytes:
    try:
        if _C_MAKE_ENCODER is None:  # pragma: no cover - a Python without _json
            return _JSON_ENCODER.encode(value).encode("utf-8")
        encode = _C_MAKE_ENCODER(
            {},  # markers: circular references are reported
            _JSON_ENCODER.default,
            _json.encoder.encode_basestring_ascii,
            None,  # indent
            ": ",
            ", ",
            False,  # sort_keys
            False,  # skipkeys
            False,  # allow_nan
        )
        return "".join(encode(value, 0)).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} is not JSON serializable ({exc}): {value!r}") from exc


def build_reply(
    *,
    status: int,
    reason: str | None,
    headers: tuple[tuple[str, str], ...],
    body: bytes | StreamBody,
    content_type: str | None,
    delay: float = 0.0,
    fault: Fault | None = None,
    compress: bool | str | None = None,
) -> Reply:
    """Assemble a reply; ``content_type`` (when given) replaces any Content-Type."""
    if content_type is not None:
        headers = tuple(h for h in headers if h[0].lower() != "content-type")
        headers += (("Content-Type", content_type),)
    if isinstance(body, StreamBody) and isinstance(body.source, ServerSentEvents):
        given = {name.lower() for name, _ in headers}
        if "cache-control" not in given:
            headers += (("Cache-Control", "no-cache"),)
    return Reply(status, reason, headers, body, delay, fault, compress)


#: The headers of a response given no headers and no content type.
_DEFAULT_HEADERS: Final = (("Content-Type", DEFAULT_CONTENT_TYPE),)


def _default_content_type(body: object) -> str:
    if isinstance(body, ServerSentEvents):
        return SSE_CONTENT_TYPE
    return DEFAULT_CONTENT_TYPE


def static_reply(
    *,
    status: object,
    body: object,
    json: object,
    payload: object,
    headers: object,
    content_type: object,
    reason: object,
    delay: object = 0,
    fault: object = None,
    chunk_delay: object = 0,
    compress: object = None,
) -> Reply:
    """Check the static-response arguments of ``add()`` and build the reply once."""
    if (
        headers is None
        and content_type is None
        and reason is None
        and fault is None
        and compress is None
        and type(delay) is int
        and delay == 0
        and type(chunk_delay) is int
        and chunk_delay == 0
        and type(status) is int
        and 200 <= status <= 599
        and status not in NO_BODY_STATUSES
        and (type(body) is bytes or type(body) is str)
    ):
        # the common case, which every check below lets through unchanged
        if json is None and payload is None:
            return Reply(status, None, _DEFAULT_HEADERS, encode_body(body))
        if not body and (json is None or payload is None):
            name = "json" if json is not None else "payload"
            encoded = encode_json(json if json is not None else payload, name)
            return Reply(status, None, _DEFAULT_HEADERS, encoded)
    if json is not None and payload is not None:
        raise TypeError("pass either json= or payload= (they are aliases), not both")
    data = json if json is not None else payload
    if data is not None and body not in (b"", ""):
        given = "json" if json is not None else "payload"
        raise TypeError(
            f"pass either body= or {given}= (the body as JSON), not both: "
            f"got body={body!r} and {given}={data!r}"
        )
    checked_status = check_status(status)
    if data is not None:
        check_no_body(checked_status, "json" if json is not None else "payload", data)
    else:
        check_no_body(checked_status, "body", body)
    checked_headers = check_headers(headers)
    checked_type = check_content_type(content_type)
    if checked_type is None and not any(
        name.lower() == "content-type" for name, _ in checked_headers
    ):
        checked_type = _default_content_type(body)
    return build_reply(
        status=checked_status,
        reason=check_reason(reason),
        headers=checked_headers,
        body=(
            encode_json(data, "json" if json is not None else "payload")
            if data is not None
            else check_body(body, chunk_delay)
        ),
        content_type=checked_type,
        delay=check_delay(delay),
        fault=check_fault(fault),
        compress=check_compress(compress),
    )


class CallbackResult:
    """What a callback returns to describe its response.

    ``payload`` is serialized to JSON and replaces ``body``. ``content_type`` sets
    the Content-Type; a Content-Type given in ``headers`` wins over the default
    ``application/json`` but not over an explicit ``content_type``. ``body`` may
    also be an iterable or async iterable of chunks (streamed), and ``delay``,
    ``fault``, ``chunk_delay`` and ``compress`` mean what they mean for
    :meth:`~aiointercept.aiointercept.add`. Values are checked here, so a
    mistake is reported where the result is built.
    """

    __slots__ = (
        "body",
        "chunk_delay",
        "compress",
        "content_type",
        "delay",
        "fault",
        "headers",
        "payload",
        "reason",
        "status",
    )

    def __init__(
        self,
        status: int = 200,
        body: str | bytes | Iterable[Any] | AsyncIterable[Any] = "",
        payload: Any = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        content_type: str | None = DEFAULT_CONTENT_TYPE,
        reason: str | None = None,
        *,
        delay: float = 0,
        fault: Fault | str | None = None,
        chunk_delay: float = 0,
        compress: bool | str | None = None,
    ) -> None:
        self.status = check_status(status)
        check_body(body, chunk_delay)
        self.body = body
        if payload is not None:
            encode_json(payload, "payload")
            check_no_body(self.status, "payload", payload)
        else:
            check_no_body(self.status, "body", body)
        self.payload = payload
        if isinstance(headers, Iterator):
            headers = list(headers)  # a one-shot iterator is read once, here
        check_headers(headers)
        self.headers = headers
        if content_type == DEFAULT_CONTENT_TYPE and isinstance(body, ServerSentEvents):
            content_type = SSE_CONTENT_TYPE
        self.content_type = check_content_type(content_type)
        self.reason = check_reason(reason)
        self.delay = check_delay(delay)
        self.fault = check_fault(fault)
        self.chunk_delay = check_delay(chunk_delay, "chunk_delay")
        self.compress = check_compress(compress)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"CallbackResult({fields})"

    def to_reply(self) -> Reply:
        headers = check_headers(self.headers)
        content_type = self.content_type
        if content_type in (DEFAULT_CONTENT_TYPE, SSE_CONTENT_TYPE) and any(
            name.lower() == "content-type" for name, _ in headers
        ):
            content_type = None
        return build_reply(
            status=self.status,
            reason=self.reason,
            headers=headers,
            body=(
                encode_json(self.payload, "payload")
                if self.payload is not None
                else check_body(self.body, self.chunk_delay)
            ),
            content_type=content_type,
            delay=self.delay,
            fault=self.fault,
            compress=self.compress,
        )


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
        if not isinstance(value, str) or _FORBIDDEN_IN_FIELD.search(value):
            raise ValueError(
                f"an event's {name} must be a str without CR, LF or NUL, got {value!r}"
            )
        lines.append(f"{name}: {value}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")
