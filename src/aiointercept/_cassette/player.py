"""Record and replay: a block's cassette, as routes loaded from a file and a
passthrough whose responses are also written down.

Nothing here knows the server or the file format: :mod:`._cassette` reads and
writes the file, the dispatcher asks :meth:`Cassette.play` for a reply to a
request no route answered, and the server's passthrough proxy hands every
response it relays to :meth:`Cassette.record`.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yarl import URL

from aiointercept._cassette import format as _cassette
from aiointercept._core.compression import check_compress, decode_content
from aiointercept._core.request import RecordedRequest
from aiointercept._core.responses import Reply, StreamBody
from aiointercept._errors import CassetteError
from aiointercept._settings import RECORD_MODES

from .format import CassetteRequest, CassetteResponse, Interaction

__all__ = [
    "DEFAULT_FILTER_HEADERS",
    "DEFAULT_MATCH_ON",
    "MATCHERS",
    "RECORD_MODES",
    "Cassette",
    "CassetteOptions",
    "check_cassette_options",
]

#: The matchers, by vcrpy's names.
MATCHERS = (
    "method",
    "uri",
    "scheme",
    "host",
    "port",
    "path",
    "query",
    "body",
    "raw_body",
    "headers",
)

#: What a request must share with a recorded one to replay it (vcrpy's default).
DEFAULT_MATCH_ON = ("method", "scheme", "host", "port", "path", "query")

#: Request headers never written to a cassette unless asked.
DEFAULT_FILTER_HEADERS = ("authorization", "cookie")

#: Matchers cheap to put in a lookup key; the others are compared one by one.
_INDEXED = frozenset({"method", "uri", "scheme", "host", "port", "path", "query"})

#: Response headers the server computes again when it replays a body.
_FRAMING = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive"}
)

#: Request headers that describe the connection, not the request.
_NOT_RECORDED = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
)

Filter = tuple[str, str | None]
RequestHook = Callable[[CassetteRequest], CassetteRequest | None]
ResponseHook = Callable[[dict[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class CassetteOptions:
    """A block's cassette configuration, checked."""

    path: Path
    record_mode: str
    match_on: tuple[str, ...]
    filter_headers: tuple[Filter, ...]
    filter_query_parameters: tuple[Filter, ...]
    filter_post_data_parameters: tuple[Filter, ...]
    before_record_request: RequestHook | None
    before_record_response: ResponseHook | None


def check_cassette_options(
    cassette: object,
    *,
    record_mode: object,
    match_on: object,
    filter_headers: object,
    filter_query_parameters: object,
    filter_post_data_parameters: object,
    before_record_request: object,
    before_record_response: object,
) -> CassetteOptions | None:
    """Validate the cassette arguments of ``aiointercept(...)``."""
    if cassette is None:
        given = [
            name
            for name, value, default in (
                ("record_mode", record_mode, "once"),
                ("match_on", match_on, DEFAULT_MATCH_ON),
                ("filter_headers", filter_headers, DEFAULT_FILTER_HEADERS),
                ("filter_query_parameters", filter_query_parameters, ()),
                ("filter_post_data_parameters", filter_post_data_parameters, ()),
                ("before_record_request", before_record_request, None),
                ("before_record_response", before_record_response, None),
            )
            if not _same(value, default)
        ]
        if given:
            raise ValueError(f"{given[0]} requires cassette= (a cassette file path)")
        return None
    if cassette is True:
        raise TypeError(
            "cassette=True (a cassette named after the test) is for the pytest "
            "marker; pass a file path"
        )
    if not isinstance(cassette, str | os.PathLike) or isinstance(cassette, bytes):
        raise TypeError(
            f"cassette must be a path (str or os.PathLike), got {cassette!r}"
        )
    if not isinstance(record_mode, str) or record_mode not in RECORD_MODES:
        raise ValueError(
            f"record_mode must be one of {', '.join(RECORD_MODES)}, got {record_mode!r}"
        )
    matchers = _names("match_on", match_on)
    unknown = [name for name in matchers if name not in MATCHERS]
    if unknown or not matchers:
        raise ValueError(
            f"match_on takes matcher names among {', '.join(MATCHERS)}, got "
            f"{match_on!r}"
        )
    for name, hook in (
        ("before_record_request", before_record_request),
        ("before_record_response", before_record_response),
    ):
        if hook is not None and not callable(hook):
            raise TypeError(f"{name} must be callable or None, got {hook!r}")
    _cassette.require_yaml()
    return CassetteOptions(
        path=Path(cassette),
        record_mode=record_mode,
        match_on=matchers,
        filter_headers=_filters("filter_headers", filter_headers, lower=True),
        filter_query_parameters=_filters(
            "filter_query_parameters", filter_query_parameters
        ),
        filter_post_data_parameters=_filters(
            "filter_post_data_parameters", filter_post_data_parameters
        ),
        before_record_request=before_record_request,  # type: ignore[arg-type]
        before_record_response=before_record_response,  # type: ignore[arg-type]
    )


