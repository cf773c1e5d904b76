"""Interception of hard-coded URLs (``mock_external_urls=True``).

The interception works on the standard library, under every client:

``_socket``
    ``socket.getaddrinfo`` answers a loopback address of aiointercept's own
    for an intercepted host name, and ``socket.socket.connect`` (and
    ``connect_ex``) sends a connection to such an address, or to an
    intercepted IP address, to the port of the block's server, deciding
    before a byte is sent; any other connection that would leave the machine
    fails with :exc:`~aiointercept.NetworkBlockedError` (the guard);
``_ssl``
    ``ssl.SSLContext.wrap_socket`` and ``wrap_bio`` make a client's context
    trust the process's certificate authority (see :mod:`aiointercept._tls`)
    the first time it wraps a connection to an intercepted host, so that the
    server's real TLS handshake succeeds.

Where the standard library does not see the traffic, a client hook remains:

``_pooled``
    a keep-alive connection that httpcore (httpx), httpcore2 (httpx2) or
    urllib3 (requests) pooled to a real host before the block is closed
    instead of reused for a host the block intercepts;
``_aiohttp``
    aiohttp's ``TCPConnector`` resolves names itself (aiodns, its DNS cache)
    and pools connections made before the block: it answers the same
    loopback address for intercepted hosts, and closes, instead of reusing,
    a pooled connection to the real host.

This module decides, for every one of them, where a connection really goes
(:class:`Interception`); ``targets`` holds what it decides from: the running
blocks, the connections sent to them, passthrough entries and the kinds of
host.
An adapter is imported only when its client is installed, and every adapter
is installed when the first ``mock_external_urls=True`` block starts and
removed when the last one ends, whatever the order in which blocks end. Each
adapter checks at import that the names it patches are still there with the
parameters it expects; if a client release changed them, entering a block
raises :exc:`RuntimeError` instead of letting a request out.

Routing, recording and replies stay in the core and the server: the server
learns the scheme from the connection (TLS or not), the host and port from the
``Host`` header, and the connecting thread and the address the client asked
for from :meth:`Interception.connection`.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import importlib.util
import inspect
import ipaddress
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .targets import (
    Connection,
    InterceptTarget,
    PassthroughHost,
    bare_host,
    is_address,
    is_local_name,
    is_loopback,
)

if TYPE_CHECKING:
    from aiointercept._core.dispatch import Dispatcher
    from aiointercept._tls import TlsSettings

__all__ = [
    "ADAPTERS",
    "BLOCK",
    "PASS",
    "PROXYING",
    "REDIRECT",
    "RESOLVE",
    "Adapter",
    "Connection",
    "InterceptTarget",
    "Interception",
    "PassthroughHost",
    "bare_host",
    "incompatibility",
    "interception",
    "is_address",
    "is_local_name",
    "is_loopback",
]


class Adapter(Protocol):
    """What an adapter module provides."""

    #: The client it adapts, as users know it (``"aiohttp"``).
    CLIENT: str
    #: The private or public names it patches, with the parameters expected.
    PATCHED_NAMES: dict[str, tuple[str, ...]]
    #: Why the installed client cannot be patched, or ``None``.
    INCOMPATIBLE: str | None

    def install(self, state: Interception) -> None: ...

    def restore(self) -> None: ...


#: The adapters, in installation order: (module that must be importable for
#: the adapter to apply, adapter module). The standard library's come last,
#: so that they wrap what the clients use.
ADAPTERS: tuple[tuple[str, str], ...] = (
    ("aiohttp", "._aiohttp"),
    ("socket", "._pooled"),
    ("asyncio", "._asyncio"),
    ("ssl", "._ssl"),
    ("socket", "._socket"),
)

#: The ports whose connections are intercepted whatever the routes: HTTP's
#: and HTTPS's. A connection to another port is intercepted only when a route
#: (or a cassette's interaction) names that port.
DEFAULT_PORTS = frozenset({80, 443})


#: Set while the mock's own passthrough proxy connects to a real host on a
#: request's behalf (``passthrough_unmatched``, recording): the guard lets
#: those connections through.
PROXYING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "aiointercept_proxying", default=False
)


#: What :meth:`Interception.decide` answers for a connection.
PASS = "pass"  # connect as asked
REDIRECT = "redirect"  # connect to the front block's server
RESOLVE = "resolve"  # an address of ours, for a host let out: resolve it for real
BLOCK = "block"  # the guard refuses it

#: The loopback addresses that stand for intercepted host names:
#: 127.77.0.1 onwards. Nothing listens there; the connection made to one
#: goes to the block's server instead, and one that slips past that never
#: leaves the machine.
_FIRST_ADDRESS = int(ipaddress.IPv4Address("127.77.0.1"))
_ADDRESS_LIMIT = 65000


class Interception:
    """The process-wide interception state: the running blocks, the installed
    adapters, the addresses given to intercepted names, the connections sent
    to the blocks' servers, and what the guard has learnt of host names."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: tuple[InterceptTarget, ...] = ()
        #: the ports of the running blocks' servers (on 127.0.0.1)
        self._ports: frozenset[int] = frozenset()
        #: the running blocks' dispatchers, the most recent first
        self._chain: tuple[Dispatcher, ...] = ()
        self._installed: list[Adapter] = []
        #: address -> host names that socket.getaddrinfo (or aiohttp's
        #: resolver) gave it while a block ran, for the guard.
        self._names: dict[str, set[str]] = {}
        #: intercepted name -> the loopback address that stands for it, and
        #: back; kept for the process, so that a name keeps its address.
        self._addresses: dict[str, str] = {}
        self._hosts_by_address: dict[str, str] = {}
        #: the client's local port -> the connection it made to a block
        self._connections: dict[int, Connection] = {}

    @property
    def installed(self) -> bool:
        return bool(self._installed)

    @property
    def active(self) -> bool:
        """Whether a ``mock_external_urls=True`` block is running."""
        return bool(self._targets)

    def activate(self, target: InterceptTarget) -> None:
        """Start sending connections to ``target``'s server; the first block
        installs the adapters (or raises, installing none)."""
        _refuse_uvloop()
        with self._lock:
            if not self._targets:
                self._install()
            self._targets = (*self._targets, target)
            self._changed()

    def deactivate(self, target: InterceptTarget) -> None:
        """Stop sending connections to ``target``; the last block removes the
        adapters."""
        with self._lock:
            self._targets = tuple(t for t in self._targets if t is not target)
            self._changed()
            if not self._targets:
                self._restore()

    def _changed(self) -> None:
        """Note what every request asks of the running blocks, once per block
        rather than per request (under the lock)."""
        targets = self._targets
        self._ports = frozenset(t.port for t in targets)
        self._chain = tuple(t.dispatcher for t in reversed(targets))

    def chain(self, dispatcher: Dispatcher) -> Sequence[Dispatcher]:
        """The running blocks' dispatchers, the most recent first, when
        ``dispatcher`` is one of them."""
        chain = self._chain
        return chain if dispatcher in chain else (dispatcher,)

    # -- the decision -------------------------------------------------------------

    def address_for(self, host: str, port: int | None) -> str | None:
        """The loopback address to answer for the host name ``host`` (asked
        with ``port``, or ``None``), or ``None`` when the name is resolved
        for real: a passthrough host, or a local name (``localhost``) that no
        route names, which resolves to loopback addresses, decided on as such
        when the client connects (see :meth:`decide`)."""
        targets = self._targets
        if not targets:
            return None
        name = bare_host(host)
        if not name or is_address(name):
            return None
        if not any(t.has_route_for(None, name, port) for t in targets) and (
            is_local_name(name)
            or any(t.passes_through(None, name, port) for t in targets)
        ):
            return None
        address = self._addresses.get(name)
        if address is None:
            with self._lock:
                address = self._addresses.get(name)
                if address is None:
                    count = len(self._addresses)
                    if count >= _ADDRESS_LIMIT:  # pragma: no cover - a bound
                        raise RuntimeError(
                            f"aiointercept has given out {count} addresses "
                            "to intercepted names; no more are left"
                        )
                    address = str(ipaddress.IPv4Address(_FIRST_ADDRESS + count))
                    self._hosts_by_address[address] = name
                    self._addresses[name] = address
        return address

    def host_at(self, address: str) -> str | None:
        """The intercepted name ``address`` stands for, or ``None``."""
        if address.startswith("::ffff:"):
            address = address[7:]
        return self._hosts_by_address.get(address)

    def decide(self, address: str, port: int) -> tuple[str, str]:
        """Where a TCP connection to ``address`` (an IP address) and ``port``
        goes: :data:`PASS`, :data:`REDIRECT`, :data:`RESOLVE` or
        :data:`BLOCK`, with the host the client asked for."""
        targets = self._targets
        if not targets:
            return PASS, address
        name = self.host_at(address)
        if name is not None:
            if self.intercepts_port(name, port):
                return REDIRECT, name
            if self.lets_out(name, port):
                return RESOLVE, name
            return BLOCK, name
        host = bare_host(address).split("%")[0]
        if is_loopback(host):
            if self.is_mock_port(port):
                return PASS, host
            if any(t.has_route_for(None, host, port) or t.records for t in targets):
                return REDIRECT, host
            return PASS, host
        if self.passes(host, port):
            return PASS, host
        if self.intercepts_port(host, port):
            return REDIRECT, host
        if any(t.allows_any for t in targets):
            return PASS, host
        return BLOCK, host

    def intercepts_port(self, host: str, port: int) -> bool:
        """Whether a connection to ``host`` on ``port`` goes to the mock: the
        ports of HTTP and HTTPS, and those that a route names."""
        return port in DEFAULT_PORTS or any(
            t.has_route_for(None, host, port) or t.names_port(port)
            for t in self._targets
        )

    def lets_out(self, host: str, port: int) -> bool:
        """Whether a connection to ``host`` (a name or an address) that the
        mock does not take may reach the real network."""
        return any(t.allows_any for t in self._targets) or self.passes(host, port)

    def passes(self, host: str, port: int) -> bool:
        """Whether ``host`` (a name, or an address that a name resolved to)
        is a passthrough host on ``port``."""
        hosts = {host, *self.names_of(host)}
        return any(
            t.passes_through(None, name, port) for t in self._targets for name in hosts
        )

    def sends_out(self, host: str, port: int) -> bool:
        """Whether a request that reaches the mock through its proxy, for
        ``host`` (a name or an address) and ``port``, goes on to the real
        host, as an in-process connection would (see :meth:`decide`): a
        passthrough host, or a loopback one, that no route names."""
        targets = self._targets
        name = bare_host(host)
        if any(t.has_route_for(None, name, port) for t in targets):
            return False
        if is_local_name(name) or is_loopback(name):
            return not self.is_mock_port(port) and not any(t.records for t in targets)
        return any(t.passes_through(None, name, port) for t in targets)

    @property
    def front_port(self) -> int:
        """The port of the server of the block entered last."""
        return self._targets[-1].port

    def is_mock_port(self, port: int) -> bool:
        """Whether ``port`` (on 127.0.0.1) is one of a running block's."""
        return port in self._ports

    def would_intercept(self, host: str) -> bool:
        """Whether a connection to ``host`` (a client's ``server_hostname``)
        goes to a block's server: a name given one of our addresses, or an IP
        address that is not let out."""
        if not self._targets:
            return False
        name = bare_host(host)
        if name in self._addresses:
            return True
        if is_local_name(name) or is_loopback(name):
            # taken by the mock when a route names it, or a block records
            return any(
                t.records or t.has_route_for(None, name, None) for t in self._targets
            )
        if not is_address(name):
            return False
        return self.decide(name, 443)[0] == REDIRECT

    def tls_for(self, host: str, port: int | None) -> TlsSettings | None:
        """What ``m.tls()`` set for ``host`` (and ``port``), in the block
        entered last that set something."""
        for target in reversed(self._targets):
            settings = target.tls.get((host, port)) or target.tls.get((host, None))
            if settings is not None:
                return settings
        return None

    # -- the connections sent to a block --------------------------------------------

    def connected(self, local_port: int, connection: Connection) -> None:
        """Note that the client socket bound to ``local_port`` connects to a
        block's server for ``connection``."""
        connections = self._connections
        if len(connections) > 4096:  # a bound, not a cache: start again
            connections.clear()
        connections[local_port] = connection

    def connection(self, peer_port: int) -> Connection | None:
        """The connection whose client socket is bound to ``peer_port``."""
        return self._connections.get(peer_port)

    def connection_of(self, transport: Any) -> Connection | None:
        """The connection a server-side ``transport`` (plain or TLS) serves,
        when the interception sent it, else ``None``."""
        peer = transport.get_extra_info("peername") if transport is not None else None
        return self._connections.get(peer[1]) if peer else None

    # -- what the guard knows ---------------------------------------------------------

    def remember(self, host: str, addresses: Iterable[str]) -> None:
        """Note that ``host`` resolved to ``addresses``, so that the guard can
        name it and apply ``passthrough`` entries given by name."""
        name = bare_host(host)
        names = self._names
        if len(names) > 4096:  # a bound, not a cache: start again
            names.clear()
        for address in addresses:
            names.setdefault(address, set()).add(name)

    def names_of(self, address: str) -> set[str]:
        return self._names.get(address, set())

    # -- installing and removing the adapters ------------------------------------------

    def _install(self) -> None:
        adapters = _adapters()
        problems = [a.INCOMPATIBLE for a in adapters if a.INCOMPATIBLE is not None]
        if problems:
            raise RuntimeError("; ".join(problems))
        try:
            for adapter in adapters:
                adapter.install(self)
                self._installed.append(adapter)
        except BaseException:
            self._restore()
            raise

    def _restore(self) -> None:
        installed, self._installed = self._installed, []
        try:
            for adapter in reversed(installed):
                adapter.restore()
        finally:
            self._names.clear()
            self._connections.clear()


