"""mock_external_urls=True with aiohttp: what only aiohttp has.

The scenarios that every client shares (hard-coded URLs, records, unmatched
hosts, nested blocks, after the block, IP literals, redirects) run with aiohttp
too, in ``test_external.py``. Here: aiohttp's own resolvers, connectors and
``ssl=`` option, sessions on other loops, the patch of ``aiohttp.TCPConnector``
through nested, side-by-side, failing and cancelled blocks, and the names it
replaces.

Nothing here leaves the machine or asks a real DNS server anything:

* every host name used either has a route, is intercepted (answered by the mock
  by closing the connection) or is resolved by a resolver of the test's own;
* every test runs under :func:`tests.support.aiohttp_guard.guarded`: the
  default resolver of every ``TCPConnector`` created during a test (the one a
  plain ``aiohttp.ClientSession()`` gets, and the passthrough proxy's) knows
  ``localhost`` only and records every call, so a test can also assert that it
  was never asked, and every aiohttp connection attempt to an address that is
  not loopback is refused (and fails the test), even if the library under test
  is broken;
* the "real" server is the upstream of :mod:`tests.support.upstream`.

aiohttp runs on asyncio only, so every async test pins the asyncio backend.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import aiohttp
import anyio
import pytest
from aiohttp.abc import ResolveResult
from yarl import URL

from aiointercept import CallbackResult, aiointercept
from tests.support import internals
from tests.support.aiohttp_guard import (
    BOUND,
    ORIGINAL_RESOLVE,
    RecordingResolver,
    get_text,
    guarded,
    patch_installed,
    refused,
    session_with,
)
from tests.support.backends import asyncio_only
from tests.support.upstream import serving

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def guard_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    yield from guarded(monkeypatch)


# == 1. aiohttp's options, resolvers, connectors and loops =========================


@asyncio_only
@pytest.mark.parametrize("ssl_option", ["default", "false", "context"])
async def test_https_session_ssl_options_do_not_apply_to_intercepted_hosts(
    ssl_option: str,
) -> None:
    choices: dict[str, dict[str, Any]] = {
        "default": {},
        "false": {"ssl": False},
        "context": {"ssl": ssl.create_default_context()},
    }
    options = choices[ssl_option]
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        m.get("https://secure.example.com/x", body="plain to the mock")
        assert await get_text(s, "https://secure.example.com/x", **options) == (
            "plain to the mock"
        )


@asyncio_only
async def test_session_with_a_warm_dns_cache() -> None:
    """The name was resolved (and cached) before the block: inside it the mock
    answers anyway, and the cache is neither used nor changed."""
    resolver = RecordingResolver({"warm.example.com": "127.0.0.1"})
    async with (
        serving() as upstream,
        # no pooled connection: this is about the DNS cache only
        session_with(resolver, force_close=True) as session,
    ):
        url = f"http://warm.example.com:{upstream.port}"
        assert await get_text(session, f"{url}/x") == "upstream GET /x"
        assert resolver.calls == [("warm.example.com", upstream.port)]

        async with aiointercept(mock_external_urls=True) as m:
            m.get(f"{url}/x", body="mocked", repeat=True)
            assert await get_text(session, f"{url}/x") == "mocked"
            assert await get_text(session, f"{url}/x") == "mocked"
        assert len(m.requests[("GET", URL(f"{url}/x"))]) == 2
        assert len(upstream.received) == 1
        assert resolver.calls == [("warm.example.com", upstream.port)]

        # after the block the cached address is used as before
        assert await get_text(session, f"{url}/x") == "upstream GET /x"
        assert len(upstream.received) == 2


class RaisingThreadedResolver(aiohttp.ThreadedResolver):
    """A ThreadedResolver that must never be asked (it would query real DNS)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append(host)
        raise socket.gaierror(socket.EAI_NONAME, f"must not resolve {host!r}")


@asyncio_only
async def test_threaded_resolver() -> None:
    resolver = RaisingThreadedResolver()
    async with (
        aiointercept(mock_external_urls=True) as m,
        session_with(resolver) as session,
    ):
        m.get("https://threaded.example.com/x", body="mocked")
        assert await get_text(session, "https://threaded.example.com/x") == "mocked"
    assert resolver.calls == []


