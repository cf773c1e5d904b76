"""The floor: a plain aiohttp client against a plain ``aiohttp.web`` server,
and a plain ``httpx.AsyncClient`` against the same server (``external_httpx``).

Client and server share one event loop; nothing is mocked or recorded. Each
round trip is real, so this is what a mock that answers over a socket cannot
beat by much. ``python -m benchmarks.impl_floor --help``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable

import aiohttp
import anyio
import httpx
from aiohttp import web

from benchmarks._harness import (
    BIG_BODY,
    PAYLOAD_BYTES,
    Samples,
    Sizes,
    Timer,
    check_body,
    check_json,
    check_status,
    idle_cpu,
    main,
    timed,
    timed_each,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _json(request: web.Request) -> web.Response:
    return web.Response(body=PAYLOAD_BYTES, content_type="application/json")


async def _big(request: web.Request) -> web.Response:
    return web.Response(body=BIG_BODY, content_type="application/octet-stream")


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


def _app(path: str, handler: Handler) -> web.Application:
    app = web.Application()
    app.router.add_get(path, handler)
    return app


async def _get(session: aiohttp.ClientSession, url: str, expected: bytes) -> None:
    async with session.get(url) as resp:
        check_status(resp.status)
        check_body(await resp.read(), expected)


def lifecycle(sizes: Sizes, repeats: int) -> Samples:
    """A fresh server and client per operation: app, runner and site, a new
    ClientSession, one GET, close the session, ``runner.cleanup()``."""

    async def once() -> None:
        runner, url = await _serve(_app("/x", _json))
        async with aiohttp.ClientSession() as session:
            await _get(session, f"{url}/x", PAYLOAD_BYTES)
        await runner.cleanup()

    return {"lifecycle": asyncio.run(timed_each(once, sizes.lifecycle, repeats))}


async def _on_one_session(
    path: str,
    handler: Handler,
    run: Callable[[aiohttp.ClientSession, str], Awaitable[list[float]]],
) -> list[float]:
    runner, url = await _serve(_app(path, handler))
    try:
        async with aiohttp.ClientSession() as session:
            return await run(session, f"{url}{path}")
    finally:
        await runner.cleanup()


def sequential(sizes: Sizes, repeats: int) -> Samples:
    async def run(session: aiohttp.ClientSession, url: str) -> list[float]:
        async def body() -> None:
            for _ in range(sizes.sequential):
                await _get(session, url, PAYLOAD_BYTES)

        return await timed(body, sizes.sequential, repeats)

    return {"sequential": asyncio.run(_on_one_session("/x", _json, run))}


def concurrent(sizes: Sizes, repeats: int) -> Samples:
    async def run(session: aiohttp.ClientSession, url: str) -> list[float]:
        async def body() -> None:
            for _ in range(sizes.concurrent_batches):
                await asyncio.gather(
                    *(
                        _get(session, url, PAYLOAD_BYTES)
                        for _ in range(sizes.concurrency)
                    )
                )

        ops = sizes.concurrent_batches * sizes.concurrency
        return await timed(body, ops, repeats)

    return {"concurrent": asyncio.run(_on_one_session("/x", _json, run))}


def body_1mb(sizes: Sizes, repeats: int) -> Samples:
    async def run(session: aiohttp.ClientSession, url: str) -> list[float]:
        async def body() -> None:
            for _ in range(sizes.body_1mb):
                await _get(session, url, BIG_BODY)

        return await timed(body, sizes.body_1mb, repeats)

    return {"body_1mb": asyncio.run(_on_one_session("/big", _big, run))}


def routes_400(sizes: Sizes, repeats: int) -> Samples:
    """A fresh app per repeat; registration is ``app.router.add_get`` before the
    server starts (aiohttp's router cannot change afterwards)."""
    order = sizes.route_order()

    async def one_repeat() -> tuple[float, float]:
        app = web.Application()
        with Timer(sizes.routes) as registering:
            for i in range(sizes.routes):
                app.router.add_get(f"/r/{i}", _json)
        runner, url = await _serve(app)
        try:
            async with aiohttp.ClientSession() as session:
                with Timer(sizes.routes) as requesting:
                    for i in order:
                        await _get(session, f"{url}/r/{i}", PAYLOAD_BYTES)
        finally:
            await runner.cleanup()
        return requesting.per_op, registering.per_op

    async def run() -> Samples:
        await one_repeat()  # warm-up
        results = [await one_repeat() for _ in range(repeats)]
        return {
            "routes_400": [requests for requests, _ in results],
            "routes_400_register": [register for _, register in results],
        }

    return asyncio.run(run())


def registration(sizes: Sizes, repeats: int) -> Samples:
    """``sizes.registrations`` routes added in a row to a fresh
    ``web.Application``'s router (a fresh one per repeat), with
    ``app.router.add_route("GET", path, handler)``; time per route."""
    n = sizes.registrations

    def one_app() -> float:
        app = web.Application()
        with Timer(n) as timer:
            for i in range(n):
                app.router.add_route("GET", f"/p{i}", _json)
        return timer.per_op

    one_app()  # warm-up
    return {"registration": [one_app() for _ in range(repeats)]}


def routes_scaling(sizes: Sizes, repeats: int) -> Samples:
    """aiohttp's router with each of ``sizes.route_counts`` resources (added
    before the server starts, untimed), GETs of the last one added on one
    keep-alive session; time per request."""
    n = sizes.routes_scaling_requests

    async def run(count: int) -> list[float]:
        app = web.Application()
        for i in range(count):
            app.router.add_get(f"/r/{i}", _json)
        runner, base = await _serve(app)
        try:
            async with aiohttp.ClientSession() as session:

                async def body() -> None:
                    for _ in range(n):
                        await _get(session, f"{base}/r/{count - 1}", PAYLOAD_BYTES)

                return await timed(body, n, repeats)
        finally:
            await runner.cleanup()

    return {
        f"routes_scaling_{count}": asyncio.run(run(count))
        for count in sizes.route_counts
    }


def idle(sizes: Sizes, repeats: int) -> Samples:
    """A bare ``aiohttp.web`` server left open with nothing to do, after one
    request."""

    async def run() -> list[float]:
        runner, url = await _serve(_app("/x", _json))
        try:
            async with aiohttp.ClientSession() as session:
                await _get(session, f"{url}/x", PAYLOAD_BYTES)
            return await idle_cpu(asyncio.sleep, sizes.idle_seconds, repeats)
        finally:
            await runner.cleanup()

    return {"idle_cpu_asyncio": asyncio.run(run())}


def external_httpx(sizes: Sizes, repeats: int) -> Samples:
    """The httpx floor, under ``anyio.run(..., backend='asyncio')``: the rows
    where the mocks answer a hard-coded ``https://`` URL, measured here with an
    ``httpx.AsyncClient`` against a plain server on 127.0.0.1.

    Each client gets one SSL context made in advance, as the mocks' do
    (building one loads the CA bundle, about 70 ms); the URL is ``http://``.
    """
    context = ssl.create_default_context()

    async def request(client: httpx.AsyncClient, url: str) -> None:
        resp = await client.get(url)
        check_json(resp.status_code, resp.content)

    async def lifecycle() -> list[float]:
        """A fresh server and client per operation: app, runner and site, a new
        AsyncClient, one GET, close the client, ``runner.cleanup()``."""

        async def once() -> None:
            runner, url = await _serve(_app("/x", _json))
            async with httpx.AsyncClient(verify=context) as client:
                await request(client, f"{url}/x")
            await runner.cleanup()

        return await timed_each(once, sizes.lifecycle, repeats)

    async def sequential() -> list[float]:
        runner, url = await _serve(_app("/x", _json))
        try:
            async with httpx.AsyncClient(verify=context) as client:

                async def body() -> None:
                    for _ in range(sizes.sequential):
                        await request(client, f"{url}/x")

                return await timed(body, sizes.sequential, repeats)
        finally:
            await runner.cleanup()

    return {
        "lifecycle_external_httpx": anyio.run(lifecycle, backend="asyncio"),
        "sequential_external_httpx": anyio.run(sequential, backend="asyncio"),
    }


if __name__ == "__main__":
    main(
        "floor",
        {
            "lifecycle": lifecycle,
            "sequential": sequential,
            "concurrent": concurrent,
            "body_1mb": body_1mb,
            "routes_400": routes_400,
            "external_httpx": external_httpx,
            "registration": registration,
            "routes_scaling": routes_scaling,
            "idle_cpu": idle,
        },
        {
            "fixture": "no mock, no fixture",
            "httpx_asyncio": "the httpx floor is in the external_httpx rows",
            "httpx_trio": "aiohttp.web does not run under trio",
            "external": "no interception: the floor calls its own server",
            "external_httpx_trio": "aiohttp.web does not run under trio",
            "replay": "no cassettes",
            "cassette_load": "no cassettes",
            "registration_external": "no interception: the floor has no external URLs",
            "idle_cpu_trio": "aiohttp.web does not run under trio",
            "pytest_startup": "no pytest plugin",
        },
        ["aiohttp", "httpx", "httpcore", "anyio"],
    )
