"""One server for the whole session (one per pytest-xdist worker), each test
isolated from the others: routes, records and failures belong to the test
that made them; a conftest's own ``aiointercept_server`` (as aiointercept
1.0.0 documented) keeps its configuration.

Each project is written with ``pytester`` and run in a subprocess (so the
``pytest11`` entry point is what loads the plugin).
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from tests.support.inner_pytest import (
    BOTH_BACKENDS,
    LOOPBACK_ONLY,
    read_notes,
    run_pytest,
    summary,
)


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


def test_tls_settings_belong_to_the_test_that_made_them(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("trustme")
    result = run_pytest(
        pytester,
        conftest=LOOPBACK_ONLY,
        test_tls="""
import ssl
import urllib.request

import pytest

URL = "https://api.example.com/x"


def fetch():
    with urllib.request.urlopen(URL, timeout=5) as reply:
        return reply.read()


@pytest.mark.aiointercept(mock_external_urls=True)
def test_1_refuses_the_handshake(aiointercept_mock):
    aiointercept_mock.get(URL, body="never sent")
    aiointercept_mock.tls("api.example.com", fault="refused")
    with pytest.raises(OSError):
        fetch()


@pytest.mark.aiointercept(mock_external_urls=True)
def test_2_has_a_plain_handshake(aiointercept_mock):
    aiointercept_mock.get(URL, body="answered")
    assert fetch() == b"answered"
""",
    )
    result.assert_outcomes(passed=2)
