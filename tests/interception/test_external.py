"""mock_external_urls=True, seen from every client: requests sent to hard-coded
URLs reach the block's server.

Every scenario is written once and runs once per client kind
(:func:`tests.support.clients.each_client`), each on the backends it runs on:

* ``aiohttp``: an ``aiohttp.ClientSession``, on asyncio only;
* ``httpx-async``: ``httpx.AsyncClient``, on asyncio and on trio;
* ``httpx-sync``: ``httpx.Client``;
* ``requests``: a ``requests.Session`` (urllib3 underneath);
* ``urllib3``: a raw ``urllib3.PoolManager``.

The synchronous clients run in a worker thread (``anyio.to_thread.run_sync``),
the recommended way; section 6 also calls them directly from the async test,
blocking its event loop. The scenarios that exercise the client itself (its
uploads, cookies, proxy settings, timeouts, faults and streams) run with the
clients that go through httpcore and urllib3 (:data:`HTTPCORE_AND_URLLIB3`);
aiohttp's are in ``tests/server/test_faults.py`` and
``tests/core/test_streaming.py``. What only aiohttp has (its resolvers and
connectors, its ``ssl=`` option, the names the patch replaces) is in
``test_aiohttp.py``; passthrough with aiohttp in detail in
``test_passthrough.py``.

Nothing here leaves the machine or asks a real DNS server anything:

* every test runs under :func:`tests.support.loopback_net.loopback_network`,
  which answers ``localhost`` only, records every name asked (also those of
  the passthrough proxy inside the mock) and refuses, failing the test, any
  connection to an address that is not loopback; aiohttp's default resolver is
  made the threaded one, which asks ``socket.getaddrinfo``;
* the "real" server is the upstream of :mod:`tests.support.upstream`, named
  ``localhost`` when it stands for a remote host;
* proxy variables of the environment are cleared, so no client sends its
  requests to a proxy.
"""

from __future__ import annotations

import functools
import logging
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import httpx
import pytest
import requests
import sniffio
import urllib3
from yarl import URL

from aiointercept import CallbackError, CallbackResult, aiointercept
from tests.support import clients, loopback_net
from tests.support.aiohttp_guard import ORIGINAL_RESOLVE, patch_installed
from tests.support.clients import (
    BOUND,
    SYNC_KINDS,
    URLLIB3_2,
    Reply,
    each_client,
    open_client,
)
from tests.support.loopback_net import LoopbackNet
from tests.support.upstream import closed_port, serving

pytestmark = pytest.mark.anyio

#: The safety net, for every test of this module.
loopback_network = loopback_net.loopback_network
net = clients.net

#: The clients intercepted through httpcore and urllib3: every kind but aiohttp.
HTTPCORE_AND_URLLIB3 = ["httpx-async", "httpx-sync", "requests", "urllib3"]

#: A client timeout shorter than :data:`DELAY`.
SHORT_TIMEOUT = 0.1
DELAY = 0.5


# == 1. hard-coded URLs reach the block ============================================


@each_client()
async def test_hard_coded_url_gets_the_registered_payload(
    kind: str, net: LoopbackNet
) -> None:
    url = "https://api.github.com/repos/x"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(url, payload={"name": "x"})
        reply = await client.get(url)
    assert reply.status == 200
    assert reply.json() == {"name": "x"}
    assert reply.headers["Content-Type"].startswith("application/json")
    assert list(m.requests) == [("GET", URL(url))]
    assert net.resolved == []


@each_client()
@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com/x",
        "https://api.example.com/x",
        "http://api.example.com:8080/x",
        "https://internal.example.com:8443/x",
        "https://h.example.com:8443/x",
        "http://api.example.com:443/x",
        "https://api.example.com:80/x",
        "https://api.example.com:443/explicit-default",
        "http://api.example.com:80/explicit-default",
        "http://service.invalid/x",
    ],
)
async def test_http_and_https_on_default_and_explicit_ports(
    kind: str, url: str, net: LoopbackNet
) -> None:
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(url, payload={"url": url})
        reply = await client.get(url)
    assert (reply.status, reply.json()) == (200, {"url": url})
    (recorded,) = m.requests[("GET", URL(url))]
    assert (recorded.url.scheme, recorded.url.port) == (URL(url).scheme, URL(url).port)
    assert net.resolved == []


@each_client()
async def test_internationalized_host_name(kind: str) -> None:
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get("https://bücher.example/x", body="idna")
        assert await client.text("https://xn--bcher-kva.example/x") == "idna"
    assert len(m.requests[("GET", URL("https://bücher.example/x"))]) == 1


@each_client()
async def test_http_and_https_of_one_host_and_port_are_told_apart(kind: str) -> None:
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get("http://same.example.com:8080/x", body="http")
        m.get("https://same.example.com:8080/x", body="https")
        assert await client.text("https://same.example.com:8080/x") == "https"
        assert await client.text("http://same.example.com:8080/x") == "http"
    assert len(m.requests) == 2


@each_client()
async def test_concurrent_http_and_https_of_one_host_and_port_are_told_apart(
    kind: str,
) -> None:
    """Concurrent http and https requests to the same host and port each reach
    the route of their own scheme."""
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        for scheme in ("http", "https"):
            m.get(
                re.compile(rf"^{scheme}://same\.example\.com:8080/\d+$"),
                callback=lambda url, **_: CallbackResult(body=url.scheme),
                repeat=True,
            )
        urls = [
            f"{'https' if n % 2 else 'http'}://same.example.com:8080/{n}"
            for n in range(20)
        ]
        results: dict[str, str] = {}

        async def fetch(url: str) -> None:
            results[url] = await client.text(url)

        async with anyio.create_task_group() as tg:
            for url in urls:
                tg.start_soon(fetch, url)
    assert results == {url: URL(url).scheme for url in urls}
    assert {key[1] for key in m.requests} == {URL(url) for url in urls}


