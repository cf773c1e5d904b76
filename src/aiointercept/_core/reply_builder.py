"""Building a :class:`~.responses.Reply` from what the user gives.

:func:`static_reply` checks the static-response arguments of ``add()`` and
builds the reply once, at registration; :func:`build_reply` assembles a reply
from checked parts, for it and for :class:`~.callback_result.CallbackResult`;
:func:`check_body` tells a body to send at once from chunks to stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Final

from .compression import check_compress
from .responses import (
    DEFAULT_CONTENT_TYPE,
    NO_BODY_STATUSES,
    Fault,
    Reply,
    StreamBody,
    check_content_type,
    check_delay,
    check_fault,
    check_headers,
    check_no_body,
    check_reason,
    check_status,
    encode_body,
    encode_json,
)
from .sse import SSE_CONTENT_TYPE, ServerSentEvents

__all__ = [
    "build_reply",
    "check_body",
    "check_no_chunk_delay",
    "json_document",
    "static_reply",
]


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


def json_document(json: object, payload: object) -> tuple[object, str]:
    """The JSON document of a response and the name it was given as: ``json``
    or its alias ``payload`` (``(None, "json")`` when neither is).

    Both may be given only with the same document: they are one parameter.
    """
    if payload is None:
        return json, "json"
    if json is None:
        return payload, "payload"
    if json is not payload and json != payload:
        raise TypeError(
            "json= and payload= are aliases of one parameter, but got two "
            f"documents: json={json!r} and payload={payload!r}; pass one of them"
        )
    return json, "json"


def check_no_chunk_delay(chunk_delay: object, name: str) -> None:
    """``chunk_delay`` paces a streamed body; a JSON document is sent at once."""
    if check_delay(chunk_delay, "chunk_delay"):
        raise ValueError(
            "chunk_delay applies to streamed bodies (an iterable or async "
            f"iterable of chunks), not to a {name}= document"
        )


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
        if json is None or payload is None:  # the JSON document replaces body
            name = "json" if json is not None else "payload"
            encoded = encode_json(json if json is not None else payload, name)
            return Reply(status, None, _DEFAULT_HEADERS, encoded)
    data, name = json_document(json, payload)
    checked_status = check_status(status)
    if data is not None:
        # the document replaces body, which is neither sent nor checked
        check_no_body(checked_status, name, data)
        check_no_chunk_delay(chunk_delay, name)
    else:
        check_no_body(checked_status, "body", body)
    checked_headers = check_headers(headers)
    checked_type = check_content_type(content_type)
    if checked_type is None and not any(
        header.lower() == "content-type" for header, _ in checked_headers
    ):
        checked_type = (
            DEFAULT_CONTENT_TYPE if data is not None else _default_content_type(body)
        )
    return build_reply(
        status=checked_status,
        reason=check_reason(reason),
        headers=checked_headers,
        body=(
            encode_json(data, name)
            if data is not None
            else check_body(body, chunk_delay)
        ),
        content_type=checked_type,
        delay=check_delay(delay),
        fault=check_fault(fault),
        compress=check_compress(compress),
    )
