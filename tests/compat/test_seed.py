"""The usage description the API was designed from, section by section: every
default and precedence it states, pinned through the public API.

Each test quotes the sentence it checks. The description's own examples use
aiohttp, so those run on asyncio only; the rest use httpx, on asyncio and on
trio. Nothing leaves the machine: the loopback safety net
(:mod:`tests.support.loopback_net`) is under every test, and the hard-coded
hosts of ``mock_external_urls=True`` are answered by the mock.
"""

from __future__ import annotations

import inspect
import re
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
import httpcore
import httpx
import pytest
import urllib3
from multidict import CIMultiDictProxy
from yarl import URL

from aiointercept import CallbackResult, aiointercept
from tests.support import clients, loopback_net
from tests.support.backends import asyncio_only

pytestmark = pytest.mark.anyio

#: The safety net, for every test of this module.
loopback_network = loopback_net.loopback_network
net = clients.net

SHORTCUTS = ["get", "post", "put", "patch", "delete", "head", "options"]


def _observed_entry_points() -> dict[str, object]:
    """The functions through which the clients reach the network, as a
    process-wide patch would replace them."""
    return {
        "socket.getaddrinfo": socket.getaddrinfo,
        "socket.socket.connect": socket.socket.connect,
        "socket.socket.connect_ex": socket.socket.connect_ex,
        "aiohttp.TCPConnector.connect": aiohttp.TCPConnector.connect,
        "aiohttp.TCPConnector._resolve_host": aiohttp.TCPConnector._resolve_host,
        "httpcore.ConnectionPool.handle_request": (
            httpcore.ConnectionPool.handle_request
        ),
        "httpcore.AsyncConnectionPool.handle_async_request": (
            httpcore.AsyncConnectionPool.handle_async_request
        ),
        "urllib3.HTTPConnectionPool.urlopen": urllib3.HTTPConnectionPool.urlopen,
    }


# == Interception modes =============================================================


@asyncio_only
async def test_the_default_mode_answers_at_server_url_also_as_a_base_url() -> None:
    """The description: "Point your client directly at m.server_url" / "Use m.server_url
    as a base_url"."""
    async with aiointercept() as m:
        m.get(f"{m.server_url}/api/users", payload=[{"id": 1}])
        m.get(f"{m.server_url}/api/users", payload=[{"id": 2}])
        async with aiohttp.ClientSession() as session:
            resp = await session.get(f"{m.server_url}/api/users")
            assert resp.status == 200
            assert await resp.json() == [{"id": 1}]
        async with aiohttp.ClientSession(base_url=m.server_url) as session:
            resp = await session.get("/api/users")
            assert await resp.json() == [{"id": 2}]


async def test_the_default_mode_patches_nothing() -> None:
    """The description: "This is the safest mode — no global state is modified"."""
    before = _observed_entry_points()
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/ping", body="pong")
        assert (await client.get(f"{m.server_url}/ping")).text == "pong"
        assert _observed_entry_points() == before
    async with aiointercept(mock_external_urls=True):
        # the same observation sees the other mode's patch
        assert _observed_entry_points() != before


@asyncio_only
async def test_mock_external_urls_answers_a_hard_coded_url() -> None:
    """The description: "Patches the DNS resolver at the process level so every aiohttp
    request is redirected to the mock server"."""
    async with aiointercept(mock_external_urls=True) as m:
        m.get("https://api.stripe.com/v1/charges", payload={"data": []})
        async with aiohttp.ClientSession() as session:
            resp = await session.get("https://api.stripe.com/v1/charges")
            assert await resp.json() == {"data": []}


# == add(url, method, ...) ==========================================================


def test_add_has_the_described_parameters_and_defaults() -> None:
    parameters = inspect.signature(aiointercept.add).parameters
    described = {
        "method": "GET",
        "status": 200,
        "body": b"",
        "json": None,
        "payload": None,
        "headers": None,
        "content_type": None,
        "repeat": False,
        "callback": None,
        "reason": None,
        "exception": None,
    }
    assert list(parameters)[1:13] == ["url", *described]
    for name, default in described.items():
        assert parameters[name].default == default, name
        assert type(parameters[name].default) is type(default), name


