"""respx: patches httpcore's connection pools (under httpx) in process.

No server and no socket: the response is built in the client. respx mocks the
httpx client only and always answers hard-coded URLs, so it is measured in the
``external_httpx`` rows (the same ``https://api.example.test/x`` that
aiointercept answers with ``mock_external_urls=True``), under asyncio and trio;
the aiohttp scenarios are not applicable. ``python -m benchmarks.impl_respx
--help``.
"""

from __future__ import annotations

import importlib
import ssl
from collections.abc import Callable
from typing import Any

import anyio
import httpx

from benchmarks._harness import (
    EXTERNAL_BASE,
    PAYLOAD,
    Samples,
    Sizes,
    check_json,
    main,
    timed,
    timed_each,
)

#: The ``respx`` module, loaded at run time: the package is only installed in
#: its own virtualenv.
respx: Any = None

#: Plain http, as aiointercept's ``external_httpx`` rows and their floor: respx
#: makes no TLS handshake (the ``https`` rows measure TLS).
URL = f"{EXTERNAL_BASE}/x"


async def _request(client: httpx.AsyncClient) -> None:
    resp = await client.get(URL)
    check_json(resp.status_code, resp.content)


def _check_called_with(route: Any) -> None:
    """What ``assert_called_with(URL, 'GET')`` checks, with respx's records."""
    route.calls.assert_called_once()
    request = route.calls.last.request
    if request.method != "GET" or str(request.url) != URL:
        raise RuntimeError(f"unexpected call: {request.method} {request.url}")


def _external_httpx(backend: str) -> Callable[[Sizes, int], Samples]:
    """lifecycle (asyncio only) and sequential with ``httpx.AsyncClient``
    under ``anyio.run(..., backend=backend)``.

    ``respx.mock()`` makes a router of its own (the block), which patches httpx
    while it is entered; the clients get one SSL context made in advance, as
    aiointercept's do.
    """
    context = ssl.create_default_context()

    def scenario(sizes: Sizes, repeats: int) -> Samples:
        async def once() -> None:
            with respx.mock() as router:
                route = router.get(URL).respond(json=PAYLOAD)
                async with httpx.AsyncClient(verify=context) as client:
                    await _request(client)
                _check_called_with(route)

        async def lifecycle() -> list[float]:
            return await timed_each(once, sizes.lifecycle, repeats)

        async def sequential() -> list[float]:
            with respx.mock() as router:
                router.get(URL).respond(json=PAYLOAD)
                async with httpx.AsyncClient(verify=context) as client:

                    async def body() -> None:
                        for _ in range(sizes.sequential):
                            await _request(client)

                    return await timed(body, sizes.sequential, repeats)

        if backend == "asyncio":
            return {
                "lifecycle_external_httpx": anyio.run(lifecycle, backend=backend),
                "sequential_external_httpx": anyio.run(sequential, backend=backend),
            }
        return {
            f"sequential_external_httpx_{backend}": anyio.run(
                sequential, backend=backend
            )
        }

    return scenario


if __name__ == "__main__":
    respx = importlib.import_module("respx")
    httpx_only = "mocks the httpx client only"
    main(
        "respx",
        {
            "external_httpx": _external_httpx("asyncio"),
            "external_httpx_trio": _external_httpx("trio"),
        },
        {
            "lifecycle": httpx_only,
            "sequential": httpx_only,
            "concurrent": httpx_only,
            "concurrent_200": httpx_only,
            "body_1mb": httpx_only,
            "routes_400": httpx_only,
            "fixture": "its pytest fixture is not measured",
            "httpx_asyncio": "in-process mock: measured in the external_httpx rows",
            "httpx_trio": "in-process mock: measured in the external_httpx_trio row",
            "external": httpx_only,
            "https": httpx_only,
            "https_httpx": "in-process mock: measured in the external_httpx rows",
            "https_httpx2": httpx_only,
            "replay": "no cassettes",
            "cassette_load": "no cassettes",
            # RouteList.add looks for an equal route among those registered:
            # 2000 routes in a row take tens of seconds
            "registration": "registering a route compares it with every route "
            "registered before: not measured, to keep the run short",
            "routes_scaling": httpx_only,
            "idle_cpu": "no server, nothing runs between requests",
            "pytest_startup": "its pytest plugin is not measured",
        },
        ["respx", "httpx", "httpcore", "anyio", "trio"],
    )
