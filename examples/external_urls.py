"""mock_external_urls=True: code that calls hard-coded URLs with its own session.

Run with ``python examples/external_urls.py``; it exits non-zero if anything
differs from what the comments say. Nothing leaves the machine: every host is
answered by the mock, and the passthrough example uses a local server.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
from aiohttp import web
from yarl import URL

from aiointercept import aiointercept


# [billing]
async def list_charges() -> list[object]:
    """Third-party code: a hard-coded URL and a session of its own."""
    async with (
        aiohttp.ClientSession() as session,
        session.get("https://api.stripe.com/v1/charges") as resp,
    ):
        resp.raise_for_status()
        body = await resp.json()
        data: list[object] = body["data"]
        return data


async def intercept_hard_coded_urls() -> None:
    async with aiointercept(mock_external_urls=True) as m:
        m.get("https://api.stripe.com/v1/charges", payload={"data": []})

        assert await list_charges() == []

    # The record shows the URL the client asked for, not the mock's address.
    assert ("GET", URL("https://api.stripe.com/v1/charges")) in m.requests


# [/billing]


# [hosts]
async def any_host_any_port() -> None:
    async with aiointercept(mock_external_urls=True) as m:
        m.post("http://api.example.com/orders", status=201, payload={"id": 7})
        m.get("https://internal.example.com:8443/health", body="ok")
        m.get(re.compile(r"https://cdn\.example\.com/img/\d+\.png"), body=b"PNG")
        m.get(
            "https://a.example.com/old",
            status=302,
            headers={"Location": "https://b.example.com/new"},
        )
        m.get("https://b.example.com/new", body="moved here")

        async with aiohttp.ClientSession() as session:
            async with session.post(
                "http://api.example.com/orders", json={"sku": "X1"}
            ) as resp:
                assert resp.status == 201
            async with session.get("https://internal.example.com:8443/health") as resp:
                assert await resp.text() == "ok"
            async with session.get("https://cdn.example.com/img/42.png") as resp:
                assert await resp.read() == b"PNG"
            async with session.get("https://a.example.com/old") as resp:
                assert await resp.text() == "moved here"
                assert [r.status for r in resp.history] == [302]

            # A host with no route is answered by the mock: closed, never resolved.
            try:
                await session.get("https://unknown.example.com/")
            except aiohttp.ClientConnectionError:
                pass
            else:
                raise AssertionError("an unmatched request must not be answered")

    (order,) = m.requests[("POST", URL("http://api.example.com/orders"))]
    assert await order.json() == {"sku": "X1"}


# [/hosts]


# [passthrough]
async def passthrough_to_a_real_server(upstream: str) -> None:
    # Requests to the passthrough host reach the real server; others are mocked.
    async with aiointercept(mock_external_urls=True, passthrough=[upstream]) as m:
        m.get("https://mocked.example.com/data", payload={"mocked": True})
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{upstream}/hello") as resp:
                assert await resp.text() == "from the real server"
            async with session.get("https://mocked.example.com/data") as resp:
                assert await resp.json() == {"mocked": True}

    # Or: every request that the mock takes and that matches no route goes to
    # the real network. (A local server such as this one is the mock's only
    # when a route names its host and port.)
    async with (
        aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
        aiohttp.ClientSession() as session,
    ):
        m.get(f"{upstream}/status", body="mocked")
        async with session.get(f"{upstream}/hello") as resp:
            assert await resp.text() == "from the real server"
        async with session.get(f"{upstream}/status") as resp:
            assert await resp.text() == "mocked"
    assert ("GET", URL(f"{upstream}/hello")) in m.requests  # proxied, and recorded


# [/passthrough]


async def main() -> None:
    await intercept_hard_coded_urls()
    await any_host_any_port()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="from the real server")

    app = web.Application()
    app.router.add_get("/hello", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await passthrough_to_a_real_server(f"http://localhost:{port}")
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
