"""aiointercept: mock HTTP APIs in async tests with a real local server."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    AiointerceptError,
    CallbackError,
    CassetteError,
    NetworkBlockedError,
    StrictCheckError,
    UnreachableRouteWarning,
)

if TYPE_CHECKING:
    from ._address import ServerAddress
    from ._cassette.format import CassetteRequest
    from ._cassette.view import Cassette
    from ._core.callback_result import CallbackResult
    from ._core.diagnostics import UnmatchedRequest
    from ._core.handles import RegisteredRoute
    from ._core.request import RecordedRequest, UploadedFile
    from ._core.responses import Fault
    from ._core.sse import ServerSentEvents
    from ._core.websocket import WebSocket, WebSocketClosedError, WebSocketMessage
    from ._mock import aiointercept

    MockResponse = RegisteredRoute
    AiointerceptRequest = RecordedRequest

__all__ = [
    "AiointerceptError",
    "AiointerceptRequest",
    "CallbackError",
    "CallbackResult",
    "Cassette",
    "CassetteError",
    "CassetteRequest",
    "Fault",
    "MockResponse",
    "NetworkBlockedError",
    "RecordedRequest",
    "RegisteredRoute",
    "ServerAddress",
    "ServerSentEvents",
    "StrictCheckError",
    "UnmatchedRequest",
    "UnreachableRouteWarning",
    "UploadedFile",
    "WebSocket",
    "WebSocketClosedError",
    "WebSocketMessage",
    "aiointercept",
]

#: The public names, but the exceptions, by module and name: imported together
#: when one of them is first used. Every pytest run imports the package for
#: the plugin of a project that has aiointercept installed, used or not, and
#: pytest rewrites the asserts of every module of it that is imported then.
_LAZY = {
    "RegisteredRoute": ("._core.handles", "RegisteredRoute"),
    "UnmatchedRequest": ("._core.diagnostics", "UnmatchedRequest"),
    "CassetteRequest": ("._cassette.format", "CassetteRequest"),
    "Cassette": ("._cassette.view", "Cassette"),
    "CallbackResult": ("._core.callback_result", "CallbackResult"),
    "Fault": ("._core.responses", "Fault"),
    "ServerAddress": ("._address", "ServerAddress"),
    "ServerSentEvents": ("._core.sse", "ServerSentEvents"),
    "aiointercept": ("._mock", "aiointercept"),
    "RecordedRequest": ("._core.request", "RecordedRequest"),
    "UploadedFile": ("._core.request", "UploadedFile"),
    "WebSocket": ("._core.websocket", "WebSocket"),
    "WebSocketClosedError": ("._core.websocket", "WebSocketClosedError"),
    "WebSocketMessage": ("._core.websocket", "WebSocketMessage"),
    #: aiointercept 1.0.0's name for a route handle: an alias of RegisteredRoute.
    "MockResponse": ("._core.handles", "RegisteredRoute"),
    #: aiointercept 1.0.0's name for a recorded request: an alias of
    #: RecordedRequest.
    "AiointerceptRequest": ("._core.request", "RecordedRequest"),
}


def _publish(name: str, obj: Any) -> None:
    obj.__module__ = __name__
    globals()[name] = obj


for _name in __all__:
    if _name not in _LAZY:
        _publish(_name, globals()[_name])
del _name

if not TYPE_CHECKING:  # type checkers see the imports above, not a fallback

    def __getattr__(name: str) -> Any:
        if name not in _LAZY:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        for public, (module, attribute) in _LAZY.items():
            _publish(
                public, getattr(importlib.import_module(module, __name__), attribute)
            )
        return globals()[name]


def __dir__() -> list[str]:
    """The public API: what ``from aiointercept import *`` gives, and nothing
    of the machinery (``TYPE_CHECKING``, ``importlib``, private modules)."""
    return sorted(__all__)
