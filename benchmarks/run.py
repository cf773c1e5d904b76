"""Run the benchmarks: ``nox -s bench`` (``-- --quick``, ``-- --write-docs``).

Creates one virtualenv per implementation under ``.nox/bench-venvs/`` (reused
while its requirements are unchanged), runs the ``impl_*`` modules in
interleaved rounds (each round runs every implementation once, in a rotated
order, so that the machine's noise hits all of them alike), and reports the
median time per operation of each scenario, the ratios against the targets,
and writes everything as JSON. ``python -m benchmarks.run --help``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._harness import SCENARIOS, Sizes

ROOT = Path(__file__).resolve().parent.parent
DOCS_PAGE = ROOT / "docs" / "performance.rst"
DOCS_IMAGE = ROOT / "docs" / "_static" / "performance.png"


@dataclass(frozen=True)
class Environment:
    """A virtualenv, created with ``python -m venv`` and these requirements."""

    name: str
    requirements: tuple[str, ...]
    #: files whose content, when it changes, makes the virtualenv be recreated
    inputs: tuple[Path, ...] = ()
    #: whether the run goes on without it when it cannot be installed (a
    #: package that has no wheel for this platform or Python, say): its
    #: implementations are then left out, and say why
    optional: bool = False


@dataclass(frozen=True)
class Implementation:
    name: str
    label: str
    environment: str
    module: str


ENVIRONMENTS = {
    env.name: env
    for env in (
        # the working tree, editable: every run measures the current src/
        Environment(
            "current",
            ("-e", f"{ROOT}[trio,record]", "httpx", "httpx2", "trustme", "pytest"),
            (ROOT / "pyproject.toml",),
        ),
        Environment(
            "aiointercept-1.0.0",
            ("aiointercept==1.0.0", "httpx", "pytest", "pytest-asyncio"),
        ),
        Environment("aioresponses-ng", ("aioresponses-ng",)),
        Environment("respx", ("respx", "httpx", "trio")),
        Environment("vcrpy", ("vcrpy", "pyyaml", "aiohttp", "httpx")),
        Environment("cassetter", ("cassetter", "aiohttp", "httpx"), optional=True),
    )
}

IMPLEMENTATIONS = (
    Implementation(
        "floor",
        "aiohttp client (httpx in the external_httpx rows) and aiohttp.web server "
        "in one event loop, no mock; in the https rows (the TLS floor), over TLS "
        "with a certificate from a test CA",
        "current",
        "benchmarks.impl_floor",
    ),
    Implementation(
        "aiointercept",
        "this repository's working tree",
        "current",
        "benchmarks.impl_aiointercept",
    ),
    Implementation(
        "aiointercept-1.0.0",
        "release 1.0.0 from PyPI",
        "aiointercept-1.0.0",
        "benchmarks.impl_aiointercept",
    ),
    Implementation(
        "aioresponses-ng",
        "from PyPI, an in-process mock of the aiohttp client",
        "aioresponses-ng",
        "benchmarks.impl_aioresponses",
    ),
    Implementation(
        "respx",
        "from PyPI, an in-process mock of the httpx client",
        "respx",
        "benchmarks.impl_respx",
    ),
    Implementation(
        "vcrpy",
        "from PyPI, records and replays cassettes by patching the clients in "
        "process (cassette rows only)",
        "vcrpy",
        "benchmarks.impl_vcrpy",
    ),
    Implementation(
        "cassetter",
        "from PyPI, records and replays cassettes by patching the clients in "
        "process, its core (the YAML parser, the matching) in Rust; it reads "
        "vcrpy's format as it is (cassette rows only)",
        "cassetter",
        "benchmarks.impl_cassetter",
    ),
)

#: Every row of the report, in order.
ROWS = tuple(row for rows in SCENARIOS.values() for row in rows)

_SIZES = Sizes()
ROW_DESCRIPTIONS = {
    "lifecycle": (
        "Enter a block, register a route, one GET with a new aiohttp "
        "``ClientSession``, ``assert_called_with(url, 'GET')``, exit the block. "
        "Floor: a fresh ``aiohttp.web`` server (application, ``AppRunner``, "
        "``TCPSite``), a new session, one GET, close the session, "
        "``runner.cleanup()``."
    ),
    "sequential": (
        f"{_SIZES.sequential} GETs one after the other on one keep-alive aiohttp "
        "session; time per request."
    ),
    "concurrent": (
        f"GETs in batches of {_SIZES.concurrency} concurrent requests "
        f"(``asyncio.gather``), {_SIZES.concurrent_batches} batches, on one "
        "session; time per request."
    ),
    "concurrent_200": (
        f"concurrent with batches of {_SIZES.concurrency_200} concurrent "
        f"requests, {_SIZES.concurrent_200_batches} batches: more at once than "
        "the session opens connections (aiohttp's default limit, 100), so half "
        "of a batch waits for a connection that another request frees; time "
        "per request."
    ),
    "body_1mb": "GET of a 1 MiB body, read in full, on one session.",
    "routes_400": (
        f"{_SIZES.routes} routes with distinct URLs, each requested once in a "
        "shuffled order (the same for all); time per request, registration not "
        "included."
    ),
    "routes_400_register": (
        "Registering those routes, per route (floor: ``app.router.add_get`` "
        "before the server starts)."
    ),
    "fixture": (
        "Per-test overhead of the ``aiointercept_mock`` fixture on the session's "
        f"shared server: pytest runs {_SIZES.fixture_tests} trivial tests that "
        "request it and the same tests without it, each in a subprocess; the "
        f"overhead is (t_with - t_without) / {_SIZES.fixture_tests}, where t is "
        "the time of pytest's test loop (start-up and collection excluded). "
        "Both files start with a test that requests ``aiointercept_server``, so "
        "that the shared server's start is in both. Sync tests; aiointercept "
        "1.0.0's fixture is a pytest-asyncio async fixture, so it is measured "
        "with async tests in both files."
    ),
    "lifecycle_httpx_asyncio": (
        "lifecycle with a new ``httpx.AsyncClient`` instead of the aiohttp "
        "session, under ``anyio.run(..., backend='asyncio')``. The client gets "
        "an SSL context made in advance: building one loads the CA bundle "
        "(about 70 ms), which would hide everything else."
    ),
    "sequential_httpx_asyncio": (
        f"{_SIZES.sequential} GETs on one ``httpx.AsyncClient`` under asyncio."
    ),
    "lifecycle_httpx_trio": "lifecycle_httpx_asyncio, under trio.",
    "sequential_httpx_trio": "sequential_httpx_asyncio, under trio.",
    "lifecycle_external": (
        "lifecycle with ``mock_external_urls=True``; the URL is the hard-coded "
        "``http://api.example.test/x`` (intercepted, never resolved)."
    ),
    "sequential_external": (
        "sequential with ``mock_external_urls=True`` and ``http://api.example.test/x``."
    ),
    "lifecycle_external_httpx": (
        "lifecycle_external with a new ``httpx.AsyncClient`` (SSL context made "
        "in advance, as in lifecycle_httpx_asyncio) and the hard-coded "
        "``http://api.example.test/x``, under ``anyio.run(..., "
        "backend='asyncio')``. respx: ``with respx.mock() as router``, "
        "``router.get(url).respond(json=...)``, the same GET, then the route's "
        "one call checked for URL and method. Floor: a fresh ``aiohttp.web`` "
        "server, a new ``httpx.AsyncClient``, one GET of ``http://127.0.0.1``, "
        "close the client, ``runner.cleanup()``. The JSON body is checked "
        "decoded (httpx, and so respx, encodes it without spaces)."
    ),
    "sequential_external_httpx": (
        f"{_SIZES.sequential} GETs of ``http://api.example.test/x`` on one "
        "``httpx.AsyncClient`` under asyncio, ``mock_external_urls=True``; "
        "respx: in one ``respx.mock()`` block; floor: a plain server on "
        "127.0.0.1."
    ),
    "sequential_external_httpx_trio": "sequential_external_httpx, under trio.",
    "lifecycle_https": (
        "lifecycle with ``mock_external_urls=True`` and the hard-coded "
        "``https://api.example.test/x``, on a new aiohttp ``ClientSession`` "
        "with its default TLS settings. Floor (the TLS floor): a fresh "
        "``aiohttp.web`` server serving TLS on 127.0.0.1 with a certificate "
        "for 127.0.0.1 from a test CA (trustme), a new session whose connector "
        "has aiohttp's default SSL context, made in advance and taught to trust "
        "that CA, one GET of ``https://127.0.0.1:PORT/x``, close the session, "
        "``runner.cleanup()``."
    ),
    "sequential_https": (
        f"{_SIZES.sequential} GETs of ``https://api.example.test/x`` on one "
        "aiohttp session with its default TLS settings, "
        "``mock_external_urls=True``. Floor: the same client, over TLS, against "
        "the TLS floor's server of lifecycle_https (one handshake, then "
        "keep-alive)."
    ),
    "lifecycle_https_httpx": (
        "lifecycle_https with a new ``httpx.AsyncClient`` under ``anyio.run(..., "
        "backend='asyncio')``. The client gets the SSL context httpx builds by "
        "default (``httpx.create_ssl_context()``), made in advance: building "
        "it loads the CA bundle (about 20 ms), which would hide everything "
        "else. Floor: the same, the context also taught to trust the test CA."
    ),
    "sequential_https_httpx": (
        f"{_SIZES.sequential} GETs of ``https://api.example.test/x`` on one "
        "``httpx.AsyncClient()`` with its default TLS settings, under asyncio. "
        "Floor: against the TLS floor's server, the client's default SSL "
        "context taught to trust the test CA."
    ),
    "lifecycle_https_httpx2": (
        "lifecycle_https_httpx with ``httpx2`` (the same API, its own "
        "connection pool, ``httpcore2``). Not available where the block does "
        "not intercept httpx2's requests."
    ),
    "sequential_https_httpx2": "sequential_https_httpx with ``httpx2``.",
    "proxy_child_https": (
        f"A child Python process makes {_SIZES.child_requests} GETs in a row "
        "on one keep-alive ``http.client.HTTPSConnection`` (after one that sets "
        "it up, not timed); time per request, measured in the child. "
        "aiointercept: through the block's proxy, a ``CONNECT`` tunnel to "
        "``api.example.test:443`` (a default-mode block, the child trusting "
        "``proxy_env()``'s bundle); floor: straight to the TLS floor's server. "
        "One child per repeat."
    ),
    "replay_route": (
        "A block with ``mock_external_urls=True``, a cassette of "
        f"{_SIZES.sequential} recorded ``GET http://api.example.test/x`` "
        "(vcrpy's format, ``record_mode='none'``, each interaction played once) "
        "and a route ``m.get('http://api.example.test/y', payload=..., "
        "repeat=True)``; on one aiohttp session, GETs of ``/x`` and ``/y`` "
        f"alternate, {_SIZES.sequential} of each, each timed on its own. This "
        "row: time per ``/y`` request, answered by the route. A fresh block per "
        "repeat (loading the cassette is not timed)."
    ),
    "replay_cassette": (
        "The same: time per ``/x`` request, replayed from the cassette (the same "
        "body, and the headers an aiohttp server sends). vcrpy: the same "
        "requests of ``/x``, replayed from the same cassette in "
        "``vcr.use_cassette(path, record_mode='none')``; cassetter: in "
        "``cassetter.use_cassette(path, record_mode='none')``."
    ),
    "replay_route_httpx": (
        "replay_route with an ``httpx.AsyncClient`` and "
        "``https://api.example.test``, under asyncio."
    ),
    "replay_cassette_httpx": (
        "replay_cassette with an ``httpx.AsyncClient`` and "
        "``https://api.example.test``, under asyncio (vcrpy and cassetter too)."
    ),
    "cassette_load_1000": (
        f"Loading a cassette of {_SIZES.cassette_interactions} interactions "
        "(vcrpy's format, written as vcrpy writes it, about 1 MB: GETs and POSTs "
        "of a JSON API recorded with httpx, eight response headers and a JSON "
        "body of about 250 bytes each); CPU time per load "
        "(``time.process_time``). "
        "aiointercept: what entering a block with ``cassette=`` and "
        "``record_mode='none'`` does to load it, "
        "``_cassette.cassette.CassetteRun(options)`` "
        "(read with PyYAML's C loader, parse, index for matching). vcrpy: "
        "``vcr.cassette.Cassette.load(path=..., record_mode='none')``, with the "
        "same loader. cassetter: what ``use_cassette`` does to load it, "
        "``Cassetter(record_mode='none').cassette(path).load()``, which reads "
        "and parses the same file in Rust; it indexes the requests at the "
        "first one it matches (about 0.3 ms more, not counted here)."
    ),
    "registration": (
        f"Registering {_SIZES.registrations} routes in a row inside an open "
        "block (a fresh block per repeat), ``m.get(f'{m.server_url}/p{i}', "
        "payload={'i': i})``; time per route. Floor: aiohttp's own "
        "``app.router.add_route('GET', f'/p{i}', handler)`` on a fresh "
        "``web.Application``. aioresponses-ng: ``m.get(url, payload=...)`` with "
        "``http://api.example.test`` URLs in a started mock. respx is left out: "
        "each route it registers is compared with every route registered "
        "before, so this many take tens of seconds."
    ),
    "registration_external": (
        "registration with absolute ``http://api.example.test/p{i}`` URLs in a "
        "block with ``mock_external_urls=True``."
    ),
    "routes_scaling_10": (
        "With 10 routes registered (distinct exact URLs, ``repeat=True``; "
        "registering is not timed), GETs of the last one registered on one "
        f"keep-alive aiohttp session, {_SIZES.routes_scaling_requests} per "
        "repeat; time per request. The last one registered is the worst case of "
        "a table searched in registration order. Floor: aiohttp's router with "
        "as many resources, added before the server starts."
    ),
    "routes_scaling_1000": "routes_scaling_10 with 1000 routes.",
    "routes_scaling_10000": (
        "routes_scaling_10 with 10000 routes: with the other two, whether the "
        "cost of a request grows with the number of routes."
    ),
    "idle_cpu_asyncio": (
        "The CPU time of the whole process, all its threads "
        "(``time.process_time``), while a block is open and the test sleeps "
        "with no traffic, as a percentage of one core: one sleep per round, "
        "after one request with an aiohttp session (so that whatever starts "
        "lazily has started). What a test suite pays while its tests wait on "
        "something else. Floor: a bare ``aiohttp.web`` server left open as long."
    ),
    "idle_cpu_trio": (
        "idle_cpu_asyncio under trio, the request made with an ``httpx.AsyncClient``."
    ),
    "pytest_startup_overhead": (
        "What the pytest plugin adds to pytest's start-up, which every test run "
        "pays, using aiointercept or not: ``python -m pytest --collect-only -q`` "
        f"on a project of {_SIZES.startup_tests} trivial sync tests that do not "
        "use it, with the plugin and with it blocked (``-p no:aiointercept``, "
        "its entry point), in the implementation's virtualenv; a sample is one "
        "pair of runs (the order alternates), with minus without. Wall time of "
        "the subprocess, so interpreter start-up is in both and cancels out."
    ),
    "pytest_startup_with_plugin": (
        "The run of pytest_startup_overhead with the plugin, in full."
    ),
    "pytest_startup_without_plugin": (
        "The run of pytest_startup_overhead with the plugin blocked, in full."
    ),
    "cassette_block_1000": (
        "The same cassette, as a test pays for it (in CPU time too). "
        "aiointercept: entering and "
        "exiting a block with ``mock_external_urls=True``, ``cassette=`` and "
        "``record_mode='none'``, minus the same block without ``cassette=`` "
        "(pairs of blocks, in alternating order). vcrpy: entering and exiting "
        "``vcr.use_cassette(path, record_mode='none')`` (load, and patching the "
        "clients); cassetter: ``cassetter.use_cassette(path, "
        "record_mode='none')``, the same."
    ),
    "cassette_replay_1000": (
        "The same cassette loaded and replayed, the whole block in CPU time: "
        "entering the block of cassette_block_1000, a new ``httpx.AsyncClient`` "
        "that sends each of the recorded requests in order (GETs, and POSTs "
        "with their JSON bodies), each answered by its recording (status and "
        "body checked), closing the client, exiting. aiointercept answers over "
        "a socket from its server (``https``: one TLS handshake, then "
        "keep-alive), vcrpy and cassetter in the client. One block per round, "
        "after one that replays a cassette of the first "
        f"{_SIZES.cassette_warm_up} interactions: vcrpy compares each request "
        "with the recorded ones in turn, so its block lasts seconds."
    ),
}


#: How a value in each unit is shown: the factor from the measured value (seconds
#: per operation; a fraction for ``%``; a ratio for ``x``), and the separator
#: between the number and the unit.
UNITS: dict[str, tuple[float, str]] = {
    "µs": (1e6, " "),
    "ms": (1e3, " "),
    "%": (100.0, ""),
    "x": (1.0, ""),
}

#: The rows not shown in µs per operation, and their unit.
ROW_UNITS = {
    "idle_cpu_asyncio": "%",
    "idle_cpu_trio": "%",
    "pytest_startup_overhead": "ms",
    "pytest_startup_with_plugin": "ms",
    "pytest_startup_without_plugin": "ms",
}


def row_unit(row: str) -> str:
    return ROW_UNITS.get(row, "µs")


def with_unit(number: str, unit: str) -> str:
    return f"{number}{UNITS[unit][1]}{unit}"


@dataclass(frozen=True)
class RowStats:
    """One implementation's measurements of one row: the median of the samples
    of all rounds, and each round's own median (``None`` for a round that
    measured nothing, an error say)."""

    median: float
    round_medians: tuple[float | None, ...]

    def spread(self) -> tuple[float, float, float] | None:
        """The lowest, median and highest of the rounds' medians."""
        measured = [value for value in self.round_medians if value is not None]
        if not measured:
            return None
        return min(measured), statistics.median(measured), max(measured)


