"""WebSocket routes: ``m.ws(url, handler)``.

Clients: aiohttp's ``session.ws_connect()`` (asyncio only), and the sync client
of ``websockets`` run in a worker thread, which lets the same test run its
handler on an asyncio loop and on a trio loop. Nothing leaves the machine: the
network guard of :mod:`tests.support.aiohttp_guard` replaces aiohttp's
resolver and refuses any connection that is not to a loopback address, and the
``websockets`` client is handed a socket already connected to the mock
(:mod:`tests.support.websocket`). WebSocket routes of external hosts
(``mock_external_urls=True``) are in ``tests/interception/test_websocket_urls.py``.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import anyio
import httpx
import pytest
from multidict import CIMultiDict
from websockets.exceptions import ConnectionClosed
from yarl import URL

from aiointercept import (
    CallbackError,
    RecordedRequest,
    WebSocket,
    WebSocketClosedError,
    WebSocketMessage,
    aiointercept,
)
from tests.support.aiohttp_guard import BOUND, guarded
from tests.support.backends import asyncio_only
from tests.support.blocks import open_servers
from tests.support.inner_pytest import ASYNCIO_INI, BOTH_BACKENDS, run_pytest
from tests.support.websocket import (
    TIMEOUT,
    aiohttp_ws,
    connect_sync,
    echo,
    in_thread,
    received,
    sent,
    ws_url,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """No DNS, no connection outside the machine, no patch left behind."""
    yield from guarded(monkeypatch)


# -- on asyncio (aiohttp) --------------------------------------------------------


@asyncio_only
async def test_text_bytes_and_json() -> None:
    async def handler(ws: WebSocket) -> None:
        text = await ws.receive_text()
        await ws.send_text(text.upper())
        data = await ws.receive_bytes()
        await ws.send_bytes(data[::-1])
        value = await ws.receive_json()
        await ws.send_json({"got": value})

    async with aiointercept() as m:
        route = m.ws("/feed", handler)
        async with aiohttp_ws(ws_url(m, "/feed")) as ws:
            await ws.send_str("hello")
            assert await ws.receive_str() == "HELLO"
            await ws.send_bytes(b"\x00\x01\x02")
            assert await ws.receive_bytes() == b"\x02\x01\x00"
            await ws.send_json({"n": [1, 2]})
            assert await ws.receive_json() == {"got": {"n": [1, 2]}}
            message = await ws.receive()
            assert message.type is aiohttp.WSMsgType.CLOSE
            assert message.data == 1000
        assert ws.close_code == 1000

    (request,) = route.calls
    assert request.messages == [
        received("hello"),
        sent("HELLO"),
        received(b"\x00\x01\x02"),
        sent(b"\x02\x01\x00"),
        received('{"n": [1, 2]}'),
        sent('{"got": {"n": [1, 2]}}'),
        WebSocketMessage("close", None, "sent", close_code=1000),
    ]
    assert request.messages[-2].json() == {"got": {"n": [1, 2]}}


@asyncio_only
async def test_the_upgrade_is_recorded_like_any_request() -> None:
    async with aiointercept() as m:
        route = m.ws("/feed?room=1", echo)
        async with aiohttp_ws(
            ws_url(m, "/feed?room=1"), headers={"X-Token": "t"}
        ) as ws:
            await ws.send_str("a")
            assert await ws.receive_str() == "a"

    url = URL(f"{m.server_url}/feed?room=1")
    (request,) = m.requests[("GET", url)]
    assert request is route.calls[0]
    assert request.method == "GET"
    assert request.url == url
    assert request.headers["Upgrade"].lower() == "websocket"
    assert request.kwargs["query"] == {"room": ["1"]}
    m.assert_called_once_with("/feed", params={"room": "1"}, headers={"X-Token": "t"})
    route.assert_called_once()
    assert request.messages == [
        received("a"),
        sent("a"),
        WebSocketMessage("close", None, "received", close_code=1000),
    ]


@asyncio_only
async def test_iterating_until_the_client_closes_with_a_code() -> None:
    seen: list[WebSocketMessage] = []
    after: list[object] = []

    async def handler(ws: WebSocket) -> None:
        async for message in ws:
            seen.append(message)
        after.extend([ws.closed, ws.close_code])
        with pytest.raises(WebSocketClosedError) as excinfo:
            await ws.receive()
        after.append(excinfo.value.code)

    async with aiointercept() as m:
        route = m.ws("/feed", handler)
        async with aiohttp_ws(ws_url(m, "/feed")) as ws:
            await ws.send_str("one")
            await ws.send_bytes(b"two")
            await ws.send_str("three")
            await ws.close(code=4000, message=b"bye")

    assert seen == [received("one"), received(b"two"), received("three")]
    assert after == [True, 4000, 4000]
    assert route.calls[0].messages == [
        *seen,
        WebSocketMessage(
            "close", None, "received", close_code=4000, close_reason="bye"
        ),
    ]


@asyncio_only
async def test_receive_returns_the_close_then_raises() -> None:
    results: list[object] = []

    async def handler(ws: WebSocket) -> None:
        message = await ws.receive()
        results.append(message)
        try:
            await ws.receive()
        except WebSocketClosedError as exc:
            results.append(str(exc))

    async with aiointercept() as m:
        m.ws("/feed", handler)
        async with aiohttp_ws(ws_url(m, "/feed")) as ws:
            await ws.close(code=4002)

    close, error = results
    assert close == WebSocketMessage("close", None, "received", close_code=4002)
    assert "closed by the client with code 4002" in str(error)


@asyncio_only
async def test_the_handler_closes_with_a_code_and_reason() -> None:
    states: list[object] = []

    async def handler(ws: WebSocket) -> None:
        await ws.send_text("last words")
        await ws.close(4001, "done here")
        states.extend([ws.closed, ws.close_code])
        await ws.close(4003)  # already closed: nothing happens
        with pytest.raises(WebSocketClosedError, match="closed by the server"):
            await ws.send_text("too late")
        with pytest.raises(WebSocketClosedError):
            await ws.receive_text()

    async with aiointercept() as m:
        route = m.ws("/feed", handler)
        async with aiohttp_ws(ws_url(m, "/feed")) as ws:
            assert await ws.receive_str() == "last words"
            message = await ws.receive()
            assert message.type is aiohttp.WSMsgType.CLOSE
            assert (message.data, message.extra) == (4001, "done here")
        assert ws.close_code == 4001

    assert states == [True, 4001]
    assert route.calls[0].messages == [
        sent("last words"),
        WebSocketMessage(
            "close", None, "sent", close_code=4001, close_reason="done here"
        ),
    ]


@asyncio_only
async def test_a_handler_that_returns_closes_with_1000() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.send_text("bye")

    async with aiointercept() as m:
        m.ws("/feed", handler)
        async with aiohttp_ws(ws_url(m, "/feed")) as ws:
            assert await ws.receive_str() == "bye"
            assert (await ws.receive()).type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1000


@asyncio_only
async def test_a_failing_handler_closes_with_1011_and_fails_the_block(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.receive_text()
        raise KeyError("user_id")

    m = aiointercept()
    closes: list[Any] = []

    async def block() -> None:
        async with m:
            m.ws("/feed", handler)
            async with aiohttp_ws(ws_url(m, "/feed")) as ws:
                await ws.send_str("go")
                closes.append(await ws.receive())

    with pytest.raises(CallbackError) as excinfo:
        await block()

    (close,) = closes
    assert close.type is aiohttp.WSMsgType.CLOSE
    assert (close.data, close.extra) == (1011, "handler failed: KeyError")
    error = excinfo.value
    assert isinstance(error.__cause__, KeyError)
    assert error.request.url == URL(f"{m.server_url}/feed")
    assert "WebSocket handler for GET" in str(error)
    assert error.request.messages[-1] == WebSocketMessage(
        "close", None, "sent", close_code=1011, close_reason="handler failed: KeyError"
    )
    assert any(
        r.levelno == logging.ERROR and "KeyError" in r.getMessage()
        for r in caplog.records
    )


@asyncio_only
async def test_a_handler_may_let_the_clients_close_propagate() -> None:
    async def handler(ws: WebSocket) -> None:
        while True:  # ends with WebSocketClosedError when the client closes
            await ws.send_text(await ws.receive_text())

    async with aiointercept() as m:
        m.ws("/feed", handler)
        async with aiohttp_ws(ws_url(m, "/feed")) as ws:
            await ws.send_str("x")
            assert await ws.receive_str() == "x"
    # no CallbackError: the client's closing is not a handler failure


@asyncio_only
async def test_a_message_of_the_wrong_kind_raises_type_error() -> None:
    errors: list[str] = []

    async def handler(ws: WebSocket) -> None:
        for receive in (ws.receive_text, ws.receive_bytes, ws.receive_json):
            try:
                await receive()
            except (TypeError, ValueError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    async with aiointercept() as m:
        m.ws("/feed", handler)
        async with aiohttp_ws(ws_url(m, "/feed")) as ws:
            await ws.send_bytes(b"raw")
            await ws.send_str("text")
            await ws.send_str("not json")
            assert (await ws.receive()).type is aiohttp.WSMsgType.CLOSE

    assert errors[0] == "TypeError: expected a text message, got a binary message: " + (
        "bytes b'raw'"
    )
    assert errors[1].startswith("TypeError: expected a binary message, got a text")
    assert errors[2].startswith("JSONDecodeError")


@asyncio_only
async def test_invalid_arguments_raise_in_the_handler() -> None:
    errors: list[BaseException] = []

    async def handler(ws: WebSocket) -> None:
        attempts: list[Callable[[], Any]] = [
            lambda: ws.send_text(b"bytes"),  # type: ignore[arg-type]
            lambda: ws.send_bytes("text"),  # type: ignore[arg-type]
            lambda: ws.send_json(object()),
            lambda: ws.send_json(float("nan")),
            lambda: ws.close(1005),
            lambda: ws.close(999),
            lambda: ws.close(2000),
            lambda: ws.close(True),
            lambda: ws.close(1000, "x" * 124),
            lambda: ws.close(1000, b"reason"),  # type: ignore[arg-type]
        ]
        for attempt in attempts:
            try:
                await attempt()
            except (TypeError, ValueError) as exc:
                errors.append(exc)
        await ws.send_text("still open")

    async with aiointercept() as m:
        m.ws("/feed", handler)
        async with aiohttp_ws(ws_url(m, "/feed")) as ws:
            assert await ws.receive_str() == "still open"

    assert [type(e) for e in errors] == [
        TypeError,
        TypeError,
        TypeError,
        TypeError,
        ValueError,
        ValueError,
        ValueError,
        TypeError,
        ValueError,
        TypeError,
    ]
    assert "1005" in str(errors[4])


@asyncio_only
async def test_a_request_that_is_not_an_upgrade_gets_a_400() -> None:
    async with aiointercept() as m:
        route = m.ws("/feed", echo, repeat=True)
        async with aiohttp.ClientSession(timeout=BOUND) as session:
            async with session.get(f"{m.server_url}/feed") as resp:
                assert resp.status == 400
                text = await resp.text()
            # an Upgrade header alone is not a valid handshake either
            headers = {"Connection": "Upgrade", "Upgrade": "websocket"}
            async with session.get(f"{m.server_url}/feed", headers=headers) as resp:
                assert resp.status == 400

    assert "is a WebSocket route" in text
    assert "not a valid WebSocket upgrade" in text
    assert "ws_connect" in text
    assert len(route.calls) == 2
    assert route.calls[0].messages == []
    m.assert_called_with("/feed")


async def test_a_plain_request_gets_a_400_on_any_loop() -> None:
    async with aiointercept() as m:
        m.ws("/feed", echo)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/feed")
    assert response.status_code == 400
    assert "WebSocket" in response.text
    assert m.call_count == 1


@asyncio_only
async def test_repeat_counts_connections() -> None:
    async with aiointercept() as m:
        once = m.ws("/once", echo)
        twice = m.ws("/twice", echo, repeat=2)
        forever = m.ws("/forever", echo, repeat=True)
        for path, connections in (("/once", 1), ("/twice", 2), ("/forever", 5)):
            for index in range(connections):
                async with aiohttp_ws(ws_url(m, path)) as ws:
                    await ws.send_str(f"{path} {index}")
                    assert await ws.receive_str() == f"{path} {index}"
        for path in ("/once", "/twice"):
            with pytest.raises(aiohttp.ClientConnectionError):
                async with aiohttp_ws(ws_url(m, path)):
                    pass

    assert (once.call_count, twice.call_count, forever.call_count) == (1, 2, 5)
    assert len(m.unmatched) == 2


@asyncio_only
async def test_concurrent_connections_are_independent() -> None:
    async def handler(ws: WebSocket) -> None:
        name = await ws.receive_text()
        await anyio.sleep(0.01)
        await ws.send_text(f"hello {name}")

    async with aiointercept() as m:
        route = m.ws("/feed", handler, repeat=True)

        async def client(name: str) -> str | bytes:
            async with aiohttp_ws(ws_url(m, "/feed")) as ws:
                await ws.send_str(name)
                return await ws.receive_str()

        async with anyio.create_task_group() as tg:
            answers: dict[str, str | bytes] = {}
            for index in range(8):
                name = f"c{index}"

                async def one(name: str = name) -> None:
                    answers[name] = await client(name)

                tg.start_soon(one)

    assert answers == {f"c{i}": f"hello c{i}" for i in range(8)}
    assert sorted(r.messages[0].data for r in route.calls) == sorted(answers)  # type: ignore[type-var]


@asyncio_only
async def test_a_pattern_route_and_an_http_url() -> None:
    async with aiointercept() as m:
        m.ws(re.compile(re.escape(m.server_url) + r"/rooms/\d+$"), echo, repeat=True)
        m.ws(f"{m.server_url}/plain", echo)
        for path in ("/rooms/1", "/rooms/22", "/plain"):
            async with aiohttp_ws(ws_url(m, path)) as ws:
                await ws.send_str(path)
                assert await ws.receive_str() == path
    assert m.call_count == 3


# -- timing and cancellation ------------------------------------------------------


@asyncio_only
async def test_a_cancelled_receive_loses_no_message() -> None:
    async def handler(ws: WebSocket) -> None:
        with anyio.move_on_after(0.05):
            await ws.receive()
        await ws.send_text("timed out")
        await ws.send_text(await ws.receive_text())

    async with aiointercept() as m:
        m.ws("/feed", handler)
        async with aiohttp_ws(ws_url(m, "/feed")) as ws:
            assert await ws.receive_str() == "timed out"
            await ws.send_str("after")
            assert await ws.receive_str() == "after"


@asyncio_only
async def test_the_block_exits_promptly_with_a_client_connected() -> None:
    state: list[str] = []
    started = anyio.Event()

    async def handler(ws: WebSocket) -> None:
        started.set()
        try:
            await ws.receive()
        except BaseException as exc:
            state.append(type(exc).__name__)
            raise

    async with AsyncExitStack() as stack:
        async with aiointercept() as m:
            route = m.ws("/feed", handler)
            ws = await stack.enter_async_context(aiohttp_ws(ws_url(m, "/feed")))
            with anyio.fail_after(TIMEOUT):
                await started.wait()
            start = time.monotonic()
        exit_time = time.monotonic() - start
        assert open_servers() == 0
        message = await ws.receive()
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert message.data == 1001

    # the handler saw its connection close, and returned
    assert state == ["WebSocketClosedError"]
    assert exit_time < 1.0
    assert route.calls[0].messages == [
        WebSocketMessage(
            "close",
            None,
            "sent",
            close_code=1001,
            close_reason="the aiointercept block exited",
        )
    ]


@asyncio_only
async def test_a_handler_that_ignores_the_close_is_cancelled_at_exit() -> None:
    cancelled: list[bool] = []
    started = anyio.Event()

    async def handler(ws: WebSocket) -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(ws.closed)
            raise

    async with aiointercept() as m:
        m.ws("/feed", handler)
        async with aiohttp_ws(ws_url(m, "/feed")):
            with anyio.fail_after(TIMEOUT):
                await started.wait()
        start = time.monotonic()
    assert time.monotonic() - start < 1.0
    assert cancelled == [True]


@asyncio_only
async def test_a_handler_sending_after_the_client_closed_stops() -> None:
    count = 0

    async def handler(ws: WebSocket) -> None:
        nonlocal count
        while True:
            await ws.send_text("tick")
            count += 1
            await anyio.sleep(0.005)

    async with aiointercept() as m:
        m.ws("/feed", handler)
        async with aiohttp_ws(ws_url(m, "/feed")) as ws:
            assert await ws.receive_str() == "tick"
            assert await ws.receive_str() == "tick"
    stopped_at = count
    await anyio.sleep(0.05)
    assert count == stopped_at


# -- both loops (websockets sync client in a worker thread) -------------------------


async def test_echo_on_the_tests_loop(anyio_backend: str) -> None:
    loops: list[str] = []

    async def handler(ws: WebSocket) -> None:
        loops.append(anyio_backend_name())
        await echo(ws)

    async with aiointercept() as m:
        route = m.ws("/echo", handler)

        def client() -> list[str | bytes]:
            with connect_sync(m, "/echo") as conn:
                conn.send("text")
                first = conn.recv(TIMEOUT)
                conn.send(b"bytes")
                return [first, conn.recv(TIMEOUT)]

        assert await in_thread(client) == ["text", b"bytes"]

    assert loops == [anyio_backend]
    assert route.calls[0].messages == [
        received("text"),
        sent("text"),
        received(b"bytes"),
        sent(b"bytes"),
        WebSocketMessage("close", None, "received", close_code=1000),
    ]


def anyio_backend_name() -> str:
    import sniffio

    return sniffio.current_async_library()


async def test_the_handler_can_wait_for_the_test(anyio_backend: str) -> None:
    release = anyio.Event()  # belongs to the test's loop

    async def handler(ws: WebSocket) -> None:
        await ws.send_text("waiting")
        await release.wait()
        await ws.send_json({"released": True})

    def client(m: aiointercept) -> list[str | bytes]:
        with connect_sync(m, "/feed") as conn:
            first = conn.recv(TIMEOUT)
            anyio.from_thread.run_sync(release.set)  # on the test's loop
            return [first, conn.recv(TIMEOUT)]

    async with aiointercept() as m:
        m.ws("/feed", handler)
        first, second = await in_thread(lambda: client(m))
    assert first == "waiting"
    assert json.loads(second) == {"released": True}


async def test_close_codes_both_ways(anyio_backend: str) -> None:
    codes: list[int | None] = []

    async def handler(ws: WebSocket) -> None:
        if ws.request.url.path == "/server-closes":
            await ws.close(4100, "server says bye")
        else:
            async for _ in ws:
                pass
            codes.append(ws.close_code)

    async with aiointercept() as m:
        m.ws(re.compile(".*"), handler, repeat=True)

        def server_closes() -> tuple[int, str]:
            with connect_sync(m, "/server-closes") as conn:
                with pytest.raises(ConnectionClosed) as excinfo:
                    conn.recv(TIMEOUT)
                assert excinfo.value.rcvd is not None
                return excinfo.value.rcvd.code, excinfo.value.rcvd.reason

        def client_closes() -> None:
            with connect_sync(m, "/client-closes") as conn:
                conn.send("x")
                conn.close(4200, "client says bye")

        assert await in_thread(server_closes) == (4100, "server says bye")
        await in_thread(client_closes)

    assert codes == [4200]
    (server_closed,) = m.requests[("GET", f"{m.server_url}/server-closes")]
    (client_closed,) = m.requests[("GET", f"{m.server_url}/client-closes")]
    assert server_closed.messages == [
        WebSocketMessage(
            "close", None, "sent", close_code=4100, close_reason="server says bye"
        )
    ]
    assert client_closed.messages == [
        received("x"),
        WebSocketMessage(
            "close", None, "received", close_code=4200, close_reason="client says bye"
        ),
    ]


async def test_a_failing_handler_on_any_loop(anyio_backend: str) -> None:
    async def handler(ws: WebSocket) -> None:
        raise ValueError("boom")

    def client(m: aiointercept) -> int:
        with connect_sync(m, "/feed") as conn:
            with pytest.raises(ConnectionClosed) as excinfo:
                conn.recv(TIMEOUT)
            assert excinfo.value.rcvd is not None
            return excinfo.value.rcvd.code

    m = aiointercept()
    codes: list[int] = []

    async def block() -> None:
        async with m:
            m.ws("/feed", handler)
            codes.append(await in_thread(lambda: client(m)))

    with pytest.raises(CallbackError, match="ValueError: boom") as excinfo:
        await block()
    assert codes == [1011]
    assert isinstance(excinfo.value.__cause__, ValueError)


async def test_a_lost_connection_reads_as_close_1006(anyio_backend: str) -> None:
    seen: list[WebSocketMessage] = []
    done = anyio.Event()

    async def handler(ws: WebSocket) -> None:
        seen.append(await ws.receive())
        seen.append(await ws.receive())
        done.set()

    async with aiointercept() as m:
        route = m.ws("/feed", handler)

        def client() -> None:
            with connect_sync(m, "/feed") as conn:
                conn.send("before")
                conn.socket.shutdown(socket.SHUT_RDWR)  # no close frame

        await in_thread(client)
        with anyio.fail_after(TIMEOUT):
            await done.wait()

    assert seen == [
        received("before"),
        WebSocketMessage("close", None, "received", close_code=1006),
    ]
    # no close frame was on the wire: none is recorded
    assert route.calls[0].messages == [received("before")]


async def test_a_blocked_test_loop_closes_with_1011(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(ws: WebSocket) -> None:
        raise AssertionError("never runs")

    async with aiointercept(callback_start_timeout=0.2) as m:
        m.ws("/feed", handler)
        # the client blocks the test's loop, so the handler cannot start
        with (
            connect_sync(m, "/feed") as conn,
            pytest.raises(ConnectionClosed) as excinfo,
        ):
            conn.recv(TIMEOUT)
    assert excinfo.value.rcvd is not None
    assert excinfo.value.rcvd.code == 1011
    assert "blocked" in excinfo.value.rcvd.reason
    assert any("could not start" in r.getMessage() for r in caplog.records)


# -- registration -------------------------------------------------------------------


async def test_registration_errors() -> None:
    def sync_handler(ws: WebSocket) -> None:
        pass

    class AsyncCallable:
        async def __call__(self, ws: WebSocket) -> None:
            pass

    m = aiointercept()
    with pytest.raises(TypeError, match="sync_handler"):
        m.ws("ws://h/feed", sync_handler)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async function"):
        m.ws("ws://h/feed", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="http or https"):
        m.ws("ftp://h/feed", echo)
    with pytest.raises(ValueError, match="inside the block"):
        m.ws("/feed", echo)
    with pytest.raises(ValueError, match="repeat"):
        m.ws("ws://h/feed", echo, repeat=0)
    with pytest.raises(TypeError, match="url must be"):
        m.ws(42, echo)  # type: ignore[arg-type]

    async with aiointercept(mock_external_urls=True) as m:
        route = m.ws("WS://H:80/feed", AsyncCallable())
    assert route.url == URL("http://h/feed")
    assert route.method == "GET"


SHARED_SERVER_TEST = """
import socket

