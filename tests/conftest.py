from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

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


@pytest.fixture
def asyncio_only() -> str:
    """Request this (as ``anyio_backend``) for tests that use the aiohttp client."""
    return "asyncio"


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "aiointercept-server"]


@pytest.fixture(autouse=True)
def no_server_thread_left() -> Iterator[None]:
    """Every test must leave no server thread behind."""
    yield
    left = server_threads()
    assert not left, f"server threads still running after the test: {left}"
