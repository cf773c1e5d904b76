"""Cancellation at every point of a block: during start, mid-request, inside an
async callback and during exit.

Whatever the point, the block ends within :data:`CANCEL_BOUND` of the
cancellation, its server thread is gone and its port closed, the
``mock_external_urls`` patch is restored, and neither Python (ResourceWarning)
nor asyncio ("Task was destroyed but it is pending", "exception was never
retrieved") reports a leak.

Two kinds of cancellation are used: anyio cancel scopes (``move_on_after``,
``CancelScope.cancel()``), on asyncio and trio, and native asyncio cancellation
(``asyncio.wait_for``, ``Task.cancel()``), which is what pytest-asyncio,
``asyncio.timeout`` and plain asyncio code use, and which anyio's shielded
scopes do not hold off.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import httpx
import pytest
from yarl import URL

from aiointercept import CallbackResult, aiointercept
from tests.support.aiohttp_guard import RecordingResolver, guarded, patch_installed
from tests.support.backends import asyncio_only
from tests.support.blocks import assert_port_closed, open_servers, port_of
from tests.support.reliability import (
    BOUND,
    CANCEL_BOUND,
    httpx_client,
    no_leak_reports,
    scaled,
)

pytestmark = pytest.mark.anyio
both_modes = pytest.mark.parametrize(
    "external", [False, True], ids=["default", "mock_external_urls"]
)

#: How many cancellation points the sweeps try, spread over a whole block.
SWEEP_POINTS = scaled(16, 200)
#: How many times the targeted tests repeat.
REPEATS = scaled(2, 30)
#: How long (shielded) a slow callback takes to clean up once cancelled.
CLEANUP = 0.1


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    yield from guarded(monkeypatch)


@dataclass
class Progress:
    """How far a block got, as seen from the test."""

    port: int | None = None
    entered: bool = False
    exiting: bool = False
    callback_started: anyio.Event = field(default_factory=anyio.Event)
    callback_cancelled: bool = False
    callback_finished: bool = False

    @property
    def phase(self) -> str:
        return "exit" if self.exiting else "body" if self.entered else "start"


async def check_gone(progress: Progress) -> None:
    """The block has left nothing running."""
    assert open_servers() == 0
    assert not patch_installed()
    if progress.port is not None:
        await assert_port_closed(progress.port)


async def wait_until(condition: Callable[[], bool], poll: float = 0.001) -> None:
    """Poll ``condition``; ``poll=0`` spins at every turn of the loop (to catch
    a short moment), else it sleeps between polls to leave the CPU to others."""
    with anyio.fail_after(5):
        while not condition():
            if poll:
                await anyio.sleep(poll)
            else:
                await anyio.lowlevel.checkpoint()


# -- the scenarios -----------------------------------------------------------------


async def answer_soon(url: URL, **kwargs: Any) -> CallbackResult:
    await anyio.sleep(0.005)
    return CallbackResult(body="async")


async def whole_block(progress: Progress, external: bool) -> None:
    """Start a block, serve a static route and an async callback concurrently,
    and exit: every point of a block's life."""
    async with aiointercept(mock_external_urls=external) as m, httpx_client() as c:
        progress.port = port_of(m.server_url)
        progress.entered = True
        m.get("/static", body="static", repeat=True)
        m.get("/async", callback=answer_soon, repeat=True)
        async with anyio.create_task_group() as tg:
            tg.start_soon(c.get, f"{m.server_url}/static")
            tg.start_soon(c.get, f"{m.server_url}/async")
        progress.exiting = True


async def fetch(session: aiohttp.ClientSession, url: str) -> None:
    async with session.get(url) as response:
        await response.read()


async def aiohttp_block(progress: Progress, external: bool) -> None:
    """:func:`whole_block` with an aiohttp client. httpx is not used under
    native asyncio cancellation: cancelled while it connects, it leaves its own
    socket unclosed (a ResourceWarning that is not about the mock)."""
    async with (
        aiointercept(mock_external_urls=external) as m,
        aiohttp.ClientSession(timeout=BOUND) as session,
    ):
        progress.port = port_of(m.server_url)
        progress.entered = True
        m.get("/static", body="static", repeat=True)
        m.get("/async", callback=answer_soon, repeat=True)
        async with anyio.create_task_group() as tg:
            tg.start_soon(fetch, session, f"{m.server_url}/static")
            tg.start_soon(fetch, session, f"{m.server_url}/async")
        progress.exiting = True


