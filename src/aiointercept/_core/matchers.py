"""Request matchers: small objects that say whether a request fits, and why not.

A route matches on method and URL; the matchers here add optional conditions on
the query, the headers and the body, and a user predicate. Each matcher's
:meth:`Matcher.check` returns ``None`` when the request fits, or a
:class:`~.mismatch.Mismatch` that explains the difference in words a person can
act on. The same matchers check the expectations of ``assert_called_with`` and
friends. Building them from what the user passes is :mod:`.matcher_args`'s job.
"""

from __future__ import annotations

import json as _json
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl

from .mismatch import Mismatch, one_line, preview_body

if TYPE_CHECKING:
    from .request import RecordedRequest

__all__ = [
    "BodyMatcher",
    "FormMatcher",
    "HeadersMatcher",
    "JsonMatcher",
    "Matcher",
    "PredicateError",
    "PredicateMatcher",
    "QueryMatcher",
    "any_json",
    "is_any",
    "json_equal",
]

_MISSING = "(missing)"


class Matcher(ABC):
    """One condition a request must meet, beyond its method and URL."""

    __slots__ = ()

    #: Runs user code: evaluated last, only when every other condition holds.
    runs_user_code: ClassVar[bool] = False

    @abstractmethod
    def check(self, request: RecordedRequest) -> Mismatch | None:
        """``None`` when the request fits, else why it does not."""

    @abstractmethod
    def describe(self) -> str:
        """What this matcher requires, in a few words."""


class QueryMatcher(Matcher):
    """The query carries these parameters with these values (others allowed,
    unless ``exact``).

    The values of a parameter are compared in any order.
    """

    __slots__ = ("exact", "expected")

    def __init__(self, expected: Mapping[str, list[str]], exact: bool = False) -> None:
        self.expected = {name: sorted(values) for name, values in expected.items()}
        self.exact = exact

    def check(self, request: RecordedRequest) -> Mismatch | None:
        query: dict[str, list[str]] = request.kwargs["query"]
        if self.exact:
            whole = {name: sorted(values) for name, values in query.items()}
            if whole == self.expected:
                return None
            return Mismatch("query", _render_query(self.expected), _render_query(whole))
        for name, values in self.expected.items():
            actual = query.get(name)
            if actual is None:
                return Mismatch(f"query parameter {name!r}", repr(values), _MISSING)
            if sorted(actual) != values:
                return Mismatch(f"query parameter {name!r}", repr(values), repr(actual))
        return None

    def describe(self) -> str:
        exactly = "exactly " if self.exact else ""
        return f"query {exactly}{_render_multi(self.expected)}"


def _render_query(query: Mapping[str, list[str]]) -> str:
    return (
        "&".join(f"{name}={value}" for name in sorted(query) for value in query[name])
        or "(none)"
    )


class HeadersMatcher(Matcher):
    """The request carries these headers with these values.

    Header names are case-insensitive. When a header is repeated, one of its
    values must be the expected one. With ``strict=True`` the request must carry
    exactly these headers and no others.
    """

    __slots__ = ("expected", "strict")

    def __init__(
        self, expected: Iterable[tuple[str, str]], strict: bool = False
    ) -> None:
        self.expected = tuple(expected)
        self.strict = strict

    def check(self, request: RecordedRequest) -> Mismatch | None:
        headers = request.headers
        if self.strict:
            expected = _render_headers(self.expected)
            actual = _render_headers(headers.items())
            if expected != actual:
                return Mismatch("headers (strict)", expected, actual)
            return None
        for name, value in self.expected:
            values = headers.getall(name, [])
            if not values:
                return Mismatch(f"header {name!r}", repr(value), _MISSING)
            if value not in values:
                shown = repr(values[0]) if len(values) == 1 else repr(values)
                return Mismatch(f"header {name!r}", repr(value), shown)
        return None

    def describe(self) -> str:
        headers = ", ".join(f"{name}: {value}" for name, value in self.expected)
        return f"headers {'exactly ' if self.strict else ''}{{{headers}}}"


def _render_headers(headers: Iterable[tuple[str, str]]) -> str:
    return "\n".join(sorted(f"{name.title()}: {value}" for name, value in headers))


class JsonMatcher(Matcher):
    """The body parses as JSON equal to ``expected``.

    The Content-Type is not looked at. ``true`` and ``1`` differ, as in JSON;
    ``1`` and ``1.0`` are equal.
    """

    __slots__ = ("expected",)

    def __init__(self, expected: Any) -> None:
        self.expected = expected

    def check(self, request: RecordedRequest) -> Mismatch | None:
        body = request.decoded_body
        expected = _pretty_json(self.expected)
        if not body:
            return Mismatch("json body", expected, "(empty body)")
        try:
            actual = _json.loads(body)
        except ValueError:
            return Mismatch("json body", expected, f"not JSON: {preview_body(body)}")
        if json_equal(self.expected, actual):
            return None
        return Mismatch(
            "json body",
            expected,
            _pretty_json(actual),
            brief=(
                f"expected {one_line(_compact_json(self.expected))}, "
                f"got {one_line(_compact_json(actual))}"
            ),
        )

    def describe(self) -> str:
        return f"json {one_line(_compact_json(self.expected))}"


