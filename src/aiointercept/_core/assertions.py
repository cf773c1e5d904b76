"""Assertions on recorded requests, the route handle and unmatched-request reports.

Everything here works on lists of :class:`RecordedRequest` and on routes; it
reads no socket and needs no event loop. Failures are :class:`AssertionError`
with a message meant to be read in a test report: what was expected, what was
received, as a diff, and the closest recorded requests when the expected one
is missing.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from yarl import URL

from aiointercept._errors import StrictCheckError

from .matcher_args import (
    check_body,
    check_header_mapping,
    check_json,
    check_multi_mapping,
)
from .matchers import (
    BodyMatcher,
    FormMatcher,
    HeadersMatcher,
    JsonMatcher,
    Matcher,
    QueryMatcher,
    is_any,
)
from .mismatch import Mismatch, method_mismatches, preview_body, url_mismatches
from .routing import check_method
from .urls import normalize_url

if TYPE_CHECKING:
    from .journal import RecordedRequest
    from .routing import Route

__all__ = [
    "MOCK",
    "CallSpec",
    "RegisteredRoute",
    "UnmatchedRequest",
    "describe_request",
    "expect_any_call",
    "expect_call_count",
    "expect_called_with",
    "expected_key",
    "ignore_client_keywords",
    "strict_failure",
    "unmatched_request",
]

#: How many requests a failure message lists.
_LISTED = 10
#: How many similar requests a failure message suggests.
_SIMILAR = 5
#: Headers every client sends, left out of request summaries.
_ROUTINE_HEADERS = frozenset(
    {"host", "user-agent", "accept-encoding", "connection", "content-length"}
)
MOCK = "the mock"


#: Keywords of aiohttp's ``ClientSession.request`` that aioresponses-era
#: assertions pass and that say nothing about the request the server received.
CLIENT_KEYWORDS = frozenset(
    {
        "allow_redirects",
        "auth",
        "auto_decompress",
        "chunked",
        "compress",
        "cookies",
        "expect100",
        "fingerprint",
        "max_field_size",
        "max_line_size",
        "max_redirects",
        "middlewares",
        "proxy",
        "proxy_auth",
        "proxy_headers",
        "raise_for_status",
        "read_bufsize",
        "read_until_eof",
        "server_hostname",
        "skip_auto_headers",
        "ssl",
        "ssl_context",
        "timeout",
        "trace_request_ctx",
        "verify_ssl",
    }
)


def ignore_client_keywords(assertion: str, keywords: Mapping[str, object]) -> None:
    """Drop the client-only keywords of an aioresponses-era assertion with a
    :exc:`DeprecationWarning` that names them; any other keyword is a mistake."""
    unknown = sorted(set(keywords) - CLIENT_KEYWORDS)
    if unknown:
        raise TypeError(
            f"{assertion}() got unexpected keyword arguments {unknown!r} (client "
            f"options it ignores: {', '.join(sorted(CLIENT_KEYWORDS))})"
        )
    if keywords:
        warnings.warn(
            f"{assertion}() ignores the client options {sorted(keywords)!r}: they "
            "are not part of the request the server received; remove them",
            DeprecationWarning,
            stacklevel=3,
        )


# -- describing requests ---------------------------------------------------------------


def describe_request(request: RecordedRequest, indent: str = "") -> str:
    """The method and URL, then the headers worth reading and a body preview."""
    lines = [f"{indent}{request.method} {request.url}"]
    headers = [
        f"{name}: {value}"
        for name, value in request.headers.items()
        if name.lower() not in _ROUTINE_HEADERS
        and not (name.lower() == "accept" and value == "*/*")
    ]
    if headers:
        lines.append(f"{indent}  headers: {'; '.join(headers)}")
    if request.captured_body:
        lines.append(f"{indent}  body: {preview_body(request.captured_body)}")
    return "\n".join(lines)


def _list_requests(requests: Sequence[RecordedRequest]) -> str:
    lines = [describe_request(r, "  ") for r in requests[-_LISTED:]]
    if len(requests) > _LISTED:
        lines.insert(0, f"  ... {len(requests) - _LISTED} earlier requests not shown")
    return "\n".join(lines)


def _calls(count: int) -> str:
    return "1 call" if count == 1 else f"{count} calls"


def _diff(mismatches: Iterable[Mismatch], indent: str) -> str:
    """Each difference as ``- expected`` / ``+ actual`` lines."""
    lines = []
    for mismatch in mismatches:  # all of them have an expected and an actual
        lines.append(f"{indent}{mismatch.what}:")
        expected = mismatch.expected.splitlines() or [""]
        actual = mismatch.actual.splitlines() or [""]
        if len(expected) == 1 and len(actual) == 1:
            diff = [f"- {expected[0]}", f"+ {actual[0]}"]
        else:
            diff = [
                line.rstrip()
                for line in difflib.ndiff(expected, actual)
                if not line.startswith("? ")
            ]
        lines += [f"{indent}  {line}" for line in diff]
    return "\n".join(lines)


def _ranked(
    requests: Iterable[RecordedRequest],
    explain: Callable[[RecordedRequest], list[Mismatch]],
    limit: int = _SIMILAR,
) -> list[tuple[RecordedRequest, list[Mismatch]]]:
    """The requests closest to an expectation, each with why it differs; the
    most recent of requests with the same method and URL stands for them all."""
    latest: dict[tuple[str, URL], tuple[int, RecordedRequest]] = {}
    for index, request in enumerate(requests):
        latest[request.key] = (index, request)
    scored = []
    for index, request in latest.values():
        reasons = explain(request)
        scored.append((sum(m.weight for m in reasons), -index, request, reasons))
    scored.sort(key=lambda item: item[:2])
    return [(request, reasons) for _, _, request, reasons in scored[:limit]]


def _similar(
    requests: Sequence[RecordedRequest],
    explain: Callable[[RecordedRequest], list[Mismatch]],
) -> str:
    if not requests:
        return "No requests were recorded."
    lines = ["Recorded requests, closest first:"]
    for request, reasons in _ranked(requests, explain):
        lines.append(describe_request(request, "  "))
        lines += [f"    - {reason.summary}" for reason in reasons]
    return "\n".join(lines)


# -- what an assertion expects of one request ------------------------------------------


@dataclass(frozen=True, slots=True)
class CallSpec:
    """The expectations of ``assert_called_with`` and friends on one request."""

    matchers: tuple[Matcher, ...]
    #: The exact URL the request must have (route assertions only).
    url: URL | None = None

    @classmethod
    def build(
        cls,
        *,
        data: object = None,
        json: object = None,
        headers: object = None,
        strict_headers: object = False,
        params: object = None,
        url: URL | None = None,
    ) -> CallSpec:
        # unittest.mock.ANY (aiointercept 1.0.0, aioresponses) checks nothing
        data, json, headers = (None if is_any(v) else v for v in (data, json, headers))
        if not isinstance(strict_headers, bool):
            raise TypeError(f"strict_headers must be a bool, got {strict_headers!r}")
        if strict_headers and headers is None:
            raise ValueError("strict_headers=True needs the expected headers=")
        if data is not None and json is not None:
            raise TypeError("pass either data= or json=, not both")
        matchers: list[Matcher] = []
        if params is not None and url is None:
            matchers.append(
                QueryMatcher(
                    check_multi_mapping(params, "params", allow_empty=True), exact=True
                )
            )
        if headers is not None:
            matchers.append(
                HeadersMatcher(
                    check_header_mapping(
                        headers, "headers", allow_empty=strict_headers
                    ),
                    strict=strict_headers,
                )
            )
        if isinstance(data, Mapping):
            matchers.append(FormMatcher(check_multi_mapping(data, "data")))
        elif data is not None:
            if not isinstance(data, str | bytes):
                raise TypeError(
                    "data must be bytes or str (the raw body) or a mapping (a form), "
                    f"got {data!r}"
                )
            matchers.append(BodyMatcher(check_body(data, "data")))
        if json is not None:
            matchers.append(JsonMatcher(check_json(json, "json")))
        return cls(tuple(matchers), url)

    def mismatches(self, request: RecordedRequest) -> list[Mismatch]:
        reasons = []
        if self.url is not None:
            reasons += url_mismatches(self.url, request.key[1])
        for matcher in self.matchers:
            mismatch = matcher.check(request)
            if mismatch is not None:
                reasons.append(mismatch)
        return reasons


def expected_key(
    url: object, method: object, params: object, base: Callable[[], str]
) -> tuple[str, URL]:
    """``(METHOD, normalized URL)`` of an expected call; ``params`` are added to
    the URL's query and a path such as ``"/users"`` is taken relative to
    ``base()``."""
    checked_method = check_method(method)
    return checked_method, resolve_url(url, params, base)


def resolve_url(url: object, params: object, base: Callable[[], str]) -> URL:
    if isinstance(url, str):
        url = URL(url)
    elif not isinstance(url, URL):
        raise TypeError(f"url must be a str or a yarl.URL, got {url!r}")
    if not url.absolute:
        if not url.path.startswith("/"):
            raise ValueError(
                f"url must be absolute or a path starting with '/', got {str(url)!r}"
            )
        url = URL(base() + str(url))
    if params is not None:
        query = check_multi_mapping(params, "params", allow_empty=True)
        url = url.extend_query([(k, v) for k, values in query.items() for v in values])
    return normalize_url(url)


def expect_call_count(
    calls: Sequence[RecordedRequest],
    subject: str,
    *,
    at_least: int | None = None,
    exactly: int | None = None,
) -> None:
    """``assert_called`` (at least 1), ``assert_not_called`` (exactly 0) and
    ``assert_called_once`` (exactly 1)."""
    __tracebackhide__ = True
    count = len(calls)
    if at_least is not None and count >= at_least:
        return
    if exactly is not None and count == exactly:
        return
    if exactly == 0:
        message = f"expected {subject} not to be called, but it got {_calls(count)}:"
    elif exactly is not None:
        message = f"expected {subject} to be called once, but it got {_calls(count)}"
        message += ":" if count else "."
    else:
        message = f"expected {subject} to be called, but it got no calls."
    if count:
        message += "\n" + _list_requests(calls)
    raise AssertionError(message)


def _not_found(
    expected: str,
    candidates: Sequence[RecordedRequest],
    explain: Callable[[RecordedRequest], list[Mismatch]],
) -> AssertionError:
    return AssertionError(
        f"expected a call to {expected}, but there was none.\n"
        + _similar(candidates, explain)
    )


def expect_called_with(
    calls: Sequence[RecordedRequest],
    spec: CallSpec,
    *,
    subject: str,
    once: bool,
    similar: Sequence[RecordedRequest] = (),
    explain: Callable[[RecordedRequest], list[Mismatch]] | None = None,
) -> None:
    """The most recent of ``calls`` (all calls to one URL, or all calls of one
    route) meets ``spec``; with ``once``, it is also the only one.

    When ``calls`` is empty, ``similar`` are listed, ranked by ``explain``.
    """
    __tracebackhide__ = True
    name = "assert_called_once_with" if once else "assert_called_with"
    if not calls:
        raise _not_found(subject, similar, explain or spec.mismatches)
    if once and len(calls) != 1:
        raise AssertionError(
            f"{name}: expected 1 call to {subject}, but it got {len(calls)}:\n"
            + _list_requests(calls)
        )
    last = calls[-1]
    reasons = spec.mismatches(last)
    if not reasons:
        return
    which = "The call" if len(calls) == 1 else f"The most recent of {len(calls)} calls"
    raise AssertionError(
        f"{name}: {subject} was not called with the expected arguments.\n"
        f"{which} differs (- expected, + actual):\n"
        f"{_diff(reasons, '  ')}\n"
        f"Actual request:\n{describe_request(last, '  ')}"
    )


def expect_any_call(
    calls: Sequence[RecordedRequest],
    spec: CallSpec,
    *,
    subject: str,
    similar: Sequence[RecordedRequest] = (),
    explain: Callable[[RecordedRequest], list[Mismatch]] | None = None,
) -> None:
    """One of ``calls`` meets ``spec``."""
    __tracebackhide__ = True
    if not calls:
        raise _not_found(subject, similar, explain or spec.mismatches)
    diffs = []
    for number, call in enumerate(calls, 1):
        reasons = spec.mismatches(call)
        if not reasons:
            return
        diffs.append((number, call, reasons))
    lines = [
        f"assert_any_call: {subject} got {_calls(len(calls))}, none with the "
        "expected arguments (- expected, + actual):"
    ]
    shown = diffs[-_SIMILAR:]
    if len(diffs) > len(shown):
        lines.append(f"  ... {len(diffs) - len(shown)} earlier calls not shown")
    for number, call, reasons in shown:
        lines.append(f"  call {number} of {len(calls)}: {call.method} {call.url}")
        lines.append(_diff(reasons, "    "))
    raise AssertionError("\n".join(lines))


def explain_key(key: tuple[str, URL]) -> Callable[[RecordedRequest], list[Mismatch]]:
    """How a request differs from an expected method and URL."""
    method, url = key

    def explain(request: RecordedRequest) -> list[Mismatch]:
        return method_mismatches(method, request.method) + url_mismatches(
            url, request.key[1]
        )

    return explain


# -- the route handle ------------------------------------------------------------------


class RegisteredRoute:
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
        return f"<RegisteredRoute {self._route.describe()}, {_calls(self.call_count)}>"

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

    def assert_called(self) -> None:
        """The route served at least one request."""
        __tracebackhide__ = True
        if not self._route.calls:
            raise AssertionError(
                f"expected {self._subject} to be called, but it got no calls.\n"
                + _similar(list(self._journal), self._explain)
            )

    def assert_not_called(self) -> None:
        """The route served no request."""
        __tracebackhide__ = True
        expect_call_count(self.calls, self._subject, exactly=0)

    def assert_called_once(self) -> None:
        """The route served exactly one request."""
        __tracebackhide__ = True
        if not self._route.calls:
            self.assert_called()
        expect_call_count(self.calls, self._subject, exactly=1)

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
            self.assert_called()
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
            self.assert_called()
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
            self.assert_called()
        expect_any_call(self.calls, spec, subject=self._subject)


# -- unmatched requests and the strict checks ------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class UnmatchedRequest:
    """A request that no route answered, and why the closest routes did not.

    ``str()`` gives the report that the ``WARNING`` log record shows, written
    when the request arrived.
    """

    #: The request, as recorded in ``m.requests``.
    request: RecordedRequest
    #: The closest routes, closest first, each with the reasons it did not
    #: match, such as ``"path: expected '/users', got '/user'"`` or
    #: ``"exhausted after 1 call"``.
    closest: tuple[tuple[RegisteredRoute, tuple[str, ...]], ...]
    #: The report: the request (method, URL, headers other than the routine
    #: ones, a body preview) and the closest routes with their reasons.
    report: str

    def __str__(self) -> str:
        return self.report


def unmatched_request(
    request: RecordedRequest,
    routes: Sequence[Route],
    journal: Sequence[RecordedRequest],
    *,
    limit: int,
) -> UnmatchedRequest:
    """Explain why the ``limit`` routes closest to ``request`` did not serve it."""
    url = request.key[1]
    explained = []
    for route in routes:
        found = route.explain(request, url)
        explained.append((sum(m.weight for m in found), route.order, route, found))
    explained.sort(key=lambda item: item[:2])
    lines = [
        f"no route matches {request.method} {request.url}",
        "Request:",
        describe_request(request, "  "),
    ]
    if not routes:
        lines.append("No routes are registered.")
    else:
        lines.append("Closest route:" if len(routes) == 1 else "Closest routes:")
    closest = []
    for _, _, route, mismatches in explained[:limit]:
        reasons = tuple(m.summary for m in mismatches) or (
            "no difference now (was it registered after the request arrived?)",
        )
        closest.append((RegisteredRoute(route, journal), reasons))
        lines.append(f"  {route.describe()}")
        lines += [f"    - {reason}" for reason in reasons]
    if len(routes) > limit:
        others = len(routes) - limit
        lines.append(f"  ... and {others} other route{'' if others == 1 else 's'}")
    return UnmatchedRequest(request, tuple(closest), "\n".join(lines))


def strict_failure(
    unused: Sequence[RegisteredRoute], unmatched: Sequence[UnmatchedRequest]
) -> StrictCheckError | None:
    """The error for ``assert_all_called`` / ``assert_all_matched``, if any."""
    if not unused and not unmatched:
        return None
    sections = []
    if unused:
        count = "1 route was" if len(unused) == 1 else f"{len(unused)} routes were"
        sections.append(
            f"{count} never called (assert_all_called=True):\n"
            + "\n".join(f"  {route._route.describe()}" for route in unused)
        )
    if unmatched:
        count = "1 request" if len(unmatched) == 1 else f"{len(unmatched)} requests"
        reports = "\n".join(
            "  " + str(item).replace("\n", "\n    ") for item in unmatched
        )
        sections.append(
            f"{count} matched no route (assert_all_matched=True):\n{reports}"
        )
    return StrictCheckError("\n".join(sections), tuple(unused), tuple(unmatched))
