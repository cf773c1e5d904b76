"""Block servers seen from outside: how many are listening, their ports."""

from __future__ import annotations

import anyio
import pytest
from yarl import URL

from tests.support import internals


def open_servers() -> int:
    """How many block servers are listening (the server thread itself is shared
    and outlives the blocks)."""
    return internals.active_servers()


def port_of(server_url: str) -> int:
    """The port of a block's ``server_url``."""
    port = URL(server_url).port
    assert port is not None
    return port


async def assert_port_closed(port: int) -> None:
    """Connecting to the port on 127.0.0.1 is refused."""
    with pytest.raises(OSError) as excinfo:  # noqa: PT011 - the cause is checked
        await anyio.connect_tcp("127.0.0.1", port)
    error = excinfo.value
    refused = error if error.__cause__ is None else error.__cause__
    assert isinstance(refused, ConnectionRefusedError), repr(error)


async def assert_port_open(port: int) -> None:
    """Connecting to the port on 127.0.0.1 succeeds."""
    stream = await anyio.connect_tcp("127.0.0.1", port)
    await stream.aclose()
