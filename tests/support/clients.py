"""Support for the tests that drive real HTTP clients against a block.

* :class:`Client`: one HTTP client used the way its users use it, whatever its
  library: aiohttp, ``httpx.AsyncClient``, ``httpx.Client``, requests or
  urllib3; :func:`open_client` opens one by its kind. The synchronous clients
  run in a worker thread (``anyio.to_thread.run_sync``), or, with
  ``blocking=True``, are called directly from the async test, blocking its
  event loop.
* :func:`each_client`: run a test once per client kind, on every backend
  that kind runs on (aiohttp on asyncio only), as its ``kind`` argument.
* :func:`net`: the loopback safety net (:mod:`tests.support.loopback_net`)
  with the proxy variables of the environment cleared, so no client sends its
  requests to a proxy. A module (or a conftest) makes it autouse by naming it,
  with the fixture it needs::

      loopback_network = loopback_net.loopback_network
      net = clients.net
"""

from __future__ import annotations

import abc
import functools
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import aiohttp
import anyio
import anyio.from_thread
import anyio.to_thread
import httpx
import pytest
import requests
import urllib3
from multidict import CIMultiDict

from tests.support.loopback_net import LoopbackNet

if TYPE_CHECKING:
    from _pytest.mark import ParameterSet

T = TypeVar("T")

#: A bound on every request, so that a broken library fails a test instead of
#: hanging it.
BOUND = 10.0

#: urllib3 2's API (``json=``, ``urllib3.request()``), which the urllib3
#: client of these tests uses; ``nox -s client_compat`` runs urllib3 1.26 too.
URLLIB3_2 = int(urllib3.__version__.split(".")[0]) >= 2  # type: ignore[attr-defined]

#: httpx 0.26 renamed ``proxies=`` to ``proxy=``.
HTTPX_PROXY = (
    "proxy"
    if tuple(int(part) for part in httpx.__version__.split(".")[:2]) >= (0, 26)
    else "proxies"
)


def httpx_options(proxy: str | None) -> dict[str, Any]:
    """The options of an httpx client of these tests, with ``proxy``."""
    options: dict[str, Any] = {"timeout": BOUND, "follow_redirects": True}
    if proxy is not None:
        options[HTTPX_PROXY] = proxy
    return options


#: A request body: bytes, or pieces sent as a streamed (chunked) body.
Content = bytes | list[bytes] | None

PROXY_VARIABLES = [
    case(f"{name}_proxy")
    for name in ("http", "https", "all", "no")
    for case in (str.lower, str.upper)
]


@pytest.fixture(autouse=True)
def net(loopback_network: LoopbackNet, monkeypatch: pytest.MonkeyPatch) -> LoopbackNet:
    """The loopback safety net, for every test of the module that names it."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return loopback_network


# -- the clients ------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A response as a client received it, body read (and decoded) in full."""

    status: int
    reason: str
    headers: CIMultiDict[str]
    body: bytes
    #: The final URL, after redirects.
    url: str
    #: The statuses of the redirects followed to get here.
    history: tuple[int, ...]
    #: The URLs of those redirects, in the same order.
    history_urls: tuple[str, ...]

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Request:
    """What :meth:`Client.request` was asked to send."""

    method: str
    url: str
    headers: Mapping[str, str] | None
    json_body: Any
    #: A list is sent as a streamed (chunked) body, one piece at a time.
    content: Content
    timeout: float


class Client(abc.ABC):
    """One client, used the way its users use it, redirects followed, with the
    errors it raises."""

    #: Raised when the server closes (or resets) the connection, or sends a
    #: malformed status line, before any response.
    closed_error: ClassVar[tuple[type[Exception], ...]]
    #: Raised when a response breaks off after its headers.
    broken_body_error: ClassVar[tuple[type[Exception], ...]]
    #: Raised when the client's own timeout fires while it waits for a response.
    timeout_error: ClassVar[tuple[type[Exception], ...]]
    #: Raised when the host cannot be connected to (here: it does not resolve).
    connect_error: ClassVar[tuple[type[Exception], ...]]
    #: Whether a body shorter than its Content-Length is an error (urllib3 1.x,
    #: under requests, returns it as it is).
    enforces_length: ClassVar[bool] = True

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: Content = None,
        timeout: float = BOUND,
    ) -> Reply:
        """Send a request; a ``content`` list is sent as a streamed (chunked)
        body, one piece at a time."""
        return await self.send(
            Request(method, url, headers, json_body, content, timeout)
        )

    @abc.abstractmethod
    async def send(self, request: Request) -> Reply: ...

    @abc.abstractmethod
    async def read_in_two(
        self, url: str, size: int, between: Callable[[], None]
    ) -> tuple[bytes, bytes]:
        """GET ``url`` as a stream: read ``size`` bytes of the body, call
        ``between`` (on the test's event loop), then read the rest."""

    @abc.abstractmethod
    async def aclose(self) -> None: ...

    async def get(self, url: str, **kwargs: Any) -> Reply:
        return await self.request("GET", url, **kwargs)

    async def text(self, url: str) -> str:
        reply = await self.get(url)
        assert reply.status == 200, (url, reply.status, reply.body)
        return reply.text


