"""mock_external_urls=True under every Python client, with real TLS.

The interception works at the standard library (name look-ups, connects, and
the trust of SSL contexts), so every client written in Python is intercepted
the same way; each test here runs once per client kind
(:data:`tests.support.clients.ALL_KINDS`), on every backend the client runs
on:

* ``aiohttp`` (its default resolver) and ``aiohttp-aiodns`` (a session given
  ``aiohttp.resolver.AsyncResolver``), on asyncio only;
* ``httpx-async`` and ``httpx2-async``, on asyncio and trio;
* ``httpx-sync``, ``httpx2-sync``, ``requests``, ``urllib3`` (a
  ``PoolManager``), ``urllib`` (``urllib.request``) and ``http.client``
  (``HTTPSConnection`` and ``HTTPConnection``), called from a worker thread,
  and directly from the async test where that is meaningful;
* a WebSocket client (the ``websockets`` library) over ``ws://`` and
  ``wss://``.

Every ``https`` request is a real TLS handshake with a certificate issued for
the host by the process's certificate authority; what ``m.tls()`` changes
about it is in ``test_tls.py``.

Nothing here leaves the machine or asks a DNS server anything: every test runs
under :func:`tests.support.loopback_net.loopback_network`, whose
``socket.getaddrinfo`` (installed before any block, so under the
interception) records every name it is asked and answers ``localhost`` only;
:func:`nothing_resolved` fails a test in which an intercepted name reached it.
The aiodns resolver of ``aiohttp-aiodns`` notes the names it is asked and
answers none.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp
import anyio
import anyio.to_thread
import httpx
import httpx2
import pytest
from yarl import URL

from aiointercept import aiointercept
from tests.support import clients, loopback_net
from tests.support.clients import (
    ALL_KINDS,
    ALL_SYNC_KINDS,
    BOUND,
    AiohttpClient,
    Client,
    Verify,
    each_client,
    open_client,
)
from tests.support.loopback_net import LoopbackNet
from tests.support.websocket import echo, received, sent

pytestmark = pytest.mark.anyio

#: The safety net, for every test of this module.
loopback_network = loopback_net.loopback_network
net = clients.net

#: A client context made when the module is imported, before any block, as an
#: application makes the one it gives its client.
IMPORT_TIME_CONTEXT = ssl.create_default_context()

#: urllib3 (under requests) warns about every request made with
#: ``verify=False``; the users who turn verification off silence it.
INSECURE_WARNING = "ignore::urllib3.exceptions.InsecureRequestWarning"


@pytest.fixture(autouse=True)
def nothing_resolved(net: LoopbackNet) -> Iterator[None]:
    """No intercepted name may reach the real ``socket.getaddrinfo``."""
    yield
    assert net.resolved == [], f"names resolved for real: {net.resolved}"


def names_asked(client: Client, net: LoopbackNet) -> list[str]:
    """The names the client asked ``socket.getaddrinfo`` or, given one, its
    aiodns resolver."""
    asked = list(net.resolved)
    if isinstance(client, AiohttpClient) and client.resolver is not None:
        asked += client.resolver.asked
    return asked


# == hard-coded URLs =================================================================


@each_client(*ALL_KINDS)
async def test_https_and_http_urls_are_answered_by_their_routes(
    kind: str, net: LoopbackNet
) -> None:
    secure = "https://api.example.com/items?page=2"
    plain = "http://api.example.com/items?page=2"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        m.get(secure, payload={"scheme": "https"})
        m.get(plain, payload={"scheme": "http"})
        secure_reply = await client.get(secure)
        plain_reply = await client.get(plain)
        asked = names_asked(client, net)
    assert (secure_reply.status, secure_reply.json()) == (200, {"scheme": "https"})
    assert (plain_reply.status, plain_reply.json()) == (200, {"scheme": "http"})
    assert [key for key, _ in m.ordered_requests] == [
        ("GET", URL(secure)),
        ("GET", URL(plain)),
    ]
    assert [request.url for _, request in m.ordered_requests] == [
        URL(secure),
        URL(plain),
    ]
    assert asked == []


@each_client(*ALL_KINDS)
async def test_a_client_and_its_context_made_before_the_block(kind: str) -> None:
    """The client (and the SSL context it makes when it is created) exists
    before the block starts: its https request is trusted all the same."""
    url = "https://api.example.com/before"
    async with (
        open_client(kind) as client,  # first: made before the block
        aiointercept(mock_external_urls=True) as m,
    ):
        m.get(url, body="made before")
        assert await client.text(url) == "made before"
    assert len(m.requests[("GET", URL(url))]) == 1


@each_client(*ALL_KINDS)
@pytest.mark.filterwarnings(INSECURE_WARNING)
@pytest.mark.parametrize(
    "verify",
    [pytest.param(False, id="verify-off"), pytest.param(IMPORT_TIME_CONTEXT, id="ctx")],
)
async def test_verification_off_or_by_a_context_made_at_import(
    kind: str, verify: Verify
) -> None:
    """``verify=False`` (or the client's way of saying it) gets the answer; so
    does a client given a context that was made at import time, before any
    block, and that nobody told about the mock's certificate authority."""
    url = "https://api.example.com/verify"
    async with (
        aiointercept(mock_external_urls=True) as m,
        open_client(kind, verify=verify) as client,
    ):
        m.get(url, body="answered", repeat=True)
        assert await client.text(url) == "answered"
    assert len(m.requests[("GET", URL(url))]) == 1


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # all in worker threads
@pytest.mark.parametrize("kind", ALL_SYNC_KINDS)
async def test_sync_clients_from_several_threads_at_once(kind: str) -> None:
    urls = [
        f"https://{host}.example.com/{n}"
        for host in ("api", "auth", "cdn")
        for n in range(3)
    ]
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        for url in urls:
            m.get(url, body=url)
        replies: dict[str, str] = {}

        async def fetch(url: str) -> None:
            replies[url] = await client.text(url)  # in a worker thread

        async with anyio.create_task_group() as tg:
            for url in urls:
                tg.start_soon(fetch, url)
    assert replies == {url: url for url in urls}
    assert {key for key, _ in m.ordered_requests} == {("GET", URL(u)) for u in urls}


@each_client(*ALL_SYNC_KINDS)
async def test_sync_clients_called_directly_from_the_test(kind: str) -> None:
    """A synchronous client called in the async test, blocking its loop, is
    answered: the block's server runs in a thread of its own."""
    async with (
        aiointercept(mock_external_urls=True) as m,
        open_client(kind, blocking=True) as client,
    ):
        m.get("https://api.example.com/direct", body="secure")
        m.get("http://api.example.com/direct", body="plain")
        assert await client.text("https://api.example.com/direct") == "secure"
        assert await client.text("http://api.example.com/direct") == "plain"
    assert m.call_count == 2


# == nested blocks ===================================================================


@each_client(*ALL_KINDS)
async def test_nested_blocks_answer_inner_routes_first_then_outer_ones(
    kind: str,
) -> None:
    shared = "https://api.example.com/shared"
    outer_only = "https://outer.example.com/only"
    async with (
        aiointercept(mock_external_urls=True) as outer,
        open_client(kind) as client,
    ):
        outer.get(shared, body="outer", repeat=True)
        outer.get(outer_only, body="outer only", repeat=True)
        async with aiointercept(mock_external_urls=True) as inner:
            inner.get(shared, body="inner")
            assert await client.text(shared) == "inner"
            assert await client.text(outer_only) == "outer only"
        assert await client.text(shared) == "outer"
    assert list(inner.requests) == [("GET", URL(shared))]
    assert {key: len(calls) for key, calls in outer.requests.items()} == {
        ("GET", URL(outer_only)): 1,
        ("GET", URL(shared)): 1,
    }


# == IPv6 ============================================================================


async def ipv6_only_get(kind: str, url: str) -> str:
    """GET ``url`` with a client told to use IPv6 addresses only: the body."""
    if kind == "aiohttp":
        # the connector drops every address of another family before connecting
        connector = aiohttp.TCPConnector(family=socket.AF_INET6)
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get(url) as response,
        ):
            return await response.text()
    # httpcore's asyncio backend (anyio) looks the name up for the family of
    # the local address only
    library: Any = httpx if kind == "httpx-async" else httpx2
    transport = library.AsyncHTTPTransport(local_address="::")
    async with (
        library.AsyncClient(transport=transport, timeout=BOUND) as client,
        client.stream("GET", url) as response,
    ):
        stream = response.extensions["network_stream"]
        assert stream.get_extra_info("socket").family == socket.AF_INET6
        await response.aread()
        text: str = response.text
        return text


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("kind", ["aiohttp", "httpx-async", "httpx2-async"])
async def test_a_client_asking_for_ipv6_addresses_only(kind: str) -> None:
    """An intercepted name resolves to an IPv4-mapped IPv6 address when only
    IPv6 is asked for, and the connection reaches the block. (On trio,
    httpcore asks for every family, whatever the local address.)"""
    async with aiointercept(mock_external_urls=True) as m:
        m.get("https://api.example.com/v6", body="over IPv6")
        m.get("http://api.example.com/v6", body="plain over IPv6")
        assert await ipv6_only_get(kind, "https://api.example.com/v6") == "over IPv6"
        assert await ipv6_only_get(kind, "http://api.example.com/v6") == (
            "plain over IPv6"
        )
    assert m.call_count == 2


