"""cassetter: records and replays cassettes, its core written in Rust.

Measured on the cassette rows only, with the same cassette files as
aiointercept and vcrpy: cassetter reads vcrpy's format as it is (it writes
its own), parsing the YAML in its Rust core, and replays in the clients it
patches (aiohttp's ``ClientSession._request``, httpx's transports), with no
server and no socket. Loading the same file (what ``use_cassette`` does to
load it, and ``use_cassette`` entered and exited), replaying each of its
interactions in such a block, and replaying the same cassettes to the same
aiohttp and ``httpx.AsyncClient`` requests as the ``replay`` rows.

cassetter is only installed in its own virtualenv, where it may fail to
install (it ships wheels for some platforms only): then every row says so
rather than failing the run. ``python -m benchmarks.impl_cassetter --help``.
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
    SCENARIOS,
    RecordedInteraction,
    Samples,
    Scenario,
    Sizes,
    Timer,
    api_interactions,
    cassette_text,
    main,
    replay_each,
    write_cassette,
)
from benchmarks._in_process import replay_rows

#: The ``cassetter`` package, loaded at run time: it is only installed in its
#: own virtualenv.
cassetter: Any = None

#: The distributions whose versions the report lists.
DISTRIBUTIONS = ["cassetter", "aiohttp", "httpx", "httpcore"]


def _check_played(cassette: Any, count: int) -> None:
    """Each of the cassette's ``count`` interactions played once: in
    ``record_mode="none"`` cassetter would play one again once all have
    played, so the count alone does not show it."""
    if cassette.play_count != count or not cassette.all_played:
        raise RuntimeError(
            f"{cassette.play_count} responses played, not each of the {count} once"
        )


def replay(sizes: Sizes, repeats: int) -> Samples:
    """The requests of aiointercept's ``replay_cassette`` rows (aiohttp, and
    httpx), replayed by cassetter from the same cassettes: each repeat enters
    ``cassetter.use_cassette(path, record_mode="none")`` (the cassette is
    loaded then, untimed), opens a client and times the requests.
    """
    return replay_rows(
        sizes,
        repeats,
        lambda path: cassetter.use_cassette(path, record_mode="none"),
        _check_played,
    )


def cassette_load(sizes: Sizes, repeats: int) -> Samples:
    """The cassette of aiointercept's ``cassette_load_1000``, in vcrpy's
    format: ``Cassetter(record_mode="none").cassette(path).load()``, what
    ``use_cassette`` does to load it (its Rust core reads and parses the
    file; it indexes the requests at the first one it matches, which this
    leaves out: about a quarter of a millisecond). For
    ``cassette_block_1000``, ``with cassetter.use_cassette(path,
    record_mode="none"): pass``, which loads it and patches the clients; for
    ``cassette_replay_1000``, that block around an ``httpx.AsyncClient`` that
    sends each recorded request in order."""
    config = cassetter.Cassetter(record_mode="none")
    context = ssl.create_default_context()
    interactions = api_interactions(sizes.cassette_interactions)

    def load(path: Path) -> Any:
        cassette = config.cassette(path)
        cassette.load()
        return cassette

    def block(path: Path) -> float:
        with (
            Timer(1, CPU_CLOCK) as timer,
            cassetter.use_cassette(path, record_mode="none"),
        ):
            pass
        return timer.per_op

    async def replayed(
        path: Path, interactions: Sequence[RecordedInteraction]
    ) -> float:
        with (
            Timer(1, CPU_CLOCK) as timer,
            cassetter.use_cassette(path, record_mode="none") as cassette,
        ):
            async with httpx.AsyncClient(verify=context) as client:

                async def send(
                    method: str, url: str, body: bytes | None
                ) -> tuple[int, bytes]:
                    resp = await client.request(method, url, content=body)
                    return resp.status_code, resp.content

                await replay_each(interactions, send)
            _check_played(cassette, len(interactions))
        return timer.per_op

    async def replays(directory: Path, path: Path) -> list[float]:
        """One block per round, as for vcrpy, whose block lasts seconds. A
        small cassette warms up first (imports, the client)."""
        warm = api_interactions(sizes.cassette_warm_up)
        small = write_cassette(directory, "warm.yaml", cassette_text(warm))
        await replayed(small, warm)
        return [await replayed(path, interactions)]

    with tempfile.TemporaryDirectory(prefix="aiointercept-bench-") as name:
        path = write_cassette(Path(name), "api.yaml", cassette_text(interactions))
        loaded = len(load(path).interactions)
        if loaded != sizes.cassette_interactions:
            raise RuntimeError(f"cassetter loaded {loaded} interactions")
        loads: list[float] = []
        for _ in range(repeats):
            with Timer(sizes.cassette_loads, CPU_CLOCK) as timer:
                for _ in range(sizes.cassette_loads):
                    load(path)
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
    not_cassettes = "records and replays cassettes only"
    scenarios: dict[str, Scenario] = {"replay": replay, "cassette_load": cassette_load}
    not_applicable = {
        **{name: not_cassettes for name in SCENARIOS if name not in scenarios},
        "pytest_startup": "its pytest plugin is not measured",
        "replay_route": "no routes: measured against aiointercept's",
        "replay_route_httpx": "no routes: measured against aiointercept's",
    }
    try:
        cassetter = importlib.import_module("cassetter")
    except ImportError as error:
        # installed but not importable here: every row says why
        not_applicable = dict.fromkeys(SCENARIOS, f"cannot import cassetter: {error}")
        scenarios = {}
    main("cassetter", scenarios, not_applicable, DISTRIBUTIONS)