async def pieces(content: list[bytes]) -> AsyncIterator[bytes]:
    for piece in content:
        yield piece


def async_body(request: Request) -> bytes | AsyncIterator[bytes] | None:
    """The body as an async client takes it: a list as an async iterator."""
    if isinstance(request.content, list):
        return pieces(request.content)
    return request.content


class AiohttpClient(Client):
    closed_error = (aiohttp.ClientConnectionError,)
    broken_body_error = (aiohttp.ClientPayloadError,)
    timeout_error = (aiohttp.ServerTimeoutError,)
    connect_error = (aiohttp.ClientConnectorError,)

    def __init__(self, *, proxy: str | None = None) -> None:
        self.proxy = proxy
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=BOUND))

    async def send(self, request: Request) -> Reply:
        async with self.session.request(
            request.method,
            request.url,
            headers=request.headers,
            data=async_body(request),
            json=request.json_body,
            proxy=self.proxy,
            timeout=aiohttp.ClientTimeout(total=request.timeout),
        ) as response:
            body = await response.read()
            return Reply(
                response.status,
                response.reason or "",
                CIMultiDict(response.headers),
                body,
                str(response.url),
                tuple(previous.status for previous in response.history),
                tuple(str(previous.url) for previous in response.history),
            )

    async def read_in_two(
        self, url: str, size: int, between: Callable[[], None]
    ) -> tuple[bytes, bytes]:
        async with self.session.get(url, proxy=self.proxy) as response:
            first = await response.content.readexactly(size)
            between()
            return first, await response.content.read()

    async def aclose(self) -> None:
        await self.session.close()


#: httpx's transport errors other than a timeout (a connection that hangs
#: until the client gives up is not a closed one).
HTTPX_CLOSED = (httpx.NetworkError, httpx.RemoteProtocolError)


def httpx_reply(response: httpx.Response) -> Reply:
    return Reply(
        response.status_code,
        response.reason_phrase,
        CIMultiDict(response.headers.multi_items()),
        response.content,
        str(response.url),
        tuple(previous.status_code for previous in response.history),
        tuple(str(previous.url) for previous in response.history),
    )


class HttpxAsyncClient(Client):
    closed_error = HTTPX_CLOSED
    broken_body_error = HTTPX_CLOSED
    timeout_error = (httpx.TimeoutException,)
    connect_error = (httpx.ConnectError,)

    def __init__(self, *, proxy: str | None = None) -> None:
        self.client = httpx.AsyncClient(**httpx_options(proxy))

    async def send(self, request: Request) -> Reply:
        with anyio.fail_after(BOUND + 5):
            response = await self.client.request(
                request.method,
                request.url,
                headers=request.headers,
                json=request.json_body,
                content=async_body(request),
                timeout=request.timeout,
            )
        return httpx_reply(response)

    async def read_in_two(
        self, url: str, size: int, between: Callable[[], None]
    ) -> tuple[bytes, bytes]:
        buffer = bytearray()
        with anyio.fail_after(BOUND):
            async with self.client.stream("GET", url) as response:
                chunks = response.aiter_raw()
                while len(buffer) < size:
                    buffer += await anext(chunks)
                between()
                async for chunk in chunks:
                    buffer += chunk
        return bytes(buffer[:size]), bytes(buffer[size:])

    async def aclose(self) -> None:
        await self.client.aclose()


