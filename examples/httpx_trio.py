"""httpx under trio: responses, queues, repeat, regular expressions and closing.

Each function below shows one feature and checks it. Run with
``python examples/httpx_trio.py`` (needs ``pip install "aiointercept[trio]" httpx``).
"""

from __future__ import annotations

import re

import httpx
import trio
from yarl import URL

from aiointercept import aiointercept


async def basic() -> None:
    async with aiointercept() as m:
        # The query is part of the URL; its order does not matter.
        m.get("/search?tag=a&tag=b", payload={"hits": 2})

        async with httpx.AsyncClient(base_url=m.server_url) as client:
            response = await client.get("/search", params={"tag": ["b", "a"]})

        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.json() == {"hits": 2}

    # Keys hold the normalized URL: query sorted, fragment dropped.
    key = ("GET", URL(f"{m.server_url}/search?tag=a&tag=b"))
    (request,) = m.requests[key]
    # query: in request order; query["tag"] is the first value, getall() all
    assert request.query.getall("tag") == ["b", "a"]
    assert request.query["tag"] == "b"
    assert request.kwargs["query"] == {"tag": ["b", "a"]}  # as callbacks get it
    assert request.captured_body == b""


async def responses() -> None:
    async with aiointercept() as m:
        m.get("/text", body="héllo", content_type="text/plain; charset=utf-8")
        m.get("/csv", body=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"})
        m.get("/teapot", status=418, reason="Short And Stout")
        m.get("/traced", json={"ok": True}, headers={"X-Trace-Id": "abc123"})

        async with httpx.AsyncClient(base_url=m.server_url) as client:
            text = await client.get("/text")
            csv = await client.get("/csv")
            teapot = await client.get("/teapot")
            traced = await client.get("/traced")

    assert text.content == "héllo".encode()  # str bodies are sent as UTF-8
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert csv.headers["Content-Type"] == "text/csv"  # kept: no content_type=
    assert teapot.status_code == 418
    assert teapot.reason_phrase == "Short And Stout"
    assert traced.headers["X-Trace-Id"] == "abc123"
    assert traced.json() == {"ok": True}


async def queues() -> None:
    async with aiointercept() as m:
        m.get("/health", repeat=True, body="ok")  # every time
        m.get("/flaky", status=503, repeat=2)  # the first two times...
        m.get("/flaky", payload={"ready": True})  # ...then this, once
        m.post("/orders", status=201)
        m.post("/orders", status=409)

        async with httpx.AsyncClient(base_url=m.server_url) as client:
            for _ in range(5):
                assert (await client.get("/health")).text == "ok"

            statuses = [(await client.get("/flaky")).status_code for _ in range(3)]
            assert statuses == [503, 503, 200]

            assert (await client.post("/orders")).status_code == 201
            assert (await client.post("/orders")).status_code == 409
            try:
                await client.post("/orders")  # nothing left: connection closed
            except httpx.TransportError:
                pass
            else:
                raise AssertionError("a third POST should find nothing to serve")

    assert len(m.requests[("POST", URL(f"{m.server_url}/orders"))]) == 3


async def regex() -> None:
    async with aiointercept() as m:
        # The pattern is matched (re.match) against the full normalized URL.
        user_url = re.compile(rf"{re.escape(m.server_url)}/users/\d+$")
        m.get(user_url, repeat=True, payload={"name": "Alice"})

        async with httpx.AsyncClient(base_url=m.server_url) as client:
            assert (await client.get("/users/1")).json() == {"name": "Alice"}
            assert (await client.get("/users/42")).json() == {"name": "Alice"}

    # Each URL is recorded under its own key.
    assert ("GET", URL(f"{m.server_url}/users/42")) in m.requests


async def closing() -> None:
    async with aiointercept() as m:
        m.get("/down", exception=True)  # close the connection, send nothing

        async with httpx.AsyncClient(base_url=m.server_url) as client:
            for path in ("/down", "/not-registered"):
                try:
                    await client.get(path)
                except httpx.TransportError:
                    pass
                else:
                    raise AssertionError(f"{path} should have failed")

    # Unanswered requests are recorded too.
    assert ("GET", URL(f"{m.server_url}/not-registered")) in m.requests


async def main() -> None:
    await basic()
    await responses()
    await queues()
    await regex()
    await closing()


if __name__ == "__main__":
    trio.run(main)
