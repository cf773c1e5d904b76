"""A cassette named after the test, replayed from
cassettes/test_cassette/test_forecast.yaml."""

from __future__ import annotations

import pytest
import requests

from aiointercept import aiointercept


# [cassette]
@pytest.mark.aiointercept(mock_external_urls=True, cassette=True)
def test_forecast(aiointercept_mock: aiointercept) -> None:
    # replayed from cassettes/test_cassette/test_forecast.yaml: no network
    response = requests.get(
        "https://api.example.com/v1/forecast", params={"city": "Paris"}, timeout=10
    )
    assert response.json()["sky"] == "clear"
    aiointercept_mock.assert_called_once_with(
        "https://api.example.com/v1/forecast", params={"city": "Paris"}
    )


# [/cassette]