#: Implementation -> row -> its measurements.
Stats = dict[str, dict[str, RowStats]]


@dataclass(frozen=True)
class Ratio:
    """``numerator / denominator`` of two (implementation, row); without a
    denominator, the numerator alone, shown in its row's unit. A target when it
    has a limit (lower is better).

    The value is taken between the medians of all rounds' samples; with
    ``worst_round``, it is the highest of the values taken within each round,
    between that round's medians. The rounds are interleaved, so both sides of
    a round ran on the same machine at about the same time.
    """

    title: str
    numerator: tuple[str, str]
    denominator: tuple[str, str] | None = None
    limit: float | None = None
    worst_round: bool = False

    def unit(self) -> str:
        return "x" if self.denominator is not None else row_unit(self.numerator[1])

    def _of(self, top: float | None, bottom: float | None) -> float | None:
        if top is None:
            return None
        if self.denominator is None:
            return top * UNITS[self.unit()][0]
        return top / bottom if bottom else None

    def _sides(self, stats: Stats) -> tuple[RowStats | None, RowStats | None]:
        def find(side: tuple[str, str] | None) -> RowStats | None:
            if side is None:
                return None
            return stats.get(side[0], {}).get(side[1])

        return find(self.numerator), find(self.denominator)

    def per_round(self, stats: Stats) -> list[float]:
        """The value within each round that measured both sides."""
        top, bottom = self._sides(stats)
        if top is None or (self.denominator is not None and bottom is None):
            return []
        values = []
        for n, top_median in enumerate(top.round_medians):
            bottom_median = None
            if bottom is not None and n < len(bottom.round_medians):
                bottom_median = bottom.round_medians[n]
            value = self._of(top_median, bottom_median)
            if value is not None:
                values.append(value)
        return values

    def value(self, stats: Stats) -> float | None:
        if self.worst_round:
            return max(self.per_round(stats), default=None)
        top, bottom = self._sides(stats)
        return self._of(
            None if top is None else top.median,
            None if bottom is None else bottom.median,
        )

    def status(self, value: float | None) -> str:
        if self.limit is None:
            return ""
        if value is None:
            return "n/a"
        return "PASS" if value <= self.limit else "FAIL"