# A private address, and documentation addresses (RFC 5737, RFC 3849).
IP_URLS = [
    "http://10.1.2.3/x",
    "http://192.0.2.10/x",
    "https://198.51.100.7:8443/x",
    "http://[2001:db8::1]:8080/x",
]


@each_client()
@pytest.mark.parametrize("url", IP_URLS)
async def test_ip_literal_urls_are_intercepted(kind: str, url: str) -> None:
    # were it not intercepted, the net would refuse the connection and fail the test
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(url, body="from the mock")
        if not patch_installed():  # never send anything to these addresses
            pytest.fail("mock_external_urls=True did not install the patch")
        assert await client.text(url) == "from the mock"
    assert len(m.requests[("GET", URL(url))]) == 1


@each_client()
async def test_unrouted_ip_literal_is_closed_by_the_mock(kind: str) -> None:
    url = "http://192.0.2.10/unrouted"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        if not patch_installed():
            pytest.fail("mock_external_urls=True did not install the patch")
        with anyio.fail_after(1), pytest.raises(client.closed_error):
            await client.get(url)
    assert list(m.requests) == [("GET", URL(url))]
    assert [u.request.url for u in m.unmatched] == [URL(url)]


@each_client()
async def test_loopback_ip_without_a_route_reaches_the_real_server(kind: str) -> None:
    async with (
        serving() as upstream,
        aiointercept(mock_external_urls=True) as m,
        open_client(kind) as client,
    ):
        m.get("/own", body="the mock itself")
        assert await client.text(f"{m.server_url}/own") == "the mock itself"
        assert await client.text(f"{upstream.ip_url}/local") == "upstream GET /local"
    assert [r.path for r in upstream.received] == ["/local"]
    assert list(m.requests) == [("GET", URL(f"{m.server_url}/own"))]


