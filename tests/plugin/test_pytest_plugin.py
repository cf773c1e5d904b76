"""The pytest plugin, run for real through ``pytester`` in a subprocess (so the
``pytest11`` entry point is what loads it): the fixtures under every harness
(sync, the anyio plugin on asyncio and trio, pytest-asyncio in strict and auto
mode), one server per session, isolation between tests, the marker, failures at
teardown, the decorator alongside the fixtures, a run without pytest-asyncio
and trio, pytest-xdist, and the examples shown on the docs page "pytest"."""

from __future__ import annotations

import re
import shutil
from collections import defaultdict

import pytest

from tests.support import internals
from tests.support.inner_pytest import (
    ASYNCIO_BACKEND,
    ASYNCIO_INI,
    BOTH_BACKENDS,
    INI,
    LOOPBACK_ONLY,
    read_notes,
    run_pytest,
    summary,
)
from tests.support.paths import EXAMPLES as ROOT_EXAMPLES

EXAMPLES = ROOT_EXAMPLES / "pytest"


# -- the harnesses ----------------------------------------------------------------


def test_sync_tests_with_sync_clients(pytester: pytest.Pytester) -> None:
    result = run_pytest(
        pytester,
        test_sync="""
import httpx
import pytest
import requests
from yarl import URL

from aiointercept import aiointercept


def test_requests(aiointercept_mock):
    m = aiointercept_mock
    assert isinstance(m, aiointercept)
    assert m.server_url.startswith("http://127.0.0.1:")
    m.get(m.server_url + "/users/1", payload={"id": 1})
    response = requests.get(m.server_url + "/users/1", timeout=5)
    assert response.json() == {"id": 1}
    [record] = m.requests[("GET", URL(m.server_url + "/users/1"))]
    assert record.method == "GET"
    m.assert_called_once()


def test_httpx_client_and_relative_paths(aiointercept_mock):
    aiointercept_mock.post("/orders", status=201, payload={"created": True})
    with httpx.Client(base_url=aiointercept_mock.server_url) as client:
        response = client.post("/orders", json={"item": "book"})
    assert response.status_code == 201
    aiointercept_mock.assert_called_once_with("/orders", "POST", json={"item": "book"})


def test_session_fixture_in_a_sync_test(aiointercept_server):
    assert isinstance(aiointercept_server, aiointercept)
    aiointercept_server.get("/ping", body="pong", repeat=2)
    for _ in range(2):
        response = requests.get(aiointercept_server.server_url + "/ping", timeout=5)
        assert response.text == "pong"
    assert aiointercept_server.call_count == 2


def test_sync_callback(aiointercept_mock):
    def echo(url, *, query, **kwargs):
        from aiointercept import CallbackResult

        return CallbackResult(body="hello " + query["name"][0])

    aiointercept_mock.get("/greet?name=Bob", callback=echo)
    response = requests.get(
        aiointercept_mock.server_url + "/greet", params={"name": "Bob"}, timeout=5
    )
    assert response.text == "hello Bob"


def test_wrong_expectation_fails(aiointercept_mock):
    aiointercept_mock.get("/users/1", payload={"id": 1})
    response = requests.get(aiointercept_mock.server_url + "/users/1", timeout=5)
    assert response.json() == {"id": 2}
""",
    )
    result.assert_outcomes(passed=4, failed=1)
    assert summary(result, "FAILED") == {"test_wrong_expectation_fails"}


CALLBACK_ON_THE_LOOP = """
import asyncio

import httpx
import sniffio

from aiointercept import CallbackResult


async def callback_on_the_tests_loop(m):
    \"\"\"Register an async callback that needs the test's own loop, call it.\"\"\"
    if sniffio.current_async_library() == "trio":
        import trio

        root = trio.lowlevel.current_root_task()

        async def callback(url, **kwargs):
            await trio.sleep(0.01)
            assert trio.lowlevel.current_root_task() is root
            return CallbackResult(body="on trio")

        m.get("/callback", callback=callback)
        async with httpx.AsyncClient() as client:
            response = await client.get(m.server_url + "/callback")
        assert (response.status_code, response.text) == (200, "on trio")
        return

    loop = asyncio.get_running_loop()
    started, release = asyncio.Event(), asyncio.Event()

    async def callback(url, **kwargs):
        assert asyncio.get_running_loop() is loop
        started.set()
        await release.wait()
        return CallbackResult(body="on asyncio")

    m.get("/callback", callback=callback)
    async with httpx.AsyncClient() as client:
        request = asyncio.ensure_future(client.get(m.server_url + "/callback"))
        await asyncio.wait_for(started.wait(), 5)
        assert not request.done()  # the callback waits for the test
        release.set()
        response = await request
    assert (response.status_code, response.text) == (200, "on asyncio")
"""