AI, FLOOR, V1, NG = "aiointercept", "floor", "aiointercept-1.0.0", "aioresponses-ng"
RESPX, VCR, CASSETTER = "respx", "vcrpy", "cassetter"

TARGETS = (
    Ratio(
        "lifecycle: aiointercept / floor", (AI, "lifecycle"), (FLOOR, "lifecycle"), 1.0
    ),
    Ratio(
        "lifecycle: aiointercept / floor, worst round",
        (AI, "lifecycle"),
        (FLOOR, "lifecycle"),
        1.3,
        worst_round=True,
    ),
    Ratio("lifecycle: aiointercept / 1.0.0", (AI, "lifecycle"), (V1, "lifecycle"), 0.5),
    Ratio(
        "sequential: aiointercept / floor",
        (AI, "sequential"),
        (FLOOR, "sequential"),
        1.5,
    ),
    Ratio(
        "sequential: aiointercept / 1.0.0", (AI, "sequential"), (V1, "sequential"), 0.75
    ),
    Ratio(
        "concurrent: aiointercept / floor",
        (AI, "concurrent"),
        (FLOOR, "concurrent"),
        1.2,
    ),
    Ratio(
        "concurrent_200: aiointercept / floor",
        (AI, "concurrent_200"),
        (FLOOR, "concurrent_200"),
        1.2,
    ),
    Ratio("body_1mb: aiointercept / floor", (AI, "body_1mb"), (FLOOR, "body_1mb"), 1.2),
    Ratio(
        "routes_400: aiointercept / floor",
        (AI, "routes_400"),
        (FLOOR, "routes_400"),
        1.2,
    ),
    Ratio(
        "registration: aiointercept / floor (aiohttp add_route)",
        (AI, "registration"),
        (FLOOR, "registration"),
        1.5,
    ),
    Ratio(
        "routes_scaling: aiointercept, 10000 routes / 10 routes",
        (AI, "routes_scaling_10000"),
        (AI, "routes_scaling_10"),
        1.2,
    ),
    Ratio("fixture: aiointercept overhead per test", (AI, "fixture"), None, 100.0),
    Ratio("idle_cpu: aiointercept, % of a core", (AI, "idle_cpu_asyncio"), None, 1.0),
    Ratio(
        "idle_cpu, trio: aiointercept, % of a core", (AI, "idle_cpu_trio"), None, 1.0
    ),
    Ratio(
        "pytest_startup: aiointercept plugin overhead",
        (AI, "pytest_startup_overhead"),
        None,
        20.0,
    ),
    Ratio(
        "lifecycle, httpx: trio / asyncio host",
        (AI, "lifecycle_httpx_trio"),
        (AI, "lifecycle_httpx_asyncio"),
        1.3,
    ),
    Ratio(
        "sequential, httpx: trio / asyncio host",
        (AI, "sequential_httpx_trio"),
        (AI, "sequential_httpx_asyncio"),
        1.3,
    ),
    Ratio(
        "lifecycle: mock_external_urls=True / default",
        (AI, "lifecycle_external"),
        (AI, "lifecycle"),
        1.1,
    ),
    Ratio(
        "sequential: mock_external_urls=True / default",
        (AI, "sequential_external"),
        (AI, "sequential"),
        1.1,
    ),
    Ratio(
        "sequential, httpx external: aiointercept / floor",
        (AI, "sequential_external_httpx"),
        (FLOOR, "sequential_external_httpx"),
        1.3,
    ),
    Ratio(
        "lifecycle, httpx external: aiointercept / respx",
        (AI, "lifecycle_external_httpx"),
        (RESPX, "lifecycle_external_httpx"),
        1.1,
    ),
    Ratio(
        "sequential, httpx external: trio / asyncio host",
        (AI, "sequential_external_httpx_trio"),
        (AI, "sequential_external_httpx"),
        1.3,
    ),
    *(
        target
        for client, suffix in (
            ("aiohttp", ""),
            ("httpx", "_httpx"),
            ("httpx2", "_httpx2"),
        )
        for target in (
            Ratio(
                f"https sequential, {client}: aiointercept / TLS floor",
                (AI, f"sequential_https{suffix}"),
                (FLOOR, f"sequential_https{suffix}"),
                1.2,
            ),
            Ratio(
                f"https lifecycle, {client}: aiointercept / TLS floor",
                (AI, f"lifecycle_https{suffix}"),
                (FLOOR, f"lifecycle_https{suffix}"),
                1.1,
            ),
        )
    ),
    Ratio(
        "proxy, child process https: aiointercept / TLS floor",
        (AI, "proxy_child_https"),
        (FLOOR, "proxy_child_https"),
        1.3,
    ),
    Ratio(
        "http sequential, hard-coded URL: aiointercept / floor",
        (AI, "sequential_external"),
        (FLOOR, "sequential"),
        1.2,
    ),
    Ratio(
        "replay, aiohttp: cassette / route",
        (AI, "replay_cassette"),
        (AI, "replay_route"),
        1.2,
    ),
    Ratio(
        "replay, httpx: cassette / route",
        (AI, "replay_cassette_httpx"),
        (AI, "replay_route_httpx"),
        1.2,
    ),
    Ratio(
        "cassette load, 1000 interactions: aiointercept / vcrpy",
        (AI, "cassette_load_1000"),
        (VCR, "cassette_load_1000"),
        1.0,
    ),
    Ratio(
        "cassette load and replay, 1000 interactions: aiointercept / vcrpy",
        (AI, "cassette_replay_1000"),
        (VCR, "cassette_replay_1000"),
        1.0,
    ),
)