class SyncClient(Client):
    """A blocking client, run in a worker thread or, with ``blocking=True``,
    called directly from the async test (blocking its event loop)."""

    def __init__(self, *, blocking: bool = False) -> None:
        self.blocking = blocking

    @abc.abstractmethod
    def send_sync(self, request: Request) -> Reply: ...

    @abc.abstractmethod
    def send_in_two(
        self, url: str, size: int, between: Callable[[], None]
    ) -> tuple[bytes, bytes]: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    async def call(self, function: Callable[[], T]) -> T:
        if self.blocking:
            return function()
        with anyio.fail_after(BOUND + 5):
            return await anyio.to_thread.run_sync(function)

    async def send(self, request: Request) -> Reply:
        return await self.call(functools.partial(self.send_sync, request))

    async def read_in_two(
        self, url: str, size: int, between: Callable[[], None]
    ) -> tuple[bytes, bytes]:
        assert not self.blocking, "between() needs the test's loop"

        def on_the_loop() -> None:
            anyio.from_thread.run_sync(between)

        return await self.call(
            functools.partial(self.send_in_two, url, size, on_the_loop)
        )

    async def aclose(self) -> None:
        self.close()


def sync_body(request: Request) -> bytes | Iterator[bytes] | None:
    """The body as a synchronous client takes it: a list as an iterator."""
    if isinstance(request.content, list):
        return iter(request.content)
    return request.content


class HttpxSyncClient(SyncClient):
    closed_error = HTTPX_CLOSED
    broken_body_error = HTTPX_CLOSED
    timeout_error = (httpx.TimeoutException,)
    connect_error = (httpx.ConnectError,)

    def __init__(self, *, blocking: bool = False, proxy: str | None = None) -> None:
        super().__init__(blocking=blocking)
        self.client = httpx.Client(**httpx_options(proxy))

    def send_sync(self, request: Request) -> Reply:
        response = self.client.request(
            request.method,
            request.url,
            headers=request.headers,
            json=request.json_body,
            content=sync_body(request),
            timeout=request.timeout,
        )
        return httpx_reply(response)

    def send_in_two(
        self, url: str, size: int, between: Callable[[], None]
    ) -> tuple[bytes, bytes]:
        buffer = bytearray()
        with self.client.stream("GET", url) as response:
            chunks = response.iter_raw()
            while len(buffer) < size:
                buffer += next(chunks)
            between()
            for chunk in chunks:
                buffer += chunk
        return bytes(buffer[:size]), bytes(buffer[size:])

    def close(self) -> None:
        self.client.close()


class RequestsClient(SyncClient):
    closed_error = (requests.exceptions.ConnectionError,)
    # requests reports a body cut short as a ChunkedEncodingError, whatever the
    # framing of the body
    broken_body_error = (requests.exceptions.ChunkedEncodingError,)
    timeout_error = (requests.exceptions.Timeout,)
    connect_error = (requests.exceptions.ConnectionError,)
    enforces_length = URLLIB3_2

    def __init__(self, *, blocking: bool = False, proxy: str | None = None) -> None:
        super().__init__(blocking=blocking)
        self.session = requests.Session()
        if proxy is not None:
            self.session.proxies = {"http": proxy, "https": proxy}

    def send_sync(self, request: Request) -> Reply:
        response = self.session.request(
            request.method,
            request.url,
            headers=request.headers,
            json=request.json_body,
            data=sync_body(request),
            timeout=request.timeout,
        )
        return Reply(
            response.status_code,
            response.reason,
            # urllib3's headers keep repeated fields (Set-Cookie) apart
            CIMultiDict(response.raw.headers.items()),
            response.content,
            response.url,
            tuple(previous.status_code for previous in response.history),
            tuple(previous.url for previous in response.history),
        )

    def send_in_two(
        self, url: str, size: int, between: Callable[[], None]
    ) -> tuple[bytes, bytes]:
        with self.session.get(url, stream=True, timeout=BOUND) as response:
            first = b""
            while len(first) < size:
                first += response.raw.read(size - len(first))
            between()
            rest: bytes = response.raw.read()
            return first, rest

    def close(self) -> None:
        self.session.close()


#: Errors raised as they are (no retry, no MaxRetryError), redirects followed.
URLLIB3_RETRIES = urllib3.Retry(total=None, connect=False, read=False, redirect=5)