def test_anyio_plugin_on_asyncio_and_trio(pytester: pytest.Pytester) -> None:
    result = run_pytest(
        pytester,
        conftest=BOTH_BACKENDS,
        helpers=CALLBACK_ON_THE_LOOP,
        test_anyio="""
import anyio
import anyio.to_thread
import httpx
import pytest
import requests
import sniffio

from helpers import callback_on_the_tests_loop


@pytest.mark.anyio
async def test_roundtrip(anyio_backend, aiointercept_mock):
    assert sniffio.current_async_library() == anyio_backend
    aiointercept_mock.get("/users", payload=[{"id": 1}])
    async with httpx.AsyncClient(base_url=aiointercept_mock.server_url) as client:
        response = await client.get("/users")
    assert response.json() == [{"id": 1}]
    aiointercept_mock.assert_called_once_with("/users")


@pytest.mark.anyio
async def test_async_callback_on_the_tests_loop(anyio_backend, aiointercept_mock):
    await callback_on_the_tests_loop(aiointercept_mock)


@pytest.mark.anyio
async def test_async_callback_again_on_a_new_loop(anyio_backend, aiointercept_mock):
    await callback_on_the_tests_loop(aiointercept_mock)


@pytest.mark.anyio
async def test_sync_client_in_a_worker_thread(anyio_backend, aiointercept_mock):
    aiointercept_mock.get("/sync", body="from a thread")
    response = await anyio.to_thread.run_sync(
        lambda: requests.get(aiointercept_mock.server_url + "/sync", timeout=5)
    )
    assert response.text == "from a thread"


@pytest.mark.anyio
async def test_session_fixture(anyio_backend, aiointercept_server):
    aiointercept_server.get("/session", body=anyio_backend)
    async with httpx.AsyncClient() as client:
        response = await client.get(aiointercept_server.server_url + "/session")
    assert response.text == anyio_backend
""",
    )
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(
        [
            "*test_async_callback_on_the_tests_loop?asyncio? PASSED*",
            "*test_async_callback_on_the_tests_loop?trio? PASSED*",
        ]
    )


def test_async_callbacks_through_the_session_fixture(pytester: pytest.Pytester) -> None:
    """Async callbacks registered on ``aiointercept_server`` run on the loop of
    the test that registers them, test after test."""
    result = run_pytest(
        pytester,
        conftest=BOTH_BACKENDS,
        helpers=CALLBACK_ON_THE_LOOP,
        test_server_callbacks="""
import pytest

from helpers import callback_on_the_tests_loop


@pytest.mark.anyio
async def test_first(anyio_backend, aiointercept_server):
    await callback_on_the_tests_loop(aiointercept_server)


@pytest.mark.anyio
async def test_second(anyio_backend, aiointercept_server):
    await callback_on_the_tests_loop(aiointercept_server)


@pytest.mark.asyncio
async def test_pytest_asyncio(aiointercept_server):
    await callback_on_the_tests_loop(aiointercept_server)
""",
    )
    result.assert_outcomes(passed=5)


PYTEST_ASYNCIO_TESTS = """
import aiohttp
import httpx
import pytest
import pytest_asyncio

from helpers import callback_on_the_tests_loop


{fixture}
async def users_api(aiointercept_mock):
    aiointercept_mock.get("/users", payload=[{{"id": 1}}])
    return aiointercept_mock


{mark}
async def test_aiohttp(aiointercept_mock):
    aiointercept_mock.get("/users/1", payload={{"id": 1}})
    async with aiohttp.ClientSession(base_url=aiointercept_mock.server_url) as session:
        async with session.get("/users/1") as response:
            assert await response.json() == {{"id": 1}}


{mark}
async def test_async_fixture(users_api):
    async with httpx.AsyncClient(base_url=users_api.server_url) as client:
        assert (await client.get("/users")).json() == [{{"id": 1}}]


{mark}
@pytest.mark.parametrize("attempt", [1, 2])
async def test_async_callback_on_the_tests_loop(attempt, aiointercept_mock):
    await callback_on_the_tests_loop(aiointercept_mock)


{mark}
async def test_session_fixture(aiointercept_server):
    aiointercept_server.get("/session", body="shared")
    async with httpx.AsyncClient() as client:
        response = await client.get(aiointercept_server.server_url + "/session")
    assert response.text == "shared"


def test_sync_test_in_the_same_module(aiointercept_mock):
    assert aiointercept_mock.requests == {{}}
"""


