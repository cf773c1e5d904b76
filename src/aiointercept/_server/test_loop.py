"""The test's event loop, seen from the server thread: the asyncio and trio
implementation of :class:`aiointercept._core.test_loop.TestLoop`.

The server thread uses this to wake the test's loop without blocking (start and
stop notifications) and to run async callbacks as tasks of the test's loop, so
they can use the test's own primitives (an ``asyncio.Event``, ``trio.sleep``).

Tasks are spawned loose (``loop.create_task`` on asyncio, a system task on trio)
rather than in a task group held open between ``__aenter__`` and ``__aexit__``:
pytest-asyncio runs a fixture's setup and teardown in different tasks, and a task
group or cancel scope must be exited in the task that entered it. Each task runs
inside its own anyio cancel scope, which :meth:`TestLoopHandle.aclose` cancels.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from aiointercept._core.test_loop import TestLoopClosedError

__all__ = ["TestLoopHandle", "wait_shielded"]


class TestLoopHandle:
    """A handle on the test's event loop, safe to use from any thread."""

    def __init__(self) -> None:
        #: Made on the loop's own thread.
        self.thread = threading.get_ident()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            import trio  # only reachable when running under trio

            token = trio.lowlevel.current_trio_token()
            self._call_soon: Callable[[Callable[[], object]], object] = (
                token.run_sync_soon
            )
            self._spawn: Callable[[Callable[[], Awaitable[None]]], object] = (
                trio.lowlevel.spawn_system_task
            )
            self._closed_error: type[BaseException] = trio.RunFinishedError
        else:
            self._call_soon = lambda func: loop.call_soon_threadsafe(func)
            tasks: set[asyncio.Task[None]] = set()  # the loop holds only weak refs

            def spawn(func: Callable[[], Awaitable[None]]) -> None:
                task: asyncio.Task[None] = loop.create_task(func())  # type: ignore[arg-type]
                tasks.add(task)
                task.add_done_callback(tasks.discard)

            self._spawn = spawn
            self._closed_error = RuntimeError
        self._lock = threading.Lock()
        self._closed = False
        #: The cancel scope of each callback running, by its future.
        self._scopes: dict[concurrent.futures.Future[Any], anyio.CancelScope] = {}
        self._running = 0
        #: Made when aclose() waits for running callbacks (on the loop).
        self._idle: anyio.Event | None = None

    def call_soon(self, func: Callable[[], object]) -> bool:
        """Schedule ``func()`` on the test's loop without waiting.

        Returns ``False`` when the loop has already stopped.
        """
        try:
            self._call_soon(func)
        except self._closed_error:
            return False
        return True

    def submit(
        self, func: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        """Run ``await func(*args, **kwargs)`` as a task of the test's loop.

        Thread-safe and non-blocking. The returned future is moved to "running"
        only when the task starts: the caller may ``cancel()`` it before that to
        make sure the function never runs.
        """
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def start() -> None:
            if self._closed:
                _fail(future, TestLoopClosedError("the aiointercept block has exited"))
                return
            self._running += 1
            self._spawn(lambda: self._run(future, func, args, kwargs))

        if not self.call_soon(start):
            _fail(future, TestLoopClosedError("the test's event loop has stopped"))
        return future

    async def _run(
        self,
        future: concurrent.futures.Future[Any],
        func: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        try:
            if not future.set_running_or_notify_cancel():
                return
            with anyio.CancelScope() as scope:
                self._scopes[future] = scope
                try:
                    result = await func(*args, **kwargs)
                except anyio.get_cancelled_exc_class():
                    future.set_exception(
                        TestLoopClosedError("cancelled: the aiointercept block exited")
                    )
                    raise
                except BaseException as exc:  # reported to the server and the test
                    future.set_exception(exc)
                else:
                    future.set_result(result)
                finally:
                    self._scopes.pop(future, None)
        finally:
            self._running -= 1
            if self._running == 0 and self._idle is not None:
                self._idle.set()

    def gone(self) -> bool:
        """Whether the test's loop has stopped (from any thread)."""
        return not self.call_soon(_nothing)

    def cancel(self, future: concurrent.futures.Future[Any]) -> None:
        """Cancel the callback behind ``future`` (from any thread): before it
        starts, it never runs; running, it is cancelled (its client is gone)."""
        if future.cancel():
            return

        def cancel_running() -> None:
            scope = self._scopes.get(future)
            if scope is not None:
                scope.cancel()

        self.call_soon(cancel_running)

    def close(self) -> None:
        """Refuse new callbacks, from outside the loop (its test has ended)."""
        self._closed = True

    async def aclose(self) -> None:
        """Cancel the callbacks still running and wait until they have finished."""
        self._closed = True
        for scope in list(self._scopes.values()):
            scope.cancel()
        if self._running:
            self._idle = self._idle or anyio.Event()
            await wait_shielded(self._idle)


async def wait_shielded(event: anyio.Event) -> None:
    """Wait until ``event`` is set, even if the task is cancelled meanwhile, then
    let the cancellation through. A shielded cancel scope holds off anyio's
    cancellation only; this also holds off asyncio's ``Task.cancel()``."""
    cancelled: BaseException | None = None
    with anyio.CancelScope(shield=True):
        while not event.is_set():
            try:
                await event.wait()
            except anyio.get_cancelled_exc_class() as exc:
                cancelled = exc
    if cancelled is not None:
        raise cancelled


def _fail(future: concurrent.futures.Future[Any], exc: BaseException) -> None:
    if future.set_running_or_notify_cancel():
        future.set_exception(exc)


def _nothing() -> None:
    """Scheduled to learn whether a loop still runs."""
