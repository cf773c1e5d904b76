"""The floor: a plain aiohttp client against a plain ``aiohttp.web`` server,
and a plain ``httpx.AsyncClient`` against the same server (``external_httpx``).

The TLS floor (the ``https`` rows): aiohttp, httpx and httpx2 clients against
the same server over TLS, with a certificate for 127.0.0.1 from a test CA
(trustme) that the clients' SSL contexts trust.

Client and server share one event loop; nothing is mocked or recorded. Each
round trip is real, so this is what a mock that answers over a socket cannot
beat by much. ``python -m benchmarks.impl_floor --help``.
"""

from __future__ import annotations

import asyncio
import importlib
import ssl
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

import aiohttp
import anyio
import httpx
import trustme
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
    child_https,
    idle_cpu,
    main,
    timed,
    timed_bursts,
    timed_each,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _json(request: web.Request) -> web.Response:
    return web.Response(body=PAYLOAD_BYTES, content_type="application/json")


async def _big(request: web.Request) -> web.Response:
    return web.Response(body=BIG_BODY, content_type="application/octet-stream")


async def _serve(
    app: web.Application, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on 127.0.0.1; its base URL (``https://`` with
    ``ssl_context``)."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"{'http' if ssl_context is None else 'https'}://{host}:{port}"


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


def _concurrent(row: str) -> Callable[[Sizes, int], Samples]:
    """Batches of requests at once (``asyncio.gather``) on one session, as
    many and as large as ``row`` says (``concurrent``, ``concurrent_200``)."""

    def scenario(sizes: Sizes, repeats: int) -> Samples:
        async def run(session: aiohttp.ClientSession, url: str) -> list[float]:
            return await timed_bursts(
                lambda: _get(session, url, PAYLOAD_BYTES), sizes, row, repeats
            )

        return {row: asyncio.run(_on_one_session("/x", _json, run))}

    return scenario


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


def proxy_child(sizes: Sizes, repeats: int) -> Samples:
    """The floor of ``proxy_child``: the child process talks https straight
    to an ``aiohttp.web`` server with the TLS floor's certificate, served by
    this process's loop."""

    async def run() -> list[float]:
        runner, url = await _serve(_app("/x", _json), _server_context())
        try:
            with _ca().cert_pem.tempfile() as cafile:
                host, port = url.removeprefix("https://").split(":")
                return await child_https(sizes, repeats, host, int(port), "", cafile)
        finally:
            await runner.cleanup()

    return {"proxy_child_https": asyncio.run(run())}


@cache
def _ca() -> trustme.CA:
    """The test CA of the TLS floor, one per process."""
    return trustme.CA()


@cache
def _server_context() -> ssl.SSLContext:
    """The TLS floor server's context: a certificate for 127.0.0.1 (an IP
    address identity) issued by :func:`_ca`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _ca().issue_cert("127.0.0.1").configure_cert(context)
    return context


def _trusting(context: ssl.SSLContext) -> ssl.SSLContext:
    """``context`` (a client's default one), taught to trust :func:`_ca` too."""
    _ca().configure_trust(context)
    return context


def https(sizes: Sizes, repeats: int) -> Samples:
    """The TLS floor of aiohttp: lifecycle and sequential against a server
    with :func:`_server_context`, on ``https://127.0.0.1:PORT``; the session's
    connector gets aiohttp's default context (``ssl.create_default_context()``)
    made in advance, taught to trust the test CA."""
    context = _trusting(ssl.create_default_context())

    def session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))

    async def once() -> None:
        runner, url = await _serve(_app("/x", _json), _server_context())
        async with session() as client:
            await _get(client, f"{url}/x", PAYLOAD_BYTES)
        await runner.cleanup()

    async def sequential() -> list[float]:
        runner, url = await _serve(_app("/x", _json), _server_context())
        try:
            async with session() as client:

                async def body() -> None:
                    for _ in range(sizes.sequential):
                        await _get(client, f"{url}/x", PAYLOAD_BYTES)

                return await timed(body, sizes.sequential, repeats)
        finally:
            await runner.cleanup()

    return {
        "lifecycle_https": asyncio.run(timed_each(once, sizes.lifecycle, repeats)),
        "sequential_https": asyncio.run(sequential()),
    }


def _https_httpx(module_name: str, suffix: str) -> Callable[[Sizes, int], Samples]:
    """The TLS floor of ``httpx`` or ``httpx2`` (the same API), under
    ``anyio.run(..., backend='asyncio')``: lifecycle and sequential against a
    server with :func:`_server_context`; each client gets the context the
    client builds by default (``create_ssl_context()``) made in advance,
    taught to trust the test CA."""

    def scenario(sizes: Sizes, repeats: int) -> Samples:
        module: Any = importlib.import_module(module_name)
        context = _trusting(module.create_ssl_context())

        async def request(client: Any, url: str) -> None:
            resp = await client.get(url)
            check_json(resp.status_code, resp.content)

        async def once() -> None:
            runner, url = await _serve(_app("/x", _json), _server_context())
            async with module.AsyncClient(verify=context) as client:
                await request(client, f"{url}/x")
            await runner.cleanup()

        async def lifecycle() -> list[float]:
            return await timed_each(once, sizes.lifecycle, repeats)

        async def sequential() -> list[float]:
            runner, url = await _serve(_app("/x", _json), _server_context())
            try:
                async with module.AsyncClient(verify=context) as client:

                    async def body() -> None:
                        for _ in range(sizes.sequential):
                            await request(client, f"{url}/x")

                    return await timed(body, sizes.sequential, repeats)
            finally:
                await runner.cleanup()

        return {
            f"lifecycle_https{suffix}": anyio.run(lifecycle, backend="asyncio"),
            f"sequential_https{suffix}": anyio.run(sequential, backend="asyncio"),
        }

    return scenario


if __name__ == "__main__":
    main(
        "floor",
        {
            "lifecycle": lifecycle,
            "sequential": sequential,
            "concurrent": _concurrent("concurrent"),
            "concurrent_200": _concurrent("concurrent_200"),
            "body_1mb": body_1mb,
            "routes_400": routes_400,
            "external_httpx": external_httpx,
            "https": https,
            "https_httpx": _https_httpx("httpx", "_httpx"),
            "https_httpx2": _https_httpx("httpx2", "_httpx2"),
            "registration": registration,
            "routes_scaling": routes_scaling,
            "idle_cpu": idle,
            "proxy_child": proxy_child,
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
        ["aiohttp", "httpx", "httpcore", "httpx2", "httpcore2", "anyio", "trustme"],
    )
