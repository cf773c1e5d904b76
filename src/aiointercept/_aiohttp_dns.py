"""The aiohttp patch behind ``mock_external_urls=True``.

Two private methods of :class:`aiohttp.TCPConnector` are wrapped, on the class,
while at least one such block is running:

``_get_ssl_context(req)``
    decides, per request, whether its host is intercepted; for an intercepted
    request it returns ``None``, so the connection to the mock is plain TCP even
    for ``https://`` (the mock knows the scheme from the port it is sent to).
``_resolve_host(host, port, traces)``
    answers the mock's loopback address for intercepted hosts, so sessions
    created before the block, sessions with a warm DNS cache, custom resolvers
    and ``TCPConnector`` subclasses are all covered.

Both names are checked when this module is imported; if aiohttp changes them,
entering a ``mock_external_urls=True`` block raises a clear error instead of
silently reaching the real network. The patch is installed when the first block
starts and the originals are put back when the last one ends, whatever the
order in which blocks end.
"""

from __future__ import annotations

import contextvars
import inspect
import ipaddress
import socket
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

if TYPE_CHECKING:
    from ._dispatch import Dispatcher

__all__ = ["PATCHED_NAMES", "InterceptTarget", "Interception", "interception"]

#: The private aiohttp names the patch relies on, with the parameters expected.
PATCHED_NAMES: dict[str, tuple[str, ...]] = {
    "_resolve_host": ("self", "host", "port", "traces"),
    "_get_ssl_context": ("self", "req"),
}


def _check_aiohttp() -> str | None:
    """Describe what is missing from aiohttp for the patch, or ``None``."""
    problems = []
    for name, expected in PATCHED_NAMES.items():
        func = getattr(aiohttp.TCPConnector, name, None)
        if func is None or not callable(func):
            problems.append(f"aiohttp.TCPConnector.{name} is missing")
            continue
        parameters = tuple(inspect.signature(func).parameters)
        if parameters != expected:
            problems.append(
                f"aiohttp.TCPConnector.{name}{parameters} no longer takes {expected}"
            )
    if not problems:
        return None
    return (
        f"mock_external_urls=True cannot patch aiohttp {aiohttp.__version__}: "
        + "; ".join(problems)
    )


#: Set when aiohttp lacks what the patch needs; reported on entering a block.
INCOMPATIBLE = _check_aiohttp()


@dataclass(frozen=True, slots=True)
class PassthroughHost:
    """A host whose requests reach the real network (scheme and port optional)."""

    scheme: str | None
    host: str
    port: int | None

    @classmethod
    def parse(cls, entry: str) -> PassthroughHost:
        """Parse ``"https://h"``, ``"http://h:8080"``, ``"h:8080"`` or ``"h"``;
        a part left out matches anything."""
        has_scheme = "://" in entry
        url = URL(entry if has_scheme else f"//{entry}")
        if has_scheme and url.scheme not in ("http", "https"):
            raise ValueError(f"passthrough entries use http or https, got {entry!r}")
        if not url.host:
            raise ValueError(f"invalid passthrough host {entry!r}")
        if url.path not in ("", "/") or url.query_string or url.fragment:
            raise ValueError(
                "passthrough entries name a host (scheme and port optional), "
                f"not a path: {entry!r}"
            )
        return cls(
            scheme=url.scheme if has_scheme else None,
            host=_bare(url.host),
            port=url.port if has_scheme else url.explicit_port,
        )

    def matches(self, scheme: str | None, host: str, port: int) -> bool:
        return (
            self.host == host
            and (self.scheme is None or scheme is None or self.scheme == scheme)
            and (self.port is None or self.port == port)
        )


