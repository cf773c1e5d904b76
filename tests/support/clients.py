"""Support for the tests that drive real HTTP clients against a block.

* :class:`Client`: one HTTP client used the way its users use it, whatever its
  library: aiohttp, ``httpx.AsyncClient``, ``httpx.Client``, requests or
  urllib3, and (:data:`MORE_KINDS`) aiohttp with aiodns's resolver, httpx2,
  ``urllib.request`` and ``http.client``; :func:`open_client` opens one by its
  kind, with its certificate checks on, off (``verify=False``) or done by an
  ``ssl.SSLContext`` of the test's. The synchronous clients run in a worker
  thread (``anyio.to_thread.run_sync``), or, with ``blocking=True``, are
  called directly from the async test, blocking its event loop.
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
import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import aiohttp
import aiohttp.resolver
import anyio
import anyio.from_thread
import anyio.to_thread
import httpx
import httpx2
import pytest
import requests
import requests.adapters
import urllib3
from multidict import CIMultiDict
from yarl import URL

from tests.support.loopback_net import LoopbackNet

if TYPE_CHECKING:
    from _pytest.mark import ParameterSet
    from aiohttp.abc import ResolveResult

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


#: How a client checks the server's certificate: ``True`` as it does by
#: default, ``False`` not at all (``verify=False`` or its equivalent), or with
#: the test's own context (which may carry a client certificate).
Verify = bool | ssl.SSLContext


def httpx_options(
    proxy: str | None, verify: Verify = True, *, proxy_option: str = HTTPX_PROXY
) -> dict[str, Any]:
    """The options of an httpx (or httpx2) client of these tests, with
    ``proxy`` and ``verify``."""
    options: dict[str, Any] = {"timeout": BOUND, "follow_redirects": True}
    if proxy is not None:
        options[proxy_option] = proxy
    if verify is not True:
        options["verify"] = verify
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


class RefusingAsyncResolver(aiohttp.resolver.AsyncResolver):
    """aiohttp's aiodns resolver, given to a session as users give it, that
    notes every name it is asked and answers none: aiodns queries DNS servers
    through c-ares, under the standard library, where no safety net of the
    tests could stop it."""

    def __init__(self) -> None:
        super().__init__()
        #: The names asked, in order.
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        raise OSError(f"the tests ask no DNS server anything: {host!r}")


class AiohttpClient(Client):
    closed_error = (aiohttp.ClientConnectionError,)
    broken_body_error = (aiohttp.ClientPayloadError,)
    timeout_error = (aiohttp.ServerTimeoutError,)
    connect_error = (aiohttp.ClientConnectorError,)

    def __init__(
        self, *, proxy: str | None = None, verify: Verify = True, aiodns: bool = False
    ) -> None:
        self.proxy = proxy
        #: aiohttp's ``ssl=`` option: ``True`` is its default.
        self.ssl: Verify = verify
        #: With ``aiodns=True``, the aiodns resolver the session was given.
        self.resolver = RefusingAsyncResolver() if aiodns else None
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=self.resolver) if aiodns else None,
            timeout=aiohttp.ClientTimeout(total=BOUND),
        )

    async def send(self, request: Request) -> Reply:
        async with self.session.request(
            request.method,
            request.url,
            headers=request.headers,
            data=async_body(request),
            json=request.json_body,
            proxy=self.proxy,
            ssl=self.ssl,
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
        async with self.session.get(url, proxy=self.proxy, ssl=self.ssl) as response:
            first = await response.content.readexactly(size)
            between()
            return first, await response.content.read()

    async def aclose(self) -> None:
        await self.session.close()
        if self.resolver is not None:  # the session's connector does not own it
            await self.resolver.close()


#: httpx's transport errors other than a timeout (a connection that hangs
#: until the client gives up is not a closed one).
HTTPX_CLOSED = (httpx.NetworkError, httpx.RemoteProtocolError)


def httpx_reply(response: httpx.Response | httpx2.Response) -> Reply:
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
    closed_error: ClassVar[tuple[type[Exception], ...]] = HTTPX_CLOSED
    broken_body_error: ClassVar[tuple[type[Exception], ...]] = HTTPX_CLOSED
    timeout_error: ClassVar[tuple[type[Exception], ...]] = (httpx.TimeoutException,)
    connect_error: ClassVar[tuple[type[Exception], ...]] = (httpx.ConnectError,)

    def __init__(self, *, proxy: str | None = None, verify: Verify = True) -> None:
        self.client: httpx.AsyncClient | httpx2.AsyncClient = httpx.AsyncClient(
            **httpx_options(proxy, verify)
        )

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
    closed_error: ClassVar[tuple[type[Exception], ...]] = HTTPX_CLOSED
    broken_body_error: ClassVar[tuple[type[Exception], ...]] = HTTPX_CLOSED
    timeout_error: ClassVar[tuple[type[Exception], ...]] = (httpx.TimeoutException,)
    connect_error: ClassVar[tuple[type[Exception], ...]] = (httpx.ConnectError,)

    def __init__(
        self, *, blocking: bool = False, proxy: str | None = None, verify: Verify = True
    ) -> None:
        super().__init__(blocking=blocking)
        self.client: httpx.Client | httpx2.Client = httpx.Client(
            **httpx_options(proxy, verify)
        )

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


#: httpx2's transport errors other than a timeout.
HTTPX2_CLOSED = (httpx2.NetworkError, httpx2.RemoteProtocolError)


class Httpx2AsyncClient(HttpxAsyncClient):
    """``httpx2.AsyncClient``, which keeps httpx's API."""

    closed_error = HTTPX2_CLOSED
    broken_body_error = HTTPX2_CLOSED
    timeout_error = (httpx2.TimeoutException,)
    connect_error = (httpx2.ConnectError,)

    def __init__(self, *, proxy: str | None = None, verify: Verify = True) -> None:
        self.client = httpx2.AsyncClient(
            **httpx_options(proxy, verify, proxy_option="proxy")
        )


