"""Interception of hard-coded URLs (``mock_external_urls=True``).

This module decides where a connection really goes; the adapters beside it
ask, each for one client, at the most stable hook that client offers:

``_aiohttp``
    aiohttp's ``TCPConnector`` (resolution, TLS and pooled connections);
``_httpcore``
    httpx, through the connection pools of httpcore underneath it;
``_urllib3``
    requests, through the connection pools of urllib3 underneath it;
``_socket``
    the guard: any other TCP connection to an address outside this machine
    fails with :exc:`~aiointercept.NetworkBlockedError`.

An adapter is imported only when its client is installed, and every adapter
is installed when the first ``mock_external_urls=True`` block starts and
removed when the last one ends, whatever the order in which blocks end. Each
adapter checks at import that the names it patches are still there with the
parameters it expects; if a client release changed them, entering a block
raises :exc:`RuntimeError` instead of letting a request out.

Routing, recording and replies stay in the core and the server: an adapter
only sends a connection to the port of the block's server that stands for
the URL's scheme, and the server rebuilds the URL from that port and the
``Host`` header. The synchronous clients' adapters also name the thread that
sent the request (:data:`SENDER_THREAD_HEADER`), so that a request that
blocks the test's own loop is not left waiting for that loop.
"""

from __future__ import annotations

import contextvars
import importlib
import importlib.util
import inspect
import ipaddress
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from yarl import URL

if TYPE_CHECKING:
    from aiointercept._core.dispatch import Dispatcher

__all__ = [
    "ADAPTERS",
    "PROXYING",
    "SENDER_THREAD_HEADER",
    "Adapter",
    "InterceptTarget",
    "Interception",
    "PassthroughHost",
    "interception",
    "sender_thread",
]


class Adapter(Protocol):
    """What an adapter module provides."""

    #: The client it adapts, as users know it (``"httpx"``).
    CLIENT: str
    #: The private or public names it patches, with the parameters expected.
    PATCHED_NAMES: dict[str, tuple[str, ...]]
    #: Why the installed client cannot be patched, or ``None``.
    INCOMPATIBLE: str | None

    def install(self, state: Interception) -> None: ...

    def restore(self) -> None: ...


#: The adapters, in installation order: (module that must be importable for
#: the adapter to apply, adapter module). The guard comes last, so that it
#: wraps what the clients use.
ADAPTERS: tuple[tuple[str, str], ...] = (
    ("aiohttp", "._aiohttp"),
    ("httpcore", "._httpcore"),
    ("urllib3", "._urllib3"),
    ("socket", "._socket"),
)


#: The header a synchronous client's adapter adds to each request it sends to
#: the mock: the ident of the sending thread. When that thread runs the
#: test's event loop, the request blocks the loop, and the server answers a
#: route that needs the loop at once instead of waiting for it. The server
#: removes the header before the request is matched or recorded.
SENDER_THREAD_HEADER = "X-Aiointercept-Sender-Thread"


def sender_thread() -> str:
    """The value of :data:`SENDER_THREAD_HEADER` for the running thread."""
    return str(threading.get_ident())


#: Set while the mock's own passthrough proxy connects to a real host on a
#: request's behalf (``passthrough_unmatched``, recording): the guard lets
#: those connections through.
PROXYING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "aiointercept_proxying", default=False
)


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

    def matches(self, scheme: str | None, host: str, port: int) -> bool:
        return (
            self.host == host
            and (self.scheme is None or scheme is None or self.scheme == scheme)
            and (self.port is None or self.port == port)
        )


