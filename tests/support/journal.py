"""Sending one request to a block, and reading what the block recorded."""

from __future__ import annotations

from typing import Any

import httpx
from yarl import URL

from aiointercept import RecordedRequest, aiointercept


async def send(m: aiointercept, method: str, path: str, **kwargs: Any) -> int:
    """Send one request with httpx to the block's own server: the status, or
    0 for a closed connection."""
    async with httpx.AsyncClient(base_url=m.server_url) as client:
        try:
            return (await client.request(method, path, **kwargs)).status_code
        except httpx.TransportError:
            return 0


def only(m: aiointercept, method: str, url: str) -> RecordedRequest:
    """The one request that ``m`` recorded for ``method`` and ``url``."""
    (request,) = m.requests[(method, URL(url))]
    return request
