"""Write ``vcrpy5_httpx.yaml``: a cassette in the shape that vcrpy's httpx
support wrote before vcrpy 6 (``status_code``, ``http_version``, ``headers``,
``content``), recorded by the real vcrpy. Not run by the tests; run it by hand
where vcrpy 5.1.0 and httpx 0.24.1 are installed::

    python -m venv /tmp/vcrpy5
    /tmp/vcrpy5/bin/pip install vcrpy==5.1.0 httpx==0.24.1
    /tmp/vcrpy5/bin/python tests/cassettes/data/make_vcrpy5_httpx.py

The answers come from a server on 127.0.0.1; connections to
``api.example.com`` are sent to it, so that the cassette names that host.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import vcr

HERE = Path(__file__).parent
HOST = "api.example.com"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/missing":
            self.answer(404, b"not found", "text/plain", reason="Not Found")
        elif self.path == "/gzip":
            self.answer(
                200,
                gzip.compress(b"compressed " * 20),
                "text/plain",
                [("Content-Encoding", "gzip")],
            )
        else:
            items = [{"id": 1, "name": "caf\u00e9"}]
            self.answer(
                200,
                json.dumps(items).encode(),
                "application/json",
                [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
            )

    def do_POST(self) -> None:
        sent = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.answer(201, json.dumps({"created": sent}).encode(), "application/json")

    def answer(
        self,
        status: int,
        body: bytes,
        content_type: str,
        extra: list[tuple[str, str]] | None = None,
        reason: str | None = None,
    ) -> None:
        self.send_response(status, reason)
        self.send_header("Content-Type", content_type)
        for name, value in extra or []:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    connect = socket.create_connection

    def to_the_server(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if address[0] == HOST:
            address = ("127.0.0.1", port)
        return connect(address, *args, **kwargs)

    socket.create_connection = to_the_server
    path = HERE / "vcrpy5_httpx.yaml"
    path.unlink(missing_ok=True)
    with vcr.use_cassette(str(path)), httpx.Client() as client:
        client.get(f"http://{HOST}/items?page=1")
        client.get(f"http://{HOST}/gzip")
        client.post(f"http://{HOST}/items", json={"name": "new"})
        client.get(f"http://{HOST}/missing")
    server.shutdown()


if __name__ == "__main__":
    main()
