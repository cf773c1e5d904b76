"""mock_external_urls=True with httpx and requests, under trio.

Run with ``python examples/external_urls_httpx_trio.py`` (needs
``pip install "aiointercept[trio]" httpx requests``); it exits non-zero if
anything differs from what the comments say. Nothing leaves the machine: every
host is answered by the mock, and a host without a route is never resolved.
"""

from __future__ import annotations

from typing import Any

import httpx
import requests
import trio
import trio.lowlevel
from yarl import URL

from aiointercept import CallbackResult, aiointercept


# [sdk]
class GitHub:
    """Third-party code: hard-coded URLs and a client of its own, made before
    the test starts intercepting."""

    def __init__(self) -> None:
        self.client = httpx.AsyncClient(timeout=10)

    async def stars(self, repo: str) -> int:
        response = await self.client.get(f"https://api.github.com/repos/{repo}")
        response.raise_for_status()
        stars: int = response.json()["stargazers_count"]
        return stars

    async def open_issue(self, repo: str, title: str) -> int:
        response = await self.client.post(
            f"https://api.github.com/repos/{repo}/issues", json={"title": title}
        )
        response.raise_for_status()
        number: int = response.json()["number"]
        return number


async def main() -> None:
    github = GitHub()
    async with aiointercept(mock_external_urls=True) as m:
        m.get("https://api.github.com/repos/octo/cat", payload={"stargazers_count": 7})

        async def issue(url: URL, **kwargs: Any) -> CallbackResult:
            # async callbacks run on the test's own loop: trio here
            await trio.lowlevel.checkpoint()
            return CallbackResult(status=201, payload={"number": 42})

        m.post("https://api.github.com/repos/octo/cat/issues", callback=issue)

        assert await github.stars("octo/cat") == 7
        assert await github.open_issue("octo/cat", "Broken") == 42

        # requests (a synchronous client) is intercepted too, from any thread
        def status() -> int:
            code: int = requests.get(
                "https://www.githubstatus.com/", timeout=10
            ).status_code
            return code

        m.get("https://www.githubstatus.com/", body="all good")
        assert await trio.to_thread.run_sync(status) == 200

        # a host without a route is never resolved: the client gets its
        # transport error at once, and the request is reported
        try:
            await github.client.get("https://api.unknown.example/")
        except httpx.TransportError:
            pass
        else:  # pragma: no cover - the example checks what it shows
            raise AssertionError("an unrouted host must fail")
        assert str(m.unmatched[0].request.url) == "https://api.unknown.example/"

    await github.client.aclose()
    # Records show the URL the client asked for, with what it sent.
    m.assert_called_once_with(
        "https://api.github.com/repos/octo/cat/issues", "POST", json={"title": "Broken"}
    )
    assert m.requests[("GET", URL("https://api.github.com/repos/octo/cat"))]


# [/sdk]


if __name__ == "__main__":
    trio.run(main)
    print("external_urls_httpx_trio.py: all checks passed")
