"""mock_external_urls=True with passthrough=[...] and passthrough_unmatched=True,
in detail with aiohttp (every client's passthrough is in ``test_external.py``),
and the checks of the passthrough options.

The "real" destination is always the loopback upstream of
:mod:`tests.support.upstream`. Loopback is left alone unless a route names its
host and port, so the upstream stands for a remote host in two ways:

* for ``passthrough=[...]``, by the name ``upstream.test``, which the mock
  intercepts like any remote name and the client's own resolver (a resolver
  of the test's) maps to 127.0.0.1 when the name is let through; on the
  upstream's port, which is not 80 or 443, a connection that is not let
  through is stopped by the guard;
* for ``passthrough_unmatched=True``, as ``localhost``, with a route of the
  block naming its host and port (:func:`take`), so that the mock takes the
  connections, and passes on those no route answers; the passthrough proxy
  inside the mock resolves ``localhost`` with aiohttp's default resolver.

:func:`tests.support.aiohttp_guard.guarded` replaces aiohttp's default resolver
for every test, so no real DNS query is ever made and nothing leaves the
machine.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import anyio
import pytest
from yarl import URL

from aiointercept import NetworkBlockedError, aiointercept
from tests.support.aiohttp_guard import (
    BOUND,
    RecordingResolver,
    get_json,
    get_text,
    guarded,
    session_with,
)
from tests.support.backends import asyncio_only
from tests.support.upstream import (
    BIG_CHUNK,
    BIG_CHUNKS,
    GZIP_TEXT,
    TEAPOT_BODY,
    TEAPOT_REASON,
    Upstream,
    closed_port,
    serving,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def guard_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """aiohttp's default resolver, as the passthrough proxy uses it: the guard."""
    yield from guarded(monkeypatch)


#: The name the upstream goes by in the tests of ``passthrough=[...]``.
UPSTREAM_NAME = "upstream.test"


def upstream_resolver() -> RecordingResolver:
    """The client's resolver: ``upstream.test`` is the loopback upstream."""
    return RecordingResolver({UPSTREAM_NAME: "127.0.0.1"})


def named(upstream: Upstream) -> str:
    """The upstream's URL by the name ``upstream.test``."""
    return f"http://{UPSTREAM_NAME}:{upstream.port}"


async def assert_blocked(session: aiohttp.ClientSession, url: str) -> None:
    """A request to ``url`` fails at the guard: its connection is refused
    before a byte is sent, with an error that names the host and port."""
    with anyio.fail_after(1), pytest.raises(aiohttp.ClientConnectorError) as info:
        await session.get(url)
    error = info.value.os_error
    assert isinstance(error, NetworkBlockedError), repr(error)
    assert (error.host, error.port) == (URL(url).host, URL(url).port)


def take(m: aiointercept, origin: str) -> None:
    """Make ``m`` take the connections to ``origin`` (``http://localhost:PORT``),
    which loopback would otherwise reach directly: a route that names its host
    and port, which no request of the tests asks for."""
    m.get(f"{origin}/never-asked", body="never asked")


# == passthrough=[...] =============================================================


@asyncio_only
async def test_passthrough_host_reaches_the_upstream(
    guard_resolver: list[tuple[str, int]],
) -> None:
    resolver = upstream_resolver()
    async with serving() as upstream:
        url = named(upstream)
        async with (
            aiointercept(mock_external_urls=True, passthrough=[url]) as m,
            session_with(resolver) as s,
        ):
            m.get("https://mocked.example.com/data", payload={"mocked": True})
            assert await get_text(s, f"{url}/hello") == "upstream GET /hello"
            assert await get_json(s, "https://mocked.example.com/data") == {
                "mocked": True
            }
            # on 443 the mock takes it: no route, so the connection is closed
            with anyio.fail_after(1), pytest.raises(aiohttp.ClientConnectionError):
                await s.get("https://unlisted.example.com/")
            # on the upstream's port, which the mock does not take: the guard
            await assert_blocked(s, f"http://unlisted.example.com:{upstream.port}/")
        assert upstream.paths == ["/hello"]
    # resolved by the session's own (here: the test's) resolver, as without a
    # mock; the other names are never resolved
    assert resolver.calls == [(UPSTREAM_NAME, upstream.port)]
    assert guard_resolver == []
    # straight to the upstream, not through the mock
    assert ("GET", URL(f"{url}/hello")) not in m.requests
    assert ("GET", URL("https://mocked.example.com/data")) in m.requests
    assert ("GET", URL("https://unlisted.example.com/")) in m.requests


