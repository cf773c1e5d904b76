"""aiointercept: mock HTTP APIs in async tests with a real local server."""

from __future__ import annotations

from ._assertions import RegisteredRoute, UnmatchedRequest
from ._cassette import CassetteRequest
from ._errors import (
    AiointerceptError,
    CallbackError,
    CassetteError,
    NetworkBlockedError,
    StrictCheckError,
)
from ._interceptor import aiointercept
from ._journal import RecordedRequest, UploadedFile
from ._responses import CallbackResult, Fault, ServerSentEvents
from ._websocket import WebSocket, WebSocketClosedError, WebSocketMessage

__all__ = [
    "AiointerceptError",
    "CallbackError",
    "CallbackResult",
    "CassetteError",
    "CassetteRequest",
    "Fault",
    "NetworkBlockedError",
    "RecordedRequest",
    "RegisteredRoute",
    "ServerSentEvents",
    "StrictCheckError",
    "UnmatchedRequest",
    "UploadedFile",
    "WebSocket",
    "WebSocketClosedError",
    "WebSocketMessage",
    "aiointercept",
]

for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