@each_client()
async def test_loopback_ip_with_a_route_is_intercepted(kind: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/routed"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(url, body="mocked loopback")
        assert await client.text(url) == "mocked loopback"
    assert len(m.requests[("GET", URL(url))]) == 1


@each_client()
async def test_regex_route_matches_external_urls(kind: str, net: LoopbackNet) -> None:
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(
            re.compile(r"^https://[a-z]+\.cdn\.example\.com/img/\d+$"),
            callback=lambda url, **_: CallbackResult(body=url.host),
            repeat=True,
        )
        assert await client.text("https://eu.cdn.example.com/img/1") == (
            "eu.cdn.example.com"
        )
        assert await client.text("https://us.cdn.example.com/img/2") == (
            "us.cdn.example.com"
        )
        with pytest.raises(client.closed_error):  # the pattern asks for https
            await client.get("http://eu.cdn.example.com/img/1")
    assert len(m.requests) == 3
    assert net.resolved == []


@each_client()
async def test_regex_routes_with_a_port_or_a_callback_match_external_urls(
    kind: str, net: LoopbackNet
) -> None:
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(
            re.compile(r"^https://api\.example\.com/users/\d+$"),
            callback=lambda url, **_: CallbackResult(payload={"id": url.name}),
            repeat=True,
        )
        # a host that only a pattern names is intercepted too
        m.get(
            re.compile(r"^https://[a-z]+\.cdn\.example\.com:8443/img/"),
            body=b"PNG",
            repeat=True,
        )
        for user in ("1", "42"):
            reply = await client.get(f"https://api.example.com/users/{user}")
            assert (reply.status, reply.json()) == (200, {"id": user})
        assert await client.text("https://eu.cdn.example.com:8443/img/a.png") == "PNG"
        assert await client.text("https://us.cdn.example.com:8443/img/b.png") == "PNG"
        with anyio.fail_after(1), pytest.raises(client.closed_error):
            # the pattern asks for https: http is not answered
            await client.get("http://api.example.com/users/1")
        with anyio.fail_after(1), pytest.raises(client.closed_error):
            await client.get("https://api.example.com/users/x")
    assert len(m.requests[("GET", URL("https://api.example.com/users/42"))]) == 1
    assert len(m.requests[("GET", URL("https://eu.cdn.example.com:8443/img/a.png"))])
    assert net.resolved == []


@each_client()
async def test_redirect_between_mocked_hosts(kind: str) -> None:
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(
            "https://a.example.com/old",
            status=302,
            headers={"Location": "https://b.example.com/new?x=1"},
        )
        m.get(
            "https://b.example.com/new?x=1",
            status=301,
            headers={"Location": "http://c.example.com:8080/final"},
        )
        m.get("http://c.example.com:8080/final", body="moved here")
        reply = await client.get("https://a.example.com/old")
    assert reply.status == 200
    assert reply.text == "moved here"
    assert URL(reply.url) == URL("http://c.example.com:8080/final")
    assert reply.history == (302, 301)
    assert [URL(url) for url in reply.history_urls] == [
        URL("https://a.example.com/old"),
        URL("https://b.example.com/new?x=1"),
    ]
    assert list(m.requests) == [
        ("GET", URL("https://a.example.com/old")),
        ("GET", URL("https://b.example.com/new?x=1")),
        ("GET", URL("http://c.example.com:8080/final")),
    ]


@each_client()
async def test_post_303_redirect_to_another_host_becomes_get(kind: str) -> None:
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.post(
            "https://a.example.com/form",
            status=303,
            headers={"Location": "https://b.example.com/done"},
        )
        m.get("https://b.example.com/done", body="done")
        reply = await client.request("POST", "https://a.example.com/form", content=b"x")
    assert reply.text == "done"
    assert reply.history == (303,)
    assert ("GET", URL("https://b.example.com/done")) in m.requests


@each_client()
async def test_redirect_to_an_unmatched_host_is_closed(
    kind: str, net: LoopbackNet
) -> None:
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(
            "https://a.example.com/old",
            status=302,
            headers={"Location": "https://elsewhere.example.com/"},
        )
        with anyio.fail_after(1), pytest.raises(client.closed_error):
            await client.get("https://a.example.com/old")
    assert net.resolved == []
    assert ("GET", URL("https://elsewhere.example.com/")) in m.requests


def httpx_get(url: str) -> bytes:
    return httpx.get(url, timeout=BOUND).content


def requests_get(url: str) -> bytes:
    return requests.get(url, timeout=BOUND).content


def urllib3_request(url: str) -> bytes:
    if not URLLIB3_2:
        pytest.skip("urllib3.request() is urllib3 2's")
    return urllib3.request("GET", url, timeout=BOUND, retries=False).data


@pytest.mark.parametrize(
    "function", [httpx_get, requests_get, urllib3_request], ids=lambda f: f.__name__
)
@pytest.mark.parametrize("blocking", [False, True], ids=["thread", "blocking"])
async def test_module_level_functions(
    function: Callable[[str], bytes], blocking: bool, net: LoopbackNet
) -> None:
    """``httpx.get()``, ``requests.get()``, ``urllib3.request()``: a client of
    their own per call, as in code that uses them at module level."""
    url = "https://api.example.com/users/1"
    async with aiointercept(mock_external_urls=True) as m:
        m.get(url, body="user 1")
        call = functools.partial(function, url)
        body = call() if blocking else await anyio.to_thread.run_sync(call)
    assert body == b"user 1"
    assert len(m.requests[("GET", URL(url))]) == 1
    assert net.resolved == []


async def test_concurrent_requests_to_many_hosts(anyio_backend: str) -> None:
    urls = [
        f"{'https' if n % 2 else 'http'}://host{n % 5}.example.com/{n}"
        for n in range(20)
    ]
    results: dict[str, str] = {}
    async with (
        aiointercept(mock_external_urls=True) as m,
        open_client("httpx-async") as client,
    ):
        m.get(
            re.compile(r"^https?://host\d\.example\.com/\d+$"),
            callback=lambda url, **_: CallbackResult(body=str(url)),
            repeat=True,
        )

        async def fetch(url: str) -> None:
            results[url] = await client.text(url)

        async with anyio.create_task_group() as tg:
            for url in urls:
                tg.start_soon(fetch, url)
    assert results == {url: url for url in urls}
    assert {key[1] for key in m.requests} == {URL(url) for url in urls}


@each_client(*SYNC_KINDS)
async def test_sync_requests_from_several_threads_at_once(kind: str) -> None:
    urls = [f"https://thread{n}.example.com/x" for n in range(8)]
    results: dict[str, str] = {}
    async with aiointercept(mock_external_urls=True) as m:
        for url in urls:
            m.get(url, body=URL(url).host or "")

        async def fetch(url: str) -> None:
            async with open_client(kind) as client:
                results[url] = await client.text(url)

        async with anyio.create_task_group() as tg:
            for url in urls:
                tg.start_soon(fetch, url)
    assert results == {url: URL(url).host for url in urls}
    assert len(m.requests) == len(urls)


# == 2. records, callbacks and assertions see the URL the client asked for =========


@each_client()
@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/orders",
        "http://api.example.com/orders",
        "https://api.example.com:8443/orders",
        "http://api.example.com:8080/orders",
    ],
)
async def test_records_show_the_requested_url(kind: str, url: str) -> None:
    with_query = f"{url}?z=1&a=2"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.post(url, status=201, payload={"id": 7})
        m.post(with_query, status=202)
        reply = await client.request("POST", url, json_body={"sku": "X1"})
        assert reply.status == 201
        assert reply.json() == {"id": 7}
        reply = await client.request("POST", with_query, content=b"raw")
        assert reply.status == 202
    (order,) = m.requests[("POST", URL(url))]
    assert order.kwargs["json"] == {"sku": "X1"}
    assert order.url == URL(url)
    assert (order.url.scheme, order.url.host, order.url.port) == (
        URL(url).scheme,
        "api.example.com",
        URL(url).port,
    )
    # keyed by the normalized URL (sorted query), recorded as sent
    (raw,) = m.requests[("POST", URL(f"{url}?a=2&z=1"))]
    assert raw.url == URL(with_query)
    assert raw.captured_body == b"raw"
    # never the mock's address
    assert {key[1].host for key in m.requests} == {"api.example.com"}
    assert len(m.requests) == 2


@each_client()
@pytest.mark.parametrize(
    ("url", "host_header"),
    [
        ("https://api.example.com/orders", "api.example.com"),
        ("http://api.example.com/orders", "api.example.com"),
        ("https://internal.example.com:8443/orders", "internal.example.com:8443"),
        ("http://[2001:db8::1]:8080/orders", "[2001:db8::1]:8080"),
    ],
)
async def test_records_show_the_requested_url_headers_and_body(
    kind: str, url: str, host_header: str
) -> None:
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.post(f"{url}?b=2&a=1", status=201, payload={"id": 7})
        reply = await client.request(
            "POST",
            f"{url}?b=2&a=1",
            headers={"X-Token": "secret"},
            json_body={"sku": "X1"},
        )
    assert reply.status == 201
    assert reply.json() == {"id": 7}
    # keyed by the normalized URL (sorted query), recorded as sent
    (order,) = m.requests[("POST", URL(f"{url}?a=1&b=2"))]
    assert order.url == URL(f"{url}?b=2&a=1")
    assert order.headers["Host"] == host_header
    assert order.headers["X-Token"] == "secret"
    assert order.headers["Content-Type"] == "application/json"
    assert order.kwargs["json"] == {"sku": "X1"}
    assert order.kwargs["query"] == {"b": ["2"], "a": ["1"]}
    m.assert_called_once_with(
        url,
        "POST",
        params={"a": "1", "b": "2"},
        json={"sku": "X1"},
        headers={"X-Token": "secret"},
    )


