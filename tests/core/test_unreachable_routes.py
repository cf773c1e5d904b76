"""Routes that no request can reach are reported, not kept in silence.

A default-mode block receives only the requests sent to ``m.server_url``: a
route for any other address warns at registration (an
:class:`~aiointercept.UnreachableRouteWarning` that names the host and the
fix); routes registered before a block warn when it starts; an instance
dropped with routes registered outside a block that none followed warns,
naming where the first was registered. The suite-wide strict switch, which
turns the warning into an error, is tested with the plugin in
``tests/plugin/test_strict.py``.
"""

from __future__ import annotations

import gc
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from yarl import URL

from aiointercept import UnreachableRouteWarning, WebSocket, aiointercept

pytestmark = pytest.mark.anyio

SHORTCUTS = ["get", "post", "put", "patch", "delete", "head", "options"]


async def echo(ws: WebSocket) -> None:
    await ws.send_text("hello")


@contextmanager
def no_warning() -> Iterator[None]:
    """Fail on an UnreachableRouteWarning (the suite's filter would too; this
    says it where it is meant)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreachableRouteWarning)
        yield


def line_of(marker: str) -> int:
    """The line of this file that ends with the comment ``# marker``."""
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    (line,) = [n for n, text in enumerate(lines, 1) if text.endswith(f"# {marker}")]
    return line


def drop(instances: list[aiointercept]) -> None:
    """Let go of the last references to ``instances``, cycles included."""
    instances.clear()
    gc.collect()


# -- a route for another host, registered in a default-mode block -------------------


async def test_a_route_for_another_host_warns_with_the_host_and_the_fix() -> None:
    async with aiointercept() as m:
        with pytest.warns(UnreachableRouteWarning) as caught:
            route = m.get("https://api.github.com/user", payload={"login": "x"})  # here
    (warning,) = caught
    message = str(warning.message)
    assert "GET https://api.github.com/user can never be served" in message
    assert "api.github.com" in message
    assert f"m.server_url ({m.server_url})" in message
    assert "pass mock_external_urls=True to aiointercept()" in message
    assert "register the route under m.server_url" in message
    # it points at the registration, and the route is kept
    assert (warning.filename, warning.lineno) == (__file__, line_of("here"))
    assert route.url == URL("https://api.github.com/user")
    assert list(m.handlers) == [(URL("https://api.github.com/user"), "GET")]


@pytest.mark.parametrize("name", SHORTCUTS)
async def test_every_shortcut_warns(name: str) -> None:
    async with aiointercept() as m:
        with pytest.warns(
            UnreachableRouteWarning, match=f"{name.upper()} http://h.test/x"
        ):
            getattr(m, name)("http://h.test/x")
        with pytest.warns(UnreachableRouteWarning, match="PUT http://h.test/y"):
            m.add("http://h.test/y", "PUT")


async def test_a_websocket_route_for_another_host_warns() -> None:
    async with aiointercept() as m:
        with pytest.warns(UnreachableRouteWarning, match="GET https://h.test/feed"):
            m.ws("wss://h.test/feed", echo)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/x",
        URL("https://api.example.com/x"),
        "http://api.example.com:8080/x?page=1",
        "http://127.0.0.1:1/x",  # another server on this machine
        "http://user@{host}:{port}/x",  # recorded without the user
        "https://{host}:{port}/x",  # the server speaks plain http
        "http://localhost:{port}/x",  # recorded under 127.0.0.1
    ],
)
async def test_every_other_origin_warns(url: str | URL) -> None:
    async with aiointercept() as m:
        if isinstance(url, str):
            url = url.format(host=m.server_host, port=m.server_port)
        with pytest.warns(UnreachableRouteWarning, match="can never be served"):
            m.get(url)


async def test_the_same_port_under_another_name_is_recorded_as_the_server() -> None:
    async with aiointercept() as m:
        with pytest.warns(
            UnreachableRouteWarning, match="records each request under its own address"
        ):
            m.get(f"http://localhost:{m.server_port}/x")