@asyncio_only
async def test_async_resolver() -> None:
    pytest.importorskip("aiodns")

    class RaisingAsyncResolver(aiohttp.AsyncResolver):
        calls: ClassVar[list[str]] = []

        async def resolve(
            self,
            host: str,
            port: int = 0,
            family: socket.AddressFamily = socket.AF_INET,
        ) -> list[ResolveResult]:
            self.calls.append(host)
            raise socket.gaierror(socket.EAI_NONAME, f"must not resolve {host!r}")

    resolver = RaisingAsyncResolver()
    try:
        async with (
            aiointercept(mock_external_urls=True) as m,
            session_with(resolver) as session,
        ):
            m.get("https://async.example.com:8443/x", body="mocked")
            assert await get_text(session, "https://async.example.com:8443/x") == (
                "mocked"
            )
    finally:
        await resolver.close()
    assert RaisingAsyncResolver.calls == []


class CountingConnector(aiohttp.TCPConnector):
    """A connector subclass of the kind SDKs ship (it does not override the
    wrapped methods themselves)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.created = 0

    async def _create_connection(self, *args: Any, **kwargs: Any) -> Any:
        self.created += 1
        return await super()._create_connection(*args, **kwargs)


@asyncio_only
async def test_connector_subclass() -> None:
    resolver = RecordingResolver()
    connector = CountingConnector(resolver=resolver)
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(connector=connector, timeout=BOUND) as session,
    ):
        m.get("https://sub.example.com/x", body="https")
        m.get("http://sub.example.com:8080/y", body="http")
        assert await get_text(session, "https://sub.example.com/x") == "https"
        assert await get_text(session, "http://sub.example.com:8080/y") == "http"
    assert connector.created == 2
    assert resolver.calls == []


@asyncio_only
async def test_request_from_another_thread_with_its_own_loop() -> None:
    async def in_thread() -> str:
        async with aiohttp.ClientSession(timeout=BOUND) as session:
            return await get_text(session, "https://thread.example.com/x")

    async with aiointercept(mock_external_urls=True) as m:
        m.get("https://thread.example.com/x", body="from another thread")
        text = await anyio.to_thread.run_sync(lambda: asyncio.run(in_thread()))
    assert text == "from another thread"


@asyncio_only
async def test_default_mode_patches_nothing() -> None:
    async with aiointercept() as m, aiohttp.ClientSession(timeout=BOUND) as session:
        assert not patch_installed()
        m.get("/local", body="local")
        assert await get_text(session, f"{m.server_url}/local") == "local"


# == 2. the patch through side-by-side, failing and cancelled blocks ===============


@asyncio_only
async def test_side_by_side_blocks_exit_out_of_order() -> None:
    """Task one enters first and exits first while task two's block runs on."""
    one_in, two_in, one_out = anyio.Event(), anyio.Event(), anyio.Event()
    texts: dict[str, str] = {}
    blocks: dict[str, aiointercept] = {}
    patched: list[object] = []

    async def one() -> None:
        async with aiointercept(mock_external_urls=True) as m:
            blocks["one"] = m
            patched.append(aiohttp.TCPConnector._resolve_host)
            m.get("https://one.example.com/x", body="one", repeat=True)
            one_in.set()
            await two_in.wait()
            async with aiohttp.ClientSession(timeout=BOUND) as s:
                texts["one"] = await get_text(s, "https://one.example.com/x")
        one_out.set()

    async def two() -> None:
        await one_in.wait()
        async with aiointercept(mock_external_urls=True) as m:
            blocks["two"] = m
            patched.append(aiohttp.TCPConnector._resolve_host)
            m.get("https://two.example.com/x", body="two", repeat=True)
            two_in.set()
            await one_out.wait()
            patched.append(aiohttp.TCPConnector._resolve_host)
            async with aiohttp.ClientSession(timeout=BOUND) as s:
                texts["two"] = await get_text(s, "https://two.example.com/x")
                with anyio.fail_after(1), pytest.raises(aiohttp.ClientConnectionError):
                    await s.get("https://one.example.com/x")  # its block is gone

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(one)
            tg.start_soon(two)
    assert not patch_installed()
    assert texts == {"one": "one", "two": "two"}
    assert len(set(map(id, patched))) == 1
    assert patched[0] is not ORIGINAL_RESOLVE
    assert len(blocks["one"].requests[("GET", URL("https://one.example.com/x"))]) == 1
    assert ("GET", URL("https://two.example.com/x")) not in blocks["one"].requests
    assert len(blocks["two"].requests[("GET", URL("https://two.example.com/x"))]) == 1


