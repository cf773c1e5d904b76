"""Matching a live request against the recorded ones, as vcrpy does.

A cassette's ``match_on`` names the matchers a recorded request must pass to
replay a live one (vcrpy's default: method, scheme, host, port, path and
query). Each matcher is a function of the two requests, named as in vcrpy,
and :data:`MATCHERS` holds them by name. A live request is compared as it
would be recorded: filtered (see :mod:`.filters`), so that a recorded request
whose secrets were replaced still matches.

Comparing a live request with every recorded one would make replaying a long
cassette quadratic, so :class:`Index` groups the recorded requests by the
values that the cheap matchers (the method and the parts of the URL)
compare; only the recorded requests that share a live request's values are
then compared with the other matchers (``body``, ``raw_body``, ``headers``).

:func:`differences` says why a recorded request does not match, for the
message of a request that found nothing to replay.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .format import CassetteRequest, Interaction

if TYPE_CHECKING:
    from .options import MatcherFunction

__all__ = ["MATCHERS", "Index", "Matcher", "differences", "matcher"]

#: Whether a recorded request (first) matches a live one (second).
Matcher = Callable[[CassetteRequest, CassetteRequest], bool]


# -- the matchers, by vcrpy's names ----------------------------------------------------


def method(r1: CassetteRequest, r2: CassetteRequest) -> bool:
    """The same method, in any case."""
    return r1.method.upper() == r2.method.upper()


def uri(r1: CassetteRequest, r2: CassetteRequest) -> bool:
    """The same URL, query included, its parameters in the same order."""
    return str(r1.parsed_url) == str(r2.parsed_url)


def scheme(r1: CassetteRequest, r2: CassetteRequest) -> bool:
    return r1.scheme == r2.scheme


def host(r1: CassetteRequest, r2: CassetteRequest) -> bool:
    """The same host name, in any case, with or without a trailing dot."""
    return r1.host == r2.host


def port(r1: CassetteRequest, r2: CassetteRequest) -> bool:
    """The same port, the scheme's default when the URL gives none."""
    return r1.port == r2.port


def path(r1: CassetteRequest, r2: CassetteRequest) -> bool:
    """The same path, as encoded."""
    return r1.path == r2.path


def query(r1: CassetteRequest, r2: CassetteRequest) -> bool:
    """The same query parameters, in any order."""
    return r1.query == r2.query


def body(r1: CassetteRequest, r2: CassetteRequest) -> bool:
    """The same body, parsed when it is JSON or a form (so that the order of
    keys and fields does not matter), else byte for byte."""
    return _parsed_body(r1) == _parsed_body(r2)


def raw_body(r1: CassetteRequest, r2: CassetteRequest) -> bool:
    """The same body, byte for byte (no body and an empty one are the same)."""
    return (r1.body or b"") == (r2.body or b"")


def headers(r1: CassetteRequest, r2: CassetteRequest) -> bool:
    """The same headers, names in any case, in any order."""
    return _header_items(r1) == _header_items(r2)


#: Every matcher ``match_on`` may name.
MATCHERS: dict[str, Matcher] = {
    "method": method,
    "uri": uri,
    "scheme": scheme,
    "host": host,
    "port": port,
    "path": path,
    "query": query,
    "body": body,
    "raw_body": raw_body,
    "headers": headers,
}