@pytest.mark.parametrize(
    "url",
    [
        "/x",
        "{server_url}/x",
        "{server_url}",
        "{server_url}/",
        "{server_url}/x?b=2&a=1",
        "{server_url}/caf\u00e9/../x",
        "HTTP://{server_url_bare}/x",
        "http://{host}:{port}/x#fragment",
    ],
)
async def test_the_servers_own_address_does_not_warn(url: str) -> None:
    async with aiointercept() as m:
        text = url.format(
            server_url=m.server_url,
            server_url_bare=m.server_url.removeprefix("http://"),
            host=m.server_host,
            port=m.server_port,
        )
        with no_warning():
            m.get(text)
            m.get(URL(m.server_url + "/as-url"))
            m.ws("/feed", echo)
            m.ws(m.server_url.replace("http", "ws") + "/feed2", echo)


async def test_a_pattern_does_not_warn() -> None:
    """Which hosts a pattern matches cannot be told from it."""
    async with aiointercept() as m:
        with no_warning():
            m.get(re.compile(r"https://api\.github\.com/.*"))
            m.get(re.compile(r".*/users/\d+"))


async def test_mock_external_urls_does_not_warn_and_serves_the_route() -> None:
    async with (
        aiointercept(mock_external_urls=True) as m,
        httpx.AsyncClient() as client,
    ):
        with no_warning():
            m.get("https://api.github.com/user", payload={"login": "x"})
        response = await client.get("https://api.github.com/user")
    assert response.json() == {"login": "x"}


def test_a_sync_block_warns_too() -> None:
    with aiointercept() as m, pytest.warns(UnreachableRouteWarning, match="h.test"):
        m.get("http://h.test/x")


async def test_the_decorator_warns_too() -> None:
    @aiointercept()
    async def decorated(m: aiointercept) -> None:
        with pytest.warns(UnreachableRouteWarning, match="h.test"):
            m.get("http://h.test/x")

    await decorated()


async def test_the_warning_stops_with_the_block() -> None:
    """After the block, a route is one registered outside a block (reported
    when the next one starts, or when the instance is dropped)."""
    m = aiointercept(mock_external_urls=True)
    async with m:
        pass
    with no_warning():
        m.get("http://h.test/x")
    async with m:
        pass


# -- routes registered before the block ---------------------------------------------


async def test_routes_registered_before_a_default_block_warn_when_it_starts() -> None:
    m = aiointercept()
    m.get("https://api.github.com/user", payload={})
    m.post(URL("http://h.test/items"))
    m.get(re.compile(r"https://other\.test/.*"))  # a pattern: not reported
    with pytest.warns(UnreachableRouteWarning) as caught:
        async with m:  # entered
            pass
    (warning,) = caught
    message = str(warning.message)
    assert message.startswith(
        "2 routes registered before this block started can never be served: "
        "GET https://api.github.com/user, POST http://h.test/items."
    )
    assert "pass mock_external_urls=True to aiointercept()" in message
    assert "register the routes inside the block, under m.server_url" in message
    assert (warning.filename, warning.lineno) == (__file__, line_of("entered"))


def test_routes_registered_before_a_sync_block_warn_when_it_starts() -> None:
    m = aiointercept()
    m.get("http://h.test/x")
    with pytest.warns(UnreachableRouteWarning, match="1 route registered before"), m:
        pass


async def test_start_reports_the_routes_registered_before_it() -> None:
    m = aiointercept()
    m.get("http://h.test/x")
    with pytest.warns(UnreachableRouteWarning, match="GET http://h.test/x"):
        await m.start()
    await m.stop()


async def test_many_routes_before_the_block_are_listed_in_part() -> None:
    m = aiointercept()
    for i in range(8):
        m.get(f"http://h.test/{i}")
    with pytest.warns(UnreachableRouteWarning, match=r"GET http://h.test/4 and 3 more"):
        async with m:
            pass


