"""mock_external_urls=True: every aiohttp request in the process reaches the mock.

Nothing here leaves the machine or asks a real DNS server anything:

* every host name used either has a route, is intercepted (answered by the mock
  by closing the connection) or is resolved by a resolver of the test's own;
* the default resolver of every ``TCPConnector`` created during a test (the one
  a plain ``aiohttp.ClientSession()`` gets, and the passthrough proxy's) is
  replaced by :class:`GuardResolver`, which knows ``localhost`` only and records
  every call, so a test can also assert that it was never asked;
* upstream "real" servers are aiohttp servers on 127.0.0.1 started by the test;
* as a last resort, every aiohttp connection attempt to an address that is not
  loopback is refused (and fails the test), even if the library under test
  is broken (this wraps aiohttp's private ``_wrap_create_connection``, checked
  to still take ``addr_infos``).

aiohttp runs on asyncio only, so every async test pins the asyncio backend.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import aiohttp
import aiohttp.connector
import anyio
import pytest
from aiohttp.abc import ResolveResult
from yarl import URL

from aiointercept import CallbackResult, aiointercept
from tests.support import internals
from tests.support.aiohttp_guard import (
    BOUND,
    ORIGINAL_RESOLVE,
    RecordingResolver,
    get_json,
    get_text,
    guarded,
    patch_installed,
    refused,
    session_with,
)
from tests.support.paths import DOCS
from tests.support.upstream import closed_port, serving

pytestmark = pytest.mark.anyio
asyncio_only = pytest.mark.parametrize("anyio_backend", ["asyncio"])


@pytest.fixture(autouse=True)
def guard_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    yield from guarded(monkeypatch)


# == 1. code with its own session gets the mocked answer =======================


@asyncio_only
async def test_own_session_gets_the_registered_payload(
    guard_resolver: list[tuple[str, int]],
) -> None:
    async def list_charges() -> Any:
        """Third-party code: a hard-coded URL and a session of its own."""
        async with (
            aiohttp.ClientSession(timeout=BOUND) as session,
            session.get("https://api.stripe.com/v1/charges") as resp,
        ):
            resp.raise_for_status()
            return await resp.json()

    async with aiointercept(mock_external_urls=True) as m:
        m.get("https://api.stripe.com/v1/charges", payload={"data": []})
        assert await list_charges() == {"data": []}

    assert [
        r.url for r in m.requests[("GET", URL("https://api.stripe.com/v1/charges"))]
    ]
    assert guard_resolver == []


@asyncio_only
@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com/x",
        "https://api.example.com/x",
        "http://api.example.com:8080/x",
        "https://h.example.com:8443/x",
        "http://api.example.com:443/x",
        "https://api.example.com:80/x",
        "https://api.example.com:443/explicit-default",
        "http://api.example.com:80/explicit-default",
        "http://service.invalid/x",
    ],
)
async def test_http_and_https_on_default_and_explicit_ports(
    url: str, guard_resolver: list[tuple[str, int]]
) -> None:
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        m.get(url, payload={"url": url})
        assert await get_json(s, url) == {"url": url}
    (recorded,) = m.requests[("GET", URL(url))]
    assert recorded.url.scheme == URL(url).scheme
    assert recorded.url.port == URL(url).port
    assert guard_resolver == []


@asyncio_only
async def test_internationalized_host_name() -> None:
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        m.get("https://bücher.example/x", body="idna")
        assert await get_text(s, "https://xn--bcher-kva.example/x") == "idna"
    assert len(m.requests[("GET", URL("https://bücher.example/x"))]) == 1


@asyncio_only
async def test_http_and_https_of_one_host_and_port_are_told_apart() -> None:
    """Concurrent http and https requests to the same host and port each reach
    the route of their own scheme."""
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
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
            results[url] = await get_text(s, url)

        async with anyio.create_task_group() as tg:
            for url in urls:
                tg.start_soon(fetch, url)
    assert results == {url: URL(url).scheme for url in urls}
    assert {key[1] for key in m.requests} == {URL(url) for url in urls}


@asyncio_only
@pytest.mark.parametrize("ssl_option", ["default", "false", "context"])
async def test_https_session_ssl_options_do_not_apply_to_intercepted_hosts(
    ssl_option: str,
) -> None:
    choices: dict[str, dict[str, Any]] = {
        "default": {},
        "false": {"ssl": False},
        "context": {"ssl": ssl.create_default_context()},
    }
    options = choices[ssl_option]
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        m.get("https://secure.example.com/x", body="plain to the mock")
        assert await get_text(s, "https://secure.example.com/x", **options) == (
            "plain to the mock"
        )


@asyncio_only
async def test_session_created_before_the_block() -> None:
    resolver = RecordingResolver()
    async with session_with(resolver) as session:
        async with aiointercept(mock_external_urls=True) as m:
            m.get("https://api.example.com/before", body="mocked")
            assert await get_text(session, "https://api.example.com/before") == "mocked"
        assert resolver.calls == []


@asyncio_only
async def test_session_with_a_warm_dns_cache() -> None:
    """The name was resolved (and cached) before the block: inside it the mock
    answers anyway, and the cache is neither used nor changed."""
    resolver = RecordingResolver({"warm.example.com": "127.0.0.1"})
    async with (
        serving() as upstream,
        # no pooled connection: this is about the DNS cache only
        session_with(resolver, force_close=True) as session,
    ):
        url = f"http://warm.example.com:{upstream.port}"
        assert await get_text(session, f"{url}/x") == "upstream GET /x"
        assert resolver.calls == [("warm.example.com", upstream.port)]

        async with aiointercept(mock_external_urls=True) as m:
            m.get(f"{url}/x", body="mocked", repeat=True)
            assert await get_text(session, f"{url}/x") == "mocked"
            assert await get_text(session, f"{url}/x") == "mocked"
        assert len(m.requests[("GET", URL(f"{url}/x"))]) == 2
        assert len(upstream.received) == 1
        assert resolver.calls == [("warm.example.com", upstream.port)]

        # after the block the cached address is used as before
        assert await get_text(session, f"{url}/x") == "upstream GET /x"
        assert len(upstream.received) == 2


class RaisingThreadedResolver(aiohttp.ThreadedResolver):
    """A ThreadedResolver that must never be asked (it would query real DNS)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append(host)
        raise socket.gaierror(socket.EAI_NONAME, f"must not resolve {host!r}")


