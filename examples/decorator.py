"""The decorator, and the life of a mock server.

The decorated functions are shaped like tests: under pytest, add the marker of
your async plugin (``@pytest.mark.anyio`` or ``@pytest.mark.asyncio``) above
``@aiointercept(...)``. Here they are called directly, on asyncio and on trio.
Run with ``python examples/decorator.py``.
"""

from __future__ import annotations

import inspect

import anyio
import httpx
from yarl import URL

from aiointercept import aiointercept


# [decorator]
@aiointercept()
async def test_list_users(m: aiointercept) -> None:
    # The instance arrives as the last positional argument.
    m.get("/users", payload=[{"id": 1}])
    async with httpx.AsyncClient(base_url=m.server_url) as client:
        assert (await client.get("/users")).json() == [{"id": 1}]


@aiointercept(param="mock")
async def test_get_user(user_id: int, *, mock: aiointercept) -> None:
    # The instance arrives as the keyword argument named by param=.
    mock.get(f"/users/{user_id}", payload={"id": user_id})
    async with httpx.AsyncClient(base_url=mock.server_url) as client:
        assert (await client.get(f"/users/{user_id}")).json() == {"id": user_id}


# [/decorator]


# [signature]
# The injected parameter is hidden from the signature, so pytest does not look
# for a fixture named "m" or "mock"; the other parameters stay visible.
assert list(inspect.signature(test_list_users).parameters) == []
assert list(inspect.signature(test_get_user).parameters) == ["user_id"]
# [/signature]


# [fresh]
instances: list[aiointercept] = []


@aiointercept()
async def remember(m: aiointercept) -> None:
    assert m.requests == {}  # nothing left over from an earlier call
    m.get("/once")
    async with httpx.AsyncClient() as client:
        await client.get(f"{m.server_url}/once")
    instances.append(m)


async def fresh_server_per_call() -> None:
    await remember()
    await remember()
    first, second = instances[-2:]
    assert first is not second


# [/fresh]


async def lifecycle() -> None:
    m = aiointercept()
    async with m:
        m.get("/ping", body="pong")
        async with aiointercept() as inner:  # nested: a second, separate server
            assert inner.server_url != m.server_url
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{m.server_url}/ping")).text == "pong"
    first_url = m.server_url

    # After the block the server is closed...
    async with httpx.AsyncClient() as client:
        try:
            await client.get(f"{first_url}/ping")
        except httpx.ConnectError:
            pass
        else:
            raise AssertionError("the server should be closed")

    # ...but server_url and the records are still there.
    assert len(m.requests[("GET", URL(f"{first_url}/ping"))]) == 1

    # Entering the same instance again starts a new server and a new journal;
    # the routes are kept (clear() drops them).
    async with m:
        assert m.requests == {}
        m.clear()
        m.get("/ping", body="pong again")
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{m.server_url}/ping")).text == "pong again"


async def run_all() -> None:
    await test_list_users()
    await test_get_user(7)
    await fresh_server_per_call()
    await lifecycle()


if __name__ == "__main__":
    for backend in ("asyncio", "trio"):
        anyio.run(run_all, backend=backend)
