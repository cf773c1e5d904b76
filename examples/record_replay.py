"""Record real traffic once, then replay it with the real server gone.

Run with ``python examples/record_replay.py`` (needs
``pip install "aiointercept[record]" httpx requests``); it exits non-zero if
anything differs from what the comments say. A local aiohttp server stands
for the real API, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

import httpx
import requests
from aiohttp import web

from aiointercept import CassetteError, aiointercept


async def start_real_api() -> tuple[web.AppRunner, str]:
    """A local server standing for the real API."""

    async def forecast(request: web.Request) -> web.Response:
        city = request.query["city"]
        return web.json_response({"city": city, "sky": "clear"})

    app = web.Application()
    app.router.add_get("/v1/forecast", forecast)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    return runner, f"http://localhost:{port}"


# [record]
async def sky(api: str, city: str) -> str:
    """Code under test: a hard-coded API and a client of its own."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(
            f"{api}/v1/forecast",
            params={"city": city},
            headers={"Authorization": "Bearer real-secret"},
        )
        response.raise_for_status()
        text: str = response.json()["sky"]
        return text


async def main(cassette: Path) -> None:
    real_api, api = await start_real_api()

    # First run: no cassette yet, so the request reaches the real API through
    # the mock and is written down when the block exits.
    async with aiointercept(mock_external_urls=True, cassette=cassette):
        assert await sky(api, "Paris") == "clear"
    recorded = await asyncio.to_thread(cassette.read_text)
    assert "real-secret" not in recorded  # Authorization: Bearer SCRUBBED

    await real_api.cleanup()  # the real API is gone from now on

    # Later runs replay the cassette: same answer, no network.
    async with aiointercept(mock_external_urls=True, cassette=cassette) as m:
        assert await sky(api, "Paris") == "clear"
        # requests replays the same cassette (each interaction plays once).
        m.get(f"{api}/v1/forecast?city=Oslo", payload={"city": "Oslo", "sky": "snow"})
        oslo = await asyncio.to_thread(
            requests.get, f"{api}/v1/forecast", params={"city": "Oslo"}, timeout=10
        )
        assert oslo.json()["sky"] == "snow"  # a registered route comes first
    m.assert_any_call(f"{api}/v1/forecast", params={"city": "Paris"})

    # A request the cassette does not have fails in the client at once, and
    # the block says which interaction came closest.
    failure: CassetteError | None = None
    try:
        async with aiointercept(mock_external_urls=True, cassette=cassette):
            with contextlib.suppress(httpx.TransportError):
                await sky(api, "Rome")
    except CassetteError as error:
        failure = error
    assert failure is not None, "a request missing from the cassette must fail"
    assert "no interaction left for GET" in str(failure)
    assert "query: recorded city=Paris, got city=Rome" in str(failure)


# [/record]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(main(Path(directory) / "forecast.yaml"))
    print("record_replay.py: all checks passed")