async def test_a_bare_registration_answers_once_200_empty_json() -> None:
    """method="GET", status=200, body=b"", repeat=False; the response says
    application/json (as content_type=None leaves it)."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.add("/default")
        with pytest.raises(httpx.TransportError):
            await client.post(f"{m.server_url}/default")  # GET only
        response = await client.get(f"{m.server_url}/default")
        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["Content-Type"] == "application/json"
        with pytest.raises(httpx.TransportError):  # once
            await client.get(f"{m.server_url}/default")


@pytest.mark.parametrize("form", ["str", "yarl.URL", "re.Pattern"])
async def test_the_url_is_a_str_a_yarl_url_or_a_compiled_pattern(form: str) -> None:
    """The description: "url: str | yarl.URL | re.Pattern"."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        text = f"{m.server_url}/users/1"
        forms: dict[str, str | URL | re.Pattern[str]] = {
            "str": text,
            "yarl.URL": URL(text),
            "re.Pattern": re.compile(re.escape(text)),
        }
        url = forms[form]
        m.add(url, body=form)
        assert (await client.get(text)).text == form


@pytest.mark.parametrize("method", ["get", "Get", "GET", "gEt"])
async def test_the_method_is_case_insensitive(method: str) -> None:
    """The description: "HTTP method (case-insensitive)"."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        route = m.add("/thing", method, body="ok")
        assert route.method == "GET"
        assert (await client.get(f"{m.server_url}/thing")).text == "ok"


@pytest.mark.parametrize(
    ("body", "sent"),
    [(b"\x00raw\xff", b"\x00raw\xff"), ("héllo ✓", "héllo ✓".encode())],
)
async def test_body_is_sent_raw_and_a_str_as_utf_8(
    body: str | bytes, sent: bytes
) -> None:
    """The description: "raw response body (str is UTF-8 encoded)"."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/body", body=body)
        assert (await client.get(f"{m.server_url}/body")).content == sent


@pytest.mark.parametrize("name", ["json", "payload"])
@pytest.mark.parametrize("body", [b"raw", "text", {"a": "mapping"}, [b"chunk"]])
async def test_json_and_its_alias_payload_override_body(name: str, body: Any) -> None:
    """The description: "json: serialized to JSON, overrides body" / "payload: alias for
    json": the document is sent, as application/json, whatever body was given."""
    document: dict[str, Any] = {name: {"ok": True}}
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/doc", body=body, **document)
        response = await client.get(f"{m.server_url}/doc")
    assert response.json() == {"ok": True}
    assert response.content == b'{"ok": true}'
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("name", ["json", "payload"])
async def test_a_json_body_keeps_a_content_type_given_for_it(name: str) -> None:
    """The description: "content_type: overrides Content-Type"; a Content-Type in
    headers is kept when content_type is not given, with json= as with body=."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        first: dict[str, Any] = {name: [1]}
        second: dict[str, Any] = {name: [2]}
        m.get("/typed", body=b"x", content_type="application/vnd.api+json", **first)
        m.get("/header", body=b"x", headers={"Content-Type": "text/json"}, **second)
        typed = await client.get(f"{m.server_url}/typed")
        header = await client.get(f"{m.server_url}/header")
    assert (typed.json(), typed.headers["Content-Type"]) == (
        [1],
        "application/vnd.api+json",
    )
    assert (header.json(), header.headers["Content-Type"]) == ([2], "text/json")


async def test_json_and_payload_may_both_give_the_same_document() -> None:
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/same", json={"id": 1}, payload={"id": 1})
        assert (await client.get(f"{m.server_url}/same")).json() == {"id": 1}


def test_json_and_payload_with_two_documents_are_an_error_naming_both() -> None:
    m = aiointercept()
    with pytest.raises(TypeError, match="aliases") as raised:
        m.get("http://api.test/x", json={"id": 1}, payload={"id": 2})
    assert "json={'id': 1}" in str(raised.value)
    assert "payload={'id': 2}" in str(raised.value)


async def test_headers_are_extra_response_headers() -> None:
    """The description: "headers: extra response headers" (the default Content-Type
    stays)."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/h", headers={"X-Request-Id": "42"}, body="{}")
        response = await client.get(f"{m.server_url}/h")
    assert response.headers["X-Request-Id"] == "42"
    assert response.headers["Content-Type"] == "application/json"


