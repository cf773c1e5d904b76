"""Async tests with pytest-asyncio (strict mode here; auto mode works too).

Run with ``pytest examples/pytest``.
"""

from __future__ import annotations

# [pytest-asyncio]
from typing import Any

import aiohttp
import pytest

from aiointercept import aiointercept


@pytest.mark.asyncio
async def test_get_user(aiointercept_mock: aiointercept) -> None:
    aiointercept_mock.get("/users/1", payload={"id": 1})

    async with (
        aiohttp.ClientSession(base_url=aiointercept_mock.server_url) as session,
        session.get("/users/1") as response,
    ):
        assert await response.json() == {"id": 1}


# [/pytest-asyncio]


# [marker]
async def list_charges() -> list[Any]:
    """The code under test, with a hard-coded URL."""
    async with (
        aiohttp.ClientSession() as session,
        session.get("https://api.stripe.com/v1/charges") as response,
    ):
        response.raise_for_status()
        body: dict[str, list[Any]] = await response.json()
        return body["data"]


@pytest.mark.asyncio
@pytest.mark.aiointercept(mock_external_urls=True)
async def test_list_charges(aiointercept_mock: aiointercept) -> None:
    aiointercept_mock.get("https://api.stripe.com/v1/charges", payload={"data": []})

    assert await list_charges() == []


# [/marker]