def _refuse_uvloop() -> None:
    """uvloop connects in C, where the interception cannot see it: refuse it
    rather than let its connections out."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # a synchronous block, or trio
        return
    if type(loop).__module__.partition(".")[0] == "uvloop":
        raise RuntimeError(
            "mock_external_urls=True cannot run on uvloop: it opens connections "
            "in C, out of the interception's sight. Run the test on asyncio's "
            "own event loop, or point the client at m.server_url without "
            "mock_external_urls."
        )


_available: dict[str, bool] = {}


def _has(module: str) -> bool:
    """Whether ``module`` can be imported (found once per process)."""
    found = _available.get(module)
    if found is None:
        found = _available[module] = importlib.util.find_spec(module) is not None
    return found


def _load(module: str) -> Adapter:
    adapter: Adapter = importlib.import_module(module, __name__)
    return adapter


_loaded: list[Adapter] = []


def _adapters() -> list[Adapter]:
    """The adapters of the clients installed, in :data:`ADAPTERS`' order,
    imported once per process: every block installs them, and looking them
    up again took a third of that."""
    if not _loaded:
        adapters = [
            _load(module) for requirement, module in ADAPTERS if _has(requirement)
        ]
        _loaded.extend(adapters)
    return _loaded


def incompatibility(
    client: str, version: str, module: object, patched: dict[str, tuple[str, ...]]
) -> str | None:
    """Describe what is missing from ``module`` (of ``client``) for an adapter,
    or ``None`` when every patched name (``"Class.method"``) is there and takes
    the parameters expected (first)."""
    problems = []
    for name, expected in patched.items():
        label = f"{getattr(module, '__name__', client)}.{name}"
        owner, _, attribute_name = name.rpartition(".")
        attribute = getattr(getattr(module, owner, None), attribute_name, None)
        if attribute is None or not callable(attribute):
            problems.append(f"{label} is missing")
            continue
        parameters = tuple(inspect.signature(attribute).parameters)
        if parameters[: len(expected)] != expected:
            problems.append(f"{label}{parameters} no longer takes {expected}")
    if not problems:
        return None
    return f"mock_external_urls=True cannot patch {client} {version}: " + "; ".join(
        problems
    )


#: The one interception state of the process.
interception = Interception()
