"""What a cassette writes down of a request and of a response.

A request is written down without the headers that describe the connection
(``Host``, ``Content-Length``...), scrubbed (see :mod:`.scrubbing`) unless
``scrub_secrets=False``, then with the user's filters applied
(``filter_headers``, ``filter_query_parameters``,
``filter_post_data_parameters``: each name dropped, or its value replaced),
then as ``before_record_request`` returns it (``None`` drops the request).
A response is written down scrubbed, then as ``before_record_response``
returns it, in vcrpy's dictionary shape. The user's filters and hooks come
after the scrubbing, so that they have the last word.

Live requests go through the same steps before they are matched against the
recorded ones, so that a request whose secrets were filtered out when it was
recorded still matches; the player then leaves out what the scrubbing
replaces, on both sides (:func:`.scrubbing.without_secrets`). The hooks
run in the server's thread; what they raise is kept in
:attr:`Filters.errors`, for the block's exit to report.

As in vcrpy, the interactions a cassette file holds go through the user's
filters and hooks too when it is read (:meth:`Filters.stored`), so that a
recorded request and a live one are compared as filtered alike; the built-in
scrubbing is left out there, so that a cassette replays what it holds.

``filter_query_parameters`` rebuilds the query as vcrpy does: its parameters
parsed (those with no value dropped), sorted, then encoded again, so that
their order and the quoting of ``:`` or ``/`` no longer matter.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from typing import TypeVar

from aiointercept._core.request import RecordedRequest
from aiointercept._errors import CassetteError

from .format import CassetteRequest, CassetteResponse, Interaction
from .options import CassetteOptions, Filter, FilterFunction
from .scrubbing import scrub_request, scrub_response

__all__ = ["Filters", "as_recorded"]

T = TypeVar("T")
R = TypeVar("R")

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
        """``request`` as it is written down: scrubbed (unless
        ``scrub_secrets=False``), through the user's filters, then through
        ``before_record_request``; ``None`` when the hook drops it. What the
        hook raises is kept, and raised."""
        recorded = as_recorded(request)
        if self.options.scrub_secrets:
            scrub_request(recorded)
        recorded = self._filtered(recorded)
        hook = self.options.before_record_request
        if hook is None:
            return recorded
        try:
            return hook(recorded)
        except BaseException as exc:
            self.failed(exc)
            raise

    def response(self, response: CassetteResponse) -> CassetteResponse | None:
        """``response`` as it is written down: scrubbed (unless
        ``scrub_secrets=False``), then through ``before_record_response``;
        ``None`` when the hook drops it. The caller keeps what this raises."""
        if self.options.scrub_secrets:
            scrub_response(response)
        hook = self.options.before_record_response
        if hook is None:
            return response
        changed = hook(response.as_dict())
        if changed is None:
            return None
        return CassetteResponse.from_dict(
            changed, "the response of before_record_response"
        )

    def interaction(
        self, request: RecordedRequest, response: CassetteResponse
    ) -> tuple[CassetteRequest, CassetteResponse] | None:
        """``request`` and the ``response`` the network gave it, as they are
        written down (see :meth:`request` and :meth:`response`); ``None`` when
        a hook drops either. What a hook raises is kept, and raised."""
        try:
            incoming = self.request(request)
            if incoming is None:
                return None
            kept = self.response(response)
        except BaseException as exc:
            self.failed(exc)
            raise
        return None if kept is None else (incoming, kept)

    @property
    def change_stored(self) -> bool:
        """Whether :meth:`stored` may change anything."""
        options = self.options
        return bool(
            options.filter_headers
            or options.filter_query_parameters
            or options.filter_post_data_parameters
            or options.before_record_request
            or options.before_record_response
        )

    def stored(self, interaction: Interaction) -> Interaction | None:
        """``interaction``, read from the cassette file, as the user's filters
        and hooks leave it (not the built-in scrubbing), or ``None`` when a
        hook drops it. What a hook raises is raised as a
        :exc:`CassetteError` naming the interaction."""
        options = self.options
        where = interaction.origin
        request = self._filtered(interaction.request)
        response = interaction.response
        if options.before_record_request is not None:
            kept = _run(
                "before_record_request", options.before_record_request, request, where
            )
            if kept is None:
                return None
            request = kept
        if options.before_record_response is not None:
            changed = _run(
                "before_record_response",
                options.before_record_response,
                response.as_dict(),
                where,
            )
            if changed is None:
                return None
            response = CassetteResponse.from_dict(
                changed, f"{where}: the response of before_record_response"
            )
        return Interaction(request, response, where, interaction.number)

    def _filtered(self, recorded: CassetteRequest) -> CassetteRequest:
        """``recorded``, changed in place by the user's header, query and body
        filters."""
        options = self.options
        for name, replacement in options.filter_headers:
            if name in recorded.headers:
                old = recorded.headers.popall(name)[0]
                value = _replacement(replacement, name, old, recorded)
                if value is not None:
                    recorded.headers[name] = str(value)
        if options.filter_query_parameters:
            recorded.uri = _filter_query(recorded, options.filter_query_parameters)
        if options.filter_post_data_parameters and recorded.body:
            recorded.body = _filter_body(recorded, options.filter_post_data_parameters)
        return recorded


def _run(name: str, hook: Callable[[T], R], value: T, where: str) -> R:
    """``hook(value)``, for the interaction at ``where``; what it raises is
    raised as a :exc:`CassetteError` that names the option ``name`` and the
    interaction."""
    try:
        return hook(value)
    except Exception as exc:
        raise CassetteError(
            f"{where}: {name} failed on this recorded interaction with "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _replacement(
    replacement: str | FilterFunction | None,
    name: str,
    value: object,
    request: CassetteRequest,
) -> object:
    """What a filter keeps of ``name``'s ``value``: ``None`` to drop it."""
    if callable(replacement):
        return replacement(key=name, value=value, request=request)
    return replacement


