"""The plugin's fixtures under every harness: sync tests with sync clients,
the anyio plugin on asyncio and trio, pytest-asyncio in strict and auto mode,
beside the ``@aiointercept()`` decorator, and without pytest-asyncio and
trio installed.

Each project is written with ``pytester`` and run in a subprocess (so the
``pytest11`` entry point is what loads the plugin).
"""

from __future__ import annotations

import pytest

from tests.support.inner_pytest import (
    ASYNCIO_BACKEND,
    BOTH_BACKENDS,
    INI,
    run_pytest,
    summary,
)


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
