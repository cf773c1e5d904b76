"""Every public parameter's invalid values, the error each gets, and the table
of them in ``docs/errors.rst``.

:data:`CASES` is the single source: each case is run, and the tables in the
docs must list exactly these cases, in this order. To rewrite the tables after
changing the cases, run::

    AIOINTERCEPT_WRITE_ERRORS_TABLE=1 pytest tests/reliability/test_invalid_input.py
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from yarl import URL

from aiointercept import CallbackResult, aiointercept
from tests.support import paths

#: The table of errors that these cases write and check.
ERRORS_PAGE = paths.DOCS / "errors.rst"
BEGIN = ".. begin-errors-table"
END = ".. end-errors-table"
URL_ = "https://api.example.com/users"


@dataclass(frozen=True)
class Case:
    """One invalid value: where it is passed, as the docs show it, and the
    error it gets (the exact type, and a fragment of the message)."""

    section: str
    parameter: str
    shown: str
    error: type[Exception]
    message: str
    call: Callable[[], object]
    #: For ``add()`` cases: its keyword arguments, to try the shortcuts too.
    add_kwargs: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def row(self) -> tuple[str, str, str, str, str]:
        return (
            self.section,
            f"``{self.parameter}``",
            self.shown,
            f"``{self.error.__name__}``",
            f"``{self.message}``",
        )


CONSTRUCTOR = "aiointercept(...)"
ADD = "m.add(...) and the shortcuts m.get(...), m.post(...) ..."
RESULT = "CallbackResult(...)"
DECORATOR = "@aiointercept(...) on a function"


def construct(**kwargs: Any) -> Callable[[], object]:
    return lambda: aiointercept(**kwargs)


def constructor(
    parameter: str,
    shown: str,
    error: type[Exception],
    message: str,
    **kwargs: Any,
) -> Case:
    return Case(CONSTRUCTOR, parameter, shown, error, message, construct(**kwargs))


def add(
    parameter: str,
    shown: str,
    error: type[Exception],
    message: str,
    url: Any = URL_,
    **kwargs: Any,
) -> Case:
    def call() -> object:
        return aiointercept().add(url, **kwargs)

    return Case(ADD, parameter, shown, error, message, call, {"url": url, **kwargs})


def result(
    parameter: str, shown: str, error: type[Exception], message: str, **kwargs: Any
) -> Case:
    return Case(
        RESULT, parameter, shown, error, message, lambda: CallbackResult(**kwargs)
    )


def decorate(
    parameter: str,
    shown: str,
    message: str,
    func: Callable[..., Any],
    **kwargs: Any,
) -> Case:
    return Case(
        DECORATOR,
        parameter,
        shown,
        TypeError,
        message,
        lambda: aiointercept(**kwargs)(func),
    )


def sync_function(m: aiointercept) -> None:
    """Not a coroutine function."""


async def no_parameters() -> None:
    """Nothing to receive the instance."""


async def one_parameter(client: object) -> None:
    """Takes ``client``, not ``m``."""


async def positional_only(m: aiointercept, /) -> None:
    """``m`` cannot be passed by keyword."""


async def async_predicate(request: object) -> bool:
    return True


def callback(url: URL, **kwargs: Any) -> CallbackResult:
    return CallbackResult()


EXTERNAL = "https://api.example.com"
NAN = float("nan")
CRLF = "\r\n"

#: A document that contains itself.
CIRCULAR: dict[str, object] = {}
CIRCULAR["self"] = CIRCULAR

CASES: list[Case] = [
    # -- aiointercept(...) ------------------------------------------------------
    constructor(
        "mock_external_urls",
        "``1``",
        TypeError,
        "mock_external_urls must be a bool",
        mock_external_urls=1,
    ),
    constructor(
        "mock_external_urls",
        '``"yes"``',
        TypeError,
        "mock_external_urls must be a bool",
        mock_external_urls="yes",
    ),
    constructor(
        "passthrough",
        f'``"{EXTERNAL}"`` (a str, not a list)',
        TypeError,
        "passthrough must be a list of hosts",
        mock_external_urls=True,
        passthrough=EXTERNAL,
    ),
    constructor(
        "passthrough",
        "``[443]``",
        TypeError,
        "passthrough entries must be str",
        mock_external_urls=True,
        passthrough=[443],
    ),
    constructor(
        "passthrough",
        '``["ftp://files.example.com"]``',
        ValueError,
        "passthrough entries use http or https",
        mock_external_urls=True,
        passthrough=["ftp://files.example.com"],
    ),
    constructor(
        "passthrough",
        '``[""]``',
        ValueError,
        "invalid passthrough host",
        mock_external_urls=True,
        passthrough=[""],
    ),
    constructor(
        "passthrough",
        f'``["{EXTERNAL}"]`` without ``mock_external_urls=True``',
        ValueError,
        "passthrough requires mock_external_urls=True",
        passthrough=[EXTERNAL],
    ),
    constructor(
        "passthrough_unmatched",
        "``1``",
        TypeError,
        "passthrough_unmatched must be a bool",
        mock_external_urls=True,
        passthrough_unmatched=1,
    ),
    constructor(
        "passthrough_unmatched",
        "``True`` without ``mock_external_urls=True``",
        ValueError,
        "passthrough_unmatched requires mock_external_urls=True",
        passthrough_unmatched=True,
    ),
    constructor(
        "block_network",
        "``0``",
        TypeError,
        "block_network must be a bool",
        mock_external_urls=True,
        block_network=0,
    ),
    constructor(
        "block_network",
        "``False`` without ``mock_external_urls=True``",
        ValueError,
        "block_network=False requires mock_external_urls=True",
        block_network=False,
    ),
    constructor(
        "cassette",
        "``1``",
        TypeError,
        "cassette must be a path",
        mock_external_urls=True,
        cassette=1,
    ),
    constructor(
        "cassette",
        '``"api.yaml"`` without ``mock_external_urls=True``',
        ValueError,
        "cassette requires mock_external_urls=True",
        cassette="api.yaml",
    ),
    constructor(
        "record_mode",
        '``"sometimes"``',
        ValueError,
        "record_mode must be one of none, once, new_episodes, all, rewrite, verify",
        mock_external_urls=True,
        cassette="api.yaml",
        record_mode="sometimes",
    ),
    constructor(
        "record_mode",
        '``"none"`` without ``cassette``',
        ValueError,
        "record_mode requires cassette=",
        mock_external_urls=True,
        record_mode="none",
    ),
    constructor(
        "match_on",
        '``["verb"]``',
        ValueError,
        "match_on takes matcher names among method, uri",
        mock_external_urls=True,
        cassette="api.yaml",
        match_on=["verb"],
    ),
    constructor(
        "match_on",
        '``"method"``',
        TypeError,
        "match_on must be a list of matcher names or functions",
        mock_external_urls=True,
        cassette="api.yaml",
        match_on="method",
    ),
    constructor(
        "filter_headers",
        '``"authorization"``',
        TypeError,
        "filter_headers must be a list of names or",
        mock_external_urls=True,
        cassette="api.yaml",
        filter_headers="authorization",
    ),
    constructor(
        "filter_query_parameters",
        '``[("key", 1)]``',
        TypeError,
        "filter_query_parameters entries must be a name or a",
        mock_external_urls=True,
        cassette="api.yaml",
        filter_query_parameters=[("key", 1)],
    ),
    constructor(
        "filter_post_data_parameters",
        "``[1]``",
        TypeError,
        "filter_post_data_parameters entries must be a name or a",
        mock_external_urls=True,
        cassette="api.yaml",
        filter_post_data_parameters=[1],
    ),
    constructor(
        "before_record_request",
        "``1``",
        TypeError,
        "before_record_request must be callable or None",
        mock_external_urls=True,
        cassette="api.yaml",
        before_record_request=1,
    ),
    constructor(
        "before_record_response",
        "``1``",
        TypeError,
        "before_record_response must be callable or None",
        mock_external_urls=True,
        cassette="api.yaml",
        before_record_response=1,
    ),
    constructor(
        "scrub_secrets",
        '``"no"``',
        TypeError,
        "scrub_secrets must be a bool, got 'no'",
        mock_external_urls=True,
        cassette="api.yaml",
        scrub_secrets="no",
    ),
    constructor(
        "scrub_secrets",
        "``False`` without ``cassette``",
        ValueError,
        "scrub_secrets requires cassette=",
        mock_external_urls=True,
        scrub_secrets=False,
    ),
    constructor(
        "allow_playback_repeats",
        '``"yes"``',
        TypeError,
        "allow_playback_repeats must be a bool, got 'yes'",
        mock_external_urls=True,
        cassette="api.yaml",
        allow_playback_repeats="yes",
    ),
    constructor(
        "allow_playback_repeats",
        "``True`` without ``cassette``",
        ValueError,
        "allow_playback_repeats requires cassette=",
        mock_external_urls=True,
        allow_playback_repeats=True,
    ),
    constructor(
        "decode_compressed_response",
        "``1``",
        TypeError,
        "decode_compressed_response must be a bool, got 1",
        mock_external_urls=True,
        cassette="api.yaml",
        decode_compressed_response=1,
    ),
    constructor(
        "drop_unused_requests",
        "``None``",
        TypeError,
        "drop_unused_requests must be a bool, got None",
        mock_external_urls=True,
        cassette="api.yaml",
        drop_unused_requests=None,
    ),
    constructor(
        "record_on_exception",
        "``False`` without ``cassette``",
        ValueError,
        "record_on_exception requires cassette=",
        mock_external_urls=True,
        record_on_exception=False,
    ),
    constructor(
        "serializer",
        '``"xml"``',
        ValueError,
        "serializer must be one of yaml, json, got 'xml'",
        mock_external_urls=True,
        cassette="api.yaml",
        serializer="xml",
    ),
    constructor(
        "before_save_interaction",
        "``1``",
        TypeError,
        "before_save_interaction must be a function, a list of functions or None",
        mock_external_urls=True,
        cassette="api.yaml",
        before_save_interaction=1,
    ),
    constructor(
        "after_load_interaction",
        '``[print, "x"]``',
        TypeError,
        "after_load_interaction must be a function, a list of functions or None",
        mock_external_urls=True,
        cassette="api.yaml",
        after_load_interaction=[print, "x"],
    ),
    constructor(
        "filter_sensitive_data",
        '``{"<TOKEN>": b"secret"}``',
        TypeError,
        "the filter_sensitive_data value of '<TOKEN>' must be a str or a function",
        mock_external_urls=True,
        cassette="api.yaml",
        filter_sensitive_data={"<TOKEN>": b"secret"},
    ),
    constructor(
        "json_bodies",
        '``"yaml"``',
        ValueError,
        "json_bodies must be one of text, structured, got 'yaml'",
        mock_external_urls=True,
        cassette="api.yaml",
        json_bodies="yaml",
    ),
    constructor(
        "json_bodies",
        '``"structured"`` without ``cassette``',
        ValueError,
        "json_bodies requires cassette=",
        mock_external_urls=True,
        json_bodies="structured",
    ),
    constructor(
        "stream_timing",
        '``"yes"``',
        TypeError,
        "stream_timing must be a bool, got 'yes'",
        mock_external_urls=True,
        cassette="api.yaml",
        stream_timing="yes",
    ),
    constructor(
        "stream_timing",
        "``True`` without ``cassette``",
        ValueError,
        "stream_timing requires cassette=",
        mock_external_urls=True,
        stream_timing=True,
    ),
    constructor(
        "param",
        '``"not a name"``',
        ValueError,
        "param must be a Python identifier or None",
        param="not a name",
    ),
    constructor(
        "param",
        "``1``",
        TypeError,
        "param must be a Python identifier or None",
        param=1,
    ),
    *(
        constructor(
            "callback_start_timeout",
            shown,
            ValueError,
            "callback_start_timeout must be a positive number of seconds",
            callback_start_timeout=value,
        )
        for shown, value in [
            ("``0``", 0),
            ("``-1.5``", -1.5),
            ('``float("nan")``', NAN),
        ]
    ),
    *(
        constructor(
            "callback_start_timeout",
            shown,
            TypeError,
            "callback_start_timeout must be a positive number of seconds",
            callback_start_timeout=value,
        )
        for shown, value in [("``True``", True), ('``"5"``', "5")]
    ),
    constructor(
        "assert_all_called",
        "``1``",
        TypeError,
        "assert_all_called must be a bool",
        assert_all_called=1,
    ),
    constructor(
        "assert_all_matched",
        '``"yes"``',
        TypeError,
        "assert_all_matched must be a bool",
        assert_all_matched="yes",
    ),
    # -- m.add(...) -------------------------------------------------------------
    add(
        "url",
        "``42``",
        TypeError,
        "url must be a str, a yarl.URL or a compiled re.Pattern",
        url=42,
    ),
    add(
        "url",
        '``b"/users"``',
        TypeError,
        "url must be a str, a yarl.URL or a compiled re.Pattern",
        url=b"/users",
    ),
    add(
        "url",
        '``re.compile(b"/users")``',
        TypeError,
        "url patterns must be str patterns",
        url=re.compile(b"/users"),
    ),
    add(
        "url",
        '``"ftp://files.example.com/x"``',
        ValueError,
        "url must use http or https",
        url="ftp://files.example.com/x",
    ),
    add(
        "url",
        '``"users"``',
        ValueError,
        "url must be absolute or a path starting with '/'",
        url="users",
    ),
    add(
        "url",
        '``"/users"`` before the block starts',
        ValueError,
        "needs the server's address",
        url="/users",
    ),
    add("method", "``1``", TypeError, "method must be a str", method=1),
    *(
        add(
            "method",
            shown,
            ValueError,
            "method must be an HTTP token",
            method=value,
        )
        for shown, value in [
            ('``"GET /"``', "GET /"),
            ('``""``', ""),
            ('``"GET\\r\\n"``', f"GET{CRLF}"),
        ]
    ),
    add(
        "method",
        '``"/users"`` after ``url="POST"`` (the two swapped)',
        ValueError,
        "add() takes the URL first, then the method",
        url="POST",
        method="/users",
    ),
    *(
        add("status", shown, ValueError, "status must be between 100 and 599", status=v)
        for shown, v in [("``99``", 99), ("``600``", 600)]
    ),
    *(
        add("status", shown, TypeError, "status must be an int", status=value)
        for shown, value in [
            ('``"200"``', "200"),
            ("``200.0``", 200.0),
            ("``True``", True),
        ]
    ),
    add(
        "status",
        "``204`` with ``json=`` (or ``body=``)",
        ValueError,
        "a 204 response has no body",
        status=204,
        json={"id": 1},
    ),
    *(
        add("body", shown, TypeError, "body must be str or bytes", body=value)
        for shown, value in [
            ("``1``", 1),
            ("``None``", None),
            ('``{"a": 1}``', {"a": 1}),
        ]
    ),
    add(
        "json",
        "``{1, 2}`` (a set)",
        TypeError,
        "json is not JSON serializable",
        json={1, 2},
    ),
    add(
        "json",
        '``float("nan")``',
        TypeError,
        "json is not JSON serializable",
        json=NAN,
    ),
    add(
        "payload",
        "``object()``",
        TypeError,
        "payload is not JSON serializable",
        payload=object(),
    ),
    add(
        "payload",
        "a dict that contains itself",
        TypeError,
        "payload is not JSON serializable (Circular reference detected)",
        payload=CIRCULAR,
    ),
    add(
        "json",
        '``{"a": 1}`` with ``payload={"a": 2}``',
        TypeError,
        "json= and payload= are aliases of one parameter, but got two documents",
        json={"a": 1},
        payload={"a": 2},
    ),
    add(
        "headers",
        '``"X-Token: t"``',
        TypeError,
        "headers must be a mapping or an iterable of (name, value) pairs",
        headers="X-Token: t",
    ),
    add(
        "headers",
        '``[("X-Token",)]``',
        TypeError,
        "headers must be (name, value) pairs",
        headers=[("X-Token",)],
    ),
    add(
        "headers",
        '``{"Bad Name": "v"}``',
        ValueError,
        "invalid header name",
        headers={"Bad Name": "v"},
    ),
    add(
        "headers",
        '``{"X-Token": 1}``',
        TypeError,
        "must have a str value",
        headers={"X-Token": 1},
    ),
    add(
        "headers",
        '``{"X-Token": "a\\r\\nb"}``',
        ValueError,
        "must not contain CR, LF or NUL",
        headers={"X-Token": f"a{CRLF}b"},
    ),
    add(
        "content_type",
        "``1``",
        TypeError,
        "content_type must be a str or None",
        content_type=1,
    ),
    add("content_type", '``""``', ValueError, "invalid content_type", content_type=""),
    add(
        "content_type",
        '``"text/plain\\r\\nX: y"``',
        ValueError,
        "invalid content_type",
        content_type=f"text/plain{CRLF}X: y",
    ),
    *(
        add(
            "repeat",
            shown,
            ValueError,
            "repeat must be True, False or a positive int",
            repeat=value,
        )
        for shown, value in [("``0``", 0), ("``-1``", -1)]
    ),
    *(
        add("repeat", shown, TypeError, "repeat must be a bool or an int", repeat=value)
        for shown, value in [("``1.5``", 1.5), ('``"3"``', "3"), ("``None``", None)]
    ),
    add(
        "callback",
        '``"not callable"``',
        TypeError,
        "callback must be callable",
        callback="not callable",
    ),
    add(
        "callback",
        "``lambda: CallbackResult()`` (it takes no URL)",
        TypeError,
        "cannot be called as callback(url, **kwargs)",
        callback=lambda: CallbackResult(),
    ),
    add(
        "callback",
        "with ``compress=True`` (or ``chunk_delay=``)",
        TypeError,
        "callback= builds the response from its CallbackResult",
        callback=callback,
        compress=True,
    ),
    add("reason", "``1``", TypeError, "reason must be a str or None", reason=1),
    add(
        "reason",
        '``"OK\\r\\n"``',
        ValueError,
        "reason must not contain CR, LF or NUL",
        reason=f"OK{CRLF}",
    ),
    add(
        "exception",
        "with ``callback=``",
        TypeError,
        "exception= closes the connection without a response",
        exception=True,
        callback=callback,
    ),
    add(
        "exception",
        'with ``body="x"`` (or another response argument)',
        TypeError,
        "exception= closes the connection without a response",
        exception=True,
        body="x",
    ),
    add(
        "match_query",
        '``"page=2"``',
        TypeError,
        "match_query must be a mapping",
        match_query="page=2",
    ),
    add(
        "match_query",
        "``{}``",
        ValueError,
        "match_query must not be empty",
        match_query={},
    ),
    add(
        "match_query",
        '``{1: "a"}``',
        TypeError,
        "match_query keys must be str",
        match_query={1: "a"},
    ),
    *(
        add(
            "match_query",
            shown,
            TypeError,
            "values must be str, int or float",
            match_query=value,
        )
        for shown, value in [
            ('``{"page": None}``', {"page": None}),
            ('``{"page": True}``', {"page": True}),
        ]
    ),
    add(
        "match_query",
        '``{"page": []}``',
        ValueError,
        "must not be an empty list",
        match_query={"page": []},
    ),
    add(
        "match_query",
        "with a query in ``url`` too",
        ValueError,
        "pass the query either in the url or in match_query, not both",
        url=f"{URL_}?page=1",
        match_query={"page": "2"},
    ),
    add(
        "match_headers",
        '``"X-Token: t"``',
        TypeError,
        "match_headers must be a mapping",
        match_headers="X-Token: t",
    ),
    add(
        "match_headers",
        "``{}``",
        ValueError,
        "match_headers must not be empty",
        match_headers={},
    ),
    add(
        "match_headers",
        '``{"Bad Name": "v"}``',
        ValueError,
        "match_headers has an invalid header name",
        match_headers={"Bad Name": "v"},
    ),
    add(
        "match_headers",
        '``{"X-Token": 1}``',
        TypeError,
        "must be a str",
        match_headers={"X-Token": 1},
    ),
    add(
        "match_json",
        "``{1, 2}`` (a set)",
        TypeError,
        "match_json is not JSON serializable",
        match_json={1, 2},
    ),
    add(
        "match_json",
        "with ``match_body=`` or ``match_form=`` too",
        TypeError,
        "pass at most one of match_json, match_body and match_form",
        match_json={},
        match_body=b"",
    ),
    add(
        "match_body",
        "``1``",
        TypeError,
        "match_body must be str or bytes",
        match_body=1,
    ),
    add(
        "match_form",
        '``"a=1"``',
        TypeError,
        "match_form must be a mapping",
        match_form="a=1",
    ),
    add(
        "match_form",
        "``{}``",
        ValueError,
        "match_form must not be empty",
        match_form={},
    ),
    add(
        "match",
        '``"yes"``',
        TypeError,
        "match must be a callable taking the request",
        match="yes",
    ),
    add(
        "match",
        "an async function",
        TypeError,
        "not an async function",
        match=async_predicate,
    ),
    add(
        "delay",
        "``-1``",
        ValueError,
        "delay must be a finite, non-negative number of seconds",
        delay=-1,
    ),
    add(
        "delay",
        '``float("nan")``',
        ValueError,
        "delay must be a finite, non-negative number of seconds",
        delay=float("nan"),
    ),
    add("delay", '``"1"``', TypeError, "delay must be a number of seconds", delay="1"),
    add(
        "delay", "``True``", TypeError, "delay must be a number of seconds", delay=True
    ),
    add(
        "delay",
        "with ``callback=``",
        TypeError,
        "callback= builds the response from its CallbackResult",
        delay=1,
        callback=lambda url, **kwargs: CallbackResult(),
    ),
    add(
        "fault",
        '``"explode"``',
        ValueError,
        "fault must be a Fault or one of",
        fault="explode",
    ),
    add("fault", "``1``", TypeError, "fault must be a Fault or one of", fault=1),
    add(
        "fault",
        "with ``exception=True``",
        TypeError,
        "exception= closes the connection without a response",
        fault="reset",
        exception=True,
    ),
    add(
        "fault",
        "with ``callback=``",
        TypeError,
        "callback= builds the response from its CallbackResult",
        fault="reset",
        callback=lambda url, **kwargs: CallbackResult(),
    ),
    add(
        "chunk_delay",
        "``-0.5``",
        ValueError,
        "chunk_delay must be a finite, non-negative number of seconds",
        body=[b"a"],
        chunk_delay=-0.5,
    ),
    add(
        "chunk_delay",
        'with ``body="text"``',
        ValueError,
        "chunk_delay applies to streamed bodies",
        body="text",
        chunk_delay=0.1,
    ),
    add(
        "chunk_delay",
        "with ``json=[]``",
        ValueError,
        "chunk_delay applies to streamed bodies",
        json=[],
        chunk_delay=0.1,
    ),
    add(
        "compress",
        '``"zip"``',
        ValueError,
        "compress must be True, None or one of 'gzip', 'deflate', 'br'",
        compress="zip",
    ),
    add(
        "body",
        "a generator with ``repeat=True``",
        ValueError,
        "can be iterated only once",
        body=(chunk for chunk in [b"a"]),
        repeat=True,
    ),
    # -- CallbackResult(...) -----------------------------------------------------
    result(
        "status",
        "``600``",
        ValueError,
        "status must be between 100 and 599",
        status=600,
    ),
    result("status", '``"200"``', TypeError, "status must be an int", status="200"),
    result(
        "status",
        '``204`` with ``body="text"`` (or ``payload=``)',
        ValueError,
        "a 204 response has no body",
        status=204,
        body="text",
    ),
    result("body", "``1``", TypeError, "body must be str or bytes", body=1),
    result(
        "payload",
        "``object()``",
        TypeError,
        "payload is not JSON serializable",
        payload=object(),
    ),
    result(
        "headers",
        '``{"X-Token": 1}``',
        TypeError,
        "must have a str value",
        headers={"X-Token": 1},
    ),
    result(
        "headers",
        '``{"Bad Name": "v"}``',
        ValueError,
        "invalid header name",
        headers={"Bad Name": "v"},
    ),
    result(
        "content_type",
        "``1``",
        TypeError,
        "content_type must be a str or None",
        content_type=1,
    ),
    result(
        "content_type", '``""``', ValueError, "invalid content_type", content_type=""
    ),
    result("reason", "``1``", TypeError, "reason must be a str or None", reason=1),
    result(
        "reason",
        '``"a\\nb"``',
        ValueError,
        "reason must not contain CR, LF or NUL",
        reason="a\nb",
    ),
    result(
        "delay",
        "``-1``",
        ValueError,
        "delay must be a finite, non-negative number of seconds",
        delay=-1,
    ),
    result(
        "fault",
        '``"explode"``',
        ValueError,
        "fault must be a Fault or one of",
        fault="explode",
    ),
    result(
        "chunk_delay",
        "``-1``",
        ValueError,
        "chunk_delay must be a finite, non-negative number of seconds",
        body=[b"a"],
        chunk_delay=-1,
    ),
    result(
        "chunk_delay",
        "with ``payload=[]``",
        ValueError,
        "chunk_delay applies to streamed bodies",
        payload=[],
        chunk_delay=0.1,
    ),
    result(
        "compress",
        '``"zip"``',
        ValueError,
        "compress must be True, None or one of 'gzip', 'deflate', 'br'",
        compress="zip",
    ),
    # -- the decorator -----------------------------------------------------------
    decorate(
        "the function",
        "a function that is not ``async``",
        "@aiointercept decorates async functions",
        sync_function,
    ),
    decorate(
        "the function",
        "an async function with no positional parameter",
        "has no positional parameter to receive the aiointercept instance",
        no_parameters,
    ),
    decorate(
        "param",
        '``"m"`` when the function has no parameter ``m`` (nor ``**kwargs``)',
        "has no parameter named 'm'",
        one_parameter,
        param="m",
    ),
    decorate(
        "param",
        '``"m"`` naming a positional-only parameter',
        "names a positional-only parameter",
        positional_only,
        param="m",
    ),
]

SECTIONS = [CONSTRUCTOR, ADD, RESULT, DECORATOR]


def case_id(case: Case) -> str:
    short = {CONSTRUCTOR: "init", ADD: "add", RESULT: "result", DECORATOR: "decorator"}
    return f"{short[case.section]}-{case.parameter}-{CASES.index(case)}"


@pytest.mark.parametrize("case", CASES, ids=[case_id(case) for case in CASES])
def test_an_invalid_value_gets_its_error(case: Case) -> None:
    with pytest.raises(case.error) as excinfo:
        case.call()
    assert type(excinfo.value) is case.error
    assert case.message in str(excinfo.value)


#: The ``add()`` cases the shortcuts can take (they set the method themselves).
ADD_CASES = [
    case for case in CASES if case.add_kwargs is not None and case.parameter != "method"
]


@pytest.mark.parametrize("case", ADD_CASES, ids=[case_id(case) for case in ADD_CASES])
@pytest.mark.parametrize("shortcut", ["get", "post", "delete"])
def test_the_shortcuts_report_the_same_errors(case: Case, shortcut: str) -> None:
    assert case.add_kwargs is not None
    kwargs = dict(case.add_kwargs)
    url = kwargs.pop("url")
    with pytest.raises(case.error) as excinfo:
        getattr(aiointercept(), shortcut)(url, **kwargs)
    assert case.message in str(excinfo.value)


def public_parameters(func: Callable[..., Any]) -> set[str]:
    """The parameters of ``func`` but ``self`` and the ``**unknown`` that
    reports misspelt keywords."""
    return {
        name
        for name, parameter in inspect.signature(func).parameters.items()
        if name != "self" and parameter.kind is not parameter.VAR_KEYWORD
    }


@pytest.mark.parametrize(
    ("section", "func"),
    [
        (CONSTRUCTOR, aiointercept.__init__),
        (ADD, aiointercept.add),
        (RESULT, CallbackResult.__init__),
    ],
)
def test_every_public_parameter_has_its_invalid_values(
    section: str, func: Callable[..., Any]
) -> None:
    covered = {case.parameter for case in CASES if case.section == section}
    assert covered == public_parameters(func)


# -- the table in the docs ------------------------------------------------------------


def render(cases: list[Case]) -> str:
    """The generated part of ``docs/errors.rst``: one table per section."""
    blocks = []
    for section in SECTIONS:
        rows = [
            "   * - Parameter",
            "     - Invalid value",
            "     - Error",
            "     - The message says",
        ]
        for case in cases:
            if case.section == section:
                _, parameter, shown, error, message = case.row
                rows += [
                    f"   * - {parameter}",
                    f"     - {shown}",
                    f"     - {error}",
                    f"     - {message}",
                ]
        blocks.append(
            "\n".join(
                [
                    f".. list-table:: ``{section}``",
                    "   :header-rows: 1",
                    "   :widths: 18 34 12 36",
                    "",
                    *rows,
                ]
            )
        )
    return "\n\n".join(blocks)


def parse(text: str) -> list[tuple[str, ...]]:
    """The rows of every list-table in ``text`` as (title, cell, cell, ...),
    header rows left out. Cells are one line each, as :func:`render` writes."""
    rows: list[tuple[str, ...]] = []
    title = ""
    table: list[list[str]] = []

    def close() -> None:
        rows.extend((title, *row) for row in table[1:])
        table.clear()

    for line in text.splitlines():
        heading = re.fullmatch(r"\.\. list-table:: ``(.*)``", line)
        if heading:
            close()
            title = heading.group(1)
        elif line.startswith("   * - "):
            table.append([line[len("   * - ") :]])
        elif line.startswith("     - ") and table:
            table[-1].append(line[len("     - ") :])
    close()
    return rows


def write_table() -> None:
    text = ERRORS_PAGE.read_text()
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END)
    ERRORS_PAGE.write_text(f"{text[:start]}\n\n{render(CASES)}\n\n{text[end:]}")


def test_the_docs_table_lists_exactly_these_cases() -> None:
    if os.environ.get("AIOINTERCEPT_WRITE_ERRORS_TABLE"):
        write_table()
    documented = parse(ERRORS_PAGE.read_text())
    expected = [case.row for case in CASES]
    assert documented == expected, (
        "docs/errors.rst does not match the cases of this module; rewrite it "
        "with AIOINTERCEPT_WRITE_ERRORS_TABLE=1"
    )


def test_the_table_parser_reads_what_render_writes() -> None:
    assert parse(render(CASES)) == [case.row for case in CASES]