@asyncio_only
async def test_threaded_resolver() -> None:
    resolver = RaisingThreadedResolver()
    async with (
        aiointercept(mock_external_urls=True) as m,
        session_with(resolver) as session,
    ):
        m.get("https://threaded.example.com/x", body="mocked")
        assert await get_text(session, "https://threaded.example.com/x") == "mocked"
    assert resolver.calls == []


@asyncio_only
async def test_async_resolver() -> None:
    pytest.importorskip("aiodns")

    class RaisingAsyncResolver(aiohttp.AsyncResolver):
        calls: ClassVar[list[str]] = []

        async def resolve(
            self,
            host: str,
            port: int = 0,
            family: socket.AddressFamily = socket.AF_INET,
        ) -> list[ResolveResult]:
            self.calls.append(host)
            raise socket.gaierror(socket.EAI_NONAME, f"must not resolve {host!r}")

    resolver = RaisingAsyncResolver()
    try:
        async with (
            aiointercept(mock_external_urls=True) as m,
            session_with(resolver) as session,
        ):
            m.get("https://async.example.com:8443/x", body="mocked")
            assert await get_text(session, "https://async.example.com:8443/x") == (
                "mocked"
            )
    finally:
        await resolver.close()
    assert RaisingAsyncResolver.calls == []


