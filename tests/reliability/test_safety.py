"""The guarantees that keep a test suite safe.

* The server listens on loopback only, never on another interface.
* With ``mock_external_urls=True`` the real resolver is never asked about a
  host unless passthrough allows it. This is asserted on resolvers that record
  every call (the session's own, aiohttp's default one, and
  ``socket.getaddrinfo``, which the passthrough proxy uses), never on the
  network: every name used here is under ``.example.com`` or ``.invalid``, and
  the resolvers know ``localhost`` at most.
* The patch is restored when a block ends with ``KeyboardInterrupt`` or
  another ``BaseException`` (also a real SIGINT, in a child process), and a
  ``BaseException`` raised by a callback or a ``match=`` predicate is reported
  to the test instead of being lost in the server thread.
* Passthrough never follows a redirect: the 3xx reaches the client as it is,
  and a redirect to a host that is not allowed is intercepted like any other
  request.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import anyio
import anyio.abc
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from aiointercept import (
    CallbackError,
    CallbackResult,
    NetworkBlockedError,
    aiointercept,
)
from tests.support import internals
from tests.support.aiohttp_guard import (
    GuardResolver,
    RecordingResolver,
    guarded,
    patch_installed,
)
from tests.support.backends import asyncio_only
from tests.support.blocks import assert_port_closed, open_servers, port_of
from tests.support.loopback_net import is_numeric
from tests.support.reliability import BOUND, httpx_client, scaled
from tests.support.upstream import serving

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def guard_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """aiohttp's default resolver, as the passthrough proxy uses it."""
    yield from guarded(monkeypatch)


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """``socket.getaddrinfo``, as the passthrough proxy resolves a host through
    it, made to know ``localhost`` only; the names asked, with their port."""
    asked: list[tuple[str, int]] = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or is_numeric(name):
            return real_getaddrinfo(host, port, *args, **kwargs)
        asked.append((name, port))
        if name != "localhost":
            raise socket.gaierror(socket.EAI_NONAME, f"test getaddrinfo: no {name!r}")
        return real_getaddrinfo("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def session_with(resolver: RecordingResolver) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(resolver=resolver)
    return aiohttp.ClientSession(connector=connector, timeout=BOUND)


# == loopback only ================================================================


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    # /proc/net/tcp{,6} print each 32-bit word in host (little-endian) order
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, words)


