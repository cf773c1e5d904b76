"""aiointercept 1.0.0's public API, as its README, docs and MIGRATING.md
describe it: the positional options, start()/stop(), server_host and
server_port, ordered_requests, handlers, the MockResponse and
AiointerceptRequest names, mock.ANY and client options in assertions, and the
reads of a recorded request."""

from __future__ import annotations

import json
import re
import warnings
from typing import Any
from unittest import mock

import httpx
import pytest
from yarl import URL

import aiointercept as package
from aiointercept import (
    AiointerceptRequest,
    CallbackError,
    CallbackResult,
    MockResponse,
    RecordedRequest,
    RegisteredRoute,
    ServerAddress,
    aiointercept,
)

# -- the constructor -------------------------------------------------------------------


def test_the_four_1_0_options_are_positional_in_order() -> None:
    m = aiointercept(True, ["https://real.example.com"], True, "mock")
    assert m.mock_external_urls is True
    assert m.passthrough == ("https://real.example.com",)
    assert m.passthrough_unmatched is True
    assert m.param == "mock"


def test_the_options_added_since_1_0_stay_keyword_only() -> None:
    with pytest.raises(TypeError, match="positional"):
        aiointercept(False, None, False, None, 5.0)  # type: ignore[call-arg]


def test_a_bare_decorator_says_to_add_parentheses() -> None:
    with pytest.raises(TypeError, match=re.escape("@aiointercept()")) as excinfo:

        @aiointercept  # type: ignore[arg-type]
        async def test_something(m: aiointercept) -> None: ...

    assert "test_something" in str(excinfo.value)


def test_a_positional_non_bool_still_names_the_value() -> None:
    with pytest.raises(TypeError, match="must be a bool, got 'yes'"):
        aiointercept("yes")  # type: ignore[arg-type]


# -- start() and stop() ----------------------------------------------------------------


@pytest.mark.anyio
async def test_start_and_stop_run_a_block() -> None:
    m = aiointercept()
    started = await m.start()
    assert started is m
    try:
        m.get("/users", payload=[{"id": 1}])
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/users")
        assert response.json() == [{"id": 1}]
    finally:
        await m.stop()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{m.server_url}/users")
    assert m.call_count == 1  # the records outlive the block


@pytest.mark.anyio
async def test_stop_raises_a_callback_error_like_the_block_exit() -> None:
    def broken(url: URL, **kwargs: Any) -> CallbackResult:
        raise LookupError("no such user: 7")

    m = aiointercept()
    await m.start()
    m.get("/users/7", callback=broken)
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{m.server_url}/users/7")
    assert response.status_code == 500
    with pytest.raises(CallbackError, match="no such user: 7"):
        await m.stop()


@pytest.mark.anyio
async def test_stop_runs_the_strict_checks() -> None:
    m = aiointercept(assert_all_called=True)
    await m.start()
    m.get("/never")
    with pytest.raises(AssertionError, match="/never"):
        await m.stop()


@pytest.mark.anyio
async def test_start_twice_and_stop_without_start_are_errors() -> None:
    m = aiointercept()
    with pytest.raises(RuntimeError, match="not running"):
        await m.stop()
    await m.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            await m.start()
    finally:
        await m.stop()
    with pytest.raises(RuntimeError, match="not running"):
        await m.stop()


@pytest.mark.anyio
async def test_server_host_and_port_make_server_url() -> None:
    async with aiointercept() as m:
        assert m.server_host == "127.0.0.1"
        assert m.server_url == f"http://{m.server_host}:{m.server_port}"
        async with httpx.AsyncClient() as client:
            m.get("/ping", body="pong")
            url = f"http://{m.server_host}:{m.server_port}/ping"
            assert (await client.get(url)).text == "pong"


def test_server_host_before_the_block_says_when_it_is_set() -> None:
    with pytest.raises(RuntimeError, match="set when the block starts"):
        _ = aiointercept().server_port


# -- m.server -------------------------------------------------------------------------


def server_of(m: aiointercept) -> ServerAddress | None:
    """``m.server``, read anew (a type checker would keep an earlier read)."""
    return m.server


@pytest.mark.anyio
async def test_server_is_set_while_the_block_runs_and_none_after_stop() -> None:
    m = aiointercept()
    assert server_of(m) is None
    await m.start()
    try:
        server = server_of(m)
        assert isinstance(server, ServerAddress)
        assert (server.host, server.port) == (m.server_host, m.server_port)
        assert server.url == m.server_url
        assert server.scheme == "http"
        m.get("/ping", body="pong")
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{server.url}/ping")
        assert response.text == "pong"
    finally:
        await m.stop()
    assert server_of(m) is None
    assert m.server_url == server.url  # server_url keeps its last value