async def test_routes_registered_before_an_external_block_are_served() -> None:
    m = aiointercept(mock_external_urls=True)
    m.get("https://api.github.com/user", payload={"login": "x"})
    with no_warning():
        async with m, httpx.AsyncClient() as client:
            response = await client.get("https://api.github.com/user")
    assert response.json() == {"login": "x"}


async def test_routes_of_an_earlier_block_are_not_reported_again() -> None:
    """Routes registered inside a block stay with the instance (with the old
    address); entering again does not report them, as 1.0.0's suites that
    start and stop one instance expect."""
    m = aiointercept()
    async with m:
        m.get("/first")
    with no_warning():
        async with m:
            m.clear()


# -- routes registered outside a block, left there -------------------------------------


def test_an_instance_dropped_with_routes_and_never_entered_warns() -> None:
    instances = [aiointercept(mock_external_urls=True)]
    instances[0].get("https://api.github.com/user", payload={})  # first
    instances[0].get("https://api.github.com/repos")
    with pytest.warns(UnreachableRouteWarning) as caught:
        drop(instances)
    (warning,) = caught
    message = str(warning.message)
    assert message.startswith(
        "an aiointercept instance was dropped with 2 routes that never served: "
        "GET https://api.github.com/user, GET https://api.github.com/repos, "
        f"registered outside a block (the first at {__file__}:{line_of('first')})"
    )
    assert "enter the instance" in message
    assert (warning.filename, warning.lineno) == (__file__, line_of("first"))


async def test_routes_registered_after_a_block_and_dropped_warn() -> None:
    """A route registered after the block exited (a misplaced indentation)."""
    instances = [aiointercept()]
    async with instances[0] as m:
        m.get("/inside")
    m.get(f"{m.server_url}/after")  # after
    del m
    with pytest.warns(
        UnreachableRouteWarning, match=re.escape(f":{line_of('after')})")
    ):
        drop(instances)


def test_an_instance_dropped_after_clear_does_not_warn() -> None:
    instances = [aiointercept()]
    instances[0].get("http://h.test/x")
    instances[0].clear()
    with no_warning():
        drop(instances)


def test_after_clear_the_warning_names_the_first_route_registered_since() -> None:
    instances = [aiointercept()]
    instances[0].get("http://h.test/cleared")
    instances[0].clear()
    instances[0].get("http://h.test/kept")  # since
    with pytest.warns(UnreachableRouteWarning) as caught:
        drop(instances)
    (warning,) = caught
    assert "1 route that never served: GET http://h.test/kept," in str(warning.message)
    assert (warning.filename, warning.lineno) == (__file__, line_of("since"))


def test_a_failed_registration_is_not_a_route() -> None:
    instances = [aiointercept()]
    with pytest.raises(ValueError, match="http or https"):
        instances[0].get("ftp://h.test/x")
    with no_warning():
        drop(instances)


async def test_an_instance_entered_after_registering_does_not_warn_when_dropped() -> (
    None
):
    instances = [aiointercept(mock_external_urls=True)]
    instances[0].get("http://h.test/x")
    async with instances[0]:
        pass
    with no_warning():
        drop(instances)


def test_an_instance_without_routes_does_not_warn() -> None:
    instances = [aiointercept()]
    with no_warning():
        drop(instances)


def test_a_route_callback_does_not_keep_the_instance_alive() -> None:
    """The report keeps the method and URL of each route only: an instance
    that its own callback refers to is still collected, and reported."""

    def with_a_callback_on_itself() -> aiointercept:
        m = aiointercept()

        def callback(url: URL, **kwargs: Any) -> None:
            m.assert_called()

        m.get("http://h.test/x", callback=callback)
        return m

    instances = [with_a_callback_on_itself()]
    with pytest.warns(UnreachableRouteWarning, match="GET http://h.test/x"):
        drop(instances)
