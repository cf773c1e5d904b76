"""Streaming bodies, server-sent events and compressed responses.

A streamed body is checked by what the client reads: the content, the framing
(``Transfer-Encoding: chunked``, no Content-Length, one HTTP chunk per item,
seen with aiohttp's ``iter_chunks()``) and the order in which the chunks arrive
(a producer that waits for the client to have read its first chunk).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import httpx
import pytest
from yarl import URL

from aiointercept import CallbackError, CallbackResult, ServerSentEvents, aiointercept
from tests.support.aiohttp_guard import guarded
from tests.support.backends import asyncio_only

HAS_BROTLI = importlib.util.find_spec("brotli") is not None

#: A bound on every request, so that a broken library fails a test, not hang it.
BOUND = 30.0
#: How long a producer waits for the test before going on anyway (only reached
#: when the chunks are not streamed, which then fails the test).
PATIENCE = 10.0

CHUNKS = [b"alpha-", b"beta-", b"gamma-", b"delta"]
JOINED = b"".join(CHUNKS)


@pytest.fixture(autouse=True)
def guard_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """No aiohttp connection leaves the machine, no name is resolved for real."""
    yield from guarded(monkeypatch)


def session(**kwargs: Any) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=BOUND), **kwargs)


def client(**kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=BOUND, **kwargs)


async def http_chunks(resp: aiohttp.ClientResponse) -> list[bytes]:
    """The body as the HTTP chunks it was framed in."""
    chunks: list[bytes] = []
    current = b""
    async for data, end_of_chunk in resp.content.iter_chunks():
        current += data
        if end_of_chunk and current:
            chunks.append(current)
            current = b""
    if current:
        chunks.append(current)
    return chunks


def sync_chunks() -> Iterator[bytes | str]:
    yield b"alpha-"
    yield "beta-"
    yield b"gamma-"
    yield "delta"


async def async_chunks() -> AsyncIterator[bytes | str]:
    for chunk in sync_chunks():
        await anyio.sleep(0.01)
        yield chunk


def make_body(kind: str) -> Any:
    """The same four chunks as a list, a tuple, a generator or an async one."""
    mixed: list[bytes | str] = list(sync_chunks())
    if kind == "list":
        return mixed
    if kind == "tuple":
        return tuple(mixed)
    if kind == "generator":
        return sync_chunks()
    assert kind == "async-generator"
    return async_chunks()


BODY_KINDS = ["list", "tuple", "generator", "async-generator"]


def assert_chunked(headers: Any) -> None:
    assert headers["Transfer-Encoding"].lower() == "chunked"
    assert "Content-Length" not in headers


# == streamed bodies =================================================================


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize("kind", BODY_KINDS)
async def test_each_item_is_one_http_chunk_aiohttp(kind: str) -> None:
    async with aiointercept() as m, session() as s:
        m.get("/stream", body=make_body(kind), content_type="text/plain")
        async with s.get(f"{m.server_url}/stream") as resp:
            assert resp.status == 200
            assert resp.content_type == "text/plain"
            assert_chunked(resp.headers)
            assert await http_chunks(resp) == CHUNKS


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize("kind", BODY_KINDS)
@pytest.mark.parametrize("reader", ["iter_chunked", "iter_any", "read"])
async def test_aiohttp_reads_the_streamed_content(kind: str, reader: str) -> None:
    async with aiointercept() as m, session() as s:
        m.get("/stream", status=203, body=make_body(kind), headers={"X-Kind": kind})
        async with s.get(f"{m.server_url}/stream") as resp:
            assert resp.status == 203
            assert resp.headers["X-Kind"] == kind
            assert_chunked(resp.headers)
            if reader == "iter_chunked":
                parts = [data async for data in resp.content.iter_chunked(3)]
                assert all(len(part) <= 3 for part in parts)
                received = b"".join(parts)
            elif reader == "iter_any":
                received = b"".join([data async for data in resp.content.iter_any()])
            else:
                received = await resp.read()
    assert received == JOINED


@pytest.mark.anyio
@pytest.mark.parametrize("kind", BODY_KINDS)
async def test_httpx_reads_the_streamed_content(kind: str) -> None:
    async with aiointercept() as m, client() as c:
        m.get("/stream", body=make_body(kind))
        async with c.stream("GET", f"{m.server_url}/stream") as resp:
            assert resp.status_code == 200
            assert_chunked(resp.headers)
            received = b"".join([data async for data in resp.aiter_bytes()])
    assert received == JOINED
    assert len(m.requests[("GET", URL(f"{m.server_url}/stream"))]) == 1


@pytest.mark.anyio
async def test_async_generator_runs_on_the_test_loop() -> None:
    """It may use anyio (on trio too): it runs on the loop of the test."""
    test_thread = threading.get_ident()
    threads: list[int] = []

    async def produce() -> AsyncIterator[bytes]:
        for n in range(3):
            threads.append(threading.get_ident())
            await anyio.sleep(0.01)
            yield f"part {n};".encode()

    async with aiointercept() as m, client() as c:
        m.get("/stream", body=produce())
        response = await c.get(f"{m.server_url}/stream")
    assert response.content == b"part 0;part 1;part 2;"
    assert threads == [test_thread] * 3


class Gate:
    """A two-chunk body whose second chunk is produced only once the client
    has received the first: a server that gathered the body before sending it
    would deliver both together, after the producer gave up waiting."""

    def __init__(self) -> None:
        self.client_has_first = anyio.Event()
        self.log: list[str] = []
        self.received = b""

    async def produce(self) -> AsyncIterator[bytes]:
        yield b"first;"
        with anyio.move_on_after(PATIENCE):
            await self.client_has_first.wait()
        self.log.append("producer resumed")
        yield b"second"

    def receive(self, data: bytes) -> None:
        self.received += data
        if self.received == b"first;":
            self.log.append("client has the first chunk")
            self.client_has_first.set()

    def check(self) -> None:
        assert self.received == b"first;second"
        assert self.log == ["client has the first chunk", "producer resumed"]


@pytest.mark.anyio
async def test_chunks_arrive_as_they_are_produced_httpx() -> None:
    gate = Gate()
    async with aiointercept() as m, client() as c:
        m.get("/stream", body=gate.produce())
        async with c.stream("GET", f"{m.server_url}/stream") as resp:
            async for data in resp.aiter_bytes():
                gate.receive(data)
    gate.check()


@pytest.mark.anyio
@asyncio_only
async def test_chunks_arrive_as_they_are_produced_aiohttp() -> None:
    gate = Gate()
    async with aiointercept() as m, session() as s:
        m.get("/stream", body=gate.produce())
        async with s.get(f"{m.server_url}/stream") as resp:
            async for data in resp.content.iter_any():
                gate.receive(data)
    gate.check()


@pytest.mark.anyio
@pytest.mark.parametrize("kind", BODY_KINDS)
async def test_chunk_delay_spaces_the_chunks(kind: str) -> None:
    async with aiointercept() as m, client() as c:
        m.get("/slow", body=make_body(kind), chunk_delay=0.1)
        started = time.monotonic()
        arrivals: list[float] = []
        received = b""
        async with c.stream("GET", f"{m.server_url}/slow") as resp:
            async for data in resp.aiter_bytes():
                received += data
                arrivals.append(time.monotonic() - started)
    assert received == JOINED
    # four chunks, three pauses of 0.1 s at least (10 ms of slack for the
    # timers' resolution)
    assert arrivals[-1] >= 0.29
    assert arrivals[-1] < 10


@pytest.mark.anyio
@asyncio_only
async def test_chunk_delay_keeps_one_http_chunk_per_item() -> None:
    async with aiointercept() as m, session() as s:
        m.get("/slow", body=list(CHUNKS), chunk_delay=0.05)
        started = time.monotonic()
        async with s.get(f"{m.server_url}/slow") as resp:
            assert await http_chunks(resp) == CHUNKS
        assert time.monotonic() - started >= 0.14


@pytest.mark.anyio
@asyncio_only
async def test_hundred_megabytes_streamed_intact() -> None:
    """100 chunks of 1 MiB, produced on the fly and hashed as they arrive."""
    mib = 1 << 20
    count = 100
    block = os.urandom(mib)

    def produce() -> Iterator[bytes]:
        for n in range(count):
            offset = (n * 7919) % mib
            yield block[offset:] + block[:offset]

    expected = hashlib.sha256()
    for chunk in produce():
        expected.update(chunk)

    received = hashlib.sha256()
    size = 0
    async with aiointercept() as m, session() as s:
        m.get("/big", body=produce(), content_type="application/octet-stream")
        async with s.get(
            f"{m.server_url}/big", timeout=aiohttp.ClientTimeout(total=120)
        ) as resp:
            assert resp.status == 200
            assert_chunked(resp.headers)
            async for data in resp.content.iter_chunked(mib):
                size += len(data)
                received.update(data)
    assert size == count * mib
    assert received.hexdigest() == expected.hexdigest()


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["list", "tuple"])
async def test_a_reusable_iterable_is_served_each_time(kind: str) -> None:
    async with aiointercept() as m, client() as c:
        url = f"{m.server_url}/again"
        m.get(url, body=make_body(kind), repeat=2)
        first = await c.get(url)
        second = await c.get(url)
        with pytest.raises(httpx.TransportError):  # the route is used up
            await c.get(url)
    assert first.content == second.content == JOINED
    assert first.headers["transfer-encoding"] == "chunked"
    assert second.headers["transfer-encoding"] == "chunked"


@pytest.mark.anyio
async def test_a_list_with_repeat_true_is_served_many_times() -> None:
    async with aiointercept() as m, client() as c:
        m.get("/forever", body=[b"a", b"b"], repeat=True)
        responses = [await c.get(f"{m.server_url}/forever") for _ in range(5)]
    assert [r.content for r in responses] == [b"ab"] * 5


def _generator() -> Iterator[bytes]:
    yield b"once"


async def _async_generator() -> AsyncIterator[bytes]:
    yield b"once"


ONE_SHOT = [
    pytest.param(_generator, id="generator"),
    pytest.param(_async_generator, id="async-generator"),
    pytest.param(lambda: iter([b"once"]), id="iterator"),
]


@pytest.mark.parametrize("repeat", [True, 2, 5])
@pytest.mark.parametrize("make", ONE_SHOT)
def test_one_shot_iterator_with_repeat_is_rejected(make: Any, repeat: Any) -> None:
    m = aiointercept()
    body = make()
    try:
        with pytest.raises(ValueError, match="repeat"):
            m.get("http://127.0.0.1:1/x", body=body, repeat=repeat)
    finally:
        if hasattr(body, "close"):
            body.close()  # a generator (an unstarted async one needs nothing)


@pytest.mark.anyio
@pytest.mark.parametrize("repeat", [False, 1])
async def test_one_shot_iterator_without_repeat_is_accepted(repeat: Any) -> None:
    async with aiointercept() as m, client() as c:
        m.get("/g", body=_generator(), repeat=repeat)
        m.get("/a", body=_async_generator(), repeat=repeat)
        g = await c.get(f"{m.server_url}/g")
        a = await c.get(f"{m.server_url}/a")
    assert g.content == a.content == b"once"


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["generator", "async-generator"])
async def test_a_bad_chunk_breaks_the_response_and_the_block_raises(
    kind: str,
) -> None:
    def bad_sync() -> Iterator[Any]:
        yield b"good start;"
        yield 42

    async def bad_async() -> AsyncIterator[Any]:
        yield b"good start;"
        await anyio.lowlevel.checkpoint()
        yield 42

    outcome: list[str] = []
    m = aiointercept()

    async def block() -> None:
        async with m, client() as c:
            m.get("/bad", body=bad_sync() if kind == "generator" else bad_async())
            m.get("/fine", body="still serving")
            try:
                async with c.stream("GET", f"{m.server_url}/bad") as resp:
                    await resp.aread()
                outcome.append("complete response")
            except httpx.TransportError as exc:
                outcome.append(type(exc).__name__)
            # the server goes on answering
            fine = await c.get(f"{m.server_url}/fine")
            assert fine.text == "still serving"

    with pytest.raises(CallbackError) as excinfo:
        await block()
    assert outcome != ["complete response"]
    assert len(outcome) == 1
    assert excinfo.value.request.url == URL(f"{m.server_url}/bad")
    assert excinfo.value.request.method == "GET"


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_callback_result_streams_an_async_generator(kind: str) -> None:
    client_has_first = anyio.Event()
    log: list[str] = []

    async def produce(n: str) -> AsyncIterator[str]:
        yield f"hello {n};"
        with anyio.move_on_after(PATIENCE):
            await client_has_first.wait()
        log.append("producer resumed")
        yield "bye"

    def sync_callback(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(
            status=201, body=produce(url.query["n"]), content_type="text/plain"
        )

    async def async_callback(url: URL, **kwargs: Any) -> CallbackResult:
        await anyio.lowlevel.checkpoint()
        return sync_callback(url)

    received = b""
    async with aiointercept() as m, client() as c:
        m.get("/cb?n=7", callback=sync_callback if kind == "sync" else async_callback)
        async with c.stream("GET", f"{m.server_url}/cb", params={"n": "7"}) as resp:
            assert resp.status_code == 201
            assert resp.headers["content-type"] == "text/plain"
            assert_chunked(resp.headers)
            async for data in resp.aiter_bytes():
                received += data
                if received == b"hello 7;":
                    log.append("client has the first chunk")
                    client_has_first.set()
    assert received == b"hello 7;bye"
    assert log == ["client has the first chunk", "producer resumed"]


@pytest.mark.anyio
@asyncio_only
async def test_callback_result_with_chunks_and_chunk_delay() -> None:
    def callback(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(body=list(CHUNKS), chunk_delay=0.05)

    async with aiointercept() as m, session() as s:
        m.get("/cb", callback=callback, repeat=2)
        for _ in range(2):
            started = time.monotonic()
            async with s.get(f"{m.server_url}/cb") as resp:
                assert_chunked(resp.headers)
                assert await http_chunks(resp) == CHUNKS
            assert time.monotonic() - started >= 0.14


@pytest.mark.parametrize("chunk_delay", [-1, float("nan"), float("inf"), "0.1", True])
def test_bad_chunk_delay_is_rejected(chunk_delay: Any) -> None:
    m = aiointercept()
    with pytest.raises((TypeError, ValueError), match="chunk_delay"):
        m.get("http://127.0.0.1:1/x", body=[b"a"], chunk_delay=chunk_delay)
    with pytest.raises((TypeError, ValueError), match="chunk_delay"):
        CallbackResult(body=[b"a"], chunk_delay=chunk_delay)


# == server-sent events ==============================================================


def parse_sse(lines: Iterable[str]) -> list[dict[str, str]]:
    """A minimal line-by-line SSE parser (the fields of each event)."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:
        if line == "":
            if current:
                events.append(current)
            current = {}
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data" and "data" in current:
            current["data"] += "\n" + value
        else:
            current[name] = value
    assert current == {}, f"unterminated event: {current!r}"
    return events


