"""Registration: ``m.add()``, its shortcuts and ``m.ws()``, their arguments
checked and built into a route.

Every mistake a registration can hold is raised here, where the user makes it,
naming the bad value; the request path then trusts the route. Nothing here
knows the block: :class:`Registry` asks its subclass for the server's URL and
the test's loop, and tells it of a route that no request can reach and of a
route registered outside a block.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from yarl import URL

from .handles import RegisteredRoute
from .keywords import NoMoreKeywords, unexpected_keywords
from .matcher_args import build_matchers
from .reply_builder import static_reply
from .responses import StreamBody, check_delay, fault_for_exception
from .routing import (
    CallbackSource,
    CloseSource,
    Route,
    StaticSource,
    WebSocketSource,
    check_method,
    check_repeat,
)
from .urls import normalize_url, plain_url
from .websocket import check_handler, http_url

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from typing_extensions import Unpack

    from .dispatch import Dispatcher
    from .request import RecordedRequest
    from .responses import Fault
    from .websocket import WebSocket

__all__ = ["Registry", "Shortcut", "reachable", "url_matcher"]


class Shortcut(Protocol):
    """The type of ``m.get()``, ``m.post()`` and the other method shortcuts:
    :meth:`Registry.add` with the method set, and the same keywords (type
    checkers reject any other)."""

    def __call__(
        self,
        url: str | URL | re.Pattern[str],
        *,
        status: int = 200,
        body: str | bytes | Iterable[Any] | AsyncIterable[Any] = b"",
        json: Any = None,
        payload: Any = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        content_type: str | None = None,
        repeat: bool | int = False,
        callback: Callable[..., Any] | None = None,
        reason: str | None = None,
        exception: Any = None,
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
    ) -> RegisteredRoute: ...


#: What ``inspect.signature()`` (and the API docs) show for each shortcut.
_SHORTCUT_SIGNATURE = inspect.signature(Shortcut.__call__)


def _shortcut(method: str) -> Callable[..., RegisteredRoute]:
    """The shortcut for ``method``: :meth:`Registry.add` with it set.

    It forwards the keywords it is given, and only those, to ``self.add()``
    (which a subclass may override), as fast as a direct call; type checkers
    and ``inspect.signature()`` see :class:`Shortcut`'s signature instead.
    A keyword that ``add()`` rejects is reported under the shortcut's name.
    """

    def shortcut(
        self: Registry, url: str | URL | re.Pattern[str], **kwargs: Any
    ) -> RegisteredRoute:
        try:
            return self.add(url, method, **kwargs)
        except TypeError as exc:
            error = _shortcut_error(exc, name, method, kwargs)
            if error is None:
                raise
            raise error from None

    name = method.lower()
    shortcut.__name__ = name
    shortcut.__qualname__ = f"Registry.{name}"
    shortcut.__signature__ = _SHORTCUT_SIGNATURE  # type: ignore[attr-defined]
    shortcut.__doc__ = (
        f"Register a {method} response: :meth:`add` with ``method={method!r}``, "
        "and the same keywords."
    )
    return shortcut


def _shortcut_error(
    error: TypeError, name: str, method: str, kwargs: Mapping[str, Any]
) -> TypeError | None:
    """The error that ``add()`` raised for keywords the shortcut ``name`` was
    given, under the shortcut's name; ``None`` for any other error."""
    if "method" in kwargs:  # add() got it twice
        hint = f"{name}() sends {method}: call add(url, method) instead"
        return unexpected_keywords(
            f"{name}()", Shortcut.__call__, ["method"], {"method": hint}
        )
    taken = _SHORTCUT_SIGNATURE.parameters
    unknown = [keyword for keyword in kwargs if keyword not in taken]
    if not unknown or str(error) != str(
        unexpected_keywords("add()", Registry.add, unknown)
    ):
        return None
    return unexpected_keywords(f"{name}()", Shortcut.__call__, unknown)