class CountingConnector(aiohttp.TCPConnector):
    """A connector subclass of the kind SDKs ship (it does not override the
    wrapped methods themselves)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.created = 0

    async def _create_connection(self, *args: Any, **kwargs: Any) -> Any:
        self.created += 1
        return await super()._create_connection(*args, **kwargs)


@asyncio_only
async def test_connector_subclass() -> None:
    resolver = RecordingResolver()
    connector = CountingConnector(resolver=resolver)
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(connector=connector, timeout=BOUND) as session,
    ):
        m.get("https://sub.example.com/x", body="https")
        m.get("http://sub.example.com:8080/y", body="http")
        assert await get_text(session, "https://sub.example.com/x") == "https"
        assert await get_text(session, "http://sub.example.com:8080/y") == "http"
    assert connector.created == 2
    assert resolver.calls == []


@asyncio_only
async def test_request_from_another_thread_with_its_own_loop() -> None:
    async def in_thread() -> str:
        async with aiohttp.ClientSession(timeout=BOUND) as session:
            return await get_text(session, "https://thread.example.com/x")

    async with aiointercept(mock_external_urls=True) as m:
        m.get("https://thread.example.com/x", body="from another thread")
        text = await anyio.to_thread.run_sync(lambda: asyncio.run(in_thread()))
    assert text == "from another thread"


@asyncio_only
async def test_default_mode_patches_nothing() -> None:
    async with aiointercept() as m, aiohttp.ClientSession(timeout=BOUND) as session:
        assert not patch_installed()
        m.get("/local", body="local")
        assert await get_text(session, f"{m.server_url}/local") == "local"


# == 2. records and callbacks see the URL the client asked for =================


@asyncio_only
@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/orders",
        "http://api.example.com/orders",
        "https://api.example.com:8443/orders",
        "http://api.example.com:8080/orders",
    ],
)
async def test_records_show_the_requested_url(url: str) -> None:
    with_query = f"{url}?z=1&a=2"
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        m.post(url, status=201, payload={"id": 7})
        m.post(with_query, status=202)
        async with s.post(url, json={"sku": "X1"}) as resp:
            assert resp.status == 201
            assert await resp.json() == {"id": 7}
        async with s.post(with_query, data=b"raw") as resp:
            assert resp.status == 202
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


@asyncio_only
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_callback_receives_the_external_url(kind: str) -> None:
    seen: list[tuple[URL, str]] = []

    def sync_callback(url: URL, *, headers: Any, **kwargs: Any) -> CallbackResult:
        seen.append((url, headers["Host"]))
        return CallbackResult(payload={"url": str(url)})

    async def async_callback(
        url: URL, *, headers: Any, **kwargs: Any
    ) -> CallbackResult:
        return sync_callback(url, headers=headers)

    callback = sync_callback if kind == "sync" else async_callback
    requested = "https://api.example.com:8443/items?b=2&a=1"
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        m.get(requested, callback=callback)
        assert await get_json(s, requested) == {"url": requested}
    assert seen == [(URL(requested), "api.example.com:8443")]
    (url, _) = seen[0]
    assert (url.scheme, url.host, url.port) == ("https", "api.example.com", 8443)


# == 3. regular-expression routes ==============================================


@asyncio_only
async def test_regex_routes_match_external_urls(
    guard_resolver: list[tuple[str, int]],
) -> None:
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
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
        assert await get_json(s, "https://api.example.com/users/1") == {"id": "1"}
        assert await get_json(s, "https://api.example.com/users/42") == {"id": "42"}
        assert await get_text(s, "https://eu.cdn.example.com:8443/img/a.png") == "PNG"
        assert await get_text(s, "https://us.cdn.example.com:8443/img/b.png") == "PNG"
        with anyio.fail_after(1), pytest.raises(aiohttp.ClientConnectionError):
            # the pattern asks for https: http is not answered
            await s.get("http://api.example.com/users/1")
        with anyio.fail_after(1), pytest.raises(aiohttp.ClientConnectionError):
            await s.get("https://api.example.com/users/x")
    assert len(m.requests[("GET", URL("https://api.example.com/users/42"))]) == 1
    assert len(m.requests[("GET", URL("https://eu.cdn.example.com:8443/img/a.png"))])
    assert guard_resolver == []


# == 4. an unmatched request never leaves the machine ===========================


@asyncio_only
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "https://nowhere.example.com/x"),
        ("POST", "http://nowhere.example.com:8080/x"),
        ("GET", "http://service.invalid/"),
        ("GET", "https://api.example.com/not-registered"),  # host has a route
    ],
)
async def test_unmatched_request_is_closed_quickly_and_not_resolved(
    method: str,
    url: str,
    caplog: pytest.LogCaptureFixture,
    guard_resolver: list[tuple[str, int]],
) -> None:
    caplog.set_level(logging.WARNING, logger="aiointercept")
    resolver = RecordingResolver()
    async with (
        aiointercept(mock_external_urls=True) as m,
        session_with(resolver) as session,
    ):
        m.get("https://api.example.com/registered", body="x")
        with anyio.fail_after(1), pytest.raises(aiohttp.ClientConnectionError):
            await session.request(method, url, data=b"payload")
    assert resolver.calls == []
    assert guard_resolver == []
    (recorded,) = m.requests[(method, URL(url))]
    assert recorded.captured_body == b"payload"
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "aiointercept" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert f"no route matches {method} {URL(url)}" in warnings[0]
    assert "https://api.example.com/registered" in warnings[0]


@asyncio_only
async def test_block_without_routes_still_intercepts() -> None:
    resolver = RecordingResolver()
    async with (
        aiointercept(mock_external_urls=True) as m,
        session_with(resolver) as session,
    ):
        with anyio.fail_after(1), pytest.raises(aiohttp.ClientConnectionError):
            await session.get("https://api.example.com/x")
    assert resolver.calls == []
    assert list(m.requests) == [("GET", URL("https://api.example.com/x"))]


# == 6. nested and side-by-side blocks ==========================================


@asyncio_only
async def test_nested_blocks() -> None:
    a, b = "https://a.example.com/x", "http://b.example.com:8080/y"
    assert not patch_installed()
    async with aiointercept(mock_external_urls=True) as outer:
        patched = aiohttp.TCPConnector._resolve_host
        patched_ssl = aiohttp.TCPConnector._get_ssl_context
        assert patched is not ORIGINAL_RESOLVE
        outer.get(a, body="outer a", repeat=True)
        outer.get(b, body="outer b", repeat=True)
        async with aiointercept(mock_external_urls=True) as inner:
            # installed once: the inner block does not wrap the wrapper
            assert aiohttp.TCPConnector._resolve_host is patched
            assert aiohttp.TCPConnector._get_ssl_context is patched_ssl
            inner.get(a, body="inner a", repeat=True)
            async with aiohttp.ClientSession(timeout=BOUND) as s:
                assert await get_text(s, a) == "inner a"
                assert await get_text(s, b) == "outer b"
                with anyio.fail_after(1), pytest.raises(aiohttp.ClientConnectionError):
                    await s.get("https://c.example.com/z")
        assert aiohttp.TCPConnector._resolve_host is patched
        assert aiohttp.TCPConnector._get_ssl_context is patched_ssl
        async with aiohttp.ClientSession(timeout=BOUND) as s:
            assert await get_text(s, a) == "outer a"
            assert await get_text(s, b) == "outer b"
    assert not patch_installed()

    assert list(inner.requests) == [
        ("GET", URL(a)),
        ("GET", URL("https://c.example.com/z")),  # unmatched: the innermost block
    ]
    assert len(inner.requests[("GET", URL(a))]) == 1
    assert list(outer.requests) == [("GET", URL(b)), ("GET", URL(a))]
    assert len(outer.requests[("GET", URL(b))]) == 2
    assert len(outer.requests[("GET", URL(a))]) == 1


@asyncio_only
async def test_session_of_the_outer_block_reaches_the_inner_routes() -> None:
    """A keep-alive connection opened in the outer block must not make the
    outer block answer what the inner block has a route for."""
    url = "https://api.example.com/x"
    async with (
        aiointercept(mock_external_urls=True) as outer,
        aiohttp.ClientSession(timeout=BOUND) as session,
    ):
        outer.get(url, body="outer", repeat=True)
        assert await get_text(session, url) == "outer"  # now pooled
        async with aiointercept(mock_external_urls=True) as inner:
            inner.get(url, body="inner", repeat=True)
            assert await get_text(session, url) == "inner"
        assert await get_text(session, url) == "outer"
    assert len(inner.requests[("GET", URL(url))]) == 1
    assert len(outer.requests[("GET", URL(url))]) == 2


@asyncio_only
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_outer_block_answers_after_the_inner_one_exits_same_session(
    method: str,
) -> None:
    """The session's pooled connection to the inner block's (closed) server is
    not reused: the next request, even one aiohttp would not retry, reaches the
    outer block."""
    url = "https://api.example.com/x"
    async with (
        aiointercept(mock_external_urls=True) as outer,
        aiohttp.ClientSession(timeout=BOUND) as session,
    ):
        outer.add(url, method, body="outer", repeat=True)
        async with aiointercept(mock_external_urls=True) as inner:
            inner.add(url, method, body="inner", repeat=True)
            async with session.request(method, url) as resp:
                assert await resp.text() == "inner"
        async with session.request(method, url) as resp:
            assert await resp.text() == "outer"
    assert len(inner.requests[(method, URL(url))]) == 1
    assert len(outer.requests[(method, URL(url))]) == 1


@asyncio_only
async def test_side_by_side_blocks_exit_out_of_order() -> None:
    """Task one enters first and exits first while task two's block runs on."""
    one_in, two_in, one_out = anyio.Event(), anyio.Event(), anyio.Event()
    texts: dict[str, str] = {}
    blocks: dict[str, aiointercept] = {}
    patched: list[object] = []

    async def one() -> None:
        async with aiointercept(mock_external_urls=True) as m:
            blocks["one"] = m
            patched.append(aiohttp.TCPConnector._resolve_host)
            m.get("https://one.example.com/x", body="one", repeat=True)
            one_in.set()
            await two_in.wait()
            async with aiohttp.ClientSession(timeout=BOUND) as s:
                texts["one"] = await get_text(s, "https://one.example.com/x")
        one_out.set()

    async def two() -> None:
        await one_in.wait()
        async with aiointercept(mock_external_urls=True) as m:
            blocks["two"] = m
            patched.append(aiohttp.TCPConnector._resolve_host)
            m.get("https://two.example.com/x", body="two", repeat=True)
            two_in.set()
            await one_out.wait()
            patched.append(aiohttp.TCPConnector._resolve_host)
            async with aiohttp.ClientSession(timeout=BOUND) as s:
                texts["two"] = await get_text(s, "https://two.example.com/x")
                with anyio.fail_after(1), pytest.raises(aiohttp.ClientConnectionError):
                    await s.get("https://one.example.com/x")  # its block is gone

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(one)
            tg.start_soon(two)
    assert not patch_installed()
    assert texts == {"one": "one", "two": "two"}
    assert len(set(map(id, patched))) == 1
    assert patched[0] is not ORIGINAL_RESOLVE
    assert len(blocks["one"].requests[("GET", URL("https://one.example.com/x"))]) == 1
    assert ("GET", URL("https://two.example.com/x")) not in blocks["one"].requests
    assert len(blocks["two"].requests[("GET", URL("https://two.example.com/x"))]) == 1