INFORMATION = (
    Ratio("concurrent: aiointercept / 1.0.0", (AI, "concurrent"), (V1, "concurrent")),
    Ratio(
        "concurrent_200: aiointercept / 1.0.0",
        (AI, "concurrent_200"),
        (V1, "concurrent_200"),
    ),
    Ratio("body_1mb: aiointercept / 1.0.0", (AI, "body_1mb"), (V1, "body_1mb")),
    Ratio("routes_400: aiointercept / 1.0.0", (AI, "routes_400"), (V1, "routes_400")),
    Ratio("fixture: 1.0.0 overhead per test (async tests)", (V1, "fixture")),
    Ratio(
        "registration: aiointercept / 1.0.0", (AI, "registration"), (V1, "registration")
    ),
    Ratio(
        "registration: aioresponses-ng / floor",
        (NG, "registration"),
        (FLOOR, "registration"),
    ),
    Ratio(
        "registration: mock_external_urls=True / default",
        (AI, "registration_external"),
        (AI, "registration"),
    ),
    *(
        Ratio(
            f"routes_scaling: {name}, 10000 routes / 10 routes",
            (name, "routes_scaling_10000"),
            (name, "routes_scaling_10"),
        )
        for name in (FLOOR, V1, NG)
    ),
    Ratio(
        "routes_scaling_10000: aiointercept / floor",
        (AI, "routes_scaling_10000"),
        (FLOOR, "routes_scaling_10000"),
    ),
    Ratio("idle_cpu: floor, % of a core", (FLOOR, "idle_cpu_asyncio")),
    Ratio("idle_cpu: 1.0.0, % of a core", (V1, "idle_cpu_asyncio")),
    Ratio("pytest_startup: 1.0.0 plugin overhead", (V1, "pytest_startup_overhead")),
    *(
        Ratio(f"{row}: aioresponses-ng / aiointercept", (NG, row), (AI, row))
        for row in ("lifecycle", "sequential", "concurrent", "body_1mb", "routes_400")
    ),
    *(
        Ratio(f"{row}: aioresponses-ng / floor", (NG, row), (FLOOR, row))
        for row in ("lifecycle", "sequential", "concurrent", "body_1mb", "routes_400")
    ),
    Ratio(
        "lifecycle_external_httpx: aiointercept / floor",
        (AI, "lifecycle_external_httpx"),
        (FLOOR, "lifecycle_external_httpx"),
    ),
    Ratio(
        "sequential_external_httpx: aiointercept / respx",
        (AI, "sequential_external_httpx"),
        (RESPX, "sequential_external_httpx"),
    ),
    Ratio(
        "sequential_external_httpx_trio: aiointercept / respx",
        (AI, "sequential_external_httpx_trio"),
        (RESPX, "sequential_external_httpx_trio"),
    ),
    Ratio(
        "sequential_external_httpx: respx / floor",
        (RESPX, "sequential_external_httpx"),
        (FLOOR, "sequential_external_httpx"),
    ),
    Ratio(
        "httpx: mock_external_urls=True / default (sequential, asyncio)",
        (AI, "sequential_external_httpx"),
        (AI, "sequential_httpx_asyncio"),
    ),
    Ratio(
        "httpx: mock_external_urls=True / default (lifecycle, asyncio)",
        (AI, "lifecycle_external_httpx"),
        (AI, "lifecycle_httpx_asyncio"),
    ),
    Ratio(
        "lifecycle_external: aiointercept / floor (lifecycle)",
        (AI, "lifecycle_external"),
        (FLOOR, "lifecycle"),
    ),
    # what TLS costs the floor: its https rows against its plain ones
    *(
        Ratio(
            f"{row}, {client}: TLS floor / plain floor",
            (FLOOR, f"{row}_https{suffix}"),
            (FLOOR, plain),
        )
        for row, client, suffix, plain in (
            ("sequential", "aiohttp", "", "sequential"),
            ("lifecycle", "aiohttp", "", "lifecycle"),
            ("sequential", "httpx", "_httpx", "sequential_external_httpx"),
            ("lifecycle", "httpx", "_httpx", "lifecycle_external_httpx"),
        )
    ),
    *(
        Ratio(f"{row}: aiointercept / vcrpy", (AI, row), (VCR, row))
        for row in ("replay_cassette", "replay_cassette_httpx", "cassette_block_1000")
    ),
    # every cassette row against cassetter (against vcrpy, the other two are
    # targets)
    *(
        Ratio(f"{row}: aiointercept / cassetter", (AI, row), (CASSETTER, row))
        for row in (
            "replay_cassette",
            "replay_cassette_httpx",
            "cassette_load_1000",
            "cassette_block_1000",
            "cassette_replay_1000",
        )
    ),
    Ratio(
        "cassette_block_1000 / cassette_load_1000, aiointercept",
        (AI, "cassette_block_1000"),
        (AI, "cassette_load_1000"),
    ),
)


# -- virtualenvs -----------------------------------------------------------------------


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


class EnvironmentUnavailable(Exception):
    """An optional environment could not be created; the message says why."""


def ensure_environment(env: Environment, venv_dir: Path, recreate: bool) -> Path:
    """The python of ``env``'s virtualenv, created (or recreated) if needed.

    Raises :class:`EnvironmentUnavailable` when ``env`` is optional and its
    requirements cannot be installed (the virtualenv is removed, so that the
    next run tries again).
    """
    venv = venv_dir / env.name
    spec = json.dumps(
        {
            "requirements": env.requirements,
            "python": sys.version,
            "inputs": {
                str(path): hashlib.sha256(path.read_bytes()).hexdigest()
                for path in env.inputs
            },
        },
        indent=1,
    )
    marker = venv / "bench-spec.json"
    python = _python(venv)
    if (
        not recreate
        and python.exists()
        and marker.exists()
        and marker.read_text() == spec
    ):
        return python
    print(f"creating {venv} ...", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [
            str(python),
            *("-m", "pip", "install", "--disable-pip-version-check", "-q"),
            *env.requirements,
        ],
        check=False,
    )
    if installed.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        command = f"pip install {' '.join(env.requirements)}"
        if env.optional:
            raise EnvironmentUnavailable(
                f"{command} failed (exit status {installed.returncode})"
            )
        raise subprocess.CalledProcessError(installed.returncode, command)
    marker.write_text(spec)
    return python


def prepare(
    implementations: Sequence[Implementation], venv_dir: Path, recreate: bool
) -> tuple[dict[str, Path], dict[str, str]]:
    """The python of each environment that ``implementations`` run in, and
    why each optional one that could not be created is missing."""
    pythons: dict[str, Path] = {}
    missing: dict[str, str] = {}
    for name in dict.fromkeys(impl.environment for impl in implementations):
        try:
            pythons[name] = ensure_environment(ENVIRONMENTS[name], venv_dir, recreate)
        except EnvironmentUnavailable as reason:
            missing[name] = str(reason)
            print(f"{name}: left out of this run: {reason}", flush=True)
    return pythons, missing


# -- running ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedShare:
    """How many of a scenario's requests the test's loops and the server thread
    served, over all rounds, and each round's counts (``None`` for a round
    that counted nothing)."""

    test_loop: int
    server_thread: int
    rounds: tuple[tuple[int, int] | None, ...]

    @property
    def requests(self) -> int:
        return self.test_loop + self.server_thread

    def share(self) -> float | None:
        """The server thread's share of the requests, or ``None`` when no
        request was served (in this process: ``fixture`` makes its requests
        in pytest's subprocesses)."""
        return self.server_thread / self.requests if self.requests else None

    def round_shares(self) -> list[float]:
        """The server thread's share within each round that served requests."""
        return [
            server_thread / (test_loop + server_thread)
            for test_loop, server_thread in filter(None, self.rounds)
            if test_loop + server_thread
        ]


