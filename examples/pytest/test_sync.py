"""Synchronous tests: the plugin's fixtures with requests and httpx.Client.

Run with ``pytest examples/pytest``.
"""

from __future__ import annotations

# [sync]
from typing import Any

import httpx
import requests

from aiointercept import aiointercept


def fetch_user(base_url: str, user_id: int) -> dict[str, Any]:
    """The code under test: a blocking client."""
    response = requests.get(f"{base_url}/users/{user_id}", timeout=5)
    response.raise_for_status()
    user: dict[str, Any] = response.json()
    return user


def test_fetch_user(aiointercept_mock: aiointercept) -> None:
    aiointercept_mock.get("/users/1", payload={"id": 1, "name": "Alice"})

    user = fetch_user(aiointercept_mock.server_url, 1)

    assert user == {"id": 1, "name": "Alice"}
    aiointercept_mock.assert_called_once_with("/users/1")


def test_create_order(aiointercept_mock: aiointercept) -> None:
    route = aiointercept_mock.post("/orders", status=201, payload={"id": 7})

    with httpx.Client(base_url=aiointercept_mock.server_url) as client:
        response = client.post("/orders", json={"item": "book"})

    assert response.status_code == 201
    route.assert_called_once_with(json={"item": "book"})


# [/sync]
