"""Lifecycle of the server: address, clients, leaving the block, several instances,
malformed HTTP and concurrency."""

from __future__ import annotations

import asyncio
import gc
import re
import select
import socket
import threading
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import anyio
import anyio.abc
import httpx
import pytest
import requests
from anyio.streams.buffered import BufferedByteReceiveStream
from yarl import URL

from aiointercept import CallbackResult, aiointercept
from tests.support import internals
from tests.support.backends import asyncio_only
from tests.support.blocks import (
    assert_port_closed,
    assert_port_open,
    open_servers,
    port_of,
)


class BlockError(Exception):
    """Raised by a test's own block."""


class BlockBaseError(BaseException):
    """A BaseException (not an Exception) raised by a test's own block."""


# -- address -------------------------------------------------------------------


@pytest.mark.anyio
async def test_server_listens_on_127_0_0_1_with_an_ephemeral_port() -> None:
    async with aiointercept() as m:
        url = URL(m.server_url)
        assert open_servers() > 0
        port = port_of(m.server_url)
        await assert_port_open(port)
        async with httpx.AsyncClient() as client:
            m.get("/ping", body="pong")
            response = await client.get(f"{m.server_url}/ping")

    assert url.scheme == "http"
    assert url.host == "127.0.0.1"
    assert 0 < port < 65536
    assert not m.server_url.endswith("/")
    assert url.path in ("", "/")
    assert (response.status_code, response.text) == (200, "pong")
    await assert_port_closed(port)
    assert open_servers() == 0


@pytest.mark.anyio
async def test_server_url_needs_a_started_block() -> None:
    m = aiointercept()
    with pytest.raises(RuntimeError):
        _ = m.server_url


@pytest.mark.anyio
async def test_two_instances_get_different_ports() -> None:
    async with aiointercept() as first, aiointercept() as second:
        ports = {port_of(first.server_url), port_of(second.server_url)}
    assert len(ports) == 2


# -- clients -------------------------------------------------------------------


@pytest.mark.anyio
@asyncio_only
async def test_aiohttp_client() -> None:
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.post("/items", status=201, payload={"id": 7})
        async with session.post(f"{m.server_url}/items", json={"n": 1}) as response:
            status = response.status
            payload = await response.json()
        record = m.requests[("POST", URL(f"{m.server_url}/items"))][0]

    assert (status, payload) == (201, {"id": 7})
    assert record.kwargs["json"] == {"n": 1}


@pytest.mark.anyio
async def test_httpx_async_client() -> None:
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as c:
        m.post("/items", status=201, payload={"id": 7})
        response = await c.post("/items", json={"n": 1})
        record = m.requests[("POST", URL(f"{m.server_url}/items"))][0]

    assert (response.status_code, response.json()) == (201, {"id": 7})
    assert record.kwargs["json"] == {"n": 1}


def fetch_httpx(url: str) -> tuple[int, bytes]:
    with httpx.Client() as client:
        response = client.get(url, timeout=5)
        return response.status_code, response.content


def fetch_requests(url: str) -> tuple[int, bytes]:
    with requests.Session() as session:
        response = session.get(url, timeout=5)
        return response.status_code, response.content


