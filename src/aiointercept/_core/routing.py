"""Routes and the router: which registration answers a request.

A route is a method, a URL matcher (one exact normalized URL, or a compiled
regular expression), optional matchers on the query, headers and body, and a
response source with a remaining count. Exact routes are found with a
dictionary lookup, so lookup time does not grow with their number; pattern
routes are tried in registration order. When several routes match, the one
registered first that still has responses left and whose matchers all pass
wins.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from yarl import URL

from .matchers import Matcher, PredicateError
from .mismatch import Mismatch, method_mismatches, url_mismatches
from .responses import TOKEN, Fault, Reply

if TYPE_CHECKING:
    from .request import RecordedRequest

__all__ = [
    "CallbackSource",
    "CloseSource",
    "Route",
    "Router",
    "StaticSource",
    "WebSocketSource",
]


@dataclass(frozen=True, slots=True)
class StaticSource:
    """A fixed response, built once at registration."""

    reply: Reply


@dataclass(frozen=True, slots=True)
class CloseSource:
    """A fault instead of a response (``exception=``): by default the
    connection is closed."""

    fault: Fault
    delay: float = 0.0

    def reply(self) -> Reply:
        return Reply(200, None, (), b"", delay=self.delay, fault=self.fault)


@dataclass(frozen=True, slots=True)
class CallbackSource:
    """A user callback; async callbacks run on the test's event loop."""

    callback: Callable[..., Any]
    #: The response for a callback that returns ``None``.
    fallback: Reply = field(default_factory=lambda: Reply(200, None, (), b""))
    is_async: bool = field(init=False)
    #: Keyword names the callback accepts; ``None`` when it takes ``**kwargs``.
    keywords: frozenset[str] | None = field(init=False)

    def __post_init__(self) -> None:
        func = self.callback
        if not callable(func):
            raise TypeError(f"callback must be callable, got {func!r}")
        is_async = inspect.iscoroutinefunction(func) or (
            not inspect.isroutine(func)
            and inspect.iscoroutinefunction(getattr(func, "__call__", None))  # noqa: B004
        )
        object.__setattr__(self, "is_async", is_async)
        object.__setattr__(self, "keywords", _keywords(func))
        _check_callable_as_callback(func, self.keywords)

    def arguments(self, request: RecordedRequest) -> dict[str, Any]:
        """The keyword arguments for this callback: ``method``, ``request`` and
        the request's ``kwargs``, limited to those it accepts."""
        kwargs = {"method": request.method, "request": request, **request.kwargs}
        if self.keywords is None:
            return kwargs
        return {k: v for k, v in kwargs.items() if k in self.keywords}


#: The keyword arguments a callback may receive, besides the URL.
CALLBACK_KEYWORDS = ("method", "request", "headers", "query", "json", "data")


def _check_callable_as_callback(
    func: Callable[..., Any], keywords: frozenset[str] | None
) -> None:
    """Reject a callback that ``callback(url, **kwargs)`` cannot call (found
    at registration, instead of as a 500 for every request)."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # no signature available: cannot tell
        return
    offered = {
        name: None for name in CALLBACK_KEYWORDS if keywords is None or name in keywords
    }
    try:
        signature.bind(None, **offered)
    except TypeError as exc:
        name = getattr(func, "__qualname__", None) or repr(func)
        raise TypeError(
            f"callback {name}{signature} cannot be called as callback(url, "
            f"**kwargs) ({exc}); expected a signature such as "
            "'def callback(url, **kwargs)' or 'def callback(url, method, json)': "
            "the URL as the one positional argument, and keywords among "
            f"{', '.join(CALLBACK_KEYWORDS)}"
        ) from None


def _keywords(func: Callable[..., Any]) -> frozenset[str] | None:
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # no signature available: pass everything
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(
        p.name
        for p in parameters
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    )


@dataclass(frozen=True, slots=True)
class WebSocketSource:
    """A WebSocket handler (``m.ws()``), run on the test's event loop."""

    handler: Callable[..., Any]


ResponseSource: TypeAlias = (
    StaticSource | CloseSource | CallbackSource | WebSocketSource
)