@dataclass
class Collected:
    """What the rounds measured for one implementation."""

    implementation: Implementation
    versions: dict[str, str] = field(default_factory=dict)
    #: row -> the samples of each round, in round order (empty for a round
    #: that measured nothing)
    rounds: dict[str, list[list[float]]] = field(default_factory=dict)
    not_applicable: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    #: scenario -> how many requests (test's loops, server thread) each round
    #: served, in round order (``None`` for a round that did not count them),
    #: for an implementation that counts them
    served: dict[str, list[tuple[int, int] | None]] = field(default_factory=dict)
    #: why an implementation with a server thread does not count them
    served_not_counted: str | None = None
    #: why the implementation did not run at all (its environment could not
    #: be created), or ``None``
    unavailable: str | None = None

    @property
    def samples(self) -> dict[str, list[float]]:
        """row -> the samples of all rounds."""
        return {
            row: [value for values in rounds for value in values]
            for row, rounds in self.rounds.items()
        }

    def add(self, result: dict[str, Any], round_number: int) -> None:
        self.versions = result["versions"]
        for row, values in result["samples"].items():
            rounds = self.rounds.setdefault(row, [])
            rounds.extend([] for _ in range(round_number + 1 - len(rounds)))
            rounds[round_number] = list(values)
        self.not_applicable.update(result["not_applicable"])
        for row, message in result["errors"].items():
            self.errors.setdefault(row, []).append(message)
        for scenario, (test_loop, server_thread) in result.get("served", {}).items():
            counts = self.served.setdefault(scenario, [])
            counts.extend(None for _ in range(round_number + 1 - len(counts)))
            counts[round_number] = (test_loop, server_thread)
        self.served_not_counted = result.get("served_not_counted")

    def fail(self, rows: Sequence[str], message: str) -> None:
        for row in rows:
            self.errors.setdefault(row, []).append(message)

    def stats(self) -> dict[str, RowStats]:
        return {
            row: RowStats(
                statistics.median(values),
                tuple(statistics.median(v) if v else None for v in self.rounds[row]),
            )
            for row, values in self.samples.items()
            if values
        }

    def served_shares(self) -> dict[str, ServedShare]:
        """scenario -> where its requests were served, over all rounds."""
        shares = {}
        for scenario, rounds in self.served.items():
            counted = [counts for counts in rounds if counts is not None]
            shares[scenario] = ServedShare(
                sum(test_loop for test_loop, _ in counted),
                sum(server_thread for _, server_thread in counted),
                tuple(rounds),
            )
        return shares


def run_rounds(
    implementations: Sequence[Implementation],
    pythons: dict[str, Path],
    args: argparse.Namespace,
    missing: dict[str, str] | None = None,
) -> dict[str, Collected]:
    """Run ``implementations`` in interleaved rounds. Those whose environment
    has no python in ``pythons`` do not run: every row selected is not
    applicable for them, for the reason ``missing`` gives their environment."""
    collected = {impl.name: Collected(impl) for impl in implementations}
    selected = [row for name in args.only for row in SCENARIOS[name]] or list(ROWS)
    runnable = [impl for impl in implementations if impl.environment in pythons]
    for impl in implementations:
        if impl.environment not in pythons:
            reason = (missing or {}).get(impl.environment, "no virtualenv")
            collected[impl.name].unavailable = reason
            collected[impl.name].not_applicable = dict.fromkeys(selected, reason)
    if not runnable:
        return collected
    with tempfile.TemporaryDirectory(prefix="aiointercept-bench-") as tmp:
        for round_number in range(args.rounds):
            shift = round_number % len(runnable)
            for impl in [*runnable[shift:], *runnable[:shift]]:
                output = Path(tmp) / f"{impl.name}-{round_number}.json"
                command = [
                    str(pythons[impl.environment]),
                    "-m",
                    impl.module,
                    "--repeats",
                    str(args.repeats),
                    "--fixture-repeats",
                    str(args.fixture_repeats),
                    "--startup-pairs",
                    str(args.startup_pairs),
                    "--idle-seconds",
                    str(args.idle_seconds),
                    "--json",
                    str(output),
                ]
                if args.only:
                    command += ["--only", ",".join(args.only)]
                start = time.perf_counter()
                done = subprocess.run(command, cwd=ROOT, check=False)
                elapsed = time.perf_counter() - start
                collected[impl.name].seconds += elapsed
                print(
                    f"round {round_number + 1}/{args.rounds}: {impl.name:<20} "
                    f"{elapsed:6.1f} s",
                    flush=True,
                )
                if done.returncode != 0 or not output.exists():
                    collected[impl.name].fail(
                        selected, f"process exited with {done.returncode}"
                    )
                    continue
                collected[impl.name].add(json.loads(output.read_text()), round_number)
    return collected


# -- reporting -------------------------------------------------------------------------


def format_number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_row_value(value: float, unit: str) -> str:
    """A value of a row (seconds, or a fraction for ``%``), in ``unit``
    without the unit's name."""
    return format_number(value * UNITS[unit][0])


def cell(collected: Collected, stats: dict[str, RowStats], row: str) -> str:
    """``median (lowest-highest)``: the median of all samples, and the range of
    the rounds' medians when more than one round measured the row; the unit
    follows unless it is µs."""
    found = stats.get(row)
    if found is None:
        if row in collected.not_applicable:
            return "n/a"
        if row in collected.errors:
            return "error"
        return "-"
    unit = row_unit(row)
    text = format_row_value(found.median, unit)
    spread = found.spread()
    if spread is not None and sum(m is not None for m in found.round_medians) > 1:
        low, _, high = spread
        low_text, high_text = (format_row_value(v, unit) for v in (low, high))
        text += f" ({low_text}\N{EN DASH}{high_text})"
    return text if unit == "µs" else with_unit(text, unit)


def table(collected: dict[str, Collected], rows: Sequence[str]) -> list[list[str]]:
    header = ["scenario", *collected]
    stats = {name: c.stats() for name, c in collected.items()}
    body = [
        [row, *(cell(c, stats[name], row) for name, c in collected.items())]
        for row in rows
    ]
    return [header, *body]


#: What the table of :func:`served_table` shows.
SERVED_CAPTION = (
    "Requests served by the server thread rather than the test's loop, per "
    "scenario: its share of the requests of all rounds (warm-up included), in "
    "brackets how many of how many, then the lowest and highest share of a "
    "round. A block entered on an asyncio loop is served by that loop; the "
    "server thread takes over the connections that the loop leaves waiting "
    "when it is blocked (or busy for too long), and serves every block "
    "under trio. -: no request "
    "served in the measuring process (fixture and pytest_startup run pytest "
    "in subprocesses)."
)


def format_share(share: float) -> str:
    """A share as a percentage: ``0%`` and ``100%`` exactly (a single request
    taken over shows), else with :func:`format_number`'s digits."""
    if share in (0.0, 1.0):
        return f"{share:.0%}"
    return f"{format_number(share * 100)}%"


def served_cell(
    collected: Collected, shares: dict[str, ServedShare], scenario: str
) -> str:
    """The server thread's share of ``scenario``'s requests, how many of how
    many, and the range of the rounds' shares when more than one round served
    requests; ``n/a`` for an implementation that does not count them."""
    if collected.served_not_counted is not None:
        return "n/a"
    found = shares.get(scenario)
    share = found.share() if found is not None else None
    if found is None or share is None:
        if any(row in collected.errors for row in SCENARIOS.get(scenario, ())):
            return "error"
        return "-"
    text = f"{format_share(share)} ({found.server_thread:,}/{found.requests:,})"
    rounds = found.round_shares()
    if len(rounds) > 1:
        low, high = format_share(min(rounds)), format_share(max(rounds))
        text += f", rounds {low}\N{EN DASH}{high}"
    return text


def served_table(
    collected: dict[str, Collected], scenarios: Sequence[str]
) -> list[list[str]]:
    """Where each of ``scenarios``' requests were served, for the
    implementations that count it or say why they do not; no line at all
    when none counted any of them."""
    counting = {
        name: c
        for name, c in collected.items()
        if c.served or c.served_not_counted is not None
    }
    shares = {name: c.served_shares() for name, c in counting.items()}
    shown = [
        scenario
        for scenario in scenarios
        if any(scenario in found for found in shares.values())
    ]
    if not shown:
        return []
    return [
        ["scenario", *counting],
        *(
            [
                scenario,
                *(
                    served_cell(c, shares[name], scenario)
                    for name, c in counting.items()
                ),
            ]
            for scenario in shown
        ),
    ]