class Httpx2SyncClient(HttpxSyncClient):
    """``httpx2.Client``."""

    closed_error = HTTPX2_CLOSED
    broken_body_error = HTTPX2_CLOSED
    timeout_error = (httpx2.TimeoutException,)
    connect_error = (httpx2.ConnectError,)

    def __init__(
        self, *, blocking: bool = False, proxy: str | None = None, verify: Verify = True
    ) -> None:
        SyncClient.__init__(self, blocking=blocking)
        self.client = httpx2.Client(
            **httpx_options(proxy, verify, proxy_option="proxy")
        )


class SslContextAdapter(requests.adapters.HTTPAdapter):
    """requests' transport adapter with an ``ssl.SSLContext`` of the user's,
    the way requests takes one."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self.context
        super().init_poolmanager(*args, **kwargs)


class RequestsClient(SyncClient):
    closed_error = (requests.exceptions.ConnectionError,)
    # requests reports a body cut short as a ChunkedEncodingError, whatever the
    # framing of the body
    broken_body_error = (requests.exceptions.ChunkedEncodingError,)
    timeout_error = (requests.exceptions.Timeout,)
    connect_error = (requests.exceptions.ConnectionError,)
    enforces_length = URLLIB3_2

    def __init__(
        self, *, blocking: bool = False, proxy: str | None = None, verify: Verify = True
    ) -> None:
        super().__init__(blocking=blocking)
        self.session = requests.Session()
        if proxy is not None:
            self.session.proxies = {"http": proxy, "https": proxy}
        #: Given with each request: a session's ``verify = False`` gives way
        #: to ``REQUESTS_CA_BUNDLE`` when it is set.
        self.verify = verify if isinstance(verify, bool) else True
        if isinstance(verify, ssl.SSLContext):
            self.session.mount("https://", SslContextAdapter(verify))

    def send_sync(self, request: Request) -> Reply:
        response = self.session.request(
            request.method,
            request.url,
            headers=request.headers,
            json=request.json_body,
            data=sync_body(request),
            timeout=request.timeout,
            verify=self.verify,
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
        with self.session.get(
            url, stream=True, timeout=BOUND, verify=self.verify
        ) as response:
            first = b""
            while len(first) < size:
                first += response.raw.read(size - len(first))
            between()
            rest: bytes = response.raw.read()
            return first, rest

    def close(self) -> None:
        self.session.close()


#: Connection and read errors raised as they are (no retry, no
#: MaxRetryError), redirects followed; any other error (an SSL error) in a
#: MaxRetryError at once, as urllib3 raises it once its retries are spent.
URLLIB3_RETRIES = urllib3.Retry(
    total=None, connect=False, read=False, other=0, redirect=5
)


class Urllib3Client(SyncClient):
    closed_error = (urllib3.exceptions.ProtocolError,)
    broken_body_error = (urllib3.exceptions.ProtocolError,)
    timeout_error = (urllib3.exceptions.ReadTimeoutError,)
    connect_error = (urllib3.exceptions.NewConnectionError,)

    def __init__(
        self, *, blocking: bool = False, proxy: str | None = None, verify: Verify = True
    ) -> None:
        if not URLLIB3_2:
            pytest.skip("the urllib3 client of these tests uses urllib3 2's API")
        super().__init__(blocking=blocking)
        tls: dict[str, Any] = {}
        if verify is False:
            tls["cert_reqs"] = "CERT_NONE"
        elif isinstance(verify, ssl.SSLContext):
            tls["ssl_context"] = verify
        self.pool = (
            urllib3.PoolManager(retries=URLLIB3_RETRIES, **tls)
            if proxy is None
            else urllib3.ProxyManager(proxy, retries=URLLIB3_RETRIES, **tls)
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


def unverified_context() -> ssl.SSLContext:
    """A client context that checks no certificate, as users make one."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def client_context(verify: Verify) -> ssl.SSLContext | None:
    """The context a standard-library client is given for ``verify``:
    ``None`` (its default) for ``True``."""
    if verify is True:
        return None
    if verify is False:
        return unverified_context()
    return verify