@asyncio_only
@pytest.mark.parametrize(
    "entry",
    [
        "http://upstream.test:{port}",
        "http://UPSTREAM.TEST:{port}/",
        "upstream.test",  # documented: a bare host means any scheme and port
        "upstream.test:{port}",  # no scheme given: any scheme, this port
    ],
)
async def test_passthrough_entry_forms(entry: str) -> None:
    resolver = upstream_resolver()
    async with serving() as upstream:
        listed = entry.format(port=upstream.port)
        async with (
            aiointercept(mock_external_urls=True, passthrough=[listed]) as m,
            session_with(resolver) as s,
        ):
            with anyio.fail_after(5):
                text = await get_text(s, f"{named(upstream)}/hello")
            assert text == "upstream GET /hello"
    assert resolver.calls == [(UPSTREAM_NAME, upstream.port)]
    assert len(m.requests) == 0


@asyncio_only
@pytest.mark.parametrize(
    "entry",
    [
        "https://upstream.test",  # the scheme's default port (443) is implied
        "http://upstream.test",  # the scheme's default port (80) is implied
        "http://upstream.test:{other}",  # another port
        "upstream.test:{other}",  # another port, any scheme
        "http://otherhost.example.com:{port}",  # another host
    ],
)
async def test_passthrough_port_and_host_must_match(entry: str) -> None:
    resolver = upstream_resolver()
    other = closed_port()
    async with serving() as upstream:
        listed = entry.format(port=upstream.port, other=other)
        async with (
            aiointercept(mock_external_urls=True, passthrough=[listed]) as m,
            session_with(resolver) as s,
        ):
            await assert_blocked(s, f"{named(upstream)}/hello")
        assert upstream.received == []
    # the name was not let through: it was never resolved
    assert resolver.calls == []
    assert len(m.requests) == 0


@asyncio_only
async def test_the_scheme_of_an_entry_with_a_port_is_not_checked() -> None:
    """A connection is decided before the client sends a byte, when its
    scheme is not known: an entry that gives a scheme and a port stands for
    that host and port, whatever the scheme of the request (the scheme alone,
    without a port, stands for its default port)."""
    resolver = upstream_resolver()
    async with serving() as upstream:
        listed = f"https://{UPSTREAM_NAME}:{upstream.port}"
        async with (
            aiointercept(mock_external_urls=True, passthrough=[listed]),
            session_with(resolver) as s,
        ):
            text = await get_text(s, f"{named(upstream)}/plain")
        assert text == "upstream GET /plain"
    assert resolver.calls == [(UPSTREAM_NAME, upstream.port)]


@asyncio_only
async def test_a_routed_host_is_mocked_even_if_listed_for_passthrough() -> None:
    resolver = upstream_resolver()
    async with serving() as upstream:
        url = named(upstream)
        async with (
            aiointercept(mock_external_urls=True, passthrough=[url]) as m,
            session_with(resolver) as s,
        ):
            m.get(f"{url}/mocked", body="from the mock")
            assert await get_text(s, f"{url}/mocked") == "from the mock"
            with anyio.fail_after(1), pytest.raises(aiohttp.ClientConnectionError):
                await s.get(f"{url}/other")
        assert upstream.received == []
    assert resolver.calls == []
    assert len(m.requests[("GET", URL(f"{url}/mocked"))]) == 1
    assert len(m.requests[("GET", URL(f"{url}/other"))]) == 1


@asyncio_only
async def test_a_route_of_another_running_block_beats_passthrough() -> None:
    """A host with an exact route in *any* running block is intercepted."""
    resolver = upstream_resolver()
    async with serving() as upstream:
        url = named(upstream)
        async with (
            aiointercept(mock_external_urls=True) as outer,
            aiointercept(mock_external_urls=True, passthrough=[url]),
            session_with(resolver) as s,
        ):
            outer.get(f"{url}/mocked", body="from the outer mock")
            assert await get_text(s, f"{url}/mocked") == "from the outer mock"
        assert upstream.received == []
    assert resolver.calls == []
    assert len(outer.requests[("GET", URL(f"{url}/mocked"))]) == 1


