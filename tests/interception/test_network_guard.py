"""The network guard of mock_external_urls=True: nothing leaves the machine.

Inside a ``mock_external_urls=True`` block, a TCP connection to an address
outside this machine is decided by its port before a byte is sent: on 80, 443
or a port that a route names, the mock takes it (the route answers; with no
route, the connection is closed); on any other port it fails at once with
:exc:`aiointercept.NetworkBlockedError`, whatever opens it: urllib,
http.client, a raw socket, asyncio, anyio on either backend, another thread.
The guard's tests use ports that no route names (PostgreSQL's 5432, SMTP's
25), and each has its counterpart on port 80. Loopback, Unix sockets and UDP
are left alone, and ``passthrough``, ``passthrough_unmatched=True`` and
``block_network=False`` let connections out.

Every test runs over the loopback net of :mod:`tests.support.loopback_net`:
names resolve from a fixed table (``outside.test`` is 192.0.2.10, never
contacted) and any connection to an address that is not loopback is refused
and fails the test.
The guard wraps the net, so a connection that the guard blocks, or that the
mock takes, never reaches it, and one that the guard lets through shows up in
``net.refused``: tests of what is *allowed* read that list and then clear it.

The "real" server is the upstream of :mod:`tests.support.upstream`, an HTTP/1.1
keep-alive server on 127.0.0.1 run in a thread, so that every client on every
backend can reach it as ``localhost``.
"""

from __future__ import annotations

import asyncio
import http.client
import re
import socket
import ssl
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import aiohttp.abc
import anyio
import httpcore
import pytest
import urllib3
from yarl import URL

from aiointercept import NetworkBlockedError, aiointercept
from tests.support import clients, loopback_net
from tests.support.backends import asyncio_only
from tests.support.clients import Client, each_client, open_client
from tests.support.loopback_net import FAKE_HOSTS, LoopbackNet
from tests.support.upstream import Upstream, running

if TYPE_CHECKING:
    from _pytest.mark import ParameterSet

pytestmark = pytest.mark.anyio
loopback_network = loopback_net.loopback_network

#: A host that no test registers and the loopback net cannot resolve.
UNREGISTERED = "https://unregistered.example/x"

#: The address of ``outside.test`` in the loopback net (TEST-NET-1).
OUTSIDE_ADDRESS = "192.0.2.10"

#: A port that the mock does not take (no route names it): PostgreSQL's.
GUARDED = 5432

#: The answer of the routes that the connections on port 80 reach.
MOCKED = b"mocked"


#: The loopback net, under every test of this module, with no proxy variables.
net = clients.net


# -- opening connections ----------------------------------------------------------


def connect(host: str, port: int) -> None:
    """Open a TCP connection with ``socket.create_connection`` and close it."""
    with socket.create_connection((host, port), timeout=5):
        pass


def assert_reaches_the_net(net: LoopbackNet, host: str, port: int) -> None:
    """The guard lets a connection to ``host`` through: the net refuses it
    (with its own error, not the guard's), records it, and is then cleared."""
    with pytest.raises(OSError, match="loopback net: refused") as info:
        connect(host, port)
    assert not isinstance(info.value, NetworkBlockedError)
    assert net.refused == [(FAKE_HOSTS.get(host, host), port)]
    net.refused.clear()


@contextmanager
def listener(family: socket.AddressFamily, address: str) -> Iterator[int]:
    """A TCP socket listening on ``address``; yields its port."""
    with socket.socket(family, socket.SOCK_STREAM) as server:
        server.bind((address, 0))
        server.listen()
        yield server.getsockname()[1]


# -- plain HTTP over a connection -------------------------------------------------


def request_bytes(host: str, port: int = 80, path: str = "/x") -> bytes:
    """A GET of ``path`` on ``host`` (an IPv6 address is bracketed) and
    ``port``, on a connection closed after it."""
    if ":" in host:
        host = f"[{host}]"
    if port != 80:
        host = f"{host}:{port}"
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


def read_all(sock: socket.socket) -> bytes:
    """Everything ``sock`` receives until the other side closes."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def exchange(sock: socket.socket, host: str) -> bytes:
    """Send a GET of ``/x`` on ``host`` over the connected ``sock``: every byte
    of the answer (none when the connection is closed)."""
    sock.sendall(request_bytes(host))
    return read_all(sock)


def get(host: str, port: int, path: str = "/x") -> bytes:
    """A GET of ``path`` over a connection made with
    ``socket.create_connection``: every byte of the answer."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(request_bytes(host, port, path))
        return read_all(sock)


