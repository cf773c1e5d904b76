"""Callbacks: build the response from the request, sync or async.

An async callback runs on the test's own event loop, so it can wait on the
test's objects: here an ``asyncio.Event`` that the test sets, and ``trio.sleep``
under trio. Run with ``python examples/async_callback.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import httpx
import trio
from multidict import CIMultiDictProxy
from yarl import URL

from aiointercept import CallbackError, CallbackResult, RecordedRequest, aiointercept


# [echo]
def echo(
    url: URL,
    *,
    headers: CIMultiDictProxy[str],
    query: dict[str, list[str]],
    json: Any,
    **kwargs: Any,
) -> CallbackResult:
    request: RecordedRequest = kwargs["request"]
    return CallbackResult(
        status=201,
        payload={
            "method": kwargs["method"],
            "path": url.path,
            "query": query,
            "json": json,
            "agent": headers["User-Agent"].split("/")[0],
            "size": len(request.captured_body),  # also kwargs["data"]
        },
        headers={"X-Echo": "yes"},
    )


def only_method(url: URL, *, method: str) -> CallbackResult:
    # Without **kwargs, a callback gets only the keywords it names.
    return CallbackResult(body=method, content_type="text/plain")


async def sync_callbacks() -> None:
    async with aiointercept() as m:
        m.post("/echo?lang=en", callback=echo)
        m.delete("/items/7", callback=only_method)

        async with aiohttp.ClientSession(base_url=m.server_url) as session:
            post = session.post("/echo", params={"lang": "en"}, json={"a": 1})
            async with post as resp:
                assert resp.status == 201
                assert resp.headers["X-Echo"] == "yes"
                assert await resp.json() == {
                    "method": "POST",
                    "path": "/echo",
                    "query": {"lang": ["en"]},
                    "json": {"a": 1},
                    "agent": "Python",
                    "size": 8,
                }
            async with session.delete("/items/7") as resp:
                assert await resp.text() == "DELETE"


# [/echo]


async def held_response() -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def wait_for_release(url: URL, **kwargs: Any) -> CallbackResult:
        started.set()
        await release.wait()  # an Event that belongs to the test's loop
        return CallbackResult(payload={"released": True})

    async with aiointercept() as m:
        m.get("/job", callback=wait_for_release)

        async with aiohttp.ClientSession() as session:

            async def fetch() -> Any:
                async with session.get(f"{m.server_url}/job") as resp:
                    return await resp.json()

            job = asyncio.create_task(fetch())
            await started.wait()
            assert not job.done()  # the response waits for the test
            release.set()
            assert await job == {"released": True}


async def on_trio() -> None:
    async def slow(url: URL, **kwargs: Any) -> CallbackResult:
        await trio.sleep(0.05)  # runs on the test's trio loop
        return CallbackResult(body="late", content_type="text/plain")

    async with aiointercept() as m:
        m.get("/slow", callback=slow)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/slow")

    assert response.text == "late"


# [errors]
def broken(url: URL, **kwargs: Any) -> CallbackResult:
    raise KeyError("user_id")


async def callback_errors() -> None:
    error: CallbackError | None = None
    try:
        async with aiointercept() as m:
            m.get("/broken", callback=broken)
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{m.server_url}/broken") as resp,
            ):
                # The client gets a 500 that describes the failure...
                assert resp.status == 500
                assert "KeyError: 'user_id'" in await resp.text()
    except CallbackError as exc:
        error = exc

    # ...and the test gets the error when the block exits.
    assert error is not None, "the block should have raised CallbackError"
    assert isinstance(error.__cause__, KeyError)
    assert error.request.url.path == "/broken"


# [/errors]


async def main() -> None:
    await sync_callbacks()
    await held_response()
    await callback_errors()


if __name__ == "__main__":
    asyncio.run(main())
    trio.run(on_trio)
