"""One server for the whole session: ``aiointercept_server`` in session-wide
set-up, ``aiointercept_mock`` in each test.

Run with ``pytest examples/pytest``.
"""

from __future__ import annotations

# [session]
import pytest
import requests

from aiointercept import aiointercept


@pytest.fixture(scope="session")
def api_base_url(aiointercept_server: aiointercept) -> str:
    """Session-wide set-up can point clients at the one server of the session."""
    return aiointercept_server.server_url


def test_same_server_for_every_test(
    api_base_url: str, aiointercept_mock: aiointercept
) -> None:
    assert aiointercept_mock.server_url == api_base_url
    assert aiointercept_mock.requests == {}  # nothing left from other tests
    aiointercept_mock.get("/ping", body="pong")
    assert requests.get(f"{api_base_url}/ping", timeout=5).text == "pong"


# [/session]