def body_of(answer: bytes) -> bytes:
    """The body of a whole HTTP/1.1 answer, which must be a 200."""
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), answer
    return body


def route(m: aiointercept, host: str, path: str = "/x") -> str:
    """Register a route for ``http://host/path`` that answers :data:`MOCKED`
    every time: its URL."""
    if ":" in host:
        host = f"[{host}]"
    url = f"http://{host}{path}"
    m.get(url, body=MOCKED, repeat=True)
    return url


def unmatched_urls(m: aiointercept) -> list[str]:
    return [str(unmatched.request.url) for unmatched in m.unmatched]


# -- a real server on loopback ------------------------------------------------------


def seen(server: Upstream) -> list[str]:
    """Every request the upstream received, as ``"METHOD /path"``."""
    return [f"{received.method} {received.path}" for received in server.received]


# -- the clients ----------------------------------------------------------------------


async def send(client: Client, method: str, url: str) -> str:
    """Send ``method`` to ``url`` (a POST with a small body): the text of the
    2xx answer."""
    content = b"payload" if method == "POST" else None
    reply = await client.request(method, url, content=content)
    assert 200 <= reply.status < 300, (url, reply.status, reply.body)
    return reply.text


def transport_errors(client: Client) -> tuple[type[Exception], ...]:
    """What ``client`` raises when the connection fails or is closed."""
    return client.closed_error + client.connect_error


#: The clients opened before a block and used across it.
ACROSS_A_BLOCK = ("aiohttp", "httpx-async", "httpx-sync", "requests")
each_client_across_a_block = each_client(*ACROSS_A_BLOCK)


def marked(
    params: list[ParameterSet], kinds: tuple[str, ...], mark: pytest.MarkDecorator
) -> list[ParameterSet]:
    """``params`` (of :func:`client_params`), with ``mark`` on those whose
    client is one of ``kinds``."""
    return [
        pytest.param(*param.values, marks=(*param.marks, mark), id=param.id)
        if param.values[0] in kinds
        else param
        for param in params
    ]


# -- what a block may patch ------------------------------------------------------------

#: The classes whose attributes a block may replace, and the clients' own
#: classes, which it must leave alone.
HOOK_OWNERS: tuple[type, ...] = (
    socket.socket,
    ssl.SSLContext,
    aiohttp.TCPConnector,
    aiohttp.BaseConnector,
    httpcore.ConnectionPool,
    httpcore.AsyncConnectionPool,
    httpcore.HTTPConnection,
    httpcore.AsyncHTTPConnection,
    urllib3.HTTPConnectionPool,
    urllib3.HTTPSConnectionPool,
)


def hook(owner: type, name: str) -> str:
    return f"{owner.__module__}.{owner.__qualname__}.{name}"


def hooks() -> dict[str, object]:
    """Every name a block may patch, with the object it is now."""
    found: dict[str, object] = {
        "socket.getaddrinfo": socket.getaddrinfo,
        "socket.create_connection": socket.create_connection,
    }
    for owner in HOOK_OWNERS:
        for name, value in vars(owner).items():
            found[hook(owner, name)] = value
    return found


def changed(before: dict[str, object], after: dict[str, object]) -> set[str]:
    """The names whose object is not the same one."""
    return {
        name
        for name in before.keys() | after.keys()
        if before.get(name) is not after.get(name)
    }


#: The standard-library names every mock_external_urls=True block replaces
#: while it runs.
PATCHED_IN_A_BLOCK = {
    hook(socket.socket, "connect"),
    hook(socket.socket, "connect_ex"),
    "socket.getaddrinfo",
    hook(ssl.SSLContext, "wrap_socket"),
    hook(ssl.SSLContext, "wrap_bio"),
}

#: The pools' names a block wraps, for connections pooled before it: only
#: these (the requests themselves go through the standard library).
POOL_HOOKS = {
    hook(httpcore.HTTPConnection, "handle_request"),
    hook(httpcore.AsyncHTTPConnection, "handle_async_request"),
    hook(urllib3.HTTPConnectionPool, "_get_conn"),
}

#: The prefixes of the names of the pools.
POOLS = tuple(
    hook(owner, "")
    for owner in (
        httpcore.ConnectionPool,
        httpcore.AsyncConnectionPool,
        httpcore.HTTPConnection,
        httpcore.AsyncHTTPConnection,
        urllib3.HTTPConnectionPool,
        urllib3.HTTPSConnectionPool,
    )
)


