"""What a callback returns to describe its response: :class:`CallbackResult`."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .compression import check_compress
from .keywords import NoMoreKeywords, unexpected_keywords
from .reply_builder import build_reply, check_body, check_no_chunk_delay
from .responses import (
    DEFAULT_CONTENT_TYPE,
    Fault,
    Reply,
    check_content_type,
    check_delay,
    check_fault,
    check_headers,
    check_no_body,
    check_reason,
    check_status,
    encode_json,
)
from .sse import SSE_CONTENT_TYPE, ServerSentEvents

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["CallbackResult"]

#: What an unknown keyword of CallbackResult() most likely meant.
_HINTS = {"json": "the JSON document is payload= here"}


class CallbackResult:
    """What a callback returns to describe its response.

    ``payload`` is serialized to JSON and replaces ``body`` (which is then
    neither sent nor checked). ``content_type`` sets
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
        **unknown: Unpack[NoMoreKeywords],
    ) -> None:
        if unknown:
            raise unexpected_keywords(
                "CallbackResult()", CallbackResult.__init__, unknown, _HINTS
            )
        self.status = check_status(status)
        if payload is not None:
            # the document replaces body, which is neither sent nor checked
            encode_json(payload, "payload")
            check_no_body(self.status, "payload", payload)
            check_no_chunk_delay(chunk_delay, "payload")
        else:
            check_body(body, chunk_delay)
            check_no_body(self.status, "body", body)
        self.body = body
        self.payload = payload
        if isinstance(headers, Iterator):
            headers = list(headers)  # a one-shot iterator is read once, here
        check_headers(headers)
        self.headers = headers
        if (
            content_type == DEFAULT_CONTENT_TYPE
            and payload is None
            and isinstance(body, ServerSentEvents)
        ):
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