class Ipv6Server(http.server.ThreadingHTTPServer):
    """A local HTTP/1.0 service on ``[::1]``: one request per connection."""

    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the address up (getfqdn)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()


class Ipv6Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"the real service"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def ipv6_service() -> Iterator[int]:
    """The port of a service listening on ``[::1]``."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        server = Ipv6Server(("::1", 0), Ipv6Handler)
    except OSError as exc:  # IPv6 turned off in this machine or container
        pytest.skip(f"no IPv6 loopback here: {exc}")
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(BOUND)


@each_client(*ALL_KINDS)
async def test_a_route_for_an_ipv6_loopback_service(
    kind: str, ipv6_service: int
) -> None:
    """``http://[::1]:PORT`` is left alone until a route names it; then the
    block answers instead of the local service."""
    url = f"http://[::1]:{ipv6_service}/status"
    async with aiointercept(mock_external_urls=True) as m, open_client(kind) as client:
        assert await client.text(url) == "the real service"
        m.get(url, body="from the route")
        assert await client.text(url) == "from the route"
    assert list(m.requests) == [("GET", URL(url))]
    assert m.call_count == 1


# == WebSocket clients ===============================================================


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_websockets_asyncio_client_over_wss_and_ws() -> None:
    websockets_client = pytest.importorskip("websockets.asyncio.client")
    async with aiointercept(mock_external_urls=True) as m:
        secure = m.ws("wss://api.example.com/feed", echo)
        plain = m.ws("ws://api.example.com/feed", echo)
        for url in ("wss://api.example.com/feed", "ws://api.example.com/feed"):
            async with websockets_client.connect(url, open_timeout=BOUND) as ws:
                await ws.send(url)
                assert await ws.recv() == url
    assert secure.calls[0].url == URL("https://api.example.com/feed")
    assert plain.calls[0].url == URL("http://api.example.com/feed")
    assert [key for key, _ in m.ordered_requests] == [
        ("GET", URL("https://api.example.com/feed")),
        ("GET", URL("http://api.example.com/feed")),
    ]


async def test_websockets_sync_client_over_wss_from_a_thread() -> None:
    from websockets.sync.client import connect

    url = "wss://api.example.com/feed"

    def talk() -> str:
        with connect(url, open_timeout=BOUND, close_timeout=1) as ws:
            ws.send("from a thread")
            reply = ws.recv(timeout=BOUND)
            assert isinstance(reply, str)
            return reply

    async with aiointercept(mock_external_urls=True) as m:
        route = m.ws(url, echo)
        assert await anyio.to_thread.run_sync(talk) == "from a thread"
    assert route.calls[0].url == URL("https://api.example.com/feed")
    assert route.calls[0].messages[:2] == [
        received("from a thread"),
        sent("from a thread"),
    ]
