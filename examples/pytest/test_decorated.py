"""The ``@aiointercept()`` decorator next to the plugin's fixtures.

Run with ``pytest examples/pytest``.
"""

from __future__ import annotations

# [decorated]
from pathlib import Path

import httpx
import pytest

from aiointercept import aiointercept


class TestReports:
    @pytest.mark.anyio
    @aiointercept()
    async def test_download(
        self,
        tmp_path: Path,
        aiointercept_mock: aiointercept,
        m: aiointercept,  # the decorator's own server, fresh for this test
    ) -> None:
        m.get("/report.csv", body="id,name\n1,Alice\n")
        aiointercept_mock.get("/status", payload={"ready": True})

        async with httpx.AsyncClient() as client:
            status = await client.get(f"{aiointercept_mock.server_url}/status")
            assert status.json() == {"ready": True}
            report = await client.get(f"{m.server_url}/report.csv")
        (tmp_path / "report.csv").write_bytes(report.content)

        assert (tmp_path / "report.csv").read_text().startswith("id,name")


# [/decorated]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend
