"""Delays, network faults, streamed and compressed bodies, uploads.

Everything here happens on the wire: the client's own timeout, parser and
decompression code runs, as it would against a real, misbehaving API. Run with
``python examples/faults_streaming.py``.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any

import aiohttp
import httpx
import trio

from aiointercept import CallbackResult, Fault, ServerSentEvents, aiointercept


async def raises(expected: type[BaseException], awaitable: Awaitable[Any]) -> str:
    """Await, expecting ``expected``; return its message."""
    try:
        await awaitable
    except expected as exc:
        return str(exc)
    raise AssertionError(f"expected {expected.__name__}")


# [delay]
async def delays() -> None:
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.get("/slow", payload={"ok": True}, delay=2)
        timeout = aiohttp.ClientTimeout(total=0.2)
        # aiohttp's own timeout fires
        await raises(
            asyncio.TimeoutError, session.get(f"{m.server_url}/slow", timeout=timeout)
        )
        # the request reached the server and is recorded all the same
        m.assert_called_once_with(f"{m.server_url}/slow", "GET")


# [/delay]


# [faults]
async def faults() -> None:
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.get("/reset", fault=Fault.RESET)
        m.get("/short", body="0123456789", fault="short_body")
        m.get("/flaky", exception=ConnectionResetError())  # same as fault="reset"
        m.get("/flaky", payload={"ok": True})  # the retry succeeds

        message = await raises(
            aiohttp.ClientOSError, session.get(f"{m.server_url}/reset")
        )
        assert "reset by peer" in message

        async with session.get(f"{m.server_url}/short") as resp:
            assert resp.status == 200  # the headers arrived...
            await raises(aiohttp.ClientPayloadError, resp.read())  # ...half the body

        for attempt in range(2):
            try:
                async with session.get(f"{m.server_url}/flaky") as resp:
                    assert await resp.json() == {"ok": True}
                    break
            except aiohttp.ClientOSError:
                assert attempt == 0


# [/faults]


# [hang]
async def hang_under_trio() -> None:
    async with aiointercept() as m, httpx.AsyncClient(timeout=0.2) as client:
        m.get("/never", fault=Fault.HANG)
        await raises(httpx.ReadTimeout, client.get(f"{m.server_url}/never"))


# [/hang]


# [stream]
def numbers() -> Iterator[str]:
    for number in range(3):
        yield f"{number}\n"


async def ticks() -> AsyncIterator[bytes]:
    # runs on the test's loop: it may await the test's own objects
    for tick in range(3):
        await asyncio.sleep(0)
        yield b"tick %d\n" % tick


async def streaming() -> None:
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.get("/numbers", body=numbers(), content_type="text/plain")
        m.get("/ticks", body=ticks(), chunk_delay=0.01, content_type="text/plain")
        m.get(
            "/events",
            body=ServerSentEvents(["hello", {"event": "done", "data": {"n": 1}}]),
        )

        async with session.get(f"{m.server_url}/numbers") as resp:
            assert resp.headers["Transfer-Encoding"] == "chunked"
            assert await resp.text() == "0\n1\n2\n"
        async with session.get(f"{m.server_url}/ticks") as resp:
            lines = [line async for line in resp.content]
            assert lines == [b"tick 0\n", b"tick 1\n", b"tick 2\n"]
        async with session.get(f"{m.server_url}/events") as resp:
            assert resp.content_type == "text/event-stream"
            assert await resp.text() == (
                'data: hello\n\nevent: done\ndata: {"n": 1}\n\n'
            )


# [/stream]


# [big]
async def a_large_body() -> None:
    megabyte = bytes(range(256)) * 4096
    chunks = 100  # 100 MiB, never held in memory at once

    def body() -> Iterator[bytes]:
        for _ in range(chunks):
            yield megabyte

    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.get("/big", body=body(), content_type="application/octet-stream")
        digest, size = hashlib.sha256(), 0
        async with session.get(f"{m.server_url}/big") as resp:
            async for chunk in resp.content.iter_chunked(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        assert size == chunks * len(megabyte)
        expected = hashlib.sha256()
        for _ in range(chunks):
            expected.update(megabyte)
        assert digest.hexdigest() == expected.hexdigest()


# [/big]


# [compress]
async def compressed() -> None:
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.get("/gzip", payload={"big": "x" * 1000}, compress="gzip")
        m.get("/negotiated", body="plain or not", compress=True)

        async with session.get(f"{m.server_url}/gzip") as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
            assert await resp.json() == {"big": "x" * 1000}  # decoded by aiohttp
        identity = {"Accept-Encoding": "identity"}
        async with session.get(f"{m.server_url}/negotiated", headers=identity) as resp:
            assert "Content-Encoding" not in resp.headers


# [/compress]


# [uploads]
async def uploads() -> None:
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.post("/upload", status=201, repeat=True)

        form = aiohttp.FormData()
        form.add_field("title", "report")
        form.add_field("file", b"%PDF-1.7", filename="r.pdf")
        await session.post(f"{m.server_url}/upload", data=form)

        packed = gzip.compress(b'{"n": 1}')
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        await session.post(f"{m.server_url}/upload", data=packed, headers=headers)

        first, second = m.requests[("POST", f"{m.server_url}/upload")]
        assert first.form == {"title": ["report"]}
        assert first.files["file"][0].filename == "r.pdf"
        assert first.files["file"][0].data == b"%PDF-1.7"
        assert second.captured_body == packed  # as sent
        assert second.decoded_body == b'{"n": 1}'
        assert await second.json() == {"n": 1}


# [/uploads]


# [callback]
async def from_a_callback() -> None:
    calls = 0

    def flaky(url: object, **kwargs: object) -> CallbackResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            return CallbackResult(fault=Fault.CLOSE_AFTER_HEADERS)
        return CallbackResult(payload={"attempt": calls}, delay=0.01)

    async with aiointercept() as m, aiohttp.ClientSession() as session:
        m.get("/flaky", callback=flaky, repeat=True)
        async with session.get(f"{m.server_url}/flaky") as resp:
            await raises(aiohttp.ClientPayloadError, resp.read())
        async with session.get(f"{m.server_url}/flaky") as resp:
            assert await resp.json() == {"attempt": 2}


# [/callback]


def main() -> None:
    for example in (
        delays,
        faults,
        streaming,
        a_large_body,
        compressed,
        uploads,
        from_a_callback,
    ):
        asyncio.run(example())
    trio.run(hang_under_trio)
    print("faults and streaming: all examples passed")


if __name__ == "__main__":
    main()