class Cassette:
    """One block's cassette: what it replays and what it records.

    :meth:`play` and :meth:`record` may be called from the server's thread
    while the test's thread registers routes; both take the cassette's lock.
    """

    def __init__(self, options: CassetteOptions) -> None:
        self.options = options
        self.path = options.path
        self._lock = threading.Lock()
        mode = options.record_mode
        exists = self.path.exists()
        self._old: list[Interaction] = []
        if mode in ("none", "once", "new_episodes", "all") and exists:
            self._old = _cassette.load(self.path)
        #: Whether recorded interactions answer requests.
        self.replays = mode in ("none", "new_episodes") or (mode == "once" and exists)
        #: Whether a request with nothing to replay goes to the network and is
        #: recorded.
        self.records = mode in ("new_episodes", "all", "rewrite") or (
            mode == "once" and not exists
        )
        self._new: list[Interaction] = []
        self._played = [False] * len(self._old)
        self._replies: list[Reply | None] = [None] * len(self._old)
        self._index: dict[tuple[object, ...], list[int]] = {}
        #: ``(scheme, host, port)`` of every interaction it may replay.
        self.hosts: frozenset[tuple[str, str, int]] = (
            frozenset(
                (i.request.scheme, i.request.host, i.request.port or 0)
                for i in self._old
            )
            if self.replays
            else frozenset()
        )
        self._rest = tuple(m for m in options.match_on if m not in _INDEXED)
        self._keyed = tuple(m for m in options.match_on if m in _INDEXED)
        if self.replays:
            for position, interaction in enumerate(self._old):
                key = _key(self._keyed, interaction.request)
                self._index.setdefault(key, []).append(position)
        #: Requests that found nothing to replay where nothing may be recorded.
        self.misses: list[str] = []
        #: Failures of the hooks while recording.
        self.errors: list[BaseException] = []

    # -- replaying -----------------------------------------------------------------

    def play(self, request: RecordedRequest) -> Reply | None:
        """The recorded reply for ``request``, consumed, or ``None``."""
        if not self.replays or not self._old:
            return None
        try:
            incoming = self._filtered(request)
        except Exception:  # kept in errors, raised when the block exits
            return None
        if incoming is None:
            return None
        candidates = self._index.get(_key(self._keyed, incoming))
        if not candidates:
            return None
        with self._lock:
            # played interactions leave the front of their list, so the next
            # identical request does not walk past them
            while candidates and self._played[candidates[0]]:
                del candidates[0]
            for position in candidates:
                if self._played[position]:
                    continue
                recorded = self._old[position].request
                if all(_MATCH[name](recorded, incoming) for name in self._rest):
                    self._played[position] = True
                    break
            else:
                return None
        reply = self._replies[position]
        if reply is None:
            reply = self._replies[position] = _reply(self._old[position])
        return reply

    def miss(self, request: RecordedRequest) -> str:
        """Explain, and remember for the block's exit, a request that found no
        interaction to replay."""
        try:
            incoming = self._filtered(request) or _as_recorded(request)
        except Exception:  # kept in errors, raised when the block exits
            incoming = _as_recorded(request)
        lines = [
            f"cassette {self.path} (record_mode={self.options.record_mode!r}) has "
            f"no interaction left for {request.method} {request.url}"
        ]
        closest = self._closest(incoming)
        if closest is None:
            lines.append("  the cassette has no interactions")
        else:
            interaction, differences, played = closest
            lines.append(
                f"  closest recorded interaction: {interaction.request.method} "
                f"{interaction.request.uri} ({interaction.origin})"
            )
            lines += [f"    - {text}" for text in differences]
            if played:
                lines.append("    - already replayed (each interaction plays once)")
        message = "\n".join(lines)
        with self._lock:
            self.misses.append(message)
        return message

    def _closest(
        self, incoming: CassetteRequest
    ) -> tuple[Interaction, list[str], bool] | None:
        best: tuple[int, int] | None = None
        best_differences: list[str] = []
        for position, interaction in enumerate(self._old):
            recorded = interaction.request
            differences = [
                f"{name}: recorded {_SHOW[name](recorded)}, got {_SHOW[name](incoming)}"
                for name in self.options.match_on
                if not _MATCH[name](recorded, incoming)
            ]
            rank = (len(differences), position)
            if best is None or rank < best:
                best, best_differences = rank, differences
        if best is None:
            return None
        position = best[1]
        return self._old[position], best_differences, self._played[position]

    # -- recording -----------------------------------------------------------------

    def record(
        self,
        request: RecordedRequest,
        status: int,
        reason: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
    ) -> None:
        """Write down a response the real network gave (from the server)."""
        try:
            incoming = self._filtered(request)
            if incoming is None:
                return
            headers = list(headers)
            response = CassetteResponse(
                status, reason, headers, _decoded(headers, body)
            )
            hook = self.options.before_record_response
            if hook is not None:
                changed = hook(response.as_dict())
                if changed is None:
                    return
                response = CassetteResponse.from_dict(
                    changed, "the response of before_record_response"
                )
        except BaseException as exc:
            with self._lock:
                self.errors.append(exc)
            raise
        with self._lock:
            self._new.append(Interaction(incoming, response, f"{self.path}, new"))

    def save(self) -> None:
        """Write the cassette if anything was recorded (at the block's exit)."""
        if self.errors:
            first = self.errors[0]
            raise CassetteError(
                f"cassette {self.path} was not written: a before_record hook "
                f"failed with {type(first).__name__}: {first}"
            ) from first
        with self._lock:
            new = list(self._new)
        if not new and not (self.options.record_mode == "rewrite" and self._old):
            return
        kept = [] if self.options.record_mode in ("rewrite", "once") else self._old
        _cassette.save(self.path, [*kept, *new])

    def failure(self) -> CassetteError | None:
        """The error for the requests that found nothing to replay, if any."""
        with self._lock:
            misses = list(self.misses)
        if not misses:
            return None
        more = f"\n(and {len(misses) - 5} more)" if len(misses) > 5 else ""
        return CassetteError("\n".join(misses[:5]) + more)

    # -- the request as the cassette sees it -------------------------------------------

    def _filtered(self, request: RecordedRequest) -> CassetteRequest | None:
        """``request`` with the filters and ``before_record_request`` applied,
        or ``None`` when the hook drops it."""
        options = self.options
        recorded = _as_recorded(request)
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
            with self._lock:
                self.errors.append(exc)
            raise


