"""A request that the cassette does not answer never reaches the network: the
client gets a transport error and the block raises a ``CassetteError``
that names what differs.

Each test records from the upstream of :mod:`tests.support.upstream`
(addressed by name, ``http://localhost:PORT``, which a
``mock_external_urls=True`` block intercepts), then replays with the upstream
still running, and checks that it received nothing. Nothing leaves the
machine: ``conftest.py`` puts every test under the loopback net.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from yarl import URL

from aiointercept import AiointerceptError, CassetteError, aiointercept
from tests.support.cassettes import every_client, miss, record, uris
from tests.support.clients import Client, make_client
from tests.support.upstream import serving

pytestmark = pytest.mark.anyio


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
    # localhost on another port is the mock's only when something names it
    takes = "http://localhost:8080" if differs == "port" else None
    error, _ = await miss(path, "httpx-async", method, change(url), takes=takes)
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