def render_text_table(cells: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    lines = []
    for n, line in enumerate(cells):
        first = line[0].ljust(widths[0])
        rest = (
            value.rjust(width)
            for value, width in zip(line[1:], widths[1:], strict=True)
        )
        lines.append("  ".join([first, *rest]))
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def evaluate(ratios: Sequence[Ratio], stats: Stats) -> list[dict[str, Any]]:
    evaluated = []
    for ratio in ratios:
        value = ratio.value(stats)
        evaluated.append(
            {
                "title": ratio.title,
                "value": value,
                "unit": ratio.unit(),
                "limit": ratio.limit,
                "status": ratio.status(value),
                "worst_round": ratio.worst_round,
                "rounds": ratio.per_round(stats),
            }
        )
    return evaluated


def format_value(entry: dict[str, Any]) -> str:
    value = entry["value"]
    if value is None:
        return "n/a"
    if entry["unit"] != "x":
        return with_unit(format_number(value), entry["unit"])
    # one more digit when two would round onto the limit and hide the verdict
    digits = 3 if round(value, 2) == entry["limit"] else 2
    return f"{value:.{digits}f}x"


def format_rounds(entry: dict[str, Any]) -> str:
    """The lowest and highest of the values within each round, or ``""``
    when fewer than two rounds measured it."""
    values = entry["rounds"]
    if len(values) < 2:
        return ""
    if entry["unit"] == "x":
        low, high = (f"{value:.2f}" for value in (min(values), max(values)))
    else:
        low, high = (format_number(value) for value in (min(values), max(values)))
    return with_unit(f"{low}\N{EN DASH}{high}", entry["unit"])


def format_limit(entry: dict[str, Any]) -> str:
    limit = f"{entry['limit']:g}"
    return f"<= {with_unit(limit, entry['unit'])}"


def render_ratios(entries: list[dict[str, Any]]) -> str:
    width = max(len(entry["title"]) for entry in entries)
    lines = []
    for entry in entries:
        rounds = format_rounds(entry)
        line = f"{entry['title']:<{width}}  {format_value(entry):>11}"
        line += f"  {f'(rounds {rounds})' if rounds else '':<24}"
        if entry["limit"] is not None:
            line += f"  (target {format_limit(entry)})  {entry['status']}"
        lines.append(line.rstrip())
    return "\n".join(lines)


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return done.stdout.strip()


def metadata(args: argparse.Namespace) -> dict[str, Any]:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--", "src"):
        commit += " + uncommitted changes in src/"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "commit": commit,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "rounds": args.rounds,
        "repeats": args.repeats,
        "fixture_repeats": args.fixture_repeats,
        "startup_pairs": args.startup_pairs,
        "idle_seconds": args.idle_seconds,
        "quick": args.quick,
        "gc": "collected before each timed repeat, disabled during it",
    }


# -- the docs page ---------------------------------------------------------------------


def _rst_table(caption: str, cells: list[list[str]], widths: str) -> list[str]:
    lines = [
        f".. list-table:: {caption}",
        "   :header-rows: 1",
        "   :stub-columns: 1",
        f"   :widths: {widths}",
        "",
    ]
    for line in cells:
        lines.append(f"   * - {line[0]}")
        lines.extend(f"     - {value}" for value in line[1:])
    return [*lines, ""]


def _literal(text: str) -> str:
    return f"``{text}``"


def _fill(text: str, indent: str = "", first: str | None = None) -> list[str]:
    return textwrap.fill(
        text,
        79,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ).split("\n")


def _served_section(collected: dict[str, Collected]) -> list[str]:
    """The docs page's table of where each scenario's requests were served,
    after what it shows; nothing for results saved before they were counted."""
    cells = served_table(collected, list(SCENARIOS))
    if not cells:
        return []
    cells[0][0] = "Scenario"
    cells = [
        [_literal(line[0]) if n else line[0], *line[1:]] for n, line in enumerate(cells)
    ]
    return [
        *_fill(SERVED_CAPTION),
        "",
        *_rst_table(
            "Requests served by the server thread, per scenario",
            cells,
            " ".join(["30"] + ["35"] * (len(cells[0]) - 1)),
        ),
    ]


def write_docs(report: dict[str, Any], collected: dict[str, Collected]) -> None:
    """docs/performance.rst and docs/_static/performance.png from ``report``."""
    rows = [row for row in ROWS if any(c.samples.get(row) for c in collected.values())]
    meta = report["meta"]
    names = list(collected)
    cells = table(collected, rows)
    cells[0] = ["Scenario", *names]
    cells = [
        [_literal(line[0]) if n else line[0], *line[1:]] for n, line in enumerate(cells)
    ]

    lines = [
        ".. This page is generated by ``nox -s bench -- --write-docs``",
        "   (benchmarks/run.py): edit the generator, not this file.",
        "",
        "Performance",
        "===========",
        "",
        *_fill(
            "aiointercept answers over a real socket, from a real server: a block "
            "entered on an asyncio loop is served by that loop, and a block under "
            "trio (or the pytest plugin's shared server) by aiointercept's server "
            "thread (see :ref:`where-it-runs`). This page measures what that "
            "costs, against plain aiohttp and httpx clients calling a plain "
            "aiohttp.web server, against three other mocks, and against vcrpy "
            "and cassetter for cassettes:"
        ),
        "",
    ]
    for impl in collected.values():
        versions = ", ".join(
            f"{name} {version}"
            for name, version in impl.versions.items()
            if version != "not installed" and name != "python"
        )
        name, label = impl.implementation.name, impl.implementation.label
        if impl.unavailable is not None:
            versions = f"left out of this run: {impl.unavailable}"
        lines += _fill(f"**{name}**: {label} ({versions}).", "  ", "* ")
    run = (
        f"{meta['rounds']} rounds of {meta['repeats']} timed repeat(s), "
        f"{meta['fixture_repeats']} pair(s) of pytest runs for ``fixture``"
    )
    if "startup_pairs" in meta:
        run += (
            f", {meta['startup_pairs']} pair(s) of pytest start-ups for "
            f"``pytest_startup_*`` and {meta['idle_seconds']:g} s of sleep for "
            "``idle_cpu_*``"
        )
    if meta["quick"]:
        run += ", a ``--quick`` run"
    lines += [
        "",
        *_fill(
            "The floor is what a real round trip costs, with nothing mocked and "
            "nothing recorded. aioresponses-ng replaces aiohttp's "
            "``ClientSession._request`` and builds the response in the client, "
            "with no server and no socket; it is called with "
            "``http://api.example.test/...`` URLs. respx does the same for httpx, "
            "patching httpcore's connection pools; it is called with "
            "``http://api.example.test/...`` URLs, as aiointercept is in the "
            "``external_httpx`` rows, with ``mock_external_urls=True``: plain "
            "http, as in the floor of those rows, since respx makes no TLS "
            "handshake (the ``https`` rows measure TLS against a TLS floor). vcrpy "
            "and cassetter patch the clients too, and replay their cassettes in "
            "them; they are measured on the cassette rows only "
            "(``replay_cassette*``, ``cassette_*``), with the same cassette "
            "files, which are written as vcrpy writes them (cassetter reads "
            "that format as it is). cassetter is left out, and says so, where "
            "it does not install."
        ),
        "",
        "Results",
        "-------",
        "",
        *_fill(
            f"One run on {meta['platform']}, {meta['cpus']} CPUs, Python "
            f"{meta['python']}, on {meta['date']} (commit {meta['commit']}), with "
            f"{run}. Absolute times depend on the machine; the ratios, taken "
            "between medians of the same run, travel better. Lower is better. A "
            "cell is the median of the samples of all rounds and, in brackets, "
            "the lowest and the highest of the rounds' own medians: how much the "
            "figure moved from one round to the next. n/a: not measured for that "
            "implementation (no such feature, or measured in other rows; the "
            "JSON results give the reason)."
        ),
        "",
        *_rst_table(
            "Median per operation, µs unless marked (lowest\N{EN DASH}highest "
            "median of a round)",
            cells,
            " ".join(["30"] + ["17"] * len(names)),
        ),
        ".. image:: _static/performance.png",
        "   :alt: Bar chart of each scenario's median time per operation, per "
        "implementation, as a ratio to the floor's, around a line at 1.0",
        "",
        *_served_section(collected),
        "Ratios",
        "------",
        "",
        *_fill(
            "Ratios of the medians above, and a few of the medians themselves "
            "(the limits the project holds itself to are in "
            "``benchmarks/README.md``). A ratio marked *worst round* is the "
            "highest of the ratios taken within each round, between that round's "
            "medians; the others are taken between the medians of all rounds. "
            "Rounds: the lowest and the highest of the values within each round."
        ),
        "",
    ]
    ratio_cells = [["Ratio", "Measured", "Rounds"]]
    for entry in [*report["targets"], *report["information"]]:
        ratio_cells.append(
            [entry["title"], format_value(entry), format_rounds(entry) or "-"]
        )
    lines += _rst_table("Ratios of medians", ratio_cells, "60 20 20")
    lines += ["Where the time goes", "-------------------", ""]
    for item in WHERE_THE_TIME_GOES:
        lines += [*_fill(item, "  ", "* ")]
    lines += [""]
    lines += ["What is measured", "----------------", ""]
    for row in rows:
        lines += [_literal(row), *_fill(ROW_DESCRIPTIONS[row], "   "), ""]
    method = (
        "Each implementation is installed in a virtualenv of its own under "
        "``.nox/bench-venvs/`` and measured in a subprocess; the working tree is "
        "installed in editable mode, so every run measures the current source, and "
        "the floor runs in the same virtualenv. The versions of aiohttp are listed "
        "above.",
        "The implementations run in interleaved rounds: each round runs each of "
        "them once, in a rotated order, so that the machine's noise hits all of "
        "them alike. A table cell is the median of the samples of all rounds; "
        "each round's median is kept too, for the spread in brackets and the "
        "worst-round ratios.",
        "A sample is one timed repeat (for example 500 requests) divided by its "
        "number of operations, timed with ``time.perf_counter`` (the cassette "
        "loads with ``time.process_time``, see above). One untimed "
        "repeat warms up first. Garbage is collected before each timed repeat and "
        "the cyclic garbage collector is off during it, for every implementation. "
        "For ``fixture`` and ``pytest_startup_*``, a sample is one pair of pytest "
        "runs; for ``idle_cpu_*``, one sleep per round, with the garbage "
        "collector on (whatever runs meanwhile pays for its garbage as in a "
        "test).",
        "Every process refuses to resolve names or open connections other than "
        "loopback ones: nothing leaves the machine.",
    )
    lines += ["Method", "------", ""]
    for item in method:
        lines += _fill(item, "  ", "* ")
    lines += [
        "",
        "Reproduce",
        "---------",
        "",
        *_fill(
            "From a clone of the repository, with only Python and pip (the first "
            "run creates the virtualenvs, from PyPI):"
        ),
        "",
        ".. code-block:: console",
        "",
        "   pip install nox",
        "   nox -s bench                   # the full run, a few minutes",
        "   nox -s bench -- --quick        # a smoke run",
        "   nox -s bench -- --only lifecycle,sequential --impls floor,aiointercept",
        "   nox -s bench -- --write-docs   # regenerate this page and its chart",
        "   nox -s bench -- --help         # every option",
        "",
        *_fill(
            "The results are written as JSON to ``.nox/bench-results.json`` (or "
            "``--output PATH``), with every sample and the version of every "
            "package; ``--load PATH --write-docs`` regenerates this page from such "
            "a file without running anything."
        ),
    ]
    DOCS_PAGE.write_text("\n".join(lines) + "\n")
    plot(collected, rows, DOCS_IMAGE)
    print(f"wrote {DOCS_PAGE.relative_to(ROOT)} and {DOCS_IMAGE.relative_to(ROOT)}")


