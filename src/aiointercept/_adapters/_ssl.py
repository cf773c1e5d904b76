"""Trust in the mock's certificates, at the standard library's :mod:`ssl`.

An intercepted ``https`` request is a real TLS handshake with the block's
server, which shows a certificate issued by the process's certificate
authority (see :mod:`aiointercept._tls`). While at least one
``mock_external_urls=True`` block is running, ``ssl.SSLContext.wrap_socket``
(blocking clients: ``http.client``, urllib3, httpcore's sync backend) and
``ssl.SSLContext.wrap_bio`` (asyncio, trio, anyio) add that authority to the
client's context the first time the context wraps a connection to an
intercepted host, however and whenever the context was made. Everything else
about the context stays as the client set it: ``verify=False`` still turns
verification off, client certificates are still sent, and a context that
pins a fingerprint or checks in its own way still does.

A context cannot forget a certificate authority: one that trusted the mock's
keeps trusting it for the rest of the process. The authority's key never
leaves memory, so only the mock can show a certificate that it signed.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from aiointercept._tls import trust

if TYPE_CHECKING:
    from . import Interception

__all__ = ["CLIENT", "INCOMPATIBLE", "PATCHED_NAMES", "install", "restore"]

CLIENT = "ssl"

#: The standard-library names wrapped, with the parameters expected.
PATCHED_NAMES: dict[str, tuple[str, ...]] = {
    "SSLContext.wrap_socket": ("self", "sock", "server_side"),
    "SSLContext.wrap_bio": ("self", "incoming", "outgoing", "server_side"),
}

#: The standard library does not change under us.
INCOMPATIBLE: str | None = None

_originals: dict[str, Any] = {}


def install(state: Interception) -> None:
    """Wrap ``ssl.SSLContext.wrap_socket`` and ``wrap_bio``."""
    cls = ssl.SSLContext
    wrap_socket, wrap_bio = cls.wrap_socket, cls.wrap_bio
    _originals.update(wrap_socket=wrap_socket, wrap_bio=wrap_bio)

    def trusting(context: ssl.SSLContext, server_side: bool, hostname: Any) -> None:
        if server_side or context.verify_mode == ssl.CERT_NONE:
            return
        if isinstance(hostname, bytes):
            hostname = hostname.decode("idna")
        if isinstance(hostname, str) and state.would_intercept(hostname):
            trust(context)

    def trusting_wrap_socket(
        self: ssl.SSLContext,
        sock: Any,
        server_side: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        hostname = kwargs.get("server_hostname", args[2] if len(args) > 2 else None)
        trusting(self, server_side, hostname)
        return wrap_socket(self, sock, server_side, *args, **kwargs)

    def trusting_wrap_bio(
        self: ssl.SSLContext,
        incoming: Any,
        outgoing: Any,
        server_side: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        hostname = kwargs.get("server_hostname", args[0] if args else None)
        trusting(self, server_side, hostname)
        return wrap_bio(self, incoming, outgoing, server_side, *args, **kwargs)

    cls.wrap_socket = trusting_wrap_socket  # type: ignore[method-assign]
    cls.wrap_bio = trusting_wrap_bio  # type: ignore[method-assign]


def restore() -> None:
    """Put back the names :func:`install` replaced."""
    for name, original in _originals.items():
        setattr(ssl.SSLContext, name, original)
    _originals.clear()
