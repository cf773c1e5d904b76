"""Record a login: the cassette holds no secret, and still replays.

Run with ``python examples/scrubbing.py`` (needs
``pip install "aiointercept[record]" httpx``); it exits non-zero if anything
differs from what the comments say. A local aiohttp server stands for the
real API, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import httpx
from aiohttp import web

from aiointercept import aiointercept


async def start_real_api() -> tuple[web.AppRunner, str]:
    """A local server standing for the real API."""

    async def login(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer eyJhbGciOi"
        assert request.query["api_key"] == "abc123"
        assert (await request.json())["password"] == "hunter2"
        response = web.json_response({"access_token": "tok-987", "expires_in": 3600})
        response.set_cookie("session", "s-654", path="/", httponly=True)
        return response

    app = web.Application()
    app.router.add_post("/v1/login", login)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    return runner, f"http://localhost:{port}"


# [scrubbing]
async def log_in(api: str) -> str:
    """Code under test: a hard-coded API, and real secrets."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{api}/v1/login?api_key=abc123&lang=en",
            headers={"Authorization": "Bearer eyJhbGciOi"},
            json={"user": "bob", "password": "hunter2"},
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token


async def main(cassette: Path) -> None:
    real_api, api = await start_real_api()

    # Recording: the real API gets the real secrets, the code the real token.
    async with aiointercept(mock_external_urls=True, cassette=cassette):
        assert await log_in(api) == "tok-987"
    recorded = await asyncio.to_thread(cassette.read_text)
    for secret in ("eyJhbGciOi", "abc123", "hunter2", "tok-987", "s-654"):
        assert secret not in recorded
    assert "Bearer SCRUBBED" in recorded
    assert "api_key=SCRUBBED&lang=en" in recorded
    assert '"password": "SCRUBBED"' in recorded
    assert '"access_token": "SCRUBBED"' in recorded
    assert "session=SCRUBBED; HttpOnly; Path=/" in recorded

    await real_api.cleanup()  # the real API is gone from now on

    # Replaying: the request with the real secrets matches the scrubbed one.
    async with aiointercept(mock_external_urls=True, cassette=cassette):
        assert await log_in(api) == "SCRUBBED"


# [/scrubbing]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(main(Path(directory) / "login.yaml"))
    print("scrubbing.py: all checks passed")