def _filtered_pairs(
    pairs: Sequence[tuple[str, str]],
    filters: Sequence[Filter],
    request: CassetteRequest,
) -> list[tuple[str, str]]:
    replaced = dict(filters)
    kept = []
    for name, value in pairs:
        if name not in replaced:
            kept.append((name, value))
        elif (new := _replacement(replaced[name], name, value, request)) is not None:
            kept.append((name, str(new)))
    return kept


def _filter_query(request: CassetteRequest, filters: Sequence[Filter]) -> str:
    """The query of ``request`` as vcrpy rebuilds it when it filters one:
    parsed (parameters with no value dropped), sorted, filtered, then encoded
    again (``:`` as ``%3A``, ``/`` as ``%2F``, a space as ``+``)."""
    parts = urllib.parse.urlparse(request.uri)
    pairs = sorted(urllib.parse.parse_qsl(parts.query))
    query = urllib.parse.urlencode(_filtered_pairs(pairs, filters, request))
    return urllib.parse.urlunparse(parts._replace(query=query))


def _filter_body(request: CassetteRequest, filters: Sequence[Filter]) -> bytes:
    """A JSON object's keys or a form's fields filtered; any other body as it
    is."""
    body = request.body or b""
    lower = request.headers.get("Content-Type", "").lower()
    if "json" in lower:
        try:
            data = json.loads(body)
        except ValueError:
            return body
        if isinstance(data, dict):
            for name, replacement in filters:
                if name in data:
                    new = _replacement(replacement, name, data[name], request)
                    if new is None:
                        del data[name]
                    else:
                        data[name] = new
            return json.dumps(data).encode()
        return body
    if "application/x-www-form-urlencoded" in lower:
        try:
            pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            return body
        return urllib.parse.urlencode(_filtered_pairs(pairs, filters, request)).encode()
    return body