def assert_patched(before: dict[str, object]) -> None:
    now = changed(before, hooks())
    assert now >= PATCHED_IN_A_BLOCK, PATCHED_IN_A_BLOCK - now
    assert {name for name in now if name.startswith(POOLS)} == POOL_HOOKS, now
    aiohttp_prefixes = (
        hook(aiohttp.TCPConnector, ""),
        hook(aiohttp.BaseConnector, ""),
    )
    assert any(name.startswith(aiohttp_prefixes) for name in now), now


class BlockError(Exception):
    """Raised by the test's own block."""


# == the error =====================================================================


def test_network_blocked_error_is_a_refused_connection() -> None:
    assert issubclass(NetworkBlockedError, ConnectionRefusedError)
    assert issubclass(NetworkBlockedError, OSError)


async def test_the_error_names_the_host_and_how_to_let_it_through(
    net: LoopbackNet,
) -> None:
    async with aiointercept(mock_external_urls=True):
        with pytest.raises(NetworkBlockedError) as info:
            connect("outside.test", GUARDED)
    assert (info.value.host, info.value.port) == ("outside.test", GUARDED)
    message = str(info.value)
    for part in (
        f"outside.test port {GUARDED}",
        "ports 80 and 443",
        f"Register a route for outside.test:{GUARDED}",
        f"passthrough=['outside.test:{GUARDED}']",
        "passthrough_unmatched=True",
        "block_network=False",
    ):
        assert part in message, (part, message)
    # an intercepted name is given one of the mock's addresses: never looked up
    assert "outside.test" not in net.resolved


async def test_the_error_for_an_address_names_the_address_and_port() -> None:
    async with aiointercept(mock_external_urls=True):
        with pytest.raises(NetworkBlockedError) as info:
            connect("192.0.2.77", 8443)
    assert (info.value.host, info.value.port) == ("192.0.2.77", 8443)
    message = str(info.value)
    assert "192.0.2.77" in message
    assert re.search(r"\b8443\b", message), message


# == the option ====================================================================


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_block_network_must_be_a_bool(value: object) -> None:
    kwargs: dict[str, Any] = {"mock_external_urls": True, "block_network": value}
    with pytest.raises(TypeError, match="block_network"):
        aiointercept(**kwargs)


def test_block_network_false_requires_mock_external_urls() -> None:
    with pytest.raises(ValueError, match="block_network"):
        aiointercept(block_network=False)
    with pytest.raises(ValueError, match="block_network"):
        aiointercept(mock_external_urls=False, block_network=False)


def test_block_network_true_is_accepted_in_both_modes() -> None:
    aiointercept(block_network=True)
    aiointercept(mock_external_urls=True, block_network=True)
    aiointercept(mock_external_urls=True, block_network=False)


# == what is blocked, and what the mock takes on port 80 ===========================

#: The destinations of raw sockets, as (family, host); each is blocked on
#: :data:`GUARDED` and taken by the mock on port 80.
RAW_DESTINATIONS = [
    pytest.param(socket.AF_INET, OUTSIDE_ADDRESS, id="ipv4"),
    pytest.param(socket.AF_INET, "10.1.2.3", id="private-ipv4"),
    pytest.param(socket.AF_INET6, "2001:db8::1", id="ipv6"),
    # a name handed to connect() itself is never resolved by the net
    pytest.param(socket.AF_INET, "outside.test", id="name"),
]


def address_of(family: socket.AddressFamily, host: str, port: int) -> tuple[Any, ...]:
    return (host, port, 0, 0) if family == socket.AF_INET6 else (host, port)


@pytest.mark.parametrize("method", ["connect", "connect_ex"])
@pytest.mark.parametrize(("family", "host"), RAW_DESTINATIONS)
@pytest.mark.parametrize("port", [GUARDED, 25])
async def test_raw_socket_connection_is_blocked(
    method: str, family: socket.AddressFamily, host: str, port: int
) -> None:
    async with aiointercept(mock_external_urls=True):
        with (
            socket.socket(family, socket.SOCK_STREAM) as sock,
            pytest.raises(NetworkBlockedError) as info,
        ):
            getattr(sock, method)(address_of(family, host, port))
    assert (info.value.host, info.value.port) == (host, port)
    assert host in str(info.value)


