"""Responses: bodies, headers, status, repeat and queuing, closing, routing order."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import httpx
import pytest
from yarl import URL

from aiointercept import aiointercept
from tests.support.backends import asyncio_only

# -- bodies ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_str_body_is_utf8_encoded() -> None:
    text = "héllo wörld ✓ 日本"
    async with aiointercept() as m:
        m.get("/text", body=text)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/text")
    assert response.content == text.encode("utf-8")
    assert response.headers["Content-Length"] == str(len(text.encode("utf-8")))


@pytest.mark.anyio
async def test_bytes_body_is_sent_unchanged() -> None:
    raw = bytes(range(256)) * 4
    async with aiointercept() as m:
        m.get("/raw", body=raw, content_type="application/octet-stream")
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/raw")
    assert response.content == raw


@pytest.mark.anyio
@pytest.mark.parametrize("kw", ["json", "payload"])
async def test_json_is_serialized(kw: str) -> None:
    data = {"users": [{"id": 1, "name": "Zoë"}], "ok": True, "none": None}
    async with aiointercept() as m:
        arguments: dict[str, Any] = {kw: data}
        m.get("/data", **arguments)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/data")
    assert response.json() == data
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.anyio
@pytest.mark.parametrize("kw", ["json", "payload"])
@pytest.mark.parametrize("value", [0, [], {}, "", False, 1.5, "text"])
async def test_falsy_and_scalar_json_values_are_serialized(kw: str, value: Any) -> None:
    async with aiointercept() as m:
        m.get("/v", **{kw: value})
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/v")
    assert response.json() == value


@pytest.mark.anyio
async def test_content_type_overrides_the_default() -> None:
    async with aiointercept() as m:
        m.get("/page", body="<p>hi</p>", content_type="text/html; charset=utf-8")
        m.get("/json", json={"a": 1}, content_type="application/vnd.api+json")
        async with httpx.AsyncClient() as client:
            page = await client.get(f"{m.server_url}/page")
            data = await client.get(f"{m.server_url}/json")
    assert page.headers.get_list("Content-Type") == ["text/html; charset=utf-8"]
    assert data.headers.get_list("Content-Type") == ["application/vnd.api+json"]
    assert data.json() == {"a": 1}


@pytest.mark.anyio
async def test_content_type_overrides_one_given_in_headers() -> None:
    async with aiointercept() as m:
        m.get(
            "/x",
            body="plain",
            headers={"content-type": "text/html", "X-Other": "kept"},
            content_type="text/plain",
        )
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/x")
    assert response.headers.get_list("Content-Type") == ["text/plain"]
    assert response.headers["X-Other"] == "kept"


@pytest.mark.anyio
async def test_default_content_type_is_application_json() -> None:
    async with aiointercept() as m:
        m.get("/empty")
        m.get("/body", body="just text")
        async with httpx.AsyncClient() as client:
            empty = await client.get(f"{m.server_url}/empty")
            body = await client.get(f"{m.server_url}/body")
    assert empty.headers.get_list("Content-Type") == ["application/json"]
    assert body.headers.get_list("Content-Type") == ["application/json"]


@pytest.mark.anyio
async def test_content_type_in_headers_is_kept_without_content_type() -> None:
    async with aiointercept() as m:
        m.get("/csv", body="a,b\n1,2\n", headers={"Content-Type": "text/csv"})
        m.get("/json", json=[1], headers=[("content-type", "application/problem+json")])
        async with httpx.AsyncClient() as client:
            csv = await client.get(f"{m.server_url}/csv")
            data = await client.get(f"{m.server_url}/json")
    assert csv.headers.get_list("Content-Type") == ["text/csv"]
    assert csv.text == "a,b\n1,2\n"
    assert data.headers.get_list("Content-Type") == ["application/problem+json"]
    assert data.json() == [1]


# -- status, reason, headers -----------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "status", [200, 201, 202, 204, 301, 302, 304, 400, 401, 404, 409, 418, 500, 503]
)
async def test_status_code_is_sent(status: int) -> None:
    async with aiointercept() as m:
        m.get("/s", status=status)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/s")
    assert response.status_code == status


@pytest.mark.anyio
async def test_uncommon_status_codes_are_sent() -> None:
    async with aiointercept() as m:
        m.get("/a", status=299)
        m.get("/b", status=599)
        async with httpx.AsyncClient() as client:
            a = await client.get(f"{m.server_url}/a")
            b = await client.get(f"{m.server_url}/b")
    assert (a.status_code, b.status_code) == (299, 599)


@pytest.mark.anyio
async def test_reason_phrase_is_sent() -> None:
    async with aiointercept() as m:
        m.get("/r", status=404, reason="Nothing To See Here")
        m.get("/d", status=404)
        async with httpx.AsyncClient() as client:
            custom = await client.get(f"{m.server_url}/r")
            default = await client.get(f"{m.server_url}/d")
    assert custom.status_code == 404
    assert custom.reason_phrase == "Nothing To See Here"
    assert default.reason_phrase == "Not Found"


@pytest.mark.anyio
async def test_headers_mapping_is_sent_as_given() -> None:
    async with aiointercept() as m:
        m.get("/h", headers={"X-Request-Id": "abc-123", "Cache-Control": "no-store"})
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/h")
    raw = dict(response.headers.raw)
    assert raw[b"X-Request-Id"] == b"abc-123"
    assert raw[b"Cache-Control"] == b"no-store"


@pytest.mark.anyio
async def test_repeated_header_names_from_a_list_of_pairs() -> None:
    async with aiointercept() as m:
        m.get(
            "/cookies",
            headers=[
                ("Set-Cookie", "a=1; Path=/"),
                ("Set-Cookie", "b=2; Path=/"),
                ("X-Multi", "one"),
                ("X-Multi", "two"),
            ],
        )
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/cookies")
    assert response.headers.get_list("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert response.headers.get_list("X-Multi") == ["one", "two"]


@pytest.mark.anyio
async def test_head_request_gets_status_and_headers_without_body() -> None:
    async with aiointercept() as m:
        m.head("/h", status=202, body="not sent", headers={"X-Head": "yes"})
        async with httpx.AsyncClient() as client:
            response = await client.head(f"{m.server_url}/h")
    assert response.status_code == 202
    assert response.headers["X-Head"] == "yes"
    assert response.content == b""
    assert list(m.requests) == [("HEAD", URL(f"{m.server_url}/h"))]


@pytest.mark.anyio
@asyncio_only
async def test_head_request_with_aiohttp() -> None:
    async with aiointercept() as m:
        m.head("/h", status=204, headers={"X-Head": "aiohttp"})
        async with (
            aiohttp.ClientSession() as session,
            session.head(f"{m.server_url}/h") as response,
        ):
            assert response.status == 204
            assert response.headers["X-Head"] == "aiohttp"
            assert await response.read() == b""


@pytest.mark.anyio
@asyncio_only
async def test_response_seen_by_aiohttp() -> None:
    async with aiointercept() as m:
        m.get(
            "/api/users",
            status=201,
            payload=[{"id": 1}],
            reason="Made",
            headers=[("X-Multi", "1"), ("X-Multi", "2")],
        )
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{m.server_url}/api/users") as response,
        ):
            assert response.status == 201
            assert response.reason == "Made"
            assert response.headers.getall("X-Multi") == ["1", "2"]
            assert response.content_type == "application/json"
            assert await response.json() == [{"id": 1}]


# -- repeat and queuing ----------------------------------------------------------------


@pytest.mark.anyio
async def test_repeat_true_serves_forever() -> None:
    async with aiointercept() as m:
        m.get("/forever", repeat=True, payload={"ok": True})
        async with httpx.AsyncClient() as client:
            responses = [await client.get(f"{m.server_url}/forever") for _ in range(20)]
    assert [r.json() for r in responses] == [{"ok": True}] * 20
    assert len(m.requests[("GET", URL(f"{m.server_url}/forever"))]) == 20


@pytest.mark.anyio
@pytest.mark.parametrize("times", [1, 2, 5])
async def test_repeat_n_serves_exactly_n_times_then_closes(times: int) -> None:
    async with aiointercept() as m:
        m.get("/n", repeat=times, status=200, body="hit")
        async with httpx.AsyncClient() as client:
            responses = [await client.get(f"{m.server_url}/n") for _ in range(times)]
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(f"{m.server_url}/n")
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/n")
    assert [r.text for r in responses] == ["hit"] * times
    assert len(m.requests[("GET", URL(f"{m.server_url}/n"))]) == times + 2


@pytest.mark.anyio
async def test_default_serves_once() -> None:
    async with aiointercept() as m:
        m.get("/once", body="first")
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/once")
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/once")
    assert response.text == "first"


@pytest.mark.anyio
async def test_repeat_false_serves_once() -> None:
    async with aiointercept() as m:
        m.get("/once", body="first", repeat=False)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/once")
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/once")
    assert response.text == "first"


@pytest.mark.anyio
async def test_several_add_calls_are_served_in_order() -> None:
    async with aiointercept() as m:
        url = f"{m.server_url}/orders"
        m.post(url, status=201, payload={"created": True})
        m.post(url, status=409, payload={"error": "conflict"})
        async with httpx.AsyncClient() as client:
            first = await client.post(url)
            second = await client.post(url)
            with pytest.raises(httpx.TransportError):
                await client.post(url)
    assert (first.status_code, first.json()) == (201, {"created": True})
    assert (second.status_code, second.json()) == (409, {"error": "conflict"})
    assert len(m.requests[("POST", URL(url))]) == 3


@pytest.mark.anyio
@asyncio_only
async def test_several_add_calls_are_served_in_order_with_aiohttp() -> None:
    async with aiointercept() as m:
        url = f"{m.server_url}/orders"
        m.post(url, status=201, payload={"created": True})
        m.post(url, status=409, payload={"error": "conflict"})
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json={"n": 1}) as first:
                assert first.status == 201
                assert await first.json() == {"created": True}
            async with session.post(url, json={"n": 2}) as second:
                assert second.status == 409
                assert await second.json() == {"error": "conflict"}
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.post(url, json={"n": 3})
    assert [r.kwargs["json"] for r in m.requests[("POST", URL(url))]] == [
        {"n": 1},
        {"n": 2},
        {"n": 3},
    ]


@pytest.mark.anyio
async def test_queued_routes_with_repeat_counts() -> None:
    async with aiointercept() as m:
        m.get("/q", repeat=2, body="a")
        m.get("/q", body="b")
        m.get("/q", repeat=True, body="c")
        async with httpx.AsyncClient() as client:
            texts = [(await client.get(f"{m.server_url}/q")).text for _ in range(6)]
    assert texts == ["a", "a", "b", "c", "c", "c"]


@pytest.mark.anyio
async def test_routes_are_per_method() -> None:
    async with aiointercept() as m:
        m.get("/r", body="get")
        m.post("/r", body="post")
        async with httpx.AsyncClient() as client:
            post = await client.post(f"{m.server_url}/r")
            get = await client.get(f"{m.server_url}/r")
    assert (get.text, post.text) == ("get", "post")


# -- closing the connection ------------------------------------------------------------


@pytest.mark.anyio
async def test_unmatched_request_closes_the_connection_httpx() -> None:
    async with aiointercept() as m:
        m.get("/other")
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(f"{m.server_url}/missing")
            # the server keeps serving after closing a connection
            response = await client.get(f"{m.server_url}/other")
    assert response.status_code == 200


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
async def test_unmatched_request_closes_the_connection_aiohttp(method: str) -> None:
    async with aiointercept() as m, aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.request(method, f"{m.server_url}/missing")
    assert len(m.requests[(method, URL(f"{m.server_url}/missing"))]) == 1


class SomeError(Exception):
    pass


@pytest.mark.anyio
@pytest.mark.parametrize(
    "exception", [True, SomeError("boom"), ConnectionResetError(), 1, "yes"]
)
async def test_exception_closes_the_connection_httpx(exception: object) -> None:
    async with aiointercept() as m:
        m.get("/boom", exception=exception)
        m.get("/boom", body="after")
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/boom")
            response = await client.get(f"{m.server_url}/boom")
    assert response.text == "after"
    assert len(m.requests[("GET", URL(f"{m.server_url}/boom"))]) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("exception", [None, False, 0, ""])
async def test_falsy_exception_is_a_normal_response(exception: object) -> None:
    async with aiointercept() as m:
        m.get("/fine", exception=exception, body="fine")
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{m.server_url}/fine")
    assert response.text == "fine"


@pytest.mark.anyio
async def test_exception_with_repeat_closes_each_time() -> None:
    async with aiointercept() as m:
        m.get("/flaky", exception=True, repeat=2)
        m.get("/flaky", body="recovered")
        async with httpx.AsyncClient() as client:
            for _ in range(2):
                with pytest.raises(httpx.TransportError):
                    await client.get(f"{m.server_url}/flaky")
            response = await client.get(f"{m.server_url}/flaky")
    assert response.text == "recovered"


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize("exception", [True, SomeError("boom")])
async def test_exception_closes_the_connection_aiohttp_post(exception: object) -> None:
    async with aiointercept() as m:
        m.post("/boom", exception=exception)
        m.post("/boom", payload={"ok": 1})
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.post(f"{m.server_url}/boom", data=b"x")
            async with session.post(f"{m.server_url}/boom", data=b"y") as response:
                assert await response.json() == {"ok": 1}
    records = m.requests[("POST", URL(f"{m.server_url}/boom"))]
    assert [r.captured_body for r in records] == [b"x", b"y"]


# -- aiohttp's automatic retry is absorbed ---------------------------------------------


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS"])
async def test_aiohttp_retry_after_exception_is_absorbed(method: str) -> None:
    async with aiointercept() as m:
        url = f"{m.server_url}/flaky"
        m.add(url, method, exception=True)
        m.add(url, method, payload={"ok": 1})
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.request(method, url)
            async with session.request(method, url) as response:
                assert response.status == 200
                assert await response.json() == {"ok": 1}
    assert len(m.requests[(method, URL(url))]) == 2


@pytest.mark.anyio
@asyncio_only
async def test_aiohttp_retry_after_exception_is_absorbed_head() -> None:
    async with aiointercept() as m:
        url = f"{m.server_url}/flaky"
        m.head(url, exception=True)
        m.head(url, status=204, headers={"X-Second": "yes"})
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.head(url)
            async with session.head(url) as response:
                assert response.status == 204
                assert response.headers["X-Second"] == "yes"
    assert len(m.requests[("HEAD", URL(url))]) == 2


@pytest.mark.anyio
@asyncio_only
async def test_aiohttp_retry_of_unmatched_request_is_recorded_once() -> None:
    async with aiointercept() as m:
        url = f"{m.server_url}/late"
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.get(url)
            assert len(m.requests[("GET", URL(url))]) == 1
            m.get(url, payload={"registered": "late"})
            async with session.get(url) as response:
                assert await response.json() == {"registered": "late"}
    assert len(m.requests[("GET", URL(url))]) == 2


@pytest.mark.anyio
@asyncio_only
async def test_aiohttp_retry_of_exhausted_route_does_not_consume_next() -> None:
    async with aiointercept() as m:
        url = f"{m.server_url}/used"
        m.get(url, body="only once")
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as first:
                assert await first.text() == "only once"
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.get(url)
            m.get(url, body="refilled")
            async with session.get(url) as third:
                assert await third.text() == "refilled"
    assert len(m.requests[("GET", URL(url))]) == 3


@pytest.mark.anyio
@asyncio_only
async def test_each_failing_aiohttp_request_is_recorded_once() -> None:
    async with aiointercept() as m:
        url = f"{m.server_url}/down"
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                with pytest.raises(aiohttp.ClientConnectionError):
                    await session.get(url)
    assert len(m.requests[("GET", URL(url))]) == 3


@pytest.mark.anyio
@asyncio_only
async def test_aiohttp_retry_does_not_consume_the_next_queued_exception() -> None:
    async with aiointercept() as m:
        url = f"{m.server_url}/twice"
        m.get(url, exception=True, repeat=2)
        m.get(url, body="third")
        async with aiohttp.ClientSession() as session:
            for _ in range(2):
                with pytest.raises(aiohttp.ClientConnectionError):
                    await session.get(url)
            async with session.get(url) as response:
                assert await response.text() == "third"
    assert len(m.requests[("GET", URL(url))]) == 3


# -- the unmatched-request warning -----------------------------------------------------


@pytest.mark.anyio
async def test_unmatched_request_logs_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="aiointercept")
    async with aiointercept() as m:
        m.post("/registered/one", payload={})
        m.get(re.compile(r"^http://elsewhere\.test/items/\d+$"))
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.TransportError):
                await client.delete(f"{m.server_url}/not/registered?z=1")
    records = [
        r
        for r in caplog.records
        if r.name == "aiointercept" and r.levelno == logging.WARNING
    ]
    assert len(records) == 1
    message = records[0].getMessage()
    assert "DELETE" in message
    assert f"{m.server_url}/not/registered" in message
    assert f"POST {m.server_url}/registered/one" in message
    assert r"^http://elsewhere\.test/items/\d+$" in message


@pytest.mark.anyio
async def test_matched_request_logs_no_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="aiointercept")
    async with aiointercept() as m:
        m.get("/ok")
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/ok")
    assert not [r for r in caplog.records if r.name == "aiointercept"]


@pytest.mark.anyio
async def test_exhausted_route_logs_a_warning_naming_the_route(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="aiointercept")
    async with aiointercept() as m:
        m.get("/once")
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/once")
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/once")
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "aiointercept" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert f"GET {m.server_url}/once" in warnings[0]


# -- regex and exact routes: registration order ----------------------------------------


@pytest.mark.anyio
async def test_regex_registered_first_wins_over_exact() -> None:
    async with aiointercept() as m:
        m.get(re.compile(re.escape(m.server_url) + r"/items/\d+"), body="regex")
        m.get("/items/1", body="exact")
        async with httpx.AsyncClient() as client:
            texts = [
                (await client.get(f"{m.server_url}/items/1")).text for _ in range(2)
            ]
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/items/1")
    assert texts == ["regex", "exact"]


@pytest.mark.anyio
async def test_exact_registered_first_wins_over_regex() -> None:
    async with aiointercept() as m:
        m.get("/items/1", body="exact")
        m.get(re.compile(re.escape(m.server_url) + r"/items/\d+"), body="regex")
        async with httpx.AsyncClient() as client:
            texts = [
                (await client.get(f"{m.server_url}/items/1")).text for _ in range(2)
            ]
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/items/1")
    assert texts == ["exact", "regex"]


@pytest.mark.anyio
async def test_exhausted_exact_route_is_skipped_for_a_later_regex() -> None:
    async with aiointercept() as m:
        m.get("/items/1", body="exact")
        m.get(
            re.compile(re.escape(m.server_url) + r"/items/"), body="regex", repeat=True
        )
        async with httpx.AsyncClient() as client:
            texts = [
                (await client.get(f"{m.server_url}/items/1")).text for _ in range(4)
            ]
            other = await client.get(f"{m.server_url}/items/2")
    assert texts == ["exact", "regex", "regex", "regex"]
    assert other.text == "regex"


@pytest.mark.anyio
async def test_exhausted_regex_route_is_skipped_for_a_later_exact() -> None:
    async with aiointercept() as m:
        m.get(re.compile(re.escape(m.server_url) + r"/items/"), body="regex", repeat=2)
        m.get("/items/1", body="exact", repeat=True)
        async with httpx.AsyncClient() as client:
            texts = [
                (await client.get(f"{m.server_url}/items/1")).text for _ in range(4)
            ]
    assert texts == ["regex", "regex", "exact", "exact"]


@pytest.mark.anyio
async def test_interleaved_exact_and_regex_routes_keep_registration_order() -> None:
    async with aiointercept() as m:
        pattern = re.compile(re.escape(m.server_url) + r"/x")
        m.get("/x", body="exact-1")
        m.get(pattern, body="regex-2")
        m.get("/x", body="exact-3")
        m.get(pattern, body="regex-4")
        async with httpx.AsyncClient() as client:
            texts = [(await client.get(f"{m.server_url}/x")).text for _ in range(4)]
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/x")
    assert texts == ["exact-1", "regex-2", "exact-3", "regex-4"]


@pytest.mark.anyio
async def test_first_of_several_regex_routes_wins() -> None:
    async with aiointercept() as m:
        m.get(re.compile(re.escape(m.server_url) + r"/a/b"), body="specific")
        m.get(re.compile(re.escape(m.server_url) + r"/a"), body="general", repeat=True)
        async with httpx.AsyncClient() as client:
            first = await client.get(f"{m.server_url}/a/b")
            second = await client.get(f"{m.server_url}/a/b")
            other = await client.get(f"{m.server_url}/a/c")
    assert (first.text, second.text, other.text) == ("specific", "general", "general")


@pytest.mark.anyio
async def test_regex_route_only_matches_its_method() -> None:
    async with aiointercept() as m:
        m.post(re.compile(re.escape(m.server_url) + r"/p"), body="post", repeat=True)
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/p")
            response = await client.post(f"{m.server_url}/p")
    assert response.text == "post"


# -- concurrency -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_concurrent_requests_each_get_a_different_queued_response() -> None:
    results: list[int] = []
    async with aiointercept() as m:
        url = f"{m.server_url}/ticket"
        for i in range(50):
            m.get(url, payload={"n": i})

        async with httpx.AsyncClient() as client:

            async def fetch() -> None:
                response = await client.get(url)
                results.append(response.json()["n"])

            async with anyio.create_task_group() as tg:
                for _ in range(50):
                    tg.start_soon(fetch)
    assert sorted(results) == list(range(50))
    assert len(m.requests[("GET", URL(url))]) == 50


@pytest.mark.anyio
async def test_concurrent_requests_to_a_repeat_n_route_httpx() -> None:
    served = 0
    failed = 0
    async with aiointercept() as m:
        url = f"{m.server_url}/limited"
        m.post(url, repeat=30, body="ok")
        async with httpx.AsyncClient() as client:

            async def fetch(i: int) -> None:
                nonlocal served, failed
                try:
                    response = await client.post(url, content=str(i).encode())
                except httpx.TransportError:
                    failed += 1
                else:
                    assert response.text == "ok"
                    served += 1

            async with anyio.create_task_group() as tg:
                for i in range(50):
                    tg.start_soon(fetch, i)
    assert (served, failed) == (30, 20)
    records = m.requests[("POST", URL(url))]
    assert sorted(int(r.captured_body) for r in records) == list(range(50))


@pytest.mark.anyio
@asyncio_only
async def test_concurrent_requests_each_get_a_different_response_aiohttp() -> None:
    results: list[int] = []
    async with aiointercept() as m:
        url = f"{m.server_url}/ticket"
        for i in range(50):
            m.get(url, payload={"n": i})

        async with aiohttp.ClientSession() as session:

            async def fetch() -> None:
                async with session.get(url) as response:
                    results.append((await response.json())["n"])

            async with anyio.create_task_group() as tg:
                for _ in range(50):
                    tg.start_soon(fetch)
    assert sorted(results) == list(range(50))
    assert len(m.requests[("GET", URL(url))]) == 50


@pytest.mark.anyio
@asyncio_only
async def test_concurrent_aiohttp_requests_past_the_queue_are_recorded_once() -> None:
    served = 0
    failed = 0
    async with aiointercept() as m:
        url = f"{m.server_url}/limited"
        m.get(url, repeat=30, body="ok")
        async with aiohttp.ClientSession() as session:

            async def fetch() -> None:
                nonlocal served, failed
                try:
                    async with session.get(url) as response:
                        assert await response.text() == "ok"
                except aiohttp.ClientConnectionError:
                    failed += 1
                else:
                    served += 1

            async with anyio.create_task_group() as tg:
                for _ in range(50):
                    tg.start_soon(fetch)
    assert (served, failed) == (30, 20)
    assert len(m.requests[("GET", URL(url))]) == 50


@pytest.mark.anyio
async def test_concurrent_requests_to_many_urls_are_all_recorded() -> None:
    async with aiointercept() as m:
        for i in range(25):
            m.get(f"/u/{i}", repeat=True, body=str(i))
        async with httpx.AsyncClient() as client:
            bodies: dict[int, list[str]] = {i: [] for i in range(25)}

            async def fetch(i: int) -> None:
                response = await client.get(f"{m.server_url}/u/{i}")
                bodies[i].append(response.text)

            async with anyio.create_task_group() as tg:
                for i in range(25):
                    for _ in range(4):
                        tg.start_soon(fetch, i)
    assert bodies == {i: [str(i)] * 4 for i in range(25)}
    assert sum(len(v) for v in m.requests.values()) == 100


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize("n", [1, 5])
async def test_concurrent_aiohttp_requests_after_exception_are_recorded_once(
    n: int,
) -> None:
    served = 0
    failed = 0
    async with aiointercept() as m:
        url = f"{m.server_url}/flaky"
        m.get(url, exception=True, repeat=n)
        m.get(url, payload={"ok": 1}, repeat=n)
        async with aiohttp.ClientSession() as session:

            async def fetch() -> None:
                nonlocal served, failed
                try:
                    async with session.get(url) as response:
                        assert await response.json() == {"ok": 1}
                except aiohttp.ClientConnectionError:
                    failed += 1
                else:
                    served += 1

            async with anyio.create_task_group() as tg:
                for _ in range(2 * n):
                    tg.start_soon(fetch)
    assert (served, failed) == (n, n)
    # one record per request made by the test: aiohttp's retries are absorbed
    assert len(m.requests[("GET", URL(url))]) == 2 * n


async def _chunks() -> AsyncIterator[bytes]:
    yield b"streamed "
    yield b"body"


@pytest.mark.anyio
@asyncio_only
async def test_request_that_aiohttp_does_not_retry_is_not_taken_for_a_retry() -> None:
    # aiohttp >= 3.13 cannot resend a streamed body, and older versions do not
    # resend it to the mock: the next identical PUT is a new request and must
    # get the next response.
    async with aiointercept() as m:
        url = f"{m.server_url}/upload"
        m.put(url, exception=True)
        m.put(url, payload={"stored": True})
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.put(url, data=_chunks())
            async with session.put(url, data=_chunks()) as response:
                assert response.status == 200
                assert await response.json() == {"stored": True}
    records = m.requests[("PUT", URL(url))]
    assert [r.captured_body for r in records] == [b"streamed body"] * 2
