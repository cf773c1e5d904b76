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
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from aiointercept._errors import CallbackError

from .callback_result import CallbackResult
from .diagnostics import RouteHandle, unmatched_request
from .journal import Journal
from .replay import (
    PASSTHROUGH,
    Passthrough,
    ReplaySource,
    WebSocketRelay,
    WebSocketScript,
    is_websocket_upgrade,
)
from .request import RecordedRequest
from .responses import Reply, StreamBody
from .routing import CallbackSource, CloseSource, Route, Router, WebSocketSource
from .test_loop import TestLoop, TestLoopClosedError
from .websocket_connections import PendingWebSocket, WebSocketRegistry

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy
    from yarl import URL


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

#: What ends a request that the mock holds open, and how to end it sooner.
CLIENT_TIMEOUT = (
    "the client's own timeout decides when the request ends (aiohttp's default "
    "total timeout is 300 s; requests and urllib3 have none): to end it sooner, "
    "give the client a short timeout in the test, such as "
    "aiohttp.ClientTimeout(total=1), or timeout=1 for httpx and requests"
)

#: Why an async callback cannot start, and the fix.
BLOCKED_LOOP = (
    "a synchronous client (requests, httpx.Client, urllib3) called directly in "
    "the async test blocks the loop until its response comes, and the callback "
    "needs that loop to run; call the client in a worker thread "
    "(await anyio.to_thread.run_sync(...) or asyncio.to_thread(...)), or use an "
    "async client"
)


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
    #: The test's loop it runs on (to cancel it when its client has gone).
    test_loop: TestLoop
    #: The response when the callback returns ``None``.
    fallback: Reply | None = None


#: What :meth:`Dispatcher.dispatch` decides for a request.
Outcome: TypeAlias = (
    (Reply | Streamed | PendingCallback | PendingWebSocket | WebSocketScript)
    | Passthrough
    | None
)


