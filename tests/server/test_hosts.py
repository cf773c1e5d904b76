"""The same scenario under every host: asyncio.run, trio.run, anyio.run, the anyio
pytest plugin, pytest-asyncio and a pytest-asyncio async-generator fixture."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import anyio
import httpx
import pytest
import pytest_asyncio
import trio
from yarl import URL

from aiointercept import CallbackResult, aiointercept

Sleep = Callable[[float], Awaitable[Any]]


@dataclass
class Outcome:
    """What one run of the scenario observed."""

    server_url: str = ""
    static: tuple[int, Any] = (0, None)
    slow: tuple[int, Any] = (0, None)
    callback_threads: list[int] = field(default_factory=list)
    recorded: list[tuple[str, str]] = field(default_factory=list)


def register(m: aiointercept, sleep: Sleep, outcome: Outcome) -> None:
    async def slow(url: URL, *, query: dict[str, list[str]]) -> CallbackResult:
        await sleep(0.01)  # the host's own sleep: only works on the test's loop
        outcome.callback_threads.append(threading.get_ident())
        return CallbackResult(status=201, payload={"slow": query["n"][0]})

    m.get("/static", payload={"static": True})
    m.get("/slow?n=1", callback=slow)


def record(m: aiointercept, outcome: Outcome) -> None:
    outcome.server_url = m.server_url
    outcome.recorded = sorted((key[0], str(key[1])) for key in m.requests)


async def httpx_scenario(sleep: Sleep) -> Outcome:
    outcome = Outcome()
    async with aiointercept() as m, httpx.AsyncClient() as client:
        register(m, sleep, outcome)
        static = await client.get(f"{m.server_url}/static")
        slow = await client.get(f"{m.server_url}/slow?n=1")
        outcome.static = (static.status_code, static.json())
        outcome.slow = (slow.status_code, slow.json())
        record(m, outcome)
    return outcome


async def aiohttp_scenario(sleep: Sleep) -> Outcome:
    outcome = Outcome()
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        register(m, sleep, outcome)
        async with session.get(f"{m.server_url}/static") as static:
            outcome.static = (static.status, await static.json())
        async with session.get(f"{m.server_url}/slow?n=1") as slow:
            outcome.slow = (slow.status, await slow.json())
        record(m, outcome)
    return outcome


def check(outcome: Outcome) -> None:
    assert outcome.static == (200, {"static": True})
    assert outcome.slow == (201, {"slow": "1"})
    assert outcome.callback_threads == [threading.get_ident()]
    assert outcome.recorded == [
        ("GET", f"{outcome.server_url}/slow?n=1"),
        ("GET", f"{outcome.server_url}/static"),
    ]
    port = URL(outcome.server_url).port
    assert port is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


# -- plain event loops started by a sync test ----------------------------------


def test_asyncio_run_with_httpx() -> None:
    check(asyncio.run(httpx_scenario(asyncio.sleep)))


def test_asyncio_run_with_aiohttp() -> None:
    check(asyncio.run(aiohttp_scenario(asyncio.sleep)))


def test_asyncio_run_twice_in_a_row() -> None:
    first = asyncio.run(httpx_scenario(asyncio.sleep))
    second = asyncio.run(httpx_scenario(asyncio.sleep))
    check(first)
    check(second)


def test_trio_run() -> None:
    check(trio.run(httpx_scenario, trio.sleep))


def test_trio_run_twice_in_a_row() -> None:
    first = trio.run(httpx_scenario, trio.sleep)
    second = trio.run(httpx_scenario, trio.sleep)
    check(first)
    check(second)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_anyio_run(backend: str) -> None:
    check(anyio.run(httpx_scenario, anyio.sleep, backend=backend))


# -- the anyio pytest plugin ---------------------------------------------------


def native_sleep(anyio_backend: str) -> Sleep:
    return asyncio.sleep if anyio_backend == "asyncio" else trio.sleep


@pytest.mark.anyio
async def test_anyio_plugin(anyio_backend: str) -> None:
    check(await httpx_scenario(native_sleep(anyio_backend)))


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_anyio_plugin_with_aiohttp() -> None:
    check(await aiohttp_scenario(asyncio.sleep))


@pytest.fixture
async def anyio_mock(anyio_backend: str) -> AsyncIterator[aiointercept]:
    async with aiointercept() as m:
        yield m


@pytest.mark.anyio
async def test_anyio_async_fixture(
    anyio_mock: aiointercept, anyio_backend: str
) -> None:
    outcome = Outcome()
    register(anyio_mock, native_sleep(anyio_backend), outcome)
    async with httpx.AsyncClient(base_url=anyio_mock.server_url) as client:
        static = await client.get("/static")
        slow = await client.get("/slow?n=1")
    assert (static.status_code, static.json()) == (200, {"static": True})
    assert (slow.status_code, slow.json()) == (201, {"slow": "1"})
    assert outcome.callback_threads == [threading.get_ident()]


# -- pytest-asyncio ------------------------------------------------------------


@pytest.mark.asyncio
async def test_pytest_asyncio_with_httpx() -> None:
    check(await httpx_scenario(asyncio.sleep))


@pytest.mark.asyncio
async def test_pytest_asyncio_with_aiohttp() -> None:
    check(await aiohttp_scenario(asyncio.sleep))


@pytest.fixture
def port_after_teardown() -> Iterator[list[int]]:
    """Set up before the mock fixture, so torn down after it: checks its port."""
    ports: list[int] = []
    yield ports
    assert len(ports) == 1
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", ports[0]), timeout=2).close()


@pytest_asyncio.fixture
async def m() -> AsyncIterator[aiointercept]:
    async with aiointercept() as m:
        yield m


@pytest.mark.asyncio
async def test_pytest_asyncio_async_generator_fixture(
    port_after_teardown: list[int], m: aiointercept
) -> None:
    port = URL(m.server_url).port
    assert port is not None
    port_after_teardown.append(port)
    outcome = Outcome()
    register(m, asyncio.sleep, outcome)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{m.server_url}/static") as static:
            outcome.static = (static.status, await static.json())
        async with session.get(f"{m.server_url}/slow?n=1") as slow:
            outcome.slow = (slow.status, await slow.json())
    assert outcome.static == (200, {"static": True})
    assert outcome.slow == (201, {"slow": "1"})
    assert outcome.callback_threads == [threading.get_ident()]


@pytest.mark.asyncio
async def test_pytest_asyncio_fixture_with_a_pending_async_callback(
    port_after_teardown: list[int], m: aiointercept
) -> None:
    """An async callback that waits on an asyncio.Event the test sets later."""
    port = URL(m.server_url).port
    assert port is not None
    port_after_teardown.append(port)
    release = asyncio.Event()

    async def wait(url: URL, **kwargs: Any) -> CallbackResult:
        await release.wait()
        return CallbackResult(body="released")

    m.get("/wait", callback=wait)
    async with httpx.AsyncClient() as client:
        task = asyncio.ensure_future(client.get(f"{m.server_url}/wait"))
        await asyncio.sleep(0.05)
        assert not task.done()
        release.set()
        response = await asyncio.wait_for(task, 5)
    assert (response.status_code, response.text) == (200, "released")
