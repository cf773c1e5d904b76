"""The httpx adapter of ``mock_external_urls=True``, at httpcore's pools.

httpx sends every request through an httpcore connection pool (its default
transports hold one). Two public methods are wrapped, on the classes, while
at least one such block is running:

``ConnectionPool.handle_request(request)``
    for ``httpx.Client`` (and any other user of a sync httpcore pool);
``AsyncConnectionPool.handle_async_request(request)``
    for ``httpx.AsyncClient``, on asyncio and trio alike.

An intercepted request is handed to the same pool with its URL rewritten to
the mock's port for its scheme, over plain HTTP; its headers (``Host``
included), body, timeouts and other extensions are kept, and httpx still
reports the URL it was asked for; a synchronous client's request also names
the thread that sends it (see ``SENDER_THREAD_HEADER``). The pool keys
connections by origin, so a connection to the real host pooled before the
block is never used for an intercepted request, and a connection to the mock
is never used for a real one. A pool that goes through a proxy
(``HTTPProxy``, ``SOCKSProxy``) is not used for intercepted requests: they go
straight to the mock through a pool of the adapter's own that keeps no
connection open.
"""

from __future__ import annotations

import copy
import weakref
from typing import TYPE_CHECKING, Any

import httpcore

from . import SENDER_THREAD_HEADER, incompatibility, sender_thread

if TYPE_CHECKING:
    from . import Interception

__all__ = ["CLIENT", "INCOMPATIBLE", "PATCHED_NAMES", "install", "restore"]

CLIENT = "httpx"

#: The httpcore names the adapter wraps, with the parameters expected.
PATCHED_NAMES: dict[str, tuple[str, ...]] = {
    "ConnectionPool.handle_request": ("self", "request"),
    "AsyncConnectionPool.handle_async_request": ("self", "request"),
}

#: Set when httpcore lacks what the adapter needs; reported on entering a block.
INCOMPATIBLE = incompatibility(
    "httpcore", httpcore.__version__, httpcore, PATCHED_NAMES
)

_SENDER_THREAD = SENDER_THREAD_HEADER.encode("ascii")

_SCHEMES = {b"http": b"http", b"https": b"http", b"ws": b"ws", b"wss": b"ws"}

_originals: dict[str, Any] = {}

#: Proxying pools -> the direct pool that serves their intercepted requests.
_direct: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def install(state: Interception) -> None:
    """Wrap the two pools' request methods."""
    sync_pool, async_pool = httpcore.ConnectionPool, httpcore.AsyncConnectionPool
    handle = sync_pool.handle_request
    handle_async = async_pool.handle_async_request
    _originals.update(handle_request=handle, handle_async_request=handle_async)

    def handle_request(
        self: httpcore.ConnectionPool, request: httpcore.Request
    ) -> httpcore.Response:
        mocked = _to_mock(state, request, sync=True)
        if mocked is None:
            return handle(self, request)
        return handle(_pool_for(self, sync_pool), mocked)

    async def handle_async_request(
        self: httpcore.AsyncConnectionPool, request: httpcore.Request
    ) -> httpcore.Response:
        mocked = _to_mock(state, request, sync=False)
        if mocked is None:
            return await handle_async(self, request)
        return await handle_async(_pool_for(self, async_pool), mocked)

    sync_pool.handle_request = handle_request  # type: ignore[method-assign]
    async_pool.handle_async_request = handle_async_request  # type: ignore[method-assign]


def restore() -> None:
    """Put back the methods :func:`install` replaced."""
    if _originals:
        httpcore.ConnectionPool.handle_request = _originals["handle_request"]  # type: ignore[method-assign]
        httpcore.AsyncConnectionPool.handle_async_request = _originals[  # type: ignore[method-assign]
            "handle_async_request"
        ]
    _originals.clear()
    _direct.clear()


def _to_mock(
    state: Interception, request: httpcore.Request, *, sync: bool
) -> httpcore.Request | None:
    """``request`` sent to the mock, or ``None`` when it goes where it says; a
    synchronous client's request names the thread that sends it."""
    url = request.url
    scheme = url.scheme.decode("ascii")
    port = url.port or (443 if scheme in ("https", "wss") else 80)
    target = state.target_port(scheme, url.host.decode("ascii"), port)
    if target is None:
        return None
    mocked = copy.copy(request)
    mocked.url = httpcore.URL(
        scheme=_SCHEMES.get(url.scheme, b"http"),
        host=b"127.0.0.1",
        port=target,
        target=url.target,
    )
    if not any(name.lower() == b"host" for name, _ in request.headers):
        netloc = url.host if url.port is None else b"%b:%d" % (url.host, url.port)
        mocked.headers = [(b"Host", netloc), *request.headers]
    if sync:
        thread = (_SENDER_THREAD, sender_thread().encode("ascii"))
        mocked.headers = [*mocked.headers, thread]
    return mocked


def _pool_for(pool: Any, plain: type[Any]) -> Any:
    """The pool that sends an intercepted request: ``pool`` itself, unless it
    goes through a proxy."""
    if type(pool).create_connection is plain.create_connection:
        return pool
    direct = _direct.get(pool)
    if direct is None:
        direct = _direct[pool] = plain(max_keepalive_connections=0)
    return direct
