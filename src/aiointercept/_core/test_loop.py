"""The test's event loop, as the core sees it from the thread that serves.

Async callbacks, async bodies and WebSocket handlers run on the test's own
loop, so that they can use the test's primitives. The core reaches that loop
only through :class:`TestLoop`; the implementation, which knows asyncio and
trio, is :class:`aiointercept._server.test_loop.TestLoopHandle`.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

__all__ = ["TestLoop", "TestLoopClosedError"]


class TestLoopClosedError(RuntimeError):
    """The test's block has exited (or its event loop has stopped)."""


class TestLoop(Protocol):
    """A handle on the test's event loop, safe to use from any thread."""

    #: The ident (``threading.get_ident()``) of the thread that runs the loop.
    thread: int

    def call_soon(self, func: Callable[[], object]) -> bool:
        """Schedule ``func()`` on the loop without waiting; ``False`` when the
        loop has already stopped."""

    def submit(
        self, func: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        """Run ``await func(*args, **kwargs)`` as a task of the loop; the future
        fails with :exc:`TestLoopClosedError` if the loop or block is gone."""

    def cancel(self, future: concurrent.futures.Future[Any]) -> None:
        """Cancel the task behind ``future``, started or not."""

    def gone(self) -> bool:
        """Whether the loop has stopped."""

    def close(self) -> None:
        """Refuse new tasks, from outside the loop."""

    async def aclose(self) -> None:
        """Cancel the running tasks and wait until they have finished."""
