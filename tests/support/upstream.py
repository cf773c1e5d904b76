"""The "real" remote host of the tests: one plain HTTP/1.1 server on 127.0.0.1.

Every test that needs a host outside the mock (passthrough, recording a
cassette, the network guard, what a client does after a block) starts an
:class:`Upstream`. It runs in a thread of its own, so it answers on asyncio
and trio alike, and while a synchronous client blocks the test's loop; it is
addressed by name (:attr:`Upstream.url`, ``http://localhost:PORT``) where it
stands for a remote host, and by address (:attr:`Upstream.ip_url`) where it
stands for a local service.

Start one with :func:`serving` (``async with``), :func:`running` (``with``),
or :meth:`Upstream.start` and :meth:`Upstream.stop`; once stopped, its port
refuses connections. It records every request in :attr:`Upstream.received`
and answers, whatever the method (HEAD gets the headers only):

=================  =============================================================
``/echo``          JSON: ``method``, ``path`` (with the query), ``body``, the
                   ``X-Token`` header as ``token`` and the ``Host`` as ``host``
``/size``          JSON: ``size`` and ``sha256`` of the request body
``/counter``       the number of requests ``/counter`` has answered, as text
``/teapot``        418 :data:`TEAPOT_REASON`, ``X-Upstream: yes``, ``X-Multi``
                   twice, ``X-Custom: kept``, two ``Set-Cookie``
``/gzip``          :data:`GZIP_TEXT`, gzip-compressed (:attr:`Upstream.gzipped`)
``/binary``        :data:`BINARY`; ``/large``: :data:`LARGE`; ``/secret``:
                   :data:`SECRET_BODY`; ``/unicode``: :data:`UNICODE` in UTF-8
``/chunked``       :data:`CHUNKS`, chunked
``/chunked-gzip``  :data:`GZIP_TEXT`, gzip-compressed and chunked, as Cloudflare
                   answers (:attr:`Upstream.gzipped`, in :data:`GZIP_CHUNKS`)
``/big``           :data:`BIG_CHUNKS` chunks of :data:`BIG_CHUNK`, chunked
``/stream``        a first chunk ``first;``, then ``second`` once
                   :attr:`Upstream.release` is set
``/redirect``      302 to ``/hello``; ``/same-host``: 301 to ``/hello``;
                   ``/away`` and ``/to-a-mocked-host``: 302 to another host
``/empty``         204 with ``X-Upstream: yes``
anything else      ``upstream METHOD PATH`` (the path with its query), as text
=================  =============================================================

A module that needs other answers subclasses :class:`UpstreamHandler` and
extends :meth:`UpstreamHandler.respond`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import socket
import socketserver
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from multidict import CIMultiDict

#: A bound on every wait of the server, so that a broken test fails instead of
#: hanging.
BOUND = 10.0

#: Bodies the upstream serves.
BINARY = bytes(range(256)) * 8
UNICODE = "héllo wörld ✓ ünïcödé"
GZIP_TEXT = "a compressed answer. " * 200
CHUNKS = [b"alpha;", b"beta;", b"gamma"]
TEAPOT_REASON = "Short And Stout"
TEAPOT_BODY = b"short and stout"
SECRET_BODY = b"your token-123 is here"
LARGE = random.Random(13).randbytes(1024 * 1024)
BIG_CHUNK = b"0123456789abcdef" * 4096  # 64 KiB
BIG_CHUNKS = 80  # 5 MiB in all
#: How many chunks ``/chunked-gzip`` sends its compressed body in.
GZIP_CHUNKS = 3

#: The redirects the upstream answers, by path: (status, Location).
REDIRECTS = {
    "/redirect": (302, "/hello"),
    "/same-host": (301, "/hello"),
    "/away": (302, "https://evil.invalid/steal?token=secret"),
    "/to-a-mocked-host": (302, "https://mocked.example.com/landing"),
}


@dataclass(frozen=True)
class Received:
    """One request as the upstream received it."""

    method: str
    #: The path with its query, as sent.
    path: str
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class Upstream:
    """A plain HTTP/1.1 server on 127.0.0.1, standing for a real remote host."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    #: /stream sends its first chunk, then waits for this before the rest.
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: TCP connections accepted (keep-alive connections count once).
    connections: int = 0
    #: How many requests /counter has answered.
    count: int = 0
    #: The exact bytes /gzip sends.
    gzipped: bytes = field(default_factory=lambda: gzip.compress(GZIP_TEXT.encode()))
    _server: UpstreamServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The upstream as a client names a remote host: by a host name."""
        return f"http://localhost:{self.port}"

    @property
    def ip_url(self) -> str:
        """The upstream by its loopback address, as a local service is named."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def paths(self) -> list[str]:
        """The path (with the query) of every request received, in order."""
        with self.lock:
            return [received.path for received in self.received]

    def start(self, handler: type[UpstreamHandler] | None = None) -> Upstream:
        """Serve with ``handler`` (:class:`UpstreamHandler` by default) in a
        thread of its own."""
        assert self._server is None, "already started"
        self._server = UpstreamServer(self, handler or UpstreamHandler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (and the waiting /stream); the port then refuses
        connections. Stopping again does nothing."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        self.release.set()
        server.shutdown()
        server.server_close()
        thread.join(BOUND)


class UpstreamServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, upstream: Upstream, handler: type[UpstreamHandler]) -> None:
        self.upstream = upstream
        super().__init__(("127.0.0.1", 0), handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the address up in DNS (getfqdn)
        socketserver.TCPServer.server_bind(self)
        self.server_name = "localhost"
        self.server_port = self.server_address[1]

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client: Any
    ) -> None:
        with self.upstream.lock:
            self.upstream.connections += 1
        super().process_request(request, client)


