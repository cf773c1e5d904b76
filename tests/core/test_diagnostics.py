"""Why a request matched nothing: ``m.unmatched`` and the WARNING log record."""

from __future__ import annotations

import logging
import re

import aiohttp
import pytest
from yarl import URL

from aiointercept import (
    CallbackError,
    RecordedRequest,
    UnmatchedRequest,
    UnreachableRouteWarning,
    aiointercept,
)
from tests.support.backends import asyncio_only
from tests.support.journal import send


def reasons(item: UnmatchedRequest) -> list[tuple[str, ...]]:
    return [why for _, why in item.closest]


# -- m.unmatched -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_matched_requests_leave_unmatched_empty() -> None:
    async with aiointercept() as m:
        m.get("/ok")
        assert await send(m, "GET", "/ok") == 200
    assert m.unmatched == []


@pytest.mark.anyio
async def test_an_unmatched_request_is_listed_with_its_record() -> None:
    async with aiointercept() as m:
        m.get("/users")
        assert await send(m, "GET", "/user") == 0
        (item,) = m.unmatched
    assert isinstance(item, UnmatchedRequest)
    assert isinstance(item.request, RecordedRequest)
    assert item.request is m.requests[("GET", URL(f"{m.server_url}/user"))][0]
    assert reasons(item) == [("path: expected /users, got /user",)]


@pytest.mark.anyio
async def test_the_report_shows_the_request() -> None:
    async with aiointercept() as m:
        await send(
            m,
            "POST",
            "/orders?b=2&a=1",
            json={"qty": 3},
            headers={"X-Trace": "t-1", "Authorization": "Bearer x"},
        )
    (item,) = m.unmatched
    assert str(item) == item.report
    lines = item.report.splitlines()
    assert lines[0] == f"no route matches POST {m.server_url}/orders?b=2&a=1"
    assert lines[1] == "Request:"
    assert lines[2] == f"  POST {m.server_url}/orders?b=2&a=1"
    headers = lines[3]
    assert headers.startswith("    headers: ")
    for shown in ("X-Trace: t-1", "Authorization: Bearer x", "Content-Type"):
        assert shown in headers
    for routine in ("Host", "User-Agent", "Accept-Encoding", "Content-Length"):
        assert routine not in headers
    assert lines[4] == """    body: '{"qty":3}'"""
    assert lines[5] == "No routes are registered."


@pytest.mark.anyio
async def test_long_and_binary_bodies_are_previewed() -> None:
    async with aiointercept() as m:
        await send(m, "POST", "/big", content=b"x" * 1000)
        await send(m, "POST", "/bin", content=b"\xff\x00" * 3)
    big, binary = m.unmatched
    assert f"    body: '{'x' * 200}'… (1000 bytes)" in big.report
    assert "    body: b'\\xff\\x00\\xff\\x00\\xff\\x00'" in binary.report


# -- why each route did not match ------------------------------------------------------


@pytest.mark.anyio
async def test_reasons_for_method_path_query_host_and_pattern() -> None:
    async with aiointercept() as m:
        m.post("/items")  # method
        m.get("/items/1")  # path
        m.get("/items?page=2")  # query
        with pytest.warns(UnreachableRouteWarning, match="api.example.com"):
            m.get("http://api.example.com/items")  # host
        m.get(re.compile(r"http://other\.test/.*"))  # pattern
        assert await send(m, "GET", "/items?page=1") == 0
    (item,) = m.unmatched
    base = m.server_url
    assert reasons(item) == [
        ("query: expected page=2, got page=1",),
        ("method: expected POST, got GET", "query: expected (none), got page=1"),
        (
            f"url '{base}/items?page=1' does not match the pattern "
            "'http://other\\\\.test/.*'",
        ),
        ("path: expected /items/1, got /items", "query: expected (none), got page=1"),
        (
            f"host: expected http://api.example.com, got {base}",
            "query: expected (none), got page=1",
        ),
    ]


@pytest.mark.anyio
async def test_reasons_for_headers_and_bodies() -> None:
    async with aiointercept() as m:
        m.post("/p", match_headers={"X-Key": "k1"})
        m.post("/p", match_json={"a": 1})
        m.post("/p", match_body=b"raw")
        m.post("/p", match_form={"f": "1"})
        m.post("/p", match_query={"v": "1"})
        assert await send(m, "POST", "/p", json={"a": 2}, headers={"X-Key": "k2"}) == 0
    (item,) = m.unmatched
    assert reasons(item) == [
        ("header 'X-Key': expected 'k1', got 'k2'",),
        ('json body: expected {"a": 1}, got {"a": 2}',),
        ("""body: expected 'raw', got '{"a":2}'""",),
        ("""form body: expected f=1, got not a URL-encoded form: '{"a":2}'""",),
        ("query parameter 'v': expected ['1'], got (missing)",),
    ]