class BlockError(Exception):
    """Raised by the test's own block."""


async def block_that_raises(url: str | None = None) -> None:
    async with aiointercept(mock_external_urls=True) as m:
        assert patch_installed()
        if url is not None:
            m.get(url, body="from the block that raised")
        raise BlockError


@asyncio_only
async def test_patch_restored_when_a_block_exits_by_exception() -> None:
    with pytest.raises(BlockError):
        await block_that_raises()
    assert not patch_installed()


@asyncio_only
async def test_inner_block_exits_by_exception_outer_keeps_working() -> None:
    async with aiointercept(mock_external_urls=True) as outer:
        outer.get("https://a.example.com/x", body="outer", repeat=True)
        with pytest.raises(BlockError):
            await block_that_raises("https://a.example.com/x")
        assert patch_installed()
        async with aiohttp.ClientSession(timeout=BOUND) as s:
            assert await get_text(s, "https://a.example.com/x") == "outer"
    assert not patch_installed()


@asyncio_only
async def test_patch_restored_when_a_block_is_cancelled() -> None:
    with anyio.move_on_after(0.2) as scope:
        async with aiointercept(mock_external_urls=True):
            assert patch_installed()
            await anyio.sleep(10)
    assert scope.cancelled_caught
    assert not patch_installed()


