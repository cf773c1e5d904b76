"""Blocks that are never exited, among many that are: each is cleaned up, with
a ResourceWarning, and spoils nothing for the blocks after it.

Every tenth cycle enters a block, is answered by it, and leaves without
exiting it; its event loop then closes (the test's loop ended inside the
block). The other cycles are answered from their own block by a synchronous
client called right in the async code (the server thread answers while the
loop is blocked) and by httpx. Afterwards the process's file descriptors,
threads and memory are back at their baseline. The normal run does a hundred
cycles per backend; ``nox -s soak`` (``AIOINTERCEPT_SOAK=1``) the thousand of
the issue.

A block whose clients gave up on a delay, a hang or a stream exits at once:
the handlers were cancelled when their clients disconnected, so the exit does
not give them the shutdown grace period.
"""

from __future__ import annotations

import gc
import time
import warnings
from typing import Any

import anyio
import httpx
import pytest
import requests

from aiointercept import aiointercept
from tests.support import internals
from tests.support.blocks import open_servers
from tests.support.reliability import MB, Resources, httpx_client, report, scaled

CYCLES = scaled(100, 1000)
WARM_UP = 10
RSS_GROWTH_LIMIT = 10 * MB


async def cycle(index: int) -> aiointercept | None:
    """One block; every tenth is left without exiting (and returned)."""
    m = aiointercept()
    await m.__aenter__()
    m.get("/answer", body=f"answer {index}", repeat=True)
    async with httpx_client() as client:
        response = await client.get(f"{m.server_url}/answer")
    assert response.text == f"answer {index}"
    if index % 10 == 0:
        return m  # abandoned: the loop closes with the block still open
    # the loop is blocked by a synchronous client: the server thread answers
    answered = requests.get(f"{m.server_url}/answer", timeout=30)  # noqa: ASYNC210
    assert answered.text == response.text
    await m.__aexit__(None, None, None)
    return None


def run(backend: str, indices: range) -> tuple[int, list[str]]:
    """Run the cycles; how many were abandoned, and the ResourceWarnings."""
    abandoned: list[aiointercept] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for index in indices:
            left = anyio.run(cycle, index, backend=backend)
            if left is not None:
                abandoned.append(left)
        count = len(abandoned)
        # the loop-closed ones are reaped by the next entry; the rest when
        # their instance goes
        del abandoned, left
        gc.collect()
    return count, [str(w.message) for w in caught if w.category is ResourceWarning]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_every_tenth_block_abandoned_leaves_nothing_behind(backend: str) -> None:
    run(backend, range(WARM_UP))
    before = Resources.now()
    start = time.monotonic()
    count, warned = run(backend, range(1, CYCLES + 1))
    elapsed = time.monotonic() - start
    # under trio, the server thread closes the last ones; and when the server
    # thread had ended before the cycles (on a slow machine, the warm-up took
    # longer than its linger), it ends again about a second after the last one
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        open_servers() or not Resources.now().thread_ids <= before.thread_ids
    ):
        time.sleep(0.01)
    after = Resources.now()
    report(
        f"abandoned blocks/{backend}: {CYCLES} cycles, {count} abandoned",
        before,
        after,
        time=f"{elapsed:.1f} s",
    )
    assert count == CYCLES // 10
    assert len(warned) == count, warned
    assert all("was never exited" in message for message in warned), warned
    assert open_servers() == 0
    assert after.fds <= before.fds
    assert after.thread_ids <= before.thread_ids
    assert after.os_threads <= before.os_threads
    assert after.rss - before.rss < RSS_GROWTH_LIMIT


# -- handlers whose client gave up -------------------------------------------------

#: What a route makes its client wait for, long after the client gives up.
ABANDONED_WORK: dict[str, dict[str, Any]] = {
    "delay": {"delay": 30, "body": "late"},
    "hang": {"fault": "hang"},
    "stream": {"body": [b"first", b"never sent"], "chunk_delay": 30},
}
EXITS = scaled(10, 100)


async def exit_time(kind: str) -> float:
    """How long leaving a block takes once its one client has given up."""
    m = aiointercept()
    await m.__aenter__()
    try:
        m.get("/work", **ABANDONED_WORK[kind])
        async with httpx_client() as client:
            if kind == "stream":
                async with client.stream("GET", f"{m.server_url}/work") as response:
                    assert response.status_code == 200
            else:
                with pytest.raises(httpx.ReadTimeout):
                    await client.get(
                        f"{m.server_url}/work", timeout=httpx.Timeout(30, read=0.05)
                    )
    finally:
        start = time.monotonic()
        await m.__aexit__(None, None, None)
    return time.monotonic() - start


@pytest.mark.anyio
@pytest.mark.parametrize("kind", list(ABANDONED_WORK))
async def test_a_block_whose_clients_gave_up_exits_without_the_grace_period(
    kind: str, anyio_backend: str
) -> None:
    """The handler of a client that gave up is cancelled when it disconnects,
    so the exit does not give it the shutdown grace period."""
    times = sorted([await exit_time(kind) for _ in range(EXITS)])
    median = times[len(times) // 2]
    grace = internals.SHUTDOWN_TIMEOUT
    print(
        f"\n[reliability] exit after the client gave up on a {kind} "
        f"({anyio_backend}, {EXITS} blocks): median {median * 1000:.1f} ms, "
        f"max {times[-1] * 1000:.1f} ms (grace {grace * 1000:.0f} ms)"
    )
    assert median < grace / 2
    assert open_servers() == 0