def test_pytest_asyncio_strict_mode(pytester: pytest.Pytester) -> None:
    result = run_pytest(
        pytester,
        helpers=CALLBACK_ON_THE_LOOP,
        test_strict_mode=PYTEST_ASYNCIO_TESTS.format(
            mark="@pytest.mark.asyncio", fixture="@pytest_asyncio.fixture"
        ),
    )
    result.assert_outcomes(passed=6)


def test_pytest_asyncio_auto_mode(pytester: pytest.Pytester) -> None:
    result = run_pytest(
        pytester,
        "-o",
        "asyncio_mode=auto",
        helpers=CALLBACK_ON_THE_LOOP,
        test_auto_mode=PYTEST_ASYNCIO_TESTS.format(mark="", fixture="@pytest.fixture"),
    )
    # Unmarked async tests pass only if pytest-asyncio runs them.
    result.assert_outcomes(passed=6)


# -- one server, isolated tests -----------------------------------------------------


def test_one_server_for_the_whole_session(pytester: pytest.Pytester) -> None:
    notes = pytester.mkdir("notes")
    result = run_pytest(
        pytester,
        conftest=BOTH_BACKENDS
        + f"""

import pathlib

NOTES = pathlib.Path({str(notes)!r})


def note(name, m):
    (NOTES / name).write_text(m.server_url)


@pytest.fixture(scope="session")
def api_base_url(aiointercept_server):
    note("session_fixture", aiointercept_server)
    return aiointercept_server.server_url
""",
        test_first="""
import httpx
import pytest
import requests

from conftest import note


def test_sync(aiointercept_mock, aiointercept_server, api_base_url):
    note("sync_mock", aiointercept_mock)
    note("sync_server", aiointercept_server)
    aiointercept_mock.get("/ping", body="pong")
    assert requests.get(api_base_url + "/ping", timeout=5).text == "pong"


@pytest.mark.anyio
async def test_anyio(anyio_backend, aiointercept_mock):
    note("anyio_" + anyio_backend, aiointercept_mock)
    aiointercept_mock.get("/ping", body="pong")
    async with httpx.AsyncClient() as client:
        response = await client.get(aiointercept_mock.server_url + "/ping")
    assert response.text == "pong"
""",
        test_second="""
import httpx
import pytest

from conftest import note


@pytest.mark.asyncio
async def test_pytest_asyncio(aiointercept_mock):
    note("pytest_asyncio", aiointercept_mock)
    aiointercept_mock.get("/ping", body="pong")
    async with httpx.AsyncClient() as client:
        response = await client.get(aiointercept_mock.server_url + "/ping")
    assert response.text == "pong"


class TestInAClass:
    def test_method(self, aiointercept_mock):
        note("method", aiointercept_mock)


def test_session_fixture_only(aiointercept_server):
    note("server_only", aiointercept_server)
""",
    )
    result.assert_outcomes(passed=6)
    urls = read_notes(notes)
    assert set(urls) == {
        "session_fixture",
        "sync_mock",
        "sync_server",
        "anyio_asyncio",
        "anyio_trio",
        "pytest_asyncio",
        "method",
        "server_only",
    }
    assert len(set(urls.values())) == 1, urls
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", urls["sync_mock"])


def test_isolation_between_tests(pytester: pytest.Pytester) -> None:
    result = run_pytest(
        pytester,
        conftest=BOTH_BACKENDS,
        test_isolation="""
import httpx
import pytest
import requests


def get(m, path):
    return requests.get(m.server_url + path, timeout=5)


def test_1_registers_a_route(aiointercept_mock):
    aiointercept_mock.get("/only-in-first", body="first", repeat=True)
    assert get(aiointercept_mock, "/only-in-first").text == "first"
    with pytest.raises(requests.ConnectionError):
        get(aiointercept_mock, "/unmatched-in-first")


def test_2_starts_clean(aiointercept_mock):
    m = aiointercept_mock
    assert m.requests == {}
    assert m.call_count == 0
    assert m.last_request is None
    assert m.unmatched == []
    with pytest.raises(requests.ConnectionError):
        get(m, "/only-in-first")
    assert len(m.unmatched) == 1


def test_3_session_fixture_registers(aiointercept_server):
    assert aiointercept_server.requests == {}
    assert aiointercept_server.unmatched == []
    aiointercept_server.get("/server-route", body="server", repeat=True)
    assert get(aiointercept_server, "/server-route").text == "server"


def test_4_session_fixture_is_cleared(aiointercept_server):
    assert aiointercept_server.requests == {}
    with pytest.raises(requests.ConnectionError):
        get(aiointercept_server, "/server-route")


def test_5_mock_after_the_session_fixture(aiointercept_mock):
    assert aiointercept_mock.requests == {}
    assert aiointercept_mock.unmatched == []
    with pytest.raises(requests.ConnectionError):
        get(aiointercept_mock, "/server-route")


@pytest.mark.anyio
async def test_6_async(anyio_backend, aiointercept_mock):
    assert aiointercept_mock.requests == {}
    aiointercept_mock.get("/async-route", body=anyio_backend, repeat=True)
    async with httpx.AsyncClient() as client:
        response = await client.get(aiointercept_mock.server_url + "/async-route")
    assert response.text == anyio_backend


def test_7_after_async(aiointercept_mock):
    assert aiointercept_mock.requests == {}
    with pytest.raises(requests.ConnectionError):
        get(aiointercept_mock, "/async-route")
""",
    )
    result.assert_outcomes(passed=8)


