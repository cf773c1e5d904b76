"""aiohttp under asyncio: answer two requests, then look at what was sent.

Run with ``python examples/aiohttp_asyncio.py``; it exits non-zero if anything
differs from what the comments say.
"""

from __future__ import annotations

# [example]
import asyncio

import aiohttp
from yarl import URL

from aiointercept import aiointercept


async def main() -> None:
    async with aiointercept() as m:
        # A relative path means m.server_url + path.
        m.get("/api/users", payload=[{"id": 1, "name": "Alice"}])
        m.post("/api/users", status=201, payload={"id": 2, "name": "Bob"})

        async with aiohttp.ClientSession(base_url=m.server_url) as session:
            async with session.get("/api/users") as resp:
                assert resp.status == 200
                assert await resp.json() == [{"id": 1, "name": "Alice"}]

            async with session.post("/api/users", json={"name": "Bob"}) as resp:
                assert resp.status == 201
                assert await resp.json() == {"id": 2, "name": "Bob"}

    # Every request is recorded under (METHOD, URL); the records outlive the block.
    (sent,) = m.requests[("POST", URL(f"{m.server_url}/api/users"))]
    assert await sent.json() == {"name": "Bob"}
    assert sent.headers["Content-Type"] == "application/json"


asyncio.run(main())
# [/example]