def _as_recorded(request: RecordedRequest) -> CassetteRequest:
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


def _decoded(headers: Sequence[tuple[str, str]], body: bytes) -> bytes:
    """A compressed body as vcrpy stores it (for requests and aiohttp):
    decoded, under its ``Content-Encoding`` header."""
    coding = _coding(headers)
    if coding is None or not body:
        return body
    try:
        return decode_content(body, coding)
    except ValueError:  # a coding we do not know: keep the bytes as they came
        return body


def _coding(headers: Iterable[tuple[str, str]]) -> str | None:
    for name, value in headers:
        if name.lower() == "content-encoding" and value.strip().lower() != "identity":
            return value.strip().lower()
    return None


def _reply(interaction: Interaction) -> Reply:
    """The reply that replays ``interaction``: its status, reason, headers and
    body, chunked when it was recorded chunked, compressed when it was recorded
    compressed."""
    response = interaction.response
    chunked = any(
        name.lower() == "transfer-encoding" and "chunked" in value.lower()
        for name, value in response.headers
    )
    # the length of a body that HEAD and 304 describe without sending it
    framing = (
        _FRAMING - {"content-length"}
        if interaction.request.method == "HEAD" or response.status == 304
        else _FRAMING
    )
    headers = [(n, v) for n, v in response.headers if n.lower() not in framing]
    body = response.body
    coding = _coding(headers)
    compress: str | None = None
    if coding is not None and body:
        try:
            decode_content(body, coding)
        except ValueError:
            # stored decoded (vcrpy's way for requests and aiohttp): encode it
            # again on the way out, or send it plain if the coding is unknown
            headers = [(n, v) for n, v in headers if n.lower() != "content-encoding"]
            with contextlib.suppress(ValueError):  # unknown, or br without brotli
                compress = check_compress(coding)  # type: ignore[assignment]
    return Reply(
        response.status,
        response.reason or None,
        tuple(headers),
        StreamBody([body], is_async=False) if chunked and body else body,
        compress=compress,
    )


