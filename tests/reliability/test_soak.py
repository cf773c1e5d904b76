"""Soak: many enter/exit cycles, one request each, leave nothing behind.

After a short warm-up (lazy imports, first-use caches), the process's open file
descriptors (``/proc/self/fd``) and threads (Python's and the kernel's count)
must be back at their baseline after the cycles, and its resident memory
(``VmRSS``) must have grown by less than 10 MB.

The normal run does a hundred cycles per test; ``nox -s soak``
(``AIOINTERCEPT_SOAK=1``) does the thousand of the issue and prints the figures.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import pytest
from yarl import URL

from aiointercept import CallbackResult, aiointercept
from tests.support.aiohttp_guard import RecordingResolver, guarded, patch_installed
from tests.support.blocks import open_servers
from tests.support.reliability import (
    BOUND,
    MB,
    Resources,
    httpx_client,
    no_leak_reports,
    report,
    scaled,
)

pytestmark = pytest.mark.anyio

CYCLES = scaled(100, 1000)
WARM_UP = 10
RSS_GROWTH_LIMIT = 10 * MB


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    yield from guarded(monkeypatch)


def sync_answer(url: URL, **kwargs: Any) -> CallbackResult:
    return CallbackResult(body="sync")


async def async_answer(url: URL, **kwargs: Any) -> CallbackResult:
    await anyio.lowlevel.checkpoint()
    return CallbackResult(body="async")


#: What each cycle's one request reaches, in turn: (path, registration, body).
KINDS: list[tuple[str, dict[str, Any], str]] = [
    ("/static", {"body": "static"}, "static"),
    ("/sync", {"callback": sync_answer}, "sync"),
    ("/async", {"callback": async_answer}, "async"),
]


async def httpx_cycle(index: int) -> None:
    """One block, one request from a fresh httpx client."""
    path, registration, expected = KINDS[index % len(KINDS)]
    async with aiointercept() as m, httpx_client() as client:
        m.get(path, **registration)
        response = await client.get(f"{m.server_url}{path}")
        assert (response.status_code, response.text) == (200, expected)
        assert len(m.requests[("GET", URL(f"{m.server_url}{path}"))]) == 1


async def aiohttp_external_cycle(index: int) -> None:
    """One ``mock_external_urls`` block, one request from a fresh aiohttp
    session to a hard-coded https URL."""
    path, registration, expected = KINDS[index % len(KINDS)]
    url = f"https://api.example.com{path}"
    resolver = RecordingResolver()
    connector = aiohttp.TCPConnector(resolver=resolver)
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(connector=connector, timeout=BOUND) as session,
    ):
        m.get(url, **registration)
        async with session.get(url) as response:
            assert (response.status, await response.text()) == (200, expected)
        assert len(m.requests[("GET", URL(url))]) == 1
    assert resolver.calls == []


async def soak(
    title: str, cycle: Callable[[int], Awaitable[None]]
) -> tuple[Resources, Resources]:
    with no_leak_reports():
        for index in range(WARM_UP):
            await cycle(index)
        before = Resources.now()
        start = time.monotonic()
        for index in range(CYCLES):
            await cycle(index)
        elapsed = time.monotonic() - start
        after = Resources.now()
    report(
        f"soak {title}: {CYCLES} cycles",
        before,
        after,
        time=f"{elapsed:.1f} s ({elapsed / CYCLES * 1000:.1f} ms/cycle)",
    )
    return before, after


def assert_back_to_baseline(before: Resources, after: Resources) -> None:
    """Nothing more is open or running than before the cycles. (Fewer threads
    and fds is fine: an idle thread that an earlier test left, a worker or a
    server thread with its loop, may expire meanwhile.)"""
    assert open_servers() == 0
    assert not patch_installed()
    assert after.fds <= before.fds
    assert after.thread_ids <= before.thread_ids
    assert after.os_threads <= before.os_threads
    assert after.rss - before.rss < RSS_GROWTH_LIMIT


async def test_enter_exit_cycles_with_httpx_return_to_the_baseline(
    anyio_backend: str,
) -> None:
    before, after = await soak(f"httpx/{anyio_backend}", httpx_cycle)
    assert_back_to_baseline(before, after)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_enter_exit_cycles_intercepting_aiohttp_return_to_the_baseline() -> None:
    before, after = await soak("aiohttp mock_external_urls", aiohttp_external_cycle)
    assert_back_to_baseline(before, after)
