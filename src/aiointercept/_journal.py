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


class RequestMap(dict[RequestKey, list[RecordedRequest]]):
    """``m.requests``: recorded requests by ``(METHOD, normalized URL)``.

    A plain dict, except that looking a key up normalizes it first, the way the
    keys were normalized: ``("get", "https://h:443/p?b=2&a=1")`` finds
    ``("GET", URL("https://h/p?a=1&b=2"))``.
    """

    def __getitem__(self, key: tuple[str, URL | str]) -> list[RecordedRequest]:
        return super().__getitem__(key)  # type: ignore[index]

    def __missing__(self, key: object) -> list[RecordedRequest]:
        normalized = _normalize_key(key)
        if (
            normalized is not None
            and normalized != key
            and dict.__contains__(self, normalized)
        ):
            return dict.__getitem__(self, normalized)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        normalized = _normalize_key(key)
        return normalized is not None and dict.__contains__(self, normalized)

    def get(  # type: ignore[override]
        self, key: tuple[str, URL | str], default: list[RecordedRequest] | None = None
    ) -> list[RecordedRequest] | None:
        try:
            return self[key]
        except KeyError:
            return default


def _normalize_key(key: object) -> RequestKey | None:
    if not (isinstance(key, tuple) and len(key) == 2):
        return None
    method, url = key
    if not isinstance(method, str) or not isinstance(url, str | URL):
        return None
    try:
        return (method.upper(), normalize_url(url))
    except (TypeError, ValueError):
        return None
