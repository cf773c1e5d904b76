"""Cassette files and blocks that record or replay them, for the tests of
``tests/cassettes``.

A cassette is vcrpy's YAML; :func:`load`, :func:`interactions`, :func:`uris`,
:func:`header` and :func:`response_body` read one. :func:`record`,
:func:`replay` and :func:`miss` run a client of a kind in a block with a
cassette.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from aiointercept import CassetteError, aiointercept
from tests.support.clients import Client, each_client, open_client
from tests.support.upstream import Upstream

T = TypeVar("T")

#: The clients of most cassette tests, each on the backends it runs on:
#: aiohttp (asyncio only), ``httpx.AsyncClient``, and ``httpx.Client`` and
#: requests, run in a worker thread.
KINDS = ["aiohttp", "httpx-async", "httpx-sync", "requests"]
every_client = each_client(*KINDS)


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
    takes: str | None = None,
    **options: Any,
) -> tuple[CassetteError, aiointercept]:
    """Replay ``path``: run ``before`` (requests the cassette answers), then
    send a request that it does not answer. The client must get a transport
    error, and the block must raise a :class:`CassetteError`, returned.

    ``takes`` (``"http://localhost:8080"``) is a loopback host and port that
    the block must take although the cassette does not name it: a route for
    it is registered (its path never asked)."""
    m = aiointercept(
        mock_external_urls=True, cassette=path, record_mode=record_mode, **options
    )
    if takes is not None:
        m.get(f"{takes}/never-asked", body="")

    async def block() -> None:
        async with m, open_client(kind) as client:
            if before is not None:
                await before(client)
            with pytest.raises(client.closed_error):
                await client.request(method, url, headers=headers, content=content)

    with pytest.raises(CassetteError) as info:
        await block()
    return info.value, m