# -- the marker ---------------------------------------------------------------------


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

from aiointercept import aiointercept


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
        async with aiohttp.ClientSession() as session:
            async with session.get(real_url) as response:
                assert await response.text() == "proxied"
            async with session.get("https://api.example.com/mocked") as response:
                assert await response.text() == "mocked"
    assert aiointercept_mock.requests[("GET", URL(real_url))]


@pytest.mark.anyio
async def test_5_not_intercepted_again(aiointercept_mock):
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


def test_marker_strict_options_fail_that_test_at_teardown(
    pytester: pytest.Pytester,
) -> None:
    result = run_pytest(
        pytester,
        conftest=BOTH_BACKENDS,
        test_strict="""
import httpx
import pytest
import requests


@pytest.mark.aiointercept(assert_all_called=True)
def test_unused_route(aiointercept_mock):
    aiointercept_mock.get("/used", body="ok")
    aiointercept_mock.get("/never-called", body="unused")
    assert requests.get(aiointercept_mock.server_url + "/used", timeout=5).text == "ok"


def test_after_unused_route(aiointercept_mock):
    assert aiointercept_mock.requests == {}
    aiointercept_mock.get("/unused-but-not-strict")


@pytest.mark.aiointercept(assert_all_matched=True)
def test_unmatched_request(aiointercept_mock):
    with pytest.raises(requests.ConnectionError):
        requests.get(aiointercept_mock.server_url + "/nowhere", timeout=5)


def test_after_unmatched_request(aiointercept_mock):
    assert aiointercept_mock.unmatched == []
    with pytest.raises(requests.ConnectionError):
        requests.get(aiointercept_mock.server_url + "/not-strict-here", timeout=5)


@pytest.mark.aiointercept(assert_all_called=True, assert_all_matched=True)
def test_strict_and_satisfied(aiointercept_mock):
    aiointercept_mock.get("/health", body="ok")
    assert requests.get(aiointercept_mock.server_url + "/health", timeout=5).ok


@pytest.mark.anyio
@pytest.mark.aiointercept(assert_all_called=True)
async def test_unused_route_async(anyio_backend, aiointercept_mock):
    aiointercept_mock.get("/async-never-called-" + anyio_backend)


def test_last(aiointercept_mock):
    assert aiointercept_mock.requests == {}
""",
    )
    result.assert_outcomes(passed=8, errors=4)
    assert summary(result, "ERROR") == {
        "test_unused_route",
        "test_unmatched_request",
        "test_unused_route_async[asyncio]",
        "test_unused_route_async[trio]",
    }
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unused_route *",
            "*StrictCheckError: 1 route was never called (assert_all_called=True):*",
            "*GET http://127.0.0.1:*/never-called (1 left)*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unmatched_request *",
            "*StrictCheckError: 1 request matched no route (assert_all_matched=True):*",
            "*no route matches GET http://127.0.0.1:*/nowhere*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unused_route_async?trio? *",
            "*GET http://127.0.0.1:*/async-never-called-trio (1 left)*",
        ]
    )


