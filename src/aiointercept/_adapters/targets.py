"""What the interception knows of the running blocks and of host names: the
blocks as targets, the connections sent to them, passthrough entries, and
the rules that tell one kind of host from another."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from yarl import URL

if TYPE_CHECKING:
    from aiointercept._core.dispatch import Dispatcher
    from aiointercept._tls import TlsSettings

__all__ = [
    "Connection",
    "InterceptTarget",
    "PassthroughHost",
    "bare_host",
    "is_address",
    "is_local_name",
    "is_loopback",
]


@dataclass(frozen=True, slots=True)
class PassthroughHost:
    """A host whose requests reach the real network (scheme and port optional)."""

    scheme: str | None
    host: str
    port: int | None

    @classmethod
    def parse(cls, entry: str) -> PassthroughHost:
        """Parse ``"https://h"``, ``"http://h:8080"``, ``"h:8080"`` or ``"h"``;
        a part left out matches anything. A URL's path, query and fragment
        (``"http://localhost:8080/status"``) are ignored: the entry stands for
        its host."""
        has_scheme = "://" in entry
        url = URL(entry if has_scheme else f"//{entry}")
        if has_scheme and url.scheme not in ("http", "https"):
            raise ValueError(f"passthrough entries use http or https, got {entry!r}")
        if not url.host:
            raise ValueError(f"invalid passthrough host {entry!r}")
        return cls(
            scheme=url.scheme if has_scheme else None,
            host=bare_host(url.host),
            port=url.port if has_scheme else url.explicit_port,
        )

    def matches(self, scheme: str | None, host: str, port: int | None) -> bool:
        return (
            self.host == host
            and (self.scheme is None or scheme is None or self.scheme == scheme)
            and (self.port is None or port is None or self.port == port)
        )


class InterceptTarget:
    """One running ``mock_external_urls=True`` block, as the adapters see it."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        port: int,
        passthrough: Sequence[PassthroughHost],
        *,
        passthrough_unmatched: bool = False,
        block_network: bool = True,
        tls: Mapping[tuple[str, int | None], TlsSettings] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        #: The port of the block's server, on 127.0.0.1.
        self.port = port
        self.passthrough = tuple(passthrough)
        #: Whether this block lets any connection out (the guard asks).
        self.allows_any = passthrough_unmatched or not block_network
        #: What ``m.tls()`` set, by (host, port or ``None`` for any port); the
        #: block's own mapping, so that a later call applies at once.
        self.tls: Mapping[tuple[str, int | None], TlsSettings] = (
            {} if tls is None else tls
        )

    def has_route_for(self, scheme: str | None, host: str, port: int | None) -> bool:
        """Whether a route, or an interaction of the block's cassette, names
        this host (and port, unless ``None``)."""
        if port is None:
            return any(named == host for _, named, _ in self._hosts())
        dispatcher = self.dispatcher
        if dispatcher.router.has_host(scheme, host, port):
            return True
        cassette = dispatcher.cassette
        if cassette is None:
            return False
        hosts = cassette.hosts
        if scheme is not None:
            return (scheme, host, port) in hosts
        return ("http", host, port) in hosts or ("https", host, port) in hosts

    def names_port(self, port: int) -> bool:
        """Whether a route or a cassette's interaction names ``port``."""
        if self.dispatcher.router.names_port(port):
            return True
        cassette = self.dispatcher.cassette
        return cassette is not None and any(p == port for _, _, p in cassette.hosts)

    def _hosts(self) -> Iterable[tuple[str, str, int]]:
        """(scheme, host, port) of the block's exact routes and its cassette's
        interactions."""
        yield from self.dispatcher.router.hosts()
        cassette = self.dispatcher.cassette
        if cassette is not None:
            yield from cassette.hosts

    @property
    def records(self) -> bool:
        """Whether the block's cassette records what it cannot replay (then
        loopback hosts are recorded too)."""
        cassette = self.dispatcher.cassette
        return cassette is not None and cassette.records

    def passes_through(self, scheme: str | None, host: str, port: int | None) -> bool:
        return any(entry.matches(scheme, host, port) for entry in self.passthrough)


@dataclass(frozen=True, slots=True)
class Connection:
    """A connection sent to a block's server, as its client opened it."""

    #: The host the client asked for: a name, or an IP address.
    host: str
    #: The port the client asked for.
    port: int
    #: The ident of the thread that connected with a blocking socket (a
    #: synchronous client, which holds that thread until its response
    #: comes); ``None`` for an event loop's non-blocking socket.
    thread: int | None


def bare_host(host: str) -> str:
    """``host`` as the decision compares it: lower case, no trailing dot, no
    IPv6 brackets."""
    return host.strip("[]").rstrip(".").lower()


@functools.lru_cache(maxsize=512)
def is_address(host: str) -> bool:
    """Whether ``host`` is an IP address (with an IPv6 zone, perhaps)."""
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True


def is_local_name(host: str) -> bool:
    """Whether ``host`` (bare) is ``localhost`` or a name under it, which
    always stand for this machine (RFC 6761)."""
    return host == "localhost" or host.endswith(".localhost")


@functools.lru_cache(maxsize=512)
def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback IP address (names are not resolved);
    cached, as aiohttp's connector asks for every request."""
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1
    return address.is_loopback