@pytest.mark.parametrize("method", ["connect", "connect_ex"])
@pytest.mark.parametrize(("family", "host"), RAW_DESTINATIONS)
async def test_raw_socket_connection_on_port_80_reaches_the_mock(
    method: str, family: socket.AddressFamily, host: str
) -> None:
    async with aiointercept(mock_external_urls=True) as m:
        url = route(m, host)
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            assert getattr(sock, method)(address_of(family, host, 80)) in (None, 0)
            answer = exchange(sock, host)
    assert body_of(answer) == MOCKED
    assert len(m.requests[("GET", URL(url))]) == 1


@pytest.mark.parametrize(("family", "host"), RAW_DESTINATIONS)
async def test_port_80_is_the_mocks_without_a_route(
    family: socket.AddressFamily, host: str
) -> None:
    """No route names port 80 here: the mock takes the connection all the
    same, records the request as unmatched and closes the connection."""
    async with aiointercept(mock_external_urls=True) as m:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(address_of(family, host, 80))
            answer = exchange(sock, host)
    assert answer == b""
    assert unmatched_urls(m) == [str(URL.build(scheme="http", host=host, path="/x"))]


async def test_an_unmatched_request_on_port_80_gets_a_closed_connection(
    net: LoopbackNet,
) -> None:
    async with aiointercept(mock_external_urls=True) as m:
        route(m, "outside.test", "/x")
        answer = get("outside.test", 80, "/other")
    assert answer == b""
    assert unmatched_urls(m) == ["http://outside.test/other"]
    assert "outside.test" not in net.resolved


@pytest.mark.parametrize("routed", [True, False], ids=["route", "no-route"])
async def test_raw_tls_on_port_443_reaches_the_mock(routed: bool) -> None:
    """The standard library's own TLS, with its default context: the
    handshake with the mock succeeds (the context is taught to trust the
    mock's authority), then the route answers, or the connection is closed."""
    context = ssl.create_default_context()
    async with aiointercept(mock_external_urls=True) as m:
        if routed:
            m.get("https://outside.test/x", body=MOCKED)
        with (
            socket.create_connection(("outside.test", 443), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="outside.test") as sock,
        ):
            answer = exchange(sock, "outside.test")
    if routed:
        assert body_of(answer) == MOCKED
        assert len(m.requests[("GET", URL("https://outside.test/x"))]) == 1
    else:
        assert answer == b""
        assert unmatched_urls(m) == ["https://outside.test/x"]


async def test_create_connection_is_blocked() -> None:
    async with aiointercept(mock_external_urls=True):
        with pytest.raises(NetworkBlockedError):
            connect(OUTSIDE_ADDRESS, GUARDED)


async def test_create_connection_on_port_80_reaches_the_mock(net: LoopbackNet) -> None:
    async with aiointercept(mock_external_urls=True) as m:
        route(m, "outside.test")
        route(m, OUTSIDE_ADDRESS)
        assert body_of(get("outside.test", 80)) == MOCKED
        assert body_of(get(OUTSIDE_ADDRESS, 80)) == MOCKED
    assert "outside.test" not in net.resolved


async def test_urllib_gets_the_error_as_the_reason() -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    async with aiointercept(mock_external_urls=True):
        with pytest.raises(urllib.error.URLError) as info:
            opener.open(f"http://outside.test:{GUARDED}/", timeout=5)
    assert isinstance(info.value.reason, NetworkBlockedError)
    assert "outside.test" in str(info.value.reason)


async def test_urllib_on_port_80_reaches_the_mock() -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    async with aiointercept(mock_external_urls=True) as m:
        url = route(m, "outside.test")
        with opener.open(url, timeout=5) as response:
            assert response.status == 200
            assert response.read() == MOCKED
        # no route: the connection is closed, before any status line
        with pytest.raises(http.client.RemoteDisconnected):
            opener.open("http://outside.test/other", timeout=5)
    assert unmatched_urls(m) == ["http://outside.test/other"]


async def test_http_client_gets_the_error() -> None:
    connection = http.client.HTTPConnection("outside.test", GUARDED, timeout=5)
    try:
        async with aiointercept(mock_external_urls=True):
            with pytest.raises(NetworkBlockedError, match="outside\\.test"):
                connection.request("GET", "/")
    finally:
        connection.close()


async def test_http_client_on_port_80_reaches_the_mock() -> None:
    connection = http.client.HTTPConnection("outside.test", timeout=5)
    try:
        async with aiointercept(mock_external_urls=True) as m:
            url = route(m, "outside.test")
            connection.request("GET", "/x")
            response = connection.getresponse()
            assert response.status == 200
            assert response.read() == MOCKED
    finally:
        connection.close()
    assert len(m.requests[("GET", URL(url))]) == 1