STRICT_SUITE = """
import httpx
import pytest
import requests

from aiointercept import aiointercept


def test_fixture_unused_route(aiointercept_mock):
    aiointercept_mock.get("/never-called")


def test_fixture_unmatched_request(aiointercept_mock):
    with pytest.raises(requests.ConnectionError):
        requests.get(aiointercept_mock.server_url + "/nowhere", timeout=5)


def test_server_fixture_unused_route(aiointercept_server):
    aiointercept_server.get("/never-called-either")


@pytest.mark.aiointercept(mock_external_urls=True)
def test_marker_without_strict_options(aiointercept_mock):
    aiointercept_mock.get("https://api.example.com/never-called")


@pytest.mark.anyio
@aiointercept()
async def test_decorator_block(anyio_backend, m):
    m.get("/never-called")


@pytest.mark.anyio
async def test_async_with_block(anyio_backend):
    async with aiointercept() as m:
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(m.server_url + "/nowhere")


@pytest.mark.aiointercept(assert_all_called=False, assert_all_matched=False)
def test_opted_out_fixture(aiointercept_mock):
    aiointercept_mock.get("/never-called")
    with pytest.raises(requests.ConnectionError):
        requests.get(aiointercept_mock.server_url + "/nowhere", timeout=5)


@pytest.mark.anyio
@pytest.mark.aiointercept(assert_all_called=False)
@aiointercept()
async def test_opted_out_decorator(anyio_backend, m):
    m.get("/never-called")


@pytest.mark.anyio
async def test_explicit_false_block(anyio_backend):
    async with aiointercept(assert_all_called=False) as m:
        m.get("/never-called")


def test_satisfied(aiointercept_mock):
    aiointercept_mock.get("/used", body="ok")
    assert requests.get(aiointercept_mock.server_url + "/used", timeout=5).ok
"""

#: What the strict option fails in STRICT_SUITE: at teardown for the fixtures,
#: in the test itself for the blocks.
STRICT_ERRORS = {
    "test_fixture_unused_route",
    "test_fixture_unmatched_request",
    "test_server_fixture_unused_route",
    "test_marker_without_strict_options",
}
STRICT_FAILURES = {
    "test_decorator_block[asyncio]",
    "test_decorator_block[trio]",
    "test_async_with_block[asyncio]",
    "test_async_with_block[trio]",
}


@pytest.mark.parametrize("how", ["ini", "flag"])
def test_strict_option_for_the_whole_suite(pytester: pytest.Pytester, how: str) -> None:
    ini = ASYNCIO_INI + "aiointercept_strict = true\n" if how == "ini" else ASYNCIO_INI
    args = ["--aiointercept-strict"] if how == "flag" else []
    result = run_pytest(
        pytester, *args, ini=ini, conftest=BOTH_BACKENDS, test_suite=STRICT_SUITE
    )
    assert summary(result, "ERROR") == STRICT_ERRORS
    assert summary(result, "FAILED") == STRICT_FAILURES
    result.assert_outcomes(passed=10, failed=4, errors=4)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_fixture_unused_route *",
            "*StrictCheckError: 1 route was never called (assert_all_called=True):*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*StrictCheckError: 1 request matched no route (assert_all_matched=True):*"]
    )


def test_without_the_strict_option_nothing_is_strict(
    pytester: pytest.Pytester,
) -> None:
    result = run_pytest(pytester, conftest=BOTH_BACKENDS, test_suite=STRICT_SUITE)
    result.assert_outcomes(passed=14)


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


# -- failures belong to the test that caused them -------------------------------------


def test_callback_error_fails_its_own_test_at_teardown(
    pytester: pytest.Pytester,
) -> None:
    result = run_pytest(
        pytester,
        conftest=BOTH_BACKENDS,
        test_callback_errors="""
import anyio
import httpx
import pytest
import requests


def explode(url, **kwargs):
    raise ValueError("boom from the callback")


def test_callback_raises(aiointercept_mock):
    aiointercept_mock.get("/explode", callback=explode)
    response = requests.get(aiointercept_mock.server_url + "/explode", timeout=5)
    assert response.status_code == 500
    assert "boom from the callback" in response.text


def test_next_test_is_clean(aiointercept_mock):
    assert aiointercept_mock.requests == {}
    aiointercept_mock.get("/fine", body="fine")
    response = requests.get(aiointercept_mock.server_url + "/fine", timeout=5)
    assert response.text == "fine"


@pytest.mark.anyio
async def test_async_callback_raises(anyio_backend, aiointercept_mock):
    async def explode_async(url, **kwargs):
        await anyio.sleep(0)
        raise LookupError("async boom on " + anyio_backend)

    aiointercept_mock.get("/explode", callback=explode_async)
    async with httpx.AsyncClient() as client:
        response = await client.get(aiointercept_mock.server_url + "/explode")
    assert response.status_code == 500


def test_callback_returns_something_else(aiointercept_mock):
    aiointercept_mock.get("/wrong", callback=lambda url, **kwargs: "not a result")
    response = requests.get(aiointercept_mock.server_url + "/wrong", timeout=5)
    assert response.status_code == 500


def test_session_fixture_callback_raises(aiointercept_server):
    aiointercept_server.get("/explode", callback=explode)
    response = requests.get(aiointercept_server.server_url + "/explode", timeout=5)
    assert response.status_code == 500


def test_last_is_clean(aiointercept_mock):
    aiointercept_mock.get("/fine", body="fine")
    response = requests.get(aiointercept_mock.server_url + "/fine", timeout=5)
    assert response.text == "fine"
""",
    )
    errors = summary(result, "ERROR")
    # A test that used aiointercept_server directly may or may not be failed by
    # its callback error; it must never fail a later test.
    errors.discard("test_session_fixture_callback_raises")
    assert errors == {
        "test_callback_raises",
        "test_async_callback_raises[asyncio]",
        "test_async_callback_raises[trio]",
        "test_callback_returns_something_else",
    }
    assert summary(result, "FAILED") == set()
    assert {"test_next_test_is_clean", "test_last_is_clean"} <= summary(
        result, "PASSED"
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_callback_raises *",
            "*CallbackError: *GET http://127.0.0.1:*/explode*boom from the callback*",
        ]
    )
    result.stdout.fnmatch_lines(["*CallbackError: *async boom on asyncio*"])
    result.stdout.fnmatch_lines(["*CallbackError: *async boom on trio*"])