@each_client(*HTTPCORE_AND_URLLIB3)
async def test_raw_body_and_call_assertions(kind: str) -> None:
    url = "https://api.example.com/upload"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        route = m.put(url, status=204, repeat=2)
        for body in (b"one", b"two"):
            reply = await client.request("PUT", url, content=body)
            assert reply.status == 204
    assert [r.captured_body for r in route.calls] == [b"one", b"two"]
    assert route.call_count == 2
    assert m.call_count == 2
    m.assert_called_with(url, "PUT", data=b"two")
    m.assert_any_call(url, "PUT", data=b"one")
    with pytest.raises(AssertionError):
        m.assert_called_once_with(url, "PUT")
    with pytest.raises(AssertionError):
        m.assert_called_with("https://api.example.com/other", "PUT")


@each_client(*HTTPCORE_AND_URLLIB3)
async def test_streamed_request_body_is_recorded_whole(kind: str) -> None:
    def size(url: URL, *, data: bytes, **_: Any) -> CallbackResult:
        return CallbackResult(payload={"size": len(data)})

    url = "https://api.example.com/upload"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.post(url, callback=size)
        reply = await client.request("POST", url, content=[b"one;", b"two;", b"three"])
    assert reply.json() == {"size": 13}
    (upload,) = m.requests[("POST", URL(url))]
    assert upload.headers["Transfer-Encoding"] == "chunked"
    assert upload.captured_body == b"one;two;three"


@each_client("httpx-async", "httpx-sync", "requests")
async def test_cookies_of_a_mocked_host_go_back_to_it_only(kind: str) -> None:
    """The client's cookie jar sees the host and scheme it asked for: a
    ``Secure`` cookie of ``https://api.example.com`` goes back to it, and not
    to another host (urllib3 keeps no cookies)."""
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(
            "https://api.example.com/login",
            headers={"Set-Cookie": "session=abc; Path=/; Secure; HttpOnly"},
        )
        m.get("https://api.example.com/me", body="me")
        m.get("https://other.example.com/x", body="other")
        await client.text("https://api.example.com/login")
        assert await client.text("https://api.example.com/me") == "me"
        assert await client.text("https://other.example.com/x") == "other"
    (me,) = m.requests[("GET", URL("https://api.example.com/me"))]
    assert me.headers["Cookie"] == "session=abc"
    (other,) = m.requests[("GET", URL("https://other.example.com/x"))]
    assert "Cookie" not in other.headers


@each_client(*HTTPCORE_AND_URLLIB3)
@pytest.mark.parametrize(
    "url", ["http://api.example.com/x", "https://api.example.com/x"]
)
async def test_client_configured_with_a_proxy_uses_its_proxy(
    kind: str, url: str
) -> None:
    """The client's own proxy setting is honoured: it connects to its proxy (a
    closed loopback port here), which the interception leaves alone, and
    nothing reaches the mock."""
    port = closed_port()
    async with (
        aiointercept(mock_external_urls=True) as m,
        open_client(kind, proxy=f"http://127.0.0.1:{port}") as client,
    ):
        m.get(url, body="mocked", repeat=True)
        with anyio.fail_after(5), pytest.raises(Exception) as info:  # noqa: PT011
            await client.text(url)
    assert not m.requests
    error: BaseException | None = info.value
    while error is not None and not isinstance(error, ConnectionRefusedError):
        error = error.__cause__ or error.__context__
    # refused by the proxy's port (anyio's error names the address instead)
    assert error is not None or f"127.0.0.1:{port}" in str(info.value), info.value


@each_client()
@pytest.mark.parametrize("style", ["sync", "async"])
async def test_callback_receives_the_external_url(kind: str, style: str) -> None:
    seen: list[tuple[URL, str]] = []

    def sync_callback(url: URL, *, headers: Any, **kwargs: Any) -> CallbackResult:
        seen.append((url, headers["Host"]))
        return CallbackResult(payload={"url": str(url)})

    async def async_callback(
        url: URL, *, headers: Any, **kwargs: Any
    ) -> CallbackResult:
        return sync_callback(url, headers=headers)

    callback = sync_callback if style == "sync" else async_callback
    requested = "https://api.example.com:8443/items?b=2&a=1"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(requested, callback=callback)
        reply = await client.get(requested)
    assert (reply.status, reply.json()) == (200, {"url": requested})
    assert seen == [(URL(requested), "api.example.com:8443")]
    (url, _) = seen[0]
    assert (url.scheme, url.host, url.port) == ("https", "api.example.com", 8443)


@each_client()
async def test_sync_callback_receives_the_requested_url(kind: str) -> None:
    seen: list[tuple[URL, str, str]] = []

    def callback(
        url: URL, *, headers: Any, method: str, **kwargs: Any
    ) -> CallbackResult:
        seen.append((url, headers["Host"], method))
        return CallbackResult(
            status=202, payload={"url": str(url)}, headers={"X-Mock": "sync"}
        )

    url = "https://api.example.com:8443/items?b=2&a=1"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(url, callback=callback)
        reply = await client.get(url)
    assert (reply.status, reply.json()) == (202, {"url": url})
    assert reply.headers["X-Mock"] == "sync"
    assert seen == [(URL(url), "api.example.com:8443", "GET")]