def is_any(value: object) -> bool:
    """``value`` is :data:`unittest.mock.ANY`. Whoever passes it has imported
    :mod:`unittest.mock` (and asyncio with it), so aiointercept does not."""
    mock = sys.modules.get("unittest.mock")
    return mock is not None and value is mock.ANY


def json_equal(expected: Any, actual: Any) -> bool:
    """Equality with JSON's types: booleans are not numbers, tuples are lists;
    :data:`unittest.mock.ANY` equals any value."""
    if is_any(expected):
        return True
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, Mapping):
        return (
            isinstance(actual, Mapping)
            and expected.keys() == actual.keys()
            and all(json_equal(expected[key], actual[key]) for key in expected)
        )
    if isinstance(expected, list | tuple):
        return (
            isinstance(actual, list | tuple)
            and len(expected) == len(actual)
            and all(json_equal(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def _pretty_json(value: Any) -> str:
    return _json.dumps(
        value, indent=2, sort_keys=True, ensure_ascii=False, default=any_json
    )


def _compact_json(value: Any) -> str:
    return _json.dumps(value, sort_keys=True, ensure_ascii=False, default=any_json)


def any_json(value: object) -> str:
    """``mock.ANY`` in an expected JSON document, shown as ``"<ANY>"``."""
    if is_any(value):
        return "<ANY>"
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class BodyMatcher(Matcher):
    """The raw body equals ``expected``, byte for byte."""

    __slots__ = ("expected",)

    def __init__(self, expected: bytes) -> None:
        self.expected = expected

    def check(self, request: RecordedRequest) -> Mismatch | None:
        if request.decoded_body == self.expected:
            return None
        return Mismatch(
            "body",
            _body_lines(self.expected),
            _body_lines(request.decoded_body),
        )

    def describe(self) -> str:
        return f"body {preview_body(self.expected, 40)}"


def _body_lines(body: bytes) -> str:
    """A body for a line diff: its text, one line per line, or its repr."""
    if not body:
        return "(empty)"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return repr(body)
    return "\n".join(repr(line) for line in text.splitlines(keepends=True))


class FormMatcher(Matcher):
    """The body is a URL-encoded form with exactly these fields.

    The values of a field are compared in any order, as are the fields.
    """

    __slots__ = ("expected",)

    def __init__(self, expected: Mapping[str, list[str]]) -> None:
        self.expected = {name: sorted(values) for name, values in expected.items()}

    def check(self, request: RecordedRequest) -> Mismatch | None:
        body = request.decoded_body
        expected = _render_form(self.expected)
        fields = request.form
        if fields is None:
            # whatever the Content-Type says, a URL-encoded body is a form
            try:
                text = body.decode("utf-8")
                pairs = parse_qsl(
                    text, keep_blank_values=True, strict_parsing=bool(text)
                )
            except (UnicodeDecodeError, ValueError):
                pairs = None
            if pairs is not None:
                fields = {}
                for name, value in pairs:
                    fields.setdefault(name, []).append(value)
        if fields is None:
            return Mismatch(
                "form body", expected, f"not a URL-encoded form: {preview_body(body)}"
            )
        actual = {name: sorted(values) for name, values in fields.items()}
        if actual == self.expected:
            return None
        return Mismatch("form body", expected, _render_form(actual) or "(empty)")

    def describe(self) -> str:
        return f"form {_render_multi(self.expected)}"


def _render_form(fields: Mapping[str, list[str]]) -> str:
    return "\n".join(
        f"{name}={value}" for name in sorted(fields) for value in fields[name]
    )


def _render_multi(values: Mapping[str, list[str]]) -> str:
    return "{" + ", ".join(f"{name!r}: {v!r}" for name, v in values.items()) + "}"


class PredicateMatcher(Matcher):
    """``match=``: a function of the recorded request that returns a bool.

    It runs on the thread that serves the request, after every other
    condition of its route held. When it raises, the request does not match
    and the exception is kept in the returned mismatch, to be raised in the
    test when the block exits.
    """

    __slots__ = ("func",)
    runs_user_code = True

    def __init__(self, func: Callable[[RecordedRequest], object]) -> None:
        self.func = func

    def check(self, request: RecordedRequest) -> Mismatch | None:
        try:
            result = self.func(request)
        except BaseException as exc:
            return PredicateError(
                f"match={self.name} raised {type(exc).__name__}: {exc}", error=exc
            )
        if result:
            return None
        return Mismatch(f"match={self.name} returned {result!r}")

    @property
    def name(self) -> str:
        return getattr(self.func, "__qualname__", None) or repr(self.func)

    def describe(self) -> str:
        return f"match={self.name}"


@dataclass(frozen=True, slots=True)
class PredicateError(Mismatch):
    """A ``match=`` predicate that raised instead of answering."""

    error: BaseException | None = None
