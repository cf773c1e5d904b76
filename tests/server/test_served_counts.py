"""Where requests are served, counted: by the test's loop or by the server
thread. The benchmark reports the share of the server thread per scenario, so
that connections taken over from a loop that could have served them show up
as a number."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
import requests
from yarl import URL

from aiointercept import CallbackResult, aiointercept
from tests.support import internals

SERVER_THREAD = "aiointercept-server"


@pytest.mark.anyio
async def test_requests_are_counted_by_the_loop_or_the_thread_that_served_them(
    anyio_backend: str,
) -> None:
    """Requests from the test's loop are the loop's (asyncio; under trio the
    server thread serves every block), and one from a synchronous client that
    blocks the loop is the server thread's."""
    served_by: list[str] = []

    def where(url: URL, **kwargs: Any) -> CallbackResult:
        served_by.append(threading.current_thread().name)
        return CallbackResult(body="ok")

    # a connection per request: on a loaded machine the server thread may take
    # over one that the loop was slow to accept, not all five
    fresh = httpx.Limits(max_keepalive_connections=0)
    before = internals.requests_served()
    async with aiointercept() as m, httpx.AsyncClient(limits=fresh) as client:
        m.get("/where", callback=where, repeat=True)
        for _ in range(5):
            assert (await client.get(f"{m.server_url}/where")).text == "ok"
        blocking = requests.get(f"{m.server_url}/where", timeout=5)  # noqa: ASYNC210
        assert blocking.text == "ok"
    after = internals.requests_served()

    by_the_loop, by_the_thread = (a - b for a, b in zip(after, before, strict=True))
    # the counts follow where each request was served
    assert served_by[-1] == SERVER_THREAD
    assert by_the_thread == served_by.count(SERVER_THREAD)
    assert by_the_loop == len(served_by) - by_the_thread
    if anyio_backend == "asyncio":
        assert by_the_loop >= 1
    else:
        assert by_the_loop == 0


def test_requests_to_a_sync_block_are_the_server_threads() -> None:
    before = internals.requests_served()
    with aiointercept() as m:
        m.get("/sync", body="ok", repeat=True)
        for _ in range(3):
            assert requests.get(f"{m.server_url}/sync", timeout=5).text == "ok"
    after = internals.requests_served()
    assert (after[0] - before[0], after[1] - before[1]) == (0, 3)
