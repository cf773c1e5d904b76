"""The requests adapter of ``mock_external_urls=True``, at urllib3's pools.

requests sends every request through a urllib3 connection pool, chosen per
host by its ``HTTPAdapter``. One public method is wrapped, on the class, while
at least one such block is running:

``HTTPConnectionPool.urlopen(method, url, body, headers, ...)``
    (``HTTPSConnectionPool`` inherits it) for requests and for code that uses
    urllib3 directly (``PoolManager``, ``HTTPConnectionPool``).

An intercepted request is sent, with the same arguments, through a plain
HTTP pool of the adapter's own that connects to the mock's port for the
pool's scheme, with a ``Host`` header naming the host the pool was made
for (and one naming the sending thread, see ``SENDER_THREAD_HEADER``).
requests still reports the URL it was asked for (``response.url``, cookies,
redirects). The pool the request was meant for is not used, so a connection
to the real host that it kept from before the block is never used for an
intercepted request, and connections to the mock never enter it.
"""

from __future__ import annotations

import inspect
import threading
from typing import TYPE_CHECKING, Any

import urllib3
import urllib3.util

from . import SENDER_THREAD_HEADER, incompatibility, sender_thread

if TYPE_CHECKING:
    from . import Interception

__all__ = ["CLIENT", "INCOMPATIBLE", "PATCHED_NAMES", "install", "restore"]

CLIENT = "requests"

#: The urllib3 name the adapter wraps, with the parameters expected.
PATCHED_NAMES: dict[str, tuple[str, ...]] = {
    "HTTPConnectionPool.urlopen": ("self", "method", "url", "body", "headers"),
}

#: Set when urllib3 lacks what the adapter needs; reported on entering a block.
INCOMPATIBLE = incompatibility(
    "urllib3", getattr(urllib3, "__version__", "?"), urllib3, PATCHED_NAMES
)

#: How ``urlopen`` binds its arguments (read once: it is slow to compute).
_SIGNATURE = (
    inspect.signature(urllib3.HTTPConnectionPool.urlopen)
    if INCOMPATIBLE is None
    else None
)

_DEFAULT_PORTS = {"http": 80, "https": 443}


class _MockPool(urllib3.HTTPConnectionPool):
    """A pool of connections to one port of a block's server."""


_lock = threading.Lock()
_original: list[Any] = []
#: The mock's port -> the pool that connects to it.
_mock_pools: dict[int, _MockPool] = {}


def install(state: Interception) -> None:
    """Wrap ``HTTPConnectionPool.urlopen``."""
    original = urllib3.HTTPConnectionPool.urlopen
    signature = _SIGNATURE
    assert signature is not None  # checked on entering the block
    _original.append(original)

    def urlopen(
        self: urllib3.HTTPConnectionPool,
        method: str,
        url: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if isinstance(self, _MockPool):
            return original(self, method, url, *args, **kwargs)
        scheme, host, port = self.scheme, self.host or "", self.port
        if "://" in url and self.proxy is not None:  # forwarded through a proxy
            parsed = urllib3.util.parse_url(url)
            scheme, host, port = parsed.scheme or scheme, parsed.host or "", parsed.port
        port = port or _DEFAULT_PORTS.get(scheme, 80)
        target = state.target_port(scheme, host, port)
        if target is None:
            return original(self, method, url, *args, **kwargs)
        bound = signature.bind(self, method, url, *args, **kwargs)
        arguments = bound.arguments
        headers = dict(arguments.get("headers") or self.headers)
        if not any(name.lower() == "host" for name in headers):
            headers["Host"] = _netloc(scheme, host, port)
        headers[SENDER_THREAD_HEADER] = sender_thread()
        arguments.update(
            self=_mock_pool(target), headers=headers, assert_same_host=False
        )
        arguments.setdefault("retries", self.retries)
        arguments.setdefault("timeout", self.timeout)
        return original(*bound.args, **bound.kwargs)

    urllib3.HTTPConnectionPool.urlopen = urlopen  # type: ignore[method-assign]


def restore() -> None:
    """Put back the method :func:`install` replaced; close the mock's pools."""
    if _original:
        urllib3.HTTPConnectionPool.urlopen = _original.pop()  # type: ignore[method-assign]
    with _lock:
        pools = list(_mock_pools.values())
        _mock_pools.clear()
    for pool in pools:
        pool.close()


def _mock_pool(port: int) -> _MockPool:
    with _lock:
        pool = _mock_pools.get(port)
        if pool is None:
            pool = _mock_pools[port] = _MockPool("127.0.0.1", port, maxsize=32)
        return pool


def _netloc(scheme: str, host: str, port: int) -> str:
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return host if port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