class InterceptTarget:
    """One running ``mock_external_urls=True`` block, as the patch sees it."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        http_port: int,
        https_port: int,
        passthrough: Sequence[PassthroughHost],
    ) -> None:
        self.dispatcher = dispatcher
        self.http_port = http_port
        self.https_port = https_port
        self.passthrough = tuple(passthrough)

    def route_hosts(self) -> set[tuple[str, str, int]]:
        with self.dispatcher.lock:
            return self.dispatcher.router.exact_hosts()

    def has_route_for(self, scheme: str | None, host: str, port: int) -> bool:
        return any(
            h == host and p == port and (scheme is None or s == scheme)
            for s, h, p in self.route_hosts()
        )

    def passes_through(self, scheme: str | None, host: str, port: int) -> bool:
        return any(entry.matches(scheme, host, port) for entry in self.passthrough)


# The decision taken in _get_ssl_context, read back in _resolve_host: both run
# in the same task, one after the other, for each new connection.
_decision: contextvars.ContextVar[tuple[str, int, int | None]] = contextvars.ContextVar(
    "aiointercept_decision"
)


class Interception:
    """The process-wide patch state: active targets and the saved originals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: list[InterceptTarget] = []
        self._originals: dict[str, Any] = {}
        self._bypass: weakref.WeakSet[aiohttp.TCPConnector] = weakref.WeakSet()

    @property
    def installed(self) -> bool:
        return bool(self._originals)

    def activate(self, target: InterceptTarget) -> None:
        if INCOMPATIBLE is not None:
            raise RuntimeError(INCOMPATIBLE)
        with self._lock:
            if not self._targets:
                self._install()
            self._targets.append(target)

    def deactivate(self, target: InterceptTarget) -> None:
        with self._lock:
            self._targets = [t for t in self._targets if t is not target]
            if not self._targets:
                self._restore()

    def chain(self, dispatcher: Dispatcher) -> Sequence[Dispatcher]:
        """The running blocks' dispatchers, the most recent first, when
        ``dispatcher`` is one of them."""
        chain = [t.dispatcher for t in reversed(self._targets)]
        return chain if dispatcher in chain else (dispatcher,)

    def bypass(self, connector: aiohttp.TCPConnector) -> None:
        """Let this connector (the passthrough proxy's) use the real network."""
        self._bypass.add(connector)

    def target_port(
        self,
        connector: aiohttp.TCPConnector,
        scheme: str | None,
        host: str,
        port: int,
    ) -> int | None:
        """The mock port for this request, or ``None`` to use the real network."""
        targets = self._targets
        if not targets or connector in self._bypass:
            return None
        host = host.rstrip(".").lower()
        if scheme in ("ws", "wss"):  # a WebSocket upgrade, under its http(s) URL
            scheme = "https" if scheme == "wss" else "http"
        routed = any(t.has_route_for(scheme, host, port) for t in targets)
        if not routed:
            if _is_loopback(host):
                return None  # local services, and the mock itself, stay reachable
            if any(t.passes_through(scheme, host, port) for t in targets):
                return None
        front = targets[-1]
        return front.https_port if scheme in ("https", "wss") else front.http_port

    def _install(self) -> None:
        connector = aiohttp.TCPConnector
        original_ssl = connector._get_ssl_context
        original_resolve = connector._resolve_host
        self._originals = {
            "_get_ssl_context": original_ssl,
            "_resolve_host": original_resolve,
        }
        state = self

        def _get_ssl_context(self: aiohttp.TCPConnector, req: Any) -> Any:
            url = req.url
            port = req.port
            target = state.target_port(self, url.scheme, url.raw_host or "", port)
            _decision.set((_bare(url.raw_host or ""), port, target))
            if target is None:
                return original_ssl(self, req)
            return None

        async def _resolve_host(
            self: aiohttp.TCPConnector,
            host: str,
            port: int,
            traces: Sequence[Any] | None = None,
        ) -> list[Any]:
            decision = _decision.get(None)
            if decision is not None and decision[:2] == (_bare(host), port):
                target = decision[2]
            else:
                target = state.target_port(self, None, host, port)
            if target is None:
                return await original_resolve(self, host, port, traces=traces)
            return [
                {
                    "hostname": host,
                    "host": "127.0.0.1",
                    "port": target,
                    "family": socket.AF_INET,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            ]

        connector._get_ssl_context = _get_ssl_context  # type: ignore[method-assign]
        connector._resolve_host = _resolve_host  # type: ignore[method-assign]

    def _restore(self) -> None:
        for name, original in self._originals.items():
            setattr(aiohttp.TCPConnector, name, original)
        self._originals = {}


def _bare(host: str) -> str:
    return host.rstrip(".").lower()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: The one patch state of the process.
interception = Interception()