async def test_content_type_overrides_the_default_and_a_header() -> None:
    """The description: "content_type: overrides Content-Type"."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/plain", body="hi", content_type="text/plain")
        m.get(
            "/both",
            body="hi",
            content_type="text/csv",
            headers={"Content-Type": "text/html"},
        )
        plain = await client.get(f"{m.server_url}/plain")
        both = await client.get(f"{m.server_url}/both")
    assert plain.headers["Content-Type"] == "text/plain"
    assert both.headers.get_list("Content-Type") == ["text/csv"]


async def test_reason_is_the_reason_phrase() -> None:
    """The description: "reason: HTTP reason phrase"."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/teapot", status=418, reason="Short And Stout")
        m.get("/standard", status=404)
        teapot = await client.get(f"{m.server_url}/teapot")
        standard = await client.get(f"{m.server_url}/standard")
    assert (teapot.status_code, teapot.reason_phrase) == (418, "Short And Stout")
    assert standard.reason_phrase == "Not Found"


@asyncio_only
@pytest.mark.parametrize(
    "exception", [True, 1, "yes", ValueError("boom"), aiohttp.ClientConnectionError]
)
async def test_a_truthy_exception_closes_the_connection(exception: object) -> None:
    """The description: "exception: truthy -> close connection
    (ClientConnectionError)"."""
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        route = m.get("/closed", exception=exception)
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"{m.server_url}/closed")
        assert route.call_count == 1


@pytest.mark.parametrize("exception", [None, False, 0, ""])
async def test_a_falsy_exception_answers_normally(exception: object) -> None:
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/open", exception=exception, body="answered")
        assert (await client.get(f"{m.server_url}/open")).text == "answered"


@pytest.mark.parametrize("name", SHORTCUTS)
async def test_every_shortcut_forwards_its_keywords_to_add(name: str) -> None:
    """The description: "All shortcuts forward their keyword arguments to add()"."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        register: Callable[..., Any] = getattr(m, name)
        route = register(
            "/short",
            status=201,
            headers={"X-Kind": name},
            content_type="text/plain",
            reason="Made",
            repeat=2,
        )
        assert route.method == name.upper()
        for _ in range(2):
            response = await client.request(name.upper(), f"{m.server_url}/short")
            assert (response.status_code, response.reason_phrase) == (201, "Made")
            assert response.headers["X-Kind"] == name
            assert response.headers["Content-Type"] == "text/plain"
        with pytest.raises(httpx.TransportError):
            await client.request(name.upper(), f"{m.server_url}/short")


async def test_a_compiled_pattern_matches_a_family_of_urls() -> None:
    """The description: "Pass a compiled re.Pattern to match a family of URLs"."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        base = re.escape(m.server_url)
        m.get(re.compile(rf"^{base}/users/\d+$"), payload={"id": 1}, repeat=True)
        assert (await client.get(f"{m.server_url}/users/1")).json() == {"id": 1}
        assert (await client.get(f"{m.server_url}/users/42")).json() == {"id": 1}
        with pytest.raises(httpx.TransportError):
            await client.get(f"{m.server_url}/users/me")


# == Repeat and response queuing ===================================================


