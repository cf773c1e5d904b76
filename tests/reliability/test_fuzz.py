"""Fuzzing with hypothesis.

* URL normalization is idempotent, survives a round trip through ``str``, and
  treats equivalent URLs alike (query order, fragment, scheme and host case, a
  default port written out, an empty path).
* Arbitrary valid URLs, registered in one equivalent form and requested in
  another, round-trip through the public API: served by their route, recorded
  once, found in ``m.requests`` under either form.
* Arbitrary bytes, slow senders, oversized headers and half-closed sockets,
  sent over raw loopback sockets, never stop the server from serving the next
  well-formed request.

The normal run keeps the example counts small; ``nox -s soak`` raises them.
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from aiointercept import CallbackResult, aiointercept
from tests.support import internals
from tests.support.aiohttp_guard import RecordingResolver, guarded
from tests.support.backends import asyncio_only
from tests.support.blocks import port_of
from tests.support.reliability import (
    BOUND,
    CANCEL_BOUND,
    httpx_client,
    no_leak_reports,
    parse_response,
    raw_exchange,
    scaled,
    well_formed_get,
)

pytestmark = pytest.mark.anyio

FUZZ = settings(
    max_examples=scaled(25, 500),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    yield from guarded(monkeypatch)


# == URLs ==========================================================================

#: Any text: yarl percent-encodes what needs it.
texts = st.text(st.characters(codec="utf-8"), max_size=8)
labels = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
names = st.builds(
    lambda parts, suffix: ".".join([*parts, suffix]),
    st.lists(labels, min_size=1, max_size=3),
    st.sampled_from(["example.com", "invalid"]),
)
#: Documentation addresses (RFC 5737): never reached, only intercepted.
test_net = st.builds("192.0.2.{}".format, st.integers(1, 254))
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Parts:
    """The components of a URL, before any normalization."""

    scheme: str
    host: str
    port: int | None
    path: str
    query: tuple[tuple[str, str], ...]
    fragment: str

    def build(self) -> URL:
        return URL.build(
            scheme=self.scheme,
            host=self.host,
            port=self.port,
            path=self.path,
            query=list(self.query),
            fragment=self.fragment,
        )


paths = st.one_of(
    st.just(""),
    st.lists(texts, min_size=1, max_size=4).map(lambda s: "/".join(["", *s])),
)
queries = st.lists(st.tuples(texts, texts), max_size=5).map(tuple)
parts = st.builds(
    Parts,
    scheme=st.sampled_from(["http", "https"]),
    host=st.one_of(names, test_net),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=paths,
    query=queries,
    fragment=st.one_of(st.just(""), texts),
)


@st.composite
def equivalent_forms(
    draw: st.DrawFn, parts: st.SearchStrategy[Parts]
) -> tuple[URL, URL]:
    """A URL and another way of writing the same URL."""
    original = draw(parts)
    scheme = draw(st.sampled_from([original.scheme, original.scheme.upper()]))
    host = "".join(
        c.upper() if draw(st.booleans()) else c for c in original.host
    )  # yarl lower-cases
    port = original.port
    if port is None and draw(st.booleans()):
        port = DEFAULT_PORTS[original.scheme]
    path = original.path
    if path in ("", "/"):
        path = draw(st.sampled_from(["", "/"]))
    query = tuple(draw(st.permutations(original.query)))
    fragment = draw(st.one_of(st.just(""), texts))
    written = f"{scheme}://{host}" + (f":{port}" if port is not None else "")
    other = URL(written).with_path(path, encoded=False) if path else URL(written)
    other = other.with_query(list(query)).with_fragment(fragment or None)
    return original.build(), other


@FUZZ
@given(url=parts.map(Parts.build))
def test_normalization_is_idempotent(url: URL) -> None:
    normalized = internals.normalize_url(url)
    assert internals.normalize_url(normalized) == normalized
    # what the test writes (a str) normalizes to the same key
    assert internals.normalize_url(str(normalized)) == normalized
    assert str(internals.normalize_url(str(normalized))) == str(normalized)
    assert normalized.fragment == ""
    assert normalized.path.startswith("/")


@FUZZ
@given(
    scheme=st.sampled_from(["http", "https"]),
    host=st.from_regex(r"[a-z0-9]{1,8}(\.[a-z]{2,5})?", fullmatch=True),
    port=st.none() | st.integers(1, 65535),
    path=st.from_regex(r"(/[A-Za-z0-9._~-]{0,6}){1,4}", fullmatch=True),
)
def test_received_urls_normalize_like_their_text(
    scheme: str, host: str, port: int | None, path: str
) -> None:
    """A URL as the server receives it (already encoded, the common case that
    normalization takes a short cut for) gets the key its text would."""
    received = URL.build(scheme=scheme, host=host, port=port, path=path, encoded=True)
    assert internals.normalize_url(received) == internals.normalize_url(str(received))
    assert str(internals.normalize_url(received)) == str(
        internals.normalize_url(str(received))
    )


@FUZZ
@given(text=st.text(max_size=40))
def test_normalization_of_arbitrary_strings(text: str) -> None:
    try:
        url = URL(f"http://example.com/{text}")
    except ValueError:
        return  # yarl refuses it: the library never sees it
    normalized = internals.normalize_url(url)
    assert internals.normalize_url(str(normalized)) == normalized


@FUZZ
@given(forms=equivalent_forms(parts))
def test_equivalent_urls_normalize_alike(forms: tuple[URL, URL]) -> None:
    first, second = forms
    assert internals.normalize_url(first) == internals.normalize_url(second)
    assert internals.normalize_url(str(first)) == internals.normalize_url(str(second))
    assert hash(internals.normalize_url(first)) == hash(internals.normalize_url(second))


#: Characters whose percent-encoded form is the same URL (RFC 3986 unreserved
#: characters; "." left out for dot segments).
UNRESERVED = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~"
)
#: Reserved characters too: encoded, they make another URL (``/a+b`` is not
#: ``/a%2Bb``), which must still be matched when spelled the same way.
RESERVED = frozenset("!$&'()*+,;=:@")


@st.composite
def respelled(draw: st.DrawFn, url: URL, encodable: frozenset[str]) -> str:
    """``url`` as a string whose path is spelled another way: some of the
    ``encodable`` characters percent-encoded although they need not be, some
    escapes in lower case."""
    path = url.raw_path
    spelled = []
    index = 0
    while index < len(path):
        char = path[index]
        if char == "%":
            escape = path[index : index + 3]
            spelled.append(escape.lower() if draw(st.booleans()) else escape)
            index += 3
            continue
        if char in encodable and draw(st.booleans()):
            escape = f"%{ord(char):02X}"
            char = escape.lower() if draw(st.booleans()) else escape
        spelled.append(char)
        index += 1
    query = f"?{url.raw_query_string}" if url.raw_query_string else ""
    return f"{url.scheme}://{url.raw_authority}{''.join(spelled)}{query}"


@FUZZ
@given(data=st.data(), url=parts.map(Parts.build))
def test_a_url_as_received_normalizes_like_the_url_as_registered(
    data: st.DataObject, url: URL
) -> None:
    """The server builds a request's URL from the raw bytes the client sent; a
    test registers (and looks up) the URL as a string. The same spelling must
    normalize alike either way, and so must an equivalent spelling."""
    url = url.with_fragment(None)
    spelled = data.draw(respelled(url, UNRESERVED | RESERVED))
    assert internals.normalize_url(
        URL(spelled, encoded=True)
    ) == internals.normalize_url(spelled)
    equivalent = data.draw(respelled(url, UNRESERVED))
    assert internals.normalize_url(
        URL(equivalent, encoded=True)
    ) == internals.normalize_url(url)
    assert internals.normalize_url(equivalent) == internals.normalize_url(url)


# -- through the public API -----------------------------------------------------------

local_parts = st.builds(
    Parts,
    scheme=st.just("http"),
    host=st.just("127.0.0.1"),
    port=st.just(1),  # replaced by the server's
    path=paths,
    query=queries,
    fragment=st.one_of(st.just(""), texts),
)


def query_of(url: URL) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for name, value in url.query.items():
        query.setdefault(name, []).append(value)
    return query


@FUZZ
@given(forms=equivalent_forms(local_parts))
async def test_registered_urls_round_trip(forms: tuple[URL, URL]) -> None:
    requested, registered = forms
    async with aiointercept() as m, httpx_client() as client:
        port = port_of(m.server_url)
        requested = requested.with_port(port)
        registered = registered.with_port(port)
        route = m.get(str(registered), body="found")
        response = await client.get(str(requested))
        assert (response.status_code, response.text) == (200, "found")
        assert route.call_count == 1
        for key in (requested, registered, str(requested), str(registered)):
            records = m.requests[("GET", key)]
            assert len(records) == 1
        record = records[0]
        assert internals.normalize_url(record.url) == internals.normalize_url(requested)
        # the journal keeps the query as sent, duplicates and order included
        assert record.kwargs["query"] == query_of(requested)


@FUZZ
@given(data=st.data(), url=local_parts.map(Parts.build))
async def test_a_url_round_trips_however_its_path_is_encoded(
    data: st.DataObject, url: URL
) -> None:
    """Registered and requested as the same string, whatever its
    percent-encoding, a URL is served and found under that string; spelled in
    an equivalent way, it is served by the same route."""
    async with aiointercept() as m, httpx_client() as client:
        url = url.with_port(port_of(m.server_url)).with_fragment(None)
        spelled = data.draw(respelled(url, UNRESERVED | RESERVED))
        equivalent = data.draw(respelled(url, UNRESERVED))
        route = m.get(spelled, body="found")
        response = await client.get(spelled)
        assert (response.status_code, response.text) == (200, "found")
        assert route.call_count == 1
        assert len(m.requests[("GET", spelled)]) == 1
        m.clear()
        route = m.get(equivalent, body="found", repeat=True)
        for sent in (equivalent, str(url)):
            response = await client.get(sent)
            assert (response.status_code, response.text) == (200, "found"), sent
        assert route.call_count == 2
        assert m.requests[("GET", equivalent)] == m.requests[("GET", url)]


@asyncio_only
@FUZZ
@given(forms=equivalent_forms(parts))
async def test_registered_external_urls_round_trip(forms: tuple[URL, URL]) -> None:
    requested, registered = forms
    resolver = RecordingResolver()
    connector = aiohttp.TCPConnector(resolver=resolver)
    async with (
        aiointercept(mock_external_urls=True) as m,
        aiohttp.ClientSession(connector=connector, timeout=BOUND) as session,
    ):
        route = m.get(registered, body="found")
        async with session.get(requested) as response:
            assert (response.status, await response.text()) == (200, "found")
        assert route.call_count == 1
        records = m.requests[("GET", requested)]
        assert records == m.requests[("GET", str(registered))]
        assert len(records) == 1
        assert internals.normalize_url(records[0].url) == internals.normalize_url(
            requested
        )
    assert resolver.calls == []


# == raw sockets ===================================================================

methods = st.sampled_from([b"GET", b"POST", b"PUT", b"BREW", b"G\x00T", b"", b"get"])
targets = st.one_of(
    st.sampled_from([b"/ok", b"*", b"http://127.0.0.1/ok", b"", b"/%zz", b"//"]),
    st.binary(max_size=40),
)
versions = st.sampled_from(
    [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.1x", b"", b"http/1.1"]
)
header_values = st.one_of(
    st.sampled_from(
        [
            b"Content-Length: 5",
            b"Content-Length: -1",
            b"Content-Length: 99999999999999999999",
            b"Content-Length: 1, 2",
            b"Transfer-Encoding: chunked",
            b"Transfer-Encoding: gzip, chunked",
            b"Transfer-Encoding: nonsense",
            b"Expect: 100-continue",
            b"Connection: upgrade",
            b"Upgrade: websocket",
            b"Host: [::1",
            b"Host:",
            b": no name",
            b"No-Colon",
            b" Folded: continuation",
        ]
    ),
    st.binary(max_size=60),
)
separators = st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\r\n"])


@st.composite
def http_like(draw: st.DrawFn) -> bytes:
    """Bytes that look like an HTTP request, with something wrong or odd."""
    eol = draw(separators)
    line = draw(methods) + b" " + draw(targets) + b" " + draw(versions)
    headers = draw(st.lists(header_values, max_size=6))
    body = draw(st.binary(max_size=64))
    return eol.join([line, *headers, b"", body])


garbage = st.one_of(st.binary(min_size=1, max_size=2048), http_like())


def looks_like_http(reply: bytes) -> bool:
    """The server said nothing, or began a proper HTTP/1.x response."""
    return reply == b"" or reply.startswith((b"HTTP/1.1 ", b"HTTP/1.0 "))


async def test_arbitrary_bytes_never_stop_the_server() -> None:
    async with aiointercept() as m:
        m.get("/ok", body="ok", repeat=True)
        port = port_of(m.server_url)

        # runs while the test's loop is blocked: the server has its own thread
        @FUZZ
        @given(data=garbage)
        def send(data: bytes) -> None:
            reply = raw_exchange(port, data)
            assert looks_like_http(reply), reply[:200]
            assert well_formed_get(port) == (200, b"ok")

        with no_leak_reports():
            send()
        assert well_formed_get(port) == (200, b"ok")


def echo_body(url: URL, *, data: bytes, **kwargs: Any) -> CallbackResult:
    return CallbackResult(body=data, content_type="application/octet-stream")


def post_request(port: int, body: bytes) -> bytes:
    return (
        f"POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


async def test_slow_senders_do_not_hold_up_other_clients() -> None:
    """Several clients trickle their requests a few bytes at a time; meanwhile
    every other request is answered promptly, and in the end the slow ones get
    their own answers."""
    senders = 5
    replies: dict[int, bytes] = {}

    async def trickle(port: int, number: int) -> None:
        body = f"slow sender {number} ".encode() * 3
        data = post_request(port, body)
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            for start in range(0, len(data), 7):
                await stream.send(data[start : start + 7])
                await anyio.sleep(0.01)
            received = b""
            with anyio.fail_after(10):
                while True:
                    try:
                        received += await stream.receive()
                    except anyio.EndOfStream:
                        break
        replies[number] = received
        assert parse_response(received) == (200, body)

    with no_leak_reports():
        async with aiointercept() as m, httpx_client() as client:
            m.get("/ok", body="ok", repeat=True)
            m.post("/echo", callback=echo_body, repeat=True)
            async with anyio.create_task_group() as tg:
                for number in range(senders):
                    tg.start_soon(trickle, port_of(m.server_url), number)
                for _ in range(10):
                    with anyio.fail_after(CANCEL_BOUND):
                        response = await client.get(f"{m.server_url}/ok")
                    assert response.text == "ok"
                    await anyio.sleep(0.02)
    assert sorted(replies) == list(range(senders))


@st.composite
def split(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(set(draw(st.lists(st.integers(1, len(data) - 1), max_size=12))))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


async def test_a_request_split_anywhere_is_served() -> None:
    async with aiointercept() as m:
        m.post("/echo", callback=echo_body, repeat=True)
        port = port_of(m.server_url)
        body = b'{"split": "anywhere"}'
        data = post_request(port, body)

        @FUZZ
        @given(chunks=split(data))
        def send(chunks: list[bytes]) -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                for chunk in chunks:
                    sock.sendall(chunk)
                    time.sleep(0.001)
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
            assert parse_response(received) == (200, body)

        with no_leak_reports():
            send()


OVERSIZED = [
    pytest.param(b"X-Big: " + b"a" * 10_000, id="header-10kB"),
    pytest.param(b"X-Big: " + b"a" * 1_000_000, id="header-1MB"),
    pytest.param(b"X-" + b"n" * 100_000 + b": v", id="header-name-100kB"),
    pytest.param(b"Cookie: " + b"c=1; " * 20_000, id="cookie-100kB"),
    pytest.param(b"\r\n".join(b"X-%d: v" % i for i in range(20_000)), id="20k-headers"),
    pytest.param(b"X-Folded: a\r\n" + b" b\r\n" * 5_000, id="folded-5k-lines"),
]


@pytest.mark.parametrize("headers", OVERSIZED)
async def test_oversized_headers_never_stop_the_server(headers: bytes) -> None:
    async with aiointercept() as m:
        m.get("/ok", body="ok", repeat=True)
        port = port_of(m.server_url)
        request = b"GET /ok HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n\r\n"
        with no_leak_reports():
            reply = await anyio.to_thread.run_sync(raw_exchange, port, request)
        # refused with a 4xx (aiohttp answers bad requests in HTTP/1.0), or served
        assert reply == b"" or reply.startswith(
            (b"HTTP/1.0 4", b"HTTP/1.1 4", b"HTTP/1.1 200 ")
        ), reply[:200]
        assert await anyio.to_thread.run_sync(well_formed_get, port) == (200, b"ok")


# -- half-closed and abandoned sockets --------------------------------------------


def half_close_after(port: int, data: bytes) -> bytes:
    return raw_exchange(port, data, half_close=True)


def reset_without_reading(port: int, data: bytes) -> bytes:
    """Send, then close with a reset (SO_LINGER 0) without reading the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
    sock.sendall(data)
    time.sleep(0.05)
    sock.close()
    return b""


