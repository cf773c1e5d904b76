"""Cassettes that vcrpy releases wrote replay here, whichever client replays
them.

``data/vcrpy/<vcrpy version>/<client>.yaml`` were recorded by the real vcrpy
of that version with requests, httpx or aiohttp of its time
(``data/vcrpy/make.py``; the versions are in ``data/README.md``). Each is
replayed by every client, since a cassette does not belong to the client that
recorded it here, and every response is checked against what the generator's
upstream served (``data/vcrpy/served.py``), less what vcrpy itself did not
keep.
"""

from __future__ import annotations

import http
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aiointercept import aiointercept
from tests.cassettes.data.vcrpy.served import (
    DATE,
    EXCHANGES,
    ITEMS,
    SERVER,
    Exchange,
    form_body,
)
from tests.support.cassettes import KINDS
from tests.support.clients import Client, Reply, backends_of, open_client

if TYPE_CHECKING:
    from _pytest.mark import ParameterSet

pytestmark = pytest.mark.anyio

RELEASES = Path(__file__).parent / "data" / "vcrpy"
#: ``(vcrpy version, client)`` of every cassette there.
CASSETTES = sorted((path.parent.name, path.stem) for path in RELEASES.glob("*/*.yaml"))
RECORDERS = ["aiohttp", "httpx", "requests"]


def major(version: str) -> int:
    return int(version.split(".")[0])


def test_every_release_and_client_has_a_cassette() -> None:
    """So that a cassette missing from the folder is not a test that silently
    does not run."""
    assert sorted({major(version) for version, _ in CASSETTES}) == [4, 5, 6, 7, 8, 9]
    for version in {version for version, _ in CASSETTES}:
        assert [c for v, c in CASSETTES if v == version] == RECORDERS, version


def expected_body(version: str, recorder: str, exchange: Exchange) -> bytes:
    body = exchange.answer.body
    if recorder == "httpx" and major(version) < 6:
        # vcrpy before 6 kept httpx's bodies as text, dropping the bytes that
        # are not UTF-8
        return body.decode("utf-8", "ignore").encode()
    return body


def expected_reason(version: str, recorder: str, exchange: Exchange) -> str:
    if recorder == "httpx" and major(version) < 6:
        # no reason phrase in vcrpy's httpx cassettes before 6: the status
        # code's own is sent
        return http.HTTPStatus(exchange.answer.status).phrase
    return exchange.answer.reason


async def send(client: Client, exchange: Exchange) -> Reply:
    """``exchange`` sent by ``client``, its query encoded as
    ``urllib.parse.urlencode`` does (which need not be how the recording
    client encoded it)."""
    if exchange.form:
        return await client.request(
            exchange.method,
            exchange.url,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            content=form_body(),
        )
    return await client.request(exchange.method, exchange.url, json_body=exchange.json)


def check(reply: Reply, exchange: Exchange, version: str, recorder: str) -> None:
    answer = exchange.answer
    seen = (
        exchange.name,
        reply.status,
        reply.reason,
        reply.headers.get("Content-Type"),
        reply.headers.getall("Set-Cookie", []),
        reply.headers.get("Content-Encoding"),
        (reply.headers.get("Date"), reply.headers.get("Server")),
        reply.body,
        reply.history,
    )
    assert seen == (
        exchange.name,
        answer.status,
        expected_reason(version, recorder, exchange),
        answer.content_type,
        list(answer.cookies),
        answer.coding,
        (DATE, SERVER),
        expected_body(version, recorder, exchange),
        tuple(status for status, _, _ in exchange.redirects),
    )
    if exchange.method == "HEAD":
        assert reply.headers.get("Content-Length") == str(len(ITEMS))


#: The kinds of client that each recorder's cassettes are replayed by on both
#: backends; the other kinds replay them on one, asyncio and trio in turn.
OWN_KINDS = {
    "aiohttp": ["aiohttp"],
    "httpx": ["httpx-async", "httpx-sync"],
    "requests": ["requests"],
}


def replays(kinds: list[str], own_on_both: bool) -> list[ParameterSet]:
    """``(version, recorder, kind, anyio_backend)``: every cassette replayed by
    each of ``kinds``, on the backends it runs on (aiohttp: asyncio only).
    A kind replays a cassette on one backend, alternately, so that each kind
    runs on both across the cassettes; with ``own_on_both``, the kinds that
    recorded a cassette replay it on both."""
    params = []
    for number, (version, recorder) in enumerate(CASSETTES):
        for turn, kind in enumerate(kinds, start=number):
            backends = backends_of(kind)
            if not (own_on_both and kind in OWN_KINDS[recorder]):
                backends = [backends[turn % len(backends)]]
            params += [
                pytest.param(
                    version,
                    recorder,
                    kind,
                    backend,
                    id=f"{version}-{recorder}-{kind}-{backend}",
                )
                for backend in backends
            ]
    return params


def copy(version: str, recorder: str, tmp_path: Path) -> Path:
    """A copy of the cassette, for a block that might write it."""
    path = tmp_path / "cassette.yaml"
    path.write_bytes((RELEASES / version / f"{recorder}.yaml").read_bytes())
    return path


@pytest.mark.parametrize(
    ("version", "recorder", "kind", "anyio_backend"), replays(KINDS, own_on_both=True)
)
async def test_cassette_of_a_vcrpy_release_replays(
    version: str, recorder: str, kind: str, tmp_path: Path
) -> None:
    path = copy(version, recorder, tmp_path)
    recorded = path.read_bytes()
    async with (
        aiointercept(mock_external_urls=True, cassette=path, record_mode="none") as m,
        open_client(kind) as client,
    ):
        for exchange in EXCHANGES:
            check(await send(client, exchange), exchange, version, recorder)
    hops = sum(1 + len(exchange.redirects) for exchange in EXCHANGES)
    assert len(m.requests) == hops
    assert path.read_bytes() == recorded


#: What ``match_on`` compares when a user adds ``body`` to vcrpy's default.
WITH_BODY = ("method", "scheme", "host", "port", "path", "query", "body")


@pytest.mark.parametrize(
    ("version", "recorder", "kind", "anyio_backend"),
    replays(["httpx-async", "requests"], own_on_both=False),
)
async def test_recorded_body_matches_the_same_body_sent_by_any_client(
    version: str, recorder: str, kind: str, tmp_path: Path
) -> None:
    """With ``body`` among ``match_on``: JSON compared parsed (httpx 0.28
    writes it without spaces, requests and aiohttp with), and aiohttp's
    ``json=`` object, which vcrpy stores as it was given, without a
    Content-Type.

    Not the form that aiohttp sent from ``data={...}``: vcrpy stores that
    mapping as it was given too, so that it cannot be told from a ``json=``
    object, and reads as JSON."""
    posts = [
        exchange
        for exchange in EXCHANGES
        if exchange.json is not None or (exchange.form and recorder != "aiohttp")
    ]
    async with (
        aiointercept(
            mock_external_urls=True,
            cassette=copy(version, recorder, tmp_path),
            record_mode="none",
            match_on=WITH_BODY,
        ),
        open_client(kind) as client,
    ):
        for exchange in posts:
            check(await send(client, exchange), exchange, version, recorder)