@each_client(*HTTPCORE_AND_URLLIB3)
async def test_async_callback_runs_on_the_test_loop(
    kind: str, anyio_backend: str
) -> None:
    """The async callback awaits an event of the test's own loop, under asyncio
    and trio, whichever client sent the request."""
    started = anyio.Event()
    go_on = anyio.Event()
    libraries: list[str] = []

    async def callback(url: URL, **kwargs: Any) -> CallbackResult:
        libraries.append(sniffio.current_async_library())
        started.set()
        await go_on.wait()
        return CallbackResult(body=f"async {url.host}")

    url = "https://api.example.com/held"
    replies: list[Reply] = []
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(url, callback=callback)

        async def fetch() -> None:
            replies.append(await client.get(url))

        with anyio.fail_after(BOUND):
            async with anyio.create_task_group() as tg:
                tg.start_soon(fetch)
                await started.wait()
                assert replies == []  # held until the test lets it go
                go_on.set()
    assert [r.text for r in replies] == ["async api.example.com"]
    assert libraries == [anyio_backend]
    assert len(m.requests[("GET", URL(url))]) == 1


@each_client(*HTTPCORE_AND_URLLIB3)
async def test_failing_callback_reaches_the_test(kind: str) -> None:
    def callback(url: URL, **kwargs: Any) -> CallbackResult:
        raise ValueError("broken callback")

    url = "https://api.example.com/fails"
    replies: list[Reply] = []

    async def block() -> None:
        async with (
            aiointercept(mock_external_urls=True) as m,
            open_client(kind) as client,
        ):
            m.get(url, callback=callback)
            replies.append(await client.get(url))

    with pytest.raises(CallbackError) as caught:
        await block()
    assert [r.status for r in replies] == [500]
    assert "broken callback" in replies[0].text
    assert isinstance(caught.value.__cause__, ValueError)
    assert caught.value.request.url == URL(url)


# == 3. an unmatched host never leaves the machine =================================


@each_client()
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "https://nowhere.example.com/x"),
        ("POST", "http://nowhere.example.com/x"),
        ("GET", "http://service.invalid/"),
        ("GET", "https://api.example.com/not-registered"),  # the host has a route
    ],
)
async def test_unmatched_request_fails_and_is_not_resolved(
    kind: str,
    method: str,
    url: str,
    net: LoopbackNet,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="aiointercept")
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get("https://api.example.com/registered", body="x")
        with anyio.fail_after(1), pytest.raises(client.closed_error):
            await client.request(method, url, content=b"payload")
    assert net.resolved == []
    (recorded,) = m.requests[(method, URL(url))]
    assert recorded.captured_body == b"payload"
    (unmatched,) = m.unmatched
    assert unmatched.request is recorded
    assert "https://api.example.com/registered" in str(unmatched)
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "aiointercept" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert f"no route matches {method} {URL(url)}" in warnings[0]
    assert "https://api.example.com/registered" in warnings[0]


@each_client()
async def test_block_without_routes_still_intercepts(
    kind: str, net: LoopbackNet
) -> None:
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        with anyio.fail_after(1), pytest.raises(client.closed_error):
            await client.get("https://api.example.com/x")
    assert net.resolved == []
    assert list(m.requests) == [("GET", URL("https://api.example.com/x"))]


# == 4. clients created before the block, pooled connections, after the block ======


@each_client()
async def test_client_created_before_the_block(kind: str, net: LoopbackNet) -> None:
    url = "https://api.example.com/before"
    # the client first, then the block
    async with open_client(kind) as client, aiointercept(mock_external_urls=True) as m:
        m.get(url, body="mocked")
        assert await client.text(url) == "mocked"
    assert len(m.requests[("GET", URL(url))]) == 1
    assert net.resolved == []


@each_client(*HTTPCORE_AND_URLLIB3)
async def test_pooled_connection_to_a_real_host_does_not_bypass_the_block(
    kind: str,
) -> None:
    """A keep-alive connection to the host, opened before the block, is not
    used for a request the block has a route for; after the block it is the
    real host again."""
    async with serving() as upstream, open_client(kind) as client:
        url = f"{upstream.url}/hello"
        assert await client.text(url) == "upstream GET /hello"
        assert await client.text(url) == "upstream GET /hello"
        assert upstream.connections == 1  # the connection is pooled and reused
        async with aiointercept(mock_external_urls=True) as m:
            m.get(url, body="mocked", repeat=True)
            assert await client.text(url) == "mocked"
            assert await client.text(url) == "mocked"
        assert await client.text(url) == "upstream GET /hello"
    assert len(upstream.received) == 3
    assert len(m.requests[("GET", URL(url))]) == 2


@each_client()
@pytest.mark.parametrize(
    "url", ["https://api.example.com/x", "http://api.example.com:8080/x"]
)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_after_the_block_the_same_client_resolves_for_real(
    kind: str, method: str, url: str, net: LoopbackNet
) -> None:
    async with open_client(kind) as client:
        async with aiointercept(mock_external_urls=True) as m:
            m.add(url, method, body="mocked", repeat=True)
            for _ in range(2):  # the second request may use a pooled connection
                reply = await client.request(method, url)
                assert reply.text == "mocked"
                assert reply.headers.get("Connection", "").lower() != "close"
        assert net.resolved == []
        # a pooled connection to the mock is not reused: the name is resolved
        # (the net does not know it); POST is never retried by aiohttp, so
        # reusing the dead pooled connection would raise another error
        with anyio.fail_after(1), pytest.raises(client.connect_error):
            await client.request(method, url)
        assert set(net.resolved) == {"api.example.com"}
        assert {port for _, port in net.lookups} == {URL(url).port}
        if kind == "aiohttp":  # which asks its resolver once
            assert net.lookups == [("api.example.com", URL(url).port)]
    assert len(m.requests[(method, URL(url))]) == 2


# == 5. responses: queues, faults, delays, streams, compression ====================


