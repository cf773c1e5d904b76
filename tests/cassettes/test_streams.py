"""Streamed bodies: chunked responses and event streams recorded with their
chunks (and, with ``stream_timing=True``, the time between them), and
replayed chunk by chunk.

Each test records from an upstream (:mod:`tests.support.upstream`, addressed
by name), then replays with the upstream stopped, reading the body as it
comes, chunk by chunk, with the client's own streaming API. Nothing leaves
the machine: ``conftest.py`` puts every test under the loopback net.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import anyio.to_thread
import httpx
import pytest
import requests
import vcr
import yaml

from aiointercept import CassetteError, aiointercept
from tests.support.cassettes import interactions, response_body
from tests.support.clients import BOUND, each_client
from tests.support.upstream import CHUNKS, UpstreamHandler, serving

pytestmark = pytest.mark.anyio

#: The events of ``/events``, one chunk each, :data:`PAUSE` seconds apart.
EVENTS = [b"data: one\n\n", b"event: tick\ndata: two\n\n", b"data: three\n\n"]
PAUSE = 0.3


class EventsHandler(UpstreamHandler):
    """``/events``: :data:`EVENTS` as an event stream, chunked, paused; the
    rest as the upstream answers it."""

    def respond(self, body: bytes) -> None:
        if self.route != "/events":
            super().respond(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, event in enumerate(EVENTS):
            if index:
                time.sleep(PAUSE)
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


async def read_chunks(kind: str, url: str) -> list[tuple[bytes, float]]:
    """The body of ``url`` as a client of ``kind`` reads it as it comes: each
    HTTP chunk, and when it came (seconds since the request was sent)."""
    start = time.monotonic()
    received: list[tuple[bytes, float]] = []

    def note(chunk: bytes) -> None:
        if chunk:
            received.append((chunk, time.monotonic() - start))

    if kind == "httpx-async":
        async with (
            httpx.AsyncClient(timeout=BOUND) as client,
            client.stream("GET", url) as response,
        ):
            async for chunk in response.aiter_raw():
                note(chunk)
    elif kind == "aiohttp":
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=BOUND)
            ) as session,
            session.get(url) as reply,
        ):
            current = b""
            async for data, end_of_chunk in reply.content.iter_chunks():
                current += data
                if end_of_chunk:
                    note(current)
                    current = b""
    else:
        assert kind == "requests"

        def read() -> None:
            with requests.get(url, stream=True, timeout=BOUND) as streamed:
                for chunk in streamed.raw.read_chunked(decode_content=False):
                    note(chunk)

        await anyio.to_thread.run_sync(read)
    return received


async def replay_chunks(
    path: Path, kind: str, url: str, **options: Any
) -> list[tuple[bytes, float]]:
    async with aiointercept(
        mock_external_urls=True, cassette=path, record_mode="none", **options
    ):
        return await read_chunks(kind, url)


@each_client("aiohttp", "httpx-async", "requests")
async def test_a_chunked_body_is_replayed_chunk_by_chunk(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/chunked"
        async with aiointercept(mock_external_urls=True, cassette=path):
            live = await read_chunks(kind, url)
    assert [chunk for chunk, _ in live] == CHUNKS
    [interaction] = interactions(path)
    body = interaction["response"]["body"]
    # vcrpy's string, whole, and the sizes beside it; no times unless asked
    assert body == {"string": "alpha;beta;gamma", "chunks": [6, 5, 5]}

    replayed = await replay_chunks(path, kind, url)
    assert [chunk for chunk, _ in replayed] == CHUNKS


@each_client("aiohttp", "httpx-async", "requests")
async def test_an_event_stream_is_replayed_with_its_pauses(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    async with serving(EventsHandler) as upstream:
        url = f"{upstream.url}/events"
        async with aiointercept(
            mock_external_urls=True, cassette=path, stream_timing=True
        ):
            live = await read_chunks(kind, url)
    assert [chunk for chunk, _ in live] == EVENTS
    [interaction] = interactions(path)
    body = interaction["response"]["body"]
    assert body["chunks"] == [len(event) for event in EVENTS]
    first, *rest = body["pauses"]
    assert first < PAUSE
    assert all(PAUSE * 0.8 <= pause < PAUSE * 3 for pause in rest), body["pauses"]

    # paced as recorded: a client reading the stream gets one event at a time
    paced = await replay_chunks(path, kind, url, stream_timing=True)
    assert [chunk for chunk, _ in paced] == EVENTS
    times = [at for _, at in paced]
    assert times[1] - times[0] >= PAUSE * 0.8
    assert times[2] - times[1] >= PAUSE * 0.8

    # without stream_timing, the same chunks at once
    quick = await replay_chunks(path, kind, url)
    assert [chunk for chunk, _ in quick] == EVENTS
    assert quick[-1][1] < PAUSE


async def test_httpx_reads_the_replayed_events_as_they_come(
    tmp_path: Path, anyio_backend: str
) -> None:
    """An event-stream reader, line by line, sees the first event while the
    next is still to come."""
    path = tmp_path / "c.yaml"
    async with serving(EventsHandler) as upstream:
        url = f"{upstream.url}/events"
        async with aiointercept(
            mock_external_urls=True, cassette=path, stream_timing=True
        ):
            await read_chunks("httpx-async", url)
    async with (
        aiointercept(
            mock_external_urls=True,
            cassette=path,
            record_mode="none",
            stream_timing=True,
        ),
        httpx.AsyncClient(timeout=BOUND) as client,
        client.stream("GET", url) as response,
    ):
        start = time.monotonic()
        data = []
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                data.append((line.removeprefix("data: "), time.monotonic() - start))
    assert [text for text, _ in data] == ["one", "two", "three"]
    assert data[0][1] < PAUSE * 0.8
    assert data[2][1] >= 2 * PAUSE * 0.8


async def test_a_hook_that_changes_the_body_recuts_an_event_stream(
    tmp_path: Path, anyio_backend: str
) -> None:
    """Sizes that no longer fit: an event stream gets one chunk per event,
    any other body none."""

    def shout(response: dict[str, Any]) -> dict[str, Any]:
        response["body"]["string"] = response["body"]["string"].upper() + b"!"
        return response

    path = tmp_path / "c.yaml"
    async with serving(EventsHandler) as upstream:
        events, chunked = f"{upstream.url}/events", f"{upstream.url}/chunked"
        async with aiointercept(
            mock_external_urls=True,
            cassette=path,
            stream_timing=True,
            before_record_response=shout,
        ):
            await read_chunks("httpx-async", events)
            await read_chunks("httpx-async", chunked)
    first, second = (i["response"]["body"] for i in interactions(path))
    shouted = [event.upper() for event in EVENTS]
    assert first["chunks"] == [*(len(event) for event in shouted), 1]
    assert "pauses" not in first
    assert "chunks" not in second
    replayed = await replay_chunks(path, "httpx-async", events)
    assert [chunk for chunk, _ in replayed] == [*shouted, b"!"]


async def test_compressed_chunks_are_replayed_whole(
    tmp_path: Path, anyio_backend: str
) -> None:
    """The sizes of compressed chunks do not cut the decoded body that the
    cassette stores: none are recorded."""
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/chunked-gzip"
        async with aiointercept(mock_external_urls=True, cassette=path):
            await read_chunks("httpx-async", url)
    [interaction] = interactions(path)
    assert "chunks" not in interaction["response"]["body"]


def test_vcrpy_replays_a_cassette_with_chunks(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"

    async def record_it() -> str:
        async with serving() as upstream:
            url = f"{upstream.url}/chunked"
            async with aiointercept(mock_external_urls=True, cassette=path):
                await read_chunks("httpx-async", url)
        return url

    url = anyio.run(record_it)
    assert "chunks" in interactions(path)[0]["response"]["body"]
    with vcr.use_cassette(str(path), record_mode="none"):
        assert requests.get(url, timeout=BOUND).content == b"alpha;beta;gamma"
    assert response_body(interactions(path)[0]) == b"alpha;beta;gamma"


CHUNKED = """\
interactions:
- request: {body: null, headers: {}, method: GET, uri: 'http://localhost:1/s'}
  response:
    body: {string: 'abcdef', %s}
    headers: {Content-Type: [text/plain]}
    status: {code: 200, message: OK}