@asyncio_only
async def test_repeat_true_answers_every_request() -> None:
    """The description: "Respond to every request (indefinite)"."""
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        route = m.get(f"{m.server_url}/always", repeat=True, payload={"ok": True})
        for _ in range(5):
            assert await (await session.get(f"{m.server_url}/always")).json() == {
                "ok": True
            }
        assert route.remaining is None


@asyncio_only
async def test_repeat_n_answers_exactly_n_times_then_closes() -> None:
    """The description: "Respond exactly 3 times, then raise ClientConnectionError"."""
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.get(f"{m.server_url}/thrice", repeat=3, status=200)
        for _ in range(3):
            assert (await session.get(f"{m.server_url}/thrice")).status == 200
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"{m.server_url}/thrice")


@asyncio_only
async def test_registrations_for_one_url_are_a_queue() -> None:
    """The description: "First POST -> 201, second POST -> 409, third POST ->
    ClientConnectionError"."""
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        url = f"{m.server_url}/orders"
        m.post(url, status=201, payload={"created": True})
        m.post(url, status=409, payload={"error": "conflict"})
        first = await session.post(url)
        assert (first.status, await first.json()) == (201, {"created": True})
        second = await session.post(url)
        assert (second.status, await second.json()) == (409, {"error": "conflict"})
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.post(url)


# == Callbacks =====================================================================


def _echo_callback(
    url: URL, *, headers: Any, query: Any, json: Any, **kwargs: Any
) -> CallbackResult:
    return CallbackResult(
        status=200,
        payload={
            "echo": json,
            "url": str(url),
            "query": query,
            "agent": headers["User-Agent"],
        },
    )


async def test_a_callback_builds_the_response_from_the_request() -> None:
    """The description: "def echo_callback(url, *, headers, query, json, **kwargs)"."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.post(f"{m.server_url}/echo?tag=a&tag=b", callback=_echo_callback)
        response = await client.post(
            f"{m.server_url}/echo?tag=b&tag=a",
            json={"n": 1},
            headers={"User-Agent": "seed"},
        )
    assert response.json() == {
        "echo": {"n": 1},
        "url": f"{m.server_url}/echo?tag=b&tag=a",
        "query": {"tag": ["b", "a"]},
        "agent": "seed",
    }
    assert response.headers["Content-Type"] == "application/json"


async def test_an_async_callback_is_awaited() -> None:
    """The description: "Async callbacks are also supported"."""

    async def async_callback(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(body=b"async response")

    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get(f"{m.server_url}/slow", callback=async_callback)
        assert (await client.get(f"{m.server_url}/slow")).content == b"async response"


def test_callback_result_has_the_described_fields_and_defaults() -> None:
    result = CallbackResult()
    assert (
        result.status,
        result.body,
        result.payload,
        result.headers,
        result.content_type,
        result.reason,
    ) == (200, "", None, None, "application/json", None)
    parameters = list(inspect.signature(CallbackResult).parameters)
    assert parameters[:6] == [
        "status",
        "body",
        "payload",
        "headers",
        "content_type",
        "reason",
    ]


async def test_a_default_callback_result_answers_200_empty_json() -> None:
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/empty", callback=lambda url, **kwargs: CallbackResult())
        response = await client.get(f"{m.server_url}/empty")
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("body", ["text", b"raw", {"a": "mapping"}, [b"chunk"]])
async def test_callback_result_payload_overrides_body(body: Any) -> None:
    """The description: "payload: Response body serialized to JSON (overrides body)"."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get(
            "/cb",
            callback=lambda url, **kwargs: CallbackResult(body=body, payload={"p": 1}),
        )
        response = await client.get(f"{m.server_url}/cb")
    assert response.json() == {"p": 1}
    assert response.headers["Content-Type"] == "application/json"


