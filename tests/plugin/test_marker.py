"""``@pytest.mark.aiointercept(...)``: it configures the block of that test
only, pulls in the fixture, and rejects bad arguments.

Each project is written with ``pytester`` and run in a subprocess (so the
``pytest11`` entry point is what loads the plugin).
"""

from __future__ import annotations

import pytest

from tests.support.inner_pytest import (
    ASYNCIO_BACKEND,
    BOTH_BACKENDS,
    LOOPBACK_ONLY,
    run_pytest,
    summary,
)


def test_marker_mock_external_urls_for_that_test_only(
    pytester: pytest.Pytester,
) -> None:
    result = run_pytest(
        pytester,
        conftest=ASYNCIO_BACKEND,
        test_external="""
import aiohttp
import pytest
from yarl import URL

from aiointercept import UnreachableRouteWarning, aiointercept


@pytest.mark.anyio
@pytest.mark.aiointercept(mock_external_urls=True)
async def test_1_hard_coded_host(aiointercept_mock):
    aiointercept_mock.get("https://api.example.com/v1/charges", payload={"data": []})
    async with aiohttp.ClientSession() as session:
        async with session.get("https://api.example.com/v1/charges") as response:
            assert response.status == 200
            assert await response.json() == {"data": []}
    assert aiointercept_mock.requests[
        ("GET", URL("https://api.example.com/v1/charges"))
    ]


@pytest.mark.anyio
async def test_2_not_intercepted_without_the_marker(aiointercept_mock):
    # localhost:1 refuses connections; intercepted, it would answer "leaked".
    with pytest.warns(UnreachableRouteWarning, match="mock_external_urls=True"):
        aiointercept_mock.get("http://localhost:1/x", body="leaked")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get("http://localhost:1/x")


@pytest.mark.asyncio
@pytest.mark.aiointercept(mock_external_urls=True, passthrough=["localhost"])
async def test_3_passthrough_host(aiointercept_mock):
    aiointercept_mock.get("https://api.example.com/mocked", body="mocked")
    async with aiointercept() as real:  # stands for a real service
        real.get("/real", body="from the real service")
        real_url = f"http://localhost:{URL(real.server_url).port}/real"
        async with aiohttp.ClientSession() as session:
            async with session.get(real_url) as response:
                assert await response.text() == "from the real service"
            async with session.get("https://api.example.com/mocked") as response:
                assert await response.text() == "mocked"


@pytest.mark.anyio
@pytest.mark.aiointercept(mock_external_urls=True, passthrough_unmatched=True)
async def test_4_passthrough_unmatched(aiointercept_mock):
    aiointercept_mock.get("https://api.example.com/mocked", body="mocked")
    async with aiointercept() as real:
        real.get("/real", body="proxied")
        real_url = f"http://localhost:{URL(real.server_url).port}/real"
        # a loopback host is the mock's only when a route names its port;
        # /real matches none, so the mock passes it through and records it
        aiointercept_mock.get(real_url.replace("/real", "/other"))
        async with aiohttp.ClientSession() as session:
            async with session.get(real_url) as response:
                assert await response.text() == "proxied"
            async with session.get("https://api.example.com/mocked") as response:
                assert await response.text() == "mocked"
    assert aiointercept_mock.requests[("GET", URL(real_url))]


@pytest.mark.anyio
async def test_5_not_intercepted_again(aiointercept_mock):
    with pytest.warns(UnreachableRouteWarning, match="localhost:1"):
        aiointercept_mock.get("http://localhost:1/x", body="leaked")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get("http://localhost:1/x")


class TestMarkedClass:
    pytestmark = pytest.mark.aiointercept(mock_external_urls=True)

    @pytest.mark.anyio
    async def test_method(self, aiointercept_mock):
        aiointercept_mock.get("https://api.example.com/class", body="class")
        async with aiohttp.ClientSession() as session:
            async with session.get("https://api.example.com/class") as response:
                assert await response.text() == "class"
""",
    )
    result.assert_outcomes(passed=6)


def test_marker_without_the_fixture_pulls_it_in(pytester: pytest.Pytester) -> None:
    """A marked test that does not request ``aiointercept_mock`` still gets it,
    configured by the marker: hard-coded hosts reach the mock (an unmatched
    request is closed by it) instead of the resolver, which the conftest makes
    fail with a connection error."""
    result = run_pytest(
        pytester,
        conftest=LOOPBACK_ONLY + BOTH_BACKENDS,
        test_marker_only="""
import aiohttp
import httpx
import pytest
import requests


@pytest.mark.anyio
@pytest.mark.aiointercept(mock_external_urls=True)
async def test_httpx(anyio_backend):
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("https://api.example.com/v1/charges")


@pytest.mark.asyncio
@pytest.mark.aiointercept(mock_external_urls=True)
async def test_aiohttp():
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await session.post("https://api.example.com/v1/charges")


@pytest.mark.aiointercept(mock_external_urls=True, assert_all_matched=True)
def test_strict_marker_alone():
    with pytest.raises(requests.ConnectionError) as raised:
        requests.get("http://api.example.com/unmatched", timeout=5)
    assert "blocked" not in str(raised.value)


def test_unmarked_not_intercepted():
    with pytest.raises(requests.ConnectionError) as raised:
        requests.get("http://api.example.com/unmatched", timeout=5)
    assert "blocked" in str(raised.value)
""",
    )
    result.assert_outcomes(passed=5, errors=1)
    assert summary(result, "ERROR") == {"test_strict_marker_alone"}
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_strict_marker_alone *",
            "*no route matches GET http://api.example.com/unmatched*",
        ]
    )


def test_marker_with_bad_arguments(pytester: pytest.Pytester) -> None:
    result = run_pytest(
        pytester,
        test_bad_marker="""
import pytest
import requests


@pytest.mark.aiointercept(passthrough=["https://real.example.com"])
def test_passthrough_without_mock_external_urls(aiointercept_mock):
    pass


@pytest.mark.aiointercept(mock_external_urls="yes")
def test_not_a_bool(aiointercept_mock):
    pass


@pytest.mark.aiointercept(no_such_option=True)
def test_unknown_keyword(aiointercept_mock):
    pass


@pytest.mark.aiointercept(True)
def test_positional_argument(aiointercept_mock):
    pass


@pytest.mark.aiointercept(callback_start_timeout=0)
def test_bad_timeout(aiointercept_mock):
    pass


def test_fixture_still_works_afterwards(aiointercept_mock):
    aiointercept_mock.get("/ok", body="ok")
    assert requests.get(aiointercept_mock.server_url + "/ok", timeout=5).text == "ok"
""",
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1, outcomes
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) == 5, outcomes
    assert summary(result, "PASSED") == {"test_fixture_still_works_afterwards"}
    # Each test's report shows its own error (reports come in file order).
    result.stdout.fnmatch_lines(
        [
            "*_ *test_passthrough_without_mock_external_urls _*",
            "E *ValueError: passthrough requires mock_external_urls=True",
            "*_ *test_not_a_bool _*",
            "E *TypeError: mock_external_urls must be a bool, got 'yes'",
            "*_ *test_unknown_keyword _*",
            "E *TypeError: *no_such_option*",
            "*_ *test_positional_argument _*",
            "E *TypeError: *",
            "*_ *test_bad_timeout _*",
            "E *ValueError: callback_start_timeout must be a positive number of*",
        ]
    )