class UpstreamHandler(BaseHTTPRequestHandler):
    """Records every request in ``upstream.received``, then answers it with
    :meth:`respond`."""

    protocol_version = "HTTP/1.1"  # keep-alive
    timeout = BOUND
    server: UpstreamServer
    #: The number of the request being answered among all those the upstream
    #: received, from 1.
    serial: int

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.answer()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

    @property
    def upstream(self) -> Upstream:
        return self.server.upstream

    @property
    def route(self) -> str:
        """The path of the request, without its query."""
        return urlsplit(self.path).path

    def read_body(self) -> bytes:
        """The request body, read in full (chunked or not)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            while size := int(self.rfile.readline().split(b";")[0], 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(body)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self) -> None:
        body = self.read_body()
        received = Received(
            self.command, self.path, CIMultiDict(self.headers.items()), body
        )
        with self.upstream.lock:
            self.upstream.received.append(received)
            self.serial = len(self.upstream.received)
        self.respond(body)

    def respond(self, body: bytes) -> None:
        """Answer the request, whose ``body`` has been read: see the table in
        the docstring of the module."""
        route = self.route
        if route == "/echo":
            echo = {
                "method": self.command,
                "path": self.path,
                "body": body.decode(),
                "token": self.headers.get("X-Token"),
                "host": self.headers.get("Host"),
            }
            self.send_body(json.dumps(echo).encode(), "application/json")
        elif route == "/size":
            size = {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
            self.send_body(json.dumps(size).encode(), "application/json")
        elif route == "/counter":
            with self.upstream.lock:
                self.upstream.count += 1
                count = self.upstream.count
            self.send_body(str(count).encode(), "text/plain")
        elif route == "/teapot":
            self.send_body(
                TEAPOT_BODY,
                "text/plain",
                status=418,
                reason=TEAPOT_REASON,
                extra=[
                    ("X-Upstream", "yes"),
                    ("X-Multi", "1"),
                    ("X-Multi", "2"),
                    ("X-Custom", "kept"),
                    ("Set-Cookie", "first=1"),
                    ("Set-Cookie", "second=2"),
                ],
            )
        elif route == "/gzip":
            self.send_body(
                self.upstream.gzipped,
                "text/plain",
                extra={"Content-Encoding": "gzip"},
            )
        elif route == "/binary":
            self.send_body(BINARY, "application/octet-stream")
        elif route == "/large":
            self.send_body(LARGE, "application/octet-stream")
        elif route == "/secret":
            self.send_body(SECRET_BODY, "text/plain")
        elif route == "/unicode":
            self.send_body(UNICODE.encode(), "text/plain; charset=utf-8")
        elif route == "/chunked":
            self.send_chunked(CHUNKS)
        elif route == "/chunked-gzip":
            gzipped = self.upstream.gzipped
            step = -(-len(gzipped) // GZIP_CHUNKS)
            self.send_chunked(
                [gzipped[i : i + step] for i in range(0, len(gzipped), step)],
                extra={"Content-Encoding": "gzip"},
            )
        elif route == "/big":
            self.send_chunked([BIG_CHUNK] * BIG_CHUNKS, "application/x-big")
        elif route == "/stream":
            self.send_stream()
        elif route in REDIRECTS:
            status, location = REDIRECTS[route]
            self.send_response(status)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif route == "/empty":
            self.send_response(204)
            self.send_header("X-Upstream", "yes")
            self.end_headers()
        else:
            self.send_body(
                f"upstream {self.command} {self.path}".encode(), "text/plain"
            )

    # -- writing a response ------------------------------------------------------------

    def send_body(
        self,
        body: bytes,
        content_type: str,
        *,
        status: int = 200,
        reason: str | None = None,
        extra: Mapping[str, str] | list[tuple[str, str]] | None = None,
    ) -> None:
        """A response with a Content-Length (and no body for a HEAD)."""
        self.send_response(status, reason)
        self.send_header("Content-Type", content_type)
        items = extra.items() if isinstance(extra, Mapping) else extra or []
        for name, value in items:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_chunked(
        self,
        chunks: list[bytes],
        content_type: str = "text/plain",
        *,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """A chunked response, one chunk per write."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            return
        for chunk in chunks:
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def send_stream(self) -> None:
        """/stream: a first chunk, the rest once ``upstream.release`` is set."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"6\r\nfirst;\r\n")
        self.wfile.flush()
        # longer than any client waits: a client that never got the first
        # chunk times out, instead of being saved by this timeout
        self.upstream.release.wait(3 * BOUND)
        self.wfile.write(b"6\r\nsecond\r\n0\r\n\r\n")
        self.wfile.flush()


@contextmanager
def running(handler: type[UpstreamHandler] | None = None) -> Iterator[Upstream]:
    """A started :class:`Upstream`, stopped on exit."""
    upstream = Upstream().start(handler)
    try:
        yield upstream
    finally:
        upstream.stop()


@asynccontextmanager
async def serving(
    handler: type[UpstreamHandler] | None = None,
) -> AsyncIterator[Upstream]:
    """:func:`running`, for ``async with``."""
    with running(handler) as upstream:
        yield upstream


def closed_port() -> int:
    """A loopback port on which nothing listens (any more)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