# -- the decorator alongside the fixtures ---------------------------------------------


def test_decorator_with_the_fixtures_and_other_fixtures(
    pytester: pytest.Pytester,
) -> None:
    result = run_pytest(
        pytester,
        conftest=BOTH_BACKENDS,
        test_decorated="""
import httpx
import pytest
from yarl import URL

from aiointercept import aiointercept


@pytest.fixture
def token():
    return "fixture-token"


async def both(tmp_path, token, fixture_mock, decorated):
    assert decorated is not fixture_mock
    assert decorated.server_url != fixture_mock.server_url
    (tmp_path / "note.txt").write_text(token)
    decorated.get("/decorated", body=(tmp_path / "note.txt").read_text())
    fixture_mock.get("/fixture", body="from the fixture")
    async with httpx.AsyncClient() as client:
        response = await client.get(decorated.server_url + "/decorated")
        assert response.text == token
        response = await client.get(fixture_mock.server_url + "/fixture")
        assert response.text == "from the fixture"
    assert list(decorated.requests) == [
        ("GET", URL(decorated.server_url + "/decorated"))
    ]
    assert list(fixture_mock.requests) == [
        ("GET", URL(fixture_mock.server_url + "/fixture"))
    ]


@pytest.mark.anyio
@aiointercept()
async def test_function(tmp_path, token, aiointercept_mock, anyio_backend, m):
    await both(tmp_path, token, aiointercept_mock, m)


@pytest.mark.asyncio
@aiointercept(param="mock")
async def test_function_param(aiointercept_server, tmp_path, token, mock):
    await both(tmp_path, token, aiointercept_server, mock)


@pytest.mark.anyio
@pytest.mark.aiointercept(assert_all_called=True)
@aiointercept()
async def test_function_marker_and_decorator(anyio_backend, aiointercept_mock, m):
    # The marker configures the fixture; the decorated instance is independent.
    assert not m.assert_all_called
    aiointercept_mock.get("/used", body="used")
    m.get("/unused-on-the-decorated-instance")
    async with httpx.AsyncClient() as client:
        response = await client.get(aiointercept_mock.server_url + "/used")
    assert response.text == "used"


class TestDecoratedMethods:
    @pytest.fixture
    def prefix(self):
        return "/api"

    @pytest.mark.anyio
    @aiointercept()
    async def test_anyio(self, anyio_backend, tmp_path, token, aiointercept_mock, m):
        assert isinstance(self, TestDecoratedMethods)
        await both(tmp_path, token, aiointercept_mock, m)

    @pytest.mark.asyncio
    @aiointercept()
    async def test_pytest_asyncio(self, prefix, tmp_path, aiointercept_mock, m):
        assert isinstance(self, TestDecoratedMethods)
        await both(tmp_path, prefix, aiointercept_mock, m)
""",
    )
    result.assert_outcomes(passed=8)


# -- without pytest-asyncio and trio; pytest-xdist -------------------------------------


