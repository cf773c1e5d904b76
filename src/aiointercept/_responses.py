"""Response specifications: what a route answers, checked when it is registered."""

from __future__ import annotations

import json as _json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

__all__ = ["CallbackResult", "Reply"]

HeadersArg: TypeAlias = "Mapping[str, str] | Iterable[tuple[str, str]] | None"

DEFAULT_CONTENT_TYPE: Final = "application/json"
#: An HTTP token (RFC 9110), as used for methods and header names.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_FIELD = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete HTTP response, ready for the server adapter to write."""

    status: int
    reason: str | None
    headers: tuple[tuple[str, str], ...]
    body: bytes


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


def encode_body(body: object) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"body must be str or bytes, got {type(body).__name__}: {body!r}")


def encode_json(value: object, name: str) -> bytes:
    try:
        return _json.dumps(value, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} is not JSON serializable ({exc}): {value!r}") from exc


def build_reply(
    *,
    status: int,
    reason: str | None,
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    content_type: str | None,
) -> Reply:
    """Assemble a reply; ``content_type`` (when given) replaces any Content-Type."""
    if content_type is not None:
        headers = tuple(h for h in headers if h[0].lower() != "content-type")
        headers += (("Content-Type", content_type),)
    return Reply(status, reason, headers, body)


def static_reply(
    *,
    status: object,
    body: object,
    json: object,
    payload: object,
    headers: object,
    content_type: object,
    reason: object,
) -> Reply:
    """Check the static-response arguments of ``add()`` and build the reply once."""
    if json is not None and payload is not None:
        raise TypeError("pass either json= or payload= (they are aliases), not both")
    data = json if json is not None else payload
    checked_headers = check_headers(headers)
    checked_type = check_content_type(content_type)
    if checked_type is None and not any(
        name.lower() == "content-type" for name, _ in checked_headers
    ):
        checked_type = DEFAULT_CONTENT_TYPE
    return build_reply(
        status=check_status(status),
        reason=check_reason(reason),
        headers=checked_headers,
        body=(
            encode_json(data, "json" if json is not None else "payload")
            if data is not None
            else encode_body(body)
        ),
        content_type=checked_type,
    )


class CallbackResult:
    """What a callback returns to describe its response.

    ``payload`` is serialized to JSON and replaces ``body``. ``content_type`` sets
    the Content-Type; a Content-Type given in ``headers`` wins over the default
    ``application/json`` but not over an explicit ``content_type``. Values are
    checked here, so a mistake is reported where the result is built.
    """

    __slots__ = ("body", "content_type", "headers", "payload", "reason", "status")

    def __init__(
        self,
        status: int = 200,
        body: str | bytes = "",
        payload: Any = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        content_type: str | None = DEFAULT_CONTENT_TYPE,
        reason: str | None = None,
    ) -> None:
        self.status = check_status(status)
        encode_body(body)
        self.body = body
        if payload is not None:
            encode_json(payload, "payload")
        self.payload = payload
        if isinstance(headers, Iterator):
            headers = list(headers)  # a one-shot iterator is read once, here
        check_headers(headers)
        self.headers = headers
        self.content_type = check_content_type(content_type)
        self.reason = check_reason(reason)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"CallbackResult({fields})"

    def to_reply(self) -> Reply:
        headers = check_headers(self.headers)
        content_type = self.content_type
        if content_type == DEFAULT_CONTENT_TYPE and any(
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
                else encode_body(self.body)
            ),
            content_type=content_type,
        )