class BlockError(Exception):
    """Raised by the test's own block."""


async def block_that_raises(url: str | None = None) -> None:
    async with aiointercept(mock_external_urls=True) as m:
        assert patch_installed()
        if url is not None:
            m.get(url, body="from the block that raised")
        raise BlockError


@asyncio_only
async def test_patch_restored_when_a_block_exits_by_exception() -> None:
    with pytest.raises(BlockError):
        await block_that_raises()
    assert not patch_installed()


@asyncio_only
async def test_inner_block_exits_by_exception_outer_keeps_working() -> None:
    async with aiointercept(mock_external_urls=True) as outer:
        outer.get("https://a.example.com/x", body="outer", repeat=True)
        with pytest.raises(BlockError):
            await block_that_raises("https://a.example.com/x")
        assert patch_installed()
        async with aiohttp.ClientSession(timeout=BOUND) as s:
            assert await get_text(s, "https://a.example.com/x") == "outer"
    assert not patch_installed()


@asyncio_only
async def test_patch_restored_when_a_block_is_cancelled() -> None:
    with anyio.move_on_after(0.2) as scope:
        async with aiointercept(mock_external_urls=True):
            assert patch_installed()
            await anyio.sleep(10)
    assert scope.cancelled_caught
    assert not patch_installed()


@asyncio_only
async def test_patch_restored_when_cancelled_during_a_request() -> None:
    started = anyio.Event()

    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        started.set()
        await anyio.sleep(10)
        return CallbackResult(body="late")

    with anyio.move_on_after(5) as scope:
        async with (
            aiointercept(mock_external_urls=True) as m,
            aiohttp.ClientSession(timeout=BOUND) as s,
            anyio.create_task_group() as tg,
        ):

            async def fetch() -> None:
                await s.get("https://slow.example.com/x")

            m.get("https://slow.example.com/x", callback=slow)
            tg.start_soon(fetch)
            await started.wait()
            tg.cancel_scope.cancel()
            assert patch_installed()
        assert not patch_installed()
    assert not scope.cancelled_caught


@asyncio_only
async def test_nested_blocks_cancelled_together() -> None:
    with anyio.move_on_after(0.2) as scope:
        async with (
            aiointercept(mock_external_urls=True),
            aiointercept(mock_external_urls=True),
        ):
            await anyio.sleep(10)
    assert scope.cancelled_caught
    assert not patch_installed()


@asyncio_only
async def test_a_default_mode_block_does_not_end_the_patch() -> None:
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        m.get("https://a.example.com/x", body="still mocked")
        async with aiointercept():
            pass
        assert patch_installed()
        assert await get_text(s, "https://a.example.com/x") == "still mocked"


# == 3. after the block ============================================================


@asyncio_only
async def test_after_the_block_the_default_resolver_is_asked(
    guard_resolver: list[tuple[str, int]],
) -> None:
    async with aiohttp.ClientSession(timeout=BOUND) as session:
        async with aiointercept(mock_external_urls=True) as m:
            m.get("https://api.example.com/x", body="mocked")
            assert await get_text(session, "https://api.example.com/x") == "mocked"
        assert guard_resolver == []
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get("https://api.example.com/x")
        assert guard_resolver == [("api.example.com", 443)]


# == 4. what the patch replaces ====================================================


