"""Exceptions raised by aiointercept."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._core.diagnostics import UnmatchedRequest
    from ._core.handles import RegisteredRoute
    from ._core.request import RecordedRequest

__all__ = [
    "AiointerceptError",
    "CallbackError",
    "CassetteError",
    "NetworkBlockedError",
    "StrictCheckError",
    "UnreachableRouteWarning",
]


class AiointerceptError(Exception):
    """Base class of the errors raised by aiointercept itself."""


class CallbackError(AiointerceptError):
    """A response callback or a ``match=`` predicate failed while the block was
    running.

    A failed response callback answers its request with a ``500`` that
    describes the failure; a predicate that raised counts as "does not match".
    This error is raised when the block exits (unless the block already
    raised), so the failure is not lost. The original exception is the
    ``__cause__``; when several callbacks failed, the first is raised and the
    others are listed in its message.
    """

    def __init__(self, message: str, request: RecordedRequest) -> None:
        super().__init__(message)
        #: The recorded request whose callback failed.
        self.request = request


class StrictCheckError(AiointerceptError, AssertionError):
    """Raised when a block exits with routes never called
    (``assert_all_called=True``) or requests that matched no route
    (``assert_all_matched=True``).

    It is an :class:`AssertionError`, so test runners report it as a failed
    test. It is not raised when the block itself raised.
    """

    def __init__(
        self,
        message: str,
        unused_routes: tuple[RegisteredRoute, ...],
        unmatched: tuple[UnmatchedRequest, ...],
    ) -> None:
        super().__init__(message)
        #: The routes that served no request (with ``assert_all_called=True``).
        self.unused_routes = unused_routes
        #: The requests that matched no route (with ``assert_all_matched=True``).
        self.unmatched = unmatched


class NetworkBlockedError(AiointerceptError, ConnectionRefusedError):
    """A connection outside this machine was stopped inside a
    ``mock_external_urls=True`` block.

    Raised where the connection is opened (``socket.connect``), so the client
    that opened it fails as it would on a refused connection; the message
    names the host and says how to let it through (``passthrough``,
    ``passthrough_unmatched`` or ``block_network=False``).
    """

    def __init__(self, message: str, host: str, port: int) -> None:
        super().__init__(errno.ECONNREFUSED, message)
        #: The host name, when it is known, else the address.
        self.host = host
        #: The port the connection was for.
        self.port = port

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.strerror, self.host, self.port))


class CassetteError(AiointerceptError, AssertionError):
    """A cassette could not be read or written, or a request had no recorded
    interaction where the record mode allows no new ones.

    A cassette that cannot be read is reported when the block starts; missing
    interactions when the block exits (the client got a transport error at
    once). It is an :class:`AssertionError`, so test runners report it as a
    failed test.
    """


class UnreachableRouteWarning(UserWarning):
    """A route that no request can reach was registered.

    In the default mode (``mock_external_urls=False``) a block receives only
    the requests sent to its own address, :attr:`aiointercept.server_url`: a
    route for any other host (``m.get("https://api.github.com/user")``) can
    never be served, and the request the code under test sends there goes to
    the real host. The warning is given when such a route is registered in a
    running block, or, for routes registered before the block, when it
    starts; the message names the host and the fix. Under the pytest
    plugin's suite-wide strict switch (``--aiointercept-strict``) these two
    are raised as an exception instead: by the registration, which then
    registers nothing, or by the block's entry.

    It is also given when an instance is dropped with routes registered
    outside a block that no block followed, since those routes never served:
    the message names where the first of them was registered.
    """
