"""Stress: many concurrent clients, each sending many requests that mix a static
route, queued responses, sync callbacks and async callbacks.

Every response must be the right one, every request must be in the journal
exactly once, and every queued response must be served exactly once. The
normal run uses 20 clients x 10 requests; ``nox -s soak``
(``AIOINTERCEPT_SOAK=1``) uses the 200 clients x 50 requests of the issue. The
throughput is printed.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import httpx
import pytest
from yarl import URL

from aiointercept import CallbackResult, RegisteredRoute, aiointercept
from tests.support.aiohttp_guard import RecordingResolver, guarded
from tests.support.reliability import (
    BOUND,
    Resources,
    httpx_client,
    no_leak_reports,
    report,
    scaled,
)

pytestmark = pytest.mark.anyio

CLIENTS = scaled(20, 200)
REQUESTS = scaled(10, 50)
KINDS = ("static", "queued", "sync", "async")

#: One request: (client, request number, kind).
Planned = tuple[int, int, str]


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    yield from guarded(monkeypatch)


def plan() -> list[Planned]:
    return [
        (client, number, KINDS[(client + number) % len(KINDS)])
        for client in range(CLIENTS)
        for number in range(REQUESTS)
    ]


def echo(kind: str, query: dict[str, list[str]]) -> CallbackResult:
    return CallbackResult(
        payload={"kind": kind, "c": int(query["c"][0]), "r": int(query["r"][0])}
    )


def sync_echo(
    url: URL, *, query: dict[str, list[str]], **kwargs: Any
) -> CallbackResult:
    return echo("sync", query)


async def async_echo(
    url: URL, *, query: dict[str, list[str]], **kwargs: Any
) -> CallbackResult:
    await anyio.lowlevel.checkpoint()
    return echo("async", query)


def register(m: aiointercept, base: str, queued: int) -> list[RegisteredRoute]:
    """The routes of the stress run; returns the queued ones."""
    query = r"\?c=\d+&r=\d+$"
    m.get(re.compile(re.escape(f"{base}/static") + query), body="static", repeat=True)
    m.get(
        re.compile(re.escape(f"{base}/sync") + query), callback=sync_echo, repeat=True
    )
    m.get(
        re.compile(re.escape(f"{base}/async") + query), callback=async_echo, repeat=True
    )
    return [m.post(f"{base}/queued", payload={"k": k}) for k in range(queued)]


def identify(request_url: URL, json: Any) -> Planned:
    """Which planned request a recorded one is."""
    kind = request_url.path.lstrip("/")
    if kind == "queued":
        return (json["c"], json["r"], kind)
    return (int(request_url.query["c"]), int(request_url.query["r"]), kind)


def check_journal(
    m: aiointercept, planned: list[Planned], queue: list[RegisteredRoute]
) -> None:
    recorded = Counter(
        identify(record.url, record.kwargs["json"])
        for records in m.requests.values()
        for record in records
    )
    assert m.call_count == len(planned)
    assert set(recorded) == set(planned)
    assert set(recorded.values()) == {1}, "a request was recorded more than once"
    assert m.unmatched == []
    assert all(route.call_count == 1 and route.remaining == 0 for route in queue)


def check_queue(served: list[int], queued: int) -> None:
    assert sorted(served) == list(range(queued)), "a queued response was lost or reused"


async def test_concurrent_httpx_clients(anyio_backend: str) -> None:
    planned = plan()
    queued = sum(kind == "queued" for _, _, kind in planned)
    served: list[int] = []

    async def client(m: aiointercept, number: int) -> None:
        async with httpx_client() as http:
            for c, r, kind in planned[number * REQUESTS : (number + 1) * REQUESTS]:
                if kind == "queued":
                    response = await http.post(
                        f"{m.server_url}/queued", json={"c": c, "r": r}
                    )
                    assert response.status_code == 200
                    served.append(response.json()["k"])
                    continue
                response = await http.get(
                    f"{m.server_url}/{kind}", params={"c": c, "r": r}
                )
                assert response.status_code == 200
                if kind == "static":
                    assert response.text == "static"
                else:
                    assert response.json() == {"kind": kind, "c": c, "r": r}

    with no_leak_reports():
        before = Resources.now()
        async with aiointercept(callback_start_timeout=60) as m:
            queue = register(m, m.server_url, queued)
            start = time.monotonic()
            async with anyio.create_task_group() as tg:
                for number in range(CLIENTS):
                    tg.start_soon(client, m, number)
            elapsed = time.monotonic() - start
            check_journal(m, planned, queue)
            check_queue(served, queued)
            # every queued response is used up: the next request is refused
            async with httpx_client() as http:
                with pytest.raises(httpx.TransportError):
                    await http.post(f"{m.server_url}/queued", json={"c": -1, "r": -1})
        after = Resources.now()
    report(
        f"stress httpx/{anyio_backend}: {CLIENTS} clients x {REQUESTS} requests",
        before,
        after,
        throughput=f"{len(planned) / elapsed:.0f} requests/s ({elapsed:.1f} s)",
    )


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_concurrent_aiohttp_clients_with_mock_external_urls() -> None:
    """The same mix sent by aiohttp sessions to a hard-coded https host, so that
    the DNS patch decides every new connection concurrently."""
    planned = plan()
    queued = sum(kind == "queued" for _, _, kind in planned)
    served: list[int] = []
    base = "https://stress.example.com"
    resolver = RecordingResolver()

    async def client(number: int) -> None:
        connector = aiohttp.TCPConnector(resolver=resolver)
        async with aiohttp.ClientSession(connector=connector, timeout=BOUND) as s:
            for c, r, kind in planned[number * REQUESTS : (number + 1) * REQUESTS]:
                if kind == "queued":
                    async with s.post(f"{base}/queued", json={"c": c, "r": r}) as resp:
                        assert resp.status == 200
                        served.append((await resp.json())["k"])
                    continue
                async with s.get(f"{base}/{kind}", params={"c": c, "r": r}) as resp:
                    assert resp.status == 200
                    if kind == "static":
                        assert await resp.text() == "static"
                    else:
                        assert await resp.json() == {"kind": kind, "c": c, "r": r}

    with no_leak_reports():
        before = Resources.now()
        async with aiointercept(
            mock_external_urls=True, callback_start_timeout=60
        ) as m:
            queue = register(m, base, queued)
            start = time.monotonic()
            async with anyio.create_task_group() as tg:
                for number in range(CLIENTS):
                    tg.start_soon(client, number)
            elapsed = time.monotonic() - start
            check_journal(m, planned, queue)
            check_queue(served, queued)
        after = Resources.now()
    assert resolver.calls == []
    report(
        f"stress aiohttp mock_external_urls: {CLIENTS} clients x {REQUESTS} requests",
        before,
        after,
        throughput=f"{len(planned) / elapsed:.0f} requests/s ({elapsed:.1f} s)",
    )