@each_client(*HTTPCORE_AND_URLLIB3)
async def test_queue_is_served_in_order(kind: str) -> None:
    url = "https://api.example.com/queue"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(url, body="first")
        m.get(url, body="second", repeat=2)
        assert [await client.text(url) for _ in range(3)] == [
            "first",
            "second",
            "second",
        ]
        with pytest.raises(client.closed_error):  # used up
            await client.get(url)
    assert len(m.requests[("GET", URL(url))]) == 4
    assert len(m.unmatched) == 1


#: Registrations that end the connection without a complete response, and
#: whether the client has received the response's headers by then.
FAULTS: list[tuple[dict[str, Any], bool]] = [
    ({"fault": "reset"}, False),
    ({"fault": "close"}, False),
    ({"fault": "malformed_status"}, False),
    ({"fault": "close_after_headers"}, True),
    ({"fault": "short_body"}, True),
    ({"exception": True}, False),
    ({"exception": ConnectionResetError()}, False),
]


@each_client(*HTTPCORE_AND_URLLIB3)
@pytest.mark.parametrize(
    ("registration", "after_headers"),
    FAULTS,
    ids=[next(f"{k}={v!r}" for k, v in r.items()) for r, _ in FAULTS],
)
async def test_faults_reach_the_client_as_transport_errors(
    kind: str, registration: dict[str, Any], after_headers: bool
) -> None:
    url = "https://api.example.com/faulty"
    body: dict[str, Any] = (
        {"body": "0123456789" * 10} if "fault" in registration else {}
    )
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(url, **registration, **body)
        m.get(url, body="recovered")
        if after_headers and not client.enforces_length:
            assert len((await client.get(url)).body) < 100  # cut short, no error
        else:
            expected = (
                client.broken_body_error if after_headers else client.closed_error
            )
            with pytest.raises(expected):
                await client.get(url)
        assert await client.text(url) == "recovered"
    assert len(m.requests[("GET", URL(url))]) == 2
    assert m.unmatched == []


@each_client(*HTTPCORE_AND_URLLIB3)
@pytest.mark.parametrize(
    "registration",
    [{"body": "late", "delay": DELAY}, {"fault": "hang"}],
    ids=["delay", "hang"],
)
async def test_client_timeout_fires(kind: str, registration: dict[str, Any]) -> None:
    url = "https://api.example.com/slow"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(url, **registration)
        m.get("https://api.example.com/fast", body="fast")
        started = time.monotonic()
        with pytest.raises(client.timeout_error):
            await client.get(url, timeout=SHORT_TIMEOUT)
        assert time.monotonic() - started < DELAY
        # a slow route slows down no other
        assert await client.text("https://api.example.com/fast") == "fast"
    m.assert_called_once_with(url)


@each_client(*HTTPCORE_AND_URLLIB3)
async def test_delay_shorter_than_the_timeout_is_waited_for(kind: str) -> None:
    url = "https://api.example.com/slow"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(url, body="worth the wait", delay=0.2)
        started = time.monotonic()
        assert await client.text(url) == "worth the wait"
        assert time.monotonic() - started >= 0.2
    assert len(m.requests[("GET", URL(url))]) == 1


@each_client(*HTTPCORE_AND_URLLIB3)
async def test_streamed_body(kind: str) -> None:
    url = "https://api.example.com/stream"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(url, body=["first;", b"second;", "third"], content_type="text/plain")
        reply = await client.get(url)
    assert reply.body == b"first;second;third"
    assert reply.headers["Transfer-Encoding"] == "chunked"
    assert len(m.requests[("GET", URL(url))]) == 1


@each_client(*HTTPCORE_AND_URLLIB3)
async def test_async_streamed_body_arrives_chunk_by_chunk(kind: str) -> None:
    """The second chunk is produced only after the client has read the first,
    so a client (or an interception) that waited for the whole body would
    time out."""
    release = anyio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first;"
        await release.wait()
        yield b"second"

    url = "https://api.example.com/live"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(url, body=chunks())
        parts = await client.read_in_two(url, 6, release.set)
    assert parts == (b"first;", b"second")
    assert len(m.requests[("GET", URL(url))]) == 1


@each_client(*HTTPCORE_AND_URLLIB3)
@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
async def test_compressed_response_is_decoded_by_the_client(
    kind: str, coding: str
) -> None:
    if coding == "br":
        pytest.importorskip("brotli")
    text = "a compressed answer. " * 100
    url = "https://api.example.com/compressed"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(url, body=text, content_type="text/plain", compress=coding)
        reply = await client.get(url)
    assert reply.headers["Content-Encoding"] == coding
    assert reply.text == text
    assert len(m.requests[("GET", URL(url))]) == 1


async def test_cancelled_request_does_not_hold_up_the_block(anyio_backend: str) -> None:
    url = "https://api.example.com/slow"
    started = time.monotonic()
    async with (
        aiointercept(mock_external_urls=True) as m,
        open_client("httpx-async") as client,
    ):
        m.get(url, body="late", delay=5)
        m.get("https://api.example.com/after", body="after")
        with anyio.move_on_after(0.2) as scope:
            await client.get(url)
        assert scope.cancelled_caught
        assert await client.text("https://api.example.com/after") == "after"
    assert time.monotonic() - started < 3
    assert len(m.requests[("GET", URL(url))]) == 1


# == 6. synchronous clients blocking the test's loop ===============================


