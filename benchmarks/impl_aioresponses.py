"""aioresponses-ng: patches ``aiohttp.ClientSession._request`` in process.

No server and no socket: the response is built in the client. Its import name
is ``aioresponses`` (the name of the original project, which it replaces). It
has no pytest fixture, mocks the aiohttp client only (no httpx, no trio) and
always answers hard-coded URLs, so those scenarios are not applicable.
``python -m benchmarks.impl_aioresponses --help``.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from benchmarks._harness import (
    BIG_BODY,
    EXTERNAL_BASE,
    PAYLOAD,
    PAYLOAD_BYTES,
    Samples,
    Sizes,
    Timer,
    check_body,
    check_status,
    main,
    timed,
    timed_bursts,
    timed_each,
)

#: ``aioresponses.aioresponses``, loaded at run time: the package is only
#: installed in its own virtualenv.
aioresponses: Any = None

URL = f"{EXTERNAL_BASE}/x"


async def _get(session: aiohttp.ClientSession, url: str, expected: bytes) -> None:
    async with session.get(url) as resp:
        check_status(resp.status)
        check_body(await resp.read(), expected)


def lifecycle(sizes: Sizes, repeats: int) -> Samples:
    """Start the mock, register a route, one GET with a new ClientSession,
    ``assert_called_with``, stop the mock."""

    async def once() -> None:
        with aioresponses() as m:
            m.get(URL, payload=PAYLOAD)
            async with aiohttp.ClientSession() as session:
                await _get(session, URL, PAYLOAD_BYTES)
            m.assert_called_with(URL, "GET")

    return {"lifecycle": asyncio.run(timed_each(once, sizes.lifecycle, repeats))}


async def _on_one_session(
    route: Callable[[Any], object],
    run: Callable[[aiohttp.ClientSession], Awaitable[list[float]]],
) -> list[float]:
    with aioresponses() as m:
        route(m)
        async with aiohttp.ClientSession() as session:
            return await run(session)


def sequential(sizes: Sizes, repeats: int) -> Samples:
    async def run(session: aiohttp.ClientSession) -> list[float]:
        async def body() -> None:
            for _ in range(sizes.sequential):
                await _get(session, URL, PAYLOAD_BYTES)

        return await timed(body, sizes.sequential, repeats)

    def route(m: Any) -> object:
        return m.get(URL, payload=PAYLOAD, repeat=True)

    return {"sequential": asyncio.run(_on_one_session(route, run))}


def _concurrent(row: str) -> Callable[[Sizes, int], Samples]:
    """Batches of requests at once (``asyncio.gather``) on one session, as
    many and as large as ``row`` says (``concurrent``, ``concurrent_200``)."""

    def scenario(sizes: Sizes, repeats: int) -> Samples:
        async def run(session: aiohttp.ClientSession) -> list[float]:
            return await timed_bursts(
                lambda: _get(session, URL, PAYLOAD_BYTES), sizes, row, repeats
            )

        def route(m: Any) -> object:
            return m.get(URL, payload=PAYLOAD, repeat=True)

        return {row: asyncio.run(_on_one_session(route, run))}

    return scenario


def body_1mb(sizes: Sizes, repeats: int) -> Samples:
    async def run(session: aiohttp.ClientSession) -> list[float]:
        async def body() -> None:
            for _ in range(sizes.body_1mb):
                await _get(session, URL, BIG_BODY)

        return await timed(body, sizes.body_1mb, repeats)

    def route(m: Any) -> object:
        return m.get(
            URL, body=BIG_BODY, content_type="application/octet-stream", repeat=True
        )

    return {"body_1mb": asyncio.run(_on_one_session(route, run))}


def routes_400(sizes: Sizes, repeats: int) -> Samples:
    """A fresh mock per repeat; 400 routes that serve once each, registered
    (timed apart), then requested once each."""
    order = sizes.route_order()

    async def one_repeat() -> tuple[float, float]:
        with aioresponses() as m:
            with Timer(sizes.routes) as registering:
                for i in range(sizes.routes):
                    m.get(f"{EXTERNAL_BASE}/r/{i}", payload=PAYLOAD)
            async with aiohttp.ClientSession() as session:
                with Timer(sizes.routes) as requesting:
                    for i in order:
                        await _get(session, f"{EXTERNAL_BASE}/r/{i}", PAYLOAD_BYTES)
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
    """``sizes.registrations`` routes registered in a row in a started mock (a
    fresh one per repeat), ``m.get(url, payload=...)`` with distinct
    ``http://api.example.test`` URLs; time per route."""
    n = sizes.registrations

    def one_mock() -> float:
        with aioresponses() as m, Timer(n) as timer:
            for i in range(n):
                m.get(f"{EXTERNAL_BASE}/p{i}", payload={"i": i})
        return timer.per_op

    one_mock()  # warm-up
    return {"registration": [one_mock() for _ in range(repeats)]}


def routes_scaling(sizes: Sizes, repeats: int) -> Samples:
    """With each of ``sizes.route_counts`` routes registered (distinct URLs,
    ``repeat=True``, untimed), GETs of the last one registered on one session;
    time per request."""
    n = sizes.routes_scaling_requests

    async def run(count: int) -> list[float]:
        with aioresponses() as m:
            for i in range(count):
                m.get(f"{EXTERNAL_BASE}/r/{i}", payload=PAYLOAD, repeat=True)
            url = f"{EXTERNAL_BASE}/r/{count - 1}"
            async with aiohttp.ClientSession() as session:

                async def body() -> None:
                    for _ in range(n):
                        await _get(session, url, PAYLOAD_BYTES)

                return await timed(body, n, repeats)

    return {
        f"routes_scaling_{count}": asyncio.run(run(count))
        for count in sizes.route_counts
    }


if __name__ == "__main__":
    aioresponses = importlib.import_module("aioresponses").aioresponses
    main(
        "aioresponses-ng",
        {
            "lifecycle": lifecycle,
            "sequential": sequential,
            "concurrent": _concurrent("concurrent"),
            "concurrent_200": _concurrent("concurrent_200"),
            "body_1mb": body_1mb,
            "routes_400": routes_400,
            "registration": registration,
            "routes_scaling": routes_scaling,
        },
        {
            "fixture": "no pytest fixture",
            "httpx_asyncio": "mocks the aiohttp client only",
            "httpx_trio": "mocks the aiohttp client only",
            "external": "in-process mock: every scenario already uses a hard-coded URL",
            "external_httpx": "mocks the aiohttp client only",
            "external_httpx_trio": "mocks the aiohttp client only",
            "https": "in-process mock, no TLS: the scheme changes nothing",
            "https_httpx": "mocks the aiohttp client only",
            "https_httpx2": "mocks the aiohttp client only",
            "replay": "no cassettes",
            "cassette_load": "no cassettes",
            "registration_external": (
                "in-process mock: the registration row already uses hard-coded URLs"
            ),
            "idle_cpu": "no server, nothing runs between requests",
            "pytest_startup": "no pytest plugin",
        },
        ["aioresponses-ng", "aiohttp"],
    )
