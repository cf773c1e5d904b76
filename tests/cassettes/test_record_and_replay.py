"""Record, then replay with the upstream stopped: statuses, reasons, repeated
headers, bodies of every kind, redirects, streams, and the file written.

Each test records from the upstream of :mod:`tests.support.upstream`
(addressed by name, ``http://localhost:PORT``, which a
``mock_external_urls=True`` block intercepts), then replays with the upstream
stopped, so that a replay that reached the network would fail. Nothing leaves
the machine: ``conftest.py`` puts every test under the loopback net.

Many tests run once per client (:data:`tests.support.cassettes.every_client`):
aiohttp (asyncio only), ``httpx.AsyncClient`` (asyncio and trio), and
``httpx.Client`` and requests, run in a worker thread (on both backends).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import requests
from yarl import URL

from aiointercept import aiointercept
from tests.support.cassettes import (
    as_bytes,
    cassette_block,
    every_client,
    header,
    interactions,
    load,
    miss,
    record,
    replay,
    response_body,
    uris,
)
from tests.support.clients import BOUND, Client, Reply, open_client
from tests.support.upstream import (
    BINARY,
    CHUNKS,
    GZIP_TEXT,
    LARGE,
    TEAPOT_BODY,
    TEAPOT_REASON,
    UNICODE,
    serving,
)

pytestmark = pytest.mark.anyio


@every_client
async def test_records_then_replays_with_the_upstream_stopped(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        async with cassette_block(path, kind) as (m, client):
            hello = await client.get(f"{upstream.url}/hello?lang=en")
            echo = await client.request(
                "POST", f"{upstream.url}/echo", json_body={"name": "bob"}
            )
            assert not path.exists(), "the cassette is written when the block exits"
        assert upstream.paths == ["/hello?lang=en", "/echo"]
    assert hello.status == 200
    assert hello.text == "upstream GET /hello?lang=en"
    assert echo.json()["path"] == "/echo"
    assert json.loads(echo.json()["body"]) == {"name": "bob"}
    assert len(m.requests) == 2
    assert uris(path) == [f"{upstream.url}/hello?lang=en", f"{upstream.url}/echo"]

    async with cassette_block(path, kind, record_mode="none") as (m, client):
        replayed_hello = await client.get(f"{upstream.url}/hello?lang=en")
        replayed_echo = await client.request(
            "POST", f"{upstream.url}/echo", json_body={"name": "bob"}
        )
    for recorded, replayed in ((hello, replayed_hello), (echo, replayed_echo)):
        assert (replayed.status, replayed.reason, replayed.body) == (
            recorded.status,
            recorded.reason,
            recorded.body,
        )
        assert replayed.headers["Content-Type"] == recorded.headers["Content-Type"]
        assert replayed.headers["Server"] == recorded.headers["Server"]
    assert list(m.requests) == [
        ("GET", URL(f"{upstream.url}/hello?lang=en")),
        ("POST", URL(f"{upstream.url}/echo")),
    ]
    m.assert_called_once_with(f"{upstream.url}/echo", "POST", json={"name": "bob"})
    m.assert_called_once_with(f"{upstream.url}/hello", params={"lang": "en"})


@every_client
async def test_once_replays_an_existing_cassette_without_the_upstream(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        await record(path, upstream, kind, lambda c: c.text(f"{upstream.url}/hello"))
    async with cassette_block(path, kind) as (m, client):
        assert await client.text(f"{upstream.url}/hello") == "upstream GET /hello"
    assert len(m.requests) == 1


@every_client
async def test_status_reason_and_repeated_headers_are_replayed(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/teapot"
        recorded = await record(path, upstream, kind, lambda c: c.get(url))
    assert (recorded.status, recorded.reason) == (418, TEAPOT_REASON)
    (interaction,) = interactions(path)
    assert interaction["response"]["status"] == {"code": 418, "message": TEAPOT_REASON}
    # (the values of Set-Cookie are scrubbed: see test_secrets)
    assert header(interaction["response"], "X-Multi") == ["1", "2"]
    assert len(header(interaction["response"], "Set-Cookie")) == 2

    replayed = await replay(path, kind, lambda c: c.get(url))
    assert (replayed.status, replayed.reason) == (418, TEAPOT_REASON)
    assert replayed.body == TEAPOT_BODY
    assert replayed.headers["X-Custom"] == "kept"
    assert replayed.headers.getall("X-Multi") == ["1", "2"]
    assert len(replayed.headers.getall("Set-Cookie")) == 2


@every_client
async def test_binary_body_is_recorded_as_binary_and_replayed(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/binary"
        recorded = await record(path, upstream, kind, lambda c: c.get(url))
    assert recorded.body == BINARY
    assert "!!binary" in path.read_text()
    (interaction,) = interactions(path)
    assert interaction["response"]["body"]["string"] == BINARY

    replayed = await replay(path, kind, lambda c: c.get(url))
    assert replayed.body == BINARY
    assert replayed.headers["Content-Type"] == "application/octet-stream"


async def test_utf8_body_is_written_as_a_string(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/unicode"
        await record(path, upstream, "httpx-async", lambda c: c.text(url))
    (interaction,) = interactions(path)
    assert interaction["response"]["body"]["string"] == UNICODE
    assert "!!binary" not in path.read_text(encoding="utf-8")
    async with (
        aiointercept(mock_external_urls=True, cassette=path, record_mode="none"),
        open_client("httpx-async") as client,
    ):
        assert await client.text(url) == UNICODE


@every_client
async def test_gzip_body_is_replayed_compressed_and_decoded_by_the_client(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/gzip"
        recorded = await record(path, upstream, kind, lambda c: c.get(url))
    assert recorded.text == GZIP_TEXT
    (interaction,) = interactions(path)
    # stored decoded under its Content-Encoding header, as vcrpy stores it
    # (see test_gzip_recorded_here_replays_under_vcrpy)
    assert header(interaction["response"], "Content-Encoding") == ["gzip"]
    assert response_body(interaction).decode() == GZIP_TEXT

    replayed = await replay(path, kind, lambda c: c.get(url))
    assert replayed.headers["Content-Encoding"] == "gzip"
    assert replayed.text == GZIP_TEXT


@every_client
async def test_chunked_body_is_replayed_chunked(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/chunked"
        recorded = await record(path, upstream, kind, lambda c: c.get(url))
    assert recorded.body == b"".join(CHUNKS)
    (interaction,) = interactions(path)
    assert header(interaction["response"], "Transfer-Encoding") == ["chunked"]
    assert response_body(interaction) == b"".join(CHUNKS)

    replayed = await replay(path, kind, lambda c: c.get(url))
    assert replayed.body == b"".join(CHUNKS)
    assert replayed.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in replayed.headers


@every_client
async def test_streamed_upstream_body_is_recorded_while_it_streams(
    kind: str, tmp_path: Path
) -> None:
    """The upstream sends its second chunk only after the client has read the
    first: a recorder that waited for the whole body before answering would
    never get it."""
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/stream"
        parts = await record(
            path,
            upstream,
            kind,
            lambda c: c.read_in_two(url, 6, upstream.release.set),
        )
    assert parts == (b"first;", b"second")
    (interaction,) = interactions(path)
    assert response_body(interaction) == b"first;second"

    assert await replay(path, kind, lambda c: c.text(url)) == "first;second"


@every_client
async def test_redirects_are_recorded_and_followed_on_replay(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/redirect"
        recorded = await record(path, upstream, kind, lambda c: c.get(url))
        assert upstream.paths == ["/redirect", "/hello"]
    assert (recorded.status, recorded.history) == (200, (302,))
    assert uris(path) == [url, f"{upstream.url}/hello"]
    assert [i["response"]["status"]["code"] for i in interactions(path)] == [302, 200]

    async with cassette_block(path, kind, record_mode="none") as (m, client):
        replayed = await client.get(url)
    assert (replayed.status, replayed.history) == (200, (302,))
    assert replayed.url == f"{upstream.url}/hello"
    assert replayed.text == "upstream GET /hello"
    assert list(m.requests) == [
        ("GET", URL(url)),
        ("GET", URL(f"{upstream.url}/hello")),
    ]


@every_client
async def test_identical_requests_are_replayed_once_each_in_file_order(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/counter"

        async def three(client: Client) -> list[str]:
            return [await client.text(url) for _ in range(3)]

        assert await record(path, upstream, kind, three) == ["1", "2", "3"]

    async def replayed_in_order(client: Client) -> None:
        assert await three(client) == ["1", "2", "3"]

    # a fourth is a miss: each interaction is played once
    await miss(path, kind, "GET", url, before=replayed_in_order)


async def test_cassette_in_a_missing_directory_is_created(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "cassettes" / "test_module" / "test_name.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(path, upstream, "httpx-async", lambda c: c.text(url))
    assert uris(path) == [url]


async def test_cassette_path_may_be_a_string(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        async with (
            aiointercept(mock_external_urls=True, cassette=str(path)),
            open_client("httpx-async") as client,
        ):
            await client.text(url)
    assert uris(path) == [url]


async def test_written_cassette_is_vcrpy_format_version_1(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/echo?page=2"

        async def send(client: Client) -> Reply:
            return await client.request(
                "PUT", url, headers={"X-Trace": "t-1"}, content=b"the body"
            )

        await record(path, upstream, "httpx-async", send)
    cassette = load(path)
    assert cassette["version"] == 1
    assert set(cassette) == {"interactions", "version"}
    (interaction,) = cassette["interactions"]
    request, response = interaction["request"], interaction["response"]
    assert request["method"] == "PUT"
    assert request["uri"] == url
    assert as_bytes(request["body"]) == b"the body"
    assert header(request, "X-Trace") == ["t-1"]
    assert all(isinstance(values, list) for values in request["headers"].values())
    assert response["status"] == {"code": 200, "message": "OK"}
    assert header(response, "Content-Type") == ["application/json"]
    assert all(isinstance(values, list) for values in response["headers"].values())
    assert json.loads(response_body(interaction)) == {
        "method": "PUT",
        "path": "/echo?page=2",
        "body": "the body",
        "token": None,
        "host": f"localhost:{upstream.port}",
    }


@every_client
async def test_no_content_and_head_responses_replay_without_a_body(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        empty, head = f"{upstream.url}/empty", f"{upstream.url}/hello"

        async def send(client: Client) -> list[Reply]:
            return [await client.get(empty), await client.request("HEAD", head)]

        recorded = await record(path, upstream, kind, send)
    assert [(r.status, r.body) for r in recorded] == [(204, b""), (200, b"")]
    assert [i["request"]["method"] for i in interactions(path)] == ["GET", "HEAD"]

    replayed = await replay(path, kind, send)
    assert [(r.status, r.body) for r in replayed] == [(204, b""), (200, b"")]
    assert replayed[1].headers["Content-Type"] == "text/plain"
    # what a HEAD is for: the size of what a GET would get
    assert replayed[1].headers.get("Content-Length") == str(
        len(b"upstream HEAD /hello")
    )


async def test_large_binary_body(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/large"
        recorded = await record(path, upstream, "httpx-async", lambda c: c.get(url))
    assert recorded.body == LARGE
    async with (
        aiointercept(mock_external_urls=True, cassette=path, record_mode="none"),
        open_client("httpx-async") as client,
    ):
        assert (await client.get(url)).body == LARGE


async def test_streamed_request_body_is_recorded_whole(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    pieces = [b"first;", b"second;", b"\xff\x00 binary"]

    async def upload() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    async with serving() as upstream, httpx.AsyncClient() as client:
        url = f"{upstream.url}/upload"
        async with aiointercept(
            mock_external_urls=True, cassette=path, match_on=("uri", "body")
        ):
            with anyio.fail_after(BOUND):
                response = await client.post(url, content=upload())
        assert response.status_code == 200
        (received,) = upstream.received
    assert received.body == b"".join(pieces)
    (interaction,) = interactions(path)
    assert as_bytes(interaction["request"]["body"]) == b"".join(pieces)
    assert "!!binary" in path.read_text()
    # matched on that body
    async with (
        aiointercept(
            mock_external_urls=True,
            cassette=path,
            record_mode="none",
            match_on=("uri", "body"),
        ),
        httpx.AsyncClient() as client,
    ):
        with anyio.fail_after(BOUND):
            response = await client.post(url, content=b"".join(pieces))
    assert response.text == "upstream POST /upload"


@every_client
async def test_query_recorded_by_one_client_replays_for_every_client(
    kind: str, tmp_path: Path
) -> None:
    """Clients encode a query differently (``%20`` or ``+``, percent-encoded
    UTF-8); the query matcher compares decoded values."""
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/search?q=café au lait&page=2"
        await record(path, upstream, "requests", lambda c: c.text(url))
    assert (await replay(path, kind, lambda c: c.get(url))).status == 200


def blocking_get(kind: str, url: str) -> tuple[int, bytes]:
    """GET ``url`` with a synchronous client, in the calling thread."""
    if kind == "requests":
        response = requests.get(url, timeout=BOUND)
        return response.status_code, response.content
    with httpx.Client(timeout=BOUND) as client:
        reply = client.get(url)
        return reply.status_code, reply.content


@pytest.mark.parametrize("kind", ["requests", "httpx-sync"])
async def test_the_sending_thread_a_sync_client_names_is_for_the_mock_only(
    tmp_path: Path, anyio_backend: str, kind: str
) -> None:
    """Nothing that names the sending thread (the interception knows it from
    the connection) reaches the real host, the cassette or the records."""
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        async with aiointercept(mock_external_urls=True, cassette=path) as m:
            assert blocking_get(kind, url) == (200, b"upstream GET /hello")
        (received,) = upstream.received
    names = {
        *received.headers,
        *interactions(path)[0]["request"]["headers"],
        *m.requests[("GET", URL(url))][0].headers,
    }
    assert "Host" in names
    assert not [name for name in names if "thread" in name.lower()]


@pytest.mark.parametrize("kind", ["requests", "httpx-sync"])
async def test_sync_client_blocking_the_loop_records_and_replays(
    tmp_path: Path, anyio_backend: str, kind: str
) -> None:
    """Synchronous code called straight from the async test, hooks included:
    nothing may need the test's (blocked) event loop."""
    path = tmp_path / "c.yaml"
    hooked: list[str] = []

    def before_record_request(request: Any) -> Any:
        hooked.append("request")
        return request

    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        hooked.append("response")
        return response

    hooks: dict[str, Any] = {
        "before_record_request": before_record_request,
        "before_record_response": before_record_response,
    }
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        async with aiointercept(mock_external_urls=True, cassette=path, **hooks):
            assert blocking_get(kind, url) == (200, b"upstream GET /hello")
    assert "response" in hooked
    assert uris(path) == [url]
    async with aiointercept(
        mock_external_urls=True, cassette=path, record_mode="none", **hooks
    ) as m:
        assert blocking_get(kind, url) == (200, b"upstream GET /hello")
    assert len(m.requests) == 1