@asyncio_only
async def test_asyncio_create_connection_is_blocked() -> None:
    loop = asyncio.get_running_loop()
    async with aiointercept(mock_external_urls=True):
        with pytest.raises(NetworkBlockedError, match="outside\\.test"):
            await loop.create_connection(asyncio.Protocol, "outside.test", GUARDED)


@asyncio_only
async def test_asyncio_open_connection_on_port_80_reaches_the_mock() -> None:
    async with aiointercept(mock_external_urls=True) as m:
        url = route(m, "outside.test")
        reader, writer = await asyncio.open_connection("outside.test", 80)
        try:
            writer.write(request_bytes("outside.test"))
            answer = await asyncio.wait_for(reader.read(), 5)
        finally:
            writer.close()
            await writer.wait_closed()
    assert body_of(answer) == MOCKED
    assert len(m.requests[("GET", URL(url))]) == 1


async def test_anyio_connect_tcp_is_blocked() -> None:
    async with aiointercept(mock_external_urls=True):
        with pytest.raises(OSError) as info:  # noqa: PT011 - the cause is checked
            await anyio.connect_tcp("outside.test", GUARDED)
    error: BaseException | None = info.value
    if not isinstance(error, NetworkBlockedError):
        # anyio reports "All connection attempts failed" from the real error
        error = info.value.__cause__
    assert isinstance(error, NetworkBlockedError), repr(info.value)
    assert "outside.test" in str(error)


async def test_anyio_connect_tcp_on_port_80_reaches_the_mock() -> None:
    async with aiointercept(mock_external_urls=True) as m:
        url = route(m, "outside.test")
        answer = b""
        with anyio.fail_after(5):
            async with await anyio.connect_tcp("outside.test", 80) as stream:
                await stream.send(request_bytes("outside.test"))
                try:
                    while True:
                        answer += await stream.receive()
                except anyio.EndOfStream:
                    pass
    assert body_of(answer) == MOCKED
    assert len(m.requests[("GET", URL(url))]) == 1


async def test_a_connection_from_another_thread_is_blocked() -> None:
    async with aiointercept(mock_external_urls=True):
        with pytest.raises(NetworkBlockedError, match="outside\\.test"):
            await anyio.to_thread.run_sync(connect, "outside.test", GUARDED)


async def test_a_connection_from_another_thread_on_port_80_reaches_the_mock() -> None:
    async with aiointercept(mock_external_urls=True) as m:
        url = route(m, "outside.test")
        answer = await anyio.to_thread.run_sync(get, "outside.test", 80)
    assert body_of(answer) == MOCKED
    assert len(m.requests[("GET", URL(url))]) == 1


async def test_a_port_that_a_route_names_reaches_the_mock() -> None:
    async with aiointercept(mock_external_urls=True) as m:
        url = f"http://outside.test:{GUARDED}/x"
        m.get(url, body=MOCKED)
        assert body_of(get("outside.test", GUARDED)) == MOCKED
        # the other ports stay guarded
        with pytest.raises(NetworkBlockedError):
            connect("outside.test", 25)
    assert len(m.requests[("GET", URL(url))]) == 1


# == what is allowed ===============================================================


@pytest.mark.parametrize("method", ["create_connection", "connect", "connect_ex"])
@pytest.mark.parametrize(
    ("family", "bind", "host"),
    [
        pytest.param(socket.AF_INET, "127.0.0.1", "127.0.0.1", id="127.0.0.1"),
        pytest.param(socket.AF_INET, "127.0.0.2", "127.0.0.2", id="127.0.0.2"),
        pytest.param(socket.AF_INET6, "::1", "::1", id="ipv6"),
    ],
)
async def test_loopback_stays_reachable(
    method: str, family: socket.AddressFamily, bind: str, host: str
) -> None:
    with listener(family, bind) as port:
        async with aiointercept(mock_external_urls=True):
            if method == "create_connection":
                connect(host, port)
            else:
                with socket.socket(family, socket.SOCK_STREAM) as sock:
                    sock.settimeout(5)
                    assert getattr(sock, method)((host, port)) in (None, 0)


async def test_localhost_stays_reachable(net: LoopbackNet) -> None:
    with listener(socket.AF_INET, "127.0.0.1") as port:
        async with aiointercept(mock_external_urls=True):
            connect("localhost", port)
    assert "localhost" in net.resolved


