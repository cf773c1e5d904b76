"""Name look-ups on asyncio's loop, answered without a worker thread.

``loop.getaddrinfo()`` (which aiohttp's default resolver, httpx through anyio,
and ``asyncio.open_connection`` use) runs ``socket.getaddrinfo`` in the loop's
default executor: a thread hop for every new connection. While a
``mock_external_urls=True`` block runs, ``asyncio.BaseEventLoop.getaddrinfo``
answers an intercepted name at once, with the address ``socket.getaddrinfo``
would give it (see ``_socket``); any other name goes to the executor as usual.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ._socket import answer, port_number

if TYPE_CHECKING:
    from . import Interception

__all__ = ["CLIENT", "INCOMPATIBLE", "PATCHED_NAMES", "install", "restore"]

CLIENT = "asyncio"

#: The name wrapped, with the parameters expected.
PATCHED_NAMES: dict[str, tuple[str, ...]] = {
    "BaseEventLoop.getaddrinfo": ("self", "host", "port"),
}

#: The standard library does not change under us.
INCOMPATIBLE: str | None = None

_originals: dict[str, Any] = {}


def install(state: Interception) -> None:
    """Wrap ``asyncio.BaseEventLoop.getaddrinfo``."""
    cls = asyncio.BaseEventLoop
    original = cls.getaddrinfo
    _originals["getaddrinfo"] = original

    async def getaddrinfo(
        self: asyncio.BaseEventLoop,
        host: Any,
        port: Any,
        *,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> Any:
        name = host.decode("idna") if isinstance(host, bytes) else host
        if isinstance(name, str):
            address = state.address_for(name, port_number(port))
            if address is not None:
                return answer(address, port, family, type)
        return await original(
            self, host, port, family=family, type=type, proto=proto, flags=flags
        )

    cls.getaddrinfo = getaddrinfo  # type: ignore[method-assign]


def restore() -> None:
    """Put back the name :func:`install` replaced."""
    original = _originals.pop("getaddrinfo", None)
    if original is not None:
        asyncio.BaseEventLoop.getaddrinfo = original  # type: ignore[method-assign]