#: What profiling (cProfile on both threads, and timings of each step of a
#: block) showed; kept with the generator so that the page explains its table.
WHERE_THE_TIME_GOES = (
    "A block entered on an asyncio loop is served by that loop, as the floor's "
    "server is: a request crosses no thread. On top of the floor's round trip, "
    "aiointercept matches the request against the routes, records it and builds "
    "the response: that is the gap to the floor in ``sequential`` and "
    "``concurrent``. aiointercept 1.0.0 serves from a thread, so each of its "
    "requests crosses threads twice; a bare round trip between two loops in two "
    "threads measures 40 to 100 µs on this machine.",
    "To answer a synchronous client that blocks the test's loop, a watch thread "
    "sleeps in epoll on the blocks' listening sockets: it wakes when a "
    "connection arrives, takes it over if the loop has not accepted it 2 ms "
    "later and is blocked (its thread used no CPU time meanwhile; a loop busy "
    "with a burst is left to it for up to 200 ms), and after finding the loop "
    "accepting rests 20 ms before it waits again. A block with no traffic "
    "wakes nothing (``idle_cpu``), and a test "
    "that opens connection after connection wakes the watch at most every "
    "20 ms.",
    "In ``lifecycle``, creating the aiohttp session, connecting, the request "
    "and closing cost the same as in the floor, and they are most of its time: "
    "the floor's server set-up and clean-up (``AppRunner``, ``TCPSite``) are "
    "about a fifth of it. Entering a block binds a socket and schedules serving "
    "it on the test's loop, with no thread started or woken; leaving it closes "
    "the socket and, when the client has closed its connection or left it idle "
    "(the usual case), the connections on the spot, awaiting nothing. Together "
    "that costs less than the floor's set-up and clean-up. The route, the match, "
    "the record and ``assert_called_with`` come on top, so the block stays above "
    "the floor: 0.8x would need all of the block's own work to cost nothing "
    "and the client's round trip to get cheaper.",
    "``registration``: a route given as canonical text (an absolute http(s) URL "
    "with a lower-case host, or a path, with no query) is built without parsing "
    "or normalizing it again; the static response is serialized once, there, "
    "and the route is filed in a dict by method and URL, which is also how a "
    "request finds it: ``routes_scaling`` stays flat from 10 to 10,000 routes.",
    "``pytest_startup``: the plugin imports only pytest and the standard "
    "library until a test uses a fixture or the marker, so a project that has "
    "aiointercept installed and does not use it pays nothing measurable.",
    "Under trio (the httpx rows) the server thread serves the block, so a "
    "request crosses threads twice; ``mock_external_urls=True`` adds aiohttp's "
    "resolver call, patched, per new connection.",
    "With ``mock_external_urls=True``, the name resolves to one of "
    "aiointercept's loopback addresses without a look-up (on asyncio, without "
    "a worker thread either), and the connection goes to the block's port; an "
    "``https`` URL then costs one real TLS handshake per connection, as against "
    "the TLS floor, and the client keeps the connection alive as in the floor. "
    "respx, like aioresponses-ng, answers inside the client with no socket, so "
    "it saves the round trip itself; the floor's round trip is the cost of "
    "answering over one.",
    "``fixture``: the plugin's own work per test (clearing routes and records, "
    "reading the marker) measures a few microseconds; the rest is pytest's cost "
    "of setting up and tearing down a function-scoped fixture.",
    "Replaying an interaction goes the same way as a route's answer, over the "
    "same socket; only the lookup differs. A request no route matches is "
    "filtered as the cassette's requests are, keyed (method, scheme, host, port, "
    "path, query) and looked up in the cassette's index, and the recorded "
    "response becomes the reply: about 20 µs per request on this machine. Among "
    "recordings of the same request, the first one not yet played is searched "
    "from the start, so with hundreds of identical requests the later ones pay "
    "a few microseconds more.",
    "Loading a cassette is PyYAML's work: with its C loader, libyaml parses the "
    "file but PyYAML's Python constructor builds the objects, and together they "
    "take over 90% of ``cassette_load_1000``; checking the interactions and "
    "indexing them takes the rest. vcrpy reads the same file with the same "
    "loader, then builds its own request objects. cassetter parses it in Rust "
    "and keeps the interactions there, with no Python object per node of the "
    "file, which is why it loads several times faster. Those rows are timed "
    "in CPU "
    "time of the process (``time.process_time``): a load only computes, and on "
    "a shared machine the wall time of a computation that long measures the "
    "other processes as well.",
    "``cassette_replay_1000``: aiointercept answers each request over a "
    "socket, so httpx pays its whole round trip, as in "
    "``sequential_https_httpx``; vcrpy and cassetter answer inside httpx. "
    "vcrpy compares each request with every recorded one in turn, so its "
    "replay grows with the size of the cassette; aiointercept and cassetter "
    "look requests up in an index.",
)


def chart_ratios(
    collected: dict[str, Collected], rows: Sequence[str]
) -> tuple[list[str], dict[str, list[float | None]]]:
    """The chart's data: the rows in µs that the floor measured, and for each
    other implementation that measured one of them, its median as a ratio to
    the floor's median of the same row (``None`` where it did not measure the
    row)."""
    floor = collected.get(FLOOR)
    floor_samples = floor.samples if floor is not None else {}
    shown = [row for row in rows if row_unit(row) == "µs" and floor_samples.get(row)]
    ratios: dict[str, list[float | None]] = {}
    for name, impl in collected.items():
        if name == FLOOR:
            continue
        samples = impl.samples
        values = [
            statistics.median(samples[row]) / statistics.median(floor_samples[row])
            if samples.get(row)
            else None
            for row in shown
        ]
        if any(value is not None for value in values):
            ratios[name] = values
    return shown, ratios


