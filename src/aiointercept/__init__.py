"""aiointercept: mock HTTP APIs in async tests with a real local server."""

from __future__ import annotations

from ._errors import AiointerceptError, CallbackError
from ._interceptor import aiointercept
from ._journal import RecordedRequest
from ._responses import CallbackResult

__all__ = [
    "AiointerceptError",
    "CallbackError",
    "CallbackResult",
    "RecordedRequest",
    "aiointercept",
]

for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