async def test_urllib_reaches_a_loopback_server() -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def fetch(url: str) -> bytes:
        with opener.open(url, timeout=10) as response:
            body: bytes = response.read()
            return body

    with running() as server:
        async with aiointercept(mock_external_urls=True) as m:
            body = await anyio.to_thread.run_sync(fetch, f"{server.url}/local")
    assert body == b"upstream GET /local"
    assert len(m.requests) == 0


async def test_unix_sockets_are_not_guarded() -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server,
    ):
        path = str(Path(directory) / "s")
        server.bind(path)
        server.listen()
        async with aiointercept(mock_external_urls=True):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.connect(path)


@pytest.mark.parametrize("port", [53, 80])
async def test_udp_is_not_guarded(port: int, net: LoopbackNet) -> None:
    """A UDP connect() sends nothing; the guard lets it through to the net,
    and the mock does not take it, not even on port 80."""
    async with aiointercept(mock_external_urls=True):
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
            pytest.raises(OSError, match="loopback net: refused") as info,
        ):
            sock.connect((OUTSIDE_ADDRESS, port))
    assert not isinstance(info.value, NetworkBlockedError)
    assert net.refused == [(OUTSIDE_ADDRESS, port)]
    net.refused.clear()


async def test_a_passthrough_host_name_is_let_through(net: LoopbackNet) -> None:
    async with aiointercept(mock_external_urls=True, passthrough=["outside.test"]):
        # on every port, even the one the mock would take
        assert_reaches_the_net(net, "outside.test", GUARDED)
        assert_reaches_the_net(net, "outside.test", 80)
        with pytest.raises(NetworkBlockedError, match="other-outside\\.test"):
            connect("other-outside.test", GUARDED)
        # on port 80 the mock takes the other host
        assert get("other-outside.test", 80) == b""
    assert "other-outside.test" not in net.resolved


