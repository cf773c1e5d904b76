"""WebSocket routes: ``m.ws(url, handler)``, with aiohttp's ``ws_connect()``.

The handler is an async function that runs on the test's own event loop,
asyncio or trio, and every message is recorded on the upgrade request. Run
with ``python examples/websocket.py``; it exits non-zero if anything differs
from what the comments say. Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio

import aiohttp
import trio
from yarl import URL

from aiointercept import (
    CallbackError,
    WebSocket,
    WebSocketClosedError,
    WebSocketMessage,
    aiointercept,
)


# [echo]
async def echo(ws: WebSocket) -> None:
    # Text and binary messages, until the client closes the connection.
    async for message in ws:
        if isinstance(message.data, str):  # message.type == "text"
            await ws.send_text(f"echo: {message.data}")
        elif isinstance(message.data, bytes):  # message.type == "binary"
            await ws.send_bytes(message.data)


async def echo_with_aiohttp() -> None:
    async with aiointercept() as m:
        route = m.ws("/echo", echo)

        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{m.server_url}/echo") as ws,
        ):
            await ws.send_str("hello")
            assert await ws.receive_str() == "echo: hello"
            await ws.send_bytes(b"\x00\x01")
            assert await ws.receive_bytes() == b"\x00\x01"

    # The upgrade is recorded like any GET request, and its messages with it,
    # in order: those received from the client and those sent to it.
    (request,) = route.calls
    assert request.url == URL(f"{m.server_url}/echo")
    assert request.messages == [
        WebSocketMessage("text", "hello", "received"),
        WebSocketMessage("text", "echo: hello", "sent"),
        WebSocketMessage("binary", b"\x00\x01", "received"),
        WebSocketMessage("binary", b"\x00\x01", "sent"),
        WebSocketMessage("close", None, "received", close_code=1000),
    ]


# [/echo]


# [protocol]
async def subscriptions(ws: WebSocket) -> None:
    request = await ws.receive_json()
    if request.get("token") != "secret":
        # A close code of your own (3000-4999) and a reason.
        await ws.close(4001, "unauthorized")
        return
    for price in (101.5, 102.0):
        await ws.send_json({"symbol": request["symbol"], "price": price})
    # Returning closes the connection with 1000.


async def close_codes() -> None:
    async with aiointercept() as m:
        m.ws("/prices", subscriptions, repeat=True)

        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{m.server_url}/prices") as ws:
                await ws.send_json({"symbol": "ACME", "token": "secret"})
                prices = [await ws.receive_json(), await ws.receive_json()]
                assert [p["price"] for p in prices] == [101.5, 102.0]
                assert (await ws.receive()).type is aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 1000

            async with session.ws_connect(f"{m.server_url}/prices") as ws:
                await ws.send_json({"symbol": "ACME", "token": "wrong"})
                message = await ws.receive()
                assert message.type is aiohttp.WSMsgType.CLOSE
                assert (message.data, message.extra) == (4001, "unauthorized")


# [/protocol]


# [errors]
async def broken(ws: WebSocket) -> None:
    await ws.receive_text()
    raise KeyError("user_id")


async def handler_errors() -> None:
    error: CallbackError | None = None
    try:
        async with aiointercept() as m:
            m.ws("/broken", broken)
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(f"{m.server_url}/broken") as ws,
            ):
                await ws.send_str("go")
                # The client sees the connection closed with 1011...
                message = await ws.receive()
                assert message.type is aiohttp.WSMsgType.CLOSE
                assert message.data == 1011
    except CallbackError as exc:
        error = exc

    # ...and the test gets the error when the block exits.
    assert error is not None, "the block should have raised CallbackError"
    assert isinstance(error.__cause__, KeyError)
    assert error.request.url.path == "/broken"


# [/errors]


# [external]
async def hard_coded_urls() -> None:
    async with aiointercept(mock_external_urls=True) as m:
        m.ws("wss://stream.example.com/feed", echo)

        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect("wss://stream.example.com/feed") as ws,
        ):
            await ws.send_str("hi")
            assert await ws.receive_str() == "echo: hi"

    # ws:// and wss:// are recorded as the http:// and https:// upgrade requests.
    assert ("GET", URL("https://stream.example.com/feed")) in m.requests


# [/external]


# [trio]
async def on_trio() -> None:
    closed_with: list[int | None] = []

    async def ticker(ws: WebSocket) -> None:
        for tick in range(3):
            await trio.sleep(0.01)  # the handler runs on the test's trio loop
            await ws.send_text(f"tick {tick}")
        try:
            await ws.receive_text()
        except WebSocketClosedError as exc:  # the client closed instead
            closed_with.append(exc.code)

    async def client(url: str) -> list[str | bytes]:
        # aiohttp needs asyncio: here it runs in a thread of its own
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url) as ws,
        ):
            return [await ws.receive_str() for _ in range(3)]

    async with aiointercept() as m:
        m.ws("/ticks", ticker)
        url = f"{m.server_url}/ticks"
        ticks = await trio.to_thread.run_sync(asyncio.run, client(url))

    assert ticks == ["tick 0", "tick 1", "tick 2"]
    assert closed_with == [1000]


# [/trio]


async def main() -> None:
    await echo_with_aiohttp()
    await close_codes()
    await handler_errors()
    await hard_coded_urls()


if __name__ == "__main__":
    asyncio.run(main())
    trio.run(on_trio)