import anyio
import pytest
from websockets.sync.client import connect
from yarl import URL

pytestmark = pytest.mark.anyio


async def echo(ws):
    async for message in ws:
        await ws.send_text(message.data)


async def test_shared(aiointercept_mock, anyio_backend):
    m = aiointercept_mock
    route = m.ws("/feed", echo)

    def client():
        port = URL(m.server_url).port
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        url = "ws" + m.server_url.removeprefix("http") + "/feed"
        with connect(url, sock=sock, open_timeout=5, close_timeout=1) as conn:
            conn.send("shared")
            return conn.recv(5)

    assert await anyio.to_thread.run_sync(client) == "shared"
    assert [m.data for m in route.calls[0].messages[:2]] == ["shared", "shared"]
"""


def test_a_websocket_route_in_the_shared_server(pytester: pytest.Pytester) -> None:
    """The pytest plugin's server runs the handler on the loop of the test that
    registers it, on asyncio and on trio."""
    result = run_pytest(
        pytester,
        ini=ASYNCIO_INI,
        conftest=BOTH_BACKENDS,
        test_shared=SHARED_SERVER_TEST,
    )
    result.assert_outcomes(passed=2)


def test_message_records() -> None:
    message = WebSocketMessage("text", '{"a": 1}', "sent")
    assert message.json() == {"a": 1}
    assert WebSocketMessage("binary", b"[1]", "received").json() == [1]
    with pytest.raises(TypeError, match="close message has no data"):
        WebSocketMessage("close", None, "received", close_code=1000).json()
    request = RecordedRequest.build("GET", URL("http://h/"), CIMultiDict(), b"")
    assert request.messages == []
