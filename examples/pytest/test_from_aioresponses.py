"""Tests written the way an aioresponses user writes them, after the
search-and-replace of docs/migrating.rst (``aioresponses`` -> ``aiointercept``
with ``mock_external_urls=True``): a sync fixture, the decorator, a callback
that returns ``None``, client options in assertions.

docs/migrating.rst shows the regions marked ``# [name]``. Run with
``pytest examples/pytest``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from aiointercept import CallbackResult, aiointercept


async def fetch_user(session: aiohttp.ClientSession, user_id: int) -> Any:
    """The code under test: a hard-coded URL."""
    async with session.get(f"https://api.example.com/users/{user_id}") as resp:
        resp.raise_for_status()
        return await resp.json()


# [sync-fixture]
@pytest.fixture
def mock_api() -> Iterator[aiointercept]:
    with aiointercept(mock_external_urls=True) as m:
        yield m


@pytest.mark.asyncio
async def test_fetch_user(mock_api: aiointercept) -> None:
    mock_api.get("https://api.example.com/users/1", payload={"id": 1})
    async with aiohttp.ClientSession() as session:
        assert await fetch_user(session, 1) == {"id": 1}
    mock_api.assert_called_once_with("https://api.example.com/users/1")


# [/sync-fixture]


# [decorator]
@pytest.mark.asyncio
@aiointercept(mock_external_urls=True)
async def test_decorated(m: aiointercept) -> None:
    m.get("https://api.example.com/users/2", payload={"id": 2})
    async with aiohttp.ClientSession() as session:
        assert await fetch_user(session, 2) == {"id": 2}


# [/decorator]


# [callback-none]
@pytest.mark.asyncio
async def test_callback_that_only_records(mock_api: aiointercept) -> None:
    seen: list[URL] = []

    def record(url: URL, *, headers: Any, **kwargs: Any) -> CallbackResult | None:
        seen.append(url)
        if "X-Fail" in headers:
            return CallbackResult(status=503)  # a CallbackResult wins
        return None  # the static response below

    mock_api.get(
        "https://api.example.com/users/3",
        payload={"id": 3},
        callback=record,
        repeat=True,
    )
    async with aiohttp.ClientSession() as session:
        assert await fetch_user(session, 3) == {"id": 3}
        async with session.get(
            "https://api.example.com/users/3", headers={"X-Fail": "1"}
        ) as resp:
            assert resp.status == 503
    assert len(seen) == 2


# [/callback-none]


# [client-options]
@pytest.mark.asyncio
async def test_assertion_with_client_options(mock_api: aiointercept) -> None:
    mock_api.post("https://api.example.com/users", status=201)
    async with aiohttp.ClientSession() as session:
        await session.post(
            "https://api.example.com/users", json={"name": "Bob"}, ssl=False
        )
    # ssl= is a client option: ignored, with a DeprecationWarning to remove it
    with pytest.deprecated_call(match="ssl"):
        mock_api.assert_called_with(
            "https://api.example.com/users",
            method="POST",
            json={"name": "Bob"},
            ssl=False,
        )


# [/client-options]


# [timeout]
@pytest.mark.asyncio
async def test_timeout_is_a_real_timeout(mock_api: aiointercept) -> None:
    # exception=asyncio.TimeoutError() makes the server hang; the client's
    # own timeout fires, so give it a short one in the test. (Over https,
    # aiohttp closes the timed-out connection with a TLS exchange that the
    # test's loop must live long enough to finish.)
    mock_api.get("http://api.example.com/slow", exception=asyncio.TimeoutError())
    timeout = aiohttp.ClientTimeout(total=0.2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.get("http://api.example.com/slow")


# [/timeout]


# [data]
@pytest.mark.asyncio
async def test_form_data_is_recorded_as_sent(mock_api: aiointercept) -> None:
    mock_api.post("https://api.example.com/login")
    async with aiohttp.ClientSession() as session:
        await session.post("https://api.example.com/login", data={"user": "alice"})

    request = mock_api.requests[("POST", URL("https://api.example.com/login"))][0]
    assert request.kwargs["data"] == b"user=alice"  # the bytes on the wire
    assert request.form == {"user": ["alice"]}  # the form, parsed
    # a mapping in data= is compared with the form; json=None checks nothing
    mock_api.assert_called_with(
        "https://api.example.com/login", "POST", data={"user": "alice"}, json=None
    )


# [/data]
