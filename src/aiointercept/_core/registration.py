"""Registration: the arguments of ``m.add()`` checked and built into a route.

Every mistake a registration can hold is raised here, where the user makes it,
naming the bad value; the request path then trusts the route. Nothing here
knows the block: the caller passes the server's URL (for relative URLs) and
adds the route to its dispatcher.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from yarl import URL

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
from .websocket import http_url

if TYPE_CHECKING:
    from .request import RecordedRequest
    from .responses import Fault
    from .websocket import Handler

__all__ = ["build_route", "build_websocket_route", "needs_test_loop", "url_matcher"]


def build_route(
    server_url: str | None,
    url: object,
    method: object,
    status: int,
    body: str | bytes,
    json: Any,
    payload: Any,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
    content_type: str | None,
    repeat: bool | int,
    callback: Callable[..., Any] | None,
    reason: str | None,
    exception: Any,
    match_query: Mapping[str, Any] | None,
    match_headers: Mapping[str, str] | None,
    match_json: Any,
    match_body: str | bytes | None,
    match_form: Mapping[str, Any] | None,
    match: Callable[[RecordedRequest], bool] | None,
    delay: float,
    fault: Fault | str | None,
    chunk_delay: float,
    compress: bool | str | None,
) -> Route:
    """The route ``m.add()`` registers (arguments in its order, positional:
    registration is measured). ``server_url`` is the running block's, or
    ``None`` outside a block."""
    _check_url_first(url, method)
    method = check_method(method)
    matcher = url_matcher(url, server_url)
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
        else:
            if (
                isinstance(reply.body, StreamBody)
                and reply.body.one_shot()
                and remaining != 1
            ):
                raise ValueError(
                    f"body {reply.body.source!r} can be iterated only once, "
                    f"so it cannot serve repeat={repeat!r}: pass a list, or "
                    "register it once per response"
                )
            source = StaticSource(reply)
    return Route(
        method,
        matcher,
        source,
        remaining,
        matchers=matchers,
        ignore_query=ignore_query,
    )


def build_websocket_route(
    server_url: str | None, url: object, handler: Handler, repeat: bool | int
) -> Route:
    """The route ``m.ws()`` registers; ``handler`` is already checked."""
    matcher = url_matcher(http_url(url), server_url)
    remaining = check_repeat(repeat)
    return Route("GET", matcher, WebSocketSource(handler), remaining)


def needs_test_loop(route: Route) -> bool:
    """Whether serving ``route`` runs code on the test's event loop (an async
    callback, an async body, a WebSocket handler)."""
    source = route.source
    if isinstance(source, CallbackSource):
        return source.is_async
    if isinstance(source, StaticSource):
        body = source.reply.body
        return isinstance(body, StreamBody) and body.is_async
    return isinstance(source, WebSocketSource)


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