async def nested_external_blocks(progress: Progress, external: bool) -> None:
    """Two nested ``mock_external_urls`` blocks and aiohttp requests to
    intercepted https hosts through both."""
    resolver = RecordingResolver()
    connector = aiohttp.TCPConnector(resolver=resolver)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=BOUND) as session,
        aiointercept(mock_external_urls=True) as outer,
    ):
        progress.port = port_of(outer.server_url)
        outer.get("https://outer.example.com/x", body="outer", repeat=True)
        async with aiointercept(mock_external_urls=True) as inner:
            progress.entered = True
            inner.get("https://inner.example.com/x", callback=answer_soon)
            async with anyio.create_task_group() as tg:
                tg.start_soon(fetch, session, "https://outer.example.com/x")
                tg.start_soon(fetch, session, "https://inner.example.com/x")
        progress.exiting = True
    assert resolver.calls == []


Scenario = Callable[[Progress, bool], Awaitable[None]]


async def delays_over(scenario: Scenario, external: bool) -> list[float]:
    """Cancellation delays from 0 to a little past the end of an uncancelled
    run of ``scenario`` (measured after a warm-up)."""
    await scenario(Progress(), external)
    start = time.monotonic()
    await scenario(Progress(), external)
    total = time.monotonic() - start
    return [total * 1.2 * i / SWEEP_POINTS for i in range(SWEEP_POINTS + 1)]


async def cancel_scope_after(delay: float, scenario: Scenario, external: bool) -> str:
    progress = Progress()
    start = time.monotonic()
    with anyio.move_on_after(delay):
        await scenario(progress, external)
    late = time.monotonic() - (start + delay)
    assert late < CANCEL_BOUND, (
        f"cancelled after {delay:.4f} s, ended {late:.3f} s late"
    )
    await check_gone(progress)
    return progress.phase


async def wait_for_after(delay: float, scenario: Scenario, external: bool) -> str:
    progress = Progress()
    start = time.monotonic()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(scenario(progress, external), delay)
    late = time.monotonic() - (start + delay)
    assert late < CANCEL_BOUND, (
        f"cancelled after {delay:.4f} s, ended {late:.3f} s late"
    )
    await check_gone(progress)
    return progress.phase


async def sweep(
    cancel: Callable[[float, Scenario, bool], Awaitable[str]],
    scenario: Scenario,
    external: bool,
) -> dict[str, int]:
    """Cancel ``scenario`` at every delay; count where the cancellations hit."""
    phases: dict[str, int] = {}
    with no_leak_reports():
        for delay in await delays_over(scenario, external):
            phase = await cancel(delay, scenario, external)
            phases[phase] = phases.get(phase, 0) + 1
    print(f"\n[reliability] {scenario.__name__} cancelled in: {phases}")
    return phases


# -- sweeps: a cancellation at every moment of a block ----------------------------


@both_modes
async def test_cancel_scope_at_every_point_of_a_block(
    external: bool, anyio_backend: str
) -> None:
    # On asyncio the client is aiohttp: httpx on anyio 4.5 leaves its own
    # socket unclosed when cancelled while it connects (not the mock's leak).
    scenario = aiohttp_block if anyio_backend == "asyncio" else whole_block
    await sweep(cancel_scope_after, scenario, external)


@asyncio_only
async def test_cancel_scope_at_every_point_of_nested_external_blocks() -> None:
    await sweep(cancel_scope_after, nested_external_blocks, True)


@asyncio_only
@pytest.mark.parametrize(
    "scenario",
    [aiohttp_block, nested_external_blocks],
    ids=["block", "nested-external"],
)
async def test_asyncio_wait_for_at_every_point_of_a_block(scenario: Scenario) -> None:
    await sweep(wait_for_after, scenario, True)


# -- at start ------------------------------------------------------------------------
# Entering a block does not wait for the server thread (its sockets are bound
# on the test's thread), so a cancellation cannot land inside __aenter__: it
# lands at the block's first checkpoint. These check that a block cancelled
# right away, before it could serve anything, leaves nothing behind.


async def cancel_scope_at_start(external: bool) -> None:
    progress = Progress()
    start = time.monotonic()
    with anyio.CancelScope() as scope:
        scope.cancel()
        async with aiointercept(mock_external_urls=external) as m:
            progress.entered = True
            progress.port = port_of(m.server_url)
            await anyio.sleep(10)
    assert scope.cancelled_caught
    assert time.monotonic() - start < CANCEL_BOUND
    await check_gone(progress)