class Dispatcher:
    """Routes, the journal and the errors of one ``aiointercept`` instance."""

    def __init__(self, callback_start_timeout: float, handle: RouteHandle) -> None:
        self.callback_start_timeout = callback_start_timeout
        #: Makes the route handles of unmatched-request reports.
        self.handle = handle
        self.router = Router()
        self.journal = Journal()
        #: The journal's lock, which also guards the routes: a response is
        #: consumed and its request recorded in one step.
        self.lock = self.journal.lock
        self.test_loop: TestLoop | None = None
        #: The open WebSocket connections and their running handlers.
        self.websockets = WebSocketRegistry()
        #: Proxy unmatched requests to the real network instead of closing.
        self.passthrough_unmatched = False
        #: The dispatchers whose routes may answer, the most recent block first:
        #: with ``mock_external_urls=True``, every running block's.
        self.chain: Callable[[], Sequence[Dispatcher]] = lambda: (self,)
        #: The block's cassette, when it has one.
        self.cassette: ReplaySource | None = None

    def add(self, route: Route) -> None:
        with self.lock:
            shadowing = self.router.add(route)
        if shadowing is not None:
            # aiointercept 1.0.0's words come first: its users match them
            fix = (
                "call clear() first to replace it"
                if route.remaining is None
                else "register the finite responses before it, or call clear() first"
            )
            raise ValueError(
                f"the route {shadowing.describe()} has repeat=True, cannot add more "
                f"handlers after it: with no matchers, it answers every such "
                f"request first, so the route {route.describe()} could never "
                f"serve a request; {fix}"
            )

    def reset(self) -> None:
        """Forget routes, records and errors (between tests)."""
        self.clear()
        self.journal.take_errors()

    def forget_requests(self) -> None:
        """Start a new journal for a new block; the routes stay."""
        with self.lock:
            self.journal.forget()

    def clear(self) -> None:
        with self.lock:
            self.router.clear()
            self.journal.forget()

    def dispatch(
        self,
        method: str,
        url: URL,
        headers: CIMultiDictProxy[str],
        body: bytes,
        sender_thread: int | None = None,
        client_cert_subject: str | None = None,
        normalized: URL | None = None,
    ) -> Outcome:
        """Answer one request: a reply, a pending async callback, ``PASSTHROUGH``
        (proxy it to the real network) or ``None`` to close the connection
        without a response. A WebSocket upgrade that no route answers is
        played from a cassette's recorded conversation (a
        :class:`WebSocketScript`), or relayed (a :class:`Passthrough` with a
        :class:`WebSocketRelay`).

        ``sender_thread`` is the ident of the thread that sent the request,
        when the client adapter that sent it knows it: a request from the
        test's loop's own thread to a route that needs that loop (which the
        request blocks) is answered at once, with the error kept for the
        block's exit.

        Every request that reaches the server is a new one: the n-th request a
        route matches gets its n-th response (aiohttp's automatic resend of a
        request the server closed is not sent; see ``_adapters._aiohttp_resend``). The
        routes of every block in ``chain`` are tried, the most recent block
        first. ``normalized`` is ``url`` normalized, when the caller knows it
        already.
        """
        request = RecordedRequest.build(
            method, url, headers, body, client_cert_subject, normalized
        )
        chain = self.chain()
        for dispatcher in chain:
            with dispatcher.lock:
                route = dispatcher._take(request)
                if route is not None:
                    dispatcher.journal.record(request)
            if route is not None:
                return dispatcher._respond(route, request, sender_thread)
        cassettes = [d for d in chain if d.cassette is not None]
        upgrade = bool(cassettes or self.passthrough_unmatched) and (
            is_websocket_upgrade(request.method, headers)
        )
        for dispatcher in cassettes:
            assert dispatcher.cassette is not None
            if upgrade:
                script = dispatcher.cassette.play_websocket(request, dispatcher.lock)
                if script is not None:
                    with dispatcher.lock:
                        dispatcher.journal.record(request)
                    return script
                continue
            reply = dispatcher.cassette.play(request)
            if reply is not None:
                with dispatcher.lock:
                    dispatcher.journal.record(request)
                return self._streamed(request, reply)
        recorder = next(
            (
                d.cassette
                for d in cassettes
                if d.cassette is not None and d.cassette.records
            ),
            None,
        )
        with self.lock:
            self.journal.record(request)
        if recorder is not None:
            logger.info("recording %s %s from the network", method, url)
            if upgrade:
                record = functools.partial(recorder.record_websocket, request)
                return Passthrough(None, WebSocketRelay(request, self.lock, record))
            return Passthrough(functools.partial(recorder.record, request))
        if self.passthrough_unmatched:
            logger.info("passing %s %s through to the network", method, url)
            if upgrade:
                return Passthrough(None, WebSocketRelay(request, self.lock, None))
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
            self.journal.errors.append(error)
            logger.error("%s", message)
        return route

    def _respond(
        self, route: Route, request: RecordedRequest, sender_thread: int | None
    ) -> Reply | Streamed | PendingCallback | PendingWebSocket | None:
        source = route.source
        if isinstance(source, CloseSource):
            return source.reply()
        if isinstance(source, WebSocketSource):  # the adapter accepts the upgrade
            if self.test_loop is None:  # a shared server with no test loop bound
                return self._failed(
                    request,
                    RuntimeError(
                        "no event loop to run the WebSocket handler on: register "
                        "it from an async test"
                    ),
                )
            if sender_thread is not None and self._blocks_loop(sender_thread):
                return self._blocked(request, "WebSocket handler")
            return PendingWebSocket(request, source.handler, self.test_loop, self)
        if not isinstance(source, CallbackSource):
            reply = source.reply
            if (
                sender_thread is not None
                and isinstance(reply.body, StreamBody)
                and reply.body.is_async
                and self._blocks_loop(sender_thread)
            ):
                return self._blocked(request, "async iterable body")
            return self._streamed(request, reply)
        if source.is_async:
            return self._submit(
                request,
                source.fallback,
                sender_thread,
                source.callback,
                request.url,
                **source.arguments(request),
            )
        try:
            result = source.callback(request.url, **source.arguments(request))
        except BaseException as exc:
            return self._failed(request, exc)
        if inspect.isawaitable(result):
            return self._submit(
                request, source.fallback, sender_thread, _awaited, result
            )
        return self._streamed(
            request, self._result_reply(request, result, source.fallback)
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

    def complete(self, pending: PendingCallback) -> Reply | Streamed:
        """The reply for an async callback whose future is done."""
        try:
            result = pending.future.result()
        except TestLoopClosedError as exc:  # the block ended first, not a callback bug
            return _text_reply(503, f"aiointercept: {exc}")
        except BaseException as exc:
            return self._failed(pending.request, exc)
        return self._streamed(
            pending.request,
            self._result_reply(pending.request, result, pending.fallback),
        )

    def not_started(self, pending: PendingCallback) -> Reply:
        """The 503 for an async callback the test's loop did not start within
        ``callback_start_timeout`` (logged as an error)."""
        request = pending.request
        message = (
            f"aiointercept: the async callback for {request.method} {request.url} "
            f"could not start within {self.callback_start_timeout:g} s because the "
            f"test's event loop is blocked: {BLOCKED_LOOP}. aiointercept waited "
            "because it cannot tell which thread sent a request to the block's "
            "own URL; with mock_external_urls=True, a request that requests, "
            "urllib3 or httpx.Client sends from the blocked loop's thread is "
            "answered at once."
        )
        logger.error("%s", message)
        return _text_reply(503, message)

    def _blocks_loop(self, sender_thread: int) -> bool:
        """Whether a request sent from ``sender_thread`` blocks the test's loop."""
        test_loop = self.test_loop
        return test_loop is not None and test_loop.thread == sender_thread

    def _blocked(self, request: RecordedRequest, what: str) -> Reply:
        """The 503 for a request that needs the test's loop, sent from that
        loop's own thread: it could never be served. The error is raised when
        the block exits."""
        message = (
            f"aiointercept: the {what} for {request.method} {request.url} cannot "
            "run: the request was sent from the thread of the test's event loop, "
            f"so the test's event loop is blocked: {BLOCKED_LOOP}"
        )
        self.journal.add_error(CallbackError(message, request))
        logger.error("%s", message)
        return _text_reply(503, message)

    def hanging(self, method: str, url: URL, seconds: float) -> None:
        """Say, once, what a request held open by ``fault="hang"`` waits for."""
        logger.warning(
            "aiointercept: %s %s has been hanging for %g s, as its route asks "
            '(fault="hang", or an exception= that is a timeout, such as '
            "asyncio.TimeoutError()): the connection stays open until the client "
            "gives up, so %s",
            method,
            url,
            seconds,
            CLIENT_TIMEOUT,
        )

    def still_running(self, pending: PendingCallback, seconds: float) -> None:
        """Say, once, that an async callback keeps its request waiting."""
        request = pending.request
        logger.warning(
            "aiointercept: the async callback for %s %s is still running after "
            "%g s (does it wait for something that never happens?); unless it "
            "returns, %s",
            request.method,
            request.url,
            seconds,
            CLIENT_TIMEOUT,
        )

    def _submit(
        self,
        recorded: RecordedRequest,
        fallback: Reply | None,
        sender_thread: int | None,
        func: Any,
        /,
        *args: Any,
        **kwargs: Any,
    ) -> Reply | PendingCallback:
        test_loop = self.test_loop
        if test_loop is None:  # a shared server with no test loop bound
            return self._failed(
                recorded,
                RuntimeError(
                    "no event loop to run the async callback on: register async "
                    "callbacks from an async test"
                ),
            )
        if sender_thread is not None and sender_thread == test_loop.thread:
            return self._blocked(recorded, "async callback")
        return PendingCallback(
            recorded, test_loop.submit(func, *args, **kwargs), test_loop, fallback
        )

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
        self.journal.add_error(error)
        logger.error("%s", message)
        details = "".join(traceback.format_exception(exc))
        return _text_reply(500, f"{message}\n\n{details}")

    def _log_unmatched(self, request: RecordedRequest) -> None:
        with self.lock:
            routes = self.router.routes()
        unmatched = unmatched_request(
            request,
            routes,
            self.journal.order,
            limit=_ROUTES_IN_LOG,
            handle=self.handle,
        )
        self.journal.add_unmatched(unmatched)
        headline, _, details = unmatched.report.partition("\n")
        logger.warning(
            "%s; the connection was closed without a response.\n%s",
            headline,
            details,
            extra={"unmatched": unmatched},
        )


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _text_reply(status: int, text: str) -> Reply:
    return Reply(
        status,
        None,
        (("Content-Type", "text/plain; charset=utf-8"),),
        text.encode("utf-8"),
    )