@asyncio_only
async def test_patch_restored_when_cancelled_during_a_request() -> None:
    started = anyio.Event()

    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        started.set()
        await anyio.sleep(10)
        return CallbackResult(body="late")

    with anyio.move_on_after(5) as scope:
        async with (
            aiointercept(mock_external_urls=True) as m,
            aiohttp.ClientSession(timeout=BOUND) as s,
            anyio.create_task_group() as tg,
        ):

            async def fetch() -> None:
                await s.get("https://slow.example.com/x")

            m.get("https://slow.example.com/x", callback=slow)
            tg.start_soon(fetch)
            await started.wait()
            tg.cancel_scope.cancel()
            assert patch_installed()
        assert not patch_installed()
    assert not scope.cancelled_caught


@asyncio_only
async def test_nested_blocks_cancelled_together() -> None:
    with anyio.move_on_after(0.2) as scope:
        async with (
            aiointercept(mock_external_urls=True),
            aiointercept(mock_external_urls=True),
        ):
            await anyio.sleep(10)
    assert scope.cancelled_caught
    assert not patch_installed()


@asyncio_only
async def test_a_default_mode_block_does_not_end_the_patch() -> None:
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        m.get("https://a.example.com/x", body="still mocked")
        async with aiointercept():
            pass
        assert patch_installed()
        assert await get_text(s, "https://a.example.com/x") == "still mocked"


