"""The reply the server writes, and the checks of each of its parts.

A :class:`Reply` is a complete response: status, reason, headers, a body
(bytes, or a :class:`StreamBody` of chunks), and optionally a delay, a
:class:`Fault` and a content coding. The ``check_*`` functions validate each
argument a user gives for a response, with a message that names it; the
``encode_*`` functions turn bodies, chunks and JSON documents into bytes.
Putting the parts together is :mod:`.reply_builder`'s job.
"""

from __future__ import annotations

import enum
import json as _json
import math
import re
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

__all__ = ["Fault", "Reply", "StreamBody"]


DEFAULT_CONTENT_TYPE: Final = "application/json"
#: An HTTP token (RFC 9110), as used for methods and header names.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: CR, LF and NUL: never allowed in a header value, a reason or an event field.
FORBIDDEN_IN_FIELD = re.compile(r"[\r\n\x00]")


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
    #: Seconds to wait before each chunk, in order (instead of
    #: ``chunk_delay``): a streamed body replayed as it was recorded.
    pauses: tuple[float, ...] | None = None

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
    if FORBIDDEN_IN_FIELD.search(reason):
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
        if FORBIDDEN_IN_FIELD.search(value):
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
    if not content_type or FORBIDDEN_IN_FIELD.search(content_type):
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


def _c_encoder(markers: dict[int, object] | None) -> Any:
    """A C encoder that checks circular references with ``markers`` (or,
    with ``None``, does not: one with no state, made once)."""
    return _C_MAKE_ENCODER(
        markers,
        _JSON_ENCODER.default,
        _json.encoder.encode_basestring_ascii,
        None,  # indent
        ": ",
        ", ",
        False,  # sort_keys
        False,  # skipkeys
        False,  # allow_nan
    )


#: The encoder of every document, without the circular-reference checks,
#: which only a document that recurses past the interpreter's limit needs.
_FAST_ENCODER: Final[Any] = None if _C_MAKE_ENCODER is None else _c_encoder(None)


def encode_json(value: object, name: str) -> bytes:
    try:
        if _FAST_ENCODER is None:  # pragma: no cover - a Python without _json
            return _JSON_ENCODER.encode(value).encode("utf-8")
        try:
            return "".join(_FAST_ENCODER(value, 0)).encode("utf-8")
        except RecursionError:
            # a circular reference, or a document nested too deep: encoded
            # again with the checks, which tell the two apart
            return "".join(_c_encoder({})(value, 0)).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} is not JSON serializable ({exc}): {value!r}") from exc
