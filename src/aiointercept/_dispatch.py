"""Core dispatch: match a request, consume one response, record it.

Registration happens on the test's thread and dispatch on the thread that
serves the request (the test's, or the server thread), so the few lines that
pick a route, consume one of its responses and append to the journal run under
one lock, with no awaits inside. Callbacks run outside it.
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._assertions import UnmatchedRequest, unmatched_request
from ._errors import CallbackError
from ._host import Host, HostClosedError
from ._journal import RecordedRequest, RequestMap
from ._responses import CallbackResult, Fault, Reply, StreamBody
from ._routing import CallbackSource, CloseSource, Route, Router, WebSocketSource
from ._websocket import PendingWebSocket, WebSocketRegistry

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy
    from yarl import URL

    from ._recording import Cassette


__all__ = [
    "PASSTHROUGH",
    "Dispatcher",
    "Passthrough",
    "PendingCallback",
    "Streamed",
]

logger = logging.getLogger("aiointercept")

#: How many of the closest routes an unmatched-request report explains.
_ROUTES_IN_LOG = 5

#: aiohttp resends an idempotent request once, on a new connection, when the
#: server closes the connection before answering. An identical request arriving
#: this soon after such a close is treated as that automatic retry.
RETRY_WINDOW = 1.0
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_MAX_REMEMBERED_CLOSES = 64
#: Faults that end a connection before any response byte.
_RETRIED_FAULTS = frozenset({Fault.CLOSE, Fault.RESET})


class Passthrough:
    """Send the request on to the real network (``passthrough_unmatched``, or
    a cassette that records): the adapter proxies it, and hands what the real
    server answered to ``record`` when it is set."""

    __slots__ = ("record",)

    def __init__(
        self, record: Callable[[int, str, list[tuple[str, str]], bytes], None] | None
    ) -> None:
        self.record = record

    def __repr__(self) -> str:
        return "PASSTHROUGH" if self.record is None else "PASSTHROUGH (recorded)"


PASSTHROUGH = Passthrough(None)


@dataclass(frozen=True, slots=True)
class Streamed:
    """A reply whose body is streamed: the adapter produces the chunks, and
    reports a failing stream with :meth:`Dispatcher.stream_failed`."""

    request: RecordedRequest
    reply: Reply


@dataclass(frozen=True, slots=True)
class PendingCallback:
    """An async callback submitted to the test's loop; ``future`` holds its result."""

    request: RecordedRequest
    future: concurrent.futures.Future[Any]
    #: The response when the callback returns ``None``.
    fallback: Reply | None = None