def plot(collected: dict[str, Collected], rows: Sequence[str], path: Path) -> None:
    """A grouped bar chart of each scenario as a ratio to its floor, from a
    line at 1.0 (matplotlib is only installed in the nox session)."""
    shown, ratios = chart_ratios(collected, rows)
    matplotlib: Any = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    importlib.import_module("matplotlib.ticker")
    pyplot: Any = importlib.import_module("matplotlib.pyplot")
    figure, axes = pyplot.subplots(figsize=(13, 6), layout="constrained")
    width = 0.8 / max(len(ratios), 1)
    for n, (name, values) in enumerate(ratios.items()):
        xs, heights = [], []
        for x, value in enumerate(values):
            if value is not None:
                xs.append(x + (n - (len(ratios) - 1) / 2) * width)
                heights.append(value)
        # from the floor's line up (slower) or down (faster)
        axes.bar(xs, [h - 1.0 for h in heights], width, bottom=1.0, label=name)
    axes.axhline(1.0, color="black", linewidth=1.2, label="floor (no mock)")
    # a log scale: 2x slower stands as far above the line as 2x faster below
    axes.set_yscale("log")
    measured = [v for values in ratios.values() for v in values if v is not None]
    low = min([0.5, *(v / 1.2 for v in measured)])
    high = max([2.0, *(v * 1.2 for v in measured)])
    axes.set_ylim(low, high)
    ticker = matplotlib.ticker
    axes.yaxis.set_major_locator(
        ticker.FixedLocator([2.0**n for n in range(-6, 10) if low <= 2.0**n <= high])
    )
    axes.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    axes.yaxis.set_minor_formatter(ticker.NullFormatter())
    axes.set_ylabel("median time / the floor's (log scale)")
    axes.set_xticks(range(len(shown)))
    axes.set_xticklabels(shown, rotation=30, ha="right")
    axes.grid(axis="y", alpha=0.3)
    figure.legend(ncol=len(ratios) + 1, loc="outside lower center")
    axes.set_title(
        "Each scenario as a ratio to its floor (lower is better)", loc="left"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


# -- the command line ------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="nox -s bench --",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds and repeats")
    parser.add_argument("--rounds", type=int, help="rounds (default 5, quick 2)")
    parser.add_argument(
        "--repeats", type=int, help="timed repeats per round (default 3, quick 1)"
    )
    parser.add_argument(
        "--fixture-repeats",
        type=int,
        help="pytest pairs per round for 'fixture' (default 3, quick 1)",
    )
    parser.add_argument(
        "--startup-pairs",
        type=int,
        help="pairs of pytest start-ups per round for 'pytest_startup' "
        "(default 10, quick 3)",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        help="seconds of the 'idle_cpu' sample of a round (default 3, quick 1)",
    )
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated scenarios, of: {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--impls",
        default="",
        help="comma-separated implementations, of: "
        + ", ".join(impl.name for impl in IMPLEMENTATIONS),
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / ".nox" / "bench-results.json",
        help="where to write the JSON results",
    )
    parser.add_argument(
        "--venv-dir",
        type=Path,
        default=ROOT / ".nox" / "bench-venvs",
        help="where the implementations' virtualenvs live",
    )
    parser.add_argument(
        "--recreate", action="store_true", help="recreate the virtualenvs"
    )
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help="regenerate docs/performance.rst and docs/_static/performance.png",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with 1 when a target fails"
    )
    parser.add_argument(
        "--load",
        type=Path,
        metavar="JSON",
        help="run nothing: report (and with --write-docs, document) saved results",
    )
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (2 if args.quick else 5)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.fixture_repeats = args.fixture_repeats or (1 if args.quick else 3)
    args.startup_pairs = args.startup_pairs or (3 if args.quick else 10)
    args.idle_seconds = args.idle_seconds or (1.0 if args.quick else 3.0)
    args.only = [name for name in args.only.split(",") if name]
    unknown = [name for name in args.only if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    args.impls = [name for name in args.impls.split(",") if name]
    known = {impl.name for impl in IMPLEMENTATIONS}
    unknown = [name for name in args.impls if name not in known]
    if unknown:
        parser.error(f"unknown implementations: {', '.join(unknown)}")
    if args.write_docs and (args.only or args.impls):
        parser.error("--write-docs needs every scenario and implementation")
    if args.load is not None and (args.only or args.impls):
        parser.error("--load reports every scenario and implementation it finds")
    return args


def load(path: Path) -> tuple[dict[str, Any], dict[str, Collected]]:
    """The metadata and measurements of an earlier run's JSON results."""
    report = json.loads(path.read_text())
    by_name = {impl.name: impl for impl in IMPLEMENTATIONS}
    collected = {
        name: Collected(
            by_name[name],
            versions=saved["versions"],
            # results written before the rounds were kept apart: one round
            rounds=saved.get("rounds")
            or {row: [values] for row, values in saved["samples"].items()},
            not_applicable=saved["not_applicable"],
            errors=saved["errors"],
            seconds=saved["seconds"],
            # results written before the requests served were counted: none
            served={
                scenario: [
                    None if counts is None else (counts[0], counts[1])
                    for counts in found["rounds"]
                ]
                for scenario, found in saved.get("served", {}).items()
            },
            served_not_counted=saved.get("served_not_counted"),
            unavailable=saved.get("unavailable"),
        )
        for name, saved in report["implementations"].items()
    }
    return report["meta"], collected


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    if args.load is not None:
        meta, collected = load(args.load)
    else:
        implementations = [
            impl
            for impl in IMPLEMENTATIONS
            if not args.impls or impl.name in args.impls
        ]
        pythons, missing = prepare(implementations, args.venv_dir, args.recreate)
        collected = run_rounds(implementations, pythons, args, missing)
        meta = metadata(args)

    rows = [row for name in args.only for row in SCENARIOS[name]] or list(ROWS)
    stats = {name: c.stats() for name, c in collected.items()}
    targets = evaluate(TARGETS, stats)
    information = evaluate(INFORMATION, stats)
    report = {
        "meta": meta,
        "implementations": {
            name: {
                "label": c.implementation.label,
                "environment": c.implementation.environment,
                "versions": c.versions,
                "units": {row: row_unit(row) for row in stats[name]},
                # in the row's unit: the median of all samples, and the
                # lowest, median and highest of the rounds' medians
                "medians": {
                    row: row_stats.median * UNITS[row_unit(row)][0]
                    for row, row_stats in stats[name].items()
                },
                "spread": {
                    row: dict(
                        zip(
                            ("min", "median", "max"),
                            (v * UNITS[row_unit(row)][0] for v in spread),
                            strict=True,
                        )
                    )
                    for row, row_stats in stats[name].items()
                    if (spread := row_stats.spread()) is not None
                },
                # seconds per operation (a fraction for the % rows), per round
                "rounds": c.rounds,
                "samples": c.samples,
                "not_applicable": c.not_applicable,
                "errors": c.errors,
                "seconds": c.seconds,
                # per scenario: requests served by the test's loops and by
                # the server thread, over all rounds and per round
                "served": {
                    scenario: {
                        "test_loop": found.test_loop,
                        "server_thread": found.server_thread,
                        "share": found.share(),
                        "rounds": c.served[scenario],
                    }
                    for scenario, found in c.served_shares().items()
                },
                "served_not_counted": c.served_not_counted,
                "unavailable": c.unavailable,
            }
            for name, c in collected.items()
        },
        "targets": targets,
        "information": information,
    }

    print()
    print(
        "Median per operation in µs unless marked, and in brackets the lowest "
        "and highest median of a round:"
    )
    print(render_text_table(table(collected, rows)))
    for name, c in collected.items():
        if c.unavailable is not None:
            print(f"left out: {name}: {c.unavailable}")
        for row, messages in c.errors.items():
            print(f"error: {name} {row}: {messages[0]}")
    served = served_table(collected, args.only or list(SCENARIOS))
    if served:
        print()
        print("\n".join(textwrap.wrap(SERVED_CAPTION, 88)))
        print(render_text_table(served))
    print()
    print("Targets:")
    print(render_ratios(targets))
    print()
    print("For information:")
    print(render_ratios(information))

    if args.load is None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=1, ensure_ascii=False))
        print(f"\nwrote {args.output}")
    if args.write_docs:
        write_docs(report, collected)
    failed = any(entry["status"] == "FAIL" for entry in targets)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
