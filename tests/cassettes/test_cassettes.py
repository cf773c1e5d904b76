"""Cassettes: record real traffic once, replay it with the real host gone.

Every test records from :class:`Upstream`, a plain HTTP server on 127.0.0.1 in
a thread of its own that stands for the real API and is addressed by name
(``http://localhost:PORT``, which a ``mock_external_urls=True`` block
intercepts), then replays with the upstream stopped, so that a replay that
reached the network would fail. The tests of misses keep the upstream running
instead, and check that it received nothing.

Many tests run once per client (:data:`every_client`): aiohttp (asyncio
only), ``httpx.AsyncClient`` (asyncio and trio), and ``httpx.Client`` and
requests, run in a worker thread (on both backends).

The cassette format is vcrpy's, and vcrpy itself checks it: a cassette vcrpy
records replays here, and one recorded here replays under vcrpy. vcrpy patches
the clients while its own ``use_cassette`` block runs, so it is only used
outside any aiointercept block.

Nothing here leaves the machine: every test runs under
:func:`loopback_net.loopback_network`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gzip
import json
import os
import re
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import anyio
import anyio.to_thread
import httpx
import pytest
import requests
import vcr
import yaml
from yarl import URL

from aiointercept import AiointerceptError, CassetteError, aiointercept
from tests.support import clients, loopback_net
from tests.support.clients import BOUND, Client, Reply, make_client, open_client
from tests.support.upstream import (
    BINARY,
    CHUNKS,
    GZIP_TEXT,
    LARGE,
    SECRET_BODY,
    TEAPOT_BODY,
    TEAPOT_REASON,
    UNICODE,
    Upstream,
    serving,
)

pytestmark = pytest.mark.anyio

T = TypeVar("T")

#: The safety net, for every test of this module.
loopback_network = loopback_net.loopback_network
net = clients.net

# -- the clients ------------------------------------------------------------------

KINDS = ["aiohttp", "httpx-async", "httpx-sync", "requests"]

#: Every client, on every backend it runs on (aiohttp runs on asyncio only).
every_client = pytest.mark.parametrize(
    ("kind", "anyio_backend"),
    [
        pytest.param(kind, backend, id=f"{kind}-{backend}")
        for kind in KINDS
        for backend in ("asyncio", "trio")
        if not (kind == "aiohttp" and backend == "trio")
    ],
)


# -- cassettes ----------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    """A cassette file, as YAML."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def interactions(path: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = load(path)["interactions"]
    return found


def uris(path: Path) -> list[str]:
    return [interaction["request"]["uri"] for interaction in interactions(path)]


def header(part: Mapping[str, Any], name: str) -> list[str]:
    """The values of header ``name`` of a recorded request or response."""
    return [
        value
        for key, values in part["headers"].items()
        if key.lower() == name.lower()
        for value in values
    ]


def as_bytes(body: str | bytes | None) -> bytes:
    if body is None:
        return b""
    return body.encode() if isinstance(body, str) else body


def response_body(interaction: Mapping[str, Any]) -> bytes:
    return as_bytes(interaction["response"]["body"]["string"])


@asynccontextmanager
async def cassette_block(
    path: Path, kind: str, **options: Any
) -> AsyncIterator[tuple[aiointercept, Client]]:
    """A block with a cassette, and a client of ``kind`` to send through it."""
    async with (
        aiointercept(mock_external_urls=True, cassette=path, **options) as m,
        open_client(kind) as client,
    ):
        yield m, client


async def with_cassette(
    path: Path, kind: str, send: Callable[[Client], Awaitable[T]], **options: Any
) -> T:
    """Run ``send`` with a client of ``kind``, in a block with a cassette."""
    async with cassette_block(path, kind, **options) as (_, client):
        return await send(client)


async def record(
    path: Path,
    upstream: Upstream,
    kind: str,
    send: Callable[[Client], Awaitable[T]],
    **options: Any,
) -> T:
    """Run ``send`` in a block with a cassette (recording, by default), while
    ``upstream`` runs."""
    return await with_cassette(path, kind, send, **options)


