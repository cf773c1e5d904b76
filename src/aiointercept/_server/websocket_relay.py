"""A WebSocket upgrade that no route answers, relayed to its real server.

When a cassette records (or the block passes unmatched requests through), the
server connects to the real URL with the client's subprotocols and headers,
accepts the client's upgrade with the subprotocol the real server chose, then
pumps messages both ways until either side closes, and closes the other side
with the same code. Each message is noted as it passes, before it is sent on
(see :class:`~aiointercept._core.replay.WebSocketRelay`), so that a client
that has seen the close finds the whole conversation written down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import WSMsgType, web
from yarl import URL

from aiointercept._adapters import PROXYING, is_loopback
from aiointercept._core.websocket import (
    ABNORMAL_CLOSURE,
    GOING_AWAY,
    NO_STATUS,
    NORMAL_CLOSURE,
    Direction,
    WebSocketMessage,
)

from .proxy import HANDSHAKE, failure_in_words
from .reply import close_connection
from .websocket import CLOSE_TIMEOUT, shielded

if TYPE_CHECKING:
    from aiointercept._core.replay import ConversationSink, WebSocketRelay

    from .proxy import Proxy

__all__ = ["relay_websocket", "sendable"]

logger = logging.getLogger("aiointercept")

#: Request headers the client session makes again for its own handshake.
_NOT_RELAYED = frozenset(
    {
        "host",
        "connection",
        "upgrade",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "content-length",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
    }
)
#: Handshake response headers that belong to one connection's handshake.
HANDSHAKE_ONLY = frozenset(
    {
        "connection",
        "upgrade",
        "content-length",
        "transfer-encoding",
        "date",
        "sec-websocket-accept",
        "sec-websocket-extensions",
    }
)
#: The close codes a close frame may not carry (RFC 6455 7.4.1).
_RESERVED = frozenset({1004, 1005, 1006, 1015})


def sendable(code: int | None) -> int:
    """``code`` if a close frame may carry it; else 1001 for a connection
    that was lost (1006), 1000 for anything else."""
    if code == ABNORMAL_CLOSURE:
        return GOING_AWAY
    if code is None or code in _RESERVED or not 1000 <= code <= 4999:
        return NORMAL_CLOSURE
    return code


async def relay_websocket(
    request: web.BaseRequest,
    url: URL,
    proxy: Proxy,
    own_ports: tuple[int | None, ...],
    relay: WebSocketRelay,
) -> web.StreamResponse:
    """Relay one WebSocket upgrade to ``url`` (on the loop that serves it),
    shielded from aiohttp's cancelling the handler when the client goes: the
    relay sees the connection end and closes the real one."""
    return await shielded(_relay(request, url, proxy, own_ports, relay))


async def _relay(
    request: web.BaseRequest,
    url: URL,
    proxy: Proxy,
    own_ports: tuple[int | None, ...],
    relay: WebSocketRelay,
) -> web.StreamResponse:
    if url.port in own_ports and is_loopback(url.raw_host or ""):
        logger.warning("not passing %s through: it is the mock itself", url)
        return close_connection(request)
    protocols = [
        protocol.strip()
        for protocol in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
        if protocol.strip()
    ]
    headers = [
        (name, value)
        for name, value in request.headers.items()
        if name.lower() not in _NOT_RELAYED
    ]
    recording = relay.to_cassette is not None
    handshake: list[tuple[str, str]] = []
    proxying = PROXYING.set(True)  # the network guard lets this through
    seen = HANDSHAKE.set(handshake)
    try:
        upstream = await proxy.session().ws_connect(
            url,
            protocols=protocols,
            headers=headers,
            autoclose=False,
            max_msg_size=0,
            **_close_timeout(),
        )
    except aiohttp.WSServerHandshakeError as exc:
        # the real server refused the upgrade: the client gets its status
        logger.warning(
            "%s the WebSocket %s: the server answered %s %s",
            "recording" if recording else "passing through",
            url,
            exc.status,
            exc.message,
        )
        return web.Response(status=exc.status, reason=exc.message or None)
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        logger.warning(
            "%s the WebSocket %s: %s; the client's connection was closed",
            "recording" if recording else "passing through",
            url,
            failure_in_words(exc, url),
        )
        return close_connection(request)
    finally:
        HANDSHAKE.reset(seen)
        PROXYING.reset(proxying)
    async with upstream:
        response = web.WebSocketResponse(
            protocols=(upstream.protocol,) if upstream.protocol else (),
            autoclose=False,
            max_msg_size=0,
            timeout=CLOSE_TIMEOUT,
        )
        kept = [
            (name, value)
            for name, value in handshake
            if name.lower() not in HANDSHAKE_ONLY
        ]
        for name, value in kept:
            if name.lower() != "sec-websocket-protocol":
                response.headers.add(name, value)
        if not response.can_prepare(request).ok:
            await upstream.close(code=GOING_AWAY)
            return web.Response(
                status=400, text="aiointercept: not a valid WebSocket upgrade\n"
            )
        sink: ConversationSink | None = None
        if relay.to_cassette is not None:
            # a failing hook is kept by the cassette, raised at the block's exit
            with contextlib.suppress(Exception):
                sink = relay.to_cassette(101, "Switching Protocols", kept)
        await response.prepare(request)
        await _Pumps(response, upstream, relay, sink).run()
    return response


def _close_timeout() -> dict[str, Any]:
    """How long a close waits for the real server's answer, as the installed
    aiohttp takes it (a ``ClientWSTimeout`` since aiohttp 3.11)."""
    if hasattr(aiohttp, "ClientWSTimeout"):
        return {"timeout": aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT)}
    return {"timeout": CLOSE_TIMEOUT}  # pragma: no cover - aiohttp < 3.11


class _Pumps:
    """The two directions of one relayed conversation; the first close, from
    either side, ends both."""

    def __init__(
        self,
        client: web.WebSocketResponse,
        upstream: aiohttp.ClientWebSocketResponse[bool],
        relay: WebSocketRelay,
        sink: ConversationSink | None,
    ) -> None:
        self._client = client
        self._upstream = upstream
        self._relay = relay
        self._sink = sink
        self._closed = False

    async def run(self) -> None:
        to_server = asyncio.ensure_future(self._from_client())
        to_client = asyncio.ensure_future(self._from_server())
        try:
            await asyncio.gather(to_server, to_client)
        except (ConnectionError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # a side went away as a message was sent on: close the other
            logger.info("a relayed WebSocket ended: %s", exc)
        finally:
            for task in (to_server, to_client):
                task.cancel()
            await asyncio.wait([to_server, to_client])
            if not self._upstream.closed:
                with contextlib.suppress(Exception):
                    await self._upstream.close(code=GOING_AWAY)
            if not self._client.closed:
                with contextlib.suppress(Exception):
                    await self._client.close(code=GOING_AWAY)

    def _note(self, message: WebSocketMessage) -> None:
        """Note a message once it is known, before it is sent on; nothing
        after the first close."""
        if self._closed:
            return
        if message.type == "close":
            self._closed = True
        self._relay.note(message)
        if self._sink is not None:
            self._sink(message)

    async def _from_client(self) -> None:
        await self._pump(self._client, self._upstream, "received")

    async def _from_server(self) -> None:
        await self._pump(self._upstream, self._client, "sent")

    async def _pump(self, source: Any, target: Any, direction: Direction) -> None:
        """Send on each message of ``source`` (the client's side when
        ``direction`` is ``"received"``, the real server's when ``"sent"``)
        to ``target``, until a close."""
        while True:
            message = await source.receive()
            if message.type is WSMsgType.TEXT:
                self._note(WebSocketMessage("text", message.data, direction))
                await target.send_str(message.data)
            elif message.type is WSMsgType.BINARY:
                self._note(WebSocketMessage("binary", message.data, direction))
                await target.send_bytes(message.data)
            elif message.type is WSMsgType.CLOSE:
                code, reason = message.data or NO_STATUS, message.extra or ""
                self._note(
                    WebSocketMessage(
                        "close", None, direction, close_code=code, close_reason=reason
                    )
                )
                await target.close(code=sendable(code), message=reason.encode())
                await source.close(code=sendable(code), message=reason.encode())
                return
            elif message.type is WSMsgType.CLOSING:
                # the other side closes: its pump notes the close
                if direction == "received":
                    self._closed = True
                return
            elif direction == "received":
                # CLOSED or ERROR: the client has gone without a close frame
                # (or the block exited): the conversation ends there, with no
                # close, which a replay waits for
                self._closed = True
                await target.close(code=GOING_AWAY)
                return
            else:
                # the real server has gone without a close frame
                self._note(
                    WebSocketMessage("close", None, "sent", close_code=ABNORMAL_CLOSURE)
                )
                await target.close(code=sendable(ABNORMAL_CLOSURE))
                return