def connect_and_close(port: int, data: bytes) -> bytes:
    socket.create_connection(("127.0.0.1", port), timeout=10).close()
    return b""


GET_OK = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
HALF_CLOSED = [
    pytest.param(half_close_after, GET_OK, id="whole-request-then-half-close"),
    pytest.param(half_close_after, GET_OK[:12], id="partial-request-then-half-close"),
    pytest.param(half_close_after, b"", id="half-close-at-once"),
    pytest.param(
        half_close_after,
        b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
        id="partial-body-then-half-close",
    ),
    pytest.param(half_close_after, GET_OK * 3, id="pipelined-then-half-close"),
    pytest.param(connect_and_close, b"", id="connect-and-close"),
    pytest.param(reset_without_reading, GET_OK, id="reset-before-reading"),
    pytest.param(
        reset_without_reading,
        b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n",
        id="reset-during-a-big-response",
    ),
]


@pytest.mark.parametrize(("send", "data"), HALF_CLOSED)
async def test_half_closed_and_abandoned_sockets_never_stop_the_server(
    send: Any, data: bytes
) -> None:
    with no_leak_reports():
        async with aiointercept() as m:
            m.get("/ok", body="ok", repeat=True)
            m.get("/big", body=b"x" * 8_000_000, repeat=True)
            port = port_of(m.server_url)
            reply = await anyio.to_thread.run_sync(send, port, data)
            assert looks_like_http(reply), reply[:200]
            if reply:  # an answer to a whole request is a whole answer
                assert parse_response(reply) == (200, b"ok")
            assert await anyio.to_thread.run_sync(well_formed_get, port) == (200, b"ok")


async def test_a_client_gone_before_its_async_callback_answers() -> None:
    """The client gives up while the callback runs; the callback is cancelled
    (nobody is left to answer), nothing fails and the request stays recorded."""
    answered = anyio.Event()

    async def late(url: URL, **kwargs: Any) -> CallbackResult:
        try:
            while True:
                await anyio.sleep(0.005)
        finally:  # cancelled once the client has gone
            answered.set()

    def give_up(port: int) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.02)
        sock.close()

    with no_leak_reports():
        async with aiointercept() as m:
            m.get("/late", callback=late)
            m.get("/ok", body="ok")
            port = port_of(m.server_url)
            await anyio.to_thread.run_sync(give_up, port)
            with anyio.fail_after(5):
                await answered.wait()
            assert await anyio.to_thread.run_sync(well_formed_get, port) == (200, b"ok")
            assert len(m.requests[("GET", f"{m.server_url}/late")]) == 1