async def replay(path: Path, kind: str, send: Callable[[Client], Awaitable[T]]) -> T:
    """Run ``send`` in a block that replays the cassette, recording nothing."""
    return await with_cassette(path, kind, send, record_mode="none")


async def miss(
    path: Path,
    kind: str,
    method: str,
    url: str,
    *,
    before: Callable[[Client], Awaitable[object]] | None = None,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    record_mode: str = "none",
    **options: Any,
) -> tuple[CassetteError, aiointercept]:
    """Replay ``path``: run ``before`` (requests the cassette answers), then
    send a request that it does not answer. The client must get a transport
    error, and the block must raise a :class:`CassetteError`, returned."""
    m = aiointercept(
        mock_external_urls=True, cassette=path, record_mode=record_mode, **options
    )

    async def block() -> None:
        async with m, open_client(kind) as client:
            if before is not None:
                await before(client)
            with pytest.raises(client.closed_error):
                await client.request(method, url, headers=headers, content=content)

    with pytest.raises(CassetteError) as info:
        await block()
    return info.value, m


def files_in(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def permissions(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


def messages(error: BaseException) -> str:
    """The messages of ``error`` and of the exceptions it was raised from."""
    found = []
    current: BaseException | None = error
    while current is not None:
        found.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(found)


# == 1. options ===================================================================


async def test_cassette_requires_mock_external_urls(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mock_external_urls"):
        aiointercept(cassette=tmp_path / "c.yaml")


@pytest.mark.parametrize(
    "options",
    [
        {"record_mode": "none"},
        {"match_on": ("method", "uri")},
        {"filter_headers": ("x-api-key",)},
        {"filter_query_parameters": ("api_key",)},
        {"filter_post_data_parameters": ("password",)},
        {"before_record_request": lambda request: request},
        {"before_record_response": lambda response: response},
    ],
    ids=lambda options: next(iter(options)),
)
async def test_cassette_options_require_a_cassette(options: dict[str, Any]) -> None:
    (name,) = options
    with pytest.raises(ValueError, match=name):
        aiointercept(mock_external_urls=True, **options)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"record_mode": "sometimes"}, "sometimes"),
        ({"match_on": ("method", "colour")}, "colour"),
        ({"match_on": "method"}, "method"),
        ({"before_record_request": 42}, "42"),
        ({"before_record_response": "not callable"}, "not callable"),
        ({"filter_headers": (("authorization", "x", "y"),)}, "authorization"),
        ({"filter_query_parameters": 7}, "7"),
        ({"cassette": 12345}, "12345"),
    ],
    ids=lambda value: str(value) if isinstance(value, str) else next(iter(value)),
)
async def test_bad_cassette_options_are_rejected_at_construction(
    tmp_path: Path, options: dict[str, Any], named: str
) -> None:
    options = {"cassette": tmp_path / "c.yaml", **options}
    with pytest.raises((ValueError, TypeError), match=named):
        aiointercept(mock_external_urls=True, **options)
    assert not (tmp_path / "c.yaml").exists()


@pytest.mark.parametrize(
    "record_mode", ["none", "once", "new_episodes", "all", "rewrite"]
)
async def test_every_record_mode_and_matcher_is_accepted(
    tmp_path: Path, record_mode: str
) -> None:
    matchers = ["method", "scheme", "host", "port", "path", "query"]
    matchers += ["uri", "body", "raw_body", "headers"]
    aiointercept(
        mock_external_urls=True,
        cassette=tmp_path / "c.yaml",
        record_mode=record_mode,
        match_on=tuple(matchers),
    )


