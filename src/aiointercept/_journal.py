"""The request journal: every request the server received, as the test sees it."""

from __future__ import annotations

import json as _json
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ._urls import normalize_url

__all__ = ["RecordedRequest", "RequestKey", "RequestMap"]

RequestKey: TypeAlias = tuple[str, URL]
RequestMap: TypeAlias = dict[RequestKey, list["RecordedRequest"]]


@dataclass(frozen=True, slots=True, eq=False)
class RecordedRequest:
    """One request received by the mock server.

    ``kwargs`` holds what a callback receives as keyword arguments:
    ``headers`` (case-insensitive multidict), ``query`` (``dict[str, list[str]]``,
    duplicates kept, in request order), ``json`` (the parsed body when the
    Content-Type is JSON, else ``None``) and ``data`` (the raw body bytes).
    """

    #: Upper-case HTTP method.
    method: str
    #: The URL the client asked for (fragment-free, query in request order).
    url: URL
    #: Request headers, case-insensitive.
    headers: CIMultiDictProxy[str]
    #: The raw request body, read in full.
    captured_body: bytes
    #: ``headers``, ``query``, ``json`` and ``data``, as passed to callbacks.
    kwargs: dict[str, Any] = field(repr=False)

    @classmethod
    def build(
        cls,
        method: str,
        url: URL,
        headers: CIMultiDict[str] | CIMultiDictProxy[str],
        body: bytes,
    ) -> RecordedRequest:
        frozen_headers = CIMultiDictProxy(CIMultiDict(headers))
        query: dict[str, list[str]] = {}
        for name, value in url.query.items():
            query.setdefault(name, []).append(value)
        return cls(
            method=method,
            url=url,
            headers=frozen_headers,
            captured_body=body,
            kwargs={
                "headers": frozen_headers,
                "query": query,
                "json": _parse_json(frozen_headers, body),
                "data": body,
            },
        )

    @property
    def key(self) -> RequestKey:
        """The ``(method, normalized URL)`` key of this request in ``m.requests``."""
        return (self.method, normalize_url(self.url))

    @property
    def json(self) -> Any:
        """The parsed JSON body, or ``None`` if the body is not JSON."""
        return self.kwargs["json"]

    @property
    def query(self) -> dict[str, list[str]]:
        """Query parameters; each name maps to all of its values, in order."""
        query: dict[str, list[str]] = self.kwargs["query"]
        return query


def _parse_json(headers: CIMultiDictProxy[str], body: bytes) -> Any:
    mime = headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if not body or not (mime == "application/json" or mime.endswith("+json")):
        return None
    try:
        return _json.loads(body)
    except ValueError:
        return None
