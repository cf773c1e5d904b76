"""The round trip with vcrpy: a cassette vcrpy records replays here, and one
recorded here replays under vcrpy. vcrpy patches the clients while its own
``use_cassette`` block runs, so it is only used outside any aiointercept
block.

Each test records from the upstream of :mod:`tests.support.upstream`
(addressed by name, ``http://localhost:PORT``, which a
``mock_external_urls=True`` block intercepts), then replays with the upstream
stopped, so that a replay that reached the network would fail. Nothing leaves
the machine: ``conftest.py`` puts every test under the loopback net.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gzip
import json
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import requests
import vcr
import yaml

from tests.support.cassettes import (
    cassette_block,
    every_client,
    header,
    interactions,
    record,
    replay,
    response_body,
    uris,
)
from tests.support.clients import BOUND, Client
from tests.support.upstream import (
    BINARY,
    GZIP_TEXT,
    TEAPOT_BODY,
    TEAPOT_REASON,
    serving,
)

pytestmark = pytest.mark.anyio


async def aiohttp_replies(upstream_url: str) -> list[tuple[int, bytes]]:
    replies = []
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=BOUND)
    ) as session:
        for method, path, payload in VCRPY_REQUESTS:
            async with session.request(
                method, f"{upstream_url}{path}", json=payload
            ) as response:
                replies.append((response.status, await response.read()))
    return replies


#: What :func:`vcrpy_send` sends with aiohttp.
VCRPY_REQUESTS: list[tuple[str, str, Any]] = [
    ("GET", "/hello", None),
    ("POST", "/echo", {"n": 1}),
    ("GET", "/binary", None),
    ("GET", "/teapot", None),
]


def vcrpy_send(recorder: str, upstream_url: str) -> None:
    """The requests whose answers :func:`check_vcrpy_replies` expects, sent by
    ``recorder`` (requests, httpx or aiohttp) while vcrpy records or replays.

    aiohttp runs on an event loop of its own, in a thread of its own, so that
    this works on any backend."""
    if recorder == "aiohttp":
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            check_vcrpy_replies(
                pool.submit(asyncio.run, aiohttp_replies(upstream_url)).result(BOUND)
            )
    elif recorder == "requests":
        with requests.Session() as session:
            hello = session.get(f"{upstream_url}/hello", timeout=BOUND)
            echo = session.post(f"{upstream_url}/echo", json={"n": 1}, timeout=BOUND)
            binary = session.get(f"{upstream_url}/binary", timeout=BOUND)
            teapot = session.get(f"{upstream_url}/teapot", timeout=BOUND)
            check_vcrpy_replies(
                [(r.status_code, r.content) for r in (hello, echo, binary, teapot)]
            )
    else:
        with httpx.Client(timeout=BOUND) as client:
            hello_x = client.get(f"{upstream_url}/hello")
            echo_x = client.post(f"{upstream_url}/echo", json={"n": 1})
            binary_x = client.get(f"{upstream_url}/binary")
            teapot_x = client.get(f"{upstream_url}/teapot")
            check_vcrpy_replies(
                [
                    (r.status_code, r.content)
                    for r in (hello_x, echo_x, binary_x, teapot_x)
                ]
            )


#: The clients vcrpy records and replays with, in these tests.
VCRPY_CLIENTS = ["requests", "httpx", "aiohttp"]


def check_vcrpy_replies(replies: list[tuple[int, bytes]]) -> None:
    (hello, echo, binary, teapot) = replies
    assert hello == (200, b"upstream GET /hello")
    assert echo[0] == 200
    assert json.loads(echo[1])["path"] == "/echo"
    assert binary == (200, BINARY)
    assert teapot == (418, TEAPOT_BODY)


def requests_get(url: str) -> requests.Response:
    return requests.get(url, timeout=BOUND)


async def aiointercept_send(client: Client, upstream_url: str) -> None:
    hello = await client.get(f"{upstream_url}/hello")
    echo = await client.request("POST", f"{upstream_url}/echo", json_body={"n": 1})
    binary = await client.get(f"{upstream_url}/binary")
    teapot = await client.get(f"{upstream_url}/teapot")
    check_vcrpy_replies([(r.status, r.body) for r in (hello, echo, binary, teapot)])
    assert teapot.reason == TEAPOT_REASON
    assert teapot.headers.getall("Set-Cookie") == ["first=1", "second=2"]


@every_client
async def test_cassette_vcrpy_recorded_from_a_loopback_address_replays(
    kind: str, tmp_path: Path
) -> None:
    """A local service named by its address (``http://127.0.0.1:PORT``), which
    vcrpy records like any host."""
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.ip_url}/hello"
        with vcr.use_cassette(str(path)):
            requests_get(url)
    assert uris(path) == [url]
    async with cassette_block(path, kind, record_mode="none") as (m, client):
        assert await client.text(url) == "upstream GET /hello"
    assert len(m.requests) == 1


@every_client
@pytest.mark.parametrize("recorder", VCRPY_CLIENTS)
async def test_cassette_recorded_by_vcrpy_replays(
    kind: str, recorder: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        with vcr.use_cassette(str(path)) as cassette:
            vcrpy_send(recorder, upstream.url)
        assert len(cassette) == 4
        assert len(upstream.received) == 4
    async with cassette_block(path, kind, record_mode="none") as (m, client):
        await aiointercept_send(client, upstream.url)
    assert len(m.requests) == 4


@every_client
async def test_cassette_recorded_here_replays_under_vcrpy(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        await record(path, upstream, kind, lambda c: aiointercept_send(c, upstream.url))
        assert len(upstream.received) == 4
    for replayer in VCRPY_CLIENTS:
        with vcr.use_cassette(str(path), record_mode="none") as cassette:
            vcrpy_send(replayer, upstream.url)
            assert cassette.all_played, replayer


async def test_gzip_recorded_here_replays_under_vcrpy(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/gzip"
        await record(path, upstream, "httpx-async", lambda c: c.text(url))
    with vcr.use_cassette(str(path), record_mode="none"):
        response = requests_get(url)
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.text == GZIP_TEXT


@every_client
@pytest.mark.parametrize("recorder", VCRPY_CLIENTS)
async def test_chunked_gzip_recorded_by_vcrpy_replays_decoded(
    kind: str, recorder: str, tmp_path: Path
) -> None:
    """A compressed response sent chunked (as Cloudflare answers): vcrpy keeps
    ``Content-Encoding`` and ``Transfer-Encoding``, and the compressed body
    (httpx) or the decoded one (requests, aiohttp)."""
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/chunked-gzip"
        with vcr.use_cassette(str(path)):
            vcrpy_get(recorder, url)
        gzipped = upstream.gzipped
    (stored,) = interactions(path)
    assert header(stored["response"], "Content-Encoding") == ["gzip"]
    assert header(stored["response"], "Transfer-Encoding") == ["chunked"]
    assert response_body(stored) == (
        gzipped if recorder == "httpx" else GZIP_TEXT.encode()
    )
    replayed = await replay(path, kind, lambda c: c.get(url))
    assert replayed.status == 200
    assert replayed.text == GZIP_TEXT


def vcrpy_get(recorder: str, url: str) -> None:
    """GET ``url`` with ``recorder`` (requests, httpx or aiohttp), while vcrpy
    records; the body must read as :data:`GZIP_TEXT`."""
    if recorder == "requests":
        text = requests_get(url).text
    elif recorder == "httpx":
        text = httpx.get(url, timeout=BOUND).text
    else:

        async def aiohttp_get() -> str:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=BOUND)) as s,
                s.get(url) as response,
            ):
                return await response.text()

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            text = pool.submit(asyncio.run, aiohttp_get()).result(BOUND)
    assert text == GZIP_TEXT


def gzip_cassette(url: str) -> str:
    """A cassette whose body is stored compressed, under its Content-Encoding."""
    return yaml.safe_dump(
        {
            "interactions": [
                {
                    "request": {
                        "method": "GET",
                        "uri": url,
                        "body": None,
                        "headers": {},
                    },
                    "response": {
                        "status": {"code": 200, "message": "OK"},
                        "headers": {
                            "Content-Type": ["text/plain"],
                            "Content-Encoding": ["gzip"],
                        },
                        "body": {"string": gzip.compress(GZIP_TEXT.encode())},
                    },
                }
            ],
            "version": 1,
        }
    )


@every_client
async def test_body_stored_compressed_is_decoded_by_the_client(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    url = "https://api.example.com/compressed"
    path.write_text(gzip_cassette(url))
    assert "!!binary" in path.read_text()
    replayed = await replay(path, kind, lambda c: c.get(url))
    assert replayed.headers["Content-Encoding"] == "gzip"
    assert replayed.text == GZIP_TEXT


HAND_WRITTEN = textwrap.dedent(
    """\
    interactions:
    - request:
        body: null
        headers:
          Accept: ['*/*']
        method: GET
        uri: http://api.example.com/items?page=1
      response:
        body: {string: '[{"id": 1}]'}
        headers:
          Content-Type: [application/json]
          Date: ['Mon, 01 Jan 2024 00:00:00 GMT']
          Server: [the-real-api/1.0]
          X-Many: [one, two]
        status: {code: 200, message: OK}
    - request:
        body: !!binary |
          AAEC
        headers: {}
        method: POST
        uri: https://api.example.com:8443/upload
      response:
        body:
          string: !!binary |
            //79
        headers: {}
        status: {code: 201, message: Created}
    version: 1
    """
)


@every_client
async def test_hand_written_vcrpy_cassette_replays(kind: str, tmp_path: Path) -> None:
    """Flow style, ``!!binary`` bodies, https on an explicit port, a host that
    never existed."""
    path = tmp_path / "c.yaml"
    path.write_text(HAND_WRITTEN)
    async with cassette_block(path, kind, record_mode="none") as (m, client):
        items = await client.get("http://api.example.com/items?page=1")
        upload = await client.request(
            "POST", "https://api.example.com:8443/upload", content=b"\x00\x01\x02"
        )
    assert items.json() == [{"id": 1}]
    assert items.headers.getall("X-Many") == ["one", "two"]
    assert items.headers["Date"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert items.headers["Server"] == "the-real-api/1.0"
    assert (upload.status, upload.reason, upload.body) == (
        201,
        "Created",
        b"\xff\xfe\xfd",
    )
    assert len(m.requests) == 2
    assert path.read_text() == HAND_WRITTEN  # replaying does not rewrite it


#: A cassette recorded by vcrpy 5.1.0 with httpx 0.24.1, in the shape vcrpy's
#: httpx support wrote before vcrpy 6; ``data/make_vcrpy5_httpx.py`` made it.
VCRPY5_HTTPX = Path(__file__).parent / "data" / "vcrpy5_httpx.yaml"


@every_client
async def test_cassette_of_vcrpy_5_httpx_replays(kind: str, tmp_path: Path) -> None:
    """``status_code``, ``http_version``, ``headers``, ``content``: the body
    as text, decoded from its ``Content-Encoding``, and no reason phrase."""
    path = tmp_path / "c.yaml"
    path.write_bytes(VCRPY5_HTTPX.read_bytes())
    assert "status_code: 200" in path.read_text()
    async with cassette_block(path, kind, record_mode="none") as (m, client):
        items = await client.get("http://api.example.com/items?page=1")
        compressed = await client.get("http://api.example.com/gzip")
        created = await client.request(
            "POST", "http://api.example.com/items", json_body={"name": "new"}
        )
        missing = await client.get("http://api.example.com/missing")
    assert (items.status, items.reason) == (200, "OK")
    assert items.json() == [{"id": 1, "name": "café"}]
    assert items.headers.getall("Set-Cookie") == ["a=1", "b=2"]
    assert compressed.text == "compressed " * 20
    assert (created.status, created.reason) == (201, "Created")
    assert created.json() == {"created": {"name": "new"}}
    assert (missing.status, missing.reason, missing.body) == (
        404,
        "Not Found",
        b"not found",
    )
    assert len(m.requests) == 4
    assert path.read_bytes() == VCRPY5_HTTPX.read_bytes()


#: A query whose order and quoting vcrpy's ``filter_query_parameters`` changes:
#: it sorts the parameters, quotes ``:`` and ``/``, writes a space as ``+`` and
#: drops a parameter with no value.
UNSORTED_QUERY = "z=1&time=12:00&path=/a/b&token=s3cret&q=x%20y&empty="
#: The same parameters in another order, with another token.
REORDERED_QUERY = "q=x%20y&path=/a/b&token=other&empty=&time=12:00&z=1"


@every_client
async def test_filtered_query_is_written_as_vcrpy_writes_it(
    kind: str, tmp_path: Path
) -> None:
    by_vcrpy, here = tmp_path / "vcrpy.yaml", tmp_path / "here.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/search?{UNSORTED_QUERY}"
        with vcr.use_cassette(str(by_vcrpy), filter_query_parameters=["token"]):
            requests_get(url)
        await record(
            here,
            upstream,
            kind,
            lambda c: c.get(url),
            filter_query_parameters=["token"],
        )
    assert uris(by_vcrpy) == [
        f"{upstream.url}/search?path=%2Fa%2Fb&q=x+y&time=12%3A00&z=1"
    ]
    assert uris(here) == uris(by_vcrpy)


@every_client
async def test_query_filtered_by_vcrpy_matches_in_any_order_and_quoting(
    kind: str, tmp_path: Path
) -> None:
    """With ``match_on=["method", "uri"]``, as vcrpy compares them: both
    queries rebuilt the same way."""
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        with vcr.use_cassette(str(path), filter_query_parameters=["token"]):
            requests_get(f"{upstream.url}/search?{UNSORTED_QUERY}")
    async with cassette_block(
        path,
        kind,
        record_mode="none",
        match_on=["method", "uri"],
        filter_query_parameters=["token"],
    ) as (m, client):
        reply = await client.get(f"{upstream.url}/search?{REORDERED_QUERY}")
    assert reply.text == f"upstream GET /search?{UNSORTED_QUERY}"
    assert len(m.requests) == 1