def listening_sockets() -> set[tuple[str, int]]:
    """``(address, port)`` of every TCP socket of this process that listens."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and inode in inodes:  # 0A: LISTEN
                    hex_address, hex_port = local.split(":")
                    found.add((_address(hex_address), int(hex_port, 16)))
    return found


@pytest.mark.parametrize(
    "external", [False, True], ids=["default", "mock_external_urls"]
)
async def test_the_server_listens_on_loopback_only(external: bool) -> None:
    before = listening_sockets()
    async with aiointercept(mock_external_urls=external) as m:
        during = listening_sockets() - before
        port = port_of(m.server_url)
    after = listening_sockets() - before

    # one port, for http and https alike (the server tells TLS by its first byte)
    assert len(during) == 1
    assert ("127.0.0.1", port) in during
    assert {address for address, _ in during} == {"127.0.0.1"}
    assert after == set()
    await assert_port_closed(port)


# == the real resolver is never asked without passthrough =========================

labels = st.from_regex(r"[a-z]([a-z0-9-]{0,14}[a-z0-9])?", fullmatch=True)
hosts = st.builds(
    lambda parts, suffix: ".".join([*parts, suffix]),
    st.lists(labels, min_size=1, max_size=3),
    st.sampled_from(["example.com", "invalid"]),
)
origins = st.builds(
    lambda scheme, host, port: f"{scheme}://{host}" + (f":{port}" if port else ""),
    st.sampled_from(["http", "https"]),
    hosts,
    st.one_of(st.none(), st.integers(1, 65535)),
)

FUZZ = settings(max_examples=scaled(25, 300), deadline=None)


@asyncio_only
@FUZZ
@given(
    routed=origins,
    unrouted=origins,
    path=st.from_regex(r"/[a-z0-9/]{0,12}", fullmatch=True),
)
async def test_no_host_is_resolved_without_passthrough(
    routed: str, unrouted: str, path: str
) -> None:
    GuardResolver.calls.clear()
    resolver = RecordingResolver()
    async with (
        aiointercept(mock_external_urls=True) as m,
        session_with(resolver) as session,
    ):
        m.get(routed + path, body="mocked")
        async with session.get(routed + path) as response:
            assert (response.status, await response.text()) == (200, "mocked")
        if URL(unrouted).origin() != URL(routed).origin():
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.get(unrouted + path)
    assert resolver.calls == []
    assert GuardResolver.calls == []


@asyncio_only
async def test_the_resolver_is_asked_only_for_passthrough_hosts(
    guard_resolver: list[tuple[str, int]],
) -> None:
    passthrough = [
        "https://allowed.invalid",
        "http://plain.invalid:8080",
        "bare.invalid",
    ]
    asked = {
        "https://allowed.invalid/x": ("allowed.invalid", 443),
        "https://ALLOWED.invalid/x": ("allowed.invalid", 443),
        "http://plain.invalid:8080/x": ("plain.invalid", 8080),
        "http://bare.invalid/x": ("bare.invalid", 80),
        "https://bare.invalid:8443/x": ("bare.invalid", 8443),
    }
    # another port, which no route names: the guard refuses it
    blocked = ["https://allowed.invalid:8443/x"]
    intercepted = [
        "http://allowed.invalid/x",  # another scheme
        "https://sub.allowed.invalid/x",  # a subdomain is another host
        "https://allowed.invalid.evil.invalid/x",
        "https://evilallowed.invalid/x",
        "https://allowed.invalid@evil.invalid/x",  # the host is evil.invalid
        "http://plain.invalid/x",  # port 80, not 8080
        "https://routed.allowed.invalid/x",
    ]
    resolver = RecordingResolver()
    async with (
        aiointercept(mock_external_urls=True, passthrough=passthrough) as m,
        session_with(resolver) as session,
    ):
        m.get("https://routed.allowed.invalid/y", body="mocked")
        for url, expected in asked.items():
            resolver.calls.clear()
            with pytest.raises(aiohttp.ClientConnectorError):
                await session.get(url)
            assert resolver.calls == [expected], url
        resolver.calls.clear()
        for url in blocked:
            with pytest.raises(aiohttp.ClientConnectorError) as refused:
                await session.get(url)
            assert isinstance(refused.value.os_error, NetworkBlockedError), url
        for url in intercepted:
            with pytest.raises(aiohttp.ClientConnectionError) as excinfo:
                await session.get(url)
            assert not isinstance(excinfo.value, aiohttp.ClientConnectorError), url
        assert resolver.calls == []
        recorded = {str(key[1]) for key in m.requests}
    assert guard_resolver == []
    assert recorded == {str(URL(url).with_user(None)) for url in intercepted}


@asyncio_only
async def test_with_passthrough_unmatched_only_the_proxy_resolves_unmatched_hosts(
    guard_resolver: list[tuple[str, int]], lookups: list[tuple[str, int]]
) -> None:
    resolver = RecordingResolver()
    async with (
        aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
        session_with(resolver) as session,
    ):
        m.get("https://routed.example.com/x", body="mocked", repeat=True)
        m.get("https://routed.example.com/other", body="mocked too")
        async with session.get("https://routed.example.com/x") as response:
            assert await response.text() == "mocked"
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get("https://unmatched.invalid/x")
        async with session.get("https://routed.example.com/other") as response:
            assert await response.text() == "mocked too"
    # the session's resolver is never asked; the proxy asks its own (aiohttp's
    # default) about the unmatched host only (it does not exist), once for the
    # request and once for aiohttp's automatic retry of it
    assert resolver.calls == []
    assert set(guard_resolver) == {("unmatched.invalid", 443)}
    assert lookups == []


# == redirects through passthrough ================================================


@asyncio_only
@pytest.mark.parametrize(
    ("path", "status", "location"),
    [
        ("/away", 302, "https://evil.invalid/steal?token=secret"),
        ("/to-a-mocked-host", 302, "https://mocked.example.com/landing"),
        ("/same-host", 301, "/hello"),
    ],
)
async def test_the_proxy_returns_redirects_to_the_client(
    path: str,
    status: int,
    location: str,
    guard_resolver: list[tuple[str, int]],
    lookups: list[tuple[str, int]],
) -> None:
    resolver = RecordingResolver()
    async with serving() as upstream:
        async with (
            aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
            session_with(resolver) as session,
        ):
            # a loopback host is the mock's only when a route names its port
            m.get(f"{upstream.url}/unused")
            response = await session.get(f"{upstream.url}{path}", allow_redirects=False)
            response.release()
            assert response.status == status
            assert response.headers["Location"] == location
        assert upstream.paths == [path]
    # the proxy resolves the real host with its own resolver, once
    assert resolver.calls == []
    assert guard_resolver == [("localhost", upstream.port)]
    assert lookups == []
    assert list(m.requests) == [("GET", URL(f"{upstream.url}{path}"))]


@asyncio_only
async def test_a_redirect_followed_by_the_client_goes_through_the_mock_again(
    guard_resolver: list[tuple[str, int]], lookups: list[tuple[str, int]]
) -> None:
    resolver = RecordingResolver()
    async with serving() as upstream:
        async with (
            aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
            session_with(resolver) as session,
        ):
            # a loopback host is the mock's only when a route names its port
            m.get(f"{upstream.url}/unused")
            m.get("https://mocked.example.com/landing", body="landed")
            async with session.get(f"{upstream.url}/to-a-mocked-host") as response:
                assert await response.text() == "landed"
                assert [r.status for r in response.history] == [302]
        assert upstream.paths == ["/to-a-mocked-host"]
    # the proxy resolves the real host with its own resolver, once
    assert resolver.calls == []
    assert guard_resolver == [("localhost", upstream.port)]
    assert lookups == []
    assert set(m.requests) == {
        ("GET", URL(f"{upstream.url}/to-a-mocked-host")),
        ("GET", URL("https://mocked.example.com/landing")),
    }


@asyncio_only
async def test_a_passthrough_host_redirecting_elsewhere_is_not_followed_out(
    guard_resolver: list[tuple[str, int]],
) -> None:
    """The client talks to an allowed host directly; when it follows that host's
    redirect to a host that is not allowed, the request is intercepted."""
    resolver = RecordingResolver({"localhost": "127.0.0.1"})
    async with serving() as upstream:
        async with (
            aiointercept(mock_external_urls=True, passthrough=[upstream.url]) as m,
            session_with(resolver) as session,
        ):
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.get(f"{upstream.url}/away")
        assert upstream.paths == ["/away"]
    assert resolver.calls == [("localhost", upstream.port)]
    assert guard_resolver == []
    assert list(m.requests) == [("GET", URL("https://evil.invalid/steal?token=secret"))]


# == the patch is restored whatever ends the block ================================


class CustomBaseError(BaseException):
    """A BaseException that is not an Exception, as some frameworks raise."""


BASE_EXCEPTIONS: list[Callable[[], BaseException]] = [
    KeyboardInterrupt,
    lambda: SystemExit(3),
    lambda: CustomBaseError("custom"),
]
BASE_IDS = ["KeyboardInterrupt", "SystemExit", "CustomBaseError"]


async def block_raising(error: BaseException, ports: list[int]) -> None:
    async with aiointercept(mock_external_urls=True) as m:
        ports.append(port_of(m.server_url))
        assert patch_installed()
        raise error


async def nested_blocks_raising(error: BaseException) -> None:
    async with (
        aiointercept(mock_external_urls=True),
        aiointercept(mock_external_urls=True),
        aiointercept(),
    ):
        raise error


async def block_raising_with_a_callback_pending(
    error: BaseException, client: httpx.AsyncClient, tg: anyio.abc.TaskGroup
) -> None:
    started = anyio.Event()

    async def pending(url: URL, **kwargs: Any) -> CallbackResult:
        started.set()
        await anyio.sleep_forever()
        return CallbackResult()  # pragma: no cover

    async def request(url: str) -> None:
        try:
            response = await client.get(url)
        except httpx.TransportError:
            return  # the server closed first
        assert response.status_code == 503  # the block is gone

    async with aiointercept(mock_external_urls=True) as m:
        m.get("/pending", callback=pending)
        tg.start_soon(request, f"{m.server_url}/pending")
        await started.wait()
        raise error


@pytest.mark.parametrize("make", BASE_EXCEPTIONS, ids=BASE_IDS)
async def test_the_patch_is_restored_when_a_block_ends_with_a_base_exception(
    make: Callable[[], BaseException],
) -> None:
    error = make()
    ports: list[int] = []
    with pytest.raises(type(error)) as excinfo:
        await block_raising(error, ports)
    assert excinfo.value is error
    assert not patch_installed()
    assert open_servers() == 0
    await assert_port_closed(ports[0])


@pytest.mark.parametrize("make", BASE_EXCEPTIONS, ids=BASE_IDS)
async def test_nested_blocks_ending_with_a_base_exception_restore_the_patch(
    make: Callable[[], BaseException],
) -> None:
    error = make()
    with pytest.raises(type(error)) as excinfo:
        await nested_blocks_raising(error)
    assert excinfo.value is error
    assert not patch_installed()


@pytest.mark.parametrize("make", BASE_EXCEPTIONS, ids=BASE_IDS)
async def test_a_base_exception_with_a_callback_pending_restores_the_patch(
    make: Callable[[], BaseException],
) -> None:
    error = make()
    async with httpx_client() as client, anyio.create_task_group() as tg:
        with pytest.raises(type(error)) as excinfo:
            await block_raising_with_a_callback_pending(error, client, tg)
    assert excinfo.value is error
    assert not patch_installed()


SIGINT_SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, signal
    import aiohttp, trio
    from aiointercept import aiointercept
    {active_servers_import}

    ORIGINAL = aiohttp.TCPConnector._resolve_host

    def check(name):
        servers = active_servers()
        restored = aiohttp.TCPConnector._resolve_host is ORIGINAL
        state = "restored" if restored else "STILL PATCHED"
        print(name, state, servers, flush=True)

    async def block(sleep):
        async with aiointercept(mock_external_urls=True):
            async with aiointercept(mock_external_urls=True):
                signal.raise_signal(signal.SIGINT)
                await sleep(10)

    for name, run in [
        # asyncio.run: its SIGINT handler cancels the main task
        ("asyncio.run", lambda: asyncio.run(block(asyncio.sleep))),
        # a bare loop: the default handler raises KeyboardInterrupt in the block
        (
            "run_until_complete",
            lambda: asyncio.new_event_loop().run_until_complete(block(asyncio.sleep)),
        ),
        ("trio.run", lambda: trio.run(block, trio.sleep)),
    ]:
        try:
            run()
        except KeyboardInterrupt:
            check(name)
        else:
            print(name, "NO KeyboardInterrupt", flush=True)
        # what a run leaves behind (the bare loop is never closed) is collected
        # here rather than at any point of the next run: on Python 3.11, a
        # finalizer that imports (a warning does) while an import is taking
        # its module lock breaks that import with a KeyError
        gc.collect()
    """
).format(active_servers_import=internals.ACTIVE_SERVERS_IMPORT)