@asyncio_only
async def test_the_patch_touches_only_the_listed_names() -> None:
    classes: list[type] = [
        aiohttp.TCPConnector,
        aiohttp.BaseConnector,
        aiohttp.ClientSession,
        aiohttp.ClientRequest,
        aiohttp.ClientResponse,
        aiohttp.ThreadedResolver,
    ]
    # and the resend wrappers of earlier tests
    internals.server_thread.engine.shutdown()
    before = [dict(vars(cls)) for cls in classes]
    async with aiointercept(mock_external_urls=True):
        changed = {
            (cls.__name__, name)
            for cls, saved in zip(classes, before, strict=True)
            for name in set(saved) | set(vars(cls))
            if saved.get(name) is not vars(cls).get(name)
        }
    # every block also stops aiohttp's resend of a request a fault ended
    resend = {("ClientRequest", "send"), ("ClientResponse", "start")}
    assert changed == resend | {
        tuple(name.split(".")) for name in internals.aiohttp_adapter.PATCHED_NAMES
    }
    assert set(internals.aiohttp_adapter.PATCHED_NAMES) == {
        "TCPConnector._resolve_host",
        "TCPConnector.connect",
    }
    # the resend wrappers stay while the server thread lives (see below)
    internals.server_thread.engine.shutdown()
    after = [dict(vars(cls)) for cls in classes]
    assert all(
        saved.keys() == now.keys() and all(saved[k] is now[k] for k in saved)
        for saved, now in zip(before, after, strict=True)
    )


@asyncio_only
async def test_the_resend_wrappers_stay_until_the_server_thread_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Installing them on every block would slow the next requests down: they
    stay between blocks, and go when the server thread ends, idle."""
    internals.server_thread.engine.shutdown()
    original = vars(aiohttp.ClientRequest).get("send")
    monkeypatch.setattr(internals.server_thread, "LINGER", 0.05)
    async with aiointercept() as m:
        m.get("/x", body="ok")
        wrapped = vars(aiohttp.ClientRequest).get("send")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{m.server_url}/x") as response,
        ):
            assert await response.text() == "ok"
    assert wrapped is not original
    assert vars(aiohttp.ClientRequest).get("send") is wrapped  # between blocks
    (thread,) = [t for t in threading.enumerate() if t.name == "aiointercept-server"]
    await anyio.to_thread.run_sync(thread.join, 5)
    assert vars(aiohttp.ClientRequest).get("send") is original


def test_the_installed_aiohttp_has_what_the_patch_needs() -> None:
    assert internals.aiohttp_adapter.INCOMPATIBLE is None
    for name, expected in internals.aiohttp_adapter.PATCHED_NAMES.items():
        method = getattr(aiohttp.TCPConnector, name.rpartition(".")[2])
        assert tuple(inspect.signature(method).parameters) == expected


def test_an_incompatible_aiohttp_is_described() -> None:
    async def changed(self: object, host: str, port: int) -> None:
        pass

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aiohttp.TCPConnector, "_resolve_host", changed)
        patch.setattr(aiohttp.TCPConnector, "connect", None)
        problem = internals.incompatibility(
            "aiohttp",
            aiohttp.__version__,
            aiohttp,
            internals.aiohttp_adapter.PATCHED_NAMES,
        )
    assert problem is not None
    assert aiohttp.__version__ in problem
    assert "aiohttp.TCPConnector.connect is missing" in problem
    assert "_resolve_host" in problem
    assert "('self', 'host', 'port')" in problem


@asyncio_only
async def test_an_incompatible_aiohttp_refuses_the_mode_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = "mock_external_urls=True cannot patch aiohttp X: something changed"
    monkeypatch.setattr(internals.aiohttp_adapter, "INCOMPATIBLE", message)
    with pytest.raises(RuntimeError, match="cannot patch aiohttp X"):
        async with aiointercept(mock_external_urls=True):
            pytest.fail("the block must not start")  # pragma: no cover
    assert not patch_installed()
    assert internals.active_servers() == 0
    async with aiointercept() as m, aiohttp.ClientSession(timeout=BOUND) as s:
        m.get("/ok", body="default mode works")
        assert await get_text(s, f"{m.server_url}/ok") == "default mode works"


@asyncio_only
async def test_the_loopback_guard_of_this_module_works() -> None:
    """The safety net itself: a connection to an outside address is refused
    before anything is sent (no block runs here, so nothing intercepts it)."""
    async with aiohttp.ClientSession(timeout=BOUND) as s:
        with pytest.raises(AssertionError, match="outside the machine"):
            await s.get("http://192.0.2.10/")
    assert refused == [("192.0.2.10", 80)]
    refused.clear()