version: 1
"""


@pytest.mark.parametrize(
    ("chunks", "problem"),
    [
        ("chunks: [2, 2]", "chunks add up to 4 bytes, but the body has 6"),
        ("chunks: [6, 0]", "must be a list of sizes in bytes"),
        ("chunks: '6'", "must be a list of sizes in bytes"),
        ("chunks: [3, 3], pauses: [0.1]", "one for each of the 2 chunks"),
        ("chunks: [3, 3], pauses: [0.1, -1]", "must be a list of seconds"),
        ("pauses: [0.1]", "has pauses but no chunks"),
    ],
)
async def test_chunks_that_do_not_fit_are_an_error_at_the_start(
    tmp_path: Path, anyio_backend: str, chunks: str, problem: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CHUNKED % chunks)
    yaml.safe_load(path.read_text())  # valid YAML: the cassette is what is wrong
    with pytest.raises(CassetteError, match=problem) as info:
        async with aiointercept(
            mock_external_urls=True, cassette=path, record_mode="none"
        ):
            pass
    assert f"{path}, interaction 1" in str(info.value)


def test_stream_timing_is_a_bool(tmp_path: Path) -> None:
    make: Callable[..., aiointercept] = aiointercept
    with pytest.raises(TypeError, match="stream_timing must be a bool, got 'yes'"):
        make(mock_external_urls=True, cassette=tmp_path / "c.yaml", stream_timing="yes")
    with pytest.raises(ValueError, match="stream_timing requires cassette="):
        make(mock_external_urls=True, stream_timing=True)