def test_a_real_sigint_restores_the_patch() -> None:
    """Ctrl-C, for real, in a child process: asyncio.run, a bare asyncio loop
    and trio.run each end with KeyboardInterrupt, the patch restored and no
    block server left open."""
    result = subprocess.run(
        [sys.executable, "-c", SIGINT_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.splitlines() == [
        "asyncio.run restored 0",
        "run_until_complete restored 0",
        "trio.run restored 0",
    ], result.stderr


# == a BaseException raised by user code in the server is not lost ===============


def pytest_fail() -> BaseException:
    try:
        pytest.fail("unexpected request")
    except BaseException as exc:  # pytest's outcome exceptions are BaseExceptions
        return exc
    raise AssertionError("unreachable")  # pragma: no cover


CALLBACK_ERRORS: list[Callable[[], BaseException]] = [*BASE_EXCEPTIONS, pytest_fail]
CALLBACK_IDS = [*BASE_IDS, "pytest.fail"]


async def serve_a_raising_callback(
    callback: Callable[..., Any], requests: dict[str, object]
) -> None:
    """Request a route whose callback raises, then another route; record the
    statuses and the number of records of the first one."""
    async with aiointercept(mock_external_urls=True) as m, httpx_client() as client:
        m.get("/raises", callback=callback)
        m.get("/ok", body="still serving")
        failed = await client.get(f"{m.server_url}/raises")
        after = await client.get(f"{m.server_url}/ok")
        requests["failed"] = failed.status_code
        requests["body"] = failed.text
        requests["after"] = after.status_code
        requests["recorded"] = len(m.requests[("GET", f"{m.server_url}/raises")])


@pytest.mark.parametrize("make", CALLBACK_ERRORS, ids=CALLBACK_IDS)
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_callback_raising_a_base_exception_is_reported(
    make: Callable[[], BaseException], kind: str
) -> None:
    error = make()

    def sync_callback(url: URL, **kwargs: Any) -> CallbackResult:
        raise error

    async def async_callback(url: URL, **kwargs: Any) -> CallbackResult:
        raise error

    requests: dict[str, object] = {}
    callback = sync_callback if kind == "sync" else async_callback
    with pytest.raises(CallbackError) as excinfo:
        await serve_a_raising_callback(callback, requests)
    assert f"failed: {type(error).__name__}" in str(requests.pop("body"))
    assert requests == {"failed": 500, "after": 200, "recorded": 1}
    assert excinfo.value.__cause__ is error
    assert excinfo.value.request.url.path == "/raises"
    assert not patch_installed()


async def serve_a_raising_predicate(
    predicate: Callable[[object], bool], requests: dict[str, int]
) -> None:
    async with aiointercept() as m, httpx_client() as client:
        m.get("/guarded", body="never", match=predicate)
        m.get("/ok", body="still serving")
        with pytest.raises(httpx.TransportError):
            await client.get(f"{m.server_url}/guarded")
        after = await client.get(f"{m.server_url}/ok")
        requests["after"] = after.status_code
        requests["recorded"] = len(m.requests[("GET", f"{m.server_url}/guarded")])


@pytest.mark.parametrize("make", CALLBACK_ERRORS, ids=CALLBACK_IDS)
async def test_a_match_predicate_raising_a_base_exception_is_reported(
    make: Callable[[], BaseException],
) -> None:
    error = make()

    def predicate(request: object) -> bool:
        raise error

    requests: dict[str, int] = {}
    with pytest.raises(CallbackError) as excinfo:
        await serve_a_raising_predicate(predicate, requests)
    assert requests == {"after": 200, "recorded": 1}
    assert excinfo.value.__cause__ is error
