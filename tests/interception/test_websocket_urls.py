"""mock_external_urls=True with WebSocket routes: ``ws://`` and ``wss://`` URLs
of any host reach ``m.ws(url, handler)``.

The client is aiohttp's ``session.ws_connect()`` (asyncio only), under
:func:`tests.support.aiohttp_guard.guarded`: no DNS, no connection outside the
machine, no patch left behind. The WebSocket routes themselves are tested in
``tests/core/test_websocket.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from yarl import URL

from aiointercept import aiointercept
from tests.support.aiohttp_guard import guarded
from tests.support.backends import asyncio_only
from tests.support.websocket import aiohttp_ws, echo, received, sent

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """No DNS, no connection outside the machine, no patch left behind."""
    yield from guarded(monkeypatch)


@asyncio_only
async def test_ws_and_wss_urls_reach_the_mock(
    network_guard: list[tuple[str, int]],
) -> None:
    async with aiointercept(mock_external_urls=True) as m:
        plain = m.ws("ws://api.example.com/feed", echo)
        secure = m.ws("wss://api.example.com/feed", echo)
        for url in ("ws://api.example.com/feed", "wss://api.example.com/feed"):
            async with aiohttp_ws(url) as ws:
                await ws.send_str(url)
                assert await ws.receive_str() == url

    assert plain.calls[0].url == URL("http://api.example.com/feed")
    assert secure.calls[0].url == URL("https://api.example.com/feed")
    assert ("GET", URL("https://api.example.com/feed")) in m.requests
    assert secure.calls[0].messages[:2] == [
        received("wss://api.example.com/feed"),
        sent("wss://api.example.com/feed"),
    ]
    assert network_guard == []  # no name was resolved


@asyncio_only
async def test_external_ports_and_http_routes() -> None:
    async with aiointercept(mock_external_urls=True) as m:
        m.ws("wss://internal.example.com:8443/feed", echo)
        m.ws("https://api.example.com/stream", echo)
        for url in (
            "wss://internal.example.com:8443/feed",
            "wss://api.example.com/stream",
        ):
            async with aiohttp_ws(url) as ws:
                await ws.send_str("x")
                assert await ws.receive_str() == "x"
    assert set(m.requests) == {
        ("GET", URL("https://internal.example.com:8443/feed")),
        ("GET", URL("https://api.example.com/stream")),
    }


@asyncio_only
async def test_a_loopback_ws_route_is_intercepted() -> None:
    """Loopback hosts are left alone unless a route names them, also when the
    client's URL says ws:// and the route was registered as such."""
    async with aiointercept(mock_external_urls=True) as m:
        m.ws("ws://127.0.0.2:9/feed", echo)
        async with aiohttp_ws("ws://127.0.0.2:9/feed") as ws:
            await ws.send_str("local")
            assert await ws.receive_str() == "local"
    assert m.call_count == 1
