"""A recording that cannot reach its host says so in words: the request, the
host and port, and the error (refused, not resolved, TLS), not the repr of
aiohttp's exception; the client sees its connection closed.

Nothing leaves the machine: ``conftest.py`` puts every test under the
loopback net, whose resolver knows no name but ``localhost`` and a few test
names (:mod:`tests.support.loopback_net`).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from yarl import URL

from aiointercept import aiointercept
from tests.support import internals
from tests.support.clients import each_client, open_client
from tests.support.upstream import closed_port, serving

pytestmark = pytest.mark.anyio

CLOSED = "; the client's connection was closed"


async def record_one(
    kind: str, path: Path, url: str, caplog: pytest.LogCaptureFixture
) -> list[str]:
    """GET ``url`` in a block that records to ``path``, with a client of
    ``kind`` that must see its connection closed; the warnings logged."""
    caplog.set_level(logging.WARNING, logger="aiointercept")
    async with (
        aiointercept(mock_external_urls=True, cassette=path) as m,
        open_client(kind) as client,
    ):
        with pytest.raises(client.closed_error):
            await client.get(url)
    assert len(m.requests) == 1
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@each_client("httpx-async", "requests")
async def test_a_refused_connection_names_the_host_port_and_error(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_port()
    url = f"http://localhost:{port}/x"
    warnings = await record_one(kind, tmp_path / "c.yaml", url, caplog)
    assert warnings == [
        f"recording GET {url}: could not connect to localhost:{port}: "
        f"Connection refused{CLOSED}"
    ]


@each_client("httpx-async", "requests")
async def test_a_name_that_does_not_resolve_is_named(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = "https://nowhere.test/x"
    warnings = await record_one(kind, tmp_path / "c.yaml", url, caplog)
    assert warnings == [
        f"recording GET {url}: could not resolve nowhere.test: "
        f"loopback net: no 'nowhere.test'{CLOSED}"
    ]


@each_client("httpx-async", "requests")
async def test_a_failed_tls_handshake_is_named(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """https:// to a server that speaks plain HTTP."""
    async with serving() as upstream:
        url = f"https://localhost:{upstream.port}/x"
        warnings = await record_one(kind, tmp_path / "c.yaml", url, caplog)
    (warning,) = warnings
    prefix = f"recording GET {url}: the TLS handshake with localhost:{upstream.port} "
    assert warning.startswith(prefix + "failed: "), warning
    assert warning.endswith(CLOSED)
    reason = warning[len(prefix + "failed: ") : -len(CLOSED)]
    assert reason, warning
    assert "SSL" not in reason, reason  # words, not codes
    assert "(" not in reason, reason


# -- what no loopback server produces cheaply, from aiohttp's own exceptions ----------


def _certificate_error() -> BaseException:
    fields: dict[str, Any] = dict.fromkeys(ConnectionKey._fields)
    fields.update(host="api.example.com", port=443, is_ssl=True)
    key = ConnectionKey(**fields)
    error = ssl.SSLCertVerificationError(
        1,
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
        "self-signed certificate (_ssl.c:1006)",
    )
    error.verify_message = "self-signed certificate"
    return aiohttp.ClientConnectorCertificateError(key, error)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        pytest.param(
            _certificate_error(),
            "the TLS certificate of api.example.com:443 was not accepted: "
            "self-signed certificate",
            id="certificate",
        ),
        pytest.param(
            asyncio.TimeoutError(),
            "api.example.com:443 did not answer in time",
            id="timeout",
        ),
        pytest.param(
            aiohttp.ServerTimeoutError("Timeout on reading data from socket"),
            "api.example.com:443 did not answer in time (Timeout on reading data "
            "from socket)",
            id="read-timeout",
        ),
        pytest.param(
            aiohttp.ServerDisconnectedError(),
            "api.example.com:443 closed the connection without a response",
            id="disconnected",
        ),
        pytest.param(
            aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer"),
            "the connection to api.example.com:443 failed: "
            + os.strerror(errno.ECONNRESET),
            id="reset",
        ),
        pytest.param(
            aiohttp.ClientPayloadError("Response payload is not completed"),
            "the request to api.example.com:443 failed: ClientPayloadError: "
            "Response payload is not completed",
            id="other",
        ),
    ],
)
def test_each_failure_is_described_in_words(error: BaseException, words: str) -> None:
    described = internals.failure_in_words(error, URL("https://api.example.com/x"))
    assert described.startswith(words)
