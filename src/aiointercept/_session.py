"""One server for a whole test session, configured test by test: the
interface the pytest plugin is built on.

A :class:`SharedSession` starts an ``aiointercept`` instance's server outside
any event loop, so that synchronous fixtures and every async harness can use
it, and then serves one test after another::

    session = SharedSession()
    mock = session.open()            # serving until close()
    session.begin_test(options)      # the next test's configuration
    ...                              # the test registers routes on mock
    session.end_test()               # its failures raised, its state dropped
    session.close()

``options`` is the checked configuration (``mock_external_urls``,
passthrough, strictness, cassette) that the test gets: what an
``aiointercept(...)`` instance holds, or :func:`default_options`. Async callbacks run on
the loop of the test that registers them. :func:`finish_test` ends a test on
an instance that no session serves (a project's own ``aiointercept_server``
fixture, as aiointercept 1.0.0 documented it).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ._block import server_type
from ._settings import strictness

if TYPE_CHECKING:
    from ._mock import aiointercept
    from ._options import Options

__all__ = ["SharedSession", "default_options", "finish_test"]


@functools.cache
def default_options() -> Options:
    """What ``aiointercept()`` holds, checked once: a test without a marker
    gets it (building an instance per test would cost more than the rest of
    the test's set-up)."""
    from ._mock import aiointercept

    return aiointercept()._options


class SharedSession:
    """An ``aiointercept`` instance served for a whole test session."""

    def __init__(self, mock: aiointercept | None = None) -> None:
        if mock is None:
            from ._mock import aiointercept

            mock = aiointercept()
        #: The instance the tests use.
        self.mock = mock

    @classmethod
    def of(cls, mock: object) -> SharedSession | None:
        """The session that serves ``mock``, or ``None``."""
        session = getattr(mock, "_session", None)
        return session if isinstance(session, SharedSession) else None

    def open(self) -> aiointercept:
        """Start the server outside any event loop; it serves until
        :meth:`close`. It also listens for intercepted https, so that any test
        can turn ``mock_external_urls`` on."""
        mock = self.mock
        if mock._server is not None:
            raise RuntimeError("this aiointercept instance is already running")
        dispatcher = mock._dispatcher
        server = server_type()(dispatcher, None, external=True, tls=mock._tls_hosts)
        url = server.start_blocking()
        mock._session = self
        mock._server = server
        mock._check_reach()
        mock._server_url = dispatcher.journal.requests.base_url = str(url).rstrip("/")
        return mock

    def close(self) -> None:
        """Stop the server."""
        mock = self.mock
        server, mock._server = mock._server, None
        if server is not None:
            server.stop_blocking()

    def begin_test(self, options: Options) -> None:
        """Serve the next test with the configuration of ``options``, starting
        from no routes and no records; strictness left unset follows the
        suite's default, as at the test's start."""
        mock = self.mock
        mock._options = options
        mock.mock_external_urls = options.mock_external_urls
        mock.passthrough = options.passthrough
        mock.passthrough_unmatched = options.passthrough_unmatched
        mock.block_network = options.block_network
        mock.callback_start_timeout = options.callback_start_timeout
        mock.assert_all_called, mock.assert_all_matched = strictness.resolve(
            *options.strict
        )
        dispatcher = mock._dispatcher
        dispatcher.passthrough_unmatched = options.passthrough_unmatched
        dispatcher.callback_start_timeout = options.callback_start_timeout
        dispatcher.test_loop = None  # bound to the test's loop on first use
        mock._load_cassette()
        mock._intercept()
        mock._check_reach()

    def end_test(self, failed: bool = False) -> None:
        """Finish a test: stop intercepting, write its cassette (unless it
        ``failed`` and its cassette is not recorded on exceptions), raise
        what its requests caused, and forget its routes and records."""
        __tracebackhide__ = True
        mock = self.mock
        try:
            mock._stop_intercepting()
            mock._check_reach()  # until the next test: its own address only
            mock._close_test_loop()
            mock._report(None, failed=failed)
        finally:
            mock._dispatcher.reset()
            mock._tls_hosts.clear()


def finish_test(mock: aiointercept) -> None:
    """Finish a test on an instance that no session serves: raise what its
    requests caused, and forget its routes and records."""
    __tracebackhide__ = True
    try:
        mock._raise_failures(None)
    finally:
        mock.clear()
