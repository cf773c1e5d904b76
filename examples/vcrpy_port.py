"""Tests written for vcrpy, run by aiointercept: only the import changed.

Run with ``python examples/vcrpy_port.py`` (needs
``pip install "aiointercept[record]" httpx requests``); it exits non-zero if
anything differs from what the comments say. A local HTTP server stands for
the real API: the tests record from it, then replay with it gone, so nothing
leaves the machine.
"""

from __future__ import annotations

import asyncio
import json
import socketserver
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import requests

# [import]
from aiointercept import vcr  # was: import vcr

# [/import]

CASSETTES = tempfile.mkdtemp(prefix="cassettes-")
#: Requests the real API received.
RECEIVED: list[str] = []


class RealApi(BaseHTTPRequestHandler):
    """Answers ``{"path": ...}``; notes each request."""

    def do_GET(self) -> None:
        RECEIVED.append(self.path)
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalServer(ThreadingHTTPServer):
    def server_bind(self) -> None:  # no name look-up of the address
        socketserver.TCPServer.server_bind(self)


server = LocalServer(("127.0.0.1", 0), RealApi)
API = f"http://localhost:{server.server_address[1]}"

# [vcr]
my_vcr = vcr.VCR(
    cassette_library_dir=CASSETTES,
    path_transformer=vcr.VCR.ensure_suffix(".yaml"),
    filter_headers=["authorization"],
)


@my_vcr.use_cassette()  # cassettes/test_user.yaml, named after the test
def test_user() -> None:
    response = requests.get(
        f"{API}/users/1", headers={"Authorization": "Bearer t0k3n"}, timeout=5
    )
    assert response.json() == {"path": "/users/1"}


@my_vcr.use_cassette("orders", inject_cassette=True)
async def test_orders(cassette: vcr.Cassette) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{API}/orders")
    assert response.json() == {"path": "/orders"}
    assert len(cassette) == 1  # recorded, or replayed from the file


# [/vcr]


def main() -> None:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        test_user()  # record
        asyncio.run(test_orders())
    finally:
        server.shutdown()
        server.server_close()
    assert RECEIVED == ["/users/1", "/orders"], RECEIVED
    # the real API is gone: the same tests replay their cassettes
    test_user()
    asyncio.run(test_orders())
    assert sorted(p.name for p in Path(CASSETTES).iterdir()) == [
        "orders.yaml",
        "test_user.yaml",
    ]
    assert "t0k3n" not in (Path(CASSETTES) / "test_user.yaml").read_text()
    print("recorded once, replayed with the API gone")


if __name__ == "__main__":
    main()
