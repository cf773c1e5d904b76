"""WebSocket clients and a handler, for the tests of ``m.ws(url, handler)``.

* :func:`aiohttp_ws`: aiohttp's ``session.ws_connect()`` (asyncio only);
* :func:`connect_sync`: the sync client of ``websockets``, handed a socket
  already connected to the mock (so no name is resolved), to run in a worker
  thread (:func:`in_thread`) on either backend;
* :func:`echo`: a handler that sends every message back;
* :func:`received` and :func:`sent`: the records of a message.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import anyio
import anyio.to_thread
from websockets.sync.client import ClientConnection, connect
from yarl import URL

from aiointercept import WebSocket, WebSocketMessage, aiointercept
from tests.support.aiohttp_guard import BOUND

#: A bound on every client operation, so that a broken library fails a test
#: instead of hanging it.
TIMEOUT = 5.0


def received(data: str | bytes) -> WebSocketMessage:
    if isinstance(data, str):
        return WebSocketMessage("text", data, "received")
    return WebSocketMessage("binary", data, "received")


def sent(data: str | bytes) -> WebSocketMessage:
    if isinstance(data, str):
        return WebSocketMessage("text", data, "sent")
    return WebSocketMessage("binary", data, "sent")


def ws_url(m: aiointercept, path: str) -> str:
    return "ws" + m.server_url.removeprefix("http") + path


@asynccontextmanager
async def aiohttp_ws(
    url: str, headers: dict[str, str] | None = None
) -> AsyncIterator[aiohttp.ClientWebSocketResponse[bool]]:
    async with aiohttp.ClientSession(timeout=BOUND) as session:
        if hasattr(aiohttp, "ClientWSTimeout"):
            # receive_timeout= is deprecated since aiohttp 3.11
            timeout = aiohttp.ClientWSTimeout(ws_receive=TIMEOUT, ws_close=TIMEOUT)
            async with session.ws_connect(url, headers=headers, timeout=timeout) as ws:
                yield ws
        else:  # pragma: no cover - aiohttp < 3.11
            connecting = session.ws_connect(
                url, headers=headers, receive_timeout=TIMEOUT
            )
            async with connecting as ws:
                yield ws


def connect_sync(m: aiointercept, path: str) -> ClientConnection:
    """A ``websockets`` sync client connected to the mock (no name resolved)."""
    port = URL(m.server_url).port
    assert port is not None
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    return connect(ws_url(m, path), sock=sock, open_timeout=TIMEOUT, close_timeout=1)


async def in_thread(func: Callable[[], Any]) -> Any:
    """Run a blocking client in a worker thread; the test's loop stays free to
    run the handler."""
    return await anyio.to_thread.run_sync(func)


async def echo(ws: WebSocket) -> None:
    async for message in ws:
        if isinstance(message.data, str):
            await ws.send_text(message.data)
        elif isinstance(message.data, bytes):
            await ws.send_bytes(message.data)