class _TableResolver(aiohttp.abc.AbstractResolver):
    """An aiohttp resolver that never asks ``socket.getaddrinfo`` (as c-ares
    does): ``aiohttp-only.test`` is 192.0.2.20."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        if host != "aiohttp-only.test":
            raise OSError(f"table resolver: no {host!r}")
        return [
            {
                "hostname": host,
                "host": "192.0.2.20",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


@asyncio_only
@pytest.mark.parametrize("port", [GUARDED, 80])
async def test_a_passthrough_host_resolved_by_aiohttp_itself_is_let_through(
    port: int, net: LoopbackNet
) -> None:
    connector = aiohttp.TCPConnector(resolver=_TableResolver())
    async with (
        aiointercept(mock_external_urls=True, passthrough=["aiohttp-only.test"]),
        aiohttp.ClientSession(connector=connector) as session,
    ):
        with pytest.raises(aiohttp.ClientConnectorError) as info:
            await session.get(f"http://aiohttp-only.test:{port}/")
        # the guard let it through (the net refused it), knowing it by name
        assert not isinstance(info.value.os_error, NetworkBlockedError)
    assert net.resolved == []
    assert net.refused == [("192.0.2.20", port)]
    net.refused.clear()


async def test_a_passthrough_ip_address_is_let_through(net: LoopbackNet) -> None:
    async with aiointercept(mock_external_urls=True, passthrough=[OUTSIDE_ADDRESS]):
        assert_reaches_the_net(net, OUTSIDE_ADDRESS, GUARDED)
        assert_reaches_the_net(net, OUTSIDE_ADDRESS, 80)
        with pytest.raises(NetworkBlockedError, match="192\\.0\\.2\\.11"):
            connect("192.0.2.11", GUARDED)
        # on port 80 the mock takes the other address
        assert get("192.0.2.11", 80) == b""


LET_EVERYTHING_THROUGH = [
    pytest.param({"passthrough_unmatched": True}, id="passthrough_unmatched"),
    pytest.param({"block_network": False}, id="block_network-false"),
]


@pytest.mark.parametrize("kwargs", LET_EVERYTHING_THROUGH)
async def test_options_that_let_everything_through(
    kwargs: dict[str, Any], net: LoopbackNet
) -> None:
    async with aiointercept(mock_external_urls=True, **kwargs):
        assert_reaches_the_net(net, "outside.test", GUARDED)
        assert_reaches_the_net(net, "192.0.2.11", 25)


@pytest.mark.parametrize("kwargs", LET_EVERYTHING_THROUGH)
async def test_options_that_let_everything_through_leave_port_80_to_the_mock(
    kwargs: dict[str, Any], net: LoopbackNet
) -> None:
    """On port 80 the mock takes the connection whatever the options: a route
    answers; with none, ``passthrough_unmatched=True`` has the mock pass the
    request on to the real host (which the net refuses: the connection is
    closed), and ``block_network=False`` alone closes it."""
    async with aiointercept(mock_external_urls=True, **kwargs) as m:
        route(m, "outside.test")
        assert body_of(get("outside.test", 80)) == MOCKED
        assert net.refused == []
        assert get("outside.test", 80, "/other") == b""
    assert ("GET", URL("http://outside.test/other")) in m.requests
    if kwargs.get("passthrough_unmatched"):
        assert net.refused == [(OUTSIDE_ADDRESS, 80)]
        net.refused.clear()
    else:
        assert unmatched_urls(m) == ["http://outside.test/other"]
    assert net.refused == []


async def test_the_default_mode_has_no_guard(net: LoopbackNet) -> None:
    before = hooks()
    async with aiointercept():
        assert changed(before, hooks()) == set()
        assert_reaches_the_net(net, "outside.test", 80)
        assert_reaches_the_net(net, "outside.test", GUARDED)


# == nothing stays patched =========================================================


@pytest.mark.parametrize("ending", ["normally", "by-exception", "by-cancellation"])
async def test_nothing_stays_patched_after_a_block(
    ending: str, net: LoopbackNet
) -> None:
    before = hooks()
    with anyio.move_on_after(0.2) as scope:
        try:
            async with aiointercept(mock_external_urls=True):
                assert_patched(before)
                if ending == "by-exception":
                    raise BlockError
                if ending == "by-cancellation":
                    await anyio.sleep(10)
        except BlockError:
            assert ending == "by-exception"
    assert scope.cancelled_caught == (ending == "by-cancellation")
    assert changed(before, hooks()) == set()
    assert_reaches_the_net(net, "outside.test", 80)
    assert_reaches_the_net(net, "outside.test", GUARDED)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"passthrough": ["outside.test"]}, id="passthrough"),
        pytest.param({"passthrough_unmatched": True}, id="passthrough_unmatched"),
        pytest.param({"block_network": False}, id="block_network-false"),
    ],
)
async def test_nothing_stays_patched_after_a_block_with_options(
    kwargs: dict[str, Any],
) -> None:
    before = hooks()
    async with aiointercept(mock_external_urls=True, **kwargs):
        assert_patched(before)
    assert changed(before, hooks()) == set()


@pytest.mark.parametrize("ending", ["normally", "by-exception", "by-cancellation"])
async def test_nested_blocks(ending: str, net: LoopbackNet) -> None:
    before = hooks()
    async with aiointercept(mock_external_urls=True) as outer:
        route(outer, "outside.test")
        patched = hooks()
        assert_patched(before)
        with anyio.move_on_after(0.2):
            try:
                async with aiointercept(mock_external_urls=True):
                    # installed once: the inner block does not wrap the wrappers
                    assert changed(patched, hooks()) == set()
                    if ending == "by-exception":
                        raise BlockError
                    if ending == "by-cancellation":
                        await anyio.sleep(10)
            except BlockError:
                assert ending == "by-exception"
        assert changed(patched, hooks()) == set()
        with pytest.raises(NetworkBlockedError):
            connect("outside.test", GUARDED)
        # the outer block still takes port 80
        assert body_of(get("outside.test", 80)) == MOCKED
    assert changed(before, hooks()) == set()
    assert_reaches_the_net(net, "outside.test", 80)


async def test_a_default_mode_block_inside_does_not_end_the_guard() -> None:
    async with aiointercept(mock_external_urls=True) as m:
        route(m, "outside.test")
        patched = hooks()
        async with aiointercept():
            pass
        assert changed(patched, hooks()) == set()
        with pytest.raises(NetworkBlockedError):
            connect("outside.test", GUARDED)
        assert body_of(get("outside.test", 80)) == MOCKED


@pytest.mark.parametrize("first_out", ["first-in", "last-in"])
async def test_side_by_side_blocks_end_in_any_order(
    first_out: str, net: LoopbackNet
) -> None:
    before = hooks()
    entered = {"first-in": anyio.Event(), "last-in": anyio.Event()}
    one_left = anyio.Event()
    patched: dict[str, dict[str, object]] = {}
    left_alone: dict[str, dict[str, object]] = {}
    answers: dict[str, bytes] = {}

    async def block(name: str) -> None:
        if name == "last-in":
            await entered["first-in"].wait()
        async with aiointercept(mock_external_urls=True) as m:
            m.get(f"http://outside.test/{name}", body=name)
            patched[name] = hooks()
            entered[name].set()
            await entered["last-in"].wait()
            if name != first_out:
                await one_left.wait()
                left_alone[name] = hooks()
                with pytest.raises(NetworkBlockedError):
                    connect("outside.test", GUARDED)
                # the block left running still takes port 80
                answer = await anyio.to_thread.run_sync(
                    get, "outside.test", 80, f"/{name}"
                )
                answers[name] = body_of(answer)
        if name == first_out:
            one_left.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(block, "first-in")
            tg.start_soon(block, "last-in")

    assert changed(before, patched["first-in"]) >= PATCHED_IN_A_BLOCK
    assert changed(patched["first-in"], patched["last-in"]) == set()
    (still_running,) = left_alone
    assert changed(patched["first-in"], left_alone[still_running]) == set()
    assert answers == {still_running: still_running.encode()}
    assert changed(before, hooks()) == set()
    assert_reaches_the_net(net, "outside.test", 80)


# == the intercepted clients =======================================================


@each_client_across_a_block
async def test_an_unregistered_host_is_never_resolved(
    kind: str, net: LoopbackNet
) -> None:
    async with (
        open_client(kind) as client,
        aiointercept(mock_external_urls=True) as m,
    ):
        with pytest.raises(transport_errors(client)):
            await send(client, "GET", UNREGISTERED)
    assert "unregistered.example" not in net.resolved
    assert ("GET", URL(UNREGISTERED)) in m.requests


@each_client_across_a_block
async def test_after_the_block_the_client_reaches_the_network(
    kind: str, net: LoopbackNet
) -> None:
    with running() as server:
        async with open_client(kind) as client:
            async with aiointercept(mock_external_urls=True):
                with pytest.raises(transport_errors(client)):
                    await send(client, "GET", UNREGISTERED)
            net.resolved.clear()
            assert await send(client, "GET", f"{server.url}/after") == (
                "upstream GET /after"
            )
            assert "localhost" in net.resolved
            with pytest.raises(transport_errors(client)):
                await send(client, "GET", "http://outside.test/")
            assert net.refused == [(OUTSIDE_ADDRESS, 80)]
            net.refused.clear()
    assert seen(server) == ["GET /after"]


@pytest.mark.parametrize("method", ["GET", "POST"])
@each_client_across_a_block
async def test_a_connection_pooled_before_the_block_does_not_bypass_the_mock(
    kind: str, method: str
) -> None:
    """A client closes a connection that it pooled before the block to a host
    that the block takes, and opens one to the mock (aiohttp's connector,
    httpcore's and urllib3's pools have a hook each); after the block it
    opens one to the real host again."""
    with running() as server:
        url = f"{server.url}/x"
        real = f"upstream {method} /x"
        async with open_client(kind) as client:
            assert await send(client, method, url) == real
            assert await send(client, method, url) == real
            assert server.connections == 1  # the client keeps it in its pool
            async with aiointercept(mock_external_urls=True) as m:
                # a route names the upstream's host and port: the mock takes it
                m.add(url, method, body="mocked")
                assert await send(client, method, url) == "mocked"
            assert await send(client, method, url) == real
    assert seen(server) == [f"{method} /x"] * 3
    assert len(m.requests[(method, URL(url))]) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
@each_client_across_a_block
async def test_a_connection_to_the_mock_is_not_reused_after_the_block(
    kind: str, method: str
) -> None:
    with running() as server:
        url = f"{server.url}/x"
        async with open_client(kind) as client:
            async with aiointercept(mock_external_urls=True) as m:
                m.add(url, method, body="mocked", repeat=True)
                # the second request goes over the pooled connection to the mock
                assert await send(client, method, url) == "mocked"
                assert await send(client, method, url) == "mocked"
            assert await send(client, method, url) == f"upstream {method} /x"
    assert seen(server) == [f"{method} /x"]
    assert len(m.requests[(method, URL(url))]) == 2


def test_uvloop_is_refused_rather_than_let_out() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def enter() -> None:
        async with aiointercept(mock_external_urls=True):
            pass  # pragma: no cover - refused on entry

    with pytest.raises(RuntimeError, match="cannot run on uvloop"):
        uvloop.run(enter())

    async def default_mode() -> str:
        async with aiointercept() as m:
            return m.server_url

    # the default mode needs no interception, and runs there
    assert uvloop.run(default_mode()).startswith("http://127.0.0.1:")
