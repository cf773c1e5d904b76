"""User-facing handles: :class:`RegisteredRoute`, what ``add()`` returns.

A handle tells what one registration served and asserts on it; the checks
themselves are those of :mod:`.assertions`. The dispatcher is given this
class to make the handles of :class:`~aiointercept.UnmatchedRequest` reports
(it is not imported there: this module builds on the diagnostics).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .assertions import (
    CallCountAssertions,
    CallSpec,
    expect_any_call,
    expect_called_with,
    resolve_url,
)
from .diagnostics import list_similar, n_calls
from .mismatch import Mismatch

if TYPE_CHECKING:
    from yarl import URL

    from .request import RecordedRequest
    from .routing import Route

__all__ = ["RegisteredRoute"]


class RegisteredRoute(CallCountAssertions):
    """A registered route, as returned by :meth:`aiointercept.add` and the
    method shortcuts: what it served, and assertions scoped to it.

    The assertions take the same arguments as those of the ``aiointercept``
    instance, minus ``method`` (a route has one). ``url`` and ``params`` are
    optional: when given, the call's URL must be exactly ``url`` with
    ``params`` added to its query; ``params`` alone must equal the call's whole
    query. A relative ``url`` such as ``"/users/1"`` is taken relative to the
    route's own scheme and host.

    Handles compare equal when they stand for the same registration.
    ``MockResponse`` (aiointercept 1.0.0's name) is another name for this
    class.
    """

    __slots__ = ("_journal", "_route")

    def __init__(self, route: Route, journal: Sequence[RecordedRequest]) -> None:
        self._route = route
        self._journal = journal

    @property
    def method(self) -> str:
        """The upper-case HTTP method the route answers."""
        return self._route.method

    @property
    def url(self) -> URL | re.Pattern[str]:
        """The normalized URL, or the compiled pattern, the route answers."""
        return self._route.url

    @property
    def remaining(self) -> int | None:
        """How many more requests the route will serve; ``None`` for unlimited."""
        return self._route.remaining

    @property
    def calls(self) -> list[RecordedRequest]:
        """The requests this route served, oldest first (a copy)."""
        return list(self._route.calls)

    @property
    def call_count(self) -> int:
        """How many requests this route served."""
        return len(self._route.calls)

    @property
    def called(self) -> bool:
        """Whether this route served at least one request."""
        return bool(self._route.calls)

    @property
    def last_request(self) -> RecordedRequest | None:
        """The most recent request this route served, or ``None``."""
        calls = self._route.calls
        return calls[-1] if calls else None

    def __repr__(self) -> str:
        return f"<RegisteredRoute {self._route.describe()}, {n_calls(self.call_count)}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegisteredRoute):
            return NotImplemented
        return self._route is other._route

    def __hash__(self) -> int:
        return id(self._route)

    @property
    def _subject(self) -> str:
        return f"the route {self._route.describe()}"

    def _explain(self, request: RecordedRequest) -> list[Mismatch]:
        reasons = self._route.explain(request, request.key[1])
        return reasons or [Mismatch("answered by a route registered earlier")]

    def _calls(self) -> list[RecordedRequest]:
        return list(self._route.calls)

    def _uncalled(self) -> None:
        __tracebackhide__ = True
        raise AssertionError(
            f"expected {self._subject} to be called, but it got no calls.\n"
            + list_similar(list(self._journal), self._explain)
        )

    def _spec(
        self,
        url: str | URL | None,
        params: Mapping[str, Any] | None,
        data: str | bytes | Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        strict_headers: bool,
    ) -> CallSpec:
        return CallSpec.build(
            data=data,
            json=json,
            headers=headers,
            strict_headers=strict_headers,
            params=params,
            url=None if url is None else resolve_url(url, params, self._base),
        )

    def _base(self) -> str:
        route_url = self._route.url
        if isinstance(route_url, re.Pattern):
            raise ValueError(
                "a relative url needs a route registered with a URL, not a "
                f"pattern ({route_url.pattern!r}): pass an absolute url"
            )
        return str(route_url.origin())

    def assert_called_with(
        self,
        url: str | URL | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        data: str | bytes | Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        strict_headers: bool = False,
    ) -> None:
        """The most recent request this route served meets every expectation
        given (see :meth:`aiointercept.assert_called_with`)."""
        __tracebackhide__ = True
        spec = self._spec(url, params, data, json, headers, strict_headers)
        if not self._route.calls:
            self._uncalled()
        expect_called_with(self.calls, spec, subject=self._subject, once=False)

    def assert_called_once_with(
        self,
        url: str | URL | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        data: str | bytes | Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        strict_headers: bool = False,
    ) -> None:
        """The route served exactly one request, and it meets every
        expectation given."""
        __tracebackhide__ = True
        spec = self._spec(url, params, data, json, headers, strict_headers)
        if not self._route.calls:
            self._uncalled()
        expect_called_with(self.calls, spec, subject=self._subject, once=True)

    def assert_any_call(
        self,
        url: str | URL | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        data: str | bytes | Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        strict_headers: bool = False,
    ) -> None:
        """One of the requests this route served meets every expectation given."""
        __tracebackhide__ = True
        spec = self._spec(url, params, data, json, headers, strict_headers)
        if not self._route.calls:
            self._uncalled()
        expect_any_call(self.calls, spec, subject=self._subject)