# == 7. nothing leaks after the block ===========================================


@asyncio_only
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    "url", ["https://api.example.com/x", "http://api.example.com:8080/x"]
)
async def test_after_the_block_the_same_session_resolves_for_real(
    method: str, url: str
) -> None:
    resolver = RecordingResolver()
    async with session_with(resolver) as session:
        async with aiointercept(mock_external_urls=True) as m:
            m.add(url, method, body="mocked", repeat=True)
            for _ in range(2):  # the second request uses the pooled connection
                async with session.request(method, url) as resp:
                    assert await resp.text() == "mocked"
                    assert resp.headers.get("Connection", "").lower() != "close"
        assert resolver.calls == []
        # POST is never retried by aiohttp: reusing the dead pooled connection
        # would raise ServerDisconnectedError, not a resolution error
        with anyio.fail_after(1), pytest.raises(aiohttp.ClientConnectorError):
            await session.request(method, url)
        assert resolver.calls == [("api.example.com", URL(url).port)]
    assert len(m.requests[(method, URL(url))]) == 2


@asyncio_only
async def test_after_the_block_the_default_resolver_is_asked(
    guard_resolver: list[tuple[str, int]],
) -> None:
    async with aiohttp.ClientSession(timeout=BOUND) as session:
        async with aiointercept(mock_external_urls=True) as m:
            m.get("https://api.example.com/x", body="mocked")
            assert await get_text(session, "https://api.example.com/x") == "mocked"
        assert guard_resolver == []
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get("https://api.example.com/x")
        assert guard_resolver == [("api.example.com", 443)]


# == 8. IP-literal URLs ========================================================

# The example, and documentation addresses (RFC 5737, RFC 3849).
IP_URLS = [
    "http://10.1.2.3/x",
    "http://192.0.2.10/x",
    "https://198.51.100.7:8443/x",
    "http://[2001:db8::1]:8080/x",
]


@asyncio_only
@pytest.mark.parametrize("url", IP_URLS)
async def test_ip_literal_urls_are_intercepted(url: str) -> None:
    async with aiointercept(mock_external_urls=True) as m:
        m.get(url, body="from the mock")
        if not patch_installed():  # never send anything to these addresses
            pytest.fail("mock_external_urls=True did not install the patch")
        # and the loopback guard refuses any connection to the address itself
        async with aiohttp.ClientSession(timeout=BOUND) as s:
            assert await get_text(s, url) == "from the mock"
    assert len(m.requests[("GET", URL(url))]) == 1


@asyncio_only
async def test_unrouted_ip_literal_is_closed_by_the_mock() -> None:
    async with aiointercept(mock_external_urls=True) as m:
        if not patch_installed():
            pytest.fail("mock_external_urls=True did not install the patch")
        async with aiohttp.ClientSession(timeout=BOUND) as s:
            with anyio.fail_after(1), pytest.raises(aiohttp.ClientConnectionError):
                await s.get("http://192.0.2.10/unrouted")
    assert list(m.requests) == [("GET", URL("http://192.0.2.10/unrouted"))]