@pytest.mark.anyio
async def test_server_make_url_joins_a_path_to_the_server() -> None:
    async with aiointercept() as m, httpx.AsyncClient() as client:
        assert m.server is not None
        url = m.server.make_url("/users?page=2")
        assert url == URL(f"{m.server_url}/users?page=2")
        m.get(url, body="page 2")
        assert (await client.get(str(url))).text == "page 2"
        with pytest.raises(ValueError, match="'users'"):
            m.server.make_url("users")
        with pytest.raises(TypeError, match="b'/users'"):
            m.server.make_url(b"/users")  # type: ignore[arg-type]


def test_server_follows_a_sync_block_and_each_entry() -> None:
    m = aiointercept()
    with m:
        first = server_of(m)
        assert first is not None
        assert server_of(m) == first  # stable while the block runs
    assert server_of(m) is None
    with m:
        second = server_of(m)
        assert second is not None
        assert second.url == m.server_url
    assert server_of(m) is None


# -- a route after repeat=True ---------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://mix.test/path", re.compile(r"^http://mix\.test/.*$")]
)
@pytest.mark.parametrize("repeat", [False, 1, 3, True])
def test_a_route_after_repeat_true_is_refused_with_1_0_words(
    url: str | re.Pattern[str], repeat: bool | int
) -> None:
    with aiointercept(mock_external_urls=True) as m:
        m.get(url, status=200, repeat=True)
        with pytest.raises(
            ValueError, match="repeat=True, cannot add more handlers"
        ) as raised:
            m.get(url, status=201, repeat=repeat)
        message = str(raised.value)
        # the explanation follows 1.0.0's words
        assert message.index("cannot add more handlers") < message.index(
            "could never serve a request"
        )
        assert "clear()" in message
        assert len(m.handlers) == 1  # nothing was added


@pytest.mark.anyio
async def test_a_repeat_true_route_after_finite_ones_answers_after_them() -> None:
    """1.0.0 replaced the finite routes; here they answer first."""
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.get("/queue", body="first")
        m.get("/queue", body="second", repeat=2)
        m.get("/queue", body="then always", repeat=True)
        texts = [(await client.get("/queue")).text for _ in range(5)]
    assert texts == ["first", "second", "second", "then always", "then always"]


# -- body= with payload= ---------------------------------------------------------------


@pytest.mark.anyio
async def test_payload_with_body_and_headers_sends_the_payload() -> None:
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.post(
            "/users",
            payload={"spam": "eggs"},
            headers={"Connection": "keep-alive"},
            body={"foo": "bar"},
        )
        response = await client.post("/users", data={"spam": "eggs"})
    assert response.status_code == 200
    assert response.json() == {"spam": "eggs"}
    assert response.headers["Content-Type"] == "application/json"
    m.assert_called_once_with("/users", "POST", data={"spam": "eggs"})


# -- ordered_requests, last_request, call_count ----------------------------------------


@pytest.mark.anyio
async def test_ordered_requests_lists_every_request_in_arrival_order() -> None:
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.get("/a", repeat=True)
        m.get("/a?y=2&z=1")
        m.post("/b")
        await client.get("/a", params={"z": "1", "y": "2"})
        await client.post("/b", json={"n": 1})
        await client.get("/a")
        with pytest.raises(httpx.TransportError):
            await client.get("/unmatched")  # recorded too

    base = m.server_url
    keys = [key for key, _ in m.ordered_requests]
    assert keys == [
        ("GET", URL(f"{base}/a?y=2&z=1")),
        ("POST", URL(f"{base}/b")),
        ("GET", URL(f"{base}/a")),
        ("GET", URL(f"{base}/unmatched")),
    ]
    for key, request in m.ordered_requests:  # the keys of m.requests
        assert request in m.requests[key]
    assert m.call_count == len(m.ordered_requests) == 4
    assert m.last_request is m.ordered_requests[-1][1]
    assert m.ordered_requests[1][1].kwargs["json"] == {"n": 1}


def test_ordered_requests_is_empty_before_any_request() -> None:
    m = aiointercept()
    assert m.ordered_requests == []
    assert m.last_request is None
    assert m.call_count == 0


