"""The ``replay`` rows of the recorders that answer inside the clients
(vcrpy, cassetter): the same cassettes as aiointercept's ``replay_cassette``
rows, replayed to the same aiohttp and ``httpx.AsyncClient`` requests.

Imported only by their implementations, in virtualenvs that have aiohttp and
httpx.
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from benchmarks._harness import (
    EXTERNAL_BASE,
    EXTERNAL_HTTPS_BASE,
    Samples,
    Sizes,
    Timer,
    cassette_text,
    check_json,
    replay_interactions,
    write_cassette,
)

__all__ = ["replay_rows"]


def replay_rows(
    sizes: Sizes,
    repeats: int,
    use_cassette: Callable[[Path], AbstractContextManager[Any]],
    check_played: Callable[[Any, int], None],
) -> Samples:
    """Each repeat enters ``use_cassette(path)`` (which loads the cassette,
    untimed), opens a client and times the requests; ``check_played`` then
    checks the cassette it gave played each of them."""
    context = ssl.create_default_context()
    n = sizes.sequential

    async def aiohttp_requests(url: str) -> float:
        async with aiohttp.ClientSession() as session:
            with Timer(n) as timer:
                for _ in range(n):
                    async with session.get(url) as resp:
                        check_json(resp.status, await resp.read())
        return timer.per_op

    async def httpx_requests(url: str) -> float:
        async with httpx.AsyncClient(verify=context) as client:
            with Timer(n) as timer:
                for _ in range(n):
                    resp = await client.get(url)
                    check_json(resp.status_code, resp.content)
        return timer.per_op

    async def once(
        requests: Callable[[str], Awaitable[float]], url: str, path: Path
    ) -> float:
        with use_cassette(path) as cassette:
            per_op = await requests(url)
            check_played(cassette, n)
        return per_op

    async def run(directory: Path) -> Samples:
        samples: Samples = {}
        for suffix, requests, url in (
            ("", aiohttp_requests, f"{EXTERNAL_BASE}/x"),
            ("_httpx", httpx_requests, f"{EXTERNAL_HTTPS_BASE}/x"),
        ):
            text = cassette_text(replay_interactions(n, url))
            path = write_cassette(directory, f"replay{suffix}.yaml", text)
            await once(requests, url, path)  # warm-up
            samples[f"replay_cassette{suffix}"] = [
                await once(requests, url, path) for _ in range(repeats)
            ]
        return samples

    with tempfile.TemporaryDirectory(prefix="aiointercept-bench-") as name:
        return asyncio.run(run(Path(name)))
