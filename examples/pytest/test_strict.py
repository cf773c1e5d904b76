"""The strict options, given through the marker.

Run with ``pytest examples/pytest``.
"""

from __future__ import annotations

# [strict]
import pytest
import requests

from aiointercept import aiointercept


@pytest.mark.aiointercept(assert_all_called=True, assert_all_matched=True)
def test_every_route_is_used(aiointercept_mock: aiointercept) -> None:
    aiointercept_mock.get("/health", body="ok")
    aiointercept_mock.post("/orders", status=201)

    base = aiointercept_mock.server_url
    assert requests.get(f"{base}/health", timeout=5).text == "ok"
    assert requests.post(f"{base}/orders", json={}, timeout=5).status_code == 201
    # Had a route gone unused, or a request matched no route, pytest would
    # report an error at teardown of this test, listing them.


# [/strict]
