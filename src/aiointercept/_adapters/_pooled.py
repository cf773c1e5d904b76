"""Keep-alive connections pooled before a ``mock_external_urls=True`` block.

A connection that a client opened to a real host before the block, and keeps
in its pool, makes no new ``connect`` when the client reuses it: the
standard-library interception cannot see it, and the request would reach the
real host. For the pools that sit under the common clients, one method is
wrapped while a block runs; when the connection about to be reused goes to a
real host that the block intercepts, it is closed instead, and the client
opens a new one, which the interception sends to the mock:

``httpcore.HTTPConnection.handle_request(request)``, and
``httpcore.AsyncHTTPConnection.handle_async_request(request)``
    httpx (and ``httpcore2``, under httpx2): the connection closes and tells
    its pool that it is not available, and the pool makes a new one;
``urllib3.HTTPConnectionPool._get_conn(timeout)``
    requests and urllib3: the pooled connection's socket is closed before
    the pool hands it out, and urllib3 connects it again.

aiohttp's connector has its own hook (see ``_aiohttp``). Which module each
client has is found when the first block starts; one that is missing is
skipped, and one whose names changed makes entering the block fail.
"""

from __future__ import annotations

import importlib
import importlib.util
import weakref
from typing import TYPE_CHECKING, Any

from . import REDIRECT, bare_host, incompatibility, is_address, is_loopback

if TYPE_CHECKING:
    from . import Interception

__all__ = ["CLIENT", "INCOMPATIBLE", "PATCHED_NAMES", "install", "restore"]

CLIENT = "httpcore, urllib3"

#: The names wrapped, in each pool module present, with the parameters expected.
_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "httpcore": {
        "HTTPConnection.handle_request": ("self", "request"),
        "AsyncHTTPConnection.handle_async_request": ("self", "request"),
    },
    "httpcore2": {
        "HTTPConnection.handle_request": ("self", "request"),
        "AsyncHTTPConnection.handle_async_request": ("self", "request"),
    },
    "urllib3": {"HTTPConnectionPool._get_conn": ("self", "timeout")},
}

#: The pool modules installed, imported.
_MODULES: dict[str, Any] = {
    name: importlib.import_module(name)
    for name in _NAMES
    if importlib.util.find_spec(name) is not None
}

#: The names wrapped in the modules present (``module.Class.method``), for
#: the adapter's protocol.
PATCHED_NAMES: dict[str, tuple[str, ...]] = {
    f"{module}.{name}": parameters
    for module in _MODULES
    for name, parameters in _NAMES[module].items()
}

#: Why a module present lacks what the hook needs (reported on entering a block).
INCOMPATIBLE: str | None = (
    "; ".join(
        problem
        for module, names in _NAMES.items()
        if module in _MODULES
        and (
            problem := incompatibility(
                module,
                getattr(_MODULES[module], "__version__", "?"),
                _MODULES[module],
                names,
            )
        )
        is not None
    )
    or None
)

_originals: list[tuple[type, str, Any]] = []

#: The address each httpcore network stream is connected to, asked once: a
#: connection's peer does not change, and asking its stream again on every
#: request (anyio builds every attribute of a TLS stream, then asks the
#: socket) cost more than the rest of the request's interception.
_peers: weakref.WeakKeyDictionary[Any, tuple[Any, ...]] = weakref.WeakKeyDictionary()


def install(state: Interception) -> None:
    """Wrap the method of each pool module present."""

    def reaches_mock(peer: Any) -> bool:
        """Whether ``peer`` (a connection's address) is a block's server."""
        return (
            isinstance(peer, tuple)
            and bool(peer)
            and is_loopback(str(peer[0]))
            and state.is_mock_port(int(peer[1]))
        )

    def stale(peer: Any, host: str, port: int | None) -> bool:
        """Whether a connection to ``peer`` (its address) for ``host`` goes to
        a real host that the block intercepts."""
        if not peer or not isinstance(peer, tuple):
            return False
        if reaches_mock(peer):
            return False
        if port is None:
            return False
        host = bare_host(host)
        if is_address(host):
            return state.decide(host, port)[0] == REDIRECT
        return state.address_for(host, port) is not None

    for name in ("httpcore", "httpcore2"):
        module = _MODULES.get(name)
        if module is not None:
            _wrap_httpcore(module, state, reaches_mock, stale)
    urllib3 = _MODULES.get("urllib3")
    if urllib3 is not None:
        _wrap_urllib3(urllib3, state, stale)


def _wrap(cls: type, name: str, replacement: Any) -> None:
    _originals.append((cls, name, vars(cls).get(name)))
    setattr(cls, name, replacement)


def _httpcore_stale(
    connection: Any, request: Any, reaches_mock: Any, stale: Any
) -> bool:
    inner = getattr(connection, "_connection", None)
    stream = getattr(inner, "_network_stream", None)
    if stream is None:
        return False
    peer = _peer_of(stream)
    if reaches_mock(peer):  # every request of a client in a block
        return False
    url = request.url
    port = url.port or {b"https": 443, b"http": 80}.get(url.scheme)
    return bool(stale(peer, url.host.decode(), port))


def _peer_of(stream: Any) -> Any:
    """The address ``stream`` (an httpcore network stream) is connected to."""
    try:
        peer = _peers.get(stream)
    except TypeError:  # pragma: no cover - a stream without weak references
        return stream.get_extra_info("server_addr")
    if peer is None:
        peer = stream.get_extra_info("server_addr")
        if isinstance(peer, tuple):
            _peers[stream] = peer
    return peer


def _wrap_httpcore(
    module: Any, state: Interception, reaches_mock: Any, stale: Any
) -> None:
    sync_cls, async_cls = module.HTTPConnection, module.AsyncHTTPConnection
    handle, handle_async = sync_cls.handle_request, async_cls.handle_async_request
    not_available = module.ConnectionNotAvailable

    def handle_request(self: Any, request: Any) -> Any:
        if state.active and _httpcore_stale(self, request, reaches_mock, stale):
            self.close()
            raise not_available()
        return handle(self, request)

    async def handle_async_request(self: Any, request: Any) -> Any:
        if state.active and _httpcore_stale(self, request, reaches_mock, stale):
            await self.aclose()
            raise not_available()
        return await handle_async(self, request)

    _wrap(sync_cls, "handle_request", handle_request)
    _wrap(async_cls, "handle_async_request", handle_async_request)


def _wrap_urllib3(module: Any, state: Interception, stale: Any) -> None:
    cls = module.HTTPConnectionPool
    get_conn = cls._get_conn

    def _get_conn(self: Any, timeout: Any = None) -> Any:
        conn = get_conn(self, timeout)
        sock = getattr(conn, "sock", None)
        if state.active and sock is not None:
            try:
                peer = sock.getpeername()
            except (OSError, AttributeError):
                return conn
            if stale(peer, self.host, self.port):
                conn.close()  # urllib3 connects it again before sending
        return conn

    _wrap(cls, "_get_conn", _get_conn)


def restore() -> None:
    """Put back the methods :func:`install` replaced."""
    if _peers:  # clear() walks the mapping even when it is empty
        _peers.clear()
    while _originals:
        cls, name, original = _originals.pop()
        if original is None:
            delattr(cls, name)
        else:
            setattr(cls, name, original)