def test_without_pytest_asyncio_and_trio(pytester: pytest.Pytester) -> None:
    # Loaded with -p before the entry points: trio and pytest-asyncio look
    # uninstalled (importing them raises ModuleNotFoundError, find_spec gives None).
    pytester.makepyfile(
        hide_optional="""
import sys

for name in ("trio", "pytest_asyncio"):
    sys.modules[name] = None
"""
    )
    result = run_pytest(
        pytester,
        "-p",
        "hide_optional",
        "-p",
        "no:asyncio",
        ini=INI,
        conftest=ASYNCIO_BACKEND,
        helpers=CALLBACK_ON_THE_LOOP,
        test_no_optional="""
import importlib.util
import sys

import aiohttp
import pytest
import requests

from helpers import callback_on_the_tests_loop


def test_nothing_optional_is_there(pytestconfig):
    assert not pytestconfig.pluginmanager.has_plugin("asyncio")
    assert importlib.util.find_spec("trio") is None
    assert importlib.util.find_spec("pytest_asyncio") is None
    with pytest.raises(ModuleNotFoundError):
        import trio  # noqa: F401
    assert sys.modules["trio"] is None


def test_sync(aiointercept_mock, aiointercept_server):
    assert aiointercept_mock.server_url == aiointercept_server.server_url
    aiointercept_mock.get("/sync", body="sync")
    response = requests.get(aiointercept_mock.server_url + "/sync", timeout=5)
    assert response.text == "sync"


@pytest.mark.anyio
async def test_anyio_with_aiohttp(aiointercept_mock):
    aiointercept_mock.get("/async", body="async")
    async with aiohttp.ClientSession(base_url=aiointercept_mock.server_url) as session:
        async with session.get("/async") as response:
            assert await response.text() == "async"


@pytest.mark.anyio
async def test_async_callback(aiointercept_mock):
    await callback_on_the_tests_loop(aiointercept_mock)


@pytest.mark.anyio
@pytest.mark.aiointercept(mock_external_urls=True)
async def test_marker(aiointercept_mock):
    aiointercept_mock.get("https://api.example.com/x", body="mocked")
    async with aiohttp.ClientSession() as session:
        async with session.get("https://api.example.com/x") as response:
            assert await response.text() == "mocked"


@pytest.mark.aiointercept(assert_all_called=True)
def test_strict_failure(aiointercept_mock):
    aiointercept_mock.get("/never-called")
""",
    )
    result.assert_outcomes(passed=6, errors=1)
    assert summary(result, "ERROR") == {"test_strict_failure"}
    result.stdout.fnmatch_lines(["*GET http://127.0.0.1:*/never-called (1 left)*"])


def test_xdist_one_server_per_worker(pytester: pytest.Pytester) -> None:
    notes = pytester.mkdir("notes")
    result = run_pytest(
        pytester,
        "-n",
        "2",
        conftest=BOTH_BACKENDS,
        test_xdist=f"""
import os
import pathlib

import httpx
import pytest
import requests
from yarl import URL

NOTES = pathlib.Path({str(notes)!r})


def note(name, m):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    (NOTES / f"{{worker}}-{{name}}").write_text(m.server_url)


@pytest.mark.parametrize("n", range(6))
def test_sync(n, aiointercept_mock):
    m = aiointercept_mock
    assert m.requests == {{}}
    m.get(f"/sync/{{n}}", payload={{"n": n}})
    assert requests.get(f"{{m.server_url}}/sync/{{n}}", timeout=5).json() == {{"n": n}}
    assert list(m.requests) == [("GET", URL(f"{{m.server_url}}/sync/{{n}}"))]
    note(f"sync-{{n}}", m)


@pytest.mark.anyio
@pytest.mark.parametrize("n", range(3))
async def test_async(n, anyio_backend, aiointercept_mock):
    m = aiointercept_mock
    assert m.requests == {{}}
    m.get(f"/async/{{n}}", body=anyio_backend)
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{{m.server_url}}/async/{{n}}")
    assert response.text == anyio_backend
    assert list(m.requests) == [("GET", URL(f"{{m.server_url}}/async/{{n}}"))]
    note(f"async-{{anyio_backend}}-{{n}}", m)
""",
    )
    result.assert_outcomes(passed=12)
    urls = read_notes(notes)
    assert len(urls) == 12, urls
    by_worker: dict[str, set[str]] = defaultdict(set)
    for name, url in urls.items():
        by_worker[name.split("-", 1)[0]].add(url)
    assert set(by_worker) == {"gw0", "gw1"}, urls
    assert all(len(seen) == 1 for seen in by_worker.values()), by_worker
    assert by_worker["gw0"] != by_worker["gw1"], by_worker


# -- the examples on the docs page "pytest" --------------------------------------------

