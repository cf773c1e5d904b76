"""Writing a reply: delays, faults on the wire, streamed bodies and
compression.

Everything here runs on the loop that serves the block (the test's asyncio
loop, or the server thread's). Faults write to (or cut) the raw
transport, so the client's own parser and error handling see them exactly as
they would against a real, misbehaving server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import http
import socket
import struct
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from aiointercept._core.compression import Encoder, negotiate
from aiointercept._core.dispatch import Streamed
from aiointercept._core.responses import Fault, Reply, StreamBody, encode_chunk

from .sockets import socket_of

if TYPE_CHECKING:
    from aiointercept._core.dispatch import Dispatcher

__all__ = ["write_reply"]

#: What a malformed status line looks like on the wire.
MALFORMED_STATUS_LINE = b"HTTP/1.1 abc\r\n\r\n"

# Headers that aiohttp computes for a response; given by the user they would
# contradict the body actually sent.
_COMPUTED = frozenset({"content-length", "transfer-encoding", "content-encoding"})
# Those of a body sent chunked as it is: its Content-Encoding, if it has one,
# still says how the bytes are coded (a compressed body replayed from a
# cassette, or compressed chunks the user streams).
_FRAMING = frozenset({"content-length", "transfer-encoding"})


async def write_reply(
    request: web.BaseRequest,
    outcome: Reply | Streamed,
    dispatcher: Dispatcher,
    hang: Callable[[], Awaitable[None]],
) -> web.StreamResponse:
    """Answer ``request`` with ``outcome``: wait its delay, then produce its
    fault or write it; ``hang()`` holds the connection open until the client
    closes it."""
    if (
        type(outcome) is Reply
        and outcome.fault is None
        and not outcome.delay
        and outcome.compress is None
    ):  # the common case: the reply as it is
        return web.Response(
            status=outcome.status,
            reason=outcome.reason,
            headers=outcome.headers,
            body=outcome.body,
        )
    reply = outcome.reply if isinstance(outcome, Streamed) else outcome
    if reply.delay:
        await asyncio.sleep(reply.delay)
    fault = reply.fault
    if fault is Fault.CLOSE:
        return close_connection(request)
    if fault is Fault.RESET:
        return _reset_connection(request)
    if fault is Fault.HANG:
        await hang()
        return close_connection(request)
    if fault is Fault.MALFORMED_STATUS:
        return _write_raw_and_close(request, MALFORMED_STATUS_LINE)
    coding = None
    if reply.compress is not None:
        coding = negotiate(reply.compress, request.headers.get("Accept-Encoding", ""))
    if isinstance(outcome, Streamed):
        return await _stream(request, outcome, coding, dispatcher)
    assert isinstance(reply.body, bytes)
    body = reply.body
    headers = list(reply.headers)
    if coding is not None:
        body = Encoder(coding).whole(body)
        headers = _encoded_headers(headers, coding)
    if fault is Fault.CLOSE_AFTER_HEADERS or fault is Fault.SHORT_BODY:
        head = _head(reply, headers, len(body))
        sent = body[: len(body) // 2] if fault is Fault.SHORT_BODY else b""
        return _write_raw_and_close(request, head + sent)
    return web.Response(
        status=reply.status, reason=reply.reason, headers=headers, body=body
    )


def close_connection(request: web.BaseRequest) -> web.StreamResponse:
    """Close the connection without a response."""
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response()


def _reset_connection(request: web.BaseRequest) -> web.StreamResponse:
    """Close with a TCP reset: SO_LINGER 0 makes the close send RST."""
    transport = request.transport
    if transport is not None:
        sock = socket_of(transport)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
        transport.abort()
    return web.Response()


def _write_raw_and_close(request: web.BaseRequest, data: bytes) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.write(data)
        transport.close()  # after the data is flushed
    return web.Response()


def _head(reply: Reply, headers: list[tuple[str, str]], length: int) -> bytes:
    """A status line and headers announcing ``length`` bytes of body (or a
    chunked body, when ``length`` is 0)."""
    reason = reply.reason
    if reason is None:
        try:
            reason = http.HTTPStatus(reply.status).phrase
        except ValueError:
            reason = ""
    lines = [f"HTTP/1.1 {reply.status} {reason}"]
    lines += [
        f"{name}: {value}"
        for name, value in headers
        if name.lower() not in ("content-length", "transfer-encoding")
    ]
    # an empty body would make a complete response: announce a chunked one
    # that never comes instead, so the client still sees the fault
    framing = f"Content-Length: {length}" if length else "Transfer-Encoding: chunked"
    lines.append(framing)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _encoded_headers(
    headers: list[tuple[str, str]], coding: str
) -> list[tuple[str, str]]:
    kept = [(n, v) for n, v in headers if n.lower() not in _COMPUTED]
    kept.append(("Content-Encoding", coding))
    if not any(name.lower() == "vary" for name, _ in kept):
        kept.append(("Vary", "Accept-Encoding"))
    return kept


async def _stream(
    request: web.BaseRequest,
    streamed: Streamed,
    coding: str | None,
    dispatcher: Dispatcher,
) -> web.StreamResponse:
    """Send a body chunk by chunk, with chunked transfer encoding."""
    reply = streamed.reply
    body = reply.body
    assert isinstance(body, StreamBody)
    headers = [(n, v) for n, v in reply.headers if n.lower() not in _FRAMING]
    if coding is not None:
        headers = _encoded_headers(headers, coding)
    response = web.StreamResponse(
        status=reply.status, reason=reply.reason, headers=headers
    )
    response.enable_chunked_encoding()
    encoder = Encoder(coding) if coding is not None else None
    chunks = _chunks(body, dispatcher)
    try:
        await response.prepare(request)
        if reply.fault is Fault.CLOSE_AFTER_HEADERS:
            return close_connection(request)
        pauses = body.pauses
        index = 0
        async for chunk in chunks:
            if pauses is not None:
                if index < len(pauses) and pauses[index] > 0:
                    await asyncio.sleep(pauses[index])
            elif body.chunk_delay and index:
                await asyncio.sleep(body.chunk_delay)
            index += 1
            data = encode_chunk(chunk)
            if encoder is not None:
                data = encoder.chunk(data)
            if data:
                await response.write(data)
        if encoder is not None:
            await response.write(encoder.finish())
        if reply.fault is Fault.SHORT_BODY:  # no terminating chunk
            return close_connection(request)
        await response.write_eof()
    except (ConnectionError, asyncio.CancelledError):
        raise
    except Exception as exc:  # the user's iterable failed: a broken response
        dispatcher.stream_failed(streamed, exc)
        return close_connection(request)
    finally:
        await chunks.aclose()
    return response


async def _chunks(body: StreamBody, dispatcher: Dispatcher) -> AsyncGenerator[Any]:
    """The chunks of ``body``: sync iterables iterated here, async ones on the
    test's loop (they may use its primitives)."""
    if not body.is_async:
        iterator: Iterator[Any] = iter(body.source)  # type: ignore[arg-type]
        try:
            for chunk in iterator:
                yield chunk
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        return
    test_loop = dispatcher.test_loop
    if test_loop is None:
        raise RuntimeError(
            "no event loop to run the async iterable body on: register it from "
            "an async test"
        )
    source: Any = body.source
    iterator_ = source.__aiter__()
    finished = False
    try:
        while True:
            try:
                chunk = await _on_test_loop(test_loop.submit(_next, iterator_))
            except StopAsyncIteration:
                finished = True
                return
            yield chunk
    finally:
        aclose = getattr(iterator_, "aclose", None)
        if not finished and aclose is not None:
            with contextlib.suppress(Exception):
                await _on_test_loop(test_loop.submit(aclose))


async def _next(iterator: Any) -> Any:
    return await iterator.__anext__()


async def _on_test_loop(future: concurrent.futures.Future[Any]) -> Any:
    """Wait, on the server loop, for work submitted to the test's loop."""
    return await asyncio.wrap_future(future)