@pytest.mark.anyio
async def test_long_values_are_shortened_in_reasons() -> None:
    async with aiointercept() as m:
        m.post("/p", match_json={"text": "a" * 100})
        m.post("/p", match_body=b"")
        await send(m, "POST", "/p", json={"text": "b"})
    (item,) = m.unmatched
    (json_reason,), (body_reason,) = reasons(item)
    expected = '{"text": "' + "a" * 100 + '"}'
    assert json_reason == (f'json body: expected {expected[:79]}…, got {{"text": "b"}}')
    assert body_reason == """body: expected (empty), got '{"text":"b"}'"""
    assert f"  POST {m.server_url}/p (1 left), body (empty)" in item.report


@pytest.mark.anyio
async def test_exhausted_routes_say_after_how_many_calls() -> None:
    async with aiointercept() as m:
        m.get("/once")
        m.get("/twice", repeat=2)
        for _ in range(2):
            await send(m, "GET", "/once")
        for _ in range(3):
            await send(m, "GET", "/twice")
    once, twice = m.unmatched
    assert reasons(once)[0] == ("exhausted after 1 call",)
    assert reasons(twice)[0] == ("exhausted after 2 calls",)
    assert f"  GET {m.server_url}/once (0 left)\n    - exhausted after 1 call" in (
        once.report
    )


@pytest.mark.anyio
async def test_a_predicate_that_says_no_is_named() -> None:
    def only_admins(request: RecordedRequest) -> bool:
        return False

    async with aiointercept() as m:
        m.get("/admin", match=only_admins)
        await send(m, "GET", "/admin")
    (item,) = m.unmatched
    assert reasons(item) == [
        (
            "match=test_a_predicate_that_says_no_is_named.<locals>.only_admins "
            "returned False",
        )
    ]


@pytest.mark.anyio
async def test_a_predicate_that_raises_is_reported_and_raised_at_exit() -> None:
    def broken(request: RecordedRequest) -> bool:
        raise ValueError("no role")

    m = aiointercept()

    async def block() -> None:
        async with m:
            m.get("/admin", match=broken)
            await send(m, "GET", "/admin")

    with pytest.raises(CallbackError, match="no role"):
        await block()
    (item,) = m.unmatched
    assert reasons(item) == [
        (
            "match=test_a_predicate_that_raises_is_reported_and_raised_at_exit"
            ".<locals>.broken raised ValueError: no role",
        )
    ]


@pytest.mark.anyio
async def test_closest_routes_come_first_and_are_limited() -> None:
    async with aiointercept() as m:
        for n in range(6):
            m.post(f"/far/{n}")
        near = m.get("/orders", match_headers={"X-V": "2"})
        await send(m, "GET", "/orders")
    (item,) = m.unmatched
    assert len(item.closest) == 5
    route, why = item.closest[0]
    assert route == near
    assert why == ("header 'X-V': expected '2', got (missing)",)
    assert item.report.endswith("  ... and 2 other routes")


@pytest.mark.anyio
async def test_the_report_is_written_when_the_request_arrives() -> None:
    async with aiointercept() as m:
        m.get("/a", repeat=2)
        await send(m, "GET", "/b")
        await send(m, "GET", "/a")
    (item,) = m.unmatched
    assert "GET " + m.server_url + "/a (2 left)" in item.report


@pytest.mark.anyio
async def test_clear_drops_the_unmatched_requests() -> None:
    async with aiointercept() as m:
        await send(m, "GET", "/nothing")
        assert len(m.unmatched) == 1
        m.clear()
        assert m.unmatched == []


# -- the log record --------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_warning_carries_the_report(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="aiointercept")
    async with aiointercept() as m:
        m.post("/orders", match_json={"qty": 2})
        await send(m, "POST", "/orders", json={"qty": 3})
    (record,) = [r for r in caplog.records if r.name == "aiointercept"]
    assert record.levelno == logging.WARNING
    (item,) = m.unmatched
    assert record.unmatched is item  # type: ignore[attr-defined]
    message = record.getMessage()
    headline, report = item.report.split("\n", 1)
    assert message == (
        f"{headline}; the connection was closed without a response.\n{report}"
    )
    assert 'json body: expected {"qty": 2}, got {"qty": 3}' in message


@asyncio_only
@pytest.mark.anyio
async def test_aiohttp_retries_are_not_reported_twice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="aiointercept")
    async with aiointercept() as m:
        m.get("/a")
        async with aiohttp.ClientSession(base_url=m.server_url) as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.get("/b")
    assert len(m.unmatched) == 1
    warnings = [r for r in caplog.records if r.name == "aiointercept"]
    assert len(warnings) == 1


def test_sync_clients_are_diagnosed_too() -> None:
    import anyio
    import requests

    async def scenario() -> aiointercept:
        async with aiointercept() as m:
            m.get("/a")
            with pytest.raises(requests.ConnectionError):
                requests.get(f"{m.server_url}/b", timeout=5)  # noqa: ASYNC210
        return m

    m = anyio.run(scenario)
    (item,) = m.unmatched
    assert reasons(item) == [("path: expected /a, got /b",)]