EXAMPLE_TESTS = 27


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_docs_examples_pass(pytester: pytest.Pytester, workers: list[str]) -> None:
    names = sorted(path.name for path in EXAMPLES.iterdir() if path.is_file())
    assert "pytest.ini" in names
    assert [name for name in names if name.startswith("test_")], names
    for name in names:
        (pytester.path / name).write_text((EXAMPLES / name).read_text())
    shutil.copytree(EXAMPLES / "cassettes", pytester.path / "cassettes")
    pytester.makeconftest(LOOPBACK_ONLY)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *workers, timeout=120
    )
    result.assert_outcomes(passed=EXAMPLE_TESTS)


# -- an aiointercept_server of the project's own (as 1.0.0 documented) ------------

OWN_SERVER = (
    LOOPBACK_ONLY
    + """
import pytest

from aiointercept import aiointercept


@pytest.fixture(scope="session")
def aiointercept_server():
    with aiointercept(mock_external_urls=True) as server:
        yield server
"""
)


def test_an_overridden_server_keeps_its_configuration(
    pytester: pytest.Pytester,
) -> None:
    """A conftest's own ``aiointercept_server`` (the way aiointercept 1.0.0
    documented to configure a whole session) serves every test with its own
    configuration, each test starting with no routes and no records."""
    result = run_pytest(
        pytester,
        conftest=OWN_SERVER,
        test_own_server="""
import pytest
import requests


def test_first(aiointercept_mock):
    aiointercept_mock.get("https://api.example.com/a", body="first")
    assert requests.get("https://api.example.com/a", timeout=10).text == "first"
    assert aiointercept_mock.call_count == 1


def test_second(aiointercept_mock):
    # still intercepting, and the first test's route and record are gone
    assert aiointercept_mock.call_count == 0
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get("https://api.example.com/a", timeout=10)
    aiointercept_mock.get("https://api.example.com/b", body="second")
    assert requests.get("https://api.example.com/b", timeout=10).text == "second"


@pytest.mark.aiointercept(mock_external_urls=True)
def test_marker(aiointercept_mock):
    pass
""",
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*configures the plugin's own server*"])


# -- a project that has aiointercept installed but does not use it ---------------------

#: What the plugin must not import until a test uses a fixture or the marker
#: (the other plugins of this environment import anyio and asyncio themselves).
NOT_YET = ("aiohttp", "yarl", "multidict", "yaml", internals.INTERCEPTOR_MODULE)

RECORD_IMPORTS = f"""
import sys

NOT_YET = {NOT_YET!r}


def _imported():
    return sorted(name for name in NOT_YET if name in sys.modules)


def pytest_report_collectionfinish(config):
    loaded = config.pluginmanager.has_plugin("aiointercept")
    return [f"plugin loaded: {{loaded}}", f"imported after collection: {{_imported()}}"]


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"imported after the tests: {{_imported()}}")
"""


@pytest.mark.parametrize("args", [["--collect-only"], []], ids=["collect", "run"])
def test_an_unused_plugin_imports_nothing_heavy(
    pytester: pytest.Pytester, args: list[str]
) -> None:
    """Every pytest run of a project that has aiointercept installed loads the
    plugin; collecting and running tests that do not use it imports neither
    aiohttp nor the rest of aiointercept."""
    result = run_pytest(
        pytester,
        *args,
        conftest=RECORD_IMPORTS,
        test_unused="""
import pytest


def test_plain():
    assert True


@pytest.mark.parametrize("n", [1, 2])
def test_parametrized(n):
    assert n
""",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["plugin loaded: True", "imported after collection: []"]
    )
    if not args:
        result.assert_outcomes(passed=3)
        result.stdout.fnmatch_lines(["imported after the tests: []"])


def test_a_test_that_uses_the_plugin_imports_the_rest(
    pytester: pytest.Pytester,
) -> None:
    """The other side of the same check: the report sees the imports, and the
    fixture works when it is the first thing to need aiointercept."""
    result = run_pytest(
        pytester,
        conftest=RECORD_IMPORTS,
        test_used="""
import pytest
import requests


def test_plain():
    assert True


@pytest.mark.aiointercept(assert_all_called=True)
def test_marked(aiointercept_mock):
    aiointercept_mock.get("/hello", body="hi")
    url = f"{aiointercept_mock.server_url}/hello"
    with requests.Session() as session:
        session.trust_env = False
        assert session.get(url, timeout=10).text == "hi"
""",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "imported after collection: []",
            f"imported after the tests: *'aiohttp', {internals.INTERCEPTOR_MODULE!r}*",
        ]
    )
