from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.blocks import open_servers

pytest_plugins = ["pytester"]


@pytest.fixture(
    params=[
        pytest.param("asyncio", id="asyncio"),
        pytest.param("trio", id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every ``@pytest.mark.anyio`` test on asyncio and on trio."""
    backend: str = request.param
    return backend


@pytest.fixture(autouse=True)
def no_server_left() -> Iterator[None]:
    """Every test must leave no block server listening."""
    yield
    left = open_servers()
    assert not left, f"block servers still open after the test: {left}"
