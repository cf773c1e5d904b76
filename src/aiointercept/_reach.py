"""Routes that no request can reach, reported rather than kept in silence.

A default-mode block (``mock_external_urls=False``) receives only what is sent
to its own address. A route for another address is reported when it is
registered in such a block (:func:`unreachable_route`), and the routes
registered outside a block when the next block starts
(:meth:`OutsideRoutes.take`, :func:`unreachable_before`); under the suite-wide
strict switch both are raised rather than warned (:func:`report_unreachable`).
Routes registered outside a block that no block follows are reported when
their instance is dropped (:class:`OutsideRoutes`). All of these are an
:class:`~aiointercept.UnreachableRouteWarning`.

Nothing here runs on the way of a registration inside a block whose routes
are reachable: :class:`._core.registration.Registry` calls in only for a route
to report, and for a route registered outside a block.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
import weakref
from typing import TYPE_CHECKING, Any

from ._core.registration import reachable
from ._errors import UnreachableRouteWarning
from ._settings import strictness

if TYPE_CHECKING:
    from types import FrameType

    from yarl import URL

__all__ = [
    "OutsideRoutes",
    "report_unreachable",
    "unreachable_before",
    "unreachable_route",
    "user_place",
]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep

#: How many routes a report lists by name.
_LISTED = 5

#: A route as reports name it: its method, and its URL or pattern.
RouteName = tuple[str, "URL | re.Pattern[str]"]


class OutsideRoutes:
    """The routes of one instance registered outside a block since the last
    block started (:attr:`routes`, which registration appends to): checked
    when the next one starts (:meth:`take`), and reported if the instance is
    dropped before that (:meth:`watch`).

    Only the method and URL of each are kept, so that nothing here (a
    callback, say) keeps the instance alive.
    """

    def __init__(self) -> None:
        #: ``(METHOD, url)`` of each route; always the same list.
        self.routes: list[RouteName] = []
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def watch(self, owner: object) -> None:
        """``owner``, whose routes these are, is about to register the first
        of them, where the user's code calls: report them if it is dropped
        before a block starts."""
        if self._finalizer is None:
            filename, lineno = user_frame()
            self._finalizer = weakref.finalize(
                owner, _dropped, self.routes, filename, lineno
            )
            # an instance kept to the end of the process was not dropped
            self._finalizer.atexit = False

    def take(self, prefix: str | None) -> list[RouteName]:
        """A block starts: those of the routes that its address, ``prefix``
        (``None`` when any can be reached), cannot receive; forget the rest."""
        if self._finalizer is None:
            return []
        self._finalizer.detach()
        self._finalizer = None
        routes = self.routes[:]
        self.routes.clear()
        if prefix is None:
            return []
        return [
            (method, url)
            for method, url in routes
            if not isinstance(url, re.Pattern) and not reachable(url, prefix)
        ]

    def clear(self) -> None:
        """The routes have been dropped (``clear()``)."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self.routes.clear()


def unreachable_route(method: str, url: URL, server_url: str, *, fixture: bool) -> str:
    """Why the route ``method`` ``url``, registered in a default-mode block
    that listens at ``server_url``, can never be served, and the fix."""
    origin = f"{url.scheme}://{url.raw_authority}"
    own = f"m.server_url ({server_url})"
    if url.port is not None and url.port == _port(server_url):
        return (
            f"the route {method} {url} can never be served: this block records "
            f"each request under its own address, {own}, so a route for "
            f"{origin} never matches; register it under m.server_url"
        )
    return (
        f"the route {method} {url} can never be served: without "
        "mock_external_urls=True this block receives only the requests sent to "
        f"its own address, {own}, so a request to {origin} goes to that host, "
        f"not to the mock. To intercept {url.host}, pass {_switch(fixture)}; "
        "or register the route under m.server_url and send the request there; "
        "or, for a program outside the process, send it through m.proxy_url "
        "(asked for before registering)"
    )


def unreachable_before(
    routes: list[RouteName], server_url: str, *, fixture: bool
) -> str:
    """Why ``routes``, registered before a default-mode block started at
    ``server_url``, can never be served, and the fix."""
    return (
        f"{_count(routes)} registered before this block started can never be "
        f"served: {_listed(routes)}. Without mock_external_urls=True a block "
        "receives only the requests sent to its own address, m.server_url "
        f"({server_url}), which is new in each block, so a request to any other "
        f"address never reaches the mock. To intercept those hosts, pass "
        f"{_switch(fixture)}; or register the routes inside the block, under "
        "m.server_url"
    )


def report_unreachable(message: str) -> None:
    """Warn with ``message`` where the user's code called aiointercept, or,
    under the suite-wide strict switch, raise it."""
    __tracebackhide__ = True
    if strictness.unreachable_route_error:
        raise UnreachableRouteWarning(message)
    warnings.warn(message, UnreachableRouteWarning, stacklevel=_user_level())


def _dropped(routes: list[RouteName], filename: str, lineno: int) -> None:
    """An instance is dropped with ``routes`` registered outside a block: the
    warning points at the first of them (the instance is collected wherever
    the program is then)."""
    if not routes:  # cleared since
        return
    warnings.warn_explicit(
        f"an aiointercept instance was dropped with {_count(routes)} that never "
        f"served: {_listed(routes)}, registered outside a block (the first at "
        f"{filename}:{lineno}) with no block entered after them. Register "
        "routes inside 'async with aiointercept() as m:' (or 'with'), or enter "
        "the instance (async with, with, or start()) after registering them",
        UnreachableRouteWarning,
        filename,
        lineno,
    )


def user_place() -> str:
    """``file:line`` of the innermost caller outside aiointercept."""
    filename, lineno = user_frame()
    return f"{filename}:{lineno}"


def user_frame() -> tuple[str, int]:
    """The file and line of the innermost caller outside aiointercept."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return "<unknown>", 0
    return frame.f_code.co_filename, frame.f_lineno


def _user_level() -> int:
    """The ``stacklevel`` that makes a warning given by the caller of this
    function point at the innermost caller outside aiointercept."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level


def _count(routes: list[RouteName]) -> str:
    return "1 route" if len(routes) == 1 else f"{len(routes)} routes"


def _listed(routes: list[RouteName]) -> str:
    listed = ", ".join(
        f"{method} {url.pattern if isinstance(url, re.Pattern) else url}"
        for method, url in routes[:_LISTED]
    )
    if len(routes) > _LISTED:
        listed += f" and {len(routes) - _LISTED} more"
    return listed


def _port(server_url: str) -> int | None:
    port = server_url.rpartition(":")[2]
    return int(port) if port.isdigit() else None


def _switch(fixture: bool) -> str:
    if fixture:
        return "@pytest.mark.aiointercept(mock_external_urls=True) to the test"
    return "mock_external_urls=True to aiointercept()"