MISSING_PYYAML = """
import sys

sys.modules["yaml"] = None  # as if PyYAML were not installed

import anyio

from aiointercept import aiointercept


async def main() -> None:
    async with aiointercept(mock_external_urls=True, cassette=sys.argv[1]):
        pass


try:
    anyio.run(main)
except ImportError as error:
    print(f"ImportError: {error}")
else:
    print("no error")
"""


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_missing_pyyaml_names_the_extra(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(MISSING_PYYAML)
    result = await anyio.run_process(
        [sys.executable, str(script), str(tmp_path / "c.yaml")], check=False
    )
    output = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, output
    assert output.startswith("ImportError:"), output
    assert "aiointercept[record]" in output


# == 2. record, then replay with the upstream stopped =============================


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
    assert header(interaction["response"], "Set-Cookie") == ["first=1", "second=2"]

    replayed = await replay(path, kind, lambda c: c.get(url))
    assert (replayed.status, replayed.reason) == (418, TEAPOT_REASON)
    assert replayed.body == TEAPOT_BODY
    assert replayed.headers["X-Custom"] == "kept"
    assert replayed.headers.getall("Set-Cookie") == ["first=1", "second=2"]


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


# == 3. misses ====================================================================


@every_client
@pytest.mark.parametrize("record_mode", ["none", "once"])
async def test_request_missing_from_the_cassette_never_reaches_the_network(
    kind: str, record_mode: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        hello = f"{upstream.url}/hello"
        await record(path, upstream, kind, lambda c: c.text(hello))
        # the upstream is still running: a miss must not reach it
        error, m = await miss(
            path, kind, "GET", f"{upstream.url}/goodbye", record_mode=record_mode
        )
        assert upstream.paths == ["/hello"]
    assert isinstance(error, AssertionError)
    assert isinstance(error, AiointerceptError)
    message = str(error)
    assert str(path) in message
    assert f"GET {upstream.url}/goodbye" in message
    assert hello in message  # the closest recorded interaction
    assert "path" in message  # what differs
    assert list(m.requests) == [("GET", URL(f"{upstream.url}/goodbye"))]
    assert uris(path) == [hello]  # not recorded


@every_client
async def test_uncaught_client_error_becomes_a_cassette_error(
    kind: str, tmp_path: Path
) -> None:
    """Code under test that does not catch its client's error: the block still
    exits with the error that explains the miss, raised from the client's."""
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        hello, other = f"{upstream.url}/hello", f"{upstream.url}/other"
        await record(path, upstream, kind, lambda c: c.text(hello))
    client = make_client(kind)

    async def block() -> None:
        async with aiointercept(
            mock_external_urls=True, cassette=path, record_mode="none"
        ):
            await client.get(other)

    try:
        with pytest.raises(CassetteError) as info:
            await block()
    finally:
        await client.aclose()
    assert isinstance(info.value.__cause__, client.closed_error)
    assert f"GET {other}" in str(info.value)


@pytest.mark.parametrize(
    ("change", "differs"),
    [
        (lambda url: url.replace("http://", "https://"), "scheme"),
        (lambda url: url.replace("localhost", "api.example.com"), "host"),
        (lambda url: re.sub(r":\d+/", ":8080/", url), "port"),
        (lambda url: url, "method"),
    ],
    ids=["scheme", "host", "port", "method"],
)
async def test_miss_names_what_differs(
    tmp_path: Path,
    anyio_backend: str,
    change: Callable[[str], str],
    differs: str,
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/thing"
        await record(path, upstream, "httpx-async", lambda c: c.text(url))
    method = "DELETE" if differs == "method" else "GET"
    error, _ = await miss(path, "httpx-async", method, change(url))
    message = str(error)
    assert f"{method} {change(url)}" in message
    assert f"GET {url}" in message  # the closest
    assert differs in message


async def test_every_miss_is_named(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        hello = f"{upstream.url}/hello"
        await record(path, upstream, "httpx-async", lambda c: c.text(hello))
    first, second = f"{upstream.url}/first", f"{upstream.url}/second"

    async def first_miss(client: Client) -> None:
        with pytest.raises(client.closed_error):
            await client.get(first)

    error, m = await miss(path, "httpx-async", "POST", second, before=first_miss)
    assert f"GET {first}" in str(error)
    assert f"POST {second}" in str(error)
    assert len(m.requests) == 2


async def test_miss_names_a_differing_query(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/search"
        await record(path, upstream, "httpx-async", lambda c: c.text(f"{url}?q=cats"))
    error, _ = await miss(path, "httpx-async", "GET", f"{url}?q=dogs")
    message = str(error)
    assert f"GET {url}?q=dogs" in message
    assert f"{url}?q=cats" in message
    assert "query" in message


# == 4. record modes ===============================================================


async def test_new_episodes_replays_what_is_recorded_and_records_the_rest(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        first, second = f"{upstream.url}/counter", f"{upstream.url}/new"
        await record(path, upstream, "httpx-async", lambda c: c.text(first))
        async with (
            aiointercept(
                mock_external_urls=True, cassette=path, record_mode="new_episodes"
            ) as m,
            open_client("httpx-async") as client,
        ):
            assert await client.text(first) == "1"  # replayed
            assert await client.text(second) == "upstream GET /new"  # recorded
        assert upstream.paths == ["/counter", "/new"]
    assert uris(path) == [first, second]
    assert len(m.requests) == 2
    async with (
        aiointercept(mock_external_urls=True, cassette=path, record_mode="none"),
        open_client("httpx-async") as client,
    ):
        assert await client.text(first) == "1"
        assert await client.text(second) == "upstream GET /new"


@pytest.mark.parametrize(
    ("record_mode", "kept"), [("all", ["1", "2"]), ("rewrite", ["2"])]
)
async def test_all_and_rewrite_send_every_request_to_the_real_host(
    tmp_path: Path, anyio_backend: str, record_mode: str, kept: list[str]
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/counter"
        await record(path, upstream, "httpx-async", lambda c: c.text(url))
        async with (
            aiointercept(
                mock_external_urls=True, cassette=path, record_mode=record_mode
            ) as m,
            open_client("httpx-async") as client,
        ):
            assert await client.text(url) == "2"  # not replayed
        assert upstream.paths == ["/counter", "/counter"]
    assert len(m.requests) == 1
    assert [response_body(i).decode() for i in interactions(path)] == kept

    async def replayed(client: Client) -> None:
        assert [await client.text(url) for _ in kept] == kept

    await miss(path, "httpx-async", "GET", url, before=replayed)


async def test_none_without_a_cassette_file_records_nothing(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        error, _ = await miss(path, "httpx-async", "GET", url)
        assert upstream.received == []
    assert not path.exists()
    assert str(path) in str(error)
    assert f"GET {url}" in str(error)


# == 5. routes, matching ============================================================


async def test_registered_routes_take_precedence_over_the_cassette(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        real, routed = f"{upstream.url}/real", f"{upstream.url}/routed"
        async with (
            aiointercept(mock_external_urls=True, cassette=path) as m,
            open_client("httpx-async") as client,
        ):
            m.get(routed, body="from the route")
            assert await client.text(routed) == "from the route"
            assert await client.text(real) == "upstream GET /real"
        assert upstream.paths == ["/real"]
    assert uris(path) == [real]  # a routed request is not recorded

    async with (
        aiointercept(mock_external_urls=True, cassette=path, record_mode="none") as m,
        open_client("httpx-async") as client,
    ):
        m.get(real, body="route over cassette")
        assert await client.text(real) == "route over cassette"
    m.assert_called_once_with(real)


async def test_body_is_ignored_by_default(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/echo"
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.request("POST", url, content=b"recorded"),
        )
    async with (
        aiointercept(mock_external_urls=True, cassette=path, record_mode="none") as m,
        open_client("httpx-async") as client,
    ):
        reply = await client.request("POST", url, content=b"different")
    assert reply.json()["body"] == "recorded"
    m.assert_called_once_with(url, "POST", data=b"different")


async def test_match_on_body(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "c.yaml"
    match_on = ("method", "uri", "body")
    async with serving() as upstream:
        url = f"{upstream.url}/echo"

        async def two(client: Client) -> None:
            await client.request("POST", url, content=b"one")
            await client.request("POST", url, content=b"two")

        await record(path, upstream, "httpx-async", two, match_on=match_on)
    async with (
        aiointercept(
            mock_external_urls=True,
            cassette=path,
            record_mode="none",
            match_on=match_on,
        ),
        open_client("httpx-async") as client,
    ):
        # out of file order: the body picks the interaction
        assert (await client.request("POST", url, content=b"two")).json()[
            "body"
        ] == "two"
        assert (await client.request("POST", url, content=b"one")).json()[
            "body"
        ] == "one"
    error, _ = await miss(
        path, "httpx-async", "POST", url, content=b"three", match_on=match_on
    )
    assert "body" in str(error)


async def test_match_on_headers(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "c.yaml"
    match_on = ("method", "uri", "headers")
    async with serving() as upstream:
        url = f"{upstream.url}/versioned"
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.get(url, headers={"X-Version": "1"}),
            match_on=match_on,
        )
    async with (
        aiointercept(
            mock_external_urls=True,
            cassette=path,
            record_mode="none",
            match_on=match_on,
        ),
        open_client("httpx-async") as client,
    ):
        assert (await client.get(url, headers={"X-Version": "1"})).status == 200
    error, _ = await miss(
        path, "httpx-async", "GET", url, headers={"X-Version": "2"}, match_on=match_on
    )
    assert "headers" in str(error)


async def test_query_order_does_not_matter_by_default(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/search"
        await record(path, upstream, "httpx-async", lambda c: c.get(f"{url}?a=1&b=2"))
    async with (
        aiointercept(mock_external_urls=True, cassette=path, record_mode="none"),
        open_client("httpx-async") as client,
    ):
        assert await client.text(f"{url}?b=2&a=1") == "upstream GET /search?a=1&b=2"


async def test_match_on_a_subset_ignores_the_rest(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/search"
        await record(path, upstream, "httpx-async", lambda c: c.get(f"{url}?q=cats"))
    async with (
        aiointercept(
            mock_external_urls=True,
            cassette=path,
            record_mode="none",
            match_on=("method", "path"),
        ),
        open_client("httpx-async") as client,
    ):
        assert await client.text(f"{url}?q=dogs") == "upstream GET /search?q=cats"


# == 6. secrets =====================================================================


@every_client
async def test_authorization_and_cookie_are_not_recorded_by_default(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    headers = {
        "Authorization": "Bearer s3cret-token",
        "Cookie": "session=s3cret-cookie",
        "X-Request-Id": "kept-1",
    }
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(path, upstream, kind, lambda c: c.get(url, headers=headers))
        (received,) = upstream.received
    # the real host got the credentials
    assert received.headers["Authorization"] == "Bearer s3cret-token"
    assert received.headers["Cookie"] == "session=s3cret-cookie"
    assert "s3cret" not in path.read_text()
    ((request, _),) = [(i["request"], i["response"]) for i in interactions(path)]
    assert header(request, "Authorization") == []
    assert header(request, "Cookie") == []
    assert header(request, "X-Request-Id") == ["kept-1"]

    assert (
        await replay(path, kind, lambda c: c.get(url, headers=headers))
    ).text == "upstream GET /hello"


async def test_filter_headers_removes_or_replaces(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.get(
                url,
                headers={
                    "X-Api-Key": "s3cret-key",
                    "X-Other-Secret": "s3cret-other",
                    "X-Dropped": "s3cret-dropped",
                    "X-Kept": "kept",
                },
            ),
            filter_headers=[
                ("x-api-key", "REDACTED"),
                "X-Other-Secret",
                ("X-Dropped", None),
            ],
        )
        (received,) = upstream.received
    assert received.headers["X-Api-Key"] == "s3cret-key"
    assert "s3cret" not in path.read_text()
    (interaction,) = interactions(path)
    request = interaction["request"]
    assert header(request, "X-Api-Key") == ["REDACTED"]
    assert header(request, "X-Other-Secret") == []
    assert header(request, "X-Dropped") == []
    assert header(request, "X-Kept") == ["kept"]


async def test_filter_query_parameters(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/search?api_key=s3cret-key&token=s3cret-token&page=2"
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.text(url),
            filter_query_parameters=["api_key", ("token", "XXX")],
        )
        assert upstream.paths == [
            "/search?api_key=s3cret-key&token=s3cret-token&page=2"
        ]
    (uri,) = uris(path)
    assert urlsplit(uri).path == "/search"
    assert sorted(parse_qsl(urlsplit(uri).query)) == [("page", "2"), ("token", "XXX")]
    # the same request, with the real secrets, is filtered the same way and
    # replays
    async with (
        aiointercept(
            mock_external_urls=True,
            cassette=path,
            record_mode="none",
            filter_query_parameters=["api_key", ("token", "XXX")],
        ),
        open_client("httpx-async") as client,
    ):
        assert (await client.get(url)).status == 200


@pytest.mark.parametrize("encoding", ["form", "json"])
async def test_filter_post_data_parameters(
    tmp_path: Path, anyio_backend: str, encoding: str
) -> None:
    path = tmp_path / "c.yaml"
    fields = {"user": "bob", "password": "s3cret-password", "otp": "s3cret-otp"}
    async with serving() as upstream:
        url = f"{upstream.url}/login"

        async def send(client: Client) -> Reply:
            if encoding == "json":
                return await client.request("POST", url, json_body=fields)
            return await client.request(
                "POST",
                url,
                content=b"user=bob&password=s3cret-password&otp=s3cret-otp",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )

        await record(
            path,
            upstream,
            "httpx-async",
            send,
            filter_post_data_parameters=["password", ("otp", "XXX")],
        )
        (received,) = upstream.received
    assert b"s3cret-password" in received.body
    assert "s3cret" not in path.read_text()
    (interaction,) = interactions(path)
    body = as_bytes(interaction["request"]["body"])
    if encoding == "json":
        assert json.loads(body) == {"user": "bob", "otp": "XXX"}
    else:
        assert sorted(parse_qsl(body.decode())) == [("otp", "XXX"), ("user", "bob")]


async def test_before_record_request_edits_or_drops_requests(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    seen: list[tuple[str, str, bytes | None]] = []

    def before_record_request(request: Any) -> Any:
        seen.append((request.method, request.uri, request.body))
        if "/health" in request.uri:
            return None
        request.headers["X-Signature"] = "redacted"
        return request

    async with serving() as upstream:
        health, data = f"{upstream.url}/health", f"{upstream.url}/data"

        async def send(client: Client) -> None:
            await client.text(health)
            await client.request(
                "POST", data, content=b"payload", headers={"x-signature": "s3cret"}
            )

        await record(
            path,
            upstream,
            "httpx-async",
            send,
            before_record_request=before_record_request,
        )
        assert upstream.paths == ["/health", "/data"]
    assert ("POST", data, b"payload") in seen
    assert any(uri == health for _, uri, _ in seen)
    (interaction,) = interactions(path)
    assert interaction["request"]["uri"] == data
    assert header(interaction["request"], "X-Signature") == ["redacted"]
    assert "s3cret" not in path.read_text()


async def test_request_edited_by_the_hook_still_matches_on_replay(
    tmp_path: Path, anyio_backend: str
) -> None:
    """As in vcrpy, the hook sees the requests to replay too, so a request
    rewritten when it was recorded is found again."""
    path = tmp_path / "c.yaml"

    def strip_version(request: Any) -> Any:
        request.uri = re.sub(r"/v\d+/", "/", request.uri)
        return request

    async with serving() as upstream:
        await record(
            path,
            upstream,
            "httpx-async",
            lambda c: c.text(f"{upstream.url}/v1/items"),
            before_record_request=strip_version,
        )
        assert upstream.paths == ["/v1/items"]
    assert uris(path) == [f"{upstream.url}/items"]
    async with (
        aiointercept(
            mock_external_urls=True,
            cassette=path,
            record_mode="none",
            before_record_request=strip_version,
        ),
        open_client("httpx-async") as client,
    ):
        reply = await client.get(f"{upstream.url}/v2/items")
    assert reply.text == "upstream GET /v1/items"


async def test_before_record_response_edits_or_drops_responses(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    seen: list[Any] = []

    def before_record_response(response: dict[str, Any]) -> dict[str, Any] | None:
        seen.append(response["body"]["string"])
        if response["status"]["code"] == 418:
            return None
        response["body"]["string"] = response["body"]["string"].replace(
            b"token-123", b"XXXXXXXXX"
        )
        response["headers"]["X-Redacted"] = ["yes"]
        return response

    async with serving() as upstream:
        secret, teapot = f"{upstream.url}/secret", f"{upstream.url}/teapot"

        async def send(client: Client) -> Reply:
            await client.get(teapot)
            return await client.get(secret)

        recorded = await record(
            path,
            upstream,
            "httpx-async",
            send,
            before_record_response=before_record_response,
        )
    assert recorded.body == SECRET_BODY  # the client got the real response
    assert seen
    assert all(isinstance(body, bytes) for body in seen)
    assert uris(path) == [secret]
    assert "token-123" not in path.read_text()

    async with (
        aiointercept(mock_external_urls=True, cassette=path, record_mode="none"),
        open_client("httpx-async") as client,
    ):
        replayed = await client.get(secret)
    assert replayed.body == b"your XXXXXXXXX is here"
    assert replayed.headers["X-Redacted"] == "yes"


@every_client
async def test_response_body_shortened_by_a_hook_replays_whole(
    kind: str, tmp_path: Path
) -> None:
    """The recorded Content-Length no longer fits the body: the body wins."""
    path = tmp_path / "c.yaml"

    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        response["body"]["string"] = b"[removed]"
        return response

    async with serving() as upstream:
        url = f"{upstream.url}/secret"
        await record(
            path,
            upstream,
            kind,
            lambda c: c.get(url),
            before_record_response=before_record_response,
        )
    replayed = await replay(path, kind, lambda c: c.get(url))
    assert replayed.body == b"[removed]"


# == 7. files: parse errors, atomic writes ==========================================


BROKEN_CASSETTE = """\
interactions:
- request:
    method: GET
    uri: http://localhost/x: y
    body: null
    headers: {}
version: 1
"""


async def test_unparsable_cassette_names_the_file_and_line(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN_CASSETTE)
    with pytest.raises(yaml.MarkedYAMLError) as parsed:
        yaml.safe_load(BROKEN_CASSETTE)
    assert parsed.value.problem_mark is not None
    line = parsed.value.problem_mark.line + 1
    assert line == 4
    entered = False
    with pytest.raises(CassetteError) as info:
        async with aiointercept(mock_external_urls=True, cassette=path):
            entered = True
    assert not entered
    message = str(info.value)
    assert str(path) in message
    # "file:line", or the file and "line N"
    assert f"{path}:{line}" in message or f"line {line}" in message, message
    assert path.read_text() == BROKEN_CASSETTE


@pytest.mark.parametrize(
    "content",
    [
        "- just\n- a list\n",
        "interactions: 3\nversion: 1\n",
        "interactions:\n- {request: {method: GET}}\nversion: 1\n",
    ],
    ids=["list", "interactions-not-a-list", "interaction-incomplete"],
)
async def test_yaml_that_is_not_a_cassette_names_the_file(
    tmp_path: Path, anyio_backend: str, content: str
) -> None:
    path = tmp_path / "not-a-cassette.yaml"
    path.write_text(content)
    with pytest.raises(CassetteError, match=str(path.name)):
        async with aiointercept(mock_external_urls=True, cassette=path):
            pass


async def test_failed_write_leaves_the_previous_cassette_intact(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"

    def failing(response: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("the hook failed on purpose")

    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(path, upstream, "httpx-async", lambda c: c.text(url))
        before = path.read_bytes()

        async def block() -> None:
            async with (
                aiointercept(
                    mock_external_urls=True,
                    cassette=path,
                    record_mode="all",
                    before_record_response=failing,
                ),
                open_client("httpx-async") as client,
            ):
                # the hook may fail while the request is answered
                with contextlib.suppress(httpx.TransportError):
                    await client.get(url)

        with pytest.raises((RuntimeError, AiointerceptError)) as info:
            await block()
    assert "the hook failed on purpose" in messages(info.value)
    assert path.read_bytes() == before
    assert files_in(tmp_path) == [path.name], "no temporary file left behind"


async def test_cassette_gets_the_permissions_of_any_new_file(
    tmp_path: Path, anyio_backend: str
) -> None:
    """Written through a temporary file, but not with its private mode: the
    umask decides, as for the files vcrpy writes."""
    path = tmp_path / "c.yaml"
    reference = tmp_path / "reference"
    reference.write_text("")
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        await record(path, upstream, "httpx-async", lambda c: c.text(url))
    assert oct(permissions(path)) == oct(permissions(reference))


async def test_cassette_is_written_when_the_block_raises(
    tmp_path: Path, anyio_backend: str
) -> None:
    """As vcrpy does: a test that fails after its requests keeps what it
    recorded, and the next run replays it."""
    path = tmp_path / "c.yaml"

    async with serving() as upstream:
        url = f"{upstream.url}/hello"

        async def block() -> None:
            async with (
                aiointercept(mock_external_urls=True, cassette=path),
                open_client("httpx-async") as client,
            ):
                await client.text(url)
                raise LookupError("the test failed")

        with pytest.raises(LookupError, match="the test failed"):
            await block()
    assert uris(path) == [url]


# == 8. concurrency =================================================================


async def test_concurrent_requests_are_all_recorded(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    count = 50
    async with serving() as upstream:
        urls = [f"{upstream.url}/echo?n={n}" for n in range(count)]
        replies: dict[str, Reply] = {}

        async def fetch(client: Client, url: str) -> None:
            replies[url] = await client.get(url)

        async def all_at_once(client: Client) -> None:
            async with anyio.create_task_group() as group:
                for url in urls:
                    group.start_soon(fetch, client, url)

        await record(path, upstream, "httpx-async", all_at_once)
        assert len(upstream.received) == count
    assert sorted(uris(path)) == sorted(urls)
    for interaction in interactions(path):
        path_and_query = interaction["request"]["uri"].removeprefix(upstream.url)
        assert json.loads(response_body(interaction))["path"] == path_and_query

    replies.clear()
    async with (
        aiointercept(mock_external_urls=True, cassette=path, record_mode="none") as m,
        open_client("httpx-async") as client,
    ):
        await all_at_once(client)
    assert len(m.requests) == count
    for url, reply in replies.items():
        assert reply.json()["path"] == url.removeprefix(upstream.url)


async def test_identical_concurrent_requests_replay_each_interaction_once(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    count = 30
    async with serving() as upstream:
        url = f"{upstream.url}/counter"
        bodies: list[str] = []

        async def fetch(client: Client) -> None:
            bodies.append(await client.text(url))

        async def all_at_once(client: Client) -> None:
            async with anyio.create_task_group() as group:
                for _ in range(count):
                    group.start_soon(fetch, client)

        await record(path, upstream, "httpx-async", all_at_once)
    expected = [str(n) for n in range(1, count + 1)]
    assert sorted(bodies, key=int) == expected
    bodies.clear()

    async def replay_all(client: Client) -> None:
        await all_at_once(client)
        assert sorted(bodies, key=int) == expected  # none twice, none lost

    await miss(path, "httpx-async", "GET", url, before=replay_all)


@pytest.mark.parametrize("kind", ["requests", "httpx-sync"])
async def test_requests_from_many_threads_are_all_recorded(
    tmp_path: Path, anyio_backend: str, kind: str
) -> None:
    path = tmp_path / "c.yaml"
    count = 20
    async with serving() as upstream:
        urls = {f"{upstream.url}/echo?n={n}" for n in range(count)}

        async def one(url: str) -> None:
            async with open_client(kind) as client:
                await client.text(url)

        async def threads(_: Client) -> None:
            # one client per thread: requests' sessions are not thread-safe
            async with anyio.create_task_group() as group:
                for url in urls:
                    group.start_soon(one, url)

        await record(path, upstream, kind, threads)
        assert len(upstream.received) == count
    assert sorted(uris(path)) == sorted(urls)
    for interaction in interactions(path):
        path_and_query = interaction["request"]["uri"].removeprefix(upstream.url)
        assert json.loads(response_body(interaction))["path"] == path_and_query


# == 9. the round trip with vcrpy ===================================================


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
