"""The ``aiointercept`` facade: lifecycle, registration and the request journal."""

from __future__ import annotations

import copy
import functools
import inspect
import os
import re
import sys
import warnings
import weakref
from collections import OrderedDict
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from yarl import URL

from ._adapters import InterceptTarget, PassthroughHost, interception
from ._cassette.cassette import Cassette
from ._cassette.options import (
    DEFAULT_FILTER_HEADERS,
    DEFAULT_MATCH_ON,
    RequestHook,
    ResponseHook,
    check_cassette_options,
)
from ._core.assertions import (
    MOCK,
    CallSpec,
    RegisteredRoute,
    UnmatchedRequest,
    expect_any_call,
    expect_call_count,
    expect_called_with,
    expected_key,
    explain_key,
    ignore_client_keywords,
    strict_failure,
)
from ._core.dispatch import Dispatcher
from ._core.journal import RecordedRequest, RequestKey, RequestMap
from ._core.matchers import build_matchers
from ._core.responses import (
    Fault,
    StreamBody,
    check_delay,
    fault_for_exception,
    static_reply,
)
from ._core.routing import (
    CallbackSource,
    CloseSource,
    Route,
    StaticSource,
    WebSocketSource,
    check_method,
    check_repeat,
)
from ._core.urls import normalize_url, plain_url
from ._core.websocket import WebSocket, check_handler, http_url
from ._server.test_loop import Host
from ._settings import strictness

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._server.block_server import AiohttpServer

__all__ = ["aiointercept"]

R = TypeVar("R")

_UNSET: Any = object()


