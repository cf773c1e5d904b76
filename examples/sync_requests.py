"""A synchronous client (requests) against the mock server, from an async test
and from synchronous code.

The server runs in its own thread, so a blocking client gets its answers even
while it holds up the test's event loop. Run with
``python examples/sync_requests.py`` (needs ``pip install requests``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio.to_thread
import requests

from aiointercept import CallbackError, CallbackResult, aiointercept


# [code-under-test]
def http_get(url: str, **params: str) -> requests.Response:
    """A blocking HTTP call, as found in synchronous code under test."""
    return requests.get(url, params=params, timeout=5)


def fetch_user(base_url: str, user_id: int) -> dict[str, Any]:
    response = http_get(f"{base_url}/users/{user_id}")
    response.raise_for_status()
    user: dict[str, Any] = response.json()
    return user


# [/code-under-test]


async def in_a_worker_thread() -> None:
    async with aiointercept() as m:
        m.get("/users/1", payload={"id": 1, "name": "Alice"})

        # The test's loop stays free while requests waits in a worker thread.
        user = await anyio.to_thread.run_sync(fetch_user, m.server_url, 1)

    assert user == {"id": 1, "name": "Alice"}


# [blocking]
def greeting(url: Any, *, query: dict[str, list[str]], **kwargs: Any) -> CallbackResult:
    # A sync callback runs in the server thread: it does not need the test's loop.
    return CallbackResult(body=f"hello {query['name'][0]}", content_type="text/plain")


async def pending_forever(url: Any, **kwargs: Any) -> CallbackResult:
    raise AssertionError("never started: the test's loop is blocked")


async def blocking_the_loop() -> None:
    async with aiointercept(callback_start_timeout=0.5) as m:
        m.get("/users/2", payload={"id": 2, "name": "Bob"})
        m.get("/greet?name=Bob", callback=greeting)
        m.get("/async", callback=pending_forever)

        # Called directly, requests blocks the test's loop until it returns.
        # Static responses and sync callbacks are still served...
        assert fetch_user(m.server_url, 2) == {"id": 2, "name": "Bob"}
        greet = http_get(f"{m.server_url}/greet", name="Bob")
        assert greet.text == "hello Bob"

        # ...but an async callback runs on the (blocked) test loop: after
        # callback_start_timeout seconds the request gets a 503 that says why.
        stuck = http_get(f"{m.server_url}/async")
        assert stuck.status_code == 503
        assert "event loop is blocked" in stuck.text


# [/blocking]


# [blocking-external]
async def blocking_the_loop_with_hard_coded_urls() -> None:
    m = aiointercept(mock_external_urls=True)
    error = None
    try:
        async with m:
            m.get("https://users.example.com/async", callback=pending_forever)
            # The requests adapter knows that this request comes from the
            # test's loop's own thread: the 503 comes at once...
            stuck = http_get("https://users.example.com/async")
            assert stuck.status_code == 503
    except CallbackError as raised:
        error = raised  # ...and the block raises the error when it exits.
    assert "sent from the thread of the test's event loop" in str(error)


# [/blocking-external]


# [sync-block]
def in_sync_code() -> None:
    # 'with' instead of 'async with': for sync tests and sync fixtures.
    with aiointercept() as m:
        m.get("/users/3", payload={"id": 3, "name": "Carol"})
        assert fetch_user(m.server_url, 3) == {"id": 3, "name": "Carol"}
    m.assert_called_once_with("/users/3")

    # The same with hard-coded URLs.
    with aiointercept(mock_external_urls=True) as m:
        m.get("https://users.example.com/users/4", payload={"id": 4})
        assert fetch_user("https://users.example.com", 4) == {"id": 4}


# [/sync-block]


async def main() -> None:
    await in_a_worker_thread()
    await blocking_the_loop()
    await blocking_the_loop_with_hard_coded_urls()


if __name__ == "__main__":
    in_sync_code()
    asyncio.run(main())