@asyncio_only
async def test_loopback_ip_without_a_route_is_not_intercepted() -> None:
    async with (
        serving() as upstream,
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        m.get("/own", body="the mock itself")
        assert await get_text(s, f"{m.server_url}/own") == "the mock itself"
        assert await get_text(s, f"{upstream.ip_url}/local") == "upstream GET /local"
    assert [r.path for r in upstream.received] == ["/local"]
    assert list(m.requests) == [("GET", URL(f"{m.server_url}/own"))]


@asyncio_only
async def test_loopback_ip_with_a_route_is_intercepted() -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/routed"
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        m.get(url, body="mocked loopback")
        assert await get_text(s, url) == "mocked loopback"
    assert len(m.requests[("GET", URL(url))]) == 1


# == 9. redirects between mocked hosts =========================================


@asyncio_only
async def test_redirect_between_mocked_hosts() -> None:
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
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
        async with s.get("https://a.example.com/old") as resp:
            assert resp.status == 200
            assert await resp.text() == "moved here"
            assert resp.url == URL("http://c.example.com:8080/final")
            assert [(r.status, r.url) for r in resp.history] == [
                (302, URL("https://a.example.com/old")),
                (301, URL("https://b.example.com/new?x=1")),
            ]
    assert {key[1] for key in m.requests} == {
        URL("https://a.example.com/old"),
        URL("https://b.example.com/new?x=1"),
        URL("http://c.example.com:8080/final"),
    }


@asyncio_only
async def test_post_303_redirect_to_another_host_becomes_get() -> None:
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        m.post(
            "https://a.example.com/form",
            status=303,
            headers={"Location": "https://b.example.com/done"},
        )
        m.get("https://b.example.com/done", body="done")
        async with s.post("https://a.example.com/form", data=b"x") as resp:
            assert await resp.text() == "done"
            assert [r.status for r in resp.history] == [303]
    assert ("GET", URL("https://b.example.com/done")) in m.requests


@asyncio_only
async def test_redirect_to_an_unmatched_host_is_closed() -> None:
    resolver = RecordingResolver()
    async with (
        aiointercept(mock_external_urls=True) as m,
        session_with(resolver) as s,
    ):
        m.get(
            "https://a.example.com/old",
            status=302,
            headers={"Location": "https://elsewhere.example.com/"},
        )
        with anyio.fail_after(1), pytest.raises(aiohttp.ClientConnectionError):
            await s.get("https://a.example.com/old")
    assert resolver.calls == []
    assert ("GET", URL("https://elsewhere.example.com/")) in m.requests


# == 10. constructor validation and the private names ===========================


@pytest.mark.parametrize(
    "passthrough",
    [
        "https://api.example.com",
        b"api.example.com",
        42,
        [42],
        [b"api.example.com"],
        [None],
        [URL("https://api.example.com")],
    ],
)
def test_passthrough_bad_types(passthrough: Any) -> None:
    with pytest.raises(TypeError, match="passthrough"):
        aiointercept(mock_external_urls=True, passthrough=passthrough)


@pytest.mark.parametrize(
    "entry",
    [
        "ftp://api.example.com",
        "ws://api.example.com",
        "https://",
        "",
    ],
)
def test_passthrough_bad_entries(entry: str) -> None:
    with pytest.raises(ValueError, match="passthrough"):
        aiointercept(mock_external_urls=True, passthrough=[entry])


@pytest.mark.parametrize(
    "entry",
    [
        "https://api.example.com",
        "https://api.example.com/",
        "http://localhost:8080",
        "api.example.com",
        "api.example.com:8443",
    ],
)
def test_passthrough_good_entries(entry: str) -> None:
    m = aiointercept(mock_external_urls=True, passthrough=[entry])
    assert len(m.passthrough) == 1


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"passthrough": ["https://api.example.com"]}, "passthrough"),
        ({"passthrough_unmatched": True}, "passthrough_unmatched"),
        (
            {"passthrough": ["api.example.com"], "mock_external_urls": False},
            "passthrough",
        ),
    ],
)
def test_passthrough_requires_mock_external_urls(
    kwargs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{name} requires mock_external_urls=True"):
        aiointercept(**kwargs)


def test_empty_passthrough_without_mock_external_urls_is_fine() -> None:
    aiointercept(passthrough=[])
    aiointercept(passthrough=None, passthrough_unmatched=False)


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


@asyncio_only
async def test_the_patch_touches_only_the_listed_names() -> None:
    classes: list[type] = [
        aiohttp.TCPConnector,
        aiohttp.BaseConnector,
        aiohttp.ClientSession,
        aiohttp.ClientRequest,
        aiohttp.ClientResponse,
        aiohttp.ThreadedResolver,
    ]
    # and the resend wrappers of earlier tests
    internals.aiohttp_server.engine.shutdown()
    before = [dict(vars(cls)) for cls in classes]
    async with aiointercept(mock_external_urls=True):
        changed = {
            (cls.__name__, name)
            for cls, saved in zip(classes, before, strict=True)
            for name in set(saved) | set(vars(cls))
            if saved.get(name) is not vars(cls).get(name)
        }
    # every block also stops aiohttp's resend of a request a fault ended
    resend = {("ClientRequest", "send"), ("ClientResponse", "start")}
    assert changed == resend | {
        tuple(name.split(".")) for name in internals.aiohttp_adapter.PATCHED_NAMES
    }
    assert set(internals.aiohttp_adapter.PATCHED_NAMES) == {
        "TCPConnector._resolve_host",
        "TCPConnector._get_ssl_context",
        "TCPConnector.connect",
    }
    # the resend wrappers stay while the server thread lives (see below)
    internals.aiohttp_server.engine.shutdown()
    after = [dict(vars(cls)) for cls in classes]
    assert all(
        saved.keys() == now.keys() and all(saved[k] is now[k] for k in saved)
        for saved, now in zip(before, after, strict=True)
    )


@asyncio_only
async def test_the_resend_wrappers_stay_until_the_server_thread_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Installing them on every block would slow the next requests down: they
    stay between blocks, and go when the server thread ends, idle."""
    internals.aiohttp_server.engine.shutdown()
    original = vars(aiohttp.ClientRequest).get("send")
    monkeypatch.setattr(internals.aiohttp_server, "LINGER", 0.05)
    async with aiointercept() as m:
        m.get("/x", body="ok")
        wrapped = vars(aiohttp.ClientRequest).get("send")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{m.server_url}/x") as response,
        ):
            assert await response.text() == "ok"
    assert wrapped is not original
    assert vars(aiohttp.ClientRequest).get("send") is wrapped  # between blocks
    (thread,) = [t for t in threading.enumerate() if t.name == "aiointercept-server"]
    await anyio.to_thread.run_sync(thread.join, 5)
    assert vars(aiohttp.ClientRequest).get("send") is original


@pytest.mark.parametrize("module", list(internals.ADAPTERS))
def test_the_patched_names_are_documented(module: str) -> None:
    page = " ".join((DOCS / "interception.rst").read_text().split())
    patched = internals.ADAPTERS[module]
    assert patched.PATCHED_NAMES
    for name, parameters in patched.PATCHED_NAMES.items():
        shown = parameters[1:] if parameters[0] == "self" else parameters
        listed = f"``{module}.{name}({', '.join(shown)})``"
        assert listed in page, listed


def test_the_installed_aiohttp_has_what_the_patch_needs() -> None:
    assert internals.aiohttp_adapter.INCOMPATIBLE is None
    for name, expected in internals.aiohttp_adapter.PATCHED_NAMES.items():
        method = getattr(aiohttp.TCPConnector, name.rpartition(".")[2])
        assert tuple(inspect.signature(method).parameters) == expected


def test_an_incompatible_aiohttp_is_described() -> None:
    async def changed(self: object, host: str, port: int) -> None:
        pass

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aiohttp.TCPConnector, "_resolve_host", changed)
        patch.delattr(aiohttp.TCPConnector, "_get_ssl_context")
        problem = internals.incompatibility(
            "aiohttp",
            aiohttp.__version__,
            aiohttp,
            internals.aiohttp_adapter.PATCHED_NAMES,
        )
    assert problem is not None
    assert aiohttp.__version__ in problem
    assert "aiohttp.TCPConnector._get_ssl_context is missing" in problem
    assert "_resolve_host" in problem
    assert "('self', 'host', 'port')" in problem


@asyncio_only
async def test_an_incompatible_aiohttp_refuses_the_mode_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = "mock_external_urls=True cannot patch aiohttp X: something changed"
    monkeypatch.setattr(internals.aiohttp_adapter, "INCOMPATIBLE", message)
    with pytest.raises(RuntimeError, match="cannot patch aiohttp X"):
        async with aiointercept(mock_external_urls=True):
            pytest.fail("the block must not start")  # pragma: no cover
    assert not patch_installed()
    assert internals.active_servers() == 0
    async with aiointercept() as m, aiohttp.ClientSession(timeout=BOUND) as s:
        m.get("/ok", body="default mode works")
        assert await get_text(s, f"{m.server_url}/ok") == "default mode works"


@asyncio_only
async def test_the_loopback_guard_of_this_module_works() -> None:
    """The safety net itself: a connection to an outside address is refused
    before anything is sent (no block runs here, so nothing intercepts it)."""
    async with aiohttp.ClientSession(timeout=BOUND) as s:
        with pytest.raises(AssertionError, match="outside the machine"):
            await s.get("http://192.0.2.10/")
    assert refused == [("192.0.2.10", 80)]
    refused.clear()
