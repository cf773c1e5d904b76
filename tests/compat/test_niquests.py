"""niquests, a requests fork on urllib3-future, under mock_external_urls=True.

niquests replaces urllib3 with urllib3-future, so it is installed in a session
of its own, ``nox -s client_compat_niquests``, which runs this module; where
niquests is not installed the module is skipped.

Every test runs under :func:`tests.support.loopback_net.loopback_network`:
no name reaches a DNS server and nothing leaves the machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio.to_thread
import pytest
from yarl import URL

from aiointercept import aiointercept
from tests.support import loopback_net
from tests.support.loopback_net import LoopbackNet

niquests: Any = pytest.importorskip("niquests")

pytestmark = pytest.mark.anyio

#: The safety net, for every test of this module.
loopback_network = loopback_net.loopback_network

SECURE = "https://api.example.com/items?page=2"
PLAIN = "http://api.example.com/items?page=2"


@pytest.fixture(autouse=True)
def net(
    loopback_network: LoopbackNet, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LoopbackNet]:
    """No proxy from the environment; no name resolved for real."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    yield loopback_network
    assert loopback_network.resolved == []


def routes(m: aiointercept) -> None:
    m.get(SECURE, payload={"scheme": "https"})
    m.get(PLAIN, payload={"scheme": "http"})


def assert_recorded(m: aiointercept) -> None:
    assert [key for key, _ in m.ordered_requests] == [
        ("GET", URL(SECURE)),
        ("GET", URL(PLAIN)),
    ]


async def test_niquests_get_from_a_worker_thread() -> None:
    def fetch() -> list[tuple[int, Any]]:
        replies = [niquests.get(url, timeout=10) for url in (SECURE, PLAIN)]
        return [(reply.status_code, reply.json()) for reply in replies]

    async with aiointercept(mock_external_urls=True) as m:
        routes(m)
        assert await anyio.to_thread.run_sync(fetch) == [
            (200, {"scheme": "https"}),
            (200, {"scheme": "http"}),
        ]
    assert_recorded(m)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # niquests runs on asyncio
async def test_niquests_async_session() -> None:
    async with aiointercept(mock_external_urls=True) as m:
        routes(m)
        async with niquests.AsyncSession(timeout=10) as session:
            secure = await session.get(SECURE)
            plain = await session.get(PLAIN)
    assert (secure.status_code, secure.json()) == (200, {"scheme": "https"})
    assert (plain.status_code, plain.json()) == (200, {"scheme": "http"})
    assert secure.http_version == 11  # the mock speaks HTTP/1.1
    assert_recorded(m)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_niquests_raises_its_ssl_error_for_a_tls_fault() -> None:
    async with aiointercept(mock_external_urls=True) as m:
        route = m.get(SECURE, body="never sent")
        m.tls("api.example.com", fault="expired")
        async with niquests.AsyncSession(timeout=10) as session:
            with pytest.raises(niquests.exceptions.SSLError, match="expired"):
                await session.get(SECURE)
    assert route.call_count == 0