class aiointercept:  # the public name is lower-case by design
    """Answer HTTP requests from a real local server for the duration of a block.

    Use it as ``async with aiointercept() as m:``; as ``with aiointercept() as
    m:`` in synchronous code; with ``await m.start()`` and ``await m.stop()``
    from set-up and tear-down hooks; or as a decorator on an async function,
    which then receives a copy of the instance as its last positional argument
    (or as the keyword argument named by ``param``). The first four parameters
    may be given positionally.

    :param mock_external_urls: make every request that aiohttp sends, to any
        host, reach the mock, by patching aiohttp's connection set-up for the
        duration of the block (see "Interception modes" in the docs).
    :param passthrough: hosts whose requests reach the real network; requires
        ``mock_external_urls=True``.
    :param passthrough_unmatched: proxy unmatched requests to the real network;
        requires ``mock_external_urls=True``.
    :param block_network: with ``mock_external_urls=True``, make any other TCP
        connection to an address outside this machine (one that no adapter
        sends to the mock) fail with :exc:`~aiointercept.NetworkBlockedError`,
        unless ``passthrough`` or ``passthrough_unmatched`` lets it through.
        ``False`` turns this guard off.
    :param param: when used as a decorator, the keyword argument name under which
        the instance is passed.
    :param callback_start_timeout: seconds an async callback may wait for the
        test's event loop before its request gets a ``503`` saying that the loop
        is blocked.
    :param assert_all_called: when the block exits, raise
        :exc:`~aiointercept.StrictCheckError` if a route served no request.
        ``None`` (the default) means ``False``, unless the pytest plugin's
        strict option (``aiointercept_strict``) is on for the running test.
    :param assert_all_matched: when the block exits, raise
        :exc:`~aiointercept.StrictCheckError` if a request matched no route;
        ``None`` as for ``assert_all_called``.
    :param cassette: a cassette file (vcrpy's YAML format) to replay recorded
        interactions from and record new ones to; requires
        ``mock_external_urls=True``. See "Recording and replaying".
    :param record_mode: ``"none"``, ``"once"``, ``"new_episodes"``, ``"all"``
        or ``"rewrite"``, with vcrpy's (and pytest-recording's) meanings.
    :param match_on: the vcrpy matcher names a request must share with a
        recorded one to replay it.
    :param filter_headers: request headers left out of recordings (names, or
        ``(name, replacement)`` pairs); ``Authorization`` and ``Cookie`` by
        default.
    :param filter_query_parameters: query parameters left out of recordings.
    :param filter_post_data_parameters: form or JSON body fields left out of
        recordings.
    :param before_record_request: called with each request before it is
        recorded or matched; returns it (changed or not), or ``None`` to leave
        it out.
    :param before_record_response: called with each response (a dict in
        vcrpy's shape) before it is recorded; returns it, or ``None``.
    """

    def __init__(
        self,
        mock_external_urls: bool = False,
        passthrough: list[str] | None = None,
        passthrough_unmatched: bool = False,
        param: str | None = None,
        *,
        callback_start_timeout: float = 5.0,
        assert_all_called: bool | None = None,
        assert_all_matched: bool | None = None,
        block_network: bool = True,
        cassette: str | os.PathLike[str] | None = None,
        record_mode: str = "once",
        match_on: Sequence[str] = DEFAULT_MATCH_ON,
        filter_headers: Sequence[str | tuple[str, str | None]] = DEFAULT_FILTER_HEADERS,
        filter_query_parameters: Sequence[str | tuple[str, str | None]] = (),
        filter_post_data_parameters: Sequence[str | tuple[str, str | None]] = (),
        before_record_request: RequestHook | None = None,
        before_record_response: ResponseHook | None = None,
    ) -> None:
        if callable(mock_external_urls):
            raise TypeError(
                "aiointercept is a decorator factory: write @aiointercept() (with "
                f"parentheses), not @aiointercept, above {mock_external_urls!r}"
            )
        if not isinstance(mock_external_urls, bool):
            raise TypeError(
                f"mock_external_urls must be a bool, got {mock_external_urls!r}"
            )
        if not isinstance(passthrough_unmatched, bool):
            raise TypeError(
                f"passthrough_unmatched must be a bool, got {passthrough_unmatched!r}"
            )
        self._passthrough_hosts = _check_passthrough(passthrough)
        #: The passthrough entries, as given.
        self.passthrough: tuple[str, ...] = tuple(passthrough or ())
        if not isinstance(block_network, bool):
            raise TypeError(f"block_network must be a bool, got {block_network!r}")
        if (
            self.passthrough or passthrough_unmatched or not block_network
        ) and not mock_external_urls:
            given = (
                "passthrough"
                if self.passthrough
                else "passthrough_unmatched"
                if passthrough_unmatched
                else "block_network=False"
            )
            raise ValueError(f"{given} requires mock_external_urls=True")
        if param is not None and not (isinstance(param, str) and param.isidentifier()):
            raise (ValueError if isinstance(param, str) else TypeError)(
                f"param must be a Python identifier or None, got {param!r}"
            )
        if isinstance(callback_start_timeout, bool) or not isinstance(
            callback_start_timeout, int | float
        ):
            raise TypeError(
                "callback_start_timeout must be a positive number of seconds, "
                f"got {callback_start_timeout!r}"
            )
        if not callback_start_timeout > 0:
            raise ValueError(
                "callback_start_timeout must be a positive number of seconds, "
                f"got {callback_start_timeout!r}"
            )
        self.mock_external_urls = mock_external_urls
        self.passthrough_unmatched = passthrough_unmatched
        self.block_network = block_network
        self.param = param
        self.callback_start_timeout = float(callback_start_timeout)
        for name, value in (
            ("assert_all_called", assert_all_called),
            ("assert_all_matched", assert_all_matched),
        ):
            if value is not None and not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool or None, got {value!r}")
        # as given: None follows the suite's default, resolved at each entry
        self._strict_given = (assert_all_called, assert_all_matched)
        self.assert_all_called, self.assert_all_matched = strictness.resolve(
            *self._strict_given
        )
        self._cassette_options = check_cassette_options(
            cassette,
            record_mode=record_mode,
            match_on=match_on,
            filter_headers=filter_headers,
            filter_query_parameters=filter_query_parameters,
            filter_post_data_parameters=filter_post_data_parameters,
            before_record_request=before_record_request,
            before_record_response=before_record_response,
        )
        if self._cassette_options is not None and not mock_external_urls:
            raise ValueError("cassette requires mock_external_urls=True")
        self._new_state()

    def _new_state(self) -> None:
        """What one instance does not share with another: routes, records and
        the running server (a copy made by the decorator gets its own)."""
        self._dispatcher = Dispatcher(self.callback_start_timeout)
        self._dispatcher.passthrough_unmatched = self.passthrough_unmatched
        self._dispatcher.chain = functools.partial(interception.chain, self._dispatcher)
        self._target: InterceptTarget | None = None
        self._server: AiohttpServer | None = None
        self._server_url: str | None = None
        #: The running block was entered with ``with``, not ``async with``.
        self._sync_block = False
        #: The pytest plugin's own session server (see :meth:`_start_shared`).
        self._shared = False
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # -- lifecycle -------------------------------------------------------------

    @property
    def server_url(self) -> str:
        """Base URL of the mock server, such as ``"http://127.0.0.1:54321"``.

        Set when the block starts; after the block it keeps the last value so
        that recorded requests can still be looked up.
        """
        if self._server_url is None:
            raise RuntimeError(
                "server_url is set when the block starts: use it inside "
                "'async with aiointercept() as m:'"
            )
        return self._server_url

    @property
    def server_host(self) -> str:
        """The host of :attr:`server_url` (``"127.0.0.1"``)."""
        host = URL(self.server_url).host
        assert host is not None  # server_url is always http://127.0.0.1:port
        return host

    @property
    def server_port(self) -> int:
        """The port of :attr:`server_url`."""
        port = URL(self.server_url).port
        assert port is not None
        return port

    async def start(self) -> Self:
        """Start the block, as ``async with`` does on entry: for frameworks with
        their own set-up hook (``IsolatedAsyncioTestCase.asyncSetUp``). Pair it
        with :meth:`stop`."""
        return await self.__aenter__()

    async def stop(self) -> None:
        """End the block started by :meth:`start`, as ``async with`` does on
        exit: the same clean-up, and the errors of callbacks (and the strict
        checks) raised here."""
        __tracebackhide__ = True
        await self.__aexit__(None, None, None)

    def _check_not_running(self) -> None:
        if self._server is not None:
            raise RuntimeError("this aiointercept instance is already running")
        # a new block starts a new journal; the routes stay
        self._dispatcher.forget_requests()
        for where in _server_type().reap_abandoned():
            _warn_abandoned(where)
        self.assert_all_called, self.assert_all_matched = strictness.resolve(
            *self._strict_given
        )

    def _check_running(self, what: str) -> AiohttpServer:
        server = self._server
        if server is None:
            raise RuntimeError(
                f"{what}: this aiointercept instance is not running (it was "
                "never started, or it has already stopped)"
            )
        return server

    def __enter__(self) -> Self:
        """``with aiointercept() as m:``: the same block, for synchronous code
        (a sync pytest fixture or test), whether or not an event loop runs in
        this thread. The server thread serves it. Async callbacks and
        WebSocket handlers need an event loop: register them from async code
        running in this thread while the block is open."""
        self._check_not_running()
        server = _server_type()(self._dispatcher, None, self.mock_external_urls)
        url = server.start_blocking()
        self._server = server
        self._sync_block = True
        self._dispatcher.host = None  # bound to a running loop on first use
        self._server_url = str(url).rstrip("/")
        try:
            self._load_cassette()
            self._intercept()
        except BaseException:
            try:
                server.stop_blocking()
            finally:
                self._server = None
                self._sync_block = False
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True
        server = self._check_running("cannot leave the block")
        if not self._sync_block:
            raise RuntimeError(
                "this aiointercept instance was entered with 'async with' (or "
                "start()): leave it the same way (or with stop())"
            )
        self._sync_block = False
        try:
            self._stop_intercepting()
            self._close_host()
            server.stop_blocking()
        finally:
            self._server = None
        self._report(exc)

    async def __aenter__(self) -> Self:
        self._check_not_running()
        host = Host()
        server = _server_type()(self._dispatcher, host, self.mock_external_urls)
        caller = sys._getframe(1)
        server.entered_at = f"{caller.f_code.co_filename}:{caller.f_lineno}"
        self._dispatcher.host = host
        self._server = server
        try:
            url = await server.start()
        except BaseException:
            self._server = None
            self._dispatcher.host = None
            raise
        self._server_url = self._dispatcher.requests.base_url = str(url).rstrip("/")
        try:
            self._load_cassette()
            self._intercept()
        except BaseException:
            try:
                await server.stop()
            finally:
                self._server = None
                self._dispatcher.host = None
            raise
        # a block never exited is closed when its instance is collected
        self._finalizer = weakref.finalize(self, _collected, server)
        self._finalizer.atexit = False  # the process's end closes everything
        return self

    def _load_cassette(self) -> None:
        options = self._cassette_options
        self._dispatcher.cassette = None if options is None else Cassette(options)

    def _save_cassette(self, exc: BaseException | None) -> None:
        """Write what the block recorded, and report what it could not replay
        (even when the block raised: the client's error is a consequence)."""
        __tracebackhide__ = True
        cassette, self._dispatcher.cassette = self._dispatcher.cassette, None
        if cassette is None:
            return
        cassette.save()
        failure = cassette.failure()
        if failure is not None:
            raise failure from exc

    def _intercept(self) -> None:
        """With ``mock_external_urls=True``, send the requests of every
        supported client here, and guard the rest."""
        server = self._server
        if not self.mock_external_urls or server is None:
            return
        assert server.url is not None
        assert server.url.port is not None
        assert server.https_port is not None
        self._target = InterceptTarget(
            self._dispatcher,
            http_port=server.url.port,
            https_port=server.https_port,
            passthrough=self._passthrough_hosts,
            passthrough_unmatched=self.passthrough_unmatched,
            block_network=self.block_network,
        )
        try:
            interception.activate(self._target)
        except BaseException:
            self._target = None
            raise
        target = self._target
        server.on_abandon = lambda: interception.deactivate(target)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True
        server = self._check_running("cannot leave the block")
        if self._sync_block:
            raise RuntimeError(
                "this aiointercept instance was entered with 'with': leave it the "
                "same way"
            )
        host = self._dispatcher.host
        assert host is not None  # set by __aenter__
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        try:
            self._stop_intercepting()
            try:
                try:
                    # WebSocket handlers see their connection close and return
                    await self._dispatcher.websockets.aclose()
                finally:
                    await host.aclose()
            finally:
                await server.stop()
        finally:
            self._server = None
            self._dispatcher.host = None
        self._report(exc)

    def _stop_intercepting(self) -> None:
        if self._target is not None:
            interception.deactivate(self._target)
            self._target = None

    def _close_host(self) -> None:
        """Refuse new async callbacks, from outside the test's loop."""
        host, self._dispatcher.host = self._dispatcher.host, None
        if host is not None:
            host.close()

    def _report(self, exc: BaseException | None) -> None:
        """Write the cassette down, then raise what went wrong in the block."""
        __tracebackhide__ = True
        try:
            self._save_cassette(exc)
        finally:
            self._raise_failures(exc)

    def _raise_failures(self, exc: BaseException | None) -> None:
        """Raise what went wrong during the block, unless the block raised."""
        __tracebackhide__ = True
        errors = self._dispatcher.take_errors()
        if errors and exc is None:
            first = errors[0]
            if len(errors) > 1:
                others = "\n".join(f"  {error}" for error in errors[1:])
                first.args = (f"{first}\nother callback errors:\n{others}",)
            raise first
        self._check_strict(exc)

    def __call__(
        self, func: Callable[..., Awaitable[R]]
    ) -> Callable[..., Coroutine[Any, Any, R]]:
        """Decorate an async function: each call runs in a fresh block."""
        return _decorate(self, func)

    # -- one server for a whole test session (the pytest plugin) -----------------

    def _start_shared(self) -> None:
        """Start the server outside any event loop; it serves until
        :meth:`_stop_shared`. It also listens for intercepted https, so that any
        test can turn ``mock_external_urls`` on."""
        if self._server is not None:
            raise RuntimeError("this aiointercept instance is already running")
        server = _server_type()(self._dispatcher, None, external=True)
        url = server.start_blocking()
        self._shared = True
        self._server = server
        self._server_url = self._dispatcher.requests.base_url = str(url).rstrip("/")

    def _stop_shared(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop_blocking()

    def _begin_test(self, options: aiointercept) -> None:
        """Serve one test with the configuration of ``options`` (already
        validated by its constructor), starting from no routes and no records."""
        self.mock_external_urls = options.mock_external_urls
        self.passthrough = options.passthrough
        self._passthrough_hosts = options._passthrough_hosts
        self.passthrough_unmatched = options.passthrough_unmatched
        self.block_network = options.block_network
        self.callback_start_timeout = options.callback_start_timeout
        self.assert_all_called = options.assert_all_called
        self.assert_all_matched = options.assert_all_matched
        self._dispatcher.passthrough_unmatched = options.passthrough_unmatched
        self._dispatcher.callback_start_timeout = options.callback_start_timeout
        self._dispatcher.host = None  # bound to the test's loop on first use
        self._cassette_options = options._cassette_options
        self._load_cassette()
        self._intercept()

    def _end_test(self) -> None:
        """Finish a test: stop intercepting, raise what its requests caused, and
        forget its routes and records."""
        __tracebackhide__ = True
        try:
            self._stop_intercepting()
            self._close_host()
            self._report(None)
        finally:
            self._dispatcher.reset()

    def _fresh(self) -> Self:
        """A new instance of the same class and configuration, with no routes,
        no records and no server (for the decorator).

        It is a shallow copy, so a subclass keeps its overrides and the
        attributes its own ``__init__`` set, whatever that ``__init__`` takes.
        """
        fresh = copy.copy(self)
        fresh._new_state()
        return fresh

    def _check_strict(self, exc: BaseException | None) -> None:
        """``assert_all_called`` / ``assert_all_matched``, when the block ends
        without an exception of its own."""
        __tracebackhide__ = True
        if exc is not None:
            return
        unused = []
        if self.assert_all_called:
            with self._dispatcher.lock:
                routes = self._dispatcher.router.routes()
            unused = [self._handle(r) for r in routes if r.call_count == 0]
        unmatched = list(self._dispatcher.unmatched) if self.assert_all_matched else []
        error = strict_failure(unused, unmatched)
        if error is not None:
            raise error

    # -- registration ----------------------------------------------------------

    def add(
        self,
        url: str | URL | re.Pattern[str],
        method: str = "GET",
        status: int = 200,
        body: str | bytes = b"",
        json: Any = None,
        payload: Any = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        content_type: str | None = None,
        repeat: bool | int = False,
        callback: Callable[..., Any] | None = None,
        reason: str | None = None,
        exception: Any = None,
        *,
        match_query: Mapping[str, Any] | None = None,
        match_headers: Mapping[str, str] | None = None,
        match_json: Any = None,
        match_body: str | bytes | None = None,
        match_form: Mapping[str, Any] | None = None,
        match: Callable[[RecordedRequest], bool] | None = None,
        delay: float = 0,
        fault: Fault | str | None = None,
        chunk_delay: float = 0,
        compress: bool | str | None = None,
    ) -> RegisteredRoute:
        """Register a response for ``method`` requests to ``url``.

        See the usage guide for every parameter. Registrations for the same
        method and URL are served in order; each serves once unless ``repeat``
        says otherwise. The ``match_*`` keywords and ``match`` add conditions
        on the query, headers and body (see "Assertions and matching").
        ``delay``, ``fault``, ``chunk_delay`` (with a streamed ``body``) and
        ``compress`` are described in "Faults, streaming and WebSocket".

        Returns a :class:`~aiointercept.RegisteredRoute`: what the route served,
        and assertions scoped to it.
        """
        _check_url_first(url, method)
        method = check_method(method)
        matcher = self._url_matcher(url)
        remaining = check_repeat(repeat)
        if (
            match_query is None
            and match_headers is None
            and match_json is None
            and match_body is None
            and match_form is None
            and match is None
        ):
            matchers: tuple[Any, ...] = ()  # the common case, without a call
        else:
            matchers = build_matchers(
                match_query=match_query,
                match_headers=match_headers,
                match_json=match_json,
                match_body=match_body,
                match_form=match_form,
                match=match,
            )
        ignore_query = match_query is not None and isinstance(matcher, URL)
        if ignore_query and isinstance(matcher, URL) and matcher.query_string:
            raise ValueError(
                f"pass the query either in the url or in match_query, not both: "
                f"{str(matcher)!r} and {match_query!r}"
            )
        delivery_given = fault is not None or chunk_delay != 0 or compress is not None
        source: StaticSource | CloseSource | CallbackSource
        if exception:
            response_given = (
                body not in (b"", "")
                or json is not None
                or payload is not None
                or headers is not None
                or content_type is not None
                or reason is not None
                or status != 200
            )
            if callback is not None or response_given or delivery_given:
                raise TypeError(
                    "exception= closes the connection without a response; it cannot "
                    "be combined with callback=, fault= or with response arguments"
                )
            source = CloseSource(fault_for_exception(exception), check_delay(delay))
        else:
            if callback is not None and (delivery_given or delay != 0):
                raise TypeError(
                    "callback= builds the response from its CallbackResult; pass "
                    "delay, fault, chunk_delay and compress there instead of to "
                    "add() (status, body, json/payload, headers, content_type and "
                    "reason answer when the callback returns None)"
                )
            reply = static_reply(
                status=status,
                body=body,
                json=json,
                payload=payload,
                headers=headers,
                content_type=content_type,
                reason=reason,
                delay=delay,
                fault=fault,
                chunk_delay=chunk_delay,
                compress=compress,
            )
            if callback is not None:
                # aioresponses' meaning: a CallbackResult wins, None gets this
                if isinstance(reply.body, StreamBody):
                    raise TypeError(
                        f"body {reply.body.source!r} streams: with callback=, "
                        "return it in the CallbackResult instead"
                    )
                source = CallbackSource(callback, reply)
                if source.is_async:
                    self._bind_loop()
            else:
                if isinstance(reply.body, StreamBody):
                    if reply.body.one_shot() and remaining != 1:
                        raise ValueError(
                            f"body {reply.body.source!r} can be iterated only once, "
                            f"so it cannot serve repeat={repeat!r}: pass a list, or "
                            "register it once per response"
                        )
                    if reply.body.is_async:
                        self._bind_loop()
                source = StaticSource(reply)
        route = Route(
            method,
            matcher,
            source,
            remaining,
            matchers=matchers,
            ignore_query=ignore_query,
        )
        self._dispatcher.add(route)
        return self._handle(route)

    def _bind_loop(self) -> None:
        """On the shared server, run async callbacks on the loop of the test
        that registers them."""
        if self._server is None or self._dispatcher.host is not None:
            return
        try:
            self._dispatcher.host = Host()
        except RuntimeError:
            raise RuntimeError(
                "an async callback (or WebSocket handler) runs on the test's "
                "event loop: register it from the async test (or an async "
                "fixture), not from sync code"
            ) from None

    def _handle(self, route: Route) -> RegisteredRoute:
        return RegisteredRoute(route, self._dispatcher.journal)

    def _url_matcher(self, url: object) -> URL | re.Pattern[str]:
        if isinstance(url, re.Pattern):
            if not isinstance(url.pattern, str):
                raise TypeError(f"url patterns must be str patterns, got {url!r}")
            return url
        if isinstance(url, str):
            plain = plain_url(
                url, self._server_url if self._server is not None else None
            )
            if plain is not None:  # already canonical: the common case
                return plain
            url = URL(url)
        elif not isinstance(url, URL):
            raise TypeError(
                f"url must be a str, a yarl.URL or a compiled re.Pattern, got {url!r}"
            )
        if not url.absolute:
            if not url.path.startswith("/"):
                raise ValueError(
                    "url must be absolute or a path starting with '/', "
                    f"got {str(url)!r}"
                )
            if self._server is None:
                raise ValueError(
                    f"the relative url {str(url)!r} needs the server's address: "
                    "register it inside the block, or pass an absolute URL"
                )
            url = URL(self.server_url + str(url))
        elif url.scheme not in ("http", "https"):
            raise ValueError(f"url must use http or https, got {str(url)!r}")
        return normalize_url(url)

    def get(self, url: str | URL | re.Pattern[str], **kwargs: Any) -> RegisteredRoute:
        """Register a GET response; keywords as in :meth:`add`."""
        return self.add(url, "GET", **kwargs)

    def post(self, url: str | URL | re.Pattern[str], **kwargs: Any) -> RegisteredRoute:
        """Register a POST response; keywords as in :meth:`add`."""
        return self.add(url, "POST", **kwargs)

    def put(self, url: str | URL | re.Pattern[str], **kwargs: Any) -> RegisteredRoute:
        """Register a PUT response; keywords as in :meth:`add`."""
        return self.add(url, "PUT", **kwargs)

    def patch(self, url: str | URL | re.Pattern[str], **kwargs: Any) -> RegisteredRoute:
        """Register a PATCH response; keywords as in :meth:`add`."""
        return self.add(url, "PATCH", **kwargs)

    def delete(
        self, url: str | URL | re.Pattern[str], **kwargs: Any
    ) -> RegisteredRoute:
        """Register a DELETE response; keywords as in :meth:`add`."""
        return self.add(url, "DELETE", **kwargs)

    def head(self, url: str | URL | re.Pattern[str], **kwargs: Any) -> RegisteredRoute:
        """Register a HEAD response; keywords as in :meth:`add`."""
        return self.add(url, "HEAD", **kwargs)

    def options(
        self, url: str | URL | re.Pattern[str], **kwargs: Any
    ) -> RegisteredRoute:
        """Register an OPTIONS response; keywords as in :meth:`add`."""
        return self.add(url, "OPTIONS", **kwargs)

    def ws(
        self,
        url: str | URL | re.Pattern[str],
        handler: Callable[[WebSocket], Awaitable[object]],
        *,
        repeat: bool | int = False,
    ) -> RegisteredRoute:
        """Register a WebSocket handler for ``url``.

        Each connection the route accepts runs ``await handler(ws)`` on the
        test's event loop, with a :class:`~aiointercept.WebSocket`. A
        ``ws://`` or ``wss://`` URL stands for ``http://`` or ``https://``:
        the upgrade is a GET request, matched and recorded under that URL.
        ``repeat`` counts connections, as in :meth:`add`.
        """
        handler = check_handler(handler)
        matcher = self._url_matcher(http_url(url))
        remaining = check_repeat(repeat)
        route = Route("GET", matcher, WebSocketSource(handler), remaining)
        self._bind_loop()
        self._dispatcher.add(route)
        return self._handle(route)

    # -- inspection --------------------------------------------------------------

    @property
    def requests(self) -> RequestMap:
        """Every request received, keyed by ``(METHOD, normalized yarl.URL)``."""
        return self._dispatcher.requests

    def clear(self) -> None:
        """Drop every registered route, recorded request and unmatched-request
        report; the server stays up."""
        self._dispatcher.clear()

    @property
    def unmatched(self) -> list[UnmatchedRequest]:
        """The requests no route answered, oldest first, each with the closest
        routes and why they did not match."""
        return self._dispatcher.unmatched

    @property
    def call_count(self) -> int:
        """How many requests the server received (those in :attr:`requests`)."""
        return len(self._dispatcher.journal)

    @property
    def last_request(self) -> RecordedRequest | None:
        """The most recently received request, or ``None``."""
        journal = self._dispatcher.journal
        return journal[-1] if journal else None

    @property
    def ordered_requests(self) -> list[tuple[RequestKey, RecordedRequest]]:
        """Every request received, across URLs, in arrival order, as
        ``((METHOD, normalized URL), request)`` pairs (a copy): the keys of
        :attr:`requests`."""
        with self._dispatcher.lock:
            journal = list(self._dispatcher.journal)
        return [(request.key, request) for request in journal]

    @property
    def handlers(
        self,
    ) -> Mapping[tuple[URL | re.Pattern[str], str], tuple[RegisteredRoute, ...]]:
        """The registered routes, read-only: ``(url, METHOD)`` (the normalized
        URL or the compiled pattern) to their handles, in registration order.
        Empty after :meth:`clear`."""
        with self._dispatcher.lock:
            routes = self._dispatcher.router.routes()
        view: dict[tuple[URL | re.Pattern[str], str], list[RegisteredRoute]] = {}
        for route in routes:
            view.setdefault((route.url, route.method), []).append(self._handle(route))
        return MappingProxyType({key: tuple(value) for key, value in view.items()})

    # -- assertions --------------------------------------------------------------

    def assert_called(self) -> None:
        """At least one request was received."""
        __tracebackhide__ = True
        expect_call_count(list(self._dispatcher.journal), MOCK, at_least=1)

    def assert_not_called(self) -> None:
        """No request was received."""
        __tracebackhide__ = True
        expect_call_count(list(self._dispatcher.journal), MOCK, exactly=0)

    def assert_called_once(self) -> None:
        """Exactly one request was received."""
        __tracebackhide__ = True
        expect_call_count(list(self._dispatcher.journal), MOCK, exactly=1)

    def _calls_to(
        self, url: object, method: object, params: object
    ) -> tuple[str, tuple[str, URL], list[RecordedRequest], list[RecordedRequest]]:
        key = expected_key(url, method, params, lambda: self.server_url)
        journal = list(self._dispatcher.journal)
        calls = [request for request in journal if request.key == key]
        return f"{key[0]} {key[1]}", key, calls, journal

    def assert_any_call(
        self,
        url: str | URL,
        method: str = "GET",
        params: Mapping[str, Any] | None = None,
        *,
        data: str | bytes | Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        strict_headers: bool = False,
        **client_options: Any,
    ) -> None:
        """Some request went to ``method`` ``url`` (``params`` added to its
        query); when ``data``, ``json`` or ``headers`` are given, one such
        request also meets them (see :meth:`assert_called_with`)."""
        __tracebackhide__ = True
        ignore_client_keywords("assert_any_call", client_options)
        spec = CallSpec.build(
            data=data, json=json, headers=headers, strict_headers=strict_headers
        )
        subject, key, calls, journal = self._calls_to(url, method, params)
        expect_any_call(
            calls, spec, subject=subject, similar=journal, explain=explain_key(key)
        )

    def assert_called_with(
        self,
        url: str | URL,
        method: str = "GET",
        params: Mapping[str, Any] | None = None,
        data: str | bytes | Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        strict_headers: bool = False,
        **client_options: Any,
    ) -> None:
        """The most recent request to ``method`` ``url`` (``params`` added to
        its query) meets every expectation given.

        ``data`` as ``bytes`` or ``str`` is compared with the raw body, as a
        mapping with a URL-encoded form body; ``json`` with the body parsed as
        JSON; ``headers`` must all be present with these values (names are
        case-insensitive), and with ``strict_headers=True`` no other header
        may be present. Arguments left at ``None``, or given as
        :data:`unittest.mock.ANY`, are not checked. A relative ``url`` such as
        ``"/users"`` means ``server_url + "/users"``. Options of the client
        rather than of the request (``ssl=``, ``timeout=``,
        ``allow_redirects=``...), which aioresponses-era tests pass, are
        ignored with a :exc:`DeprecationWarning` that names them.
        """
        __tracebackhide__ = True
        ignore_client_keywords("assert_called_with", client_options)
        spec = CallSpec.build(
            data=data, json=json, headers=headers, strict_headers=strict_headers
        )
        subject, key, calls, journal = self._calls_to(url, method, params)
        expect_called_with(
            calls,
            spec,
            subject=subject,
            once=False,
            similar=journal,
            explain=explain_key(key),
        )

    def assert_called_once_with(
        self,
        url: str | URL,
        method: str = "GET",
        params: Mapping[str, Any] | None = None,
        data: str | bytes | Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        strict_headers: bool = False,
        **client_options: Any,
    ) -> None:
        """Exactly one request went to ``method`` ``url``, and it meets every
        expectation given (see :meth:`assert_called_with`)."""
        __tracebackhide__ = True
        ignore_client_keywords("assert_called_once_with", client_options)
        spec = CallSpec.build(
            data=data, json=json, headers=headers, strict_headers=strict_headers
        )
        subject, key, calls, journal = self._calls_to(url, method, params)
        expect_called_with(
            calls,
            spec,
            subject=subject,
            once=True,
            similar=journal,
            explain=explain_key(key),
        )


def _server_type() -> type[AiohttpServer]:
    """The block's server, imported when the first block starts: importing
    aiointercept (and its pytest plugin) does not import aiohttp."""
    global _SERVER_TYPE
    if _SERVER_TYPE is None:
        from ._server.block_server import AiohttpServer

        _SERVER_TYPE = AiohttpServer
    return _SERVER_TYPE


_SERVER_TYPE: type[AiohttpServer] | None = None


def _collected(server: AiohttpServer) -> None:
    """An instance collected inside its block: close its server."""
    if server.abandon():
        _warn_abandoned(server.entered_at)


def _warn_abandoned(where: str) -> None:
    warnings.warn(
        f"the aiointercept block entered at {where} was never exited (its "
        "instance was dropped, or its event loop closed, inside the block); "
        "aiointercept closed its server",
        ResourceWarning,
        stacklevel=2,
    )


def _check_url_first(url: object, method: object) -> None:
    """``m.add("POST", "/x")``: the arguments in the order of other libraries."""
    if (
        isinstance(url, str)
        and isinstance(method, str)
        and url.isalpha()
        and (method.startswith("/") or "://" in method)
    ):
        raise ValueError(
            f"add() takes the URL first, then the method: write "
            f"m.add({method!r}, {url!r}), got m.add({url!r}, {method!r})"
        )


def _check_passthrough(passthrough: object) -> tuple[PassthroughHost, ...]:
    if passthrough is None:
        return ()
    if isinstance(passthrough, str | bytes) or not isinstance(passthrough, Iterable):
        raise TypeError(
            f"passthrough must be a list of hosts such as 'https://api.example.com', "
            f"got {passthrough!r}"
        )
    checked = []
    for item in passthrough:
        if not isinstance(item, str):
            raise TypeError(f"passthrough entries must be str, got {item!r}")
        checked.append(PassthroughHost.parse(item))
    return tuple(checked)


def _decorate(
    template: aiointercept, func: Callable[..., Awaitable[R]]
) -> Callable[..., Coroutine[Any, Any, R]]:
    if not inspect.iscoroutinefunction(func):
        raise TypeError(
            f"@aiointercept decorates async functions, got {func!r}; in "
            "synchronous code use 'with aiointercept() as m:'"
        )
    signature = inspect.signature(func)
    parameters = list(signature.parameters.values())
    name = template.param
    if name is not None:
        injected = signature.parameters.get(name)
        if injected is None and not any(p.kind is p.VAR_KEYWORD for p in parameters):
            raise TypeError(f"{func.__qualname__}() has no parameter named {name!r}")
        if injected is not None and injected.kind is injected.POSITIONAL_ONLY:
            raise TypeError(
                f"param={name!r} names a positional-only parameter of "
                f"{func.__qualname__}()"
            )
        visible = [p for p in parameters if p.name != name]
    else:
        positional = [
            p
            for p in parameters
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if not positional:
            raise TypeError(
                f"{func.__qualname__}() has no positional parameter to receive the "
                "aiointercept instance; add one, or name one with param="
            )
        injected = positional[-1]
        visible = [p for p in parameters if p is not injected]
    visible_signature = signature.replace(parameters=visible)
    target = injected.name if injected is not None else None
    var_keyword = next((p.name for p in parameters if p.kind is p.VAR_KEYWORD), "")

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> R:
        bound = visible_signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        async with template._fresh() as mock:
            if target is not None:
                arguments[target] = mock
            else:  # param= names no parameter: pass it through **kwargs
                arguments[var_keyword] = {**arguments[var_keyword], name: mock}
            call = inspect.BoundArguments(
                signature,
                OrderedDict(
                    (p, arguments[p]) for p in signature.parameters if p in arguments
                ),
            )
            return await func(*call.args, **call.kwargs)

    wrapper.__signature__ = visible_signature  # type: ignore[attr-defined]
    return wrapper