def request_body(request: Request) -> tuple[dict[str, str], Any]:
    """The headers and body of a request sent with the standard library:
    JSON encoded, a list as an iterator (sent chunked)."""
    headers = dict(request.headers or {})
    if request.json_body is not None:
        headers.setdefault("Content-Type", "application/json")
        return headers, json.dumps(request.json_body).encode()
    return headers, sync_body(request)


class StdlibClient(SyncClient):
    """A client of the standard library's: :meth:`open` sends a request and
    returns its ``http.client.HTTPResponse``."""

    @abc.abstractmethod
    def open(self, request: Request) -> http.client.HTTPResponse: ...

    def send_sync(self, request: Request) -> Reply:
        with self.open(request) as response:
            return Reply(
                response.status,
                response.reason,
                CIMultiDict(response.headers.items()),
                response.read(),
                getattr(response, "url", None) or request.url,
                (),
                (),
            )

    def send_in_two(
        self, url: str, size: int, between: Callable[[], None]
    ) -> tuple[bytes, bytes]:
        request = Request("GET", url, None, None, None, BOUND)
        with self.open(request) as response:
            first = response.read(size)
            between()
            return first, response.read()


class UrllibClient(StdlibClient):
    """``urllib.request``: an opener as ``urlopen`` builds it, redirects
    followed; an error status is read from the ``HTTPError`` it raises. It
    keeps no history of the redirects it followed."""

    closed_error = (urllib.error.URLError, http.client.HTTPException)
    broken_body_error = (http.client.IncompleteRead,)
    timeout_error = (TimeoutError, urllib.error.URLError)
    connect_error = (urllib.error.URLError,)

    def __init__(
        self, *, blocking: bool = False, proxy: str | None = None, verify: Verify = True
    ) -> None:
        super().__init__(blocking=blocking)
        proxies = {} if proxy is None else {"http": proxy, "https": proxy}
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler(proxies),
            urllib.request.HTTPSHandler(context=client_context(verify)),
        )

    def open(self, request: Request) -> http.client.HTTPResponse:
        headers, body = request_body(request)
        sent = urllib.request.Request(
            request.url, data=body, headers=headers, method=request.method
        )
        try:
            response: http.client.HTTPResponse = self.opener.open(
                sent, timeout=request.timeout
            )
        except urllib.error.HTTPError as error:  # a 4xx or 5xx answer
            return error  # type: ignore[return-value]
        return response

    def close(self) -> None:
        self.opener.close()


