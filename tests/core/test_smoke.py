from __future__ import annotations

import httpx
import pytest

from aiointercept import aiointercept

pytestmark = pytest.mark.anyio


async def test_get_json() -> None:
    async with aiointercept() as m:
        m.get("/hello", payload={"ok": True})
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/hello")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
