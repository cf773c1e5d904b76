"""Strict options: ``assert_all_called`` and ``assert_all_matched`` on the
marker fail that test at teardown; the ``aiointercept_strict`` ini option
(or ``--aiointercept-strict``) makes every test of the suite strict.

Each project is written with ``pytester`` and run in a subprocess (so the
``pytest11`` entry point is what loads the plugin).
"""

from __future__ import annotations

import pytest

from tests.support.inner_pytest import ASYNCIO_INI, BOTH_BACKENDS, run_pytest, summary


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


# -- routes that no request can reach -------------------------------------------

UNREACHABLE_SUITE = """
import pytest

from aiointercept import UnreachableRouteWarning, aiointercept


@pytest.fixture
def reported(request):
    \"\"\"pytest.raises under the strict switch, else pytest.warns.\"\"\"
    strict = request.config.getoption("aiointercept_strict") or request.config.getini(
        "aiointercept_strict"
    )
    expect = pytest.raises if strict else pytest.warns
    return lambda match: expect(UnreachableRouteWarning, match=match)


def test_fixture(aiointercept_mock, reported):
    with reported(r"@pytest.mark.aiointercept\\(mock_external_urls=True\\)"):
        aiointercept_mock.get("https://api.github.com/user", payload={})
    registered = bool(aiointercept_mock.handlers)
    aiointercept_mock.clear()  # the strict run's assert_all_called
    print(f"fixture route registered: {registered}")


@pytest.mark.anyio
async def test_block(anyio_backend, reported):
    async with aiointercept() as m:
        with reported("api.github.com"):
            m.get("https://api.github.com/user", payload={})
        m.clear()


@pytest.mark.anyio
async def test_before_the_block(anyio_backend, reported):
    m = aiointercept()
    m.get("https://api.github.com/user", payload={})
    with reported("registered before this block started"):
        async with m:
            m.clear()


@pytest.mark.aiointercept(assert_all_called=False, assert_all_matched=False)
def test_the_markers_opt_out_is_for_the_assertions_only(aiointercept_mock, reported):
    with reported("api.github.com"):
        aiointercept_mock.get("https://api.github.com/user", payload={})


@pytest.mark.aiointercept(mock_external_urls=True, assert_all_called=False)
def test_intercepted(aiointercept_mock):
    aiointercept_mock.get("https://api.github.com/user", payload={})


def test_server_fixture_after_an_intercepting_test(aiointercept_server, reported):
    with reported("api.github.com"):
        aiointercept_server.get("https://api.github.com/user", payload={})
    aiointercept_server.clear()


def test_own_address(aiointercept_mock):
    aiointercept_mock.get("/user", payload={})
    aiointercept_mock.get(aiointercept_mock.server_url + "/other", payload={})
    aiointercept_mock.clear()


def test_unexpected(aiointercept_mock):
    aiointercept_mock.get("https://api.github.com/user", payload={})
    aiointercept_mock.clear()
"""


@pytest.mark.parametrize("how", ["none", "ini", "flag"])
def test_a_route_no_request_can_reach_warns_or_under_strict_raises(
    pytester: pytest.Pytester, how: str
) -> None:
    """A route for another host than the fixture's or a block's own address,
    in the default mode: a warning (which the suite's ``filterwarnings =
    error`` makes an error where it is not expected), or under the strict
    switch an error raised at registration, with the route left out."""
    ini = ASYNCIO_INI + "aiointercept_strict = true\n" if how == "ini" else ASYNCIO_INI
    args = ["--aiointercept-strict"] if how == "flag" else []
    result = run_pytest(
        pytester,
        *args,
        "-s",
        ini=ini,
        conftest=BOTH_BACKENDS,
        test_routes=UNREACHABLE_SUITE,
    )
    assert summary(result, "FAILED") == {"test_unexpected"}
    result.assert_outcomes(passed=9, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*UnreachableRouteWarning: the route GET https://api.github.com/user can "
            "never be served*@pytest.mark.aiointercept(mock_external_urls=True)*"
        ]
    )
    registered = "False" if how != "none" else "True"
    result.stdout.fnmatch_lines([f"*fixture route registered: {registered}*"])
