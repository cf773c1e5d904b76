"""``with aiointercept() as m:``: the block for synchronous code (sync
fixtures and tests), with or without an event loop running in the thread."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
import requests
from yarl import URL

from aiointercept import CallbackError, CallbackResult, StrictCheckError, aiointercept
from tests.support.aiohttp_guard import patch_installed


#: The methods mock_external_urls=True wraps in aiohttp, as aiohttp defines them.
def port_refuses(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class BlockError(Exception):
    """Raised by a test's own block."""


# -- no event loop in the thread -------------------------------------------------------


def test_a_sync_block_serves_requests_and_records_them() -> None:
    with aiointercept() as m:
        route = m.get("/users/1", payload={"id": 1})
        response = requests.get(f"{m.server_url}/users/1", timeout=5)
        assert response.json() == {"id": 1}
        with httpx.Client(base_url=m.server_url) as client:
            m.post("/users", status=201)
            assert client.post("/users", json={"n": 2}).status_code == 201
    assert route.call_count == 1
    m.assert_called_with("/users", "POST", json={"n": 2})
    assert port_refuses(m.server_port)


def test_a_sync_block_with_mock_external_urls_intercepts_hard_coded_urls() -> None:
    assert not patch_installed()
    with aiointercept(mock_external_urls=True) as m:
        assert patch_installed()
        m.get("https://api.example.com/v1/charges", payload={"data": []})
        response = requests.get("https://api.example.com/v1/charges", timeout=5)
        assert response.json() == {"data": []}
    assert not patch_installed()  # removed on exit
    assert m.requests[("GET", URL("https://api.example.com/v1/charges"))]


def test_a_callback_error_is_raised_at_exit() -> None:
    def broken(url: URL, **kwargs: Any) -> CallbackResult:
        raise LookupError("no user 9")

    with pytest.raises(CallbackError, match="no user 9"), aiointercept() as m:  # noqa: PT012
        m.get("/users/9", callback=broken)
        assert requests.get(f"{m.server_url}/users/9", timeout=5).status_code == 500
    assert port_refuses(m.server_port)


def test_the_block_s_own_exception_wins_over_a_callback_error() -> None:
    def broken(url: URL, **kwargs: Any) -> CallbackResult:
        raise LookupError("no user 9")

    m = aiointercept()
    with pytest.raises(BlockError), m:  # noqa: PT012
        m.get("/users/9", callback=broken)
        requests.get(f"{m.server_url}/users/9", timeout=5)
        raise BlockError
    assert port_refuses(m.server_port)


def test_strict_checks_run_at_exit() -> None:
    with (
        pytest.raises(StrictCheckError, match="/never"),
        aiointercept(assert_all_called=True) as m,
    ):
        m.get("/never")


def test_an_async_callback_needs_a_loop_in_the_thread() -> None:
    async def answer(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(body="late")

    with aiointercept() as m, pytest.raises(RuntimeError, match="event loop"):
        m.get("/async", callback=answer)


def test_entering_again_starts_a_new_journal() -> None:
    m = aiointercept(mock_external_urls=True)
    m.get("http://api.test/ping", repeat=True)  # absolute: registered before
    with m:
        requests.get("http://api.test/ping", timeout=5)
        assert m.call_count == 1
    first_port = m.server_port
    with m:
        assert m.call_count == 0
        assert m.ordered_requests == []
        assert len(m.handlers) == 1  # the routes stay
    assert m.server_port != first_port or port_refuses(first_port)


def test_mixing_with_and_async_exit_is_refused() -> None:
    m = aiointercept()
    with pytest.raises(RuntimeError, match="already running"), m:
        m.__enter__()
    with pytest.raises(RuntimeError, match="not running"):
        m.__exit__(None, None, None)


@pytest.fixture
def sync_mock() -> Iterator[aiointercept]:
    """A sync fixture, the way aioresponses users open their mock."""
    with aiointercept() as m:
        yield m


def test_a_sync_fixture_serves_a_sync_test(sync_mock: aiointercept) -> None:
    sync_mock.get("/health", body="ok")
    assert requests.get(f"{sync_mock.server_url}/health", timeout=5).text == "ok"


# -- an event loop running in the thread -----------------------------------------------


@pytest.mark.anyio
async def test_a_sync_block_inside_an_async_test() -> None:
    async def answer(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(payload={"from": "the test's loop"})

    with aiointercept() as m:
        m.get("/static", body="static")
        m.get("/async", callback=answer)  # runs on this test's loop
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            assert (await client.get("/static")).text == "static"
            assert (await client.get("/async")).json() == {"from": "the test's loop"}
    assert port_refuses(m.server_port)
    assert m.call_count == 2


@pytest.mark.anyio
async def test_a_sync_fixture_serves_an_async_test(sync_mock: aiointercept) -> None:
    sync_mock.post("/orders", status=201, payload={"id": 3})
    async with httpx.AsyncClient(base_url=sync_mock.server_url) as client:
        response = await client.post("/orders", json={"sku": "A"})
    assert response.json() == {"id": 3}
    sync_mock.assert_called_once_with("/orders", "POST", json={"sku": "A"})


@pytest.mark.anyio
async def test_an_async_block_cannot_be_left_with_exit() -> None:
    m = aiointercept()
    await m.start()
    try:
        with pytest.raises(RuntimeError, match="'async with'"):
            m.__exit__(None, None, None)
    finally:
        await m.stop()


@pytest.mark.anyio
async def test_a_sync_block_cannot_be_left_with_stop() -> None:
    m = aiointercept()
    with m, pytest.raises(RuntimeError, match="entered with 'with'"):
        await m.stop()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_a_sync_block_intercepts_aiohttp_in_an_async_test() -> None:
    with aiointercept(mock_external_urls=True) as m:
        m.get("https://api.example.com/v1/charges", payload={"data": [1]})
        async with (
            aiohttp.ClientSession() as session,
            session.get("https://api.example.com/v1/charges") as response,
        ):
            assert await response.json() == {"data": [1]}
    assert not patch_installed()
