"""What the reliability tests share: their size, resource readings, leak reports
and raw sockets.

The normal run keeps every count small so that the whole directory stays fast;
``AIOINTERCEPT_SOAK=1`` (set by ``nox -s soak``) scales them up to the figures
of the issue: 1000 enter/exit cycles, 200 clients x 50 requests, and many more
fuzzing examples.

Nothing here sends traffic anywhere but 127.0.0.1 or asks a real DNS server
anything: every module guards aiohttp with
:func:`tests.support.aiohttp_guard.guarded`.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

#: ``AIOINTERCEPT_SOAK=1``: run at the full size of the issue.
SOAK = os.environ.get("AIOINTERCEPT_SOAK", "") not in ("", "0")

#: How long a cancelled block may take to end. The issue asks for 1 s; the
#: normal run allows 2 s so that a loaded CI machine does not make it flaky,
#: and the soak run checks the 1 s of the issue.
CANCEL_BOUND = 1.0 if SOAK else 2.0

#: A bound on every aiohttp request of these tests, so that a broken library
#: makes a test fail instead of hang.
BOUND = aiohttp.ClientTimeout(total=30)

#: Creating an ``httpx.AsyncClient`` builds an SSL context (about 50 ms); the
#: tests only speak plain HTTP to 127.0.0.1, so they share one.
_SSL_CONTEXT = ssl.create_default_context()


def scaled(normal: int, soak: int) -> int:
    """``normal`` in the normal run, ``soak`` under ``AIOINTERCEPT_SOAK=1``."""
    return soak if SOAK else normal


def httpx_client(**kwargs: Any) -> httpx.AsyncClient:
    kwargs.setdefault("timeout", 30)
    return httpx.AsyncClient(verify=_SSL_CONTEXT, **kwargs)


# -- resources ---------------------------------------------------------------------


def _status_field(name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    raise AssertionError(f"/proc/self/status has no {name}")  # pragma: no cover


@dataclass(frozen=True)
class Resources:
    """What the process holds: open file descriptors, threads and memory."""

    fds: int
    threads: int
    os_threads: int
    rss: int
    #: The identities of the Python threads alive.
    thread_ids: frozenset[int]

    @classmethod
    def now(cls) -> Resources:
        gc.collect()
        threads = threading.enumerate()
        return cls(
            fds=len(os.listdir("/proc/self/fd")),
            threads=len(threads),
            os_threads=_status_field("Threads"),
            rss=_status_field("VmRSS") * 1024,
            thread_ids=frozenset(thread.ident or 0 for thread in threads),
        )


MB = 1024 * 1024


def report(title: str, before: Resources, after: Resources, **figures: str) -> str:
    """One line with the figures a soak or stress run measured (printed, so that
    ``nox -s soak`` shows them)."""
    extra = "".join(f"; {name} {value}" for name, value in figures.items())
    line = (
        f"{title}: fds {before.fds} -> {after.fds}; "
        f"threads {before.threads} -> {after.threads} "
        f"(OS threads {before.os_threads} -> {after.os_threads}); "
        f"RSS {before.rss / MB:.1f} -> {after.rss / MB:.1f} MB "
        f"({(after.rss - before.rss) / MB:+.2f} MB){extra}"
    )
    print(f"\n[reliability] {line}")
    return line


# -- leaks reported by Python and asyncio -------------------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def no_leak_reports() -> Iterator[None]:
    """Fail if the block leaves a ResourceWarning, or asyncio reports a task
    destroyed while pending or an exception never retrieved (from any thread).
    Garbage left by earlier tests is collected first, so that only what the
    block leaves counts (anyio 4.5's pytest runner leaves such tasks behind
    with hypothesis)."""
    gc.collect()
    handler = _Collect()
    asyncio_logger = logging.getLogger("asyncio")
    asyncio_logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            yield
            gc.collect()
    finally:
        asyncio_logger.removeHandler(handler)
    leaked = [str(w.message) for w in caught if w.category is ResourceWarning]
    assert leaked == [], f"ResourceWarning: {leaked}"
    assert handler.messages == [], f"asyncio reported: {handler.messages}"


# -- raw sockets -------------------------------------------------------------------


def raw_exchange(
    port: int, data: bytes, *, half_close: bool = True, timeout: float = 10
) -> bytes:
    """Send ``data`` to the server over a plain socket, optionally half-close,
    and return everything the server sends until it closes (or ``timeout``)."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server may close first: fine
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, OSError):
                break
            if not chunk:
                break
            received += chunk
    return bytes(received)


def well_formed_get(port: int, path: str = "/ok") -> tuple[int, bytes]:
    """A well-formed request over a fresh socket: its status and body."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    ).encode()
    return parse_response(raw_exchange(port, request, half_close=False))


def parse_response(raw: bytes) -> tuple[int, bytes]:
    """Status and body of one complete HTTP/1.1 response with a Content-Length."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    assert separator, f"no complete response: {raw[:200]!r}"
    status_line, *header_lines = head.split(b"\r\n")
    version, status, _ = status_line.split(b" ", 2)
    assert version == b"HTTP/1.1", status_line
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(b":") for line in header_lines)
    }
    length = int(headers.get(b"content-length", b"0"))
    assert len(body) >= length, f"truncated body: {raw[:200]!r}"
    return int(status), body[:length]
