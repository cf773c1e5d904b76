"""WebSocket conversations in a cassette file, read and written.

They sit beside the interactions, under a key of their own that vcrpy does
not read (it reads ``interactions`` only), so the file stays a vcrpy
cassette::

    websockets:
    - request:
        body: null
        headers:
          Sec-WebSocket-Protocol: [chat]
        method: GET
        uri: http://api.example.com/live
      response:
        headers:
          Sec-WebSocket-Protocol: [chat]
        status: {code: 101, message: Switching Protocols}
      messages:
      - {from: client, text: hello}
      - {from: server, text: hello}
      - {from: server, binary: AAEC}
      - {from: server, close: 1000, reason: ''}

The request is the upgrade request, as an interaction's request is written
(its URL ``http://`` or ``https://``); the response is the real server's
handshake (its status and the headers worth sending again); ``messages``
come in the order they passed, each ``from`` the client or the server: a
``text`` message, a ``binary`` one (in base64, so that JSON cassettes hold
it too), or the ``close`` that ended the conversation, with its code and
reason.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiointercept._core.websocket import Direction, WebSocketMessage
from aiointercept._errors import CassetteError

from .format import CassetteRequest, CassetteResponse, Interaction

__all__ = ["WebSocketInteraction", "websockets_of"]

#: The key of the conversations in a cassette file.
KEY = "websockets"
_SIDES: dict[str, Direction] = {"client": "received", "server": "sent"}
_FROM: dict[str, str] = {"received": "client", "sent": "server"}


@dataclass
class WebSocketInteraction:
    """One recorded WebSocket conversation: the upgrade request, the real
    server's handshake, and the messages, in order (``direction``
    ``"received"``: from the client; ``"sent"``: from the server)."""

    request: CassetteRequest
    response: CassetteResponse
    messages: list[WebSocketMessage] = field(default_factory=list)
    #: Where it comes from, for messages: ``"file.yaml, websocket 2"``.
    origin: str = ""
    #: Its number in the file it was read from (from 1), or 0 for a new one.
    number: int = 0

    @property
    def protocol(self) -> str | None:
        """The subprotocol the server chose, if any."""
        return next(
            (
                value
                for name, value in self.response.headers
                if name.lower() == "sec-websocket-protocol"
            ),
            None,
        )

    def as_interaction(self) -> Interaction:
        """Its request and handshake, as an interaction (to be matched)."""
        return Interaction(self.request, self.response, self.origin, self.number)

    def as_dict(self) -> dict[str, Any]:
        request = self.request.as_dict()
        body = request["body"]
        if isinstance(body, bytes):
            request["body"] = body.decode("utf-8", "replace") if body else None
        response = self.response.as_dict()
        del response["body"]
        return {
            "request": request,
            "response": response,
            "messages": [_message_dict(message) for message in self.messages],
        }

    def __repr__(self) -> str:
        return (
            f"<WebSocketInteraction {self.request.uri}: {len(self.messages)} messages>"
        )


def websockets_of(data: object, path: Path) -> list[WebSocketInteraction]:
    """The conversations of ``data``, read from the cassette file at
    ``path``."""
    if not isinstance(data, Mapping):
        return []
    items = data.get(KEY)
    if items is None:
        return []
    if not isinstance(items, list):
        raise CassetteError(f"{path}: {KEY!r} must be a list, got {items!r}")
    conversations = []
    for index, item in enumerate(items):
        where = f"{path}, websocket {index + 1}"
        if not isinstance(item, Mapping):
            raise CassetteError(f"{where}: expected a mapping, got {item!r}")
        request, response = item.get("request"), item.get("response")
        if not isinstance(request, Mapping) or not isinstance(response, Mapping):
            raise CassetteError(f"{where}: needs a 'request' and a 'response'")
        messages = item.get("messages") or []
        if not isinstance(messages, list):
            raise CassetteError(f"{where}: 'messages' must be a list")
        conversations.append(
            WebSocketInteraction(
                CassetteRequest.from_dict(request, where),
                CassetteResponse.from_dict(response, where),
                [
                    _message(message, f"{where}, message {number}")
                    for number, message in enumerate(messages, 1)
                ],
                where,
                index + 1,
            )
        )
    return conversations


def _message_dict(message: WebSocketMessage) -> dict[str, Any]:
    side = _FROM[message.direction]
    if message.type == "close":
        return {
            "from": side,
            "close": message.close_code,
            "reason": message.close_reason,
        }
    if message.type == "binary":
        assert isinstance(message.data, bytes)
        return {"from": side, "binary": base64.b64encode(message.data).decode()}
    return {"from": side, "text": message.data}


def _message(item: object, where: str) -> WebSocketMessage:
    if not isinstance(item, Mapping):
        raise CassetteError(f"{where}: expected a mapping, got {item!r}")
    side = item.get("from")
    direction = _SIDES.get(side) if isinstance(side, str) else None
    if direction is None:
        raise CassetteError(
            f"{where}: 'from' must be 'client' or 'server', got {side!r}"
        )
    kinds = [kind for kind in ("text", "binary", "close") if kind in item]
    if len(kinds) != 1:
        raise CassetteError(
            f"{where}: needs exactly one of 'text', 'binary' or 'close', got "
            f"{sorted(item)}"
        )
    kind = kinds[0]
    value = item[kind]
    if kind == "text":
        if not isinstance(value, str):
            raise CassetteError(f"{where}: 'text' must be a string, got {value!r}")
        return WebSocketMessage("text", value, direction)
    if kind == "binary":
        try:
            data = (
                value
                if isinstance(value, bytes)
                else base64.b64decode(value or b"", validate=True)
            )
        except (binascii.Error, TypeError, ValueError) as exc:
            raise CassetteError(
                f"{where}: 'binary' must be base64, got {value!r}"
            ) from exc
        return WebSocketMessage("binary", data, direction)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CassetteError(f"{where}: 'close' must be a close code, got {value!r}")
    reason = item.get("reason") or ""
    return WebSocketMessage(
        "close",
        None,
        direction,
        close_code=value,
        close_reason=str(reason),
    )
