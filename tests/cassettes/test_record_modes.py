"""Record modes: ``new_episodes``, ``all`` and ``rewrite``, ``none``.

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
from tests.support.cassettes import interactions, miss, record, response_body, uris
from tests.support.clients import Client, open_client
from tests.support.upstream import serving

pytestmark = pytest.mark.anyio


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
    ("record_mode", "kept"),
    [("all", ["/other", "/counter"]), ("rewrite", ["/counter"])],
)
async def test_all_and_rewrite_send_every_request_to_the_real_host(
    tmp_path: Path, anyio_backend: str, record_mode: str, kept: list[str]
) -> None:
    """``all`` records every request again, in place of what the file held
    for the same requests (vcrpy 9's rule: no duplicates), and keeps the
    rest; ``rewrite`` keeps nothing of the file."""
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url, other = f"{upstream.url}/counter", f"{upstream.url}/other"

        async def both(client: Client) -> None:
            assert await client.text(url) == "1"
            await client.text(other)

        await record(path, upstream, "httpx-async", both)
        async with (
            aiointercept(
                mock_external_urls=True, cassette=path, record_mode=record_mode
            ) as m,
            open_client("httpx-async") as client,
        ):
            assert await client.text(url) == "2"  # not replayed
        assert upstream.paths == ["/counter", "/other", "/counter"]
    assert len(m.requests) == 1
    assert [u.removeprefix(upstream.url) for u in uris(path)] == kept
    assert response_body(interactions(path)[-1]) == b"2"

    async def replayed(client: Client) -> None:
        assert await client.text(url) == "2"

    await miss(path, "httpx-async", "GET", url, before=replayed)


async def test_none_without_a_cassette_file_records_nothing(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "c.yaml"
    async with serving() as upstream:
        url = f"{upstream.url}/hello"
        # a loopback host is the mock's when something names it
        error, _ = await miss(path, "httpx-async", "GET", url, takes=upstream.url)
        assert upstream.received == []
    assert not path.exists()
    assert str(path) in str(error)
    assert f"GET {url}" in str(error)
