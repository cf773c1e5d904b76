"""The passthrough proxy: an unmatched request a block lets through is
forwarded to its real destination, and the response streamed back untouched;
when a cassette records, the whole response is handed to its recorder.

A block has one :class:`Proxy`, with one aiohttp session per loop that serves
the block (the test's loop, the server loop): each session is made, used and
closed on its own loop, and the server that owns the block closes them when
it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import logging
import os
import socket
import ssl
import time
from collections.abc import Callable

import aiohttp
from aiohttp import DummyCookieJar, web
from yarl import URL

from aiointercept._adapters import PROXYING, is_loopback
from aiointercept._adapters._aiohttp import bypass

from .reply import close_connection

__all__ = ["HANDSHAKE", "Proxy", "ToCassette", "failure_in_words"]

logger = logging.getLogger("aiointercept")

#: A cassette's recorder, bound to the request: takes the status, reason,
#: headers and body of the response, and, for a streamed one, its chunks as
#: ``(size, seconds since the previous one)`` (``None`` for any other).
ToCassette = Callable[
    [int, str, list[tuple[str, str]], bytes, list[tuple[int, float]] | None], None
]

# Hop-by-hop headers (RFC 9110 7.6.1) and those the proxy session recomputes.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED_REQUEST = _HOP_BY_HOP | {
    "host",
    "content-length",
}
_NOT_FORWARDED_RESPONSE = _HOP_BY_HOP | {"content-length"}


class Proxy:
    """A block's passthrough sessions, one per loop that serves the block."""

    def __init__(self) -> None:
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    def has_session(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether requests have been passed through on ``loop``."""
        return loop in self._sessions

    def has_sessions(self) -> bool:
        """Whether requests have been passed through on any loop."""
        return bool(self._sessions)

    async def close(self) -> None:
        """Close the running loop's session, if there is one."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()

    async def close_all(self) -> None:
        """Close every session (on the one loop that serves the block)."""
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    def session(self) -> aiohttp.ClientSession:
        """The running loop's session, made on first use: it leaves bodies
        compressed, keeps no cookies, and tells :data:`HANDSHAKE` the
        headers of each response (those of a WebSocket handshake are not
        public otherwise)."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None:
            connector = aiohttp.TCPConnector()
            bypass(connector)
            tracing = aiohttp.TraceConfig()
            tracing.on_request_end.append(_handshake_headers)
            session = self._sessions[loop] = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                cookie_jar=DummyCookieJar(),
                trace_configs=[tracing],
            )
        return session

    async def forward(
        self,
        request: web.BaseRequest,
        url: URL,
        own_ports: tuple[int | None, ...],
        body: bytes,
        to_cassette: ToCassette | None,
    ) -> web.StreamResponse:
        """Proxy an unmatched request to ``url``, its real destination,
        streaming the response back untouched (compressed bodies stay
        compressed); with ``to_cassette``, also hand it the whole response once it
        is sent. A request to the block itself (on loopback, at one of its
        ``own_ports``) is not passed on."""
        session = self.session()
        if url.port in own_ports and is_loopback(url.raw_host or ""):
            # the mock's own address: passing it on would loop back here
            logger.warning("not passing %s through: it is the mock itself", url)
            return close_connection(request)
        headers = [
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in _NOT_FORWARDED_REQUEST
        ]
        proxying = PROXYING.set(True)  # the network guard lets this through
        try:
            upstream = await session.request(
                request.method,
                url,
                headers=headers,
                data=io.BytesIO(body) if body else None,
                allow_redirects=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            )
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            logger.warning(
                "%s %s %s%s: %s; the client's connection was closed",
                "passing" if to_cassette is None else "recording",
                request.method,
                url,
                " through" if to_cassette is None else "",
                failure_in_words(exc, url),
            )
            return close_connection(request)
        finally:
            PROXYING.reset(proxying)
        async with upstream:
            response = web.StreamResponse(
                status=upstream.status, reason=upstream.reason
            )
            for name, value in upstream.headers.items():
                if name.lower() not in _NOT_FORWARDED_RESPONSE:
                    response.headers.add(name, value)
            if upstream.headers.get("Content-Length") is not None:
                response.content_length = int(upstream.headers["Content-Length"])
            if to_cassette is None:
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
            await _stream_recorded(request, upstream, response, to_cassette)
        return response


#: Set by a WebSocket relay around its ``ws_connect``: the list that takes
#: the headers of the response to the upgrade request.
HANDSHAKE: contextvars.ContextVar[list[tuple[str, str]] | None] = (
    contextvars.ContextVar("aiointercept_handshake", default=None)
)


async def _handshake_headers(
    session: aiohttp.ClientSession,
    context: object,
    params: aiohttp.TraceRequestEndParams,
) -> None:
    headers = HANDSHAKE.get()
    if headers is not None:
        headers[:] = params.response.headers.items()


def failure_in_words(exc: BaseException, url: URL) -> str:
    """Why a request to ``url`` got no response from its real host, in words:
    the host, the port, and the error (``ClientConnectorError(ConnectionKey(
    ...))`` says none of it plainly)."""
    host = getattr(exc, "host", None) or url.raw_host or "?"
    port = getattr(exc, "port", None) or url.port
    where = f"{host}:{port}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return (
            f"the TLS certificate of {where} was not accepted: "
            f"{_in_words(exc.certificate_error)}"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if isinstance(os_error, socket.gaierror):
            return f"could not resolve {host}: {_in_words(os_error)}"
        if isinstance(exc, aiohttp.ClientSSLError):
            return f"the TLS handshake with {where} failed: {_in_words(os_error)}"
        return f"could not connect to {where}: {_in_words(os_error)}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"{where} closed the connection without a response"
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        detail = str(exc)
        return f"{where} did not answer in time" + (f" ({detail})" if detail else "")
    if isinstance(exc, OSError):
        return f"the connection to {where} failed: {_in_words(exc)}"
    return f"the request to {where} failed: {type(exc).__name__}: {exc}"


def _in_words(error: BaseException) -> str:
    """An OS, DNS or TLS error as its message, without the codes around it."""
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return str(error.verify_message)
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason).lower().replace("_", " ")
    if isinstance(error, socket.gaierror) and error.strerror:
        return error.strerror
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)
    return str(error) or type(error).__name__


async def _stream_recorded(
    request: web.BaseRequest,
    upstream: aiohttp.ClientResponse,
    response: web.StreamResponse,
    to_cassette: ToCassette,
) -> None:
    """Stream ``upstream`` to the client as it comes, but hold what lets the
    client see the response complete (its last bytes, or the end of a chunked
    body) until the interaction is recorded, so that a client (and its test)
    that has the whole response finds it in the cassette.

    A streamed response (chunked, or an event stream) is relayed and recorded
    chunk by chunk: each HTTP chunk (each read, for an event stream that is
    not chunked) is written to the client as one, and recorded with its size
    and the time since the one before it (the first: since the headers)."""
    length = response.content_length
    bodiless = request.method == "HEAD" or upstream.status in (204, 304)
    pieces: list[bytes] = []
    held = b""
    sent = 0
    if not bodiless and length != 0:
        await response.prepare(request)
    chunked = "chunked" in upstream.headers.get("Transfer-Encoding", "").lower()
    streamed = not bodiless and (
        chunked
        or (
            length is None
            and upstream.headers.get("Content-Type", "")
            .lower()
            .startswith("text/event-stream")
        )
    )
    chunks: list[tuple[int, float]] | None = None
    if streamed:
        chunks = []
        before = time.monotonic()
        current = b""
        async for data, end_of_chunk in upstream.content.iter_chunks():
            pieces.append(data)
            current += data
            if current and (end_of_chunk or not chunked):
                now = time.monotonic()
                chunks.append((len(current), now - before))
                await response.write(current)
                current, before = b"", now
        if current:  # the end of a chunk that never ended
            chunks.append((len(current), time.monotonic() - before))
            await response.write(current)
    else:
        async for piece in upstream.content.iter_any():
            pieces.append(piece)
            if length is not None and sent + len(piece) >= length:
                held += piece
            else:
                await response.write(piece)
                sent += len(piece)
    # a failing hook is kept by the cassette, raised at the block's exit
    with contextlib.suppress(Exception):
        to_cassette(
            upstream.status,
            upstream.reason or "",
            list(upstream.headers.items()),
            b"".join(pieces),
            chunks,
        )
    if not response.prepared:
        await response.prepare(request)
    if held:
        await response.write(held)
    await response.write_eof()
