"""Tests written the way an aiointercept 1.0.0 user writes them, from 1.0.0's
README, docs and MIGRATING.md: they run unchanged on this version.

1.0.0 was asyncio-only and built for aiohttp, so these use pytest-asyncio and
aiohttp. docs/migrating.rst shows the regions marked ``# [name]``. Run with
``pytest examples/pytest``.
"""

from __future__ import annotations

import unittest
from collections.abc import AsyncIterator
from unittest import mock

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from aiointercept import (
    AiointerceptRequest,
    CallbackError,
    CallbackResult,
    MockResponse,
    aiointercept,
)


# [unittest]
class TestUsersApi(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.helper = aiointercept()
        await self.helper.start()

    async def asyncTearDown(self) -> None:
        await self.helper.stop()

    async def test_user(self) -> None:
        url = f"{self.helper.server_url}/user/1"
        self.helper.get(url, payload={"id": 1})
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            assert await resp.json() == {"id": 1}
        self.helper.assert_called_once_with(url)


# [/unittest]


class TestStopReportsCallbackErrors(unittest.IsolatedAsyncioTestCase):
    async def test_stop_raises_what_a_callback_raised(self) -> None:
        def broken(url: URL, **kwargs: object) -> CallbackResult:
            raise KeyError("missing")

        helper = aiointercept()
        await helper.start()
        helper.get(f"{helper.server_url}/boom", callback=broken)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{helper.server_url}/boom") as resp,
        ):
            assert resp.status == 500
        with pytest.raises(CallbackError, match="missing"):
            await helper.stop()


# [fixture]
@pytest_asyncio.fixture
async def mock_http() -> AsyncIterator[aiointercept]:
    async with aiointercept() as m:
        yield m


@pytest.mark.asyncio
async def test_with_my_fixture(mock_http: aiointercept) -> None:
    mock_http.get(f"{mock_http.server_url}/items", payload=[{"id": 1}])
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{mock_http.server_url}/items") as resp,
    ):
        assert await resp.json() == [{"id": 1}]


@pytest.mark.asyncio
async def test_with_the_plugin_fixture(aiointercept_mock: aiointercept) -> None:
    m = aiointercept_mock
    m.get(f"{m.server_url}/user/1", payload={"id": 1, "name": "Alice"})
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{m.server_url}/user/1") as resp,
    ):
        assert resp.status == 200
    m.assert_called_with(f"{m.server_url}/user/1", method="GET")


# [/fixture]


# [positional]
@pytest.mark.asyncio
async def test_positional_options_and_handles() -> None:
    async with aiointercept(True) as m:  # mock_external_urls=True
        rsp: MockResponse = m.get("https://api.example.com/items", payload=[], repeat=2)
        rsp2: MockResponse = m.post("https://api.example.com/items", status=201)
        async with aiohttp.ClientSession() as session:
            for _ in range(2):
                async with session.get("https://api.example.com/items"):
                    pass
            async with session.post(
                "https://api.example.com/items", json={"name": "foo"}
            ):
                pass

        assert rsp.call_count == 2
        assert rsp2.call_count == 1
        assert m.call_count == 3
        methods = [method for (method, url), req in m.ordered_requests]
        assert methods == ["GET", "GET", "POST"]
        last: AiointerceptRequest | None = m.last_request
        assert last is not None
        assert await last.json() == {"name": "foo"}


# [/positional]


# [assertions]
@pytest.mark.asyncio
async def test_assertions_with_mock_any() -> None:
    async with aiointercept(True) as m:
        m.post("https://api.example.com/orders", status=201)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                "https://api.example.com/orders",
                json={"item": "book", "qty": 2},
                headers={"Authorization": "Bearer token123"},
            ),
        ):
            pass

        m.assert_called_with(
            "https://api.example.com/orders",
            method="POST",
            json={"item": "book", "qty": mock.ANY},
            headers=mock.ANY,
        )
        m.assert_called_once_with(
            "https://api.example.com/orders",
            method="POST",
            headers={"Authorization": "Bearer token123"},
            data=mock.ANY,
        )


# [/assertions]


# [reads]
@pytest.mark.asyncio
async def test_reading_a_captured_request() -> None:
    async with aiointercept() as m:
        url = f"{m.server_url}/search?foo=bar&foo=baz"
        m.get(url)
        async with aiohttp.ClientSession() as session, session.get(url):
            pass

    key = ("GET", URL(url))
    request = m.requests[key][-1]
    assert request.path == "/search"
    assert request.query["foo"] == "bar"
    assert request.query.getall("foo") == ["bar", "baz"]
    assert request.kwargs["query"]["foo"] == ["bar", "baz"]
    assert request.captured_body == b""
    assert await request.read() == b""


# [/reads]


# [decorator]
@pytest.mark.asyncio
@aiointercept(param="mock")
async def test_decorated(mock: aiointercept) -> None:
    mock.get(f"{mock.server_url}/feed", payload=[])
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{mock.server_url}/feed") as resp,
    ):
        assert await resp.json() == []


# [/decorator]
