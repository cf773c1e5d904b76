"""What a cassette writes down of a request and of a response.

A request is written down without the headers that describe the connection
(``Host``, ``Content-Length``...), then with the filters of the options
applied (``filter_headers``, ``filter_query_parameters``,
``filter_post_data_parameters``: each name dropped, or its value replaced),
then as ``before_record_request`` returns it (``None`` drops the request).
A response is written down as ``before_record_response`` returns it, in
vcrpy's dictionary shape.

Live requests go through the same steps before they are matched against the
recorded ones, so that a request whose secrets were filtered out when it was
recorded still matches. The hooks run in the server's thread; what they raise
is kept in :attr:`Filters.errors`, for the block's exit to report.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Sequence

from yarl import URL

from aiointercept._core.request import RecordedRequest

from .format import CassetteRequest, CassetteResponse
from .options import CassetteOptions, Filter

__all__ = ["Filters", "as_recorded"]

#: Request headers that describe the connection, not the request.
_NOT_RECORDED = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
)


def as_recorded(request: RecordedRequest) -> CassetteRequest:
    """``request`` as a cassette stores it, before any filter."""
    return CassetteRequest(
        request.method,
        str(request.url),
        request.captured_body or None,
        [
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in _NOT_RECORDED
        ],
    )


class Filters:
    """The filters and hooks of a cassette's options, applied."""

    def __init__(self, options: CassetteOptions) -> None:
        self.options = options
        self._lock = threading.Lock()
        #: What the hooks raised (the block's exit raises the first).
        self.errors: list[BaseException] = []

    def failed(self, exc: BaseException) -> None:
        """Keep ``exc``, which a hook raised, for the block's exit."""
        with self._lock:
            self.errors.append(exc)

    def request(self, request: RecordedRequest) -> CassetteRequest | None:
        """``request`` filtered and through ``before_record_request``, or
        ``None`` when the hook drops it. What the hook raises is kept, and
        raised."""
        options = self.options
        recorded = as_recorded(request)
        for name, replacement in options.filter_headers:
            if name in recorded.headers:
                del recorded.headers[name]
                if replacement is not None:
                    recorded.headers[name] = replacement
        if options.filter_query_parameters:
            recorded.uri = _filter_query(recorded.uri, options.filter_query_parameters)
        if options.filter_post_data_parameters and recorded.body:
            recorded.body = _filter_body(
                recorded.body,
                recorded.headers.get("Content-Type", ""),
                options.filter_post_data_parameters,
            )
        hook = options.before_record_request
        if hook is None:
            return recorded
        try:
            return hook(recorded)
        except BaseException as exc:
            self.failed(exc)
            raise

    def response(self, response: CassetteResponse) -> CassetteResponse | None:
        """``response`` through ``before_record_response``, or ``None`` when
        the hook drops it. The caller keeps what this raises."""
        hook = self.options.before_record_response
        if hook is None:
            return response
        changed = hook(response.as_dict())
        if changed is None:
            return None
        return CassetteResponse.from_dict(
            changed, "the response of before_record_response"
        )


def _filter_query(uri: str, filters: Sequence[Filter]) -> str:
    url = URL(uri, encoded=True)
    replaced = dict(filters)
    pairs: list[tuple[str, str]] = []
    for name, value in url.query.items():
        if name not in replaced:
            pairs.append((name, value))
        elif (replacement := replaced[name]) is not None:
            pairs.append((name, replacement))
    return str(url.with_query(pairs))


def _filter_body(body: bytes, content_type: str, filters: Sequence[Filter]) -> bytes:
    """A JSON object's keys or a form's fields filtered; any other body as it
    is."""
    replaced = dict(filters)
    lower = content_type.lower()
    if "json" in lower:
        try:
            data = json.loads(body)
        except ValueError:
            return body
        if isinstance(data, dict):
            for name, value in replaced.items():
                if name in data:
                    if value is None:
                        del data[name]
                    else:
                        data[name] = value
            return json.dumps(data).encode()
        return body
    if "application/x-www-form-urlencoded" in lower:
        try:
            pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            return body
        kept = []
        for name, value in pairs:
            if name not in replaced:
                kept.append((name, value))
            elif (replacement := replaced[name]) is not None:
                kept.append((name, replacement))
        return urllib.parse.urlencode(kept).encode()
    return body
