"""Record ``<vcrpy version>/<client>.yaml``: the exchanges of ``served.py``,
sent by requests, httpx and aiohttp while the real vcrpy records them. Not run
by the tests; run it by hand in a virtual environment with one vcrpy release
and clients of its time (``../README.md`` lists the versions of each)::

    /tmp/vcrpy7/bin/python tests/cassettes/data/vcrpy/make.py

It starts an HTTP server on 127.0.0.1 and, for this process only, answers a
name lookup of ``api.example.test`` (``socket.getaddrinfo``, which all three
clients use) with that server's address and port, so that the cassettes name
``http://api.example.test`` and nothing of this machine. The server sends a
fixed ``Server`` and ``Date``. Each client's answers are checked against
``served.py`` before its cassette is kept.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import requests
import vcr

if TYPE_CHECKING:
    from tests.cassettes.data.vcrpy.served import (
        DATE,
        EXCHANGES,
        HOST,
        ORIGIN,
        SERVER,
        Answer,
        answer_for,
    )
else:  # run as a script, in a virtualenv of its own, beside served.py
    from served import DATE, EXCHANGES, HOST, ORIGIN, SERVER, Answer, answer_for

HERE = Path(__file__).parent
CLIENTS = ["requests", "httpx", "aiohttp"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def version_string(self) -> str:
        return SERVER

    def date_time_string(self, timestamp: float | None = None) -> str:
        return DATE

    def do_GET(self) -> None:
        self.answer()

    do_POST = do_DELETE = do_HEAD = do_GET

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        answer = answer_for(self.command, url.path, url.query, body)
        self.send(answer)

    def send(self, answer: Answer) -> None:
        self.send_response(answer.status, answer.reason)
        if answer.content_type is not None:
            self.send_header("Content-Type", answer.content_type)
        for cookie in answer.cookies:
            self.send_header("Set-Cookie", cookie)
        if answer.location is not None:
            self.send_header("Location", answer.location)
        if answer.coding is not None:
            self.send_header("Content-Encoding", answer.coding)
        wire = answer.wire_body()
        if answer.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif answer.status != 204:
            self.send_header("Content-Length", str(len(wire)))
        self.end_headers()
        if self.command == "HEAD" or answer.status == 204:
            return
        if not answer.chunked:
            self.wfile.write(wire)
            return
        third = len(wire) // 3 + 1
        for start in range(0, len(wire), third):
            piece = wire[start : start + third]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")


def resolve_to(port: int) -> None:
    """Answer a lookup of :data:`HOST` with ``127.0.0.1:port``, in this process."""
    lookup = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == HOST:
            found = lookup("127.0.0.1", port, *args[1:], **kwargs)
            return [info for info in found if info[0] == socket.AF_INET]
        return lookup(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def with_requests() -> list[tuple[int, bytes]]:
    replies = []
    with requests.Session() as session:
        for exchange in EXCHANGES:
            response = session.request(
                exchange.method,
                f"{ORIGIN}{exchange.path}",
                params=exchange.params or None,
                json=exchange.json,
                data=exchange.form or None,
                timeout=10,
            )
            replies.append((response.status_code, response.content))
    return replies


def with_httpx() -> list[tuple[int, bytes]]:
    replies = []
    with httpx.Client(follow_redirects=True, timeout=10) as client:
        for exchange in EXCHANGES:
            response = client.request(
                exchange.method,
                f"{ORIGIN}{exchange.path}",
                params=tuple(exchange.params) if exchange.params else None,
                json=exchange.json,
                data=dict(exchange.form) or None,
            )
            replies.append((response.status_code, response.content))
    return replies


async def aiohttp_replies() -> list[tuple[int, bytes]]:
    replies = []
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=10)
    ) as session:
        for exchange in EXCHANGES:
            options: dict[str, Any] = {}
            if exchange.params:
                options["params"] = exchange.params
            if exchange.json is not None:
                options["json"] = exchange.json
            if exchange.form:
                options["data"] = dict(exchange.form)
            async with session.request(
                exchange.method, f"{ORIGIN}{exchange.path}", **options
            ) as response:
                replies.append((response.status, await response.read()))
    return replies


def with_aiohttp() -> list[tuple[int, bytes]]:
    return asyncio.run(aiohttp_replies())


def record(client: str, path: Path) -> None:
    send = {"requests": with_requests, "httpx": with_httpx, "aiohttp": with_aiohttp}
    path.unlink(missing_ok=True)
    with vcr.use_cassette(str(path), record_mode="once") as cassette:
        replies = send[client]()
    expected = [(e.answer.status, e.answer.body) for e in EXCHANGES]
    for exchange, reply, wanted in zip(EXCHANGES, replies, expected, strict=True):
        if reply != wanted:
            path.unlink(missing_ok=True)
            sys.exit(f"{client}, {exchange.name}: got {reply!r}, not {wanted!r}")
    print(f"{path.relative_to(HERE)}: {len(cassette)} interactions")


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    resolve_to(server.server_address[1])
    folder = HERE / vcr.__version__
    folder.mkdir(exist_ok=True)
    try:
        for client in CLIENTS:
            record(client, folder / f"{client}.yaml")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