class HttpClientClient(StdlibClient):
    """``http.client``: an ``HTTPSConnection`` or ``HTTPConnection`` per
    request, to the URL's host and port; no redirect is followed."""

    closed_error = (http.client.HTTPException, ConnectionError)
    broken_body_error = (http.client.IncompleteRead,)
    timeout_error = (TimeoutError,)
    connect_error = (OSError,)

    def __init__(
        self, *, blocking: bool = False, proxy: str | None = None, verify: Verify = True
    ) -> None:
        if proxy is not None:
            raise ValueError("the http.client client of these tests has no proxy")
        super().__init__(blocking=blocking)
        self.context = client_context(verify)
        #: The connections made, closed by :meth:`close`.
        self.connections: list[http.client.HTTPConnection] = []

    def connect(
        self, url: str, timeout: float
    ) -> tuple[http.client.HTTPConnection, str]:
        """A connection for ``url``, and the request target to send on it."""
        parsed = URL(url)
        host = parsed.raw_host or ""
        connection: http.client.HTTPConnection
        if parsed.scheme == "https":
            connection = http.client.HTTPSConnection(
                host, parsed.port, timeout=timeout, context=self.context
            )
        else:
            connection = http.client.HTTPConnection(host, parsed.port, timeout=timeout)
        self.connections.append(connection)
        return connection, parsed.raw_path_qs

    def open(self, request: Request) -> http.client.HTTPResponse:
        connection, target = self.connect(request.url, request.timeout)
        headers, body = request_body(request)
        connection.request(request.method, target, body=body, headers=headers)
        return connection.getresponse()

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


ASYNC_CLIENTS: dict[str, Callable[..., Client]] = {
    "aiohttp": AiohttpClient,
    "aiohttp-aiodns": functools.partial(AiohttpClient, aiodns=True),
    "httpx-async": HttpxAsyncClient,
    "httpx2-async": Httpx2AsyncClient,
}
SYNC_CLIENTS: dict[str, Callable[..., SyncClient]] = {
    "httpx-sync": HttpxSyncClient,
    "httpx2-sync": Httpx2SyncClient,
    "requests": RequestsClient,
    "urllib3": Urllib3Client,
    "urllib": UrllibClient,
    "http.client": HttpClientClient,
}


def make_client(
    kind: str,
    *,
    blocking: bool = False,
    proxy: str | None = None,
    verify: Verify = True,
) -> Client:
    """A client of ``kind`` (a key of :data:`ASYNC_CLIENTS` or
    :data:`SYNC_CLIENTS`); ``blocking`` applies to the synchronous ones."""
    if kind in SYNC_CLIENTS:
        return SYNC_CLIENTS[kind](blocking=blocking, proxy=proxy, verify=verify)
    return ASYNC_CLIENTS[kind](proxy=proxy, verify=verify)


@asynccontextmanager
async def open_client(
    kind: str,
    *,
    blocking: bool = False,
    proxy: str | None = None,
    verify: Verify = True,
) -> AsyncIterator[Client]:
    """A client of ``kind``; with ``proxy``, configured to send its requests
    through that proxy; ``verify`` says how it checks certificates."""
    client = make_client(kind, blocking=blocking, proxy=proxy, verify=verify)
    try:
        yield client
    finally:
        await client.aclose()


# -- one test per client kind ------------------------------------------------------

#: The client kinds most tests run with (keys of :data:`ASYNC_CLIENTS` or
#: :data:`SYNC_CLIENTS`).
KINDS = ["aiohttp", "httpx-async", "httpx-sync", "requests", "urllib3"]
#: The synchronous ones.
SYNC_KINDS = ["httpx-sync", "requests", "urllib3"]
#: The other kinds, for the tests of the interception under every client:
#: aiohttp with aiodns's resolver, httpx2, ``urllib.request`` and
#: ``http.client``.
MORE_KINDS = ["aiohttp-aiodns", "httpx2-async", "httpx2-sync", "urllib", "http.client"]
#: Every kind.
ALL_KINDS = [*KINDS, *MORE_KINDS]
#: Every synchronous kind.
ALL_SYNC_KINDS = [kind for kind in ALL_KINDS if kind in SYNC_CLIENTS]
#: The backends of the tests (as the ``anyio_backend`` fixture of
#: ``tests/conftest.py`` runs them).
BACKENDS = ["asyncio", "trio"]


def backends_of(kind: str) -> list[str]:
    """The backends a client of ``kind`` runs on: aiohttp runs on asyncio only."""
    return ["asyncio"] if kind.startswith("aiohttp") else BACKENDS


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
