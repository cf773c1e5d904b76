"""Exceptions raised by aiointercept."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._journal import RecordedRequest

__all__ = ["AiointerceptError", "CallbackError"]


class AiointerceptError(Exception):
    """Base class of the errors raised by aiointercept itself."""


class CallbackError(AiointerceptError):
    """A response callback failed while the block was running.

    The request got a ``500`` response that describes the failure; this error is
    raised when the block exits (unless the block already raised), so the failure
    is not lost. The original exception is the ``__cause__``; when several
    callbacks failed, the first is raised and the others are listed in the
    exception notes.
    """

    def __init__(self, message: str, request: RecordedRequest) -> None:
        super().__init__(message)
        #: The recorded request whose callback failed.
        self.request = request
