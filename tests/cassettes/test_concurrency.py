"""Concurrent requests, from tasks and from threads, are all recorded and
replayed once each.

Each test records from the upstream of :mod:`tests.support.upstream`
(addressed by name, ``http://localhost:PORT``, which a
``mock_external_urls=True`` block intercepts), then replays with the upstream
stopped, so that a replay that reached the network would fail. Nothing leaves
the machine: ``conftest.py`` puts every test under the loopback net.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from aiointercept import aiointercept
from tests.support.cassettes import interactions, miss, record, response_body, uris
from tests.support.clients import Client, Reply, open_client
from tests.support.upstream import serving

pytestmark = pytest.mark.anyio


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