def fetch_urllib(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        status: int = response.status
        body: bytes = response.read()
        return status, body


SYNC_CLIENTS = [
    pytest.param(fetch_httpx, id="httpx-sync"),
    pytest.param(fetch_requests, id="requests"),
    pytest.param(fetch_urllib, id="urllib"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("fetch", SYNC_CLIENTS)
async def test_sync_client_from_a_worker_thread(
    fetch: Callable[[str], tuple[int, bytes]],
) -> None:
    async def from_the_loop(url: URL, **kwargs: Any) -> CallbackResult:
        await anyio.sleep(0.01)
        return CallbackResult(body=b"async callback")

    async with aiointercept() as m:
        m.get("/static", body=b"static")
        m.get("/callback", callback=from_the_loop)
        static = await anyio.to_thread.run_sync(fetch, f"{m.server_url}/static")
        callback = await anyio.to_thread.run_sync(fetch, f"{m.server_url}/callback")
        recorded = sorted(str(key[1]) for key in m.requests)

    assert static == (200, b"static")
    assert callback == (200, b"async callback")
    assert recorded == [f"{m.server_url}/callback", f"{m.server_url}/static"]


@pytest.mark.anyio
@pytest.mark.parametrize("fetch", SYNC_CLIENTS)
async def test_sync_client_called_directly_in_the_async_test(
    fetch: Callable[[str], tuple[int, bytes]],
) -> None:
    def from_the_server(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(body=b"sync callback")

    async with aiointercept() as m:
        m.get("/static", body=b"static")
        m.get("/callback", callback=from_the_server)
        static = fetch(f"{m.server_url}/static")
        callback = fetch(f"{m.server_url}/callback")

    assert static == (200, b"static")
    assert callback == (200, b"sync callback")


# -- leaving the block ---------------------------------------------------------


@pytest.mark.anyio
async def test_leaving_normally_closes_the_server() -> None:
    async with aiointercept() as m:
        port = port_of(m.server_url)
    assert open_servers() == 0
    await assert_port_closed(port)


@pytest.mark.anyio
@pytest.mark.parametrize("error_type", [BlockError, BlockBaseError])
async def test_block_exception_propagates_unchanged_and_closes_the_server(
    error_type: type[BaseException],
) -> None:
    mine = error_type("from the block")
    ports: list[int] = []

    async def block() -> None:
        async with aiointercept() as m:
            ports.append(port_of(m.server_url))
            raise mine

    with pytest.raises(error_type) as excinfo:
        await block()

    assert excinfo.value is mine
    assert excinfo.value.args == ("from the block",)
    assert excinfo.value.__cause__ is None
    assert open_servers() == 0
    await assert_port_closed(ports[0])


@pytest.mark.anyio
async def test_block_exception_with_requests_in_flight() -> None:
    """The block raises while a request to an async callback is pending."""
    mine = BlockError("raised while a request is pending")
    started = anyio.Event()
    outcomes: list[str] = []
    ports: list[int] = []

    async def pending(url: URL, **kwargs: Any) -> CallbackResult:
        started.set()
        try:
            await anyio.sleep(10)
        except anyio.get_cancelled_exc_class():
            outcomes.append("callback cancelled")
            raise
        return CallbackResult()  # pragma: no cover

    def client_thread(url: str) -> None:
        try:
            requests.get(url, timeout=5)
        except requests.RequestException:
            outcomes.append("client error")
        else:
            outcomes.append("client answered")

    threads: list[threading.Thread] = []

    async def block() -> None:
        async with aiointercept() as m:
            ports.append(port_of(m.server_url))
            m.get("/pending", callback=pending)
            thread = threading.Thread(
                target=client_thread, args=(f"{m.server_url}/pending",)
            )
            threads.append(thread)
            thread.start()
            with anyio.fail_after(5):
                await started.wait()
            raise mine

    start = time.monotonic()
    with pytest.raises(BlockError) as excinfo:
        await block()
    elapsed = time.monotonic() - start

    assert excinfo.value is mine
    assert elapsed < 3
    await assert_port_closed(ports[0])
    # the client is not left hanging
    await anyio.to_thread.run_sync(threads[0].join, 5)
    assert not threads[0].is_alive()
    assert "callback cancelled" in outcomes
    assert len(outcomes) == 2


@pytest.mark.anyio
async def test_a_connection_opened_just_before_exit_leaves_no_socket_behind() -> None:
    """A client that connects right before the block ends (accepted by the kernel,
    maybe not yet by the server) must not leave an unclosed server socket."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(100):
            async with aiointercept() as m:
                stream = await anyio.connect_tcp("127.0.0.1", port_of(m.server_url))
                await stream.aclose()
        gc.collect()

    leaked = [str(w.message) for w in caught if w.category is ResourceWarning]
    assert leaked == []


def test_a_connection_being_made_as_a_block_stops_is_closed_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server thread has accepted a connection and is making it when the
    block's stop is requested: the block's exit closes it all the same (it
    must not wait for its client, nor outlive the block)."""
    being_made = threading.Event()
    stop_requested = threading.Event()
    web_server = internals.server_sockets.WebServer
    block_server = internals.block_server.BlockServer
    make_door, schedule_stop = web_server.protocol_factory, block_server._schedule_stop

    def door(self: Any) -> Any:
        # on the server thread, between accepting the connection and making it
        being_made.set()
        stop_requested.wait(5)
        return make_door(self)

    def schedule(self: Any, stopped: Any) -> bool:
        scheduled: bool = schedule_stop(self, stopped)
        stop_requested.set()
        return scheduled

    monkeypatch.setattr(web_server, "protocol_factory", door)
    monkeypatch.setattr(block_server, "_schedule_stop", schedule)
    with socket.socket() as client:
        # a block entered with 'with' is served by the server thread
        with aiointercept(mock_external_urls=True) as m:
            client.connect(("127.0.0.1", port_of(m.server_url)))
            assert being_made.wait(5)
        client.settimeout(5)
        assert end_of(client) == b""


@pytest.mark.anyio
@asyncio_only
async def test_a_connection_being_made_as_an_asyncio_block_stops_is_closed_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same on the test's loop, which serves the block: the block leaves
    as the loop is making a connection it has accepted."""
    loop = asyncio.get_running_loop()
    test_thread = threading.get_ident()
    being_made = asyncio.Event()
    taken_over = False
    web_server = internals.server_sockets.WebServer
    make_door = web_server.protocol_factory

    def door(self: Any) -> Any:
        nonlocal taken_over
        if threading.get_ident() == test_thread:
            # the test resumes at the next turn, before the connection is made
            being_made.set()
        else:  # the server thread took it over (a loaded machine)
            taken_over = True
            loop.call_soon_threadsafe(being_made.set)
        return make_door(self)

    monkeypatch.setattr(web_server, "protocol_factory", door)
    with socket.socket() as client:
        async with aiointercept(mock_external_urls=True) as m:
            # connected at once (by the kernel), accepted once the test waits
            client.connect(("127.0.0.1", port_of(m.server_url)))
            with anyio.fail_after(5):
                await being_made.wait()
        assert await end_after_exit(client, taken_over) == b""


@pytest.mark.anyio
@asyncio_only
async def test_a_connection_accepted_as_an_asyncio_block_stops_is_closed_by_its_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The test's loop has just taken a connection from the block's socket
    (it makes it at its next turns) when the block leaves: the connection is
    closed by the time the exit returns, whatever the loop does next."""
    loop = asyncio.get_running_loop()
    test_thread = threading.get_ident()
    accepted = asyncio.Event()
    taken_over = False
    accept = socket.socket.accept

    def accepting(self: socket.socket) -> tuple[socket.socket, Any]:
        nonlocal taken_over
        connection = accept(self)
        if threading.get_ident() == test_thread:
            # the test resumes at the next turn, before the loop makes it
            accepted.set()
        else:  # the server thread took it over (a loaded machine)
            taken_over = True
            loop.call_soon_threadsafe(accepted.set)
        return connection

    monkeypatch.setattr(socket.socket, "accept", accepting)
    with socket.socket() as client:
        async with aiointercept() as m:
            client.connect(("127.0.0.1", port_of(m.server_url)))
            with anyio.fail_after(5):
                await accepted.wait()
        assert await end_after_exit(client, taken_over) == b""


async def end_after_exit(client: socket.socket, taken_over: bool) -> bytes | None:
    """What the server has sent on ``client`` by the time the block's exit
    has returned, its loop not having turned since (see :func:`end_of`); a
    connection the server thread took over is waited for a while."""
    if taken_over:
        client.settimeout(5)
        return await anyio.to_thread.run_sync(end_of, client)
    client.setblocking(False)
    return end_of(client)


def end_of(client: socket.socket) -> bytes | None:
    """What the server sends next on ``client``: ``b""`` when it has closed;
    ``None`` when a non-blocking ``client`` has nothing to read yet."""
    try:
        return client.recv(1)
    except ConnectionResetError:
        return b""
    except BlockingIOError:
        return None


@pytest.mark.anyio
async def test_cancellation_closes_the_server() -> None:
    ports: list[int] = []
    start = time.monotonic()
    with anyio.move_on_after(0.1) as scope:
        async with aiointercept() as m:
            ports.append(port_of(m.server_url))
            await anyio.sleep(10)
    elapsed = time.monotonic() - start

    assert scope.cancelled_caught
    assert elapsed < 3
    assert open_servers() == 0
    await assert_port_closed(ports[0])


@pytest.mark.anyio
async def test_cancellation_while_an_async_callback_is_pending() -> None:
    started = anyio.Event()
    events: list[str] = []
    ports: list[int] = []

    async def pending(url: URL, **kwargs: Any) -> CallbackResult:
        started.set()
        try:
            await anyio.sleep(10)
        except anyio.get_cancelled_exc_class():
            events.append("callback cancelled")
            raise
        events.append("callback finished")  # pragma: no cover
        return CallbackResult()  # pragma: no cover

    async def request(client: httpx.AsyncClient, url: str) -> None:
        try:
            await client.get(url)
        except anyio.get_cancelled_exc_class():
            events.append("request cancelled")
            raise

    start = time.monotonic()
    with anyio.move_on_after(0.3) as scope:
        async with aiointercept() as m, httpx.AsyncClient() as client:
            ports.append(port_of(m.server_url))
            m.get("/pending", callback=pending)
            async with anyio.create_task_group() as tg:
                tg.start_soon(request, client, f"{m.server_url}/pending")
                await started.wait()
                await anyio.sleep(10)
    elapsed = time.monotonic() - start

    assert scope.cancelled_caught
    assert elapsed < 3
    assert started.is_set()
    assert sorted(events) == ["callback cancelled", "request cancelled"]
    assert open_servers() == 0
    await assert_port_closed(ports[0])


@pytest.mark.anyio
async def test_cancellation_while_entering_the_block() -> None:
    """Cancelled before the block starts: no server thread is left running."""
    with anyio.CancelScope() as scope:
        scope.cancel()
        async with aiointercept():
            await anyio.sleep(10)  # pragma: no cover
    assert open_servers() == 0


# -- several instances ---------------------------------------------------------


@pytest.mark.anyio
async def test_nested_instances_have_their_own_servers_and_routes() -> None:
    async with aiointercept() as outer, httpx.AsyncClient() as client:
        outer.get("/who", body="outer", repeat=True)
        outer.get("/only-outer", body="only outer")
        async with aiointercept() as inner:
            inner.get("/who", body="inner")
            inner_port = port_of(inner.server_url)
            assert inner.server_url != outer.server_url
            from_inner = await client.get(f"{inner.server_url}/who")
            from_outer = await client.get(f"{outer.server_url}/who")
            with pytest.raises(httpx.TransportError):
                await client.get(f"{inner.server_url}/only-outer")
            inner_keys = set(inner.requests)
        # the outer server keeps serving after the inner block exits
        await assert_port_closed(inner_port)
        again = await client.get(f"{outer.server_url}/who")
        only_outer = await client.get(f"{outer.server_url}/only-outer")
        outer_keys = set(outer.requests)

    assert (from_inner.text, from_outer.text, again.text) == ("inner", "outer", "outer")
    assert only_outer.text == "only outer"
    assert inner_keys == {
        ("GET", URL(f"{inner.server_url}/who")),
        ("GET", URL(f"{inner.server_url}/only-outer")),
    }
    assert outer_keys == {
        ("GET", URL(f"{outer.server_url}/who")),
        ("GET", URL(f"{outer.server_url}/only-outer")),
    }
    assert len(outer.requests[("GET", URL(f"{outer.server_url}/who"))]) == 2


@pytest.mark.anyio
async def test_instances_side_by_side_in_separate_tasks() -> None:
    names = ["a", "b", "c"]
    both_open = anyio.Event()
    entered: list[str] = []
    results: dict[str, tuple[str, str, int]] = {}

    async def run(name: str) -> None:
        async with aiointercept() as m, httpx.AsyncClient() as client:
            m.get("/name", body=name)
            entered.append(name)
            if len(entered) == len(names):
                both_open.set()
            with anyio.fail_after(5):
                await both_open.wait()
            response = await client.get(f"{m.server_url}/name")
            results[name] = (m.server_url, response.text, len(m.requests))

    async with anyio.create_task_group() as tg:
        for name in names:
            tg.start_soon(run, name)

    assert {name: result[1] for name, result in results.items()} == {
        name: name for name in names
    }
    assert len({result[0] for result in results.values()}) == len(names)
    assert all(result[2] == 1 for result in results.values())


@pytest.mark.anyio
async def test_the_same_instance_can_be_entered_again_after_it_exits() -> None:
    m = aiointercept()
    async with m as first, httpx.AsyncClient() as client:
        first.get("/one", body="first")
        first_response = await client.get(f"{m.server_url}/one")
        first_port = port_of(m.server_url)
    await assert_port_closed(first_port)
    assert open_servers() == 0

    async with m as second, httpx.AsyncClient() as client:
        assert open_servers() > 0
        second_port = port_of(m.server_url)
        await assert_port_open(second_port)
        second.get("/two", body="second")
        second_response = await client.get(f"{m.server_url}/two")
    await assert_port_closed(second_port)

    assert first is m
    assert second is m
    assert first_response.text == "first"
    assert second_response.text == "second"


@pytest.mark.anyio
async def test_entering_a_running_instance_raises_runtime_error() -> None:
    m = aiointercept()
    async with m, httpx.AsyncClient() as client:
        m.get("/still", body="serving", repeat=True)
        url = m.server_url
        with pytest.raises(RuntimeError, match="already"):
            async with m:
                pass  # pragma: no cover
        # the running block is unaffected
        assert m.server_url == url
        response = await client.get(f"{m.server_url}/still")
    assert response.text == "serving"
    assert open_servers() == 0
    await assert_port_closed(port_of(url))


# -- malformed HTTP ------------------------------------------------------------


async def read_until_closed(stream: anyio.abc.ByteStream) -> bytes:
    received = b""
    with anyio.move_on_after(3):
        while True:
            try:
                received += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                break
    return received


MALFORMED = [
    pytest.param(b"THIS IS NOT HTTP\r\n\r\n", id="garbage-line"),
    pytest.param(b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n", id="header-no-colon"),
    pytest.param(
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        id="bad-content-length",
    ),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        id="bad-chunk",
    ),
    pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64), id="tls"),
    pytest.param(b"\x00\xff\xfe\r\n\r\n", id="binary"),
    pytest.param(b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", id="huge-line"),
    pytest.param(b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", id="bad-version"),
    pytest.param(
        b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
        id="truncated-body",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize("garbage", MALFORMED)
async def test_malformed_http_does_not_stop_the_server(garbage: bytes) -> None:
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/ok", body="still serving")
        port = port_of(m.server_url)
        stream = await anyio.connect_tcp("127.0.0.1", port)
        async with stream:
            try:
                await stream.send(garbage)
                await stream.send_eof()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                pass  # the server may close first: fine
            await read_until_closed(stream)
        response = await client.get(f"{m.server_url}/ok")

    assert (response.status_code, response.text) == (200, "still serving")


@pytest.mark.anyio
async def test_a_stalled_partial_request_does_not_block_other_requests() -> None:
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/ok", body="served", repeat=True)
        port = port_of(m.server_url)
        stalled = await anyio.connect_tcp("127.0.0.1", port)
        async with stalled:
            await stalled.send(b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Partial: ")
            with anyio.fail_after(5):
                response = await client.get(f"{m.server_url}/ok")
        after = await client.get(f"{m.server_url}/ok")

    assert (response.status_code, response.text) == (200, "served")
    assert (after.status_code, after.text) == (200, "served")


# -- concurrency ---------------------------------------------------------------

N_CONCURRENT = 100


def big_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=N_CONCURRENT * 2), timeout=10
    )


@pytest.mark.anyio
async def test_concurrent_requests_to_a_repeat_true_route() -> None:
    statuses: list[int] = []
    async with aiointercept() as m, big_client() as client:
        m.get(re.compile(r".*/many\?i=\d+$"), body="many", repeat=True)

        async def one(i: int) -> None:
            response = await client.get(f"{m.server_url}/many", params={"i": i})
            assert response.text == "many"
            statuses.append(response.status_code)

        async with anyio.create_task_group() as tg:
            for i in range(N_CONCURRENT):
                tg.start_soon(one, i)
        recorded = {
            key[1].query["i"]: len(records) for key, records in m.requests.items()
        }

    assert statuses == [200] * N_CONCURRENT
    assert recorded == {str(i): 1 for i in range(N_CONCURRENT)}


@pytest.mark.anyio
async def test_concurrent_requests_each_consume_one_queued_response() -> None:
    bodies: list[str] = []
    async with aiointercept() as m, big_client() as client:
        for i in range(N_CONCURRENT):
            m.get("/queue", body=f"response-{i}")

        async def one() -> None:
            response = await client.get(f"{m.server_url}/queue")
            assert response.status_code == 200
            bodies.append(response.text)

        async with anyio.create_task_group() as tg:
            for _ in range(N_CONCURRENT):
                tg.start_soon(one)
        # the queue is empty now
        with pytest.raises(httpx.TransportError):
            await client.get(f"{m.server_url}/queue")
        records = m.requests[("GET", URL(f"{m.server_url}/queue"))]

    assert sorted(bodies) == sorted(f"response-{i}" for i in range(N_CONCURRENT))
    assert len(records) == N_CONCURRENT + 1


@pytest.mark.anyio
async def test_concurrent_requests_to_a_repeat_n_route_are_served_n_times() -> None:
    served: list[int] = []
    closed: list[str] = []
    async with aiointercept() as m, big_client() as client:
        m.get("/limited", status=203, repeat=60)

        async def one() -> None:
            try:
                response = await client.get(f"{m.server_url}/limited")
            except httpx.TransportError as exc:
                closed.append(type(exc).__name__)
            else:
                served.append(response.status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(N_CONCURRENT):
                tg.start_soon(one)
        records = m.requests[("GET", URL(f"{m.server_url}/limited"))]

    assert served == [203] * 60
    assert len(closed) == N_CONCURRENT - 60
    assert len(records) == N_CONCURRENT


@pytest.mark.anyio
async def test_concurrent_posts_are_all_recorded_with_their_bodies() -> None:
    async with aiointercept() as m, big_client() as client:
        m.post("/ingest", status=202, repeat=True)

        async def one(i: int) -> None:
            response = await client.post(f"{m.server_url}/ingest", json={"i": i})
            assert response.status_code == 202

        async with anyio.create_task_group() as tg:
            for i in range(N_CONCURRENT):
                tg.start_soon(one, i)
        records = m.requests[("POST", URL(f"{m.server_url}/ingest"))]

    assert sorted(r.kwargs["json"]["i"] for r in records) == list(range(N_CONCURRENT))
    assert sorted(r.captured_body for r in records) == sorted(
        f'{{"i":{i}}}'.encode() for i in range(N_CONCURRENT)
    )


@pytest.mark.anyio
async def test_concurrent_async_callbacks_run_concurrently_on_the_test_loop() -> None:
    n = 20
    arrived: list[int] = []
    all_arrived = anyio.Event()

    async def gather(url: URL, *, query: dict[str, list[str]]) -> CallbackResult:
        arrived.append(int(query["i"][0]))
        if len(arrived) == n:
            all_arrived.set()
        await all_arrived.wait()  # only returns if all n run at the same time
        return CallbackResult(payload={"i": int(query["i"][0])})

    results: list[int] = []
    async with aiointercept() as m, big_client() as client:
        m.get(re.compile(r".*/gather\?i=\d+$"), callback=gather, repeat=True)

        async def one(i: int) -> None:
            response = await client.get(f"{m.server_url}/gather", params={"i": i})
            results.append(response.json()["i"])

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for i in range(n):
                    tg.start_soon(one, i)

    assert sorted(results) == list(range(n))
    assert sorted(arrived) == list(range(n))


@pytest.mark.anyio
@asyncio_only
async def test_concurrent_aiohttp_requests_consume_queued_responses() -> None:
    bodies: list[str] = []
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        for i in range(N_CONCURRENT):
            m.post("/queue", payload={"n": i})

        async def one(i: int) -> None:
            async with session.post(f"{m.server_url}/queue", json={"i": i}) as resp:
                bodies.append(await resp.text())

        async with anyio.create_task_group() as tg:
            for i in range(N_CONCURRENT):
                tg.start_soon(one, i)
        records = m.requests[("POST", URL(f"{m.server_url}/queue"))]

    assert sorted(bodies) == sorted(f'{{"n": {i}}}' for i in range(N_CONCURRENT))
    assert sorted(r.kwargs["json"]["i"] for r in records) == list(range(N_CONCURRENT))


# -- the shared server thread ---------------------------------------------------


def server_threads(name: str = "aiointercept-server") -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


@pytest.mark.anyio
async def test_blocks_share_one_server_thread_that_ends_when_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(internals.server_thread, "LINGER", 0.05)
    ports = []
    async with httpx.AsyncClient() as client:
        for number in range(3):
            async with aiointercept() as m:
                m.get("/n", body=str(number))
                response = await client.get(f"{m.server_url}/n")
                assert response.text == str(number)
                ports.append(port_of(m.server_url))
                assert len(server_threads()) == 1
                thread = server_threads()[0]
                # and one thread watches the blocks' sockets
                (watch,) = server_threads("aiointercept-watch")
    assert len(set(ports)) == 3  # a listening socket of its own per block
    for port in ports:
        await assert_port_closed(port)

    await anyio.to_thread.run_sync(thread.join, 5)
    await anyio.to_thread.run_sync(watch.join, 5)
    assert not thread.is_alive()
    assert not watch.is_alive()
    assert server_threads() == []
    assert server_threads("aiointercept-watch") == []

    # the next block starts a new thread
    async with aiointercept() as m, httpx.AsyncClient() as client:
        m.get("/again", body="again")
        assert (await client.get(f"{m.server_url}/again")).text == "again"
        assert server_threads() != [thread]
        assert len(server_threads()) == 1


@pytest.fixture(params=["epoll", "polled"])
def readiness(request: pytest.FixtureRequest) -> Iterator[str]:
    """The server thread's watch of the blocks' sockets, event-driven (epoll,
    where there is one) or polled (elsewhere): a fresh server thread of that
    kind for the test."""
    if request.param == "epoll" and not internals.readiness.EPOLL:
        pytest.skip("no epoll on this platform")
    internals.server_thread.engine.shutdown()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(internals.readiness, "EPOLL", request.param == "epoll")
        yield request.param
        internals.server_thread.engine.shutdown()


@pytest.mark.anyio
async def test_asyncio_blocks_are_served_by_the_tests_loop_unless_it_is_blocked(
    anyio_backend: str, readiness: str
) -> None:
    served_by: list[str] = []
    test_thread = threading.current_thread().name

    def where(url: URL, **kwargs: Any) -> CallbackResult:
        served_by.append(threading.current_thread().name)
        return CallbackResult(body="ok")

    # On a loaded machine the test's loop may be slow to accept a connection
    # (more than TAKE_OVER_AFTER), and the server thread then takes it over,
    # with every request the client sends on it. So each request comes on a
    # connection of its own, until the test's loop serves one: it must, when
    # it can (asyncio), and never under trio.
    attempts = 100 if anyio_backend == "asyncio" else 5
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    async with aiointercept() as m, httpx.AsyncClient(limits=no_keepalive) as client:
        m.get("/where", callback=where, repeat=True)
        for _ in range(attempts):
            assert (await client.get(f"{m.server_url}/where")).text == "ok"
            if served_by[-1] == test_thread:
                break
        # a blocking call holds up the test's loop: the server thread answers
        blocking = requests.get(f"{m.server_url}/where", timeout=5)  # noqa: ASYNC210
        assert blocking.text == "ok"

    *by_the_client, by_the_blocking_call = served_by
    assert by_the_blocking_call == "aiointercept-server"
    if anyio_backend == "asyncio":
        assert test_thread in by_the_client
    else:
        assert set(by_the_client) == {"aiointercept-server"}


@pytest.mark.anyio
async def test_every_connection_a_blocked_loop_leaves_waiting_is_answered(
    readiness: str,
) -> None:
    """Several synchronous clients at once while the test's loop is blocked:
    the server thread takes over each of their connections."""
    async with aiointercept() as m:
        for n in [*range(4), 9]:
            m.get(f"/n/{n}", body=str(n))
        answers: dict[int, str] = {}

        def call(n: int) -> None:
            answers[n] = requests.get(f"{m.server_url}/n/{n}", timeout=5).text

        threads = [threading.Thread(target=call, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:  # blocks the test's loop
            thread.join(10)
        # a fresh connection from the unblocked loop is still served
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/n/9")
    assert answers == {n: str(n) for n in range(4)}
    assert response.text == "9"


# -- a block that is never exited ---------------------------------------------------


async def enter_and_leave_open(**kwargs: Any) -> aiointercept:
    """Enter a block and return without exiting it (as a test that crashed
    between ``__aenter__`` and ``__aexit__`` would)."""
    m = aiointercept(**kwargs)
    await m.__aenter__()  # the line the warnings must name
    m.get("/abandoned", body="never served")
    return m


ENTERED_AT = rf"{re.escape(__file__)}:\d+"


def drop(instances: list[aiointercept]) -> None:
    """Let go of the last references to ``instances``, cycles included."""
    instances.clear()
    gc.collect()


def sync_get(url: str) -> requests.Response:
    return requests.get(url, timeout=5)


@pytest.mark.parametrize("next_backend", ["asyncio", "trio"])
def test_a_block_whose_loop_closed_is_cleaned_up_and_spoils_nothing(
    next_backend: str,
) -> None:
    """The test's loop closed inside the block: the block's port is closed, the
    next block warns where it was entered, and serves every client, including
    a synchronous one called from the async test."""
    abandoned = anyio.run(enter_and_leave_open, backend="asyncio")
    port = port_of(abandoned.server_url)

    async def next_block() -> None:
        # the warning comes as the block is entered
        with pytest.warns(ResourceWarning, match=f"entered at {ENTERED_AT} was never"):  # noqa: PT031
            async with aiointercept() as m:
                m.get("/next", body="served", repeat=True)
                assert sync_get(f"{m.server_url}/next").text == "served"
                async with httpx.AsyncClient() as client:
                    response = await client.get(f"{m.server_url}/next")
                    assert response.text == "served"
        await assert_port_closed(port)
        assert open_servers() == 0

    anyio.run(next_block, backend=next_backend)
    del abandoned


@pytest.mark.parametrize("next_backend", ["asyncio", "trio"])
def test_a_block_whose_trio_run_ended_is_cleaned_up_and_spoils_nothing(
    next_backend: str,
) -> None:
    """As above, when the block's ``trio.run`` ended inside it."""
    abandoned = anyio.run(enter_and_leave_open, backend="trio")
    port = port_of(abandoned.server_url)

    async def next_block() -> None:
        # the warning comes as the block is entered
        with pytest.warns(ResourceWarning, match=f"entered at {ENTERED_AT} was never"):  # noqa: PT031
            async with aiointercept() as m:
                m.get("/next", body="served")
                assert sync_get(f"{m.server_url}/next").text == "served"
        with anyio.fail_after(5):  # the server thread closes it
            while open_servers():
                await anyio.sleep(0.01)
        await assert_port_closed(port)

    anyio.run(next_block, backend=next_backend)
    del abandoned


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_collected_block_is_cleaned_up_with_a_warning(backend: str) -> None:
    """The instance of an unexited block is dropped: its server is closed at
    once, with a ResourceWarning naming where it was entered."""
    abandoned = [anyio.run(enter_and_leave_open, backend=backend)]
    port = port_of(abandoned[0].server_url)
    with pytest.warns(ResourceWarning, match=f"entered at {ENTERED_AT} was never"):
        drop(abandoned)

    async def check() -> None:
        with anyio.fail_after(5):  # under trio the server thread closes it
            while open_servers():
                await anyio.sleep(0.01)
        await assert_port_closed(port)
        async with aiointercept() as m:
            m.get("/next", body="served")
            assert sync_get(f"{m.server_url}/next").text == "served"

    anyio.run(check, backend=backend)
    assert open_servers() == 0


@pytest.mark.anyio
async def test_an_abandoned_external_block_stops_intercepting() -> None:
    """An unexited ``mock_external_urls=True`` block that is collected no
    longer takes the requests of the blocks that come after it."""
    abandoned = [await enter_and_leave_open(mock_external_urls=True)]
    with pytest.warns(ResourceWarning, match="was never exited"):
        drop(abandoned)
    async with aiointercept(mock_external_urls=True) as m:
        m.get("http://api.example.com/x", body="from the new block")
        async with httpx.AsyncClient() as client:
            response = await client.get("http://api.example.com/x")
    assert response.text == "from the new block"
    # the abandoned block's serving, cut short, ends quietly: a task of it
    # that failed unseen would be reported here, as it is collected
    gc.collect()
    await anyio.sleep(0.01)


def enter_sync_and_leave_open(**kwargs: Any) -> aiointercept:
    """Enter a ``with`` block and return without exiting it."""
    m = aiointercept(**kwargs)
    m.__enter__()  # the line the warnings must name
    m.get("/abandoned", body="served until dropped")
    return m


def wait_until_closed() -> None:
    """Wait (at most 5 s) for the server thread to close the blocks it
    serves that were dropped."""
    deadline = time.monotonic() + 5
    while open_servers() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_collected_sync_block_is_cleaned_up_with_a_warning() -> None:
    """A ``with`` block whose instance is dropped unexited is closed, with the
    ResourceWarning of an ``async with`` block naming where it was entered."""
    abandoned = [enter_sync_and_leave_open()]
    url = abandoned[0].server_url
    assert sync_get(f"{url}/abandoned").text == "served until dropped"
    with pytest.warns(ResourceWarning, match=f"entered at {ENTERED_AT} was never"):
        drop(abandoned)
    wait_until_closed()
    assert open_servers() == 0
    with pytest.raises(requests.ConnectionError):
        sync_get(f"{url}/abandoned")
    with aiointercept() as m:
        m.get("/next", body="served")
        assert sync_get(f"{m.server_url}/next").text == "served"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_warning_of_a_block_started_by_start_names_the_caller(
    backend: str,
) -> None:
    """``await m.start()``, as a set-up hook calls it: the warning names that
    line, not aiointercept's own ``start()``."""

    async def start_and_leave_open() -> aiointercept:
        m = aiointercept()
        await m.start()  # the line the warning must name
        return m

    abandoned = [anyio.run(start_and_leave_open, backend=backend)]
    with pytest.warns(ResourceWarning, match=f"entered at {ENTERED_AT} was never"):
        drop(abandoned)
    wait_until_closed()


@pytest.mark.anyio
async def test_an_abandoned_sync_external_block_stops_intercepting() -> None:
    """As for an ``async with`` block: a collected unexited ``with`` block
    with ``mock_external_urls=True`` no longer takes the requests of the
    blocks after it."""
    abandoned = [enter_sync_and_leave_open(mock_external_urls=True)]
    with pytest.warns(ResourceWarning, match=f"entered at {ENTERED_AT} was never"):
        drop(abandoned)
    with anyio.fail_after(5):  # the server thread closes it
        while open_servers():
            await anyio.sleep(0.01)
    async with aiointercept(mock_external_urls=True) as m:
        m.get("http://api.example.com/x", body="from the new block")
        async with httpx.AsyncClient() as client:
            response = await client.get("http://api.example.com/x")
    assert response.text == "from the new block"


class FailingOnce:
    """Stands for the ``select`` module of the server thread: its first call
    fails, as a broken socket would make it fail."""

    def __init__(self) -> None:
        self.failed = False

    def select(self, *args: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise OSError("a socket broke under the watch")
        return select.select(*args)


@asyncio_only
@pytest.mark.anyio
async def test_the_server_thread_survives_an_error_in_one_block(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error while the server thread watches a block is logged, that block
    is closed, and the thread goes on serving the others."""
    failing = FailingOnce()
    async with aiointercept() as broken:
        port = port_of(broken.server_url)
        monkeypatch.setattr(internals.block_server, "select", failing)
        # a connection that the test's loop, blocked, leaves waiting: the
        # server thread looks at the socket
        with socket.create_connection(("127.0.0.1", port)):
            time.sleep(0.1)  # noqa: ASYNC251
        with anyio.fail_after(5):
            while "failed; closing it" not in caplog.text:
                await anyio.sleep(0.01)
        monkeypatch.undo()
        await assert_port_closed(port)
    assert failing.failed
    assert re.search(f"watching the block entered at {ENTERED_AT} failed", caplog.text)
    assert "a socket broke under the watch" in caplog.text
    # the warning comes as the block is entered
    with pytest.warns(ResourceWarning, match=f"entered at {ENTERED_AT} was never"):  # noqa: PT031
        async with aiointercept() as m:
            m.get("/ok", body="still served")
            # the test's loop is blocked: the server thread answers
            assert sync_get(f"{m.server_url}/ok").text == "still served"


# -- leaving a block with connections open -------------------------------------------


async def read_response(stream: BufferedByteReceiveStream) -> tuple[bytes, bytes]:
    head = await stream.receive_until(b"\r\n\r\n", 65536)
    length = re.search(rb"Content-Length: (\d+)", head, re.IGNORECASE)
    assert length is not None
    return head.split(b"\r\n", 1)[0], await stream.receive_exactly(int(length[1]))


def get_request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


@pytest.mark.anyio
@pytest.mark.parametrize("then", ["idle", "closed", "a request sent"])
async def test_leaving_a_block_closes_its_connections_and_answers_what_was_sent(
    then: str,
) -> None:
    """The block exits with a keep-alive connection open: idle, closed by its
    client, or with a next request sent that the server has not read yet. The
    block closes it, after answering that request."""
    m = aiointercept()
    await m.__aenter__()
    m.get("/first", body="first")
    m.get("/second", body="second")
    stream = await anyio.connect_tcp("127.0.0.1", port_of(m.server_url))
    received = BufferedByteReceiveStream(stream)
    await stream.send(get_request("/first"))
    assert await read_response(received) == (b"HTTP/1.1 200 OK", b"first")
    if then == "closed":
        await stream.aclose()
    elif then == "a request sent":
        await stream.send(get_request("/second"))  # read by no one yet
    await m.__aexit__(None, None, None)
    expected = [f"{m.server_url}/first"]
    if then != "closed":
        if then == "a request sent":
            assert await read_response(received) == (b"HTTP/1.1 200 OK", b"second")
            expected.append(f"{m.server_url}/second")
        with pytest.raises(anyio.EndOfStream):  # then closed
            await received.receive()
        await stream.aclose()
    assert [str(request.url) for _, request in m.ordered_requests] == expected
