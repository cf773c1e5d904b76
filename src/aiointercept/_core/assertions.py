"""Assertions on recorded requests: what a call is expected to be, and checks.

:class:`CallSpec` holds the expectations of ``assert_called_with`` and friends
on one request; the ``expect_*`` functions check a list of
:class:`RecordedRequest` against a count or a spec. They read no socket and
need no event loop. Failures are :class:`AssertionError` with a message meant
to be read in a test report: what was expected, what was received, as a diff,
and the closest recorded requests when the expected one is missing (rendered
by :mod:`.diagnostics`).
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from yarl import URL

from .diagnostics import (
    SIMILAR,
    describe_request,
    list_requests,
    list_similar,
    n_calls,
    render_diff,
)
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
from .mismatch import Mismatch, method_mismatches, url_mismatches
from .routing import check_method
from .urls import normalize_url

if TYPE_CHECKING:
    from .request import RecordedRequest

__all__ = [
    "ASSERTION_PARAMETERS",
    "CLIENT_KEYWORDS",
    "MOCK",
    "CallCountAssertions",
    "CallSpec",
    "expect_any_call",
    "expect_call_count",
    "expect_called_with",
    "expected_key",
    "explain_key",
    "ignore_extra_keywords",
    "resolve_url",
]

MOCK = "the mock"


#: Keywords of aiohttp's ``ClientSession.request`` that aioresponses-era
#: assertions pass and that say nothing about the request the server received:
#: never taken for a misspelt parameter.
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

#: The parameters of ``assert_called_with`` and friends, which an extra
#: keyword is compared with to tell a misspelling.
ASSERTION_PARAMETERS = (
    "url",
    "method",
    "params",
    "data",
    "json",
    "headers",
    "strict_headers",
)


def ignore_extra_keywords(assertion: str, keywords: Mapping[str, object]) -> None:
    """Drop the keywords that an assertion does not take, as aiointercept
    1.0.0 did, with a :exc:`DeprecationWarning` in its words (so that its
    users' warning filters still match) that names them.

    A keyword close to one of the assertion's parameters (``jsno=`` for
    ``json=``) is a misspelling, not an extra: a :exc:`TypeError` says which
    parameter was meant.
    """
    for name in keywords:
        if name in CLIENT_KEYWORDS:
            continue
        close = difflib.get_close_matches(name, ASSERTION_PARAMETERS, n=1)
        if close:
            raise TypeError(
                f"{assertion}() got an unexpected keyword argument {name!r}: "
                f"did you mean {close[0]!r}?"
            )
    if keywords:
        # 1.0.0's assert_called_once_with warned as assert_called_with
        words = (
            "assert_any_call"
            if assertion == "assert_any_call"
            else ("assert_called_with")
        )
        warnings.warn(
            f"Passing extra parameters to {words} via kwargs is deprecated: "
            f"{assertion}() does not check {sorted(keywords)!r}, which say "
            "nothing about the request the server received; remove them",
            DeprecationWarning,
            stacklevel=3,
        )


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
        if (
            data is None
            and json is None
            and headers is None
            and strict_headers is False
            and params is None
            and url is None
        ):
            return _NO_EXPECTATION  # the common case, with nothing to check
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


#: What an assertion given no expectation checks: nothing but the URL and
#: method it names.
_NO_EXPECTATION = CallSpec(())


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
        message = f"expected {subject} not to be called, but it got {n_calls(count)}:"
    elif exactly is not None:
        message = f"expected {subject} to be called once, but it got {n_calls(count)}"
        message += ":" if count else "."
    else:
        message = f"expected {subject} to be called, but it got no calls."
    if count:
        message += "\n" + list_requests(calls)
    raise AssertionError(message)


def _not_found(
    expected: str,
    candidates: Sequence[RecordedRequest],
    explain: Callable[[RecordedRequest], list[Mismatch]],
) -> AssertionError:
    return AssertionError(
        f"expected a call to {expected}, but there was none.\n"
        + list_similar(candidates, explain)
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
            + list_requests(calls)
        )
    last = calls[-1]
    reasons = spec.mismatches(last)
    if not reasons:
        return
    which = "The call" if len(calls) == 1 else f"The most recent of {len(calls)} calls"
    raise AssertionError(
        f"{name}: {subject} was not called with the expected arguments.\n"
        f"{which} differs (- expected, + actual):\n"
        f"{render_diff(reasons, '  ')}\n"
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
        f"assert_any_call: {subject} got {n_calls(len(calls))}, none with the "
        "expected arguments (- expected, + actual):"
    ]
    shown = diffs[-SIMILAR:]
    if len(diffs) > len(shown):
        lines.append(f"  ... {len(diffs) - len(shown)} earlier calls not shown")
    for number, call, reasons in shown:
        lines.append(f"  call {number} of {len(calls)}: {call.method} {call.url}")
        lines.append(render_diff(reasons, "    "))
    raise AssertionError("\n".join(lines))


def explain_key(key: tuple[str, URL]) -> Callable[[RecordedRequest], list[Mismatch]]:
    """How a request differs from an expected method and URL."""
    method, url = key

    def explain(request: RecordedRequest) -> list[Mismatch]:
        return method_mismatches(method, request.method) + url_mismatches(
            url, request.key[1]
        )

    return explain


class CallCountAssertions:
    """``assert_called``, ``assert_not_called`` and ``assert_called_once``,
    shared by the ``aiointercept`` instance (every request it received) and
    route handles (the requests one route served).

    Each says which requests are in scope (:meth:`_calls`), how to name
    itself in a failure (:attr:`_subject`), and what to report when nothing
    at all was called (:meth:`_uncalled`: a route lists the requests that
    came closest).
    """

    __slots__ = ()

    @property
    def _subject(self) -> str:
        raise NotImplementedError

    def _calls(self) -> list[RecordedRequest]:
        """The requests in scope, oldest first (a copy)."""
        raise NotImplementedError

    def _uncalled(self) -> None:
        """Raise the failure of an assertion that needs a call, when there is
        none; by default, the count check reports it."""

    def assert_called(self) -> None:
        """At least one request was received (by the instance, or served by the
        route)."""
        __tracebackhide__ = True
        calls = self._calls()
        if not calls:
            self._uncalled()
        expect_call_count(calls, self._subject, at_least=1)

    def assert_not_called(self) -> None:
        """No request was received (by the instance, or served by the route)."""
        __tracebackhide__ = True
        expect_call_count(self._calls(), self._subject, exactly=0)

    def assert_called_once(self) -> None:
        """Exactly one request was received (by the instance, or served by the
        route)."""
        __tracebackhide__ = True
        calls = self._calls()
        if not calls:
            self._uncalled()
        expect_call_count(calls, self._subject, exactly=1)