def _key(matchers: Sequence[str], request: CassetteRequest) -> tuple[object, ...]:
    return tuple(_VALUE[name](request) for name in matchers)


def _json_or_form(request: CassetteRequest) -> object:
    """The body as vcrpy's ``body`` matcher compares it: parsed when it is JSON
    or a form, else the bytes."""
    body = request.body or b""
    content_type = request.headers.get("Content-Type", "").lower()
    try:
        if "json" in content_type:
            return json.loads(body)
        if "application/x-www-form-urlencoded" in content_type:
            return sorted(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    except (ValueError, UnicodeDecodeError):
        pass
    return body


_VALUE: dict[str, Callable[[CassetteRequest], object]] = {
    "method": lambda r: r.method.upper(),
    "uri": lambda r: str(r.url),
    "scheme": lambda r: r.scheme,
    "host": lambda r: r.host,
    "port": lambda r: r.port,
    "path": lambda r: r.path,
    "query": lambda r: tuple(r.query),
    "body": _json_or_form,
    "raw_body": lambda r: r.body or b"",
    "headers": lambda r: sorted((k.lower(), v) for k, v in r.headers.items()),
}


def _matcher(
    value: Callable[[CassetteRequest], object],
) -> Callable[[CassetteRequest, CassetteRequest], bool]:
    return lambda recorded, incoming: value(recorded) == value(incoming)


_MATCH = {name: _matcher(value) for name, value in _VALUE.items()}

_SHOW: dict[str, Callable[[CassetteRequest], object]] = {
    **_VALUE,
    "query": lambda r: urllib.parse.urlencode(r.query) or "(none)",
    "body": lambda r: _short(r.body),
    "raw_body": lambda r: _short(r.body),
}


def _short(body: bytes | None) -> str:
    if not body:
        return "(empty)"
    text = repr(body[:60])
    return text + ("..." if len(body) > 60 else "")


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


def _names(what: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a list of names, got {value!r}")
    names = tuple(value)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{what} entries must be str, got {name!r}")
    return names


def _filters(what: str, value: object, lower: bool = False) -> tuple[Filter, ...]:
    """``["name", ("name", "replacement"), ...]`` as ``(name, replacement)``."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(
            f"{what} must be a list of names or (name, replacement) pairs, "
            f"got {value!r}"
        )
    result: list[Filter] = []
    for entry in value:
        if isinstance(entry, str):
            name, replacement = entry, None
        elif (
            isinstance(entry, tuple)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and (entry[1] is None or isinstance(entry[1], str))
        ):
            name, replacement = entry
        else:
            raise TypeError(
                f"{what} entries must be a name or a (name, replacement) pair "
                f"of str, got {entry!r}"
            )
        result.append((name.lower() if lower else name, replacement))
    return tuple(result)


def _same(value: object, default: object) -> bool:
    if isinstance(default, tuple) and isinstance(value, list | tuple):
        return tuple(value) == default
    return value is default or value == default