# -- MockResponse and AiointerceptRequest ----------------------------------------------


@pytest.mark.anyio
async def test_mock_response_handles_count_their_own_calls() -> None:
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        items = m.get("/items", payload=[], repeat=3)
        created = m.post("/items", status=201)
        await client.get("/items")
        await client.get("/items")
        await client.post("/items", json={"name": "foo"})

    assert isinstance(items, MockResponse)
    assert MockResponse is RegisteredRoute
    assert items.call_count == 2
    assert created.call_count == 1
    request = m.last_request
    assert isinstance(request, AiointerceptRequest)
    assert AiointerceptRequest is RecordedRequest


# -- handlers --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_handlers_is_a_read_only_view_keyed_by_url_and_method() -> None:
    pattern = re.compile(r"https://api\.test/users/\d+")
    async with aiointercept() as m:
        first = m.get("/users")
        second = m.get("/users", status=404)
        created = m.post("/users")
        by_pattern = m.get(pattern)
        handlers = m.handlers

        url = URL(f"{m.server_url}/users")
        assert list(handlers) == [(url, "GET"), (url, "POST"), (pattern, "GET")]
        assert handlers[(url, "GET")] == (first, second)
        assert handlers[(url, "POST")] == (created,)
        assert handlers[(pattern, "GET")] == (by_pattern,)
        with pytest.raises(TypeError):
            handlers[(url, "PUT")] = ()  # type: ignore[index]

        m.clear()
        assert m.handlers == {}
        assert handlers[(url, "GET")] == (first, second)  # a view taken before


# -- assertions: mock.ANY and client options -------------------------------------------


@pytest.mark.anyio
async def test_assertions_accept_mock_any_for_headers_data_and_json() -> None:
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.post("/orders", repeat=True)
        await client.post("/orders", json={"sku": "A1"}, headers={"X-Id": "7"})

        url = f"{m.server_url}/orders"
        m.assert_called_with(url, "POST", headers=mock.ANY, json=mock.ANY)
        m.assert_called_once_with(url, "POST", data=mock.ANY, headers=mock.ANY)
        m.assert_any_call(url, "POST", json=mock.ANY)
        # ANY is not a blank cheque for the rest: the method still counts
        with pytest.raises(AssertionError, match="GET"):
            m.assert_called_with(url, "GET", json=mock.ANY)
        with pytest.raises(AssertionError, match="json body"):
            m.assert_called_with(url, "POST", headers=mock.ANY, json={"sku": "B2"})


@pytest.mark.anyio
@pytest.mark.parametrize(
    "assertion", ["assert_called_with", "assert_called_once_with", "assert_any_call"]
)
async def test_assertions_ignore_client_options_with_a_deprecation_warning(
    assertion: str,
) -> None:
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.get("/status")
        await client.get("/status")

        check = getattr(m, assertion)
        with pytest.deprecated_call() as record:
            check("/status", ssl=False, timeout=3, allow_redirects=True)
        (warning,) = record.list
        message = str(warning.message)
        assert "['allow_redirects', 'ssl', 'timeout']" in message
        assert warning.filename == __file__  # points at the caller

        # the ignored options do not hide a real mismatch
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            with pytest.raises(AssertionError):
                check("/other", ssl=False)


ASSERTIONS = ["assert_called_with", "assert_called_once_with", "assert_any_call"]
#: The start of the warning each assertion gives for extra keywords: 1.0.0's
#: words (its assert_called_once_with warned as assert_called_with).
EXTRA_WORDS = {
    "assert_called_with": "Passing extra parameters to assert_called_with",
    "assert_called_once_with": "Passing extra parameters to assert_called_with",
    "assert_any_call": "Passing extra parameters to assert_any_call",
}


@pytest.mark.anyio
@pytest.mark.parametrize("assertion", ASSERTIONS)
async def test_an_unknown_assertion_keyword_is_ignored_with_1_0_words(
    assertion: str,
) -> None:
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.get("/status")
        await client.get("/status")

        check = getattr(m, assertion)
        with pytest.warns(
            DeprecationWarning, match=f"^{EXTRA_WORDS[assertion]}"
        ) as record:
            check("/status", unknown_arg="ignored")
        (warning,) = record.list
        assert "['unknown_arg']" in str(warning.message)
        assert f"{assertion}()" in str(warning.message)

        # the warning filter a 1.0.0 suite wrote for it still silences it
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.filterwarnings(
                "ignore", EXTRA_WORDS[assertion], DeprecationWarning
            )
            check("/status", unknown_arg="ignored")