def _parsed_body(request: CassetteRequest) -> object:
    body = request.body or b""
    content_type = request.headers.get("Content-Type", "").lower()
    try:
        if "json" in content_type:
            return json.loads(body)
        if "application/x-www-form-urlencoded" in content_type:
            return sorted(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    except (ValueError, UnicodeDecodeError):
        pass
    return body


def _header_items(request: CassetteRequest) -> list[tuple[str, str]]:
    return sorted((name.lower(), value) for name, value in request.headers.items())


# -- the index of the cheap ones -------------------------------------------------------

#: What each cheap matcher compares: two requests pass it exactly when these
#: values are equal, so a tuple of them is a dictionary key.
_KEYS: dict[str, Callable[[CassetteRequest], object]] = {
    "method": lambda r: r.method.upper(),
    "uri": lambda r: str(r.parsed_url),
    "scheme": lambda r: r.scheme,
    "host": lambda r: r.host,
    "port": lambda r: r.port,
    "path": lambda r: r.path,
    "query": lambda r: tuple(r.query),
}


class Index:
    """The requests of ``interactions``, looked up by the values the cheap
    matchers among ``match_on`` compare.

    Recorded requests are known by their position in ``interactions``.
    """

    def __init__(
        self,
        interactions: Sequence[Interaction],
        match_on: Sequence[str | MatcherFunction],
    ) -> None:
        self._interactions = interactions
        self._keyed = tuple(
            _KEYS[name] for name in match_on if isinstance(name, str) and name in _KEYS
        )
        #: The matchers the key leaves to compare, one candidate at a time.
        self._rest = tuple(
            matcher(name)
            for name in match_on
            if not (isinstance(name, str) and name in _KEYS)
        )
        self._positions: dict[tuple[object, ...], list[int]] = {}
        for position, interaction in enumerate(interactions):
            key = self._key(interaction.request)
            self._positions.setdefault(key, []).append(position)

    def _key(self, request: CassetteRequest) -> tuple[object, ...]:
        return tuple(value(request) for value in self._keyed)

    def candidates(self, request: CassetteRequest) -> list[int] | None:
        """The positions of the recorded requests that pass the cheap matchers,
        in order: the index's own list, which the caller may shorten (and
        must, holding a lock, when threads share the index)."""
        return self._positions.get(self._key(request))

    def matches(self, position: int, request: CassetteRequest) -> bool:
        """Whether the recorded request at ``position``, a candidate for
        ``request``, passes the other matchers too."""
        rest = self._rest
        if not rest:
            return True
        recorded = self._interactions[position].request
        return all(match(recorded, request) for match in rest)


# -- why a recorded request does not match ---------------------------------------------

#: Each matcher's view of a request, as a message shows it.
_SHOW: dict[str, Callable[[CassetteRequest], object]] = {
    **_KEYS,
    "query": lambda r: urllib.parse.urlencode(r.query) or "(none)",
    "body": lambda r: _short(r.body),
    "raw_body": lambda r: _short(r.body),
    "headers": _header_items,
}


def matcher(name: str | MatcherFunction) -> Matcher:
    """The matcher ``match_on`` names, or the user's function as one."""
    if isinstance(name, str):
        return MATCHERS[name]
    function = name

    def user_matcher(recorded: CassetteRequest, live: CassetteRequest) -> bool:
        try:
            result = function(live, recorded)
        except AssertionError:
            return False
        return result is None or bool(result)

    return user_matcher


def differences(
    recorded: CassetteRequest,
    incoming: CassetteRequest,
    match_on: Sequence[str | MatcherFunction],
) -> list[str]:
    """One line for each matcher of ``match_on`` that ``recorded`` fails:
    ``"path: recorded /a, got /b"``."""
    lines = []
    for name in match_on:
        if isinstance(name, str):
            if not MATCHERS[name](recorded, incoming):
                lines.append(
                    f"{name}: recorded {_SHOW[name](recorded)}, got "
                    f"{_SHOW[name](incoming)}"
                )
            continue
        label = getattr(name, "__name__", repr(name))
        try:
            result = name(incoming, recorded)
        except AssertionError as exc:
            lines.append(f"{label}: {exc}" if str(exc) else f"{label}: no match")
        else:
            if result is not None and not result:
                lines.append(f"{label}: returned {result!r}")
    return lines


def _short(body: bytes | None) -> str:
    if not body:
        return "(empty)"
    text = repr(body[:60])
    return text + ("..." if len(body) > 60 else "")
