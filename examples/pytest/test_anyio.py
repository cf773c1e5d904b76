"""Async tests with the anyio pytest plugin, on asyncio and on trio.

Run with ``pytest examples/pytest`` (trio: ``pip install "aiointercept[trio]"``).
"""

from __future__ import annotations

# [anyio]
from typing import Any

import anyio
import httpx
import pytest

from aiointercept import CallbackResult, aiointercept


# Run @pytest.mark.anyio tests on asyncio and on trio. In conftest.py, this
# applies to the whole suite; here, to this module.
@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.mark.anyio
async def test_list_users(aiointercept_mock: aiointercept) -> None:
    aiointercept_mock.get("/users", payload=[{"id": 1}])

    async with httpx.AsyncClient(base_url=aiointercept_mock.server_url) as client:
        response = await client.get("/users")

    assert response.json() == [{"id": 1}]


# [/anyio]


# [callback]
@pytest.mark.anyio
async def test_async_callback_uses_the_tests_objects(
    aiointercept_mock: aiointercept,
) -> None:
    release = anyio.Event()  # an object of the test's own event loop

    async def wait_for_release(url: Any, **kwargs: Any) -> CallbackResult:
        await release.wait()  # runs on the test's loop, asyncio or trio
        return CallbackResult(payload={"released": True})

    aiointercept_mock.get("/job", callback=wait_for_release)
    responses: list[httpx.Response] = []

    async with httpx.AsyncClient(base_url=aiointercept_mock.server_url) as client:

        async def get_job() -> None:
            responses.append(await client.get("/job"))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(get_job)
            await anyio.sleep(0.1)
            assert responses == []  # the callback is waiting for the test
            release.set()

    assert responses[0].json() == {"released": True}


# [/callback]
