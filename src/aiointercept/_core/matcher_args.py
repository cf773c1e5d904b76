"""What the user passes to describe a request, checked and turned into matchers.

The ``match_*`` arguments of ``add()`` become the matchers of a route
(:func:`build_matchers`); the ``check_*`` functions also check the
expectations of ``assert_called_with`` and friends. Each raises
:exc:`TypeError` or :exc:`ValueError` with a message that names the argument.
"""

from __future__ import annotations

import inspect
import json as _json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .matchers import (
    BodyMatcher,
    FormMatcher,
    HeadersMatcher,
    JsonMatcher,
    Matcher,
    PredicateMatcher,
    QueryMatcher,
    any_json,
)
from .responses import TOKEN, encode_json

if TYPE_CHECKING:
    from .request import RecordedRequest

__all__ = [
    "build_matchers",
    "check_body",
    "check_header_mapping",
    "check_json",
    "check_multi_mapping",
    "check_predicate",
]


def check_multi_mapping(
    value: object, name: str, *, allow_empty: bool = False
) -> dict[str, list[str]]:
    """``{"name": "v"}`` or ``{"name": ["v1", "v2"]}`` → ``{"name": [...]}``.

    Values may be ``str``, ``int`` or ``float`` (sent as their ``str()``).
    """
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{name} must be a mapping such as {{'page': '2'}}, got {value!r}"
        )
    if not value and not allow_empty:
        raise ValueError(f"{name} must not be empty, got {value!r}")
    checked: dict[str, list[str]] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"{name} keys must be str, got {key!r}")
        items = list(item) if isinstance(item, list | tuple) else [item]
        if not items:
            raise ValueError(f"{name}[{key!r}] must not be an empty list")
        checked[key] = [_scalar(v, f"{name}[{key!r}]") for v in items]
    return checked


def _scalar(value: object, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"{name} values must be str, int or float, got {value!r}")
    return str(value)


def check_header_mapping(
    value: object, name: str, *, allow_empty: bool = False
) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{name} must be a mapping such as {{'Authorization': 'Bearer t'}}, "
            f"got {value!r}"
        )
    if not value and not allow_empty:
        raise ValueError(f"{name} must not be empty, got {value!r}")
    checked = []
    for key, item in value.items():
        if not isinstance(key, str) or not TOKEN.fullmatch(key):
            raise ValueError(f"{name} has an invalid header name {key!r}")
        if not isinstance(item, str):
            raise TypeError(f"{name}[{key!r}] must be a str, got {item!r}")
        checked.append((key, item))
    return tuple(checked)


def check_json(value: object, name: str) -> object:
    """A JSON document to expect; it may hold :data:`unittest.mock.ANY`."""
    try:
        _json.dumps(value, allow_nan=False, default=any_json)
    except (TypeError, ValueError):
        encode_json(value, name)  # raises with the message of add()'s json=
    return value


def check_body(value: object, name: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"{name} must be str or bytes, got {value!r}")


def check_predicate(value: object, name: str) -> Callable[[RecordedRequest], object]:
    if not callable(value):
        raise TypeError(f"{name} must be a callable taking the request, got {value!r}")
    call = getattr(value, "__call__", None)  # noqa: B004
    if inspect.iscoroutinefunction(value) or inspect.iscoroutinefunction(call):
        raise TypeError(
            f"{name} must be a plain function returning a bool, not an async "
            f"function: {value!r}"
        )
    return value


def build_matchers(
    *,
    match_query: object,
    match_headers: object,
    match_json: object,
    match_body: object,
    match_form: object,
    match: object,
) -> tuple[Matcher, ...]:
    """The matchers of one registration, checked; cheap ones first (add()
    does not call it when there is none)."""
    bodies = [
        name
        for name, given in (
            ("match_json", match_json),
            ("match_body", match_body),
            ("match_form", match_form),
        )
        if given is not None
    ]
    if len(bodies) > 1:
        raise TypeError(
            f"pass at most one of match_json, match_body and match_form, got "
            f"{' and '.join(bodies)}"
        )
    matchers: list[Matcher] = []
    if match_query is not None:
        matchers.append(QueryMatcher(check_multi_mapping(match_query, "match_query")))
    if match_headers is not None:
        matchers.append(
            HeadersMatcher(check_header_mapping(match_headers, "match_headers"))
        )
    if match_json is not None:
        matchers.append(JsonMatcher(check_json(match_json, "match_json")))
    if match_body is not None:
        matchers.append(BodyMatcher(check_body(match_body, "match_body")))
    if match_form is not None:
        matchers.append(FormMatcher(check_multi_mapping(match_form, "match_form")))
    if match is not None:
        matchers.append(PredicateMatcher(check_predicate(match, "match")))
    return tuple(matchers)
