"""A block's lifecycle: entered and left with ``async with``, ``with`` or
``start()``/``stop()``; what goes wrong inside raised at its exit; blocks
never exited closed and reported.

Everything a block installs (its server, the interception, its cassette) is
set up here on entry and removed here on exit, exception or cancellation.
The server is imported when the first block starts, so that importing
aiointercept (and its pytest plugin) does not import aiohttp.
"""

from __future__ import annotations

import copy
import functools
import warnings
import weakref
from types import TracebackType
from typing import TYPE_CHECKING, Any

from yarl import URL

from ._adapters import InterceptTarget, interception
from ._address import ServerAddress
from ._cassette.cassette import CassetteRun
from ._cassette.view import Cassette
from ._children import ChildFiles
from ._core.diagnostics import strict_failure
from ._core.dispatch import Dispatcher
from ._core.handles import RegisteredRoute
from ._core.urls import known_base
from ._reach import (
    OutsideRoutes,
    report_unreachable,
    unreachable_before,
    unreachable_route,
    user_place,
)
from ._server.test_loop import TestLoopHandle
from ._settings import strictness

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._options import Options
    from ._server.block_server import BlockServer
    from ._tls import TlsSettings

__all__ = ["BlockLifecycle"]


class BlockLifecycle:
    """The running part of an ``aiointercept`` instance: its server, its
    interception and its cassette, from entry to exit."""

    _options: Options
    param: str | None
    mock_external_urls: bool
    passthrough_unmatched: bool
    block_network: bool
    callback_start_timeout: float
    assert_all_called: bool
    assert_all_matched: bool

    def _new_state(self) -> None:
        """What one instance does not share with another: routes, records and
        the running server (a copy made by the decorator gets its own)."""
        self._dispatcher = Dispatcher(self.callback_start_timeout, RegisteredRoute)
        self._dispatcher.passthrough_unmatched = self.passthrough_unmatched
        self._dispatcher.chain = functools.partial(interception.chain, self._dispatcher)
        self._target: InterceptTarget | None = None
        #: What ``tls()`` set, by (host, port or ``None``).
        self._tls_hosts: dict[tuple[str, int | None], TlsSettings] = {}
        self._cassette: CassetteRun | None = None
        #: What users read of the cassette of the last entry (``m.cassette``).
        self._cassette_view: Cassette | None = None
        self._server: BlockServer | None = None
        self._server_url: str | None = None
        #: The running block was entered with ``with``, not ``async with``.
        self._sync_block = False
        #: The pytest plugin's session that serves this instance, if any (see
        #: :meth:`._session.SharedSession.of`).
        self._session: object | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        #: See :attr:`._core.registration.Registry._reachable_prefixes`.
        self._reachable_prefixes: tuple[str, str] | None = None
        #: Whether the running block's proxy address was asked for: routes
        #: for any host can then be reached.
        self._proxied = False
        #: The trust files of ``proxy_env()``, removed when the block ends.
        self._child_files = ChildFiles()
        #: The routes registered outside a block since the last one started.
        self._outside = OutsideRoutes()
        self._outside_block = self._outside.routes

    def _fresh(self) -> Self:
        """A new instance of the same class and configuration, with no routes,
        no records and no server (for the decorator).

        It is a shallow copy, so a subclass keeps its overrides and the
        attributes its own ``__init__`` set, whatever that ``__init__`` takes.
        """
        fresh = copy.copy(self)
        fresh._new_state()
        return fresh

    def _handle(self, route: Any) -> RegisteredRoute:
        return RegisteredRoute(route, self._dispatcher.journal.order)

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
    def server(self) -> ServerAddress | None:
        """Where the running block's server listens (its host, port and URL),
        or ``None`` when no block runs: before the block starts, and once it
        has ended (unlike :attr:`server_url`, which keeps its last value)."""
        if self._server is None or self._server_url is None:
            return None
        url = URL(self._server_url)
        assert url.host is not None  # server_url is always http://127.0.0.1:port
        assert url.port is not None
        return ServerAddress(url.host, url.port)

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
        for where in server_type().reap_abandoned():
            _warn_abandoned(where)
        self.assert_all_called, self.assert_all_matched = strictness.resolve(
            *self._options.strict
        )

    def _check_running(self, what: str) -> BlockServer:
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
        server = server_type()(
            self._dispatcher, None, self.mock_external_urls, self._tls_hosts
        )
        server.entered_at = user_place()
        url = server.start_blocking()
        self._server = server
        self._sync_block = True
        self._dispatcher.test_loop = None  # bound to a running loop on first use
        self._server_url = str(url).rstrip("/")
        known_base(self._server_url, url)
        try:
            self._load_cassette()
            self._intercept()
            self._check_reach()
        except BaseException:
            self._reachable_prefixes = None
            try:
                server.stop_blocking()
            finally:
                self._server = None
                self._sync_block = False
            raise
        # a block never exited is closed when its instance is collected
        self._finalizer = weakref.finalize(self, _collected, server)
        self._finalizer.atexit = False  # the process's end closes everything
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
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        try:
            self._stop_intercepting()
            self._close_test_loop()
            server.stop_blocking()
        finally:
            self._server = None
        self._report(exc)

    async def __aenter__(self) -> Self:
        self._check_not_running()
        test_loop = TestLoopHandle()
        server = server_type()(
            self._dispatcher, test_loop, self.mock_external_urls, self._tls_hosts
        )
        server.entered_at = user_place()
        self._dispatcher.test_loop = test_loop
        self._server = server
        try:
            url = await server.start()
        except BaseException:
            self._server = None
            self._dispatcher.test_loop = None
            raise
        self._server_url = self._dispatcher.journal.requests.base_url = str(url).rstrip(
            "/"
        )
        known_base(self._server_url, url)
        try:
            self._load_cassette()
            self._intercept()
            self._check_reach()
        except BaseException:
            self._reachable_prefixes = None
            try:
                await server.stop()
            finally:
                self._server = None
                self._dispatcher.test_loop = None
            raise
        # a block never exited is closed when its instance is collected
        self._finalizer = weakref.finalize(self, _collected, server)
        self._finalizer.atexit = False  # the process's end closes everything
        return self

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
        test_loop = self._dispatcher.test_loop
        assert test_loop is not None  # set by __aenter__
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
                    await test_loop.aclose()
            finally:
                await server.stop()
        finally:
            self._server = None
            self._dispatcher.test_loop = None
        self._report(exc)

    def _load_cassette(self) -> None:
        options = self._options.cassette
        self._cassette = None if options is None else CassetteRun(options)
        self._cassette_view = None if self._cassette is None else self._cassette.view
        self._dispatcher.cassette = self._cassette

    def _save_cassette(self, exc: BaseException | None, failed: bool) -> None:
        """Write what the block recorded (unless it ``failed`` and the
        cassette is not recorded on exceptions), and report what it could not
        replay (even when the block raised: the client's error is a
        consequence)."""
        __tracebackhide__ = True
        cassette, self._cassette = self._cassette, None
        self._dispatcher.cassette = None
        if cassette is None:
            return
        if not failed or cassette.options.record_on_exception:
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
        self._target = InterceptTarget(
            self._dispatcher,
            port=server.url.port,
            passthrough=self._options.passthrough_hosts,
            passthrough_unmatched=self.passthrough_unmatched,
            block_network=self.block_network,
            tls=self._tls_hosts,
        )
        try:
            interception.activate(self._target)
        except BaseException:
            self._target = None
            raise
        target = self._target
        server.on_abandon = lambda: interception.deactivate(target)

    def _check_reach(self) -> None:
        """A block starts (after :meth:`_intercept`), or the shared session
        is between tests: unless it intercepts, report the routes registered
        before it for another address than its own, and from now on each such
        route as it is registered."""
        __tracebackhide__ = True
        server_url = self._server_url
        prefix = None
        if self._target is None and server_url is not None and not self._proxied:
            prefix = server_url + "/"
        self._reachable_prefixes = None if prefix is None else (prefix, "/")
        earlier = self._outside.take(prefix)
        if earlier:
            assert server_url is not None
            report_unreachable(
                unreachable_before(
                    earlier, server_url, fixture=self._session is not None
                )
            )

    def _unreachable(self, method: str, url: URL) -> None:
        __tracebackhide__ = True
        assert self._server_url is not None  # only inside a block
        report_unreachable(
            unreachable_route(
                method, url, self._server_url, fixture=self._session is not None
            )
        )

    def _watch_outside_block(self) -> None:
        self._outside.watch(self)

    def _use_proxy(self) -> None:
        """A program outside the process may send requests for any host
        through the block's proxy: no route is unreachable any more."""
        self._proxied = True
        self._reachable_prefixes = None

    def _stop_intercepting(self) -> None:
        self._reachable_prefixes = None
        self._proxied = False
        self._child_files.remove()
        if self._target is not None:
            interception.deactivate(self._target)
            self._target = None

    def _close_test_loop(self) -> None:
        """Refuse new async callbacks, from outside the test's loop."""
        test_loop, self._dispatcher.test_loop = self._dispatcher.test_loop, None
        if test_loop is not None:
            test_loop.close()

    def _report(self, exc: BaseException | None, *, failed: bool | None = None) -> None:
        """Write the cassette down, then raise what went wrong in the block.
        ``failed``: whether the code the block served failed (by default,
        whether the block exits with ``exc``)."""
        __tracebackhide__ = True
        try:
            self._save_cassette(exc, exc is not None if failed is None else failed)
        finally:
            self._raise_failures(exc)

    def _raise_failures(self, exc: BaseException | None) -> None:
        """Raise what went wrong during the block, unless the block raised."""
        __tracebackhide__ = True
        errors = self._dispatcher.journal.take_errors()
        if errors and exc is None:
            first = errors[0]
            if len(errors) > 1:
                others = "\n".join(f"  {error}" for error in errors[1:])
                first.args = (f"{first}\nother callback errors:\n{others}",)
            raise first
        self._check_strict(exc)

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
        unmatched = (
            list(self._dispatcher.journal.unmatched) if self.assert_all_matched else []
        )
        error = strict_failure(unused, unmatched)
        if error is not None:
            raise error

    def _base_url(self) -> str | None:
        return self._server_url if self._server is not None else None

    def _bind_loop(self) -> None:
        """On the shared server, run async callbacks on the loop of the test
        that registers them."""
        if self._server is None or self._dispatcher.test_loop is not None:
            return
        try:
            self._dispatcher.test_loop = TestLoopHandle()
        except RuntimeError:
            raise RuntimeError(
                "an async callback (or WebSocket handler) runs on the test's "
                "event loop: register it from the async test (or an async "
                "fixture), not from sync code"
            ) from None


def server_type() -> type[BlockServer]:
    """The block's server, imported when the first block starts: importing
    aiointercept (and its pytest plugin) does not import aiohttp."""
    global _SERVER_TYPE
    if _SERVER_TYPE is None:
        from ._server.block_server import BlockServer

        _SERVER_TYPE = BlockServer
    return _SERVER_TYPE


_SERVER_TYPE: type[BlockServer] | None = None


def _collected(server: BlockServer) -> None:
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