class InterceptTarget:
    """One running ``mock_external_urls=True`` block, as the adapters see it."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        http_port: int,
        https_port: int,
        passthrough: Sequence[PassthroughHost],
        *,
        passthrough_unmatched: bool = False,
        block_network: bool = True,
    ) -> None:
        self.dispatcher = dispatcher
        self.http_port = http_port
        self.https_port = https_port
        self.passthrough = tuple(passthrough)
        #: Whether this block lets any connection out (the guard asks).
        self.allows_any = passthrough_unmatched or not block_network

    def has_route_for(self, scheme: str | None, host: str, port: int) -> bool:
        """Whether a route, or an interaction of the block's cassette, names
        this host (loopback hosts are intercepted only then)."""
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

    @property
    def records(self) -> bool:
        """Whether the block's cassette records what it cannot replay (then
        loopback hosts are recorded too)."""
        cassette = self.dispatcher.cassette
        return cassette is not None and cassette.records

    def passes_through(self, scheme: str | None, host: str, port: int) -> bool:
        return any(entry.matches(scheme, host, port) for entry in self.passthrough)


class Interception:
    """The process-wide interception state: the running blocks, the installed
    adapters, and what the guard has learnt of host names."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: tuple[InterceptTarget, ...] = ()
        self._installed: list[Adapter] = []
        #: address -> host names that socket.getaddrinfo (or aiohttp's
        #: resolver) gave it while a block ran, for the guard.
        self._names: dict[str, set[str]] = {}

    @property
    def installed(self) -> bool:
        return bool(self._installed)

    def activate(self, target: InterceptTarget) -> None:
        """Start sending connections to ``target``'s server; the first block
        installs the adapters (or raises, installing none)."""
        with self._lock:
            if not self._targets:
                self._install()
            self._targets = (*self._targets, target)

    def deactivate(self, target: InterceptTarget) -> None:
        """Stop sending connections to ``target``; the last block removes the
        adapters."""
        with self._lock:
            self._targets = tuple(t for t in self._targets if t is not target)
            if not self._targets:
                self._restore()

    def chain(self, dispatcher: Dispatcher) -> Sequence[Dispatcher]:
        """The running blocks' dispatchers, the most recent first, when
        ``dispatcher`` is one of them."""
        chain = [t.dispatcher for t in reversed(self._targets)]
        return chain if dispatcher in chain else (dispatcher,)

    # -- the decision -------------------------------------------------------------

    def target_port(self, scheme: str | None, host: str, port: int) -> int | None:
        """The port of the mock that stands for this request's scheme, or
        ``None`` when the request goes to the real network (a loopback address
        or a passthrough host that no running block routes).

        ``scheme`` may be ``None`` when the caller cannot know it; the request
        then goes to the port that stands for ``http``.
        """
        targets = self._targets
        if not targets:
            return None
        host = bare_host(host)
        if scheme in ("ws", "wss"):  # a WebSocket upgrade, under its http(s) URL
            scheme = "https" if scheme == "wss" else "http"
        if not any(t.has_route_for(scheme, host, port) for t in targets) and (
            (is_loopback(host) and not any(t.records for t in targets))
            or any(t.passes_through(scheme, host, port) for t in targets)
        ):
            return None
        front = targets[-1]
        return front.https_port if scheme == "https" else front.http_port

    def is_mock_port(self, port: int) -> bool:
        """Whether ``port`` (on 127.0.0.1) is one of a running block's."""
        return any(port in (t.http_port, t.https_port) for t in self._targets)

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

    def allows_connection(self, address: str, port: int) -> bool:
        """Whether the guard lets a TCP connection to ``address`` (an IP address
        or, rarely, a host name) and ``port`` through."""
        targets = self._targets
        if not targets or is_loopback(address) or bare_host(address) == "localhost":
            return True
        if any(t.allows_any for t in targets):
            return True
        hosts = {bare_host(address), *self.names_of(address)}
        return any(
            t.passes_through(None, host, port) for t in targets for host in hosts
        )

    # -- installing and removing the adapters ------------------------------------------

    def _install(self) -> None:
        adapters = [
            _load(module) for requirement, module in ADAPTERS if _has(requirement)
        ]
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


def bare_host(host: str) -> str:
    """``host`` as the decision compares it: lower case, no trailing dot, no
    IPv6 brackets."""
    return host.strip("[]").rstrip(".").lower()


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback IP address (names are not resolved)."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


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
