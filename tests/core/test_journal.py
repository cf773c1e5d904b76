"""The request journal: ``m.requests``, recorded requests and ``m.clear()``."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import aiohttp
import anyio
import httpx
import pytest
from yarl import URL

from aiointercept import RecordedRequest, aiointercept
from tests.support.backends import asyncio_only


async def raw_request(server_url: str, request: bytes) -> bytes:
    """Send ``request`` as is on a new connection and return everything received."""
    url = URL(server_url)
    assert url.host is not None
    assert url.port is not None
    received = b""
    async with await anyio.connect_tcp(url.host, url.port) as stream:
        await stream.send(request)
        with anyio.fail_after(5):
            try:
                while True:
                    received += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
    return received


# -- keys and normalization ------------------------------------------------------------


@pytest.mark.anyio
async def test_requests_maps_method_and_url_to_records() -> None:
    async with aiointercept() as m:
        m.get("/users", payload=[])
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/users")
    assert list(m.requests) == [("GET", URL(f"{m.server_url}/users"))]
    (records,) = m.requests.values()
    assert len(records) == 1
    assert isinstance(records[0], RecordedRequest)
    method, url = next(iter(m.requests))
    assert isinstance(method, str)
    assert isinstance(url, URL)


@pytest.mark.anyio
async def test_query_is_sorted_in_the_key() -> None:
    async with aiointercept() as m:
        m.get(re.compile(".*"), repeat=True)
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/p?b=2&a=1")
    assert ("GET", URL(f"{m.server_url}/p?a=1&b=2")) in m.requests
    assert list(m.requests) == [("GET", URL(f"{m.server_url}/p?a=1&b=2"))]
    assert len(m.requests[("GET", URL(f"{m.server_url}/p?a=1&b=2"))]) == 1


@pytest.mark.anyio
async def test_lookups_normalize_the_key_like_the_keys() -> None:
    async with aiointercept() as m:
        m.get(re.compile(".*"), repeat=True)
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/p?b=2&a=1#frag")
    (record,) = m.requests[("get", f"{m.server_url}/p?b=2&a=1")]
    assert record.url == URL(f"{m.server_url}/p?b=2&a=1")
    assert ("GET", URL(f"{m.server_url}/p?a=1&b=2#x")) in m.requests
    assert m.requests.get(("GET", f"{m.server_url}/p?b=2&a=1")) == [record]
    assert m.requests.get(("GET", f"{m.server_url}/other")) is None
    assert ("GET", URL(f"{m.server_url}/p")) not in m.requests
    with pytest.raises(KeyError):
        m.requests[("POST", f"{m.server_url}/p?a=1&b=2")]


@pytest.mark.anyio
async def test_requests_with_reordered_query_share_one_key() -> None:
    async with aiointercept() as m:
        m.get(re.compile(".*"), repeat=True)
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/p?b=2&a=1")
            await client.get(f"{m.server_url}/p?a=1&b=2")
            await client.get(f"{m.server_url}/p", params=[("b", "2"), ("a", "1")])
    assert list(m.requests) == [("GET", URL(f"{m.server_url}/p?a=1&b=2"))]
    assert len(m.requests[("GET", URL(f"{m.server_url}/p?a=1&b=2"))]) == 3


@pytest.mark.anyio
async def test_duplicate_query_names_are_sorted_by_value_in_the_key() -> None:
    async with aiointercept() as m:
        m.get(re.compile(".*"), repeat=True)
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/q?tag=b&x=1&tag=a")
    assert list(m.requests) == [("GET", URL(f"{m.server_url}/q?tag=a&tag=b&x=1"))]


@pytest.mark.anyio
async def test_empty_path_is_recorded_as_slash() -> None:
    async with aiointercept() as m:
        m.get(m.server_url)
        async with httpx.AsyncClient() as client:
            response = await client.get(m.server_url)
    assert response.status_code == 200
    ((method, url),) = m.requests
    assert method == "GET"
    assert url.path == "/"
    assert str(url) == f"{m.server_url}/"
    assert ("GET", URL(f"{m.server_url}/")) in m.requests


@pytest.mark.anyio
async def test_fragment_is_dropped_from_the_key() -> None:
    # Clients strip fragments; send one on the wire to check the server side.
    async with aiointercept() as m:
        m.get("/frag?a=1&b=2", body="found")
        host = URL(m.server_url).raw_authority
        received = await raw_request(
            m.server_url,
            b"GET /frag?b=2&a=1#section HTTP/1.1\r\nHost: "
            + host.encode()
            + b"\r\nConnection: close\r\n\r\n",
        )
    assert received.startswith(b"HTTP/1.1 200 ")
    assert received.endswith(b"found")
    assert list(m.requests) == [("GET", URL(f"{m.server_url}/frag?a=1&b=2"))]


@pytest.mark.anyio
async def test_recorded_url_is_fragment_free() -> None:
    async with aiointercept() as m:
        m.get("/frag", body="found")
        host = URL(m.server_url).raw_authority
        await raw_request(
            m.server_url,
            b"GET /frag#section HTTP/1.1\r\nHost: "
            + host.encode()
            + b"\r\nConnection: close\r\n\r\n",
        )
    (record,) = m.requests[("GET", URL(f"{m.server_url}/frag"))]
    assert record.url.fragment == ""
    assert record.url == URL(f"{m.server_url}/frag")


@pytest.mark.anyio
async def test_percent_encoded_url_is_found_under_the_decoded_url() -> None:
    async with aiointercept() as m:
        m.get(re.compile(".*"), repeat=True)
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/caf%C3%A9/a%20b?q=a%20b&x=%2F")
    assert ("GET", URL(f"{m.server_url}/café/a b?q=a b&x=/")) in m.requests
    (record,) = m.requests[("GET", URL(f"{m.server_url}/café/a b?q=a b&x=/"))]
    assert record.kwargs["query"] == {"q": ["a b"], "x": ["/"]}


@pytest.mark.anyio
async def test_records_stay_right_past_the_urls_a_block_keeps_built() -> None:
    # a block builds each request target's URL once, for the first few
    # hundred targets: a repeated target, a new one beyond those, and targets
    # that normalize differently keep their own records
    async with aiointercept() as m:
        m.get(re.compile(".*"), repeat=True)
        async with httpx.AsyncClient() as client:
            for i in range(300):
                await client.get(f"{m.server_url}/n/{i}")
            await client.get(f"{m.server_url}/n/0")
            await client.get(f"{m.server_url}/n/0?b=2&a=1")
            await client.get(f"{m.server_url}/n/299?b=2&a=1")
            await client.get(f"{m.server_url}/caf%C3%A9")
            await client.get(f"{m.server_url}/caf%C3%A9")
    base = m.server_url
    assert len(m.requests[("GET", URL(f"{base}/n/0"))]) == 2
    assert len(m.requests[("GET", URL(f"{base}/n/299"))]) == 1
    for path in ("/n/0", "/n/299"):
        (with_query,) = m.requests[("GET", URL(f"{base}{path}?a=1&b=2"))]
        assert with_query.kwargs["query"] == {"b": ["2"], "a": ["1"]}
    assert [str(r.url) for r in m.requests[("GET", URL(f"{base}/café"))]] == [
        f"{base}/caf%C3%A9"
    ] * 2
    assert len(m.requests) == 303


@pytest.mark.anyio
async def test_each_method_has_its_own_key() -> None:
    async with aiointercept() as m:
        m.get("/r")
        m.post("/r")
        m.delete("/r")
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/r")
            await client.post(f"{m.server_url}/r")
            await client.delete(f"{m.server_url}/r")
    url = URL(f"{m.server_url}/r")
    assert set(m.requests) == {("GET", url), ("POST", url), ("DELETE", url)}
    assert [
        m.requests[(meth, url)][0].method for meth in ("GET", "POST", "DELETE")
    ] == [
        "GET",
        "POST",
        "DELETE",
    ]


@pytest.mark.anyio
async def test_records_under_one_key_are_in_arrival_order() -> None:
    async with aiointercept() as m:
        m.post("/orders", repeat=True, status=201)
        async with httpx.AsyncClient() as client:
            for i in range(5):
                await client.post(f"{m.server_url}/orders", json={"i": i})
    records = m.requests[("POST", URL(f"{m.server_url}/orders"))]
    assert [r.kwargs["json"] for r in records] == [{"i": i} for i in range(5)]
    assert records[-1].kwargs["json"] == {"i": 4}


# -- bodies ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_captured_body_is_the_raw_bytes() -> None:
    body = b"\x00\x01binary\xff\xfe payload"
    async with aiointercept() as m:
        m.put("/blob")
        async with httpx.AsyncClient() as client:
            await client.put(f"{m.server_url}/blob", content=body)
    (record,) = m.requests[("PUT", URL(f"{m.server_url}/blob"))]
    assert isinstance(record.captured_body, bytes)
    assert record.captured_body == body
    assert record.kwargs["json"] is None


@pytest.mark.anyio
async def test_one_megabyte_upload_is_captured_in_full() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    async with aiointercept() as m:
        m.post("/upload", status=201)
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{m.server_url}/upload", content=body)
    assert response.status_code == 201
    (record,) = m.requests[("POST", URL(f"{m.server_url}/upload"))]
    assert len(record.captured_body) == len(body) == 1024 * 1024
    assert record.captured_body == body


@pytest.mark.anyio
async def test_chunked_upload_is_captured_in_full() -> None:
    chunk = b"0123456789abcdef" * 4096

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(16):
            yield chunk

    async with aiointercept() as m:
        m.post("/stream")
        async with httpx.AsyncClient() as client:
            await client.post(f"{m.server_url}/stream", content=chunks())
    (record,) = m.requests[("POST", URL(f"{m.server_url}/stream"))]
    assert record.headers.get("Transfer-Encoding") == "chunked"
    assert record.captured_body == chunk * 16


@pytest.mark.anyio
async def test_request_without_body_has_empty_captured_body() -> None:
    async with aiointercept() as m:
        m.get("/nobody")
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/nobody")
    (record,) = m.requests[("GET", URL(f"{m.server_url}/nobody"))]
    assert record.captured_body == b""
    assert record.kwargs["json"] is None


@pytest.mark.anyio
async def test_json_body_is_parsed() -> None:
    data = {"name": "Zoë", "tags": ["a", "b"], "n": 1.5, "none": None}
    async with aiointercept() as m:
        m.post("/echo")
        async with httpx.AsyncClient() as client:
            await client.post(f"{m.server_url}/echo", json=data)
    (record,) = m.requests[("POST", URL(f"{m.server_url}/echo"))]
    assert record.kwargs["json"] == data
    assert record.captured_body.startswith(b"{")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ],
)
async def test_json_body_is_parsed_for_json_content_types(content_type: str) -> None:
    async with aiointercept() as m:
        m.patch("/doc")
        async with httpx.AsyncClient() as client:
            await client.patch(
                f"{m.server_url}/doc",
                content=b'{"op": "replace", "value": [1, 2]}',
                headers={"Content-Type": content_type},
            )
    (record,) = m.requests[("PATCH", URL(f"{m.server_url}/doc"))]
    assert record.kwargs["json"] == {"op": "replace", "value": [1, 2]}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", None]
)
async def test_json_is_none_for_other_content_types(content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    async with aiointercept() as m:
        m.post("/text")
        async with httpx.AsyncClient() as client:
            await client.post(
                f"{m.server_url}/text",
                content=b'{"looks": "like json"}',
                headers=headers,
            )
    (record,) = m.requests[("POST", URL(f"{m.server_url}/text"))]
    assert record.kwargs["json"] is None
    assert record.captured_body == b'{"looks": "like json"}'


@pytest.mark.anyio
async def test_invalid_json_body_gives_none_and_is_still_served() -> None:
    async with aiointercept() as m:
        m.post("/bad", status=202)
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{m.server_url}/bad",
                content=b"{not json",
                headers={"Content-Type": "application/json"},
            )
    assert response.status_code == 202
    (record,) = m.requests[("POST", URL(f"{m.server_url}/bad"))]
    assert record.kwargs["json"] is None
    assert record.captured_body == b"{not json"


# -- query and headers -----------------------------------------------------------------


@pytest.mark.anyio
async def test_query_keeps_duplicates_as_lists() -> None:
    async with aiointercept() as m:
        m.get(re.compile(".*"))
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/search?tag=b&x=1&tag=a&empty=")
    (records,) = m.requests.values()
    query = records[0].kwargs["query"]
    assert query == {"tag": ["b", "a"], "x": ["1"], "empty": [""]}
    assert all(isinstance(v, list) for v in query.values())


@pytest.mark.anyio
async def test_query_is_an_empty_dict_without_a_query_string() -> None:
    async with aiointercept() as m:
        m.get("/plain")
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/plain")
    (record,) = m.requests[("GET", URL(f"{m.server_url}/plain"))]
    assert record.kwargs["query"] == {}


@pytest.mark.anyio
async def test_headers_are_case_insensitive() -> None:
    async with aiointercept() as m:
        m.get("/h")
        async with httpx.AsyncClient() as client:
            await client.get(
                f"{m.server_url}/h",
                headers=[
                    ("X-Trace-Id", "trace-1"),
                    ("X-Multi", "one"),
                    ("X-Multi", "two"),
                ],
            )
    (record,) = m.requests[("GET", URL(f"{m.server_url}/h"))]
    headers = record.kwargs["headers"]
    assert headers["x-trace-id"] == "trace-1"
    assert headers["X-TRACE-ID"] == "trace-1"
    assert headers.getall("x-multi") == ["one", "two"]
    assert record.headers["X-Trace-Id"] == "trace-1"
    assert record.headers.getall("X-MULTI") == ["one", "two"]
    assert headers["Host"] == URL(m.server_url).raw_authority


@pytest.mark.anyio
async def test_record_attributes() -> None:
    async with aiointercept() as m:
        m.patch("/items/7?v=2")
        async with httpx.AsyncClient() as client:
            await client.patch(
                f"{m.server_url}/items/7?v=2",
                json={"done": True},
                headers={"Authorization": "Bearer t0k3n"},
            )
    (record,) = m.requests[("PATCH", URL(f"{m.server_url}/items/7?v=2"))]
    assert record.method == "PATCH"
    assert isinstance(record.url, URL)
    assert record.url.path == "/items/7"
    assert record.url.query == {"v": "2"}
    assert record.url.host == "127.0.0.1"
    assert record.url.port == URL(m.server_url).port
    assert record.headers["authorization"] == "Bearer t0k3n"
    assert record.kwargs["headers"]["Authorization"] == "Bearer t0k3n"
    assert record.kwargs["json"] == {"done": True}
    assert record.kwargs["query"] == {"v": ["2"]}


@pytest.mark.anyio
@asyncio_only
async def test_aiohttp_request_is_recorded() -> None:
    async with aiointercept() as m:
        m.post("/form")
        m.post("/json?z=1&a=2&a=1")
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{m.server_url}/form", data={"a": "1", "b": "x y"}
            ) as response:
                assert response.status == 200
            async with session.post(
                f"{m.server_url}/json",
                json={"k": [1, 2]},
                params=[("z", "1"), ("a", "2"), ("a", "1")],
            ) as response:
                assert response.status == 200
    (form,) = m.requests[("POST", URL(f"{m.server_url}/form"))]
    assert form.captured_body == b"a=1&b=x+y"
    assert form.kwargs["json"] is None
    assert form.headers["Content-Type"] == "application/x-www-form-urlencoded"
    (data,) = m.requests[("POST", URL(f"{m.server_url}/json?a=1&a=2&z=1"))]
    assert data.kwargs["json"] == {"k": [1, 2]}
    assert data.kwargs["query"] == {"z": ["1"], "a": ["2", "1"]}
    assert data.kwargs["headers"]["content-type"] == "application/json"


# -- unmatched requests, clear() and after the block -----------------------------------


@pytest.mark.anyio
async def test_unmatched_requests_are_recorded() -> None:
    async with aiointercept() as m, httpx.AsyncClient() as client:
        with pytest.raises(httpx.TransportError):
            await client.post(f"{m.server_url}/nowhere?b=1&a=2", json={"lost": 1})
    (record,) = m.requests[("POST", URL(f"{m.server_url}/nowhere?a=2&b=1"))]
    assert record.method == "POST"
    assert record.kwargs["json"] == {"lost": 1}
    assert record.kwargs["query"] == {"b": ["1"], "a": ["2"]}


@pytest.mark.anyio
async def test_exhausted_and_closed_requests_are_recorded() -> None:
    async with aiointercept() as m:
        m.get("/once")
        m.get("/boom", exception=True)
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/once")
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/once")
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/boom")
    assert len(m.requests[("GET", URL(f"{m.server_url}/once"))]) == 2
    assert len(m.requests[("GET", URL(f"{m.server_url}/boom"))]) == 1


@pytest.mark.anyio
async def test_clear_drops_routes_and_records_and_keeps_the_server() -> None:
    async with aiointercept() as m:
        url_before = m.server_url
        m.get("/old", repeat=True, body="old")
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{m.server_url}/old")).text == "old"
            assert m.requests
            m.clear()
            assert m.requests == {}
            assert m.server_url == url_before
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/old")
            m.get("/new", body="new")
            response = await client.get(f"{m.server_url}/new")
    assert response.text == "new"
    assert set(m.requests) == {
        ("GET", URL(f"{url_before}/old")),
        ("GET", URL(f"{url_before}/new")),
    }
    assert len(m.requests[("GET", URL(f"{url_before}/old"))]) == 1


@pytest.mark.anyio
async def test_clear_drops_regex_routes_too() -> None:
    async with aiointercept() as m:
        m.get(re.compile(".*"), repeat=True, body="any")
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{m.server_url}/x")).text == "any"
            m.clear()
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/x")


@pytest.mark.anyio
async def test_clear_on_a_queue_drops_the_remaining_responses() -> None:
    async with aiointercept() as m:
        m.get("/q", body="1")
        m.get("/q", body="2")
        async with httpx.AsyncClient() as client:
            first = await client.get(f"{m.server_url}/q")
            m.clear()
            m.get("/q", body="fresh")
            second = await client.get(f"{m.server_url}/q")
            with pytest.raises(httpx.TransportError):
                await client.get(f"{m.server_url}/q")
    assert (first.text, second.text) == ("1", "fresh")


@pytest.mark.anyio
async def test_records_stay_readable_after_the_block() -> None:
    async with aiointercept() as m:
        m.post("/orders?src=test", status=201)
        async with httpx.AsyncClient() as client:
            await client.post(
                f"{m.server_url}/orders?src=test",
                json={"item": "book"},
                headers={"X-Client": "tests"},
            )
        url = m.server_url
    key = ("POST", URL(f"{url}/orders?src=test"))
    assert key in m.requests
    record = m.requests[key][-1]
    assert json.loads(record.captured_body) == {"item": "book"}
    assert record.kwargs["json"] == {"item": "book"}
    assert record.kwargs["query"] == {"src": ["test"]}
    assert record.kwargs["headers"]["x-client"] == "tests"
    assert record.headers["X-Client"] == "tests"
    assert record.method == "POST"
    assert record.url.path == "/orders"


@pytest.mark.anyio
async def test_lookups_take_a_relative_path_like_add() -> None:
    async with aiointercept() as m:
        m.get("/items", body="listed")
        m.post("/items?b=2&a=1", body="posted")
        async with httpx.AsyncClient() as client:
            await client.get(f"{m.server_url}/items")
            await client.post(f"{m.server_url}/items?a=1&b=2", content=b"new")
    (listed,) = m.requests[("GET", "/items")]
    assert listed.url == URL(f"{m.server_url}/items")
    (posted,) = m.requests[("post", "/items?b=2&a=1")]
    assert posted.captured_body == b"new"
    assert ("GET", URL("/items")) in m.requests
    assert ("GET", URL("/other")) not in m.requests
    assert m.requests.get(("GET", "/other")) is None
    with pytest.raises(KeyError):
        m.requests[("DELETE", "/items")]