class Registry:
    """Registration, as ``aiointercept`` offers it: :meth:`add`, the method
    shortcuts and :meth:`ws`.

    The subclass gives the dispatcher the routes go to, the server's URL for
    relative URLs (:meth:`_base_url`) and the test's loop for the routes that
    run code on it (:meth:`_bind_loop`). It hears of a route for an address
    its block does not receive (:meth:`_unreachable`), and watches the routes
    added outside a block (:attr:`_outside_block`, :meth:`_watch_outside_block`).
    """

    _dispatcher: Dispatcher
    #: In a running block that receives requests at its own address only (the
    #: default mode), the beginnings of a URL as text that are known to reach
    #: it: that address as a prefix, ``"http://127.0.0.1:PORT/"``, and ``"/"``.
    #: A route for another origin is reported to :meth:`_unreachable`. ``None``
    #: when a route for any host can be reached, and outside a block.
    _reachable_prefixes: tuple[str, str] | None
    #: ``(METHOD, url)`` of the routes added while no block runs
    #: (:meth:`_base_url` is ``None``), which the subclass empties when one
    #: starts.
    _outside_block: list[tuple[str, URL | re.Pattern[str]]]

    def _unreachable(self, method: str, url: URL) -> None:
        """A route for ``method`` ``url`` is about to be added, which no request
        to this block can reach: warn, or raise to refuse it."""
        raise NotImplementedError

    def _watch_outside_block(self) -> None:
        """A route is about to be added to :attr:`_outside_block`, which is
        empty."""
        raise NotImplementedError

    def _base_url(self) -> str | None:
        """The running block's server URL, or ``None`` outside a block."""
        raise NotImplementedError

    def _bind_loop(self) -> None:
        """Make sure the test's loop is known before a route that runs code on
        it is added (the shared server learns it from the registering test)."""
        raise NotImplementedError

    def add(
        self,
        url: str | URL | re.Pattern[str],
        method: str = "GET",
        status: int = 200,
        body: str | bytes | Iterable[Any] | AsyncIterable[Any] = b"",
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
        **unknown: Unpack[NoMoreKeywords],
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
        if unknown:
            raise unexpected_keywords("add()", Registry.add, unknown)
        _check_url_first(url, method)
        method = check_method(method)
        base_url = self._base_url()
        matcher = url_matcher(url, base_url)
        prefixes = self._reachable_prefixes
        if prefixes is not None and not (
            # the common case, a URL under the server's own, checked as text
            type(url) is str and url.startswith(prefixes)
        ):
            self._check_reachable(method, matcher, prefixes[0])
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
        on_test_loop = False  # an async callback or body runs on the test's loop
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
                on_test_loop = source.is_async
            else:
                if isinstance(reply.body, StreamBody):
                    if reply.body.one_shot() and remaining != 1:
                        raise ValueError(
                            f"body {reply.body.source!r} can be iterated only "
                            f"once, so it cannot serve repeat={repeat!r}: pass a "
                            "list, or register it once per response"
                        )
                    on_test_loop = reply.body.is_async
                source = StaticSource(reply)
        route = Route(
            method,
            matcher,
            source,
            remaining,
            matchers=matchers,
            ignore_query=ignore_query,
        )
        if on_test_loop:
            self._bind_loop()
        self._dispatcher.add(route)
        if base_url is None:
            outside = self._outside_block
            if not outside:
                self._watch_outside_block()
            outside.append((method, matcher))
        return RegisteredRoute(route, self._dispatcher.journal.order)

    # The method shortcuts: add() with the method set, and the same keywords,
    # which type checkers see through Shortcut.
    if TYPE_CHECKING:
        get: Shortcut
        post: Shortcut
        put: Shortcut
        patch: Shortcut
        delete: Shortcut
        head: Shortcut
        options: Shortcut
    else:
        get = _shortcut("GET")
        post = _shortcut("POST")
        put = _shortcut("PUT")
        patch = _shortcut("PATCH")
        delete = _shortcut("DELETE")
        head = _shortcut("HEAD")
        options = _shortcut("OPTIONS")

    def ws(
        self,
        url: str | URL | re.Pattern[str],
        handler: Callable[[WebSocket], Awaitable[object]],
        *,
        repeat: bool | int = False,
        **unknown: Unpack[NoMoreKeywords],
    ) -> RegisteredRoute:
        """Register a WebSocket handler for ``url``.

        Each connection the route accepts runs ``await handler(ws)`` on the
        test's event loop, with a :class:`~aiointercept.WebSocket`. A
        ``ws://`` or ``wss://`` URL stands for ``http://`` or ``https://``:
        the upgrade is a GET request, matched and recorded under that URL.
        ``repeat`` counts connections, as in :meth:`add`.
        """
        if unknown:
            raise unexpected_keywords("ws()", Registry.ws, unknown)
        handler = check_handler(handler)
        base_url = self._base_url()
        matcher = url_matcher(http_url(url), base_url)
        prefixes = self._reachable_prefixes
        if prefixes is not None:
            self._check_reachable("GET", matcher, prefixes[0])
        remaining = check_repeat(repeat)
        route = Route("GET", matcher, WebSocketSource(handler), remaining)
        self._bind_loop()
        self._dispatcher.add(route)
        if base_url is None:
            outside = self._outside_block
            if not outside:
                self._watch_outside_block()
            outside.append(("GET", matcher))
        return RegisteredRoute(route, self._dispatcher.journal.order)

    def _check_reachable(
        self, method: str, matcher: URL | re.Pattern[str], prefix: str
    ) -> None:
        """Report a route for another origin than ``prefix``. A pattern is
        not checked: which hosts it matches cannot be told."""
        __tracebackhide__ = True
        if isinstance(matcher, URL) and not reachable(matcher, prefix):
            self._unreachable(method, matcher)


def url_matcher(url: object, server_url: str | None) -> URL | re.Pattern[str]:
    """What a route's ``url`` matches: a normalized absolute URL, or a compiled
    pattern. A path is relative to ``server_url`` (``None`` outside a block)."""
    if isinstance(url, re.Pattern):
        if not isinstance(url.pattern, str):
            raise TypeError(f"url patterns must be str patterns, got {url!r}")
        return url
    if isinstance(url, str):
        plain = plain_url(url, server_url)
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
                f"url must be absolute or a path starting with '/', got {str(url)!r}"
            )
        if server_url is None:
            raise ValueError(
                f"the relative url {str(url)!r} needs the server's address: "
                "register it inside the block, or pass an absolute URL"
            )
        url = URL(server_url + str(url))
    elif url.scheme not in ("http", "https"):
        raise ValueError(f"url must use http or https, got {str(url)!r}")
    return normalize_url(url)


def reachable(url: URL, prefix: str) -> bool:
    """Whether the absolute, normalized ``url`` is under the origin
    ``prefix`` (``"http://127.0.0.1:PORT/"``)."""
    return f"{url.scheme}://{url.raw_authority}/" == prefix


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