class Dispatcher:
    """Routes, the journal and the errors of one ``aiointercept`` instance."""

    def __init__(self, callback_start_timeout: float) -> None:
        self.callback_start_timeout = callback_start_timeout
        self.router = Router()
        self.requests = RequestMap()
        #: Every request recorded in ``requests``, in the order received.
        self.journal: list[RecordedRequest] = []
        #: The requests no route answered, with the closest routes explained.
        self.unmatched: list[UnmatchedRequest] = []
        self.errors: list[CallbackError] = []
        self.host: Host | None = None
        self.lock = threading.Lock()
        #: The open WebSocket connections and their running handlers.
        self.websockets = WebSocketRegistry()
        #: Proxy unmatched requests to the real network instead of closing.
        self.passthrough_unmatched = False
        #: The dispatchers whose routes may answer, the most recent block first:
        #: with ``mock_external_urls=True``, every running block's.
        self.chain: Callable[[], Sequence[Dispatcher]] = lambda: (self,)
        #: The block's cassette, when it has one.
        self.cassette: Cassette | None = None
        # fingerprint of requests answered by closing -> when each was closed
        self._closed: dict[tuple[object, ...], list[tuple[float, Fault]]] = {}

    def add(self, route: Route) -> None:
        with self.lock:
            shadowing = self.router.shadowing(route)
            if shadowing is None:
                self.router.add(route)
        if shadowing is not None:
            raise ValueError(
                f"the route {route.describe()} could never serve a request: the "
                f"earlier route {shadowing.describe()} has repeat=True and no "
                "matchers, so it answers every such request first; register the "
                "finite responses before it, or call clear() first"
            )

    def reset(self) -> None:
        """Forget routes, records, errors and retry state (between tests)."""
        self.clear()
        with self.lock:
            self.errors.clear()
            self._closed.clear()

    def forget_requests(self) -> None:
        """Start a new journal for a new block; the routes stay."""
        with self.lock:
            self.requests.clear()
            self.journal.clear()
            self.unmatched.clear()

    def clear(self) -> None:
        with self.lock:
            self.router.clear()
            self.requests.clear()
            self.journal.clear()
            self.unmatched.clear()

    def dispatch(
        self,
        method: str,
        url: URL,
        headers: CIMultiDictProxy[str],
        body: bytes,
        sent_after: float,
    ) -> Reply | Streamed | PendingCallback | PendingWebSocket | Passthrough | None:
        """Answer one request: a reply, a pending async callback, ``PASSTHROUGH``
        (proxy it to the real network) or ``None`` to close the connection
        without a response.

        ``sent_after`` (``time.monotonic()`` of the earliest moment the client can
        have sent the request: when its connection was accepted, for the first
        request on a connection) tells aiohttp's automatic retry of a request,
        which is sent only after the original was closed, from a concurrent twin.
        The routes of every block in ``chain`` are tried, the most recent block
        first.
        """
        fingerprint = _retry_fingerprint(method, url, headers, body)
        request = RecordedRequest.build(method, url, headers, body)
        if fingerprint is not None:
            with self.lock:
                fault = self._is_retry(fingerprint, sent_after)
            if fault is not None:
                logger.debug("closed aiohttp's automatic retry of %s %s", method, url)
                return (
                    None
                    if fault is Fault.CLOSE
                    else Reply(200, None, (), b"", fault=fault)
                )
        chain = self.chain()
        for dispatcher in chain:
            with dispatcher.lock:
                route = dispatcher._take(request)
                if route is not None:
                    dispatcher._record(request)
            if route is not None:
                return dispatcher._respond(route, request, fingerprint)
        cassettes = [d for d in chain if d.cassette is not None]
        for dispatcher in cassettes:
            assert dispatcher.cassette is not None
            reply = dispatcher.cassette.play(request)
            if reply is not None:
                with dispatcher.lock:
                    dispatcher._record(request)
                return self._streamed(request, reply)
        recorder = next(
            (
                d.cassette
                for d in cassettes
                if d.cassette is not None and d.cassette.records
            ),
            None,
        )
        passes = self.passthrough_unmatched or recorder is not None
        with self.lock:
            self._record(request)
            if fingerprint is not None and not passes:
                self._remember_close(fingerprint)
        if recorder is not None:
            logger.info("recording %s %s from the network", method, url)
            return Passthrough(functools.partial(recorder.record, request))
        if self.passthrough_unmatched:
            logger.info("passing %s %s through to the network", method, url)
            return PASSTHROUGH
        for dispatcher in cassettes:
            assert dispatcher.cassette is not None
            logger.warning("%s", dispatcher.cassette.miss(request))
            break
        self._log_unmatched(request)
        return None

    def _take(self, request: RecordedRequest) -> Route | None:
        """Pick and consume a route; call with ``lock`` held. A ``match=``
        predicate that raised is kept, to be raised when the block exits."""
        route = self.router.take(request)
        for failed, failed_request, exc in self.router.take_failures():
            message = (
                f"aiointercept: the match= predicate of the route "
                f"{failed.describe()} raised {type(exc).__name__}: {exc} "
                f"(for {failed_request.method} {failed_request.url})"
            )
            error = CallbackError(message, failed_request)
            error.__cause__ = exc
            self.errors.append(error)
            logger.error("%s", message)
        return route

    def _record(self, request: RecordedRequest) -> None:
        """Add a request to the journal; call with ``lock`` held."""
        self.requests.setdefault(request.key, []).append(request)
        self.journal.append(request)

    def _respond(
        self,
        route: Route,
        request: RecordedRequest,
        fingerprint: _Fingerprint | None,
    ) -> Reply | Streamed | PendingCallback | PendingWebSocket | None:
        source = route.source
        if isinstance(source, CloseSource):
            return self._faulted(source.reply(), fingerprint)
        if isinstance(source, WebSocketSource):  # the adapter accepts the upgrade
            if self.host is None:  # a shared server with no test loop bound
                return self._failed(
                    request,
                    RuntimeError(
                        "no event loop to run the WebSocket handler on: register "
                        "it from an async test"
                    ),
                )
            return PendingWebSocket(request, source.handler, self.host, self)
        if not isinstance(source, CallbackSource):
            return self._streamed(request, self._faulted(source.reply, fingerprint))
        if source.is_async:
            return self._submit(
                request,
                source.fallback,
                source.callback,
                request.url,
                **source.arguments(request),
            )
        try:
            result = source.callback(request.url, **source.arguments(request))
        except BaseException as exc:
            return self._failed(request, exc)
        if inspect.isawaitable(result):
            return self._submit(request, source.fallback, _awaited, result)
        return self._streamed(
            request,
            self._faulted(
                self._result_reply(request, result, source.fallback), fingerprint
            ),
        )

    @staticmethod
    def _streamed(request: RecordedRequest, reply: Reply) -> Reply | Streamed:
        if isinstance(reply.body, StreamBody):
            return Streamed(request, reply)
        return reply

    def stream_failed(self, streamed: Streamed, exc: BaseException) -> None:
        """A streamed body failed part way: keep the error for the block's exit
        (the client sees a broken response)."""
        self._failed(streamed.request, exc, what="streamed body")

    def _faulted(self, reply: Reply, fingerprint: _Fingerprint | None) -> Reply:
        """Remember a connection closed before any response, which aiohttp may
        retry once."""
        if reply.fault in _RETRIED_FAULTS and fingerprint is not None:
            with self.lock:
                self._remember_close(fingerprint, reply.fault)
        return reply

    def _is_retry(self, fingerprint: _Fingerprint, sent_after: float) -> Fault | None:
        """Consume the close this request is aiohttp's automatic retry of, if
        any, and return how that connection was ended."""
        if not self._closed:
            return None
        closes = self._closed.get(fingerprint.key)
        if closes:
            for index, (closed_at, fault) in enumerate(closes):
                if 0 <= sent_after - closed_at < RETRY_WINDOW:
                    del closes[index]
                    return fault
        return None

    def _remember_close(
        self, fingerprint: _Fingerprint, fault: Fault = Fault.CLOSE
    ) -> None:
        now = time.monotonic()
        if len(self._closed) >= _MAX_REMEMBERED_CLOSES:  # retries that never came
            for key, closes in list(self._closed.items()):
                closes[:] = [c for c in closes if now - c[0] < RETRY_WINDOW]
                if not closes:
                    del self._closed[key]
        self._closed.setdefault(fingerprint.key, []).append((now, fault))

    def complete(self, pending: PendingCallback) -> Reply | Streamed:
        """The reply for an async callback whose future is done."""
        try:
            result = pending.future.result()
        except HostClosedError as exc:  # the block ended first, not a callback bug
            return _text_reply(503, f"aiointercept: {exc}")
        except BaseException as exc:
            return self._failed(pending.request, exc)
        return self._streamed(
            pending.request,
            self._result_reply(pending.request, result, pending.fallback),
        )

    def not_started(self, pending: PendingCallback) -> Reply:
        request = pending.request
        message = (
            f"aiointercept: the async callback for {request.method} {request.url} "
            f"could not start within {self.callback_start_timeout} s because the "
            "test's event loop is blocked (is a synchronous client such as "
            "requests running inside the async test?)"
        )
        logger.error("%s", message)
        return _text_reply(503, message)

    def _submit(
        self,
        recorded: RecordedRequest,
        fallback: Reply | None,
        func: Any,
        /,
        *args: Any,
        **kwargs: Any,
    ) -> Reply | PendingCallback:
        host = self.host
        if host is None:  # a shared server with no test loop bound
            return self._failed(
                recorded,
                RuntimeError(
                    "no event loop to run the async callback on: register async "
                    "callbacks from an async test"
                ),
            )
        return PendingCallback(recorded, host.submit(func, *args, **kwargs), fallback)

    def _result_reply(
        self, request: RecordedRequest, result: object, fallback: Reply | None
    ) -> Reply:
        if result is None and fallback is not None:
            return fallback
        if not isinstance(result, CallbackResult):
            return self._failed(
                request,
                TypeError(
                    f"callback returned {type(result).__name__} {result!r}, "
                    "expected a CallbackResult (or None, for the response given "
                    "to add())"
                ),
            )
        try:
            return result.to_reply()
        except (TypeError, ValueError) as exc:
            return self._failed(request, exc)

    def _failed(
        self, request: RecordedRequest, exc: BaseException, what: str = "callback"
    ) -> Reply:
        message = (
            f"aiointercept: the {what} for {request.method} {request.url} "
            f"failed: {type(exc).__name__}: {exc}"
        )
        error = CallbackError(message, request)
        error.__cause__ = exc
        with self.lock:
            self.errors.append(error)
        logger.error("%s", message)
        details = "".join(traceback.format_exception(exc))
        return _text_reply(500, f"{message}\n\n{details}")

    def _log_unmatched(self, request: RecordedRequest) -> None:
        with self.lock:
            routes = self.router.routes()
        unmatched = unmatched_request(
            request, routes, self.journal, limit=_ROUTES_IN_LOG
        )
        with self.lock:
            self.unmatched.append(unmatched)
        headline, _, details = unmatched.report.partition("\n")
        logger.warning(
            "%s; the connection was closed without a response.\n%s",
            headline,
            details,
            extra={"unmatched": unmatched},
        )

    def take_errors(self) -> list[CallbackError]:
        with self.lock:
            errors, self.errors = self.errors, []
        return errors


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class _Fingerprint:
    """What an aiohttp retry of a request repeats, built only when needed
    (most requests are never closed, so never compared)."""

    __slots__ = ("_key", "_request")

    def __init__(
        self, method: str, url: URL, headers: CIMultiDictProxy[str], body: bytes
    ) -> None:
        self._request = (method, url, headers, body)
        self._key: tuple[object, ...] | None = None

    @property
    def key(self) -> tuple[object, ...]:
        if self._key is None:
            method, url, headers, body = self._request
            self._key = (method, str(url), tuple(headers.items()), body)
        return self._key


def _retry_fingerprint(
    method: str, url: URL, headers: CIMultiDictProxy[str], body: bytes
) -> _Fingerprint | None:
    """The fingerprint of a request, or ``None`` when aiohttp would not retry
    it: another client, a method that is not idempotent, or a streamed
    (chunked) body, which aiohttp cannot send twice."""
    if (
        method not in _IDEMPOTENT
        or "aiohttp/" not in headers.get("User-Agent", "")
        or "chunked" in headers.get("Transfer-Encoding", "").lower()
    ):
        return None
    return _Fingerprint(method, url, headers, body)


def _text_reply(status: int, text: str) -> Reply:
    return Reply(
        status,
        None,
        (("Content-Type", "text/plain; charset=utf-8"),),
        text.encode("utf-8"),
    )