@asyncio_only
async def test_passthrough_of_an_outer_block_holds_in_an_inner_block() -> None:
    resolver = upstream_resolver()
    async with (
        serving() as upstream,
        aiointercept(mock_external_urls=True, passthrough=[named(upstream)]),
        aiointercept(mock_external_urls=True) as inner,
        session_with(resolver) as s,
    ):
        inner.get("https://api.example.com/x", body="inner")
        assert await get_text(s, f"{named(upstream)}/hello") == "upstream GET /hello"
        assert await get_text(s, "https://api.example.com/x") == "inner"
    assert resolver.calls == [(UPSTREAM_NAME, upstream.port)]
    assert upstream.paths == ["/hello"]


@asyncio_only
async def test_passthrough_ends_with_the_block() -> None:
    """After the block the host is reached as usual; inside a later block
    without passthrough it is intercepted, although the session's DNS cache
    knows its address from the first block."""
    resolver = upstream_resolver()
    async with (
        serving() as upstream,
        # no pooled keep-alive connection to the upstream (see "Limits" in the docs)
        session_with(resolver, force_close=True) as s,
    ):
        url = named(upstream)
        async with aiointercept(mock_external_urls=True, passthrough=[url]):
            assert await get_text(s, f"{url}/a") == "upstream GET /a"
        async with aiointercept(mock_external_urls=True):
            await assert_blocked(s, f"{url}/b")
        assert await get_text(s, f"{url}/c") == "upstream GET /c"
        assert upstream.paths == ["/a", "/c"]
    # once: the session's DNS cache answers after the block
    assert resolver.calls == [(UPSTREAM_NAME, upstream.port)]


@asyncio_only
async def test_decorator_keeps_the_passthrough_configuration() -> None:
    resolver = upstream_resolver()
    async with serving() as upstream:

        @aiointercept(mock_external_urls=True, passthrough=[named(upstream)], param="m")
        async def listed(*, m: aiointercept) -> tuple[str, int]:
            async with session_with(resolver) as s:
                text = await get_text(s, f"{named(upstream)}/listed")
            return text, len(m.requests)

        @aiointercept(mock_external_urls=True, passthrough_unmatched=True, param="m")
        async def unmatched(*, m: aiointercept) -> tuple[str, int]:
            take(m, upstream.url)
            async with aiohttp.ClientSession(timeout=BOUND) as s:
                text = await get_text(s, f"{upstream.url}/unmatched")
            return text, len(m.requests)

        assert await listed() == ("upstream GET /listed", 0)
        assert await listed() == ("upstream GET /listed", 0)
        assert await unmatched() == ("upstream GET /unmatched", 1)
        assert upstream.paths == ["/listed", "/listed", "/unmatched"]
    assert resolver.calls == [(UPSTREAM_NAME, upstream.port)] * 2


# == passthrough_unmatched=True ====================================================


@asyncio_only
async def test_passthrough_unmatched_preserves_status_headers_and_body(
    guard_resolver: list[tuple[str, int]],
) -> None:
    resolver = RecordingResolver()  # the client never resolves: the mock does
    async with serving() as upstream:
        async with (
            aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
            session_with(resolver) as s,
        ):
            take(m, upstream.url)
            async with s.get(f"{upstream.url}/teapot") as resp:
                assert resp.status == 418
                assert resp.reason == TEAPOT_REASON
                assert resp.headers["X-Upstream"] == "yes"
                assert resp.headers.getall("X-Multi") == ["1", "2"]
                assert await resp.read() == TEAPOT_BODY
            async with s.post(
                f"{upstream.url}/echo?b=2&a=1",
                data=b"request body",
                headers={"X-Token": "secret"},
            ) as resp:
                assert resp.status == 200
                assert await resp.json() == {
                    "method": "POST",
                    "path": "/echo?b=2&a=1",
                    "body": "request body",
                    "token": "secret",
                    "host": f"localhost:{upstream.port}",
                }
        assert [r.path for r in upstream.received] == ["/teapot", "/echo?b=2&a=1"]
    assert resolver.calls == []
    # the proxy resolved the real destination with aiohttp's default resolver
    assert set(guard_resolver) == {("localhost", upstream.port)}
    (teapot,) = m.requests[("GET", URL(f"{upstream.url}/teapot"))]
    assert teapot.url == URL(f"{upstream.url}/teapot")
    (echo,) = m.requests[("POST", URL(f"{upstream.url}/echo?a=1&b=2"))]
    assert echo.captured_body == b"request body"
    assert echo.headers["X-Token"] == "secret"


