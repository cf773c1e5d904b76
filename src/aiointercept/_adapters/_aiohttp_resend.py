"""aiohttp's automatic resend, turned off for connections to a mock server.

aiohttp sends an idempotent request (GET, HEAD, OPTIONS, TRACE, PUT, DELETE)
a second time, inside the same call, when the connection of the first attempt
is closed or reset before a response arrives (whether that connection was new
or pooled). Against a mock server that only happens on purpose: a route's
``exception=`` or ``fault="close"``/``"reset"``, or a request no route matched.
Served, the resend would take the route's next response, and the call would
succeed without the code under test ever seeing the fault.

On the wire the resend is the very same request, so the server cannot tell it
from a request the code under test sends again on its own (its retry logic).
Instead, while a block's server is listening, ``ClientRequest.send`` and
``ClientResponse.start`` are wrapped. When aiohttp is about to send a new
attempt of a call (the same call's ``traces`` list, another request object)
whose previous attempt went to a mock server and failed there with a
connection error, the new attempt is not sent: the call raises the previous
attempt's error, as it would have without the resend. A retry by the code
under test is a new call (or, from a client middleware, the same request
object) and is sent as usual; so is a redirect, whose previous attempt got a
response. Connections to any other server keep aiohttp's behaviour.

The wrappers are installed when the first server starts listening, and stay
while aiointercept's server thread lives (it ends about a second after the
last block, see ``_server.thread``): between blocks they leave every
connection alone. Changing the classes on every block would make the next
requests of every aiohttp client slower (the interpreter's specialized code
for those classes starts over), by more than a block costs.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any

import aiohttp
from aiohttp import ClientOSError, ServerDisconnectedError
from aiohttp.client_reqrep import ClientRequest, ClientResponse

__all__ = ["resend_guard"]

#: What aiohttp resends after (a connection closed or reset before a response).
_RESENT_AFTER = (ClientOSError, ServerDisconnectedError)


class _Attempt:
    """The last attempt a task sent to a mock server."""

    __slots__ = ("error", "request", "response", "traces")

    def __init__(self, request: Any, traces: object) -> None:
        self.request = request
        self.traces = traces
        self.response: Any = None
        #: The connection error the attempt ended with, if any.
        self.error: BaseException | None = None


_last: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "aiointercept_last_attempt", default=None
)


class _ResendGuard:
    """Installs the wrapper while at least one server listens, and knows the
    servers' ports."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: The listening ports of the running servers (on 127.0.0.1).
        self._ports: dict[int, int] = {}
        #: The methods the wrappers call, as they were when installed.
        self.send: Any = ClientRequest.send
        self.start: Any = ClientResponse.start
        #: What the classes held under the wrapped names (None: inherited).
        self._saved: dict[tuple[type, str], Any] = {}
        self._installed = False

    def track(self, ports: list[int]) -> None:
        """A server listens on ``ports``: install the wrappers if they are not."""
        with self._lock:
            if not self._installed:
                self._install()
                self._installed = True
            for port in ports:
                self._ports[port] = self._ports.get(port, 0) + 1

    def untrack(self, ports: list[int]) -> None:
        """A server no longer listens on ``ports`` (the wrappers stay)."""
        with self._lock:
            for port in ports:
                count = self._ports.pop(port, 0) - 1
                if count > 0:
                    self._ports[port] = count

    def remove(self) -> None:
        """Remove the wrappers, unless a server listens (the server thread
        is ending; from any thread)."""
        with self._lock:
            if self._installed and not self._ports:
                self._restore()
                self._installed = False

    def _install(self) -> None:
        self.send, self.start = ClientRequest.send, ClientResponse.start
        for cls, name, wrapper in _WRAPPERS:
            self._saved[cls, name] = vars(cls).get(name)
            setattr(cls, name, wrapper)

    def _restore(self) -> None:
        saved, self._saved = self._saved, {}
        for cls, name, wrapper in _WRAPPERS:
            if vars(cls).get(name) is not wrapper:  # replaced since: leave it
                continue
            original = saved.get((cls, name))
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)

    def is_mock(self, conn: aiohttp.connector.Connection) -> bool:
        transport = conn.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        if not peer:
            return False
        return peer[1] in self._ports and peer[0] in ("127.0.0.1", "::1")


#: The one guard of the process.
resend_guard = _ResendGuard()


async def _send(self: Any, conn: aiohttp.connector.Connection) -> Any:
    traces = getattr(self, "_traces", None)
    if traces is None:  # pragma: no cover - an aiohttp without it: no guard
        return await resend_guard.send(self, conn)
    last = _last.get()
    if last is not None and last.traces is traces and last.request is not self:
        # a new attempt of the same call: aiohttp's resend (or a redirect)
        _last.set(None)
        if last.error is not None:
            raise last.error
    if not resend_guard.is_mock(conn):
        return await resend_guard.send(self, conn)
    attempt = _Attempt(self, traces)
    _last.set(attempt)
    try:
        attempt.response = await resend_guard.send(self, conn)
    except _RESENT_AFTER as exc:
        attempt.error = exc
        raise
    return attempt.response


async def _start(self: Any, connection: aiohttp.connector.Connection) -> Any:
    try:
        started = await resend_guard.start(self, connection)
    except _RESENT_AFTER as exc:
        last = _last.get()
        if last is not None and last.response is self:
            last.error = exc
        raise
    last = _last.get()
    if last is not None and last.response is self:
        _last.set(None)  # answered: nothing to keep
    return started


#: (class, name, wrapper) for each method wrapped.
_WRAPPERS: tuple[tuple[type, str, Any], ...] = (
    (ClientRequest, "send", _send),
    (ClientResponse, "start", _start),
)