async def cancel_task_at_start(external: bool) -> None:
    """The same with ``Task.cancel()`` before the task's first step."""
    progress = Progress()

    async def block() -> None:
        async with aiointercept(mock_external_urls=external) as m:
            progress.entered = True
            progress.port = port_of(m.server_url)
            await anyio.sleep(10)

    task = asyncio.ensure_future(block())
    await asyncio.sleep(0)  # the task enters the block and reaches its sleep
    task.cancel()
    cancelled_at = time.monotonic()
    await asyncio.wait({task}, timeout=10)
    assert task.cancelled()
    assert time.monotonic() - cancelled_at < CANCEL_BOUND
    await check_gone(progress)


@both_modes
async def test_cancelled_as_the_block_starts(external: bool) -> None:
    with no_leak_reports():
        for _ in range(REPEATS):
            await cancel_scope_at_start(external)


@asyncio_only
@both_modes
async def test_task_cancelled_as_the_block_starts(external: bool) -> None:
    with no_leak_reports():
        for _ in range(REPEATS):
            await cancel_task_at_start(external)


# -- mid-request -------------------------------------------------------------------


async def cancel_while_a_body_is_sent(external: bool) -> None:
    progress = Progress()
    first_chunk_sent = anyio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b"first chunk;"
        first_chunk_sent.set()
        await anyio.sleep(10)
        yield b"never sent"  # pragma: no cover

    async def upload(client: httpx.AsyncClient, url: str) -> None:
        await client.post(url, content=slow_body())

    with anyio.CancelScope() as scope:
        async with (
            aiointercept(mock_external_urls=external) as m,
            httpx_client() as client,
            anyio.create_task_group() as tg,
        ):
            progress.port = port_of(m.server_url)
            m.post("/upload", status=201)
            tg.start_soon(upload, client, f"{m.server_url}/upload")
            await first_chunk_sent.wait()
            await anyio.sleep(0.02)  # the server is reading the body
            scope.cancel()
            cancelled_at = time.monotonic()
    assert time.monotonic() - cancelled_at < CANCEL_BOUND
    await check_gone(progress)


@both_modes
async def test_cancelled_while_a_request_body_is_being_sent(external: bool) -> None:
    with no_leak_reports():
        for _ in range(REPEATS):
            await cancel_while_a_body_is_sent(external)


@both_modes
async def test_cancelled_while_a_sync_callback_runs(external: bool) -> None:
    """A sync callback runs in the server thread; the block ends once it returns."""
    entered = threading.Event()

    def slow(url: URL, **kwargs: Any) -> CallbackResult:
        entered.set()
        time.sleep(CLEANUP)
        return CallbackResult(body="slow")

    progress = Progress()
    with no_leak_reports():
        with anyio.CancelScope() as scope:
            async with (
                aiointercept(mock_external_urls=external) as m,
                httpx_client() as client,
                anyio.create_task_group() as tg,
            ):
                progress.port = port_of(m.server_url)
                m.get("/slow", callback=slow)
                tg.start_soon(client.get, f"{m.server_url}/slow")
                await wait_until(entered.is_set)
                scope.cancel()
                cancelled_at = time.monotonic()
        assert time.monotonic() - cancelled_at < CANCEL_BOUND
        await check_gone(progress)


# -- inside an async callback --------------------------------------------------------


def forever(progress: Progress) -> Callable[..., Awaitable[CallbackResult]]:
    async def callback(url: URL, **kwargs: Any) -> CallbackResult:
        progress.callback_started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            progress.callback_cancelled = True
            raise
        return CallbackResult()  # pragma: no cover

    return callback


async def cancel_while_a_callback_waits(external: bool) -> None:
    progress = Progress()
    with anyio.CancelScope() as scope:
        async with (
            aiointercept(mock_external_urls=external) as m,
            httpx_client() as client,
            anyio.create_task_group() as tg,
        ):
            progress.port = port_of(m.server_url)
            m.get("/forever", callback=forever(progress))
            tg.start_soon(client.get, f"{m.server_url}/forever")
            await progress.callback_started.wait()
            scope.cancel()
            cancelled_at = time.monotonic()
    assert time.monotonic() - cancelled_at < CANCEL_BOUND
    assert progress.callback_cancelled
    await check_gone(progress)


@both_modes
async def test_cancelled_while_an_async_callback_waits(external: bool) -> None:
    with no_leak_reports():
        for _ in range(REPEATS):
            await cancel_while_a_callback_waits(external)