@dataclass(slots=True, eq=False)
class Route:
    """One registration: what it matches, what it answers and how often."""

    method: str
    url: URL | re.Pattern[str]
    source: ResponseSource
    #: Responses left to serve; ``None`` serves forever.
    remaining: int | None
    #: Registration order, used to break ties between exact and pattern routes.
    order: int = 0
    #: Requests served so far.
    call_count: int = 0
    #: Conditions beyond method and URL; user predicates come last.
    matchers: tuple[Matcher, ...] = ()
    #: The URL is compared without its query (the query has a matcher).
    ignore_query: bool = False
    #: The requests this route served, in order.
    calls: list[RecordedRequest] = field(default_factory=list)

    def describe(self) -> str:
        target = self.url.pattern if isinstance(self.url, re.Pattern) else self.url
        left = "unlimited" if self.remaining is None else f"{self.remaining} left"
        conditions = "".join(f", {matcher.describe()}" for matcher in self.matchers)
        return f"{self.method} {target!s} ({left}){conditions}"

    def accepts(self, request: RecordedRequest) -> Mismatch | None:
        """Check the matchers (method and URL are the router's business)."""
        for matcher in self.matchers:
            mismatch = matcher.check(request)
            if mismatch is not None:
                return mismatch
        return None

    def explain(self, request: RecordedRequest, url: URL) -> list[Mismatch]:
        """Why this route does not serve ``request`` (whose normalized URL is
        ``url``); empty when it would serve it.

        The matchers are consulted only when the method and URL fit, and a
        ``match=`` predicate only when everything else fits too.
        """
        reasons = method_mismatches(self.method, request.method)
        reasons += url_mismatches(self.url, url, ignore_query=self.ignore_query)
        if not reasons:
            for matcher in self.matchers:
                if matcher.runs_user_code and (reasons or self.remaining == 0):
                    continue
                mismatch = matcher.check(request)
                if mismatch is not None:
                    reasons.append(mismatch)
        if self.remaining == 0:
            calls = "call" if self.call_count == 1 else "calls"
            reasons.append(Mismatch(f"exhausted after {self.call_count} {calls}"))
        return reasons


#: The methods of the shortcuts, already checked: ``add()``'s common case.
_CHECKED_METHODS: dict[str, str] = {
    name: name for name in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
}


def check_method(method: object) -> str:
    if type(method) is str:
        checked = _CHECKED_METHODS.get(method)
        if checked is not None:
            return checked
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, got {method!r}")
    if not TOKEN.fullmatch(method):
        raise ValueError(f"method must be an HTTP token such as 'GET', got {method!r}")
    return method.upper()


def check_repeat(repeat: object) -> int | None:
    """``False`` → once, ``True`` → forever, an int N ≥ 1 → exactly N times."""
    if isinstance(repeat, bool):
        return None if repeat else 1
    if not isinstance(repeat, int):
        raise TypeError(f"repeat must be a bool or an int, got {repeat!r}")
    if repeat < 1:
        raise ValueError(
            f"repeat must be True, False or a positive int, got {repeat!r} "
            "(remove the registration instead of registering it 0 times)"
        )
    return repeat


