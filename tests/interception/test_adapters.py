"""The client adapters: what each one checks before it patches anything.

Each adapter lists the names it patches (which ``docs/interception.rst`` lists
too) and checks them when it is loaded; a client release that changed them
makes entering a ``mock_external_urls=True`` block fail with a message naming
what changed, before any request can leave, and the default mode keeps working.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import ssl
import types
from typing import Any

import aiohttp
import httpx
import pytest
from yarl import URL

from aiointercept import aiointercept
from tests.support import internals
from tests.support.internals import aiohttp_adapter, incompatibility, interception
from tests.support.paths import DOCS

pytestmark = pytest.mark.anyio


def patched_names() -> dict[str, object]:
    return {
        "aiohttp.TCPConnector._resolve_host": aiohttp.TCPConnector._resolve_host,
        "aiohttp.TCPConnector.connect": aiohttp.TCPConnector.connect,
        "asyncio.BaseEventLoop.getaddrinfo": asyncio.BaseEventLoop.getaddrinfo,
        "ssl.SSLContext.wrap_socket": ssl.SSLContext.wrap_socket,
        "ssl.SSLContext.wrap_bio": ssl.SSLContext.wrap_bio,
        "socket.socket.connect": socket.socket.connect,
        "socket.socket.connect_ex": socket.socket.connect_ex,
        "socket.getaddrinfo": socket.getaddrinfo,
    }


def test_the_installed_clients_have_what_the_adapters_need() -> None:
    assert aiohttp_adapter.INCOMPATIBLE is None


def test_a_missing_or_changed_name_is_described() -> None:
    class Connector:
        def _resolve_host(self, other: object) -> None:
            pass

    module = types.SimpleNamespace(__name__="aiohttp", TCPConnector=Connector)
    problem = incompatibility("aiohttp", "9.9", module, aiohttp_adapter.PATCHED_NAMES)
    assert problem is not None
    assert problem.startswith("mock_external_urls=True cannot patch aiohttp 9.9: ")
    assert "aiohttp.TCPConnector.connect is missing" in problem
    assert (
        "aiohttp.TCPConnector._resolve_host('self', 'other') no longer takes "
        "('self', 'host', 'port', 'traces')" in problem
    )


@pytest.mark.parametrize("adapter", [aiohttp_adapter])
async def test_an_incompatible_client_refuses_the_mode_and_patches_nothing(
    adapter: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = f"mock_external_urls=True cannot patch {adapter.CLIENT} X: changed"
    monkeypatch.setattr(adapter, "INCOMPATIBLE", message)
    before = patched_names()
    with pytest.raises(RuntimeError, match=r"cannot patch .* X: changed"):
        async with aiointercept(mock_external_urls=True):
            pytest.fail("the block must not start")  # pragma: no cover
    assert patched_names() == before
    assert not interception.installed
    # the default mode does not need the adapters
    async with aiointercept() as m, httpx.AsyncClient(base_url=m.server_url) as c:
        m.get("/ok", body="default mode works")
        assert (await c.get("/ok")).text == "default mode works"


async def test_every_adapter_is_installed_and_removed_together() -> None:
    before = patched_names()
    async with aiointercept(mock_external_urls=True):
        during = patched_names()
        assert interception.installed
    assert all(during[name] is not before[name] for name in before), during
    assert patched_names() == before
    assert not interception.installed


@pytest.mark.parametrize("module", list(internals.ADAPTERS))
def test_the_patched_names_are_documented(module: str) -> None:
    page = " ".join((DOCS / "interception.rst").read_text().split())
    patched = internals.ADAPTERS[module]
    assert patched.PATCHED_NAMES
    for name, parameters in patched.PATCHED_NAMES.items():
        shown = parameters[1:] if parameters[0] == "self" else parameters
        listed = f"``{module}.{name}({', '.join(shown)})``"
        assert listed in page, listed


class NoThreads(concurrent.futures.ThreadPoolExecutor):
    """An executor that refuses work: nothing may need a worker thread."""

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a worker thread was asked for: {args[:1]}")


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_asyncio_resolves_intercepted_names_without_a_worker_thread() -> None:
    """loop.getaddrinfo() (aiohttp's default resolver, httpx through anyio)
    answers an intercepted name on the loop, with no thread hop."""
    loop = asyncio.get_running_loop()
    executor = NoThreads()
    loop.set_default_executor(executor)
    try:
        async with aiointercept(mock_external_urls=True) as m:
            m.get("http://api.example.com/x", body="from the mock", repeat=True)
            async with (
                aiohttp.ClientSession() as session,
                session.get("http://api.example.com/x") as response,
            ):
                assert await response.text() == "from the mock"
            async with httpx.AsyncClient() as client:
                reply = await client.get("http://api.example.com/x")
                assert reply.text == "from the mock"
    finally:
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor())
        executor.shutdown()
    assert len(m.requests[("GET", URL("http://api.example.com/x"))]) == 2
