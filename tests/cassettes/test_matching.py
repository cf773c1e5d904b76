"""Routes and matching: registered routes come first; ``match_on`` picks
what must be equal (the body and headers are ignored by default, the order of
the query does not matter).

Each test records from the upstream of :mod:`tests.support.upstream`
(addressed by name, ``http://localhost:PORT``, which a
``mock_external_urls=True`` block intercepts), then replays with the upstream
stopped, so that a replay that reached the network would fail. Nothing leaves
the machine: ``conftest.py`` puts every test under the loopback net.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aiointercept import aiointercept
from tests.support.cassettes import miss, record, uris
from tests.support.clients import Client, open_client
from tests.support.upstream import serving

pytestmark = pytest.mark.anyio


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
