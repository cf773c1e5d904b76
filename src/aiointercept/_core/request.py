"""A recorded request, as the test sees it: its body parsed as form, JSON or
multipart on demand."""

from __future__ import annotations

import codecs
import contextlib
import email.parser
import email.policy
import json as _json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import parse_qsl

from multidict import CIMultiDict, CIMultiDictProxy, MultiDictProxy
from yarl import URL

from .compression import decode_content
from .urls import normalize_url

if TYPE_CHECKING:
    from .websocket import WebSocketMessage

__all__ = ["RecordedRequest", "RequestKey", "UploadedFile"]

RequestKey: TypeAlias = tuple[str, URL]


@dataclass(frozen=True, slots=True, eq=False)
class RecordedRequest:
    """One request received by the mock server.

    ``kwargs`` holds what a callback receives as keyword arguments:
    ``headers`` (case-insensitive multidict), ``query`` (``dict[str, list[str]]``,
    duplicates kept, in request order), ``json`` (the parsed body when the
    Content-Type is JSON, else ``None``) and ``data`` (the raw body bytes).
    ``await read()``, ``await text()`` and ``await json()`` read the body as
    an ``aiohttp.web.Request`` does. ``AiointerceptRequest`` is another name
    for this class.
    """

    #: Upper-case HTTP method.
    method: str
    #: The URL the client asked for (fragment-free, query in request order).
    url: URL
    #: Request headers, case-insensitive.
    headers: CIMultiDictProxy[str]
    #: The request body as sent, read in full: chunked transfer coding removed,
    #: content coding (``Content-Encoding: gzip``...) kept.
    captured_body: bytes
    #: ``headers``, ``query``, ``json`` and ``data``, as passed to callbacks.
    kwargs: dict[str, Any] = field(repr=False)
    #: The body with its content coding undone (``captured_body`` when it has
    #: none, or when it does not decode).
    decoded_body: bytes = field(default=b"", repr=False)
    _key: RequestKey | None = field(default=None, init=False, repr=False)
    #: For a WebSocket route (``m.ws()``): the messages received from the
    #: client and sent to it, in order (see ``WebSocketMessage.direction``).
    messages: list[WebSocketMessage] = field(default_factory=list, repr=False)
    #: The subject of the certificate the client showed (mutual TLS, see
    #: ``m.tls(host, client_ca=...)``), as RFC 4514 text such as
    #: ``"CN=alice,O=Example"``; ``None`` when it showed none.
    client_cert_subject: str | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        method: str,
        url: URL,
        headers: CIMultiDict[str] | CIMultiDictProxy[str],
        body: bytes,
        client_cert_subject: str | None = None,
        normalized: URL | None = None,
    ) -> RecordedRequest:
        """The record of a request received with ``headers``: a read-only
        view of them is kept as it is (a server's parser made them for this
        request), any other mapping is copied. ``normalized`` is
        ``normalize_url(url)``, when the caller knows it already."""
        if type(headers) is CIMultiDictProxy:
            frozen_headers = headers
        else:
            frozen_headers = CIMultiDictProxy(CIMultiDict(headers))
        query: dict[str, list[str]] = {}
        if url.raw_query_string:
            for name, value in url.query.items():
                query.setdefault(name, []).append(value)
        decoded = body
        if body:
            coding = frozen_headers.get("Content-Encoding")
            if coding:
                # kept as sent when it does not decode: captured_body shows it
                with contextlib.suppress(ValueError):
                    decoded = decode_content(body, coding)
        request = cls(
            method=method,
            url=url,
            headers=frozen_headers,
            captured_body=body,
            kwargs={
                "headers": frozen_headers,
                "query": query,
                "json": _parse_json(frozen_headers, decoded),
                "data": body,
            },
            decoded_body=decoded,
            client_cert_subject=client_cert_subject,
        )
        if normalized is not None:
            object.__setattr__(request, "_key", (method, normalized))
        return request

    @property
    def key(self) -> RequestKey:
        """The ``(method, normalized URL)`` key of this request in ``m.requests``."""
        key = self._key
        if key is None:  # computed once: routing and recording both need it
            key = (self.method, normalize_url(self.url))
            object.__setattr__(self, "_key", key)
        return key

    @property
    def path(self) -> str:
        """The URL's path, decoded (``self.url.path``)."""
        return self.url.path

    @property
    def query(self) -> MultiDictProxy[str]:
        """The query parameters, in request order: ``query["k"]`` is the first
        value of ``k``, ``query.getall("k")`` all of them (``kwargs["query"]``
        maps each name to the list of its values)."""
        return self.url.query

    async def read(self) -> bytes:
        """The body with its content coding undone (:attr:`decoded_body`), as
        ``aiohttp.web.Request.read()`` gives it."""
        return self.decoded_body

    async def text(self) -> str:
        """The decoded body as text, in the charset of its Content-Type
        (UTF-8 when it names none)."""
        return self.decoded_body.decode(self._charset(), errors="replace")

    async def json(self) -> Any:
        """The decoded body parsed as JSON, whatever its Content-Type; raises
        :exc:`ValueError` when it is not JSON. Without ``await``,
        ``kwargs["json"]`` holds the parsed body of a JSON request (else
        ``None``)."""
        return _json.loads(self.decoded_body.decode(self._charset()))

    def _charset(self) -> str:
        content_type = self.headers.get("Content-Type", "")
        for parameter in content_type.split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                charset = value.strip().strip('"')
                try:
                    codecs.lookup(charset)
                except LookupError:
                    break
                return charset
        return "utf-8"

    @property
    def form(self) -> dict[str, list[str]] | None:
        """The fields of a URL-encoded or ``multipart/form-data`` body (file
        parts excluded, see :attr:`files`), each name to all of its values in
        order; ``None`` for any other body."""
        parsed = _parse_form(self.headers, self.decoded_body)
        return None if parsed is None else parsed[0]

    @property
    def files(self) -> dict[str, list[UploadedFile]]:
        """The file parts of a ``multipart/form-data`` body, by field name."""
        parsed = _parse_form(self.headers, self.decoded_body)
        return {} if parsed is None else parsed[1]


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a recorded ``multipart/form-data`` request."""

    #: The filename the client gave.
    filename: str
    #: The part's Content-Type, if any.
    content_type: str | None
    #: The part's content.
    data: bytes


def _mime(headers: CIMultiDictProxy[str]) -> str:
    return headers.get("Content-Type", "").partition(";")[0].strip().lower()


def _parse_form(
    headers: CIMultiDictProxy[str], body: bytes
) -> tuple[dict[str, list[str]], dict[str, list[UploadedFile]]] | None:
    mime = _mime(headers)
    fields: dict[str, list[str]] = {}
    files: dict[str, list[UploadedFile]] = {}
    if mime == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
        except (UnicodeDecodeError, ValueError):
            return None
        for key, value in pairs:
            fields.setdefault(key, []).append(value)
        return fields, files
    if mime != "multipart/form-data":
        return None
    head = f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        param: object = part.get_param("name", header="content-disposition")
        if not isinstance(param, str):
            continue
        data = part.get_payload(decode=True)
        payload = data if isinstance(data, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            content_type = part.get("Content-Type")
            files.setdefault(param, []).append(
                UploadedFile(
                    filename,
                    None if content_type is None else str(content_type),
                    payload,
                )
            )
        else:
            charset = part.get_content_charset() or "utf-8"
            fields.setdefault(param, []).append(
                payload.decode(charset, errors="replace")
            )
    return fields, files


def _parse_json(headers: CIMultiDictProxy[str], body: bytes) -> Any:
    if not body:
        return None
    mime = _mime(headers)
    if not (mime == "application/json" or mime.endswith("+json")):
        return None
    try:
        return _json.loads(body)
    except ValueError:
        return None