@pytest.mark.parametrize("assertion", ASSERTIONS)
@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("jsno", "json"),
        ("jsn", "json"),
        ("header", "headers"),
        ("dat", "data"),
        ("param", "params"),
        ("strict_header", "strict_headers"),
        ("methods", "method"),
    ],
)
def test_a_near_miss_of_an_assertion_keyword_is_a_type_error(
    assertion: str, typo: str, meant: str
) -> None:
    check = getattr(aiointercept(), assertion)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # raised before anything is ignored
        with pytest.raises(TypeError) as raised:
            check("http://api.test/x", unknown_arg=1, **{typo: {"a": 1}})
    assert str(raised.value) == (
        f"{assertion}() got an unexpected keyword argument {typo!r}: "
        f"did you mean {meant!r}?"
    )


# -- reading a recorded request --------------------------------------------------------


@pytest.mark.anyio
async def test_recorded_requests_keep_the_1_0_reads() -> None:
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.post("/api/orders?tag=b&tag=a&page=2")
        await client.post(
            "/api/orders?tag=b&tag=a&page=2",
            json={"sku": "ü1"},
            headers={"X-Request-Id": "42"},
        )

    key = ("POST", URL(f"{m.server_url}/api/orders?page=2&tag=a&tag=b"))
    req = m.requests[key][-1]
    assert req.method == "POST"
    assert req.url == URL(f"{m.server_url}/api/orders?tag=b&tag=a&page=2")
    assert req.path == "/api/orders"
    assert req.headers["x-request-id"] == "42"
    assert req.query["tag"] == "b"  # scalar: the first value
    assert req.query.getall("tag") == ["b", "a"]
    assert req.query["page"] == "2"
    body = json.dumps({"sku": "ü1"}, separators=(",", ":"), ensure_ascii=False).encode()
    assert req.captured_body == body
    assert req.kwargs["json"] == {"sku": "ü1"}
    assert req.kwargs["query"] == {"tag": ["b", "a"], "page": ["2"]}
    assert req.kwargs["data"] == body
    assert await req.json() == {"sku": "ü1"}
    assert await req.text() == body.decode()
    assert await req.read() == body


@pytest.mark.anyio
async def test_text_uses_the_charset_and_json_reads_any_content_type() -> None:
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.post("/latin", repeat=True)
        await client.post(
            "/latin",
            content='{"name": "café"}'.encode("latin-1"),
            headers={"Content-Type": "text/plain; charset=latin-1"},
        )
        await client.post("/latin", content=b"not json")

    first, second = m.requests[("POST", f"{m.server_url}/latin")]
    assert await first.text() == '{"name": "café"}'
    assert await first.json() == {"name": "café"}
    assert first.kwargs["json"] is None  # not a JSON Content-Type
    with pytest.raises(ValueError, match="Expecting value"):
        await second.json()


@pytest.mark.anyio
async def test_read_undoes_the_content_coding() -> None:
    import gzip

    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.post("/zipped")
        packed = gzip.compress(b'{"a": 1}')
        await client.post(
            "/zipped",
            content=packed,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
    (request,) = m.requests[("POST", f"{m.server_url}/zipped")]
    assert request.captured_body == packed
    assert await request.read() == b'{"a": 1}'
    assert await request.json() == {"a": 1}


def test_the_package_exports_the_1_0_names() -> None:
    assert {"MockResponse", "AiointerceptRequest"} <= set(package.__all__)


@pytest.mark.anyio
async def test_mock_any_inside_an_expected_json_document() -> None:
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.post("/orders")
        await client.post("/orders", json={"sku": "A1", "qty": 2, "tags": [True]})

        m.assert_called_with(
            "/orders", "POST", json={"sku": mock.ANY, "qty": 2, "tags": [mock.ANY]}
        )
        with pytest.raises(AssertionError, match="<ANY>"):
            m.assert_called_with("/orders", "POST", json={"sku": mock.ANY, "qty": 3})


@pytest.mark.anyio
async def test_text_falls_back_to_utf_8_for_an_unknown_charset() -> None:
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as client:
        m.post("/odd")
        await client.post(
            "/odd",
            content="naïve".encode(),
            headers={"Content-Type": "text/plain; charset=no-such-codec"},
        )
    (request,) = m.requests[("POST", f"{m.server_url}/odd")]
    assert await request.text() == "naïve"