async def test_callback_result_str_body_is_utf_8_and_headers_are_extra() -> None:
    """The description: "body: Raw response body" / "headers: Extra response headers" /
    "content_type: Content-Type header" / "reason: HTTP reason phrase"."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get(
            "/cb",
            callback=lambda url, **kwargs: CallbackResult(
                status=202,
                body="café",
                headers={"X-Trace": "t"},
                content_type="text/plain; charset=utf-8",
                reason="Queued",
            ),
        )
        response = await client.get(f"{m.server_url}/cb")
    assert (response.status_code, response.reason_phrase) == (202, "Queued")
    assert response.content == "café".encode()
    assert response.headers["X-Trace"] == "t"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


# == Passthrough ===================================================================


@pytest.mark.parametrize(
    "options",
    [
        {"passthrough": ["https://real-api.example.com"]},
        {"passthrough_unmatched": True},
    ],
)
def test_passthrough_requires_mock_external_urls(options: dict[str, Any]) -> None:
    """The description: "Only available with mock_external_urls=True"."""
    name = next(iter(options))
    with pytest.raises(ValueError, match=f"{name}.*mock_external_urls=True"):
        aiointercept(**options)
    aiointercept(mock_external_urls=True, **options)


# == Inspecting requests ===========================================================


async def test_requests_are_recorded_by_method_and_normalized_url() -> None:
    """The description: "All intercepted requests are stored in m.requests, keyed by
    (METHOD, normalized_url)" and "URLs are normalized: fragments are stripped and query
    parameters are sorted"."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.post("/orders?b=2&a=1#section", repeat=True)
        await client.post(
            f"{m.server_url}/orders?b=2&a=1",
            content=b'{"n": 1}',
            headers={"Content-Type": "application/json"},
        )
        await client.post(f"{m.server_url}/orders?a=1&b=2", content=b"plain")
    key = ("POST", URL(f"{m.server_url}/orders?a=1&b=2"))
    assert list(m.requests) == [key]
    first, last = m.requests[key]
    assert m.requests[("POST", URL(f"{m.server_url}/orders?b=2&a=1#x"))][-1] is last

    assert first.captured_body == b'{"n": 1}'
    assert first.kwargs["json"] == {"n": 1}
    assert last.captured_body == b"plain"
    assert last.kwargs["json"] is None


async def test_request_kwargs_hold_query_lists_and_raw_headers() -> None:
    """req.kwargs["query"]: dict[str, list[str]], duplicate keys preserved;
    req.kwargs["headers"]: the raw request headers (a multidict)."""
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/search?tag=b&tag=a&page=2")
        await client.get(
            f"{m.server_url}/search?tag=b&tag=a&page=2",
            headers=[("X-Many", "1"), ("X-Many", "2")],
        )
    (request,) = m.requests[("GET", URL(f"{m.server_url}/search?page=2&tag=a&tag=b"))]
    assert request.kwargs["query"] == {"tag": ["b", "a"], "page": ["2"]}
    headers = request.kwargs["headers"]
    assert isinstance(headers, CIMultiDictProxy)
    assert headers.getall("x-many") == ["1", "2"]
    assert request.kwargs["json"] is None  # no JSON body


# == Constructor parameters ========================================================


def test_the_constructor_has_the_described_parameters_and_defaults() -> None:
    parameters = inspect.signature(aiointercept).parameters
    described = {
        "mock_external_urls": False,
        "passthrough": None,
        "passthrough_unmatched": False,
        "param": None,
    }
    assert list(parameters)[:4] == list(described)
    for name, default in described.items():
        assert parameters[name].default is default, name
    m = aiointercept()
    assert (m.mock_external_urls, m.passthrough_unmatched, m.param) == (
        False,
        False,
        None,
    )


async def test_param_names_the_keyword_the_decorator_injects() -> None:
    """The description: "param: Kwarg name under which the mock is injected when used as
    a decorator"."""
    seen: list[aiointercept] = []

    @aiointercept(param="mocked")
    async def decorated(*, mocked: aiointercept) -> str:
        seen.append(mocked)
        mocked.get("/p", body="injected")
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{mocked.server_url}/p")).text

    assert await decorated() == "injected"
    assert isinstance(seen[0], aiointercept)