@asyncio_only
async def test_passthrough_unmatched_gzip_body_arrives_intact() -> None:
    async with (
        serving() as upstream,
        aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
        aiohttp.ClientSession(auto_decompress=False, timeout=BOUND) as raw,
    ):
        take(m, upstream.url)
        async with s.get(f"{upstream.url}/gzip") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Encoding"] == "gzip"
            assert await resp.read() == GZIP_TEXT.encode()
        async with raw.get(f"{upstream.url}/gzip") as resp:
            compressed = await resp.read()
            assert compressed == upstream.gzipped
            assert resp.headers["Content-Length"] == str(len(compressed))
    assert len(m.requests[("GET", URL(f"{upstream.url}/gzip"))]) == 2


@asyncio_only
async def test_passthrough_unmatched_large_streamed_response() -> None:
    expected = hashlib.sha256(BIG_CHUNK * BIG_CHUNKS).hexdigest()
    async with (
        serving() as upstream,
        aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        take(m, upstream.url)
        with anyio.fail_after(30):
            async with s.get(f"{upstream.url}/big") as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"] == "application/x-big"
                digest = hashlib.sha256()
                size = 0
                async for chunk in resp.content.iter_chunked(1 << 16):
                    digest.update(chunk)
                    size += len(chunk)
    assert size == len(BIG_CHUNK) * BIG_CHUNKS
    assert digest.hexdigest() == expected
    assert len(m.requests[("GET", URL(f"{upstream.url}/big"))]) == 1


@asyncio_only
async def test_passthrough_unmatched_large_request_body() -> None:
    body = BIG_CHUNK * 32  # 2 MiB
    async with (
        serving() as upstream,
        aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        take(m, upstream.url)
        with anyio.fail_after(30):
            async with s.put(f"{upstream.url}/size", data=io.BytesIO(body)) as resp:
                assert await resp.json() == {
                    "size": len(body),
                    "sha256": hashlib.sha256(body).hexdigest(),
                }
    (recorded,) = m.requests[("PUT", URL(f"{upstream.url}/size"))]
    assert recorded.captured_body == body


@asyncio_only
async def test_passthrough_unmatched_streams_rather_than_buffers() -> None:
    """The upstream sends its second chunk only after the client has read the
    first one: a proxy that buffered the whole body would never deliver it."""
    async with (
        serving() as upstream,
        aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        take(m, upstream.url)
        with anyio.fail_after(5):
            async with s.get(f"{upstream.url}/stream") as resp:
                assert await resp.content.readexactly(6) == b"first;"
                upstream.release.set()
                assert await resp.read() == b"second"
    assert len(m.requests[("GET", URL(f"{upstream.url}/stream"))]) == 1


@asyncio_only
async def test_passthrough_unmatched_redirect_is_returned_not_followed() -> None:
    async with (
        serving() as upstream,
        aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        take(m, upstream.url)
        async with s.get(f"{upstream.url}/redirect", allow_redirects=False) as r:
            assert r.status == 302
            assert r.headers["Location"] == "/hello"
        async with s.get(f"{upstream.url}/redirect") as r:
            assert await r.text() == "upstream GET /hello"
            assert [h.status for h in r.history] == [302]
    assert [r.path for r in upstream.received] == [
        "/redirect",
        "/redirect",
        "/hello",
    ]
    assert len(m.requests[("GET", URL(f"{upstream.url}/redirect"))]) == 2
    assert len(m.requests[("GET", URL(f"{upstream.url}/hello"))]) == 1


@asyncio_only
@pytest.mark.parametrize("method", ["HEAD", "GET"])
async def test_passthrough_unmatched_bodiless_responses(method: str) -> None:
    async with serving() as upstream:
        async with (
            aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
            aiohttp.ClientSession(timeout=BOUND) as s,
        ):
            take(m, upstream.url)
            with anyio.fail_after(5):
                async with s.request(method, f"{upstream.url}/empty") as r:
                    assert r.status == 204
                    assert r.headers["X-Upstream"] == "yes"
                    assert await r.read() == b""
                async with s.request(method, f"{upstream.url}/hello") as r:
                    assert r.status == 200
                    expected = f"upstream {method} /hello".encode()
                    assert await r.read() == (b"" if method == "HEAD" else expected)
        assert [r.method for r in upstream.received] == [method, method]
    assert len(m.requests[(method, URL(f"{upstream.url}/empty"))]) == 1
    assert len(m.requests[(method, URL(f"{upstream.url}/hello"))]) == 1


@asyncio_only
async def test_passthrough_unmatched_mocked_routes_still_answered() -> None:
    async with serving() as upstream:
        async with (
            aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
            aiohttp.ClientSession(timeout=BOUND) as s,
        ):
            m.get(f"{upstream.url}/hello", body="mocked hello")
            m.get("https://api.example.com/x", body="mocked api")
            assert await get_text(s, f"{upstream.url}/hello") == "mocked hello"
            assert await get_text(s, "https://api.example.com/x") == "mocked api"
            # its one response is used up: the next request is proxied
            assert await get_text(s, f"{upstream.url}/hello") == "upstream GET /hello"
        assert [r.path for r in upstream.received] == ["/hello"]
    assert len(m.requests[("GET", URL(f"{upstream.url}/hello"))]) == 2


@asyncio_only
async def test_passthrough_unmatched_unreachable_destination_is_closed(
    caplog: pytest.LogCaptureFixture, guard_resolver: list[tuple[str, int]]
) -> None:
    caplog.set_level(logging.WARNING, logger="aiointercept")
    port = closed_port()
    url = f"http://localhost:{port}/gone"
    async with (
        aiointercept(mock_external_urls=True, passthrough_unmatched=True) as m,
        aiohttp.ClientSession(timeout=BOUND) as s,
    ):
        take(m, f"http://localhost:{port}")
        with anyio.fail_after(5), pytest.raises(aiohttp.ClientConnectionError):
            await s.post(url, data=b"x")
        # a name that does not resolve is closed the same way
        with anyio.fail_after(5), pytest.raises(aiohttp.ClientConnectionError):
            await s.post("https://unresolvable.invalid/", data=b"x")
    assert ("POST", URL(url)) in m.requests
    assert ("POST", URL("https://unresolvable.invalid/")) in m.requests
    failures = [r.getMessage() for r in caplog.records if "through:" in r.getMessage()]
    assert failures == [
        f"passing POST http://localhost:{port}/gone through: could not connect to "
        f"localhost:{port}: Connection refused; the client's connection was closed",
        "passing POST https://unresolvable.invalid/ through: could not resolve "
        "unresolvable.invalid: guard resolver: no 'unresolvable.invalid'; the "
        "client's connection was closed",
    ]
    assert guard_resolver == [("localhost", port), ("unresolvable.invalid", 443)]


# == the options ===================================================================


@pytest.mark.parametrize(
    "passthrough",
    [
        "https://api.example.com",
        b"api.example.com",
        42,
        [42],
        [b"api.example.com"],
        [None],
        [URL("https://api.example.com")],
    ],
)
def test_passthrough_bad_types(passthrough: Any) -> None:
    with pytest.raises(TypeError, match="passthrough"):
        aiointercept(mock_external_urls=True, passthrough=passthrough)


@pytest.mark.parametrize(
    "entry",
    [
        "ftp://api.example.com",
        "ws://api.example.com",
        "https://",
        "",
    ],
)
def test_passthrough_bad_entries(entry: str) -> None:
    with pytest.raises(ValueError, match="passthrough"):
        aiointercept(mock_external_urls=True, passthrough=[entry])


@pytest.mark.parametrize(
    "entry",
    [
        "https://api.example.com",
        "https://api.example.com/",
        "http://localhost:8080",
        "api.example.com",
        "api.example.com:8443",
    ],
)
def test_passthrough_good_entries(entry: str) -> None:
    m = aiointercept(mock_external_urls=True, passthrough=[entry])
    assert len(m.passthrough) == 1


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"passthrough": ["https://api.example.com"]}, "passthrough"),
        ({"passthrough_unmatched": True}, "passthrough_unmatched"),
        (
            {"passthrough": ["api.example.com"], "mock_external_urls": False},
            "passthrough",
        ),
    ],
)
def test_passthrough_requires_mock_external_urls(
    kwargs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{name} requires mock_external_urls=True"):
        aiointercept(**kwargs)


def test_empty_passthrough_without_mock_external_urls_is_fine() -> None:
    aiointercept(passthrough=[])
    aiointercept(passthrough=None, passthrough_unmatched=False)