@each_client(*SYNC_KINDS)
async def test_sync_client_blocking_the_loop_gets_answers(kind: str) -> None:
    """Called directly from the async test: static responses, sync callbacks,
    faults and timeouts work."""

    def greeting(url: URL, *, query: dict[str, list[str]], **_: Any) -> CallbackResult:
        return CallbackResult(body=f"hello {query['name'][0]}")

    async with (
        aiointercept(mock_external_urls=True) as m,
        open_client(kind, blocking=True) as client,
    ):
        m.get("https://api.example.com/static", payload={"ok": True})
        m.get("https://api.example.com/greet?name=Bob", callback=greeting)
        m.get("https://api.example.com/closed", exception=True)
        m.get("https://api.example.com/slow", body="late", delay=DELAY)
        assert (await client.get("https://api.example.com/static")).json() == {
            "ok": True
        }
        assert await client.text("https://api.example.com/greet?name=Bob") == (
            "hello Bob"
        )
        with pytest.raises(client.closed_error):
            await client.get("https://api.example.com/closed")
        with pytest.raises(client.closed_error):
            await client.get("https://nowhere.example.com/")
        with pytest.raises(client.timeout_error):
            await client.get("https://api.example.com/slow", timeout=SHORT_TIMEOUT)
    assert len(m.requests) == 5


async def _needs_the_loop(url: URL, **_: Any) -> CallbackResult:
    raise AssertionError("never started: the loop is blocked")  # pragma: no cover


async def _chunks_on_the_loop() -> AsyncIterator[bytes]:
    yield b"never sent: the loop is blocked"  # pragma: no cover


async def _get_blocking(
    m: aiointercept,
    kind: str,
    url: str,
    registration: dict[str, Any],
    replies: list[Reply],
) -> None:
    """In a block of ``m``, register ``registration`` for ``url`` and GET it
    with a client of ``kind`` called from the test's loop's own thread."""
    async with m, open_client(kind, blocking=True) as client:
        m.get(url, **registration)
        replies.append(await client.get(url))


@each_client(*SYNC_KINDS)
@pytest.mark.parametrize("what", ["async callback", "async iterable body"])
async def test_sync_client_blocking_the_loop_gets_a_503_at_once_from_what_needs_it(
    kind: str, what: str
) -> None:
    """An async callback or body runs on the test's loop, which the client
    called from that loop's thread blocks: the adapter names the thread, so
    the request is answered at once (not after ``callback_start_timeout``,
    here longer than the client's own timeout), and the block raises."""
    url = "https://api.example.com/async"
    registration: dict[str, Any] = (
        {"callback": _needs_the_loop}
        if what == "async callback"
        else {"body": _chunks_on_the_loop()}
    )
    m = aiointercept(mock_external_urls=True, callback_start_timeout=60)
    replies: list[Reply] = []
    with pytest.raises(CallbackError) as raised:
        await _get_blocking(m, kind, url, registration, replies)
    (stuck,) = replies
    assert stuck.status == 503
    expected = (
        f"aiointercept: the {what} for GET {url} cannot run: the request was sent "
        "from the thread of the test's event loop, so the test's event loop is "
        "blocked: a synchronous client (requests, httpx.Client, urllib3) called "
        "directly in the async test blocks the loop"
    )
    assert stuck.text.startswith(expected)
    assert "call the client in a worker thread" in stuck.text
    assert str(raised.value).startswith(expected)
    (recorded,) = m.requests[("GET", URL(url))]
    assert "X-Aiointercept-Sender-Thread" not in recorded.headers


@each_client(*SYNC_KINDS)
async def test_sync_client_in_a_worker_thread_runs_async_callbacks(
    kind: str, anyio_backend: str
) -> None:
    async def on_the_loop(url: URL, **_: Any) -> CallbackResult:
        await anyio.lowlevel.checkpoint()
        return CallbackResult(body=sniffio.current_async_library())

    url = "https://api.example.com/async"
    async with (
        aiointercept(mock_external_urls=True, callback_start_timeout=5) as m,
        open_client(kind, blocking=False) as client,
    ):
        m.get(url, callback=on_the_loop)
        assert await client.text(url) == anyio_backend
    assert len(m.requests[("GET", URL(url))]) == 1


# == 7. passthrough ================================================================


@each_client(*HTTPCORE_AND_URLLIB3)
async def test_passthrough_unmatched_proxies_to_the_real_host(kind: str) -> None:
    async with serving() as upstream:
        async with (
            aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
            open_client(kind) as client,
        ):
            m.get("https://api.example.com/x", body="mocked")
            # localhost, like loopback addresses, is the mock's only when a
            # route names it (and its port)
            m.get(f"{upstream.url}/other", body="mocked")
            reply = await client.request(
                "POST",
                f"{upstream.url}/echo?b=2&a=1",
                headers={"X-Token": "secret"},
                content=b"request body",
            )
            assert await client.text("https://api.example.com/x") == "mocked"
        assert [(r.method, r.path) for r in upstream.received] == [
            ("POST", "/echo?b=2&a=1")
        ]
    assert reply.status == 200
    assert reply.json() == {
        "method": "POST",
        "path": "/echo?b=2&a=1",
        "body": "request body",
        "token": "secret",
        "host": f"localhost:{upstream.port}",
    }
    (echo,) = m.requests[("POST", URL(f"{upstream.url}/echo?a=1&b=2"))]
    assert echo.url == URL(f"{upstream.url}/echo?b=2&a=1")
    assert echo.captured_body == b"request body"
    assert echo.headers["X-Token"] == "secret"


@each_client(*HTTPCORE_AND_URLLIB3)
async def test_passthrough_unmatched_streams_the_real_body(kind: str) -> None:
    """The upstream sends its second chunk only after the client has read the
    first: a proxy that buffered the body would never deliver it."""
    async with (
        serving() as upstream,
        aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
        open_client(kind) as client,
    ):
        url = f"{upstream.url}/stream"
        m.get(f"{upstream.url}/other", body="mocked")  # the mock takes the host
        parts = await client.read_in_two(url, 6, upstream.release.set)
    assert parts == (b"first;", b"second")
    assert len(m.requests[("GET", URL(url))]) == 1