@both_modes
async def test_an_async_callback_cancels_the_test(external: bool) -> None:
    """Async callbacks run on the test's loop, so one can cancel the test's own
    scope; the block ends as for any other cancellation."""
    progress = Progress()
    statuses: list[int] = []

    async def request(client: httpx.AsyncClient, url: str) -> None:
        statuses.append((await client.get(url)).status_code)

    with no_leak_reports():
        with anyio.CancelScope() as scope:

            async def cancelling(url: URL, **kwargs: Any) -> CallbackResult:
                scope.cancel()
                progress.callback_started.set()
                await anyio.sleep(0.05)
                return CallbackResult(
                    body="after cancelling the test"
                )  # pragma: no cover

            async with (
                aiointercept(mock_external_urls=external) as m,
                httpx_client() as client,
                anyio.create_task_group() as tg,
            ):
                progress.port = port_of(m.server_url)
                m.get("/cancel", callback=cancelling)
                tg.start_soon(request, client, f"{m.server_url}/cancel")
                await anyio.sleep(10)
        assert scope.cancelled_caught
        assert progress.callback_started.is_set()
        assert statuses == []  # the test's own request was cancelled with it
        await check_gone(progress)


def slow_to_finish(progress: Progress) -> Callable[..., Awaitable[CallbackResult]]:
    """An async callback that waits forever and, when cancelled, takes
    :data:`CLEANUP` seconds (shielded) to clean up."""

    async def callback(url: URL, **kwargs: Any) -> CallbackResult:
        progress.callback_started.set()
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(CLEANUP)
            progress.callback_finished = True
        return CallbackResult()  # pragma: no cover

    return callback


@both_modes
async def test_cancelled_while_an_async_callback_cleans_up(external: bool) -> None:
    """The block waits for its callbacks to finish, and no longer."""
    progress = Progress()
    with no_leak_reports():
        with anyio.CancelScope() as scope:
            async with (
                aiointercept(mock_external_urls=external) as m,
                httpx_client() as client,
                anyio.create_task_group() as tg,
            ):
                progress.port = port_of(m.server_url)
                m.get("/slow", callback=slow_to_finish(progress))
                tg.start_soon(client.get, f"{m.server_url}/slow")
                await progress.callback_started.wait()
                scope.cancel()
                cancelled_at = time.monotonic()
        elapsed = time.monotonic() - cancelled_at
        assert progress.callback_finished
        assert CLEANUP * 0.9 < elapsed < CANCEL_BOUND
        await check_gone(progress)


# -- during exit -------------------------------------------------------------------


async def body_then_exit(
    progress: Progress, external: bool, client: httpx.AsyncClient
) -> None:
    """A block whose exit has to wait for an async callback to clean up."""
    async with aiointercept(mock_external_urls=external) as m:
        progress.port = port_of(m.server_url)
        m.get("/slow", callback=slow_to_finish(progress))
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.get, f"{m.server_url}/slow")
            await progress.callback_started.wait()
            tg.cancel_scope.cancel()
        progress.exiting = True


async def cancel_scope_during_exit(external: bool) -> None:
    progress = Progress()
    cancelled_at: list[float] = []

    async def cancel_during_exit(scope: anyio.CancelScope) -> None:
        await wait_until(lambda: progress.exiting)
        await anyio.sleep(CLEANUP / 4)
        cancelled_at.append(time.monotonic())
        scope.cancel()

    async with httpx_client() as client, anyio.create_task_group() as tg:
        with anyio.CancelScope() as scope:
            tg.start_soon(cancel_during_exit, scope)
            await body_then_exit(progress, external, client)
            exited_at = time.monotonic()
    assert scope.cancel_called
    assert progress.callback_finished
    assert exited_at - cancelled_at[0] < CANCEL_BOUND
    await check_gone(progress)


async def cancel_task_during_exit(external: bool) -> None:
    progress = Progress()
    async with httpx_client() as client:
        task = asyncio.ensure_future(body_then_exit(progress, external, client))
        await wait_until(lambda: progress.exiting)
        await asyncio.sleep(CLEANUP / 4)
        task.cancel()
        cancelled_at = time.monotonic()
        await asyncio.wait({task}, timeout=10)
    assert task.cancelled()
    assert time.monotonic() - cancelled_at < CANCEL_BOUND
    assert progress.callback_finished
    await check_gone(progress)


@both_modes
async def test_cancelled_during_exit(external: bool) -> None:
    """The block's body is done; its exit is waiting for a callback's clean-up
    when the cancellation arrives."""
    with no_leak_reports():
        for _ in range(REPEATS):
            await cancel_scope_during_exit(external)


@asyncio_only
@both_modes
async def test_task_cancelled_during_exit(external: bool) -> None:
    with no_leak_reports():
        for _ in range(REPEATS):
            await cancel_task_during_exit(external)
