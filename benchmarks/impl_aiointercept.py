"""aiointercept: the working tree, or release 1.0.0 in its own virtualenv.

Both share this module: the calls measured (``aiointercept()``,
``server_url``, ``get(url, payload=..., repeat=...)``, ``assert_called_with``,
``mock_external_urls=True``) are the same in both. What 1.0.0 lacks is marked
not applicable: it runs on asyncio only, and its ``aiointercept_mock`` fixture
is an async pytest-asyncio fixture, so its fixture overhead is measured with
async tests under pytest-asyncio (the working tree's, with sync tests).
``python -m benchmarks.impl_aiointercept --help``.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import importlib.metadata
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import httpx
from yarl import URL

from aiointercept import aiointercept
from benchmarks._harness import (
    BIG_BODY,
    CPU_CLOCK,
    EXTERNAL_BASE,
    EXTERNAL_HTTPS_BASE,
    PAYLOAD,
    PAYLOAD_BYTES,
    NotAvailable,
    RecordedInteraction,
    Samples,
    Sizes,
    Timer,
    api_interactions,
    cassette_text,
    check_body,
    check_json,
    check_status,
    child_https,
    fixture_overhead,
    idle_cpu,
    main,
    pytest_plugin,
    pytest_startup,
    pyyaml_details,
    refused_by_the_guard,
    replay_each,
    replay_interactions,
    timed,
    timed_bursts,
    timed_each,
    write_cassette,
)

VERSION = importlib.metadata.version("aiointercept")
#: Release 1.0.0 (or any 1.x): asyncio only, async pytest-asyncio fixture.
LEGACY = VERSION.split(".", 1)[0] == "1"


async def _get(session: aiohttp.ClientSession, url: str, expected: bytes) -> None:
    async with session.get(url) as resp:
        check_status(resp.status)
        check_body(await resp.read(), expected)


def _lifecycle(
    external: bool, base: str = EXTERNAL_BASE
) -> Callable[[Sizes, int], list[float]]:
    """Enter a block, register a route, one GET with a new ClientSession,
    ``assert_called_with``, exit the block; with ``external``, of the
    hard-coded ``base``."""

    def scenario(sizes: Sizes, repeats: int) -> list[float]:
        async def once() -> None:
            async with aiointercept(mock_external_urls=external) as m:
                url = f"{base if external else m.server_url}/x"
                m.get(url, payload=PAYLOAD)
                async with aiohttp.ClientSession() as session:
                    await _get(session, url, PAYLOAD_BYTES)
                m.assert_called_with(url, "GET")

        return asyncio.run(timed_each(once, sizes.lifecycle, repeats))

    return scenario


def _sequential(
    external: bool, base: str = EXTERNAL_BASE
) -> Callable[[Sizes, int], list[float]]:
    def scenario(sizes: Sizes, repeats: int) -> list[float]:
        async def run() -> list[float]:
            async with aiointercept(mock_external_urls=external) as m:
                url = f"{base if external else m.server_url}/x"
                m.get(url, payload=PAYLOAD, repeat=True)
                async with aiohttp.ClientSession() as session:

                    async def body() -> None:
                        for _ in range(sizes.sequential):
                            await _get(session, url, PAYLOAD_BYTES)

                    return await timed(body, sizes.sequential, repeats)

        return asyncio.run(run())

    return scenario


def lifecycle(sizes: Sizes, repeats: int) -> Samples:
    return {"lifecycle": _lifecycle(external=False)(sizes, repeats)}


def sequential(sizes: Sizes, repeats: int) -> Samples:
    return {"sequential": _sequential(external=False)(sizes, repeats)}


def external(sizes: Sizes, repeats: int) -> Samples:
    """``mock_external_urls=True`` with the hard-coded ``api.example.test``."""
    return {
        "lifecycle_external": _lifecycle(external=True)(sizes, repeats),
        "sequential_external": _sequential(external=True)(sizes, repeats),
    }


def proxy_child(sizes: Sizes, repeats: int) -> Samples:
    """A child process's https requests through the block's proxy, in a
    ``CONNECT`` tunnel to ``api.example.test:443``, trusting the process's
    certificate authority (``proxy_env()``'s bundle)."""

    async def run() -> list[float]:
        async with aiointercept() as m:
            cafile = m.proxy_env()["SSL_CERT_FILE"]
            m.get("https://api.example.test/x", payload=PAYLOAD, repeat=True)
            port = URL(m.proxy_url).port
            assert port is not None
            return await child_https(
                sizes, repeats, "127.0.0.1", port, "api.example.test", cafile
            )

    return {"proxy_child_https": asyncio.run(run())}


def https(sizes: Sizes, repeats: int) -> Samples:
    """``mock_external_urls=True`` with the hard-coded
    ``https://api.example.test``, on aiohttp sessions with their default TLS
    settings: to compare with the TLS floor."""
    return {
        "lifecycle_https": _lifecycle(True, EXTERNAL_HTTPS_BASE)(sizes, repeats),
        "sequential_https": _sequential(True, EXTERNAL_HTTPS_BASE)(sizes, repeats),
    }


def _https_httpx(module_name: str, suffix: str) -> Callable[[Sizes, int], Samples]:
    """``mock_external_urls=True`` with ``httpx`` or ``httpx2`` (the same API)
    and the hard-coded ``https://api.example.test/x``, under ``anyio.run(...,
    backend='asyncio')``: to compare with the TLS floor.

    The sequential client is created with its default TLS settings. Each
    lifecycle's client gets the context the client builds by default
    (``create_ssl_context()``), made in advance: building it per client loads
    the CA bundle (about 20 ms), which would hide everything else; the TLS
    floor's clients get theirs made in advance as well.

    A client that the block does not intercept yet (its request reaches the
    loopback guard) makes the rows not available rather than errors.
    """
    url = f"{EXTERNAL_HTTPS_BASE}/x"

    def measure(sizes: Sizes, repeats: int) -> Samples:
        module: Any = importlib.import_module(module_name)
        context = module.create_ssl_context()

        async def request(client: Any) -> None:
            resp = await client.get(url)
            check_json(resp.status_code, resp.content)

        async def once() -> None:
            async with aiointercept(mock_external_urls=True) as m:
                m.get(url, payload=PAYLOAD)
                async with module.AsyncClient(verify=context) as client:
                    await request(client)
                m.assert_called_with(url, "GET")

        async def lifecycle() -> list[float]:
            return await timed_each(once, sizes.lifecycle, repeats)

        async def sequential() -> list[float]:
            async with aiointercept(mock_external_urls=True) as m:
                m.get(url, payload=PAYLOAD, repeat=True)
                async with module.AsyncClient() as client:

                    async def body() -> None:
                        for _ in range(sizes.sequential):
                            await request(client)

                    return await timed(body, sizes.sequential, repeats)

        return {
            f"lifecycle_https{suffix}": anyio.run(lifecycle, backend="asyncio"),
            f"sequential_https{suffix}": anyio.run(sequential, backend="asyncio"),
        }

    def scenario(sizes: Sizes, repeats: int) -> Samples:
        try:
            return measure(sizes, repeats)
        except Exception as error:
            if refused_by_the_guard(error):
                raise NotAvailable(
                    f"{module_name}'s requests are not intercepted ({error})"
                ) from error
            raise

    return scenario


async def _on_one_session(
    route: Callable[[aiointercept, str], object],
    run: Callable[[aiohttp.ClientSession, str], Awaitable[list[float]]],
) -> list[float]:
    async with aiointercept() as m:
        url = f"{m.server_url}/x"
        route(m, url)
        async with aiohttp.ClientSession() as session:
            return await run(session, url)


def _concurrent(row: str) -> Callable[[Sizes, int], Samples]:
    """Batches of requests at once (``asyncio.gather``) on one session, as
    many and as large as ``row`` says (``concurrent``, ``concurrent_200``)."""

    def scenario(sizes: Sizes, repeats: int) -> Samples:
        async def run(session: aiohttp.ClientSession, url: str) -> list[float]:
            return await timed_bursts(
                lambda: _get(session, url, PAYLOAD_BYTES), sizes, row, repeats
            )

        def route(m: aiointercept, url: str) -> object:
            return m.get(url, payload=PAYLOAD, repeat=True)

        return {row: asyncio.run(_on_one_session(route, run))}

    return scenario


def body_1mb(sizes: Sizes, repeats: int) -> Samples:
    async def run(session: aiohttp.ClientSession, url: str) -> list[float]:
        async def body() -> None:
            for _ in range(sizes.body_1mb):
                await _get(session, url, BIG_BODY)

        return await timed(body, sizes.body_1mb, repeats)

    def route(m: aiointercept, url: str) -> object:
        return m.get(
            url, body=BIG_BODY, content_type="application/octet-stream", repeat=True
        )

    return {"body_1mb": asyncio.run(_on_one_session(route, run))}


def routes_400(sizes: Sizes, repeats: int) -> Samples:
    """A fresh block per repeat; 400 routes that serve once each, registered
    (timed apart) inside the block, then requested once each."""
    order = sizes.route_order()

    async def one_repeat() -> tuple[float, float]:
        async with aiointercept() as m:
            base = m.server_url
            with Timer(sizes.routes) as registering:
                for i in range(sizes.routes):
                    m.get(f"{base}/r/{i}", payload=PAYLOAD)
            async with aiohttp.ClientSession() as session:
                with Timer(sizes.routes) as requesting:
                    for i in order:
                        await _get(session, f"{base}/r/{i}", PAYLOAD_BYTES)
        return requesting.per_op, registering.per_op

    async def run() -> Samples:
        await one_repeat()  # warm-up
        results = [await one_repeat() for _ in range(repeats)]
        return {
            "routes_400": [requests for requests, _ in results],
            "routes_400_register": [register for _, register in results],
        }

    return asyncio.run(run())


def _httpx(backend: str) -> Callable[[Sizes, int], Samples]:
    """lifecycle and sequential with ``httpx.AsyncClient`` under
    ``anyio.run(..., backend=backend)``.

    Each lifecycle creates a new client, passing one SSL context made in
    advance: ``httpx.AsyncClient()`` otherwise loads the CA bundle, about 70 ms,
    which would hide everything else (and is the same on both backends).
    """
    context = ssl.create_default_context()

    def scenario(sizes: Sizes, repeats: int) -> Samples:
        async def once() -> None:
            async with aiointercept() as m:
                url = f"{m.server_url}/x"
                m.get(url, payload=PAYLOAD)
                async with httpx.AsyncClient(verify=context) as client:
                    resp = await client.get(url)
                    check_status(resp.status_code)
                    check_body(resp.content, PAYLOAD_BYTES)
                m.assert_called_with(url, "GET")

        async def lifecycle() -> list[float]:
            return await timed_each(once, sizes.lifecycle, repeats)

        async def sequential() -> list[float]:
            async with aiointercept() as m:
                url = f"{m.server_url}/x"
                m.get(url, payload=PAYLOAD, repeat=True)
                async with httpx.AsyncClient(verify=context) as client:

                    async def body() -> None:
                        for _ in range(sizes.sequential):
                            resp = await client.get(url)
                            check_status(resp.status_code)
                            check_body(resp.content, PAYLOAD_BYTES)

                    return await timed(body, sizes.sequential, repeats)

        return {
            f"lifecycle_httpx_{backend}": anyio.run(lifecycle, backend=backend),
            f"sequential_httpx_{backend}": anyio.run(sequential, backend=backend),
        }

    return scenario


def _external_httpx(backend: str) -> Callable[[Sizes, int], Samples]:
    """``mock_external_urls=True`` with ``httpx.AsyncClient`` and the hard-coded
    ``http://api.example.test/x``, under ``anyio.run(..., backend=backend)``:
    lifecycle (asyncio only) and sequential. Plain http, as respx's rows and
    the floor's: respx makes no TLS handshake (the ``https`` rows measure TLS).

    The clients get one SSL context made in advance, as in :func:`_httpx`.
    """
    context = ssl.create_default_context()
    url = f"{EXTERNAL_BASE}/x"

    async def request(client: httpx.AsyncClient) -> None:
        resp = await client.get(url)
        check_json(resp.status_code, resp.content)

    def scenario(sizes: Sizes, repeats: int) -> Samples:
        async def once() -> None:
            async with aiointercept(mock_external_urls=True) as m:
                m.get(url, payload=PAYLOAD)
                async with httpx.AsyncClient(verify=context) as client:
                    await request(client)
                m.assert_called_with(url, "GET")

        async def lifecycle() -> list[float]:
            return await timed_each(once, sizes.lifecycle, repeats)

        async def sequential() -> list[float]:
            async with aiointercept(mock_external_urls=True) as m:
                m.get(url, payload=PAYLOAD, repeat=True)
                async with httpx.AsyncClient(verify=context) as client:

                    async def body() -> None:
                        for _ in range(sizes.sequential):
                            await request(client)

                    return await timed(body, sizes.sequential, repeats)

        if backend == "asyncio":
            return {
                "lifecycle_external_httpx": anyio.run(lifecycle, backend=backend),
                "sequential_external_httpx": anyio.run(sequential, backend=backend),
            }
        return {
            f"sequential_external_httpx_{backend}": anyio.run(
                sequential, backend=backend
            )
        }

    return scenario


def replay(sizes: Sizes, repeats: int) -> Samples:
    """Requests replayed from a cassette against requests answered by a route,
    in one block with ``mock_external_urls=True``, ``cassette=`` and
    ``record_mode="none"``: the cassette holds ``sizes.sequential`` recorded
    ``GET .../x`` (each interaction plays once), and a route ``m.get(".../y",
    payload=..., repeat=True)`` answers ``GET .../y`` with the same body.

    On one client, ``.../x`` and ``.../y`` alternate (which comes first
    alternates too), each request timed on its own, so that the machine's
    noise hits both alike; a sample is one block's ``sizes.sequential``
    requests of each. With an aiohttp session and ``http://api.example.test``,
    and with an ``httpx.AsyncClient`` and ``https://api.example.test``, under
    asyncio. Each repeat enters a fresh block (the cassette is loaded then,
    untimed).
    """
    context = ssl.create_default_context()
    n = sizes.sequential

    def aiohttp_get(session: aiohttp.ClientSession) -> Callable[[str], Awaitable[None]]:
        async def get(url: str) -> None:
            await _get(session, url, PAYLOAD_BYTES)

        return get

    def httpx_get(client: httpx.AsyncClient) -> Callable[[str], Awaitable[None]]:
        async def get(url: str) -> None:
            resp = await client.get(url)
            check_json(resp.status_code, resp.content)

        return get

    async def alternate(
        get: Callable[[str], Awaitable[None]], recorded: str, routed: str
    ) -> tuple[float, float]:
        """``n`` requests of each URL, alternating; seconds per request."""
        times = {recorded: 0.0, routed: 0.0}
        clock = time.perf_counter
        gc.collect()
        gc.disable()
        try:
            for i in range(n):
                for url in (recorded, routed) if i % 2 else (routed, recorded):
                    start = clock()
                    await get(url)
                    times[url] += clock() - start
        finally:
            gc.enable()
        return times[recorded] / n, times[routed] / n

    async def one_block(client: str, base: str, path: Path) -> tuple[float, float]:
        recorded, routed = f"{base}/x", f"{base}/y"
        async with aiointercept(
            mock_external_urls=True, cassette=path, record_mode="none"
        ) as m:
            m.get(routed, payload=PAYLOAD, repeat=True)
            if client == "aiohttp":
                async with aiohttp.ClientSession() as session:
                    result = await alternate(aiohttp_get(session), recorded, routed)
            else:
                async with httpx.AsyncClient(verify=context) as httpx_client:
                    result = await alternate(httpx_get(httpx_client), recorded, routed)
            seen = sum(len(calls) for calls in m.requests.values())
            if seen != 2 * n:  # a miss also fails the block's exit
                raise RuntimeError(f"{seen} requests recorded, not {2 * n}")
        return result

    async def run(directory: Path) -> Samples:
        samples: Samples = {}
        for suffix, client, base in (
            ("", "aiohttp", EXTERNAL_BASE),
            ("_httpx", "httpx", EXTERNAL_HTTPS_BASE),
        ):
            text = cassette_text(replay_interactions(n, f"{base}/x"))
            path = write_cassette(directory, f"replay{suffix}.yaml", text)
            await one_block(client, base, path)  # warm-up
            results = [await one_block(client, base, path) for _ in range(repeats)]
            samples[f"replay_route{suffix}"] = [routed for _, routed in results]
            samples[f"replay_cassette{suffix}"] = [recorded for recorded, _ in results]
        return samples

    with tempfile.TemporaryDirectory(prefix="aiointercept-bench-") as name:
        return asyncio.run(run(Path(name)))


def cassette_load(sizes: Sizes, repeats: int) -> Samples:
    """A cassette of ``sizes.cassette_interactions`` interactions, in vcrpy's
    format, loaded as a block with ``cassette=`` and ``record_mode="none"``
    loads it: ``_cassette.cassette.CassetteRun(options)`` reads the file
    (PyYAML, its C loader when available) and indexes the interactions for
    matching.

    ``cassette_block_1000``: what ``cassette=`` adds to entering and exiting a
    block with ``mock_external_urls=True``: pairs of blocks with and without
    the cassette (alternating order), each sample one pair's difference.

    ``cassette_replay_1000``: a block with that cassette, an
    ``httpx.AsyncClient`` that sends each recorded request in order (each
    answered by its recording), the block's exit; CPU time per block.
    """
    from aiointercept._cassette.cassette import CassetteRun
    from aiointercept._cassette.options import check_cassette_options

    context = ssl.create_default_context()
    interactions = api_interactions(sizes.cassette_interactions)

    async def block(path: Path | None) -> float:
        with Timer(1, CPU_CLOCK) as timer:
            if path is None:
                async with aiointercept(mock_external_urls=True):
                    pass
            else:
                async with aiointercept(
                    mock_external_urls=True, cassette=path, record_mode="none"
                ):
                    pass
        return timer.per_op

    async def blocks(path: Path) -> list[float]:
        await block(path), await block(None)  # warm-up
        differences = []
        for repeat in range(repeats):
            if repeat % 2 == 0:
                with_it, without = await block(path), await block(None)
            else:
                without, with_it = await block(None), await block(path)
            differences.append(with_it - without)
        return differences

    async def replayed(
        path: Path, interactions: Sequence[RecordedInteraction]
    ) -> float:
        with Timer(1, CPU_CLOCK) as timer:
            async with aiointercept(
                mock_external_urls=True, cassette=path, record_mode="none"
            ) as m:
                async with httpx.AsyncClient(verify=context) as client:

                    async def send(
                        method: str, url: str, body: bytes | None
                    ) -> tuple[int, bytes]:
                        resp = await client.request(method, url, content=body)
                        return resp.status_code, resp.content

                    await replay_each(interactions, send)
                seen = sum(len(calls) for calls in m.requests.values())
                if seen != len(interactions):  # a miss also fails the exit
                    raise RuntimeError(
                        f"{seen} requests recorded, not {len(interactions)}"
                    )
        return timer.per_op

    async def replays(directory: Path, path: Path) -> list[float]:
        """One block per round: vcrpy's lasts seconds. A small cassette warms
        up first (imports, the client, certificates)."""
        warm = api_interactions(sizes.cassette_warm_up)
        small = write_cassette(directory, "warm.yaml", cassette_text(warm))
        await replayed(small, warm)
        return [await replayed(path, interactions)]

    with tempfile.TemporaryDirectory(prefix="aiointercept-bench-") as name:
        path = write_cassette(Path(name), "api.yaml", cassette_text(interactions))
        options = check_cassette_options(path, record_mode="none")
        if options is None:
            raise RuntimeError("a cassette path gave no cassette options")
        loaded = len(CassetteRun(options).interactions)
        if loaded != sizes.cassette_interactions:
            raise RuntimeError(f"the cassette loaded {loaded} interactions")
        loads: list[float] = []
        for _ in range(repeats):
            with Timer(sizes.cassette_loads, CPU_CLOCK) as timer:
                for _ in range(sizes.cassette_loads):
                    CassetteRun(options)
            loads.append(timer.per_op)
        differences = asyncio.run(blocks(path))
        replay_times = asyncio.run(replays(Path(name), path))
    return {
        "cassette_load_1000": loads,
        "cassette_block_1000": differences,
        "cassette_replay_1000": replay_times,
    }


def fixture(sizes: Sizes, repeats: int) -> Samples:
    return fixture_overhead(sizes, repeats, "pytest-asyncio" if LEGACY else "sync")


def registration(sizes: Sizes, repeats: int) -> Samples:
    """``sizes.registrations`` routes registered in a row inside an open block
    (a fresh block per repeat), ``m.get(url, payload=...)`` with distinct
    URLs: on ``m.server_url``, and absolute external URLs in a block with
    ``mock_external_urls=True``; time per route."""
    n = sizes.registrations

    async def one_block(external: bool) -> float:
        async with aiointercept(mock_external_urls=external) as m:
            base = EXTERNAL_BASE if external else m.server_url
            with Timer(n) as timer:
                for i in range(n):
                    m.get(f"{base}/p{i}", payload={"i": i})
        return timer.per_op

    async def run(external: bool) -> list[float]:
        await one_block(external)  # warm-up
        return [await one_block(external) for _ in range(repeats)]

    return {
        "registration": asyncio.run(run(external=False)),
        "registration_external": asyncio.run(run(external=True)),
    }


def routes_scaling(sizes: Sizes, repeats: int) -> Samples:
    """With each of ``sizes.route_counts`` routes registered (distinct exact
    URLs, ``repeat=True``, untimed), GETs of the last one registered on one
    keep-alive session; time per request."""
    n = sizes.routes_scaling_requests

    async def run(count: int) -> list[float]:
        async with aiointercept() as m:
            base = m.server_url
            for i in range(count):
                m.get(f"{base}/r/{i}", payload=PAYLOAD, repeat=True)
            url = f"{base}/r/{count - 1}"
            async with aiohttp.ClientSession() as session:

                async def body() -> None:
                    for _ in range(n):
                        await _get(session, url, PAYLOAD_BYTES)

                return await timed(body, n, repeats)

    return {
        f"routes_scaling_{count}": asyncio.run(run(count))
        for count in sizes.route_counts
    }


def idle(sizes: Sizes, repeats: int) -> Samples:
    """The process's CPU time while a block is open and nothing happens, after
    one request (so that whatever starts lazily has started): an aiohttp
    session under asyncio; an ``httpx.AsyncClient`` under trio (the working
    tree only)."""

    async def on_asyncio() -> list[float]:
        async with aiointercept() as m:
            url = f"{m.server_url}/x"
            m.get(url, payload=PAYLOAD, repeat=True)
            async with aiohttp.ClientSession() as session:
                await _get(session, url, PAYLOAD_BYTES)
            return await idle_cpu(asyncio.sleep, sizes.idle_seconds, repeats)

    async def on_trio() -> list[float]:
        async with aiointercept() as m:
            url = f"{m.server_url}/x"
            m.get(url, payload=PAYLOAD, repeat=True)
            async with httpx.AsyncClient() as client:
                resp = await client.get(url)
                check_status(resp.status_code)
                check_body(resp.content, PAYLOAD_BYTES)
            return await idle_cpu(anyio.sleep, sizes.idle_seconds, repeats)

    samples = {"idle_cpu_asyncio": asyncio.run(on_asyncio())}
    if not LEGACY:
        samples["idle_cpu_trio"] = anyio.run(on_trio, backend="trio")
    return samples


def startup(sizes: Sizes, repeats: int) -> Samples:
    return pytest_startup(sizes, repeats, *pytest_plugin("aiointercept"))


def requests_served() -> tuple[int, int]:
    """How many requests the test's loops and the server thread have served in
    this process: the working tree counts them (an internal function, see
    ``nox -s bench``'s table of the server thread's share)."""
    from aiointercept._server.handler import requests_served as counted

    return counted()


if __name__ == "__main__":
    main(
        "aiointercept-1.0.0" if LEGACY else "aiointercept",
        {
            "lifecycle": lifecycle,
            "sequential": sequential,
            "concurrent": _concurrent("concurrent"),
            "concurrent_200": _concurrent("concurrent_200"),
            "body_1mb": body_1mb,
            "routes_400": routes_400,
            "fixture": fixture,
            "registration": registration,
            "routes_scaling": routes_scaling,
            "idle_cpu": idle,
            "pytest_startup": startup,
            "httpx_asyncio": _httpx("asyncio"),
            **({} if LEGACY else {"httpx_trio": _httpx("trio")}),
            "external": external,
            **(
                {}
                if LEGACY
                else {
                    "external_httpx": _external_httpx("asyncio"),
                    "external_httpx_trio": _external_httpx("trio"),
                    "https": https,
                    "https_httpx": _https_httpx("httpx", "_httpx"),
                    "https_httpx2": _https_httpx("httpx2", "_httpx2"),
                    "replay": replay,
                    "cassette_load": cassette_load,
                    "proxy_child": proxy_child,
                }
            ),
        },
        {
            "httpx_trio": "asyncio only",
            "external_httpx": "mock_external_urls=True intercepts aiohttp only",
            "external_httpx_trio": "asyncio only, aiohttp only",
            "https": "the https rows compare the working tree with the TLS floor",
            "https_httpx": "mock_external_urls=True intercepts aiohttp only",
            "https_httpx2": "mock_external_urls=True intercepts aiohttp only",
            "replay": "no cassettes",
            "cassette_load": "no cassettes",
            "idle_cpu_trio": "asyncio only",
            "proxy_child": "no proxy",
        }
        if LEGACY
        else {},
        [
            "aiointercept",
            "aiohttp",
            "httpx",
            "httpcore",
            "httpx2",
            "httpcore2",
            "anyio",
            "trio",
            "pytest",
            "pytest-asyncio",
            "PyYAML",
        ],
        pyyaml_details(),
        served=None if LEGACY else requests_served,
        served_not_counted=(
            "serves every request from a thread of its own and counts nothing"
            if LEGACY
            else None
        ),
    )