class Urllib3Client(SyncClient):
    closed_error = (urllib3.exceptions.ProtocolError,)
    broken_body_error = (urllib3.exceptions.ProtocolError,)
    timeout_error = (urllib3.exceptions.ReadTimeoutError,)
    connect_error = (urllib3.exceptions.NewConnectionError,)

    def __init__(self, *, blocking: bool = False, proxy: str | None = None) -> None:
        if not URLLIB3_2:
            pytest.skip("the urllib3 client of these tests uses urllib3 2's API")
        super().__init__(blocking=blocking)
        self.pool = (
            urllib3.PoolManager(retries=URLLIB3_RETRIES)
            if proxy is None
            else urllib3.ProxyManager(proxy, retries=URLLIB3_RETRIES)
        )

    def send_sync(self, request: Request) -> Reply:
        response = self.pool.request(
            request.method,
            request.url,
            headers=request.headers,
            json=request.json_body,
            body=sync_body(request),
            chunked=isinstance(request.content, list),
            timeout=request.timeout,
        )
        history = response.retries.history if response.retries else ()
        return Reply(
            response.status,
            response.reason or "",
            CIMultiDict(response.headers.items()),
            response.data,
            response.url or request.url,
            tuple(previous.status or 0 for previous in history),
            tuple(previous.url or "" for previous in history),
        )

    def send_in_two(
        self, url: str, size: int, between: Callable[[], None]
    ) -> tuple[bytes, bytes]:
        response = self.pool.request("GET", url, preload_content=False, timeout=BOUND)
        try:
            first = b""
            while len(first) < size:
                first += response.read(size - len(first))
            between()
            return first, response.read()
        finally:
            response.release_conn()

    def close(self) -> None:
        self.pool.clear()


ASYNC_CLIENTS: dict[str, Callable[..., Client]] = {
    "aiohttp": AiohttpClient,
    "httpx-async": HttpxAsyncClient,
}
SYNC_CLIENTS: dict[str, Callable[..., SyncClient]] = {
    "httpx-sync": HttpxSyncClient,
    "requests": RequestsClient,
    "urllib3": Urllib3Client,
}


def make_client(
    kind: str, *, blocking: bool = False, proxy: str | None = None
) -> Client:
    """A client of ``kind`` (a key of :data:`ASYNC_CLIENTS` or
    :data:`SYNC_CLIENTS`); ``blocking`` applies to the synchronous ones."""
    if kind in SYNC_CLIENTS:
        return SYNC_CLIENTS[kind](blocking=blocking, proxy=proxy)
    return ASYNC_CLIENTS[kind](proxy=proxy)


@asynccontextmanager
async def open_client(
    kind: str, *, blocking: bool = False, proxy: str | None = None
) -> AsyncIterator[Client]:
    """A client of ``kind``; with ``proxy``, configured to send its requests
    through that proxy."""
    client = make_client(kind, blocking=blocking, proxy=proxy)
    try:
        yield client
    finally:
        await client.aclose()


# -- one test per client kind ------------------------------------------------------

#: Every client kind (a key of :data:`ASYNC_CLIENTS` or :data:`SYNC_CLIENTS`).
KINDS = ["aiohttp", "httpx-async", "httpx-sync", "requests", "urllib3"]
#: The synchronous ones.
SYNC_KINDS = ["httpx-sync", "requests", "urllib3"]
#: The backends of the tests (as the ``anyio_backend`` fixture of
#: ``tests/conftest.py`` runs them).
BACKENDS = ["asyncio", "trio"]


def backends_of(kind: str) -> list[str]:
    """The backends a client of ``kind`` runs on: aiohttp runs on asyncio only."""
    return ["asyncio"] if kind == "aiohttp" else BACKENDS


def client_params(kinds: Iterable[str] = KINDS) -> list[ParameterSet]:
    """``(kind, anyio_backend)`` for each of ``kinds`` on each backend it runs
    on, with the id ``kind-backend``."""
    return [
        pytest.param(kind, backend, id=f"{kind}-{backend}")
        for kind in kinds
        for backend in backends_of(kind)
    ]


def each_client(*kinds: str) -> pytest.MarkDecorator:
    """Run the test once per client of ``kinds`` (all of :data:`KINDS` if none
    is named), on each backend it runs on; the test takes the kind as its
    ``kind`` argument."""
    return pytest.mark.parametrize(
        ("kind", "anyio_backend"), client_params(kinds or KINDS)
    )