EVENTS: list[Any] = [
    "plain text",
    {"data": "with a name", "event": "greeting"},
    {"event": "update", "data": {"id": 1, "tags": ["a", "b"]}, "id": "42"},
    {"data": "two\nlines", "retry": 2500},
    {"data": [1, 2.5, None, True]},
]

PARSED = [
    {"data": "plain text"},
    {"data": "with a name", "event": "greeting"},
    {"event": "update", "data": {"id": 1, "tags": ["a", "b"]}, "id": "42"},
    {"data": "two\nlines", "retry": "2500"},
    {"data": [1, 2.5, None, True]},
]


def decode_json_data(events: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The events with the JSON data of events 3 and 5 parsed."""
    decoded: list[dict[str, Any]] = [dict(event) for event in events]
    for index in (2, 4):
        decoded[index]["data"] = json.loads(events[index]["data"])
    return decoded


@pytest.mark.anyio
@asyncio_only
async def test_sse_exact_wire_format_of_text_events() -> None:
    events = ServerSentEvents(["hello", "second event", "line one\nline two"])
    async with aiointercept() as m, session() as s:
        m.get("/events", body=events)
        async with s.get(f"{m.server_url}/events") as resp:
            assert resp.status == 200
            assert resp.content_type == "text/event-stream"
            assert resp.headers["Cache-Control"] == "no-cache"
            assert_chunked(resp.headers)
            chunks = await http_chunks(resp)
    assert chunks == [
        b"data: hello\n\n",
        b"data: second event\n\n",
        b"data: line one\ndata: line two\n\n",
    ]


#: For each of EVENTS: its fields other than data, and its data lines (a list
#: of str) or the value its single data line holds as JSON.
EXPECTED_WIRE: list[tuple[dict[str, str], Any]] = [
    ({}, ["plain text"]),
    ({"event": "greeting"}, ["with a name"]),
    ({"event": "update", "id": "42"}, {"id": 1, "tags": ["a", "b"]}),
    ({"retry": "2500"}, ["two", "lines"]),
    ({}, [1, 2.5, None, True]),
]


@pytest.mark.anyio
@asyncio_only
async def test_sse_wire_format_of_events_with_fields() -> None:
    async with aiointercept() as m, session() as s:
        m.get("/events", body=ServerSentEvents(EVENTS))
        async with s.get(f"{m.server_url}/events") as resp:
            chunks = await http_chunks(resp)
    assert len(chunks) == len(EVENTS)
    for index, (chunk, (fields, data)) in enumerate(
        zip(chunks, EXPECTED_WIRE, strict=True)
    ):
        text = chunk.decode("utf-8")
        assert text.endswith("\n\n"), text
        lines = text[:-2].split("\n")
        assert "" not in lines, text
        # the other fields in any order, one line each
        others = sorted(line for line in lines if not line.startswith("data:"))
        assert others == sorted(f"{name}: {value}" for name, value in fields.items())
        data_lines = [
            line.removeprefix("data: ") for line in lines if line.startswith("data:")
        ]
        if index in (2, 4):  # JSON data: one line
            (line,) = data_lines
            assert json.loads(line) == data
        else:
            assert data_lines == data


@pytest.mark.anyio
@asyncio_only
async def test_sse_parsed_line_by_line_by_aiohttp() -> None:
    lines: list[str] = []
    async with aiointercept() as m, session() as s:
        m.get("/events", body=ServerSentEvents(EVENTS))
        async with s.get(
            f"{m.server_url}/events", headers={"Accept": "text/event-stream"}
        ) as resp:
            assert resp.content_type == "text/event-stream"
            async for raw in resp.content:
                assert raw.endswith(b"\n")
                lines.append(raw.decode("utf-8").rstrip("\n"))
    assert decode_json_data(parse_sse(lines)) == PARSED


@pytest.mark.anyio
async def test_sse_parsed_line_by_line_by_httpx() -> None:
    async with aiointercept() as m, client() as c:
        m.get("/events", body=ServerSentEvents(EVENTS))
        async with c.stream("GET", f"{m.server_url}/events") as resp:
            assert resp.headers["content-type"].split(";")[0] == "text/event-stream"
            assert resp.headers["cache-control"] == "no-cache"
            lines = [line async for line in resp.aiter_lines()]
    assert decode_json_data(parse_sse(lines)) == PARSED


@pytest.mark.anyio
async def test_sse_events_arrive_one_by_one_with_chunk_delay() -> None:
    texts = [f"event {n}" for n in range(4)]
    events: list[dict[str, str]] = []
    arrivals: list[float] = []
    async with aiointercept() as m, client() as c:
        m.get("/events", body=ServerSentEvents(texts), chunk_delay=0.1)
        started = time.monotonic()
        async with c.stream("GET", f"{m.server_url}/events") as resp:
            pending: list[str] = []
            async for line in resp.aiter_lines():
                pending.append(line)
                if line == "":
                    events.extend(parse_sse(pending))
                    pending = []
                    arrivals.append(time.monotonic() - started)
    assert [event["data"] for event in events] == texts
    assert arrivals == sorted(arrivals)
    assert arrivals[-1] >= 0.29  # three pauses of 0.1 s, 10 ms of slack
    assert arrivals[-1] < 10


@pytest.mark.anyio
@asyncio_only
async def test_sse_each_event_is_one_chunk_with_chunk_delay() -> None:
    async with aiointercept() as m, session() as s:
        m.get(
            "/events",
            body=ServerSentEvents(["a", {"event": "b", "data": "c"}, "d"]),
            chunk_delay=0.05,
        )
        async with s.get(f"{m.server_url}/events") as resp:
            chunks = await http_chunks(resp)
    assert chunks[0] == b"data: a\n\n"
    assert sorted(chunks[1].decode()[:-2].split("\n")) == ["data: c", "event: b"]
    assert chunks[2] == b"data: d\n\n"
    assert len(chunks) == 3


@pytest.mark.anyio
async def test_sse_headers_given_are_kept() -> None:
    async with aiointercept() as m, client() as c:
        m.get(
            "/events",
            body=ServerSentEvents(["x"]),
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            content_type="text/event-stream; charset=utf-8",
        )
        response = await c.get(f"{m.server_url}/events")
    assert response.headers.get_list("cache-control") == ["no-store"]
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers.get_list("content-type") == [
        "text/event-stream; charset=utf-8"
    ]
    assert response.content == b"data: x\n\n"


@pytest.mark.anyio
async def test_sse_from_a_callback() -> None:
    def callback(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(body=ServerSentEvents([{"data": {"path": url.path}}]))

    async with aiointercept() as m, client() as c:
        m.get("/events", callback=callback)
        response = await c.get(f"{m.server_url}/events")
    assert response.headers["content-type"].split(";")[0] == "text/event-stream"
    (event,) = parse_sse(response.text.split("\n")[:-1])
    assert json.loads(event["data"]) == {"path": "/events"}


class NotJson:
    def __repr__(self) -> str:
        return "<NotJson>"


@pytest.mark.parametrize(
    ("events", "named"),
    [
        pytest.param([{"data": "x", "colour": "red"}], "colour", id="unknown-key"),
        pytest.param(["ok", {"data": NotJson()}], "NotJson", id="not-json"),
        pytest.param([42], "42", id="not-an-event"),
    ],
)
def test_invalid_events_are_rejected_at_construction(
    events: list[Any], named: str
) -> None:
    with pytest.raises((TypeError, ValueError), match=named):
        ServerSentEvents(events)


# == compressed responses ============================================================

TEXT = ("A compressible sentence, said again and again. " * 2000).encode()


def decompress(raw: bytes, coding: str | None) -> bytes:
    if coding is None:
        return raw
    if coding == "gzip":
        return gzip.decompress(raw)
    if coding == "deflate":
        try:
            return zlib.decompress(raw)
        except zlib.error:
            return zlib.decompress(raw, -zlib.MAX_WBITS)  # raw deflate
    assert coding == "br"
    import brotli

    result: bytes = brotli.decompress(raw)
    return result


@pytest.mark.anyio
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_compressed_body_decoded_by_httpx(coding: str) -> None:
    async with aiointercept() as m, client() as c:
        m.get("/z", body=TEXT, compress=coding, content_type="text/plain", repeat=2)
        decoded = await c.get(f"{m.server_url}/z")
        async with c.stream("GET", f"{m.server_url}/z") as resp:
            raw = b"".join([data async for data in resp.aiter_raw()])
    assert decoded.headers["content-encoding"] == coding
    assert decoded.headers["content-type"] == "text/plain"
    assert decoded.content == TEXT
    assert resp.headers["content-encoding"] == coding
    assert len(raw) < len(TEXT) // 10
    assert decompress(raw, coding) == TEXT


@pytest.mark.anyio
@asyncio_only
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_compressed_body_decoded_by_aiohttp(coding: str) -> None:
    async with aiointercept() as m:
        m.get("/z", body=TEXT, compress=coding, repeat=True)
        async with session() as s, s.get(f"{m.server_url}/z") as resp:
            assert resp.headers["Content-Encoding"] == coding
            assert await resp.read() == TEXT
        async with (
            session(auto_decompress=False) as s,
            s.get(f"{m.server_url}/z") as resp,
        ):
            raw = await resp.read()
    assert len(raw) < len(TEXT) // 10
    assert decompress(raw, coding) == TEXT


@pytest.mark.anyio
@asyncio_only
async def test_compressed_json_payload_with_aiohttp() -> None:
    data = {"items": [{"n": n, "name": "item"} for n in range(500)]}
    async with aiointercept() as m, session() as s:
        m.get("/json", payload=data, compress="gzip")
        async with s.get(f"{m.server_url}/json") as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
            assert resp.content_type == "application/json"
            assert await resp.json() == data


@pytest.mark.anyio
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_explicit_coding_is_used_whatever_the_client_accepts(
    coding: str,
) -> None:
    async with aiointercept() as m, client() as c:
        m.get("/z", body=TEXT, compress=coding)
        async with c.stream(
            "GET", f"{m.server_url}/z", headers={"Accept-Encoding": "identity"}
        ) as resp:
            raw = b"".join([data async for data in resp.aiter_raw()])
    assert resp.headers["content-encoding"] == coding
    assert decompress(raw, coding) == TEXT


NEGOTIATED = [
    ("identity", None),
    ("gzip", "gzip"),
    ("deflate", "deflate"),
    ("gzip, deflate", "gzip"),
    ("deflate, gzip", "gzip"),
    ("br", "br" if HAS_BROTLI else None),
    ("br, gzip", "br" if HAS_BROTLI else "gzip"),
    ("deflate, br", "br" if HAS_BROTLI else "deflate"),
    ("compress", None),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("accept", "expected"), NEGOTIATED)
async def test_compress_true_negotiates_from_accept_encoding(
    accept: str, expected: str | None
) -> None:
    async with aiointercept() as m, client() as c:
        m.get("/z", body=TEXT, compress=True, repeat=True)
        async with c.stream(
            "GET", f"{m.server_url}/z", headers={"Accept-Encoding": accept}
        ) as resp:
            raw = b"".join([data async for data in resp.aiter_raw()])
    assert resp.headers.get("content-encoding") == expected
    if expected is None:
        assert raw == TEXT
    else:
        assert len(raw) < len(TEXT) // 10
        assert decompress(raw, expected) == TEXT
    (recorded,) = m.requests[("GET", URL(f"{m.server_url}/z"))]
    assert recorded.headers["Accept-Encoding"] == accept


@pytest.mark.anyio
@asyncio_only
async def test_compress_true_with_aiohttp_defaults() -> None:
    """aiohttp asks for gzip and deflate (and br with brotli) by default."""
    async with aiointercept() as m, session() as s:
        m.get("/z", body=TEXT, compress=True)
        async with s.get(f"{m.server_url}/z") as resp:
            assert resp.headers["Content-Encoding"] == ("br" if HAS_BROTLI else "gzip")
            assert await resp.read() == TEXT


@pytest.mark.anyio
@pytest.mark.parametrize("compress", [False, None])
async def test_no_compression_unless_asked(compress: bool | None) -> None:
    async with aiointercept() as m, client() as c:
        m.get("/z", body=TEXT, compress=compress)
        async with c.stream(
            "GET", f"{m.server_url}/z", headers={"Accept-Encoding": "gzip, deflate"}
        ) as resp:
            raw = b"".join([data async for data in resp.aiter_raw()])
    assert "content-encoding" not in resp.headers
    assert raw == TEXT


@pytest.mark.anyio
@asyncio_only
@pytest.mark.skipif(not HAS_BROTLI, reason="brotli is not installed")
async def test_brotli_decoded_by_aiohttp() -> None:
    async with aiointercept() as m, session() as s:
        m.get("/br", body=TEXT, compress="br")
        async with s.get(f"{m.server_url}/br") as resp:
            assert resp.headers["Content-Encoding"] == "br"
            assert await resp.read() == TEXT


def test_brotli_without_the_package_is_rejected_at_registration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("brotli", "brotlicffi"):  # as if neither were installed
        monkeypatch.setitem(sys.modules, name, None)
    m = aiointercept()
    with pytest.raises(ValueError, match="br"):
        m.get("http://127.0.0.1:1/x", body=TEXT, compress="br")
    with pytest.raises(ValueError, match="br"):
        CallbackResult(body=TEXT, compress="br")


@pytest.mark.anyio
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
@pytest.mark.parametrize("kind", BODY_KINDS)
async def test_compressed_streamed_body(coding: str, kind: str) -> None:
    async with aiointercept() as m, client() as c:
        m.get("/z", body=make_body(kind), compress=coding)
        async with c.stream("GET", f"{m.server_url}/z") as resp:
            assert resp.headers["content-encoding"] == coding
            assert_chunked(resp.headers)
            received = b"".join([data async for data in resp.aiter_bytes()])
    assert received == JOINED


@pytest.mark.anyio
@asyncio_only
async def test_compressed_streamed_body_aiohttp() -> None:
    async with aiointercept() as m, session() as s:
        m.get("/z", body=[TEXT[:50_000], TEXT[50_000:]], compress="gzip")
        async with s.get(f"{m.server_url}/z") as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
            assert_chunked(resp.headers)
            assert await resp.read() == TEXT


@pytest.mark.anyio
async def test_streamed_chunks_compressed_by_the_user_keep_their_coding() -> None:
    """A body the user compressed, streamed as it is under the
    ``Content-Encoding`` it gives: the header is sent, so the client decodes."""
    gzipped = gzip.compress(TEXT)
    async with aiointercept() as m, client() as c:
        m.get(
            "/z",
            body=[gzipped[:100], gzipped[100:]],
            headers={"Content-Encoding": "gzip"},
        )
        async with c.stream("GET", f"{m.server_url}/z") as resp:
            assert resp.headers["content-encoding"] == "gzip"
            assert_chunked(resp.headers)
            received = b"".join([data async for data in resp.aiter_bytes()])
    assert received == TEXT


@pytest.mark.anyio
async def test_compressed_chunks_arrive_as_they_are_produced() -> None:
    """Compressed chunk by chunk: the client decodes the first chunk before the
    producer makes the second."""
    gate = Gate()
    async with aiointercept() as m, client() as c:
        m.get("/z", body=gate.produce(), compress="gzip")
        async with c.stream("GET", f"{m.server_url}/z") as resp:
            assert resp.headers["content-encoding"] == "gzip"
            async for data in resp.aiter_bytes():
                gate.receive(data)
    gate.check()


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_compress_from_a_callback(kind: str) -> None:
    def sync_callback(url: URL, **kwargs: Any) -> CallbackResult:
        return CallbackResult(body=TEXT, compress="gzip", content_type="text/plain")

    async def async_callback(url: URL, **kwargs: Any) -> CallbackResult:
        return sync_callback(url)

    async with aiointercept() as m, client() as c:
        m.get("/z", callback=sync_callback if kind == "sync" else async_callback)
        async with c.stream("GET", f"{m.server_url}/z") as resp:
            raw = b"".join([data async for data in resp.aiter_raw()])
    assert resp.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == TEXT


@pytest.mark.parametrize(
    "compress", ["zstd", "lzma", "compress", "gzip, deflate", 1, 0.5, b"gzip"]
)
def test_bad_compress_values_are_rejected(compress: Any) -> None:
    m = aiointercept()
    with pytest.raises((TypeError, ValueError), match="compress"):
        m.get("http://127.0.0.1:1/x", body=TEXT, compress=compress)
    with pytest.raises((TypeError, ValueError), match="compress"):
        CallbackResult(body=TEXT, compress=compress)


@pytest.mark.anyio
@asyncio_only
async def test_hundred_megabytes_are_never_held_in_memory() -> None:
    """Streaming 100 MiB keeps only a few chunks in flight at any time: the
    peak of Python allocations (both threads) stays far below the body."""
    mib = 1 << 20
    count = 100
    block = os.urandom(mib)

    def produce() -> Iterator[bytes]:
        for n in range(count):
            yield block[n:] + block[:n]  # a new 1 MiB object each time

    async with aiointercept() as m, session() as s:
        m.get("/big", body=produce(), content_type="application/octet-stream")
        tracemalloc.start()
        try:
            size = 0
            async with s.get(
                f"{m.server_url}/big", timeout=aiohttp.ClientTimeout(total=120)
            ) as resp:
                async for data in resp.content.iter_chunked(mib):
                    size += len(data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert size == count * mib
    assert peak < 20 * mib, f"peak {peak / mib:.1f} MiB for a 100 MiB body"


NEEDS_BROTLI = pytest.mark.skipif(not HAS_BROTLI, reason="brotli is not installed")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip;q=0, deflate", "deflate"),
        ("deflate;q=0.5, gzip;q=0.8", "gzip"),
        ("gzip;q=oops", None),  # an unreadable quality accepts nothing
        pytest.param("*;q=0.3", "br", marks=NEEDS_BROTLI),
        pytest.param("br, gzip", "br", marks=NEEDS_BROTLI),
        ("compress, identity", None),
    ],
)
async def test_negotiated_compression_follows_accept_encoding(
    accept: str, expected: str | None
) -> None:
    async with aiointercept() as m, client() as c:
        m.get("/n", body=TEXT, compress=True, content_type="text/plain")
        resp = await c.get(f"{m.server_url}/n", headers={"Accept-Encoding": accept})
    assert resp.headers.get("content-encoding") == expected
    assert resp.content == TEXT
