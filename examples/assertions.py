"""Assertions, route handles, request matchers and unmatched-request reports.

Each function below shows one feature and checks it. Run with
``python examples/assertions.py`` (needs ``pip install aiointercept httpx``); it
exits non-zero if anything differs from what the comments say.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from aiointercept import RecordedRequest, StrictCheckError, aiointercept


async def instance_assertions() -> None:
    async with aiointercept() as m:
        m.post("/orders", status=201, repeat=True)
        m.post("/orders?dry_run=1", status=200)

        async with httpx.AsyncClient(base_url=m.server_url) as client:
            await client.post("/orders", json={"sku": "A1", "qty": 1})
            await client.post("/orders?dry_run=1", json={"sku": "B2", "qty": 2})

    # The most recent request to that method and URL, with these arguments:
    m.assert_called_with("/orders", "POST", json={"sku": "A1", "qty": 1})
    # params are added to the URL's query.
    m.assert_called_once_with(
        "/orders", "POST", {"dry_run": 1}, json={"sku": "B2", "qty": 2}
    )
    m.assert_any_call("/orders", "POST", headers={"Content-Type": "application/json"})
    assert m.call_count == 2
    assert m.last_request is not None
    assert await m.last_request.json() == {"sku": "B2", "qty": 2}


async def route_handles() -> None:
    async with aiointercept() as m:
        created = m.post("/users", status=201, payload={"id": 7})
        conflict = m.post("/users", status=409)  # queued after the first
        profile = m.get("/users/7", payload={"name": "Ann"}, repeat=True)

        async with httpx.AsyncClient(base_url=m.server_url) as client:
            await client.post("/users", json={"name": "Ann"})
            await client.get("/users/7")
            await client.get("/users/7")

    created.assert_called_once_with(json={"name": "Ann"})
    conflict.assert_not_called()
    assert profile.call_count == 2
    assert [request.url.path for request in profile.calls] == ["/users/7"] * 2


async def matching() -> None:
    def is_admin(request: RecordedRequest) -> bool:
        return request.headers.get("X-Role") == "admin"

    async with aiointercept() as m:
        m.get("/search", match_query={"q": "cats"}, payload=["Tom"])
        m.get("/me", match_headers={"Authorization": "Bearer t0k"}, payload={"id": 1})
        m.post("/orders", match_json={"sku": "A1", "qty": 1}, status=201)
        m.post("/login", match_form={"user": "ann"}, status=204)
        m.put("/notes/1", match_body="plain text", status=204)
        m.delete("/users/7", match=is_admin, status=204)

        async with httpx.AsyncClient(base_url=m.server_url) as client:
            # Other query parameters and headers may come along.
            search = await client.get("/search", params={"q": "cats", "page": 1})
            me = await client.get("/me", headers={"Authorization": "Bearer t0k"})
            order = await client.post("/orders", json={"qty": 1, "sku": "A1"})
            login = await client.post("/login", data={"user": "ann"})
            note = await client.put("/notes/1", content=b"plain text")
            deleted = await client.delete("/users/7", headers={"X-Role": "admin"})

    assert search.json() == ["Tom"]
    assert me.json() == {"id": 1}
    assert [r.status_code for r in (order, login, note, deleted)] == [
        201,
        204,
        204,
        204,
    ]


async def precedence() -> None:
    async with aiointercept() as m:
        m.post("/pay", match_json={"amount": 0}, status=422)  # checked first
        m.post("/pay", match_json={"amount": 5}, status=201)  # serves once
        m.post("/pay", status=402, repeat=True)  # everything else

        async with httpx.AsyncClient(base_url=m.server_url) as client:
            statuses = [
                (await client.post("/pay", json={"amount": amount})).status_code
                for amount in (5, 0, 5, 9)
            ]

    # The first route registered that still has responses and whose
    # matchers all pass answers; the second 5 finds its route used up.
    assert statuses == [201, 422, 402, 402]


async def failure_messages() -> None:
    async with aiointercept() as m:
        m.post("/orders", repeat=True)
        async with httpx.AsyncClient(base_url=m.server_url) as client:
            await client.post("/orders", json={"sku": "A1", "qty": 2})

    try:
        m.assert_called_with("/orders", "POST", json={"sku": "A1", "qty": 1})
    except AssertionError as error:
        message = str(error)
    else:
        raise AssertionError("the quantity differs: the assertion should fail")
    print(message, end="\n\n")
    assert '-   "qty": 1,' in message
    assert '+   "qty": 2,' in message

    try:
        m.assert_called_with("/order", "POST")
    except AssertionError as error:
        message = str(error)
    else:
        raise AssertionError("/order was never called")
    print(message, end="\n\n")
    assert "Recorded requests, closest first:" in message
    assert "- path: expected /order, got /orders" in message


async def diagnostics() -> None:
    async with aiointercept() as m:
        users = m.get("/users", repeat=True)
        m.post("/orders", match_json={"qty": 1})

        async with httpx.AsyncClient(base_url=m.server_url) as client:
            # No route answers these: the server closes the connection.
            with contextlib.suppress(httpx.TransportError):
                await client.get("/user")
            with contextlib.suppress(httpx.TransportError):
                await client.post("/orders", json={"qty": 2})

    wrong_path, wrong_body = m.unmatched
    print(wrong_body.report, end="\n\n")  # the WARNING log record shows the same
    route, reasons = wrong_path.closest[0]  # the closest route first
    assert route == users
    assert reasons == ("path: expected /users, got /user",)
    assert wrong_body.closest[0][1] == (
        'json body: expected {"qty": 1}, got {"qty": 2}',
    )


async def strict() -> None:
    m = aiointercept(assert_all_called=True, assert_all_matched=True)
    try:
        async with m:
            m.get("/users", payload=[])
            m.get("/health")  # never called
            async with httpx.AsyncClient(base_url=m.server_url) as client:
                await client.get("/users")
    except StrictCheckError as error:
        failure = error
    else:
        raise AssertionError("the unused /health route should fail the block")

    print(failure, end="\n\n")
    (unused,) = failure.unused_routes
    assert str(unused.url) == f"{m.server_url}/health"
    assert failure.unmatched == ()


async def main() -> None:
    await instance_assertions()
    await route_handles()
    await matching()
    await precedence()
    await failure_messages()
    await diagnostics()
    await strict()


if __name__ == "__main__":
    asyncio.run(main())