@each_client(*HTTPCORE_AND_URLLIB3)
async def test_passthrough_listed_host_reaches_the_real_host(
    kind: str, net: LoopbackNet
) -> None:
    async with serving() as upstream:
        async with (
            aiointercept(
                mock_external_urls=True, passthrough=[f"localhost:{upstream.port}"]
            ) as m,
            open_client(kind) as client,
        ):
            m.get("https://api.example.com/x", body="mocked")
            assert await client.text(f"{upstream.url}/hello") == "upstream GET /hello"
            assert await client.text("https://api.example.com/x") == "mocked"
            with pytest.raises(client.closed_error):
                await client.get("https://unlisted.example.com/")
        assert [r.path for r in upstream.received] == ["/hello"]
    # straight to the upstream, resolved by the client: not through the mock
    assert list(m.requests) == [
        ("GET", URL("https://api.example.com/x")),
        ("GET", URL("https://unlisted.example.com/")),
    ]
    assert set(net.resolved) == {"localhost"}


@each_client(*HTTPCORE_AND_URLLIB3)
async def test_routed_host_is_mocked_even_if_listed_for_passthrough(
    kind: str,
) -> None:
    async with serving() as upstream:
        async with (
            aiointercept(mock_external_urls=True, passthrough=[upstream.url]) as m,
            open_client(kind) as client,
        ):
            m.get(f"{upstream.url}/mocked", body="from the mock")
            assert await client.text(f"{upstream.url}/mocked") == "from the mock"
            with pytest.raises(client.closed_error):
                await client.get(f"{upstream.url}/other")
        assert upstream.received == []
    assert list(m.requests) == [
        ("GET", URL(f"{upstream.url}/mocked")),
        ("GET", URL(f"{upstream.url}/other")),
    ]


# == 8. nested blocks ==============================================================


@each_client()
async def test_nested_blocks(kind: str) -> None:
    a, b, c = (
        "https://a.example.com/x",
        "http://b.example.com:8080/y",
        "https://c.example.com/z",
    )
    assert not patch_installed()
    async with aiointercept(mock_external_urls=True) as outer:
        patched = aiohttp.TCPConnector._resolve_host
        patched_connect = socket.socket.connect
        assert patched is not ORIGINAL_RESOLVE
        outer.get(a, body="outer a", repeat=True)
        outer.get(b, body="outer b", repeat=True)
        async with (
            aiointercept(mock_external_urls=True) as inner,
            open_client(kind) as client,
        ):
            # installed once: the inner block does not wrap the wrapper
            assert aiohttp.TCPConnector._resolve_host is patched
            assert socket.socket.connect is patched_connect
            inner.get(a, body="inner a", repeat=True)
            assert await client.text(a) == "inner a"
            assert await client.text(b) == "outer b"
            with anyio.fail_after(1), pytest.raises(client.closed_error):
                await client.get(c)
        assert aiohttp.TCPConnector._resolve_host is patched
        assert socket.socket.connect is patched_connect
        async with open_client(kind) as client:
            assert await client.text(a) == "outer a"
            assert await client.text(b) == "outer b"
    assert not patch_installed()
    assert list(inner.requests) == [
        ("GET", URL(a)),
        ("GET", URL(c)),  # unmatched: the innermost block
    ]
    assert len(inner.requests[("GET", URL(a))]) == 1
    assert list(outer.requests) == [("GET", URL(b)), ("GET", URL(a))]
    assert len(outer.requests[("GET", URL(b))]) == 2
    assert len(outer.requests[("GET", URL(a))]) == 1


@each_client()
async def test_client_of_the_outer_block_reaches_the_inner_routes(kind: str) -> None:
    """A connection pooled in the outer block must not make the outer block
    answer what the inner one has a route for, nor be used after the inner
    block has gone."""
    url = "https://api.example.com/x"
    async with (
        aiointercept(mock_external_urls=True) as outer,
        open_client(kind) as client,
    ):
        outer.get(url, body="outer", repeat=True)
        outer.post(url, body="outer post", repeat=True)
        assert await client.text(url) == "outer"  # now pooled
        async with aiointercept(mock_external_urls=True) as inner:
            inner.get(url, body="inner", repeat=True)
            assert await client.text(url) == "inner"
        assert await client.text(url) == "outer"
        # POST is not retried by any of the clients on a dead pooled connection
        assert (await client.request("POST", url)).text == "outer post"
    assert len(inner.requests[("GET", URL(url))]) == 1
    assert len(outer.requests[("GET", URL(url))]) == 2
    assert len(outer.requests[("POST", URL(url))]) == 1


@each_client()
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_outer_block_answers_after_the_inner_one_exits_same_client(
    kind: str, method: str
) -> None:
    """The client's pooled connection to the inner block's (closed) server is
    not reused: the next request, even one the client would not retry,
    reaches the outer block."""
    url = "https://api.example.com/x"
    async with (
        aiointercept(mock_external_urls=True) as outer,
        open_client(kind) as client,
    ):
        outer.add(url, method, body="outer", repeat=True)
        async with aiointercept(mock_external_urls=True) as inner:
            inner.add(url, method, body="inner", repeat=True)
            assert (await client.request(method, url)).text == "inner"
        assert (await client.request(method, url)).text == "outer"
    assert len(inner.requests[(method, URL(url))]) == 1
    assert len(outer.requests[(method, URL(url))]) == 1


# == 9. the options ================================================================


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mock_external_urls": 1},
        {"mock_external_urls": "yes"},
        {"mock_external_urls": True, "passthrough_unmatched": 1},
    ],
)
def test_mode_flags_must_be_bools(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="must be a bool"):
        aiointercept(**kwargs)