class Router:
    """Holds routes and picks the one that answers a request.

    Not thread-safe by itself: the caller holds a lock around :meth:`take`.
    """

    def __init__(self) -> None:
        self._exact: dict[tuple[str, URL], list[Route]] = {}
        self._patterns: list[Route] = []
        #: ``(scheme, host, port)`` of every exact route.
        self._hosts: set[tuple[str, str, int]] = set()
        #: The ports written in patterns (``:8080``), which a pattern names.
        self._pattern_ports: set[int] = set()
        #: ``(scheme, authority)`` of every exact route, as given.
        self._authorities: set[tuple[str, str]] = set()
        #: The first route that serves forever, with no matchers, for each
        #: method and URL (or pattern): no later route for them could serve.
        self._forever: dict[tuple[str, URL | re.Pattern[str]], Route] = {}
        self._order = 0
        #: ``match=`` predicates that raised during :meth:`take`, to be collected.
        self.failures: list[tuple[Route, RecordedRequest, BaseException]] = []

    def add(self, route: Route) -> Route | None:
        """Add ``route``, unless an earlier route that serves forever, with no
        matchers, for the same method and URL (or pattern), would answer every
        request first: then leave it out and return that earlier route."""
        url = route.url
        if isinstance(url, re.Pattern):
            shadowing = self._shadowing(route)
            if shadowing is not None:
                return shadowing
            self._patterns.append(route)
            self._pattern_ports.update(_ports_in(url.pattern))
        else:
            # a route whose query has a matcher is filed under its bare URL
            routes = self._exact.setdefault((route.method, url), [])
            if routes:
                shadowing = self._shadowing(route)
                if shadowing is not None:
                    return shadowing
            else:
                authority = (url.scheme, url.raw_authority)
                if authority not in self._authorities:  # splitting it costs more
                    self._authorities.add(authority)
                    self._hosts.add((url.scheme, url.raw_host or "", url.port or 0))
            routes.append(route)
        self._order += 1
        route.order = self._order
        if route.remaining is None and not route.matchers and not route.ignore_query:
            self._forever.setdefault((route.method, url), route)
        return None

    def _shadowing(self, route: Route) -> Route | None:
        if route.ignore_query:  # served only for a query the earlier one lacks
            return None
        return self._forever.get((route.method, route.url))

    def take(self, request: RecordedRequest) -> Route | None:
        """Find the first route that serves ``request`` and has responses left,
        consume one of them and record the request as one of its calls."""
        method, url = request.key
        best = self._first(self._exact.get((method, url), ()), request)
        if url.raw_query_string:
            bare = self._first(
                (
                    route
                    for route in self._exact.get((method, url.with_query(None)), ())
                    if route.ignore_query
                ),
                request,
            )
            if bare is not None and (best is None or bare.order < best.order):
                best = bare
        if self._patterns:
            text = str(url)
            for route in self._patterns:
                if best is not None and route.order > best.order:
                    break
                if (
                    route.method == method
                    and route.remaining != 0
                    and route.url.match(text)  # type: ignore[union-attr]
                    and self._accepts(route, request)
                ):
                    best = route
                    break
        if best is not None:
            if best.remaining is not None:
                best.remaining -= 1
            best.call_count += 1
            best.calls.append(request)
        return best

    def _first(self, routes: Iterable[Route], request: RecordedRequest) -> Route | None:
        for route in routes:
            if route.remaining != 0 and self._accepts(route, request):
                return route
        return None

    def _accepts(self, route: Route, request: RecordedRequest) -> bool:
        if not route.matchers:
            return True
        mismatch = route.accepts(request)
        if isinstance(mismatch, PredicateError) and mismatch.error is not None:
            self.failures.append((route, request, mismatch.error))
        return mismatch is None

    def take_failures(self) -> list[tuple[Route, RecordedRequest, BaseException]]:
        failures, self.failures = self.failures, []
        return failures

    def routes(self) -> list[Route]:
        """All routes in registration order."""
        routes = [r for rs in self._exact.values() for r in rs] + self._patterns
        return sorted(routes, key=lambda r: r.order)

    def clear(self) -> None:
        self._exact.clear()
        self._patterns.clear()
        self._hosts.clear()
        self._pattern_ports.clear()
        self._authorities.clear()
        self._forever.clear()

    def hosts(self) -> frozenset[tuple[str, str, int]]:
        """The (scheme, host, port) of every exact route."""
        return frozenset(self._hosts)

    def names_port(self, port: int) -> bool:
        """Whether an exact route names ``port``, or a pattern has it written
        (``:8080``). Safe to call without the caller's lock."""
        return port in self._pattern_ports or any(
            named == port for _, _, named in list(self._hosts)
        )

    def has_host(self, scheme: str | None, host: str, port: int) -> bool:
        """Whether an exact route names this host and port (and scheme, unless
        ``None``). Safe to call without the caller's lock: one set lookup."""
        hosts = self._hosts
        if scheme is not None:
            return (scheme, host, port) in hosts
        return ("http", host, port) in hosts or ("https", host, port) in hosts


_PORT_IN_PATTERN = re.compile(r":(\d{1,5})(?!\d)")


def _ports_in(pattern: str) -> set[int]:
    """The ports written in a URL pattern, as ``:8080`` (so that
    ``mock_external_urls=True`` takes connections to them)."""
    return {int(port) for port in _PORT_IN_PATTERN.findall(pattern) if int(port)}
