"""vcrpy: records and replays cassettes by patching the clients in process.

Measured on the cassette rows only: loading the same cassette file as
aiointercept (``Cassette.load``, ``use_cassette`` entered and exited, and
entered around the replay of each of its interactions), and replaying the
same cassettes to the same aiohttp and ``httpx.AsyncClient`` requests
(vcrpy patches the clients and answers in them, with no server and no
socket). Its YAML serializer uses PyYAML's C loader when PyYAML has libyaml.
``python -m benchmarks.impl_vcrpy --help``.
"""

from __future__ import annotations

import asyncio
import importlib
import ssl
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from benchmarks._harness import (
    CPU_CLOCK,
    RecordedInteraction,
    Samples,
    Sizes,
    Timer,
    api_interactions,
    cassette_text,
    main,
    pyyaml_details,
    replay_each,
    write_cassette,
)
from benchmarks._in_process import replay_rows

#: The ``vcr`` package, loaded at run time: it is only installed in its own
#: virtualenv.
vcr: Any = None


def _check_played(cassette: Any, count: int) -> None:
    if cassette.play_count != count:
        raise RuntimeError(f"{cassette.play_count} responses played, not {count}")


def replay(sizes: Sizes, repeats: int) -> Samples:
    """The requests of aiointercept's ``replay_cassette`` rows (aiohttp, and
    httpx), replayed by vcrpy from the same cassettes: each repeat enters
    ``vcr.use_cassette(path, record_mode="none")`` (the cassette is loaded
    then, untimed), opens a client and times the requests.
    """
    return replay_rows(
        sizes,
        repeats,
        lambda path: vcr.use_cassette(str(path), record_mode="none"),
        _check_played,
    )


def cassette_load(sizes: Sizes, repeats: int) -> Samples:
    """The cassette of aiointercept's ``cassette_load_1000``:
    ``vcr.cassette.Cassette.load(path=..., record_mode="none")``, which reads
    the file and builds its requests and responses; for
    ``cassette_block_1000``, ``with vcr.use_cassette(path,
    record_mode="none"): pass``, which loads it and patches the clients; for
    ``cassette_replay_1000``, that block around an ``httpx.AsyncClient`` that
    sends each recorded request in order."""
    load = vcr.cassette.Cassette.load
    context = ssl.create_default_context()
    interactions = api_interactions(sizes.cassette_interactions)

    def block(path: Path) -> float:
        with (
            Timer(1, CPU_CLOCK) as timer,
            vcr.use_cassette(str(path), record_mode="none"),
        ):
            pass
        return timer.per_op

    async def replayed(
        path: Path, interactions: Sequence[RecordedInteraction]
    ) -> float:
        with (
            Timer(1, CPU_CLOCK) as timer,
            vcr.use_cassette(str(path), record_mode="none") as cassette,
        ):
            async with httpx.AsyncClient(verify=context) as client:

                async def send(
                    method: str, url: str, body: bytes | None
                ) -> tuple[int, bytes]:
                    resp = await client.request(method, url, content=body)
                    return resp.status_code, resp.content

                await replay_each(interactions, send)
            if cassette.play_count != len(interactions) or not cassette.all_played:
                raise RuntimeError(
                    f"{cassette.play_count} responses played, not each of "
                    f"the {len(interactions)} once"
                )
        return timer.per_op

    async def replays(directory: Path, path: Path) -> list[float]:
        """One block per round: vcrpy's lasts seconds. A small cassette warms
        up first (imports, the client, certificates)."""
        warm = api_interactions(sizes.cassette_warm_up)
        small = write_cassette(directory, "warm.yaml", cassette_text(warm))
        await replayed(small, warm)
        return [await replayed(path, interactions)]

    with tempfile.TemporaryDirectory(prefix="aiointercept-bench-") as name:
        path = write_cassette(Path(name), "api.yaml", cassette_text(interactions))
        if len(load(path=str(path), record_mode="none")) != sizes.cassette_interactions:
            raise RuntimeError("vcrpy did not load every interaction")
        loads: list[float] = []
        for _ in range(repeats):
            with Timer(sizes.cassette_loads, CPU_CLOCK) as timer:
                for _ in range(sizes.cassette_loads):
                    load(path=str(path), record_mode="none")
            loads.append(timer.per_op)
        block(path)  # warm-up
        blocks = [block(path) for _ in range(repeats)]
        replay_times = asyncio.run(replays(Path(name), path))
    return {
        "cassette_load_1000": loads,
        "cassette_block_1000": blocks,
        "cassette_replay_1000": replay_times,
    }


if __name__ == "__main__":
    vcr = importlib.import_module("vcr")
    importlib.import_module("vcr.cassette")
    not_cassettes = "records and replays cassettes only"
    main(
        "vcrpy",
        {"replay": replay, "cassette_load": cassette_load},
        {
            "lifecycle": not_cassettes,
            "sequential": not_cassettes,
            "concurrent": not_cassettes,
            "concurrent_200": not_cassettes,
            "body_1mb": not_cassettes,
            "routes_400": not_cassettes,
            "fixture": not_cassettes,
            "httpx_asyncio": not_cassettes,
            "httpx_trio": not_cassettes,
            "external": not_cassettes,
            "external_httpx": not_cassettes,
            "external_httpx_trio": not_cassettes,
            "https": not_cassettes,
            "https_httpx": not_cassettes,
            "https_httpx2": not_cassettes,
            "registration": not_cassettes,
            "routes_scaling": not_cassettes,
            "idle_cpu": not_cassettes,
            "pytest_startup": "its pytest plugin is not measured",
            "replay_route": "no routes: measured against aiointercept's",
            "replay_route_httpx": "no routes: measured against aiointercept's",
        },
        ["vcrpy", "aiohttp", "httpx", "httpcore"],
        pyyaml_details(),
    )
